//! `hiktalk status` and `hiktalk close` against the simulator: what they report, that close
//! really frees a stale session and is idempotent, and that a closed stdout or a signal ends
//! them cleanly.

use crate::util::*;
use hiktalk::sim::{Fault, Profile};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Another client's session, opened with curl and never closed.
fn curl_open(sim: &SimHandle) {
    let other = std::process::Command::new("curl")
        .args(["-s", "--digest", "-u", &format!("admin:{PASSWORD}"), "-X", "PUT", "-H", "Content-Length: 0"])
        .arg(format!("{}/ISAPI/System/TwoWayAudio/channels/1/open", url(sim)))
        .output()
        .expect("curl (apt install curl)");
    assert!(other.status.success(), "{other:?}");
}

async fn hk(args: &[&str]) -> std::process::Output {
    let mut cmd = hiktalk();
    cmd.args(args);
    let (out, _) = run_to_end(cmd).await;
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_device_channels_sessions_and_call_state() {
    let cam = sim::start(binary_sim_config()).await.unwrap();
    let bell = sim::start(SimConfig { profile: Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let (cam_url, bell_url) = (url(&cam), url(&bell));

    let out = hk(&["status", &cam_url]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("DS-2CD2386G2-IU") && table.contains("V5.7.15"), "{table}");
    let row = table.lines().find(|l| l.starts_with("1 ")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("G.711ulaw") && row.contains("8000 Hz") && row.ends_with("none"), "{row}");
    assert!(!table.contains("call "), "a camera has no call state: {table}");

    curl_open(&cam);
    let out = hk(&["--json", "status", &cam_url]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["info"]["model"], "DS-2CD2386G2-IU", "{v}");
    assert_eq!(v["info"]["firmware_version"], "V5.7.15", "{v}");
    assert_eq!(v["channels"][0]["codec"], "G.711ulaw", "{v}");
    assert_eq!(v["channels"][0]["sampling_rate_khz"], 8.0, "{v}");
    assert_eq!(v["channels"][0]["session_active"], true, "{v}");
    assert!(v["call_status"].is_null(), "{v}");
    let out = hk(&["status", &cam_url]).await;
    let table = stdout(&out);
    assert!(table.lines().any(|l| l.starts_with("1 ") && l.ends_with("active")), "{table}");

    // The doorbell: its own model and firmware, and the call state, idle then ringing.
    let out = hk(&["status", &bell_url]).await;
    let table = stdout(&out);
    assert!(table.contains("DS-KV6113-WPE1(C)") && table.contains("V2.2.65"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("call") && l.ends_with("idle")), "{table}");
    bell.ring();
    let out = hk(&["--json", "status", &bell_url]).await;
    let v = json(&out);
    assert_eq!(v["call_status"], "ring", "{v}");
    assert_eq!(v["channels"][0]["session_active"], false, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_frees_a_stale_session_and_is_idempotent() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let u = url(&sim);
    curl_open(&sim);
    let opened = sim.wait_for(|e| matches!(e.kind, EventKind::SessionOpened { .. }), Duration::from_secs(5)).await.expect("curl's session");

    let out = hk(&["close", &u, "--channel", "1"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("channel 1: a session was open"), "{}", stderr(&out));
    let closed = sim.wait_for(|e| matches!(e.kind, EventKind::SessionClosed { channel: 1, .. }), Duration::from_secs(5)).await;
    match (&opened.kind, closed.map(|e| e.kind)) {
        (EventKind::SessionOpened { id, .. }, Some(EventKind::SessionClosed { session_id, .. })) => assert_eq!(id, &session_id),
        other => panic!("the stale session was not closed: {other:?}"),
    }

    let out = hk(&["--json", "close", &u, "--channel", "1"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["reason"].as_str(), v["exit_code"].as_i64()), (Some("done"), Some(0)), "{v}");
    let ch = &v["channels"][0];
    assert_eq!(ch["session_was_open"], false, "{v}");
    assert_eq!(ch["channel"], "1", "{v}");
    assert_eq!(ch["confirmed"], true, "{v}");
    let out = hk(&["close", &u]).await;
    assert!(stderr(&out).contains("channel 1: no session was open"), "{}", stderr(&out));
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::SessionClosed { .. })), 1);

    // The channel is usable again.
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 0.3, 8000, 1, 0.3);
    let out = hk(&["play", wav.to_str().unwrap(), &u]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A channel the device does not have is a clear error.
    let out = hk(&["close", &u, "--channel", "7"]).await;
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(stderr(&out).contains("no talk channel \"7\""), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_closed_early_is_not_a_crash() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    for args in [vec!["status"], vec!["--json", "status"], vec!["--json", "close"]] {
        // `| head -0`: the reader is gone before hiktalk writes.
        let mut cmd = hiktalk();
        cmd.args(&args).arg(url(&sim)).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        let out = wait_child(child).await;
        let err = stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("RUST_BACKTRACE"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
    // And the real thing through a shell pipe; stderr is kept to look for a panic.
    let sh = format!("'{}' status {} | head -1", env!("CARGO_BIN_EXE_hiktalk"), url(&sim));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh").args(["-c", &sh]).env("HIKTALK_PASSWORD", PASSWORD).env_remove("HIKTALK_CONFIG").output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1, "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_close_stop_at_once_on_a_signal() {
    let stall: Fault = "stall=channels".parse().unwrap();
    let sim = sim::start(SimConfig { faults: vec![stall], ..binary_sim_config() }).await.unwrap();
    for (cmd_name, sig) in [("status", libc::SIGINT), ("close", libc::SIGTERM)] {
        let mut cmd = hiktalk();
        cmd.args([cmd_name, &url(&sim)]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let t0 = sim.events().last().map_or(-1.0, |e| e.t);
        let child = cmd.spawn().unwrap();
        sim.wait_for(|e| e.t > t0 && matches!(e.kind, EventKind::FaultFired { .. }), Duration::from_secs(5))
            .await
            .expect("the stalled request");
        let t = Instant::now();
        signal(&child, sig);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(130), "{cmd_name}: {}", stderr(&out));
        assert!(t.elapsed() < Duration::from_secs(2), "{cmd_name} took {:?} after the signal (request timeout is 10 s)", t.elapsed());
    }
}

/// A doorbell's call state, in JSON and from old firmware that answers XML whatever was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_call_state_in_json_and_in_xml() {
    for xml in [false, true] {
        let sim =
            sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, call_status_xml: xml, ..binary_sim_config() }).await.unwrap();
        sim.ring();
        let mut cmd = hiktalk();
        cmd.args(["--json", "status", &url(&sim)]);
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(json(&out)["call_status"], "ring", "xml {xml}");
    }
}
