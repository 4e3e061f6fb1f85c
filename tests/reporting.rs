//! What hiktalk tells: `-v` traces every request (never a credential), `sim` says how to log
//! in to it, and `status` lists the codecs each channel can take.

use crate::util::*;
use std::io::BufRead;
use std::process::Stdio;

/// `-v`: each request line and its status on stderr, the upload included; no password, no
/// Digest header, no session id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_shows_each_request_and_status_but_no_credentials() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 0.5, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["-v", "play"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let base = format!("{}/ISAPI/System/TwoWayAudio/channels", url(&sim));
    for line in [
        format!("hiktalk: GET {base} -> 401"),
        format!("hiktalk: GET {base} -> 200"),
        format!("hiktalk: PUT {base}/1/open -> 200"),
        format!("hiktalk: PUT {base}/1/audioData?sessionId=… -> 200"),
        format!("hiktalk: PUT {base}/1/close?sessionId=… -> 200"),
    ] {
        assert!(err.lines().any(|l| l.starts_with(&line) && l.ends_with(" ms)")), "no {line:?} in:\n{err}");
    }
    let wire_id = sim.events().iter().find_map(|e| match &e.kind {
        EventKind::SessionOpened { session_id, .. } => session_id.clone(),
        _ => None,
    });
    let wire_id = wire_id.expect("the device gave a session id");
    for secret in [PASSWORD, "Digest", "Authorization", "response=", wire_id.as_str()] {
        assert!(!err.contains(secret), "{secret:?} shown:\n{err}");
    }
    println!("{err}");
}

/// `hiktalk sim` says which user and password it takes, and a command that works as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_prints_its_login_and_a_command_to_paste() {
    let mut child = hiktalk().arg("sim").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("hiktalk-sim listening on http://").unwrap_or_else(|| panic!("{first:?}")).to_string();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let login = err.next().unwrap().unwrap();
    let example = err.next().unwrap().unwrap();
    signal(&child, libc::SIGTERM);
    let _ = child.wait();
    assert_eq!(login, "hiktalk: it accepts user admin, password hiktalk-sim (a test device); for example:");
    let command = example.trim_start_matches("hiktalk:").trim();
    assert_eq!(command, format!("echo hiktalk-sim | hiktalk status http://{addr} --user admin --password-stdin"));
    // Pasted (against a simulator of the same defaults), it works.
    let other = sim::start(binary_sim_config()).await.unwrap();
    let pasted = command.replace(&addr, &other.addr().to_string()).replace("| hiktalk", &format!("| {}", env!("CARGO_BIN_EXE_hiktalk")));
    let out = std::process::Command::new("sh").args(["-c", &pasted]).env_remove("HIKTALK_PASSWORD").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{pasted}: {}", stderr(&out));
}

/// `status` reads each channel's capabilities: the codecs it can be switched to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_the_codecs_a_channel_can_take() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["--json", "status"]).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    let options: Vec<&str> = v["channels"][0]["codec_options"].as_array().unwrap().iter().filter_map(|o| o.as_str()).collect();
    assert!(options.contains(&"G.711ulaw") && options.contains(&"AAC"), "{v}");
    let mut cmd = hiktalk();
    cmd.arg("status").arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().any(|l| l.starts_with("channel 1 can speak G.711ulaw")), "{table}");
}

/// Each of these messages says what happened and then, after "; ", what to try; none repeats
/// itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_says_what_to_try() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(SimConfig { hangup_body: true, faults: vec!["hangup-after-bytes=4000".parse().unwrap()], ..binary_sim_config() })
        .await
        .unwrap();
    let door = sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 2.0, 8000, 1, 0.3).display().to_string();
    let adir = dir.path().display().to_string();
    let runs: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["play".into(), adir, url(&sim)], 3, "; give an audio file"),
        (vec!["say".into(), "".into(), url(&sim)], 3, "; give the words to say"),
        (vec!["play".into(), wav.clone(), "http://127.0.0.1:9/%201".into()], 2, "; end the URL with one"),
        (vec!["volume".into(), url(&sim), "--".into(), "-5".into()], 2, "is not a volume level: give a whole number"),
        (vec!["hangup".into(), url(&door)], 13, "; call state idle: there is no call"),
        (vec!["play".into(), wav, url(&sim)], 6, "; try again"),
    ];
    for (args, code, says) in runs {
        let mut cmd = hiktalk();
        cmd.args(&args);
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("invalidOperation, invalidOperation") && !err.contains("4294967295"), "{args:?}: {err}");
    }
}

/// The simulator's console says what to do when a command does not fit its profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sims_console_says_how_to_get_a_doorbell() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(["sim", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    child.stdin.as_mut().unwrap().write_all(b"ring\n").unwrap();
    let said = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut all = String::new();
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            all.push_str(&line);
            all.push('\n');
            if line.contains("doorbell") {
                break;
            }
        }
        all
    })
    .await
    .unwrap();
    signal(&child, libc::SIGINT);
    let _ = child.wait();
    assert!(said.contains("has no doorbell; start it with --profile doorbell"), "{said}");
}

/// `--version --json`, at the top and on a subcommand: one JSON object with the name, the
/// version and the features built in (#20 item 16); without --json the plain line as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_with_json_is_one_object() {
    for args in [&["--version", "--json"][..], &["--json", "-V"], &["play", "--json", "--version"]] {
        let mut cmd = hiktalk();
        cmd.args(args);
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.lines().count(), 1, "{args:?}: one line: {text:?}");
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: {text:?}: {e}"));
        assert_eq!(v["name"], "hiktalk", "{v}");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
        assert_eq!(v["exit_code"], 0, "{v}");
        let features: Vec<&str> = v["features"].as_array().expect("features").iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(features, ["aac", "opus", "echo-cancel"], "the default build's features: {v}");
    }
    let (out, _) = run_to_end({
        let mut cmd = hiktalk();
        cmd.arg("--version");
        cmd
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("hiktalk {}\n", env!("CARGO_PKG_VERSION")));
}
