//! The fault matrix: every fault the simulator offers ends with the right reason text and exit
//! code, no session leaks, and nothing reconnects when it must not.

use crate::util::*;
use hiktalk::sim::{BusyStyle, Fault, Profile};
use std::process::Stdio;
use std::time::Duration;

fn faults(specs: &[&str]) -> Vec<Fault> {
    specs.iter().map(|s| s.parse().unwrap_or_else(|e| panic!("fault {s}: {e}"))).collect()
}

fn opens(sim: &SimHandle) -> usize {
    count(&sim.events(), |e| matches!(e, EventKind::SessionOpened { .. }))
}

/// Every session the device saw opened was closed by hiktalk (see `leaks`).
fn assert_no_leak(sim: &SimHandle) {
    let ev = sim.events();
    assert!(leaks(&ev).is_empty(), "sessions left open: {:?}\n{ev:#?}", leaks(&ev));
}

/// Plays `secs` of tone to a simulator with `config`; returns (exit code, stderr).
async fn play(config: SimConfig, secs: f64, extra: &[&str]) -> (SimHandle, Option<i32>, String) {
    let sim = sim::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, secs, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(url(&sim)).args(extra);
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    (sim, out.status.code(), err)
}

struct Case {
    faults: &'static [&'static str],
    extra: &'static [&'static str],
    code: i32,
    says: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_ends_with_its_reason_and_code() {
    let cases = [
        Case { faults: &["hangup-after-bytes=4000"], extra: &[], code: 6, says: "the device hung up" },
        Case { faults: &["hangup-after-secs=0.5"], extra: &[], code: 6, says: "the device hung up" },
        Case { faults: &["reset-after-bytes=4000"], extra: &[], code: 7, says: "the audio connection failed" },
        Case { faults: &["reset-after-secs=0.5"], extra: &[], code: 7, says: "the audio connection failed" },
        Case {
            faults: &["stall=open"],
            extra: &["--timeout", "1"],
            code: 7,
            says: "no answer to PUT /ISAPI/System/TwoWayAudio/channels/1/open within 1 s",
        },
        Case { faults: &["stall=channels"], extra: &["--timeout", "1"], code: 7, says: "no answer to GET" },
        Case {
            faults: &["stall=audio"],
            extra: &["--timeout", "1"],
            code: 7,
            says: "no answer to PUT /ISAPI/System/TwoWayAudio/channels/1/audioData within 1 s",
        },
        Case { faults: &["slow=open:300"], extra: &[], code: 0, says: "end of input" },
        Case { faults: &["malformed-xml=channels"], extra: &[], code: 8, says: "cannot read" },
        Case { faults: &["malformed-xml=open"], extra: &[], code: 8, says: "cannot read" },
        Case { faults: &["truncated-xml=channels"], extra: &[], code: 7, says: "connection lost during GET" },
        Case { faults: &["http500=open"], extra: &[], code: 8, says: "HTTP 500" },
        Case { faults: &["http500=channels"], extra: &[], code: 8, says: "HTTP 500" },
        Case { faults: &["401-no-challenge=channels"], extra: &[], code: 4, says: "without a Digest challenge" },
        Case { faults: &["401-no-challenge=open"], extra: &[], code: 4, says: "without a Digest challenge" },
    ];
    for case in cases {
        let (sim, code, err) = play(SimConfig { faults: faults(case.faults), ..binary_sim_config() }, 1.5, case.extra).await;
        assert_eq!(code, Some(case.code), "{:?}: {err}", case.faults);
        assert!(err.contains(case.says), "{:?} should say {:?}: {err}", case.faults, case.says);
        assert!(opens(&sim) <= 1, "{:?}: play never reconnects", case.faults);
        assert_no_leak(&sim);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hangup_reports_the_devices_own_words() {
    let (_, code, err) =
        play(SimConfig { faults: faults(&["hangup-after-bytes=4000"]), hangup_body: true, ..binary_sim_config() }, 1.5, &[]).await;
    assert_eq!(code, Some(6));
    assert!(err.contains("statusCode"), "the ResponseStatus is quoted: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_channel_is_reported_in_every_firmware_style_and_never_stolen() {
    for style in [BusyStyle::Unauthorized, BusyStyle::Forbidden, BusyStyle::Busy] {
        let sim = sim::start(SimConfig { busy_style: style, ..binary_sim_config() }).await.unwrap();
        // Another client's session, opened with curl and left open.
        let other = std::process::Command::new("curl")
            .args(["-s", "--digest", "-u", &format!("admin:{PASSWORD}"), "-X", "PUT", "-H", "Content-Length: 0"])
            .arg(format!("{}/ISAPI/System/TwoWayAudio/channels/1/open", url(&sim)))
            .output()
            .expect("curl (apt install curl)");
        assert!(String::from_utf8_lossy(&other.stdout).contains("sessionId"), "{other:?}");
        let dir = tempfile::tempdir().unwrap();
        let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
        let mut cmd = hiktalk();
        cmd.args(["play", "--retries", "3"]).arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(5), "{style:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--take-over"), "{}", stderr(&out));
        assert_eq!(opens(&sim), 1, "{style:?}: only the other client's session");
        assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::SessionClosed { .. })), 0, "{style:?}: not stolen");

        let mut cmd = hiktalk();
        cmd.args(["play", "--take-over"]).arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{style:?} take-over: {}", stderr(&out));
        assert_eq!(opens(&sim), 2);
        assert_no_leak(&sim);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_is_explained_and_not_retried() {
    let sim = sim::start(SimConfig { lockout_attempts: Some(1), lockout_duration: Duration::from_secs(120), ..binary_sim_config() })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.env("HIKTALK_PASSWORD", "wrong").args(["play", "--loop"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let mut cmd = hiktalk();
    cmd.args(["play"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("locked") && stderr(&out).contains("unlocks in"), "{}", stderr(&out));
    let failures = count(&sim.events(), |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password"));
    assert_eq!(failures, 1, "one bad password, one attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doorbell_call_ends_talk_and_says_so() {
    let config = SimConfig { profile: Profile::Doorbell, ring_after: Some(Duration::from_millis(700)), ..binary_sim_config() };
    let (sim, code, err) = play(config, 3.0, &["--retries", "3"]).await;
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("ring"), "{err}");
    assert_eq!(opens(&sim), 1, "no reconnect into a ringing doorbell");
    assert_no_leak(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_reconnects_after_a_reset_with_backoff_then_stops_for_good() {
    let sim = sim::start(SimConfig { faults: faults(&["reset-after-bytes=4000,times=1"]), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["play", "--loop"]).arg(&wav).arg(url(&sim)).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let first = sim.wait_for(|e| matches!(e.kind, EventKind::SessionOpened { .. }), Duration::from_secs(10)).await.expect("first session");
    let reopened = sim
        .wait_for(|e| e.t > first.t && matches!(e.kind, EventKind::SessionOpened { .. }), Duration::from_secs(10))
        .await
        .expect("a reconnect after the reset");
    signal(&child, libc::SIGTERM);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("reconnecting in"), "{}", stderr(&out));
    let open_times: Vec<f64> = sim.events().iter().filter(|e| matches!(e.kind, EventKind::SessionOpened { .. })).map(|e| e.t).collect();
    assert_eq!(open_times.len(), 2, "{open_times:?}");
    assert!(open_times[1] - open_times[0] >= 0.5, "never immediate: {open_times:?}");
    let quiet = sim.wait_for(|e| e.t > reopened.t + 0.1 && matches!(e.kind, EventKind::SessionOpened { .. }), Duration::from_secs(3)).await;
    assert!(quiet.is_none(), "nothing after the stop");
    assert_no_leak(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded() {
    let sim = sim::start(SimConfig { faults: faults(&["hangup-after-bytes=2000"]), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["play", "--loop", "--retries", "2"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(opens(&sim), 3, "the first session and two retries");
    assert_eq!(stderr(&out).matches("reconnecting in").count(), 2);
    assert_no_leak(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_that_pauses_keeps_the_session_alive_with_silence() {
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["play", "--raw-format", "s16le:8000:1", "-"])
        .arg(url(&sim))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use std::io::Write;
    stdin.write_all(&vec![0x10u8; 1600]).unwrap();
    stdin.flush().unwrap();
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("upload");
    // Three idle timeouts with nothing on stdin: the device must not hang up.
    let hangup = sim.wait_for(|e| matches!(e.kind, EventKind::Hangup { .. } | EventKind::Prompt { .. }), Duration::from_secs(3)).await;
    assert!(hangup.is_none(), "{hangup:?}");
    drop(stdin);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_no_leak(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_hikvision_device_is_a_clear_error() {
    // A plain web server: HTML for everything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = "<!DOCTYPE html><html><body>Router login</body></html>";
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(format!("http://{addr}"));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer like an ISAPI device") && stderr(&out).contains("Router login"), "{}", stderr(&out));
    // Nothing listening at all.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(format!("http://{closed}"));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_hangup_is_reported_as_one() {
    // hiktalk never leaves a gap by itself; freeze the process (a suspended laptop, a stuck
    // host) for longer than the device's patience.
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 10.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["play"]).arg(&wav).arg(url(&sim)).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("upload");
    signal(&child, libc::SIGSTOP);
    let hangup = sim.wait_for(|e| matches!(e.kind, EventKind::Hangup { .. }), Duration::from_secs(5)).await;
    signal(&child, libc::SIGCONT);
    assert!(hangup.is_some(), "the device hangs up an idle session");
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("the device hung up") && err.contains("idle timeout"), "{err}");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Prompt { .. })), 1);
    assert_eq!(opens(&sim), 1, "plain play does not reconnect");
    assert_no_leak(&sim);
}

/// A nonce that goes stale mid-session (the device's nonce lifetime is shorter than the play)
/// is answered with `stale=TRUE` and refreshed without asking anyone: not a rejected password,
/// and the close at the end still gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_that_goes_stale_mid_session_is_refreshed() {
    let config = SimConfig { nonce_lifetime: Duration::from_millis(700), ..binary_sim_config() };
    let (sim, code, err) = play(config, 2.0, &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let ev = sim.events();
    assert!(count(&ev, |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "stale_nonce")) >= 1, "{ev:#?}");
    assert_eq!(count(&ev, |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password")), 0);
    assert_eq!(count(&ev, closed_by_client), 1);
    assert_no_leak(&sim);
}

/// A close that fails with a transient error is sent again, and confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_that_fails_once_is_sent_again() {
    for fault in ["http500=close,times=1", "stall=close,times=1"] {
        let config = SimConfig { faults: faults(&[fault]), ..binary_sim_config() };
        let (sim, code, err) = play(config, 0.5, &["--timeout", "2"]).await;
        assert_eq!(code, Some(0), "{fault}: {err}");
        assert!(err.contains("session closed, device confirmed"), "{fault}: {err}\n{:#?}", sim.events());
        let closes =
            count(&sim.events(), |e| matches!(e, EventKind::Request { method, path, .. } if method == "PUT" && path.ends_with("/close")));
        assert_eq!(closes, 2, "{fault}: one failed close, one that worked");
        assert_no_leak(&sim);
    }
}

/// Old firmware: PSIA namespace, open answers a bare ResponseStatus (no sessionId), busy is a
/// 401. The whole play works and the audio arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_profile_plays_end_to_end() {
    let config = SimConfig { profile: hiktalk::sim::Profile::Legacy, ..binary_sim_config() };
    let (sim, code, err) = play(config, 1.0, &[]).await;
    assert_eq!(code, Some(0), "{err}");
    let ev = sim.events();
    assert!(ev.iter().any(|e| matches!(&e.kind, EventKind::SessionOpened { session_id: None, .. })), "no sessionId on legacy");
    assert!(
        ev.iter().all(|e| !matches!(&e.kind, EventKind::Request { query, .. } if query.contains("sessionId"))),
        "no sessionId may be sent to a device that gave none"
    );
    let (pcm, _) = crate::util::ffmpeg::heard(&sim, &last_session_id(&sim)).await;
    assert!((pcm.len() as f64 / 8000.0 - 1.0).abs() < 0.1, "{} samples", pcm.len());
    assert!(sine_snr_db(&pcm, 8000, 440.0, 800) > 25.0);
    assert_no_leak(&sim);
}

/// The silence that bridges a pause on stdin comes from the stream's own encoder: for stateful
/// codecs (G.726's adaptive predictor, AAC's frames) a foreign silence frame would throw the
/// device's decoder off. ffmpeg decodes the whole upload: the tone after the pause is as clean as
/// before it, and the pause is silence, not noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_in_a_pause_keeps_stateful_codecs_in_step() {
    use std::io::Write;
    for codec in [hiktalk::codec::Codec::G726, hiktalk::codec::Codec::Aac] {
        let sim = sim::start(SimConfig { codec: Some(codec), ..binary_sim_config() }).await.unwrap();
        let mut cmd = hiktalk();
        cmd.args(["play", "--raw-format", "s16le:16000:1", "-"]).arg(url(&sim)).stdin(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let tone: Vec<u8> = (0..16000)
            .flat_map(|i| (((i as f64 * 500.0 * std::f64::consts::TAU / 16000.0).sin() * 12000.0) as i16).to_le_bytes())
            .collect();
        stdin.write_all(&tone).unwrap();
        stdin.flush().unwrap();
        // The pause: a second and a half with nothing on stdin, measured from the upload.
        let started = sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("upload");
        let resumed =
            sim.wait_for(|e| e.t > started.t + 2.5 && matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_millis(2500)).await;
        assert!(resumed.is_none(), "{codec}: the upload ended in the pause");
        stdin.write_all(&tone).unwrap();
        drop(stdin);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{codec}: {}", stderr(&out));
        let received = sim.upload_of(&last_session_id(&sim)).await.unwrap();
        assert!(received.listened.audio_seconds > 3.0, "{codec}: {:?}", received.listened);
        let (pcm, rate) = crate::util::ffmpeg::decode_received(&received);
        let rate_us = rate as usize;
        let block = |at: f64| &pcm[(at * rate as f64) as usize..(at * rate as f64) as usize + rate_us / 2];
        let rms = |x: &[i16]| (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt();
        let before = sine_snr_db(block(0.3), rate, 500.0, 0);
        let end = pcm.len() as f64 / rate as f64;
        let after = sine_snr_db(block(end - 0.9), rate, 500.0, 0);
        let pause = rms(block(1.6));
        assert!(after >= before - 3.0 && after > 15.0, "{codec}: SNR {before:.1} dB before the pause, {after:.1} dB after");
        assert!(pause < 200.0, "{codec}: the pause is not silent (RMS {pause:.0})");
        assert_no_leak(&sim);
    }
}

/// A device that stops reading for two seconds and then reads on: hiktalk does not catch up at
/// socket speed (the schedule is absolute, but a session that fell behind loses the oldest
/// frames instead of bursting them), so the device's buffer does not overflow when it resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stalled_write_there_is_no_burst_beyond_the_lead() {
    // The device's idle timer must outlast its own pause.
    let config = SimConfig {
        codec: Some(hiktalk::codec::Codec::Pcm),
        faults: faults(&["pause-after-bytes=32000:2000"]),
        idle_timeout: Duration::from_secs(5),
        ..binary_sim_config()
    };
    let sim = sim::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 5.0, 16000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["--json", "play"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let l = sim.upload_of(&last_session_id(&sim)).await.unwrap().listened;
    println!("after a 2 s stall: {l:?}; hiktalk dropped {} frames", report["dropped_frames"]);
    // The pause was heard as a gap (nothing hiktalk can do about a device that stops reading)...
    assert!(l.underrun_ms > 1000.0, "{l:?}");
    // ...but what followed was not two seconds of backlog at once.
    assert_eq!(l.overflow_ms, 0.0, "{l:?}");
    assert!(l.max_lead_ms < 800.0, "{l:?}");
    assert!(report["dropped_frames"].as_u64().unwrap() >= 60, "{report}");
    assert_no_leak(&sim);
}

/// A busy channel is reported with the one cause the device's answer shows (no list of
/// guesses); a 403 on an idle channel is not called busy; `--take-over` says what it closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_open_names_the_cause_the_device_shows_and_take_over_says_what_it_closed() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 0.5, 8000, 1, 0.3);
    for style in [BusyStyle::Unauthorized, BusyStyle::Forbidden, BusyStyle::Busy, BusyStyle::InProgress] {
        let sim = sim::start(SimConfig { busy_style: style, ..binary_sim_config() }).await.unwrap();
        let mut other = crate::util::raw::Client::new(&sim);
        assert!(other.open().await.is_some(), "another client's session");
        let mut cmd = hiktalk();
        cmd.arg("play").arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{style:?}: {err}");
        assert!(err.contains("channel 1 is in use"), "{style:?}: {err}");
        assert!(!err.contains("codec") && !err.contains("another client is talking"), "{style:?}: one cause: {err}");

        let mut cmd = hiktalk();
        cmd.args(["play", "--take-over"]).arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{style:?}: {err}");
        assert!(err.contains("--take-over: closed the session another client"), "{style:?}: {err}");
    }
    // An idle channel: --take-over has nothing to close, and says so.
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["play", "--take-over"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("had no session open; nothing to close"), "{}", stderr(&out));
    // A firmware that refuses G.711 on an idle channel, with the codec pinned: not busy.
    let sim = sim::start(SimConfig { profile: Profile::AacOnly, ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["play", "--codec", "ulaw"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(13), "{err}");
    assert!(err.contains("no session is open") && !err.contains("in use"), "{err}");
}
