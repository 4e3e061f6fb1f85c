//! Where the password and the camera come from, end to end: `--password-stdin`, a camera's
//! `password_file` and `password_env`, and a named camera from a config file, each against the
//! simulator (which only grants a session to the right password).

use crate::util::*;
use std::io::Write;
use std::process::Stdio;

/// A config naming the simulator as `door`, with `extra` lines in its table.
fn config(dir: &std::path::Path, sim: &SimHandle, extra: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    let text = format!("[cameras.door]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\n{extra}", sim.addr().port());
    std::fs::write(&path, text).unwrap();
    path
}

async fn status(cmd: std::process::Command) -> (Option<i32>, serde_json::Value, String) {
    let (out, _) = run_to_end(cmd).await;
    (out.status.code(), json(&out), stderr(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_camera_takes_its_password_from_a_file_or_a_variable() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("door.pw");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();

    let cfg = config(dir.path(), &sim, &format!("password_file = \"{}\"\n", pw.display()));
    let mut cmd = hiktalk();
    cmd.env_remove("HIKTALK_PASSWORD").args(["--json", "--config"]).arg(&cfg).args(["status", "door"]);
    let (code, v, err) = status(cmd).await;
    assert_eq!((code, v["device"].as_str()), (Some(0), Some("door")), "{err}");
    assert_eq!(v["channels"][0]["id"], "1");

    let cfg = config(dir.path(), &sim, "password_env = \"DOOR_PW\"\n");
    let mut cmd = hiktalk();
    cmd.env_remove("HIKTALK_PASSWORD").env("DOOR_PW", PASSWORD).args(["--json", "--config"]).arg(&cfg).args(["status", "door"]);
    let (code, _, err) = status(cmd).await;
    assert_eq!(code, Some(0), "{err}");

    // HIKTALK_CONFIG names the file too; a wrong password in the file is a rejected password.
    std::fs::write(&pw, "wrong\n").unwrap();
    let cfg = config(dir.path(), &sim, &format!("password_file = \"{}\"\n", pw.display()));
    let mut cmd = hiktalk();
    cmd.env_remove("HIKTALK_PASSWORD").env("HIKTALK_CONFIG", &cfg).args(["--json", "status", "door"]);
    let (code, v, _) = status(cmd).await;
    assert_eq!((code, v["reason"].as_str()), (Some(4), Some("auth")), "{v}");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password")), 1, "never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_can_come_on_stdin() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.env_remove("HIKTALK_PASSWORD")
        .args(["--json", "status", "--password-stdin", &url(&sim)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["reason"], "done");

    // stdin cannot carry both the password and the audio.
    let mut cmd = hiktalk();
    cmd.args(["--json", "play", "-", "--password-stdin", &url(&sim)]);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!((out.status.code(), json(&out)["reason"].as_str()), (Some(2), Some("usage")));
}

/// An empty password from stdin, HIKTALK_PASSWORD or a password_file is refused before any
/// request (a device counts it toward its lockout): exit 2, the source named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_password_from_any_source_is_refused_before_any_request() {
    let sim = sim::start(SimConfig { lockout_attempts: Some(1), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pw");
    std::fs::write(&empty, "\n").unwrap();
    let cfg = config(dir.path(), &sim, &format!("password_file = \"{}\"\n", empty.display()));
    let runs: [(&[&str], Option<&str>, &str); 3] = [
        (&["status", "--password-stdin", "URL"], Some("\n"), "stdin"),
        (&["status", "URL"], None, "HIKTALK_PASSWORD"),
        (&["status", "door"], None, "password_file"),
    ];
    for (args, stdin, says) in runs {
        let mut cmd = hiktalk();
        cmd.env("HIKTALK_PASSWORD", "").arg("--config").arg(&cfg);
        cmd.args(args.iter().map(|a| if *a == "URL" { url(&sim) } else { a.to_string() }));
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        let out = wait_child(child).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is empty: nothing was sent") && err.contains(says), "{args:?}: {err}");
    }
    assert!(sim.events().iter().all(|e| !matches!(e.kind, EventKind::Request { .. })), "nothing reached the device");
}

/// An unknown camera inside a group is named, with the group it is in (not blamed on the group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_member_of_a_group_is_named_with_its_group() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &sim, "[groups.house]\ncameras = [\"door\", \"garage\"]\n");
    let mut cmd = hiktalk();
    cmd.arg("--config").arg(&cfg).args(["status", "house"]);
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the group \"house\" names \"garage\", which is no camera"), "{err}");
    assert!(err.contains("has door, house"), "the names it does know: {err}");
}
