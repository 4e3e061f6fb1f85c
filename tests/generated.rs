//! `completions/` and `man/` are generated from the clap definitions and committed; this test
//! fails when they are stale. Regenerate with `HIKTALK_REGENERATE=1 cargo test --test tests generated`.

use clap::CommandFactory;
use clap_complete::Shell;
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
    clap_mangen::generate_to(hiktalk::cli::Cli::command(), &man).unwrap();
    read_tree(into)
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
