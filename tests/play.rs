//! `hiktalk play` end to end: the real binary against the simulator, asserted from its log.

use crate::util::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_second_file_is_one_paced_session_that_matches_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 1000.0, 10.0, 44100, 2, 0.5);
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["--json", "play"]).arg(&wav).arg(url(&sim));
    let (out, wall) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["reason"], "end_of_input");
    assert!((wall.as_secs_f64() - 10.0).abs() <= 0.3, "wall time {wall:?}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, closed_by_client), 1);
    assert_eq!(count(&events, prompt), 0);
    let session = events.iter().find_map(|e| match &e.kind {
        EventKind::SessionOpened { id, .. } => Some(id.clone()),
        _ => None,
    });
    let session = session.expect("a session");
    // What the device heard, by its own measure: no gap, no loss. The client's schedule never
    // runs ahead of real time by more than the lead (100 ms), a batch (60 ms) and the frame in
    // hand (20 ms), counted from the upload's answer (its clock cannot start before it): that
    // bound holds however late the device's first read comes. The speaker's own lead adds that
    // lateness once (on a loaded 2-core machine, 40-70 ms were measured between the answer and
    // the first read, with the lead then flat for the whole file): it is bounded by the time from
    // the answer to the first arrival, and it must not grow (no drift): the last second holds
    // no more than the first.
    let l = sim.upload_of(&session).await.unwrap().listened;
    assert_eq!((l.underruns, l.overflow_ms), (0, 0.0), "{l:?}");
    assert!(l.max_lead_after_answer_ms <= 180.0 + 1e-6, "{l:?}");
    assert!((l.audio_seconds - 10.0).abs() < 0.05, "{l:?}");
    let leads = lead_at_arrivals_ms(&l.arrivals, 8000.0);
    let settled = |from: f64, to: f64| leads.iter().filter(|(t, _)| (from..to).contains(t)).map(|(_, l)| *l).fold(0.0, f64::max);
    let (early, late) = (settled(0.5, 1.5), settled(8.5, 9.5));
    assert!(late <= early + 20.0, "the lead grew from {early:.1} ms to {late:.1} ms: the pacing drifts");
    let jitter = arrival_jitter_ms(&l.arrivals, 0.2);
    // Frames come in batches, 80 ms apart on average, not in bursts; one read the device makes
    // late (a loaded machine) lengthens one gap, never beyond what the device holds.
    assert!(jitter.0 <= 90.0, "the mean wait between arrivals after the lead: {jitter:?}");
    assert!(jitter.1 <= 180.0, "the longest wait between arrivals after the lead: {jitter:?}");
    assert_eq!(count(&events, |e| matches!(e, EventKind::ExpectContinue { .. })), 0, "hiktalk never sends Expect");
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &session).await;
    assert_eq!(rate, 8000);
    let secs = pcm.len() as f64 / rate as f64;
    assert!((secs - 10.0).abs() < 0.1, "recorded {secs} s");
    let snr = sine_snr_db(&pcm, rate, 1000.0, 800);
    assert!(snr >= 30.0, "SNR {snr:.1} dB after the G.711 round trip");
    // The Digest challenge is paid for once: every later request, the upload included, reuses
    // it with a counted nc.
    let challenges = count(&events, |e| matches!(e, EventKind::Request { status: 401, .. }));
    let requests = count(&events, |e| matches!(e, EventKind::Request { .. }));
    assert_eq!(challenges, 1, "{requests} requests");
    assert!(requests >= 5, "channels, open, audioData, close at least: {requests}");
    println!(
        "measured at the device: wall {wall:?}, SNR {snr:.1} dB, lead at most {:.1} ms ({:.1} ms of it the client's schedule, {early:.1} ms after 1 s, {late:.1} ms after 9 s), {} underruns, arrival gaps mean {:.1} ms max {:.1} ms, first audio {:.0} ms after the first accept; {requests} requests, 1 challenge",
        l.max_lead_ms,
        l.max_lead_after_answer_ms,
        l.underruns,
        jitter.0,
        jitter.1,
        l.first_audio_after_accept_ms.unwrap_or(f64::NAN)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_closes_the_session_and_nothing_follows() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 10.0, 16000, 1, 0.3);
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(url(&sim)).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    sim.wait_for(|e| matches!(&e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("audio started");
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("stopped by SIGINT"), "{}", stderr(&out));
    let close = sim.wait_for(|e| closed_by_client(&e.kind), Duration::from_secs(1)).await.expect("the close arrives");
    // Ten seconds of quiet: a reconnecting client would open again and be hung up on.
    let late = sim.wait_for(|e| e.t > close.t && (opened(&e.kind) || prompt(&e.kind)), Duration::from_secs(10)).await;
    assert!(late.is_none(), "after the stop: {late:?}");
    assert_eq!(count(&sim.events(), opened), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_costs_exactly_one_attempt() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.env("HIKTALK_PASSWORD", "wrong").args(["play"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("rejected the password"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong"), "the password leaked: {}", stderr(&out));
    assert!(!stderr(&out).contains("response="), "a Digest response leaked");
    let failed = count(&sim.events(), |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password"));
    assert_eq!(failed, 1);
    assert_eq!(count(&sim.events(), opened), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_any_session() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    tone_wav(&empty, 440.0, 0.0, 8000, 1, 0.3);
    let garbage = dir.path().join("garbage.wav");
    std::fs::write(&garbage, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "this is not audio\n".repeat(100)).unwrap();
    for (path, what) in [(dir.path().join("missing.wav"), "missing"), (empty, "empty"), (garbage, "corrupt"), (text, "text")] {
        let mut cmd = hiktalk();
        cmd.arg("play").arg(&path).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{what}: {err}");
        assert!(err.contains(&*path.file_name().unwrap().to_string_lossy()), "{what}: the message names the file: {err}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{what}: {err}");
    }
    assert_eq!(count(&sim.events(), opened), 0);
}

/// `--raw-format` with a WAV (a file or stdin) is refused, exit 3, before any request: its header
/// would be played as samples (#20 item 17). A headerless file still plays with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_format_is_refused_for_input_with_a_header() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 0.5, 8000, 1, 0.3);
    for stdin in [false, true] {
        let mut cmd = hiktalk();
        cmd.args(["play", "--raw-format", "s16le:8000:1"]);
        if stdin {
            cmd.arg("-").stdin(std::fs::File::open(&wav).unwrap());
        } else {
            cmd.arg(&wav);
        }
        cmd.arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "stdin {stdin}: {err}");
        assert!(err.contains("is WAV audio with its own header") && err.contains("drop --raw-format"), "stdin {stdin}: {err}");
    }
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { .. })), 0, "nothing reached the device");
    let raw = dir.path().join("tone.raw");
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::write(&raw, &bytes[44..]).unwrap();
    let mut cmd = hiktalk();
    cmd.args(["play", "--raw-format", "s16le:8000:1"]).arg(&raw).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("played 0.5 s"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_speech_from_espeak_plays() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let speech =
        std::process::Command::new("espeak-ng").args(["--stdout", "Leave the parcel"]).output().expect("espeak-ng (apt install espeak-ng)");
    assert!(speech.status.success());
    let mut cmd = hiktalk();
    cmd.args(["--json", "play", "-"])
        .arg(url(&sim))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&speech.stdout);
    });
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secs = json(&out)["audio_seconds"].as_f64().unwrap();
    // espeak-ng says it in about 1.2 s; a lost tail or a trimmed queue would show here.
    assert!(secs > 1.0 && secs < 2.0, "{secs} s of speech");
    assert_eq!(count(&sim.events(), closed_by_client), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_scales_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 1000.0, 1.0, 8000, 1, 0.5);
    let mut levels = Vec::new();
    for gain in ["0", "-6", "+12"] {
        let sim = sim::start(binary_sim_config()).await.unwrap();
        let mut cmd = hiktalk();
        cmd.args(["play", "--volume", gain]).arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (pcm, _) = crate::util::ffmpeg::heard(&sim, &last_session_id(&sim)).await;
        levels.push(pcm.iter().map(|&s| (s as i32).abs()).max().unwrap());
    }
    let ratio = levels[1] as f64 / levels[0] as f64;
    assert!((ratio - 0.5).abs() < 0.03, "-6 dB halves the peak: {levels:?}");
    // +12 dB on a -6 dBFS tone would be +6 dBFS: the limiter holds peaks near its -1 dBFS
    // ceiling, where hard clipping would reach mu-law's top code (32124).
    assert!(levels[2] <= 30_200 && levels[2] > levels[0], "{levels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_a_progress_bar_and_a_pipe_gets_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 440.0, 1.5, 8000, 1, 0.3);
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(url(&sim));
    let (child, _keys, printed) = on_a_terminal(cmd);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0));
    let screen = printed.join().unwrap();
    // The bar: device name, elapsed / total, bytes.
    assert!(screen.contains(&url(&sim)) && screen.contains("/ 1.5 s") && screen.contains("KiB sent"), "{screen}");

    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert!(!err.contains("KiB sent"), "no bar without a terminal: {err}");
    assert!(err.trim_end().lines().last().unwrap().contains("session closed, device confirmed"), "{err}");
    let mut cmd = hiktalk();
    cmd.args(["-q", "play"]).arg(&wav).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!((out.status.code(), stderr(&out).as_str(), out.stdout.len()), (Some(0), "", 0), "--quiet prints nothing on success");
}
