//! `completions/` and `man/` are generated from the clap definitions and committed; this test
//! fails when they are stale. Regenerate with `HIKTALK_REGENERATE=1 cargo test --test tests generated`.
//! The man pages are clap_mangen's sections plus hiktalk's own (`cli::manual`): examples, the
//! config file, environment, files and exit status, each under its own heading.

use clap::CommandFactory;
use clap_complete::Shell;
use hiktalk::cli::manual;
use roff::{Roff, bold, roman};
use std::collections::BTreeMap;
use std::path::Path;

fn generate(into: &Path) -> BTreeMap<String, Vec<u8>> {
    let completions = into.join("completions");
    let man = into.join("man");
    std::fs::create_dir_all(&completions).unwrap();
    std::fs::create_dir_all(&man).unwrap();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Elvish, Shell::PowerShell] {
        clap_complete::generate_to(shell, &mut hiktalk::cli::Cli::command(), "hiktalk", &completions).unwrap();
    }
    let mut cli = hiktalk::cli::Cli::command();
    cli.build();
    let source = format!("hiktalk {}", cli.get_version().unwrap_or_default());
    std::fs::write(man.join("hiktalk.1"), man_page(&cli, "hiktalk", &source, true)).unwrap();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("hiktalk-{}", sub.get_name());
        std::fs::write(man.join(format!("{name}.1")), man_page(sub, &name, &source, false)).unwrap();
    }
    read_tree(into)
}

/// One man page: clap_mangen's title, name, synopsis (with each option's value, which
/// clap_mangen leaves out), description, options and subcommands, then hiktalk's own sections.
fn man_page(cmd: &clap::Command, name: &str, source: &str, main: bool) -> Vec<u8> {
    let cmd = cmd.clone().display_name(name.to_string()).override_usage(synopsis(cmd));
    let man = clap_mangen::Man::new(cmd.clone()).title(name.to_ascii_uppercase()).source(source).manual("hiktalk manual");
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    if main {
        man.render_subcommands_section(&mut page).unwrap();
    }
    let mut roff = Roff::new();
    if main {
        roff.control("SH", ["EXAMPLES"]);
        for (command, what) in manual::EXAMPLES {
            roff.control("TP", []).text([bold(*command)]).text([roman(*what)]);
        }
        roff.control("SH", ["CONFIGURATION"]);
        roff.text([roman("Cameras and groups are named in a TOML file (see FILES), or --config FILE, or HIKTALK_CONFIG:")]);
        roff.control("PP", []).control("nf", []);
        for line in manual::CONFIG.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []).control("PP", []).text([roman(manual::PASSWORD)]);
        section(&mut roff, "ENVIRONMENT", manual::ENVIRONMENT);
        section(&mut roff, "FILES", manual::FILES);
        section(&mut roff, "EXIT STATUS", manual::EXIT_STATUS);
    } else if let Some(after) = cmd.get_after_help() {
        // A subcommand's closing words are its examples, or (sim) notes that end with one.
        let after = after.to_string();
        let (heading, body) = match after.strip_prefix("Examples:") {
            Some(examples) => ("EXAMPLES", examples.to_string()),
            None => ("NOTES", after.clone()),
        };
        roff.control("SH", [heading]).control("nf", []);
        for line in body.trim_matches('\n').lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    let others: Vec<String> = match main {
        true => cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| format!("hiktalk-{}(1)", s.get_name())).collect(),
        false => vec!["hiktalk(1)".into()],
    };
    roff.text([roman(others.join(", "))]);
    roff.to_writer(&mut page).unwrap();
    man.render_version_section(&mut page).unwrap();
    page
}

/// A section of terms and their meaning.
fn section(roff: &mut Roff, heading: &str, rows: &[(&str, &str)]) {
    roff.control("SH", [heading]);
    for (term, meaning) in rows {
        roff.control("TP", []).text([bold(*term)]).text([roman(*meaning)]);
    }
}

/// The synopsis: the command, every option with its value, the positionals, the subcommand.
fn synopsis(cmd: &clap::Command) -> String {
    let mut line = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional() && !a.is_hide_set()) {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("-{s}|--{l}"),
            (Some(s), None) => format!("-{s}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => continue,
        };
        let takes = arg.get_num_args().is_some_and(|n| n.takes_values());
        let value = match (takes, arg.get_value_names()) {
            (false, _) => String::new(),
            (true, names) => {
                let v = names.map(|n| n.join(" ")).unwrap_or_else(|| arg.get_id().to_string().to_ascii_uppercase());
                match arg.get_num_args().is_some_and(|n| n.min_values() == 0) {
                    true => format!(" [<{v}>]"),
                    false => format!(" <{v}>"),
                }
            }
        };
        let repeat = if matches!(arg.get_action(), clap::ArgAction::Append) { "..." } else { "" };
        line.push_str(&format!(" [{flag}{value}]{repeat}"));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let v = arg.get_value_names().map(|n| n.join(" ")).unwrap_or_else(|| arg.get_id().to_string());
        let many = if arg.get_num_args().is_some_and(|n| n.max_values() > 1) { "..." } else { "" };
        match arg.is_required_set() {
            true => line.push_str(&format!(" <{v}>{many}")),
            false => line.push_str(&format!(" [{v}]{many}")),
        }
    }
    if cmd.has_subcommands() {
        line.push_str(" <COMMAND>");
    }
    line
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for dir in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for e in entries {
            let e = e.unwrap();
            files.insert(format!("{dir}/{}", e.file_name().to_string_lossy()), std::fs::read(e.path()).unwrap());
        }
    }
    files
}

#[test]
fn completions_and_man_pages_are_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let fresh = generate(tmp.path());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(fresh.contains_key("man/hiktalk.1") && fresh.contains_key("completions/hiktalk.bash"));
    if std::env::var_os("HIKTALK_REGENERATE").is_some() {
        for dir in ["completions", "man"] {
            let _ = std::fs::remove_dir_all(repo.join(dir));
            std::fs::create_dir_all(repo.join(dir)).unwrap();
        }
        for (name, bytes) in &fresh {
            std::fs::write(repo.join(name), bytes).unwrap();
        }
    }
    let committed = read_tree(repo);
    let stale: Vec<&String> = fresh.keys().chain(committed.keys()).filter(|k| fresh.get(*k) != committed.get(*k)).collect();
    assert!(stale.is_empty(), "stale generated files {stale:?}: run HIKTALK_REGENERATE=1 cargo test --test tests generated");
}

/// What bash's completion function asks (`COMPLETE=bash`, the word index, then the words) and
/// the candidates hiktalk answers, one per line.
fn complete(config: &Path, words: &[&str]) -> Vec<String> {
    let mut cmd = crate::util::hiktalk();
    cmd.env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string()).env("HIKTALK_CONFIG", config);
    let out = cmd.arg("--").args(words).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn completion_offers_config_cameras_sim_and_closed_choices() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[cameras.frontdoor]\nhost = \"10.0.0.1\"\n[groups.downstairs]\ncameras = [\"frontdoor\"]\n").unwrap();
    let offered = complete(&config, &["hiktalk", "play", "chime.wav", ""]);
    for name in ["frontdoor", "downstairs", "sim"] {
        assert!(offered.iter().any(|o| o == name), "{name} not offered: {offered:?}");
    }
    assert_eq!(complete(&config, &["hiktalk", "status", "fr"]), ["frontdoor"]);
    let codecs = complete(&config, &["hiktalk", "play", "x.wav", "sim", "--codec", ""]);
    assert_eq!(codecs, ["ulaw", "alaw", "g726", "aac", "pcm", "opus"]);
    let profiles = complete(&config, &["hiktalk", "sim", "--profile", ""]);
    assert_eq!(profiles, ["modern", "doorbell", "legacy", "aac-only"]);
    // A free value completes to nothing, not to the file names a path would.
    assert!(complete(&config, &["hiktalk", "play", "x.wav", "sim", "--user", ""]).is_empty());
    assert!(complete(&config, &["hiktalk", "play", "Cargo"]).iter().any(|f| f == "Cargo.toml"), "the file is a path");
    // A --config on the line being completed is the config whose cameras are offered (#20.14),
    // before or after the subcommand, as a separate word or with `=`.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[cameras.garage]\nhost = \"10.0.0.2\"\n").unwrap();
    let other = other.to_str().unwrap();
    let with_eq = format!("--config={other}");
    for words in [&["hiktalk", "--config", other, "status", ""][..], &["hiktalk", "play", "x.wav", &with_eq, ""]] {
        let offered = complete(&config, words);
        assert!(offered.iter().any(|o| o == "garage") && !offered.iter().any(|o| o == "frontdoor"), "{words:?}: {offered:?}");
    }
    // The registration script, for `source <(COMPLETE=bash hiktalk)`.
    let mut cmd = crate::util::hiktalk();
    let script = cmd.env("COMPLETE", "bash").output().unwrap();
    assert!(String::from_utf8_lossy(&script.stdout).contains("complete -o nospace"), "no bash registration");
}
