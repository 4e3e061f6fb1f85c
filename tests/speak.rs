//! `hiktalk speak` end to end: a real cpal capture (the ALSA FIFO test tone, no sound card)
//! through the real binary to the simulator, asserted from the simulator's log and recording.

use crate::util::tone::{self, ToneSource};
use crate::util::*;
use std::process::{Child, Stdio};
use std::time::Duration;

const FREQ: f64 = 440.0;
const PEAK_DBFS: f64 = -12.0;
/// One G.711 frame: the latency budget is 40 ms plus this.
const FRAME_MS: f64 = 20.0;

fn hangup(e: &EventKind) -> bool {
    matches!(e, EventKind::Hangup { .. })
}

/// `hiktalk [--json] speak --input <test tone> URL extra...`, stdout and stderr captured.
fn speak(source: &ToneSource, sim: &SimHandle, json: bool, extra: &[&str]) -> Child {
    let mut cmd = hiktalk();
    if json {
        cmd.arg("--json");
    }
    cmd.args(["speak", "--input", &source.device_id()]).args(extra).arg(url(sim));
    cmd.envs(source.env()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("start hiktalk speak")
}

/// The id of the one session the simulator opened.
fn session_id(sim: &SimHandle) -> String {
    let ids: Vec<String> = sim
        .events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SessionOpened { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "exactly one session: {ids:?}");
    ids[0].clone()
}

async fn audio_started(sim: &SimHandle) {
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
}

/// Waits until the simulator has received `secs` more of audio than it had at `from` (decoded
/// bytes are not logged live, so this waits on wall time, bounded by the upload's own events).
async fn stream_for(sim: &SimHandle, secs: f64) {
    // Anything ending the session early (hang-up, close) fails the wait.
    let ended = sim
        .wait_for(
            |e| hangup(&e.kind) || matches!(e.kind, EventKind::SessionClosed { .. } | EventKind::AudioEnded { .. }),
            Duration::from_secs_f64(secs),
        )
        .await;
    assert!(ended.is_none(), "the session ended early: {ended:?}");
}

/// RMS in dBFS of the i16 samples.
fn rms_dbfs(x: &[i16]) -> f64 {
    let ms = x.iter().map(|&v| (v as f64 / 32768.0).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-20).log10()
}

/// Dominant frequency: the peak of a Goertzel scan from 50 to 3900 Hz in 1 Hz steps, refined
/// by a parabola over the neighbours.
fn dominant_hz(x: &[i16], rate: u32) -> f64 {
    let power = |f: f64| {
        let w = 2.0 * std::f64::consts::PI * f / rate as f64;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = v as f64 + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - coeff * s1 * s2
    };
    // Coarse 10 Hz scan, then 1 Hz around the best, then a parabola.
    let coarse = (5..390).map(|k| k as f64 * 10.0).max_by(|a, b| power(*a).total_cmp(&power(*b))).unwrap();
    let fine = ((coarse - 10.0) as i64..=(coarse + 10.0) as i64).map(|f| f as f64).max_by(|a, b| power(*a).total_cmp(&power(*b))).unwrap();
    let (l, c, r) = (power(fine - 1.0), power(fine), power(fine + 1.0));
    let denom = l - 2.0 * c + r;
    if denom.abs() > 0.0 { fine + 0.5 * (l - r) / denom } else { fine }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_tone_reaches_the_speaker_with_its_frequency_and_level() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let child = speak(&source, &sim, true, &["--stats"]);
    audio_started(&sim).await;
    stream_for(&sim, 2.0).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "the user's stop is speak's normal end: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["reason"], "user_stop", "{report}");
    assert_eq!(report["signal"], "SIGINT", "{report}");
    let events = sim.events();
    assert_eq!(count(&events, closed_by_client), 1, "{events:#?}");
    assert_eq!(count(&events, prompt), 0);

    let id = session_id(&sim);
    // The device's own measure: live audio keeps its small lead (40 ms, plus the frame and the
    // grace a late microphone gets), counted from the upload's answer (so that a first read the
    // device makes late on a loaded machine does not count), is never lost to overflow, and
    // gaps are rare and short.
    let l = sim.upload_of(&id).await.unwrap().listened;
    assert_eq!(l.overflow_ms, 0.0, "{l:?}");
    assert!(l.max_lead_after_answer_ms <= 40.0 + FRAME_MS + 60.0 + 10.0, "{l:?}");
    assert!(l.underrun_ms <= 100.0, "{l:?}");
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    assert_eq!(rate, 8000);
    let skip = rate as usize / 10;
    assert!(pcm.len() > 2 * skip + rate as usize, "{} samples recorded", pcm.len());
    let body = &pcm[skip..pcm.len() - skip];
    let hz = dominant_hz(body, rate);
    // A sine's RMS is 3 dB under its peak.
    let expected = PEAK_DBFS - 10.0 * 2f64.log10();
    let level = rms_dbfs(body);
    // SNR per 100 ms block (a fit over the whole span would be ruined by any shift of phase):
    // the median says the audio is clean, the minimum shows glitches.
    let mut snrs: Vec<f64> = body.chunks_exact(rate as usize / 10).map(|b| sine_snr_db(b, rate, FREQ, 0)).collect();
    snrs.sort_by(f64::total_cmp);
    let (snr, snr_min) = (snrs[snrs.len() / 2], snrs[0]);
    let mean = report["latency_ms_mean"].as_f64().expect("latency measured");
    let max = report["latency_ms_max"].as_f64().unwrap();
    eprintln!(
        "speak: {:.2} s recorded, {hz:.2} Hz, {level:.2} dBFS RMS (expected {expected:.2}), SNR {snr:.1} dB (median of 100 ms blocks, min {snr_min:.1}); latency capture->socket mean {mean:.1} ms, max {max:.1} ms; silence frames {}, dropped frames {}; at the device: lead at most {:.1} ms, {} underruns ({:.1} ms)",
        pcm.len() as f64 / rate as f64,
        report["silence_frames"],
        report["dropped_frames"],
        l.max_lead_ms,
        l.underruns,
        l.underrun_ms
    );
    assert!((hz - FREQ).abs() <= 5.0, "dominant frequency {hz:.2} Hz");
    assert!((level - expected).abs() <= 1.5, "level {level:.2} dBFS RMS, expected {expected:.2}");
    // G.711 of a -12 dBFS sine measures about 37 dB; a wrong rate, clipping or a broken
    // resampler would not. A glitch under load only lowers a block or two.
    assert!(snr >= 30.0, "median SNR {snr:.1} dB");
    assert!(mean <= 40.0 + FRAME_MS, "mean latency {mean:.1} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_a_stalled_microphone_keep_the_session_alive() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let idle = Duration::from_secs(1);
    let sim = sim::start(SimConfig { idle_timeout: idle, ..binary_sim_config() }).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    audio_started(&sim).await;
    stream_for(&sim, 0.5).await;
    // Digital silence from the microphone for twice the idle timeout ...
    source.set_tone(false);
    stream_for(&sim, 2.0).await;
    // ... then no audio from it at all (a glitching device): the pacer fills in codec silence.
    source.set_paused(true);
    stream_for(&sim, 1.5).await;
    source.set_paused(false);
    source.set_tone(true);
    stream_for(&sim, 0.8).await;
    signal(&child, libc::SIGTERM);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["signal"], "SIGTERM", "{report}");
    // 1.5 s without capture: about 75 frames of the pacer's silence (the first frame of grace
    // and the ring's start-up aside).
    let silence = report["silence_frames"].as_u64().unwrap();
    assert!(silence >= 50, "the pacer filled the stall with silence: {report}");
    let events = sim.events();
    assert_eq!(count(&events, hangup), 0, "{events:#?}");
    assert_eq!(count(&events, prompt), 0, "{events:#?}");
    assert_eq!(count(&events, opened), 1, "{events:#?}");
    assert_eq!(count(&events, closed_by_client), 1, "{events:#?}");
    assert_eq!(report["retries"], 0);

    // The recording: the tone, a silent stretch of more than the idle timeout, the tone again;
    // and the speaker never ran dry: the stall's silence came before the device needed it.
    let id = session_id(&sim);
    let l = sim.upload_of(&id).await.unwrap().listened;
    assert_eq!(l.underruns, 0, "the device ran dry: {l:?}");
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    let rate = rate as usize;
    let longest_quiet = pcm.split(|&v| v.unsigned_abs() > 8).map(<[i16]>::len).max().unwrap_or(0);
    assert!(longest_quiet as f64 / rate as f64 >= 3.0, "silent for {:.2} s", longest_quiet as f64 / rate as f64);
    let tail = &pcm[pcm.len() - rate / 2..pcm.len() - rate / 10];
    let expected = PEAK_DBFS - 10.0 * 2f64.log10();
    assert!((rms_dbfs(tail) - expected).abs() <= 1.5, "the tone is back: {:.2} dBFS", rms_dbfs(tail));
}

/// The go2rtc loop, end to end: the user stops hiktalk while it speaks, then the device stays up
/// for several idle timeouts. One session, closed by us; nothing reopens, no "call ended".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_user_stops_nothing_reopens_and_no_call_ended() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let idle = Duration::from_secs(1);
    let sim = sim::start(SimConfig { idle_timeout: idle, ..binary_sim_config() }).await.unwrap();
    let child = speak(&source, &sim, false, &["--stats"]);
    audio_started(&sim).await;
    stream_for(&sim, 1.0).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("stopped by SIGINT") && err.contains("session closed, device confirmed"), "{err}");
    // --stats without --json: one line on stderr with the measured latency.
    let stats = err.lines().find(|l| l.contains("stats: latency capture->socket mean ")).unwrap_or_else(|| panic!("no stats line: {err}"));
    let mean: f64 =
        stats.split("mean ").nth(1).and_then(|s| s.split(" ms").next()).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{stats}"));
    assert!(mean > 0.0 && mean <= 40.0 + FRAME_MS, "{stats}");
    assert!(stats.contains("capture samples dropped"), "{stats}");

    let close = sim.wait_for(|e| closed_by_client(&e.kind), Duration::from_secs(1)).await.expect("our close");
    // Three and a half idle timeouts: a client that reopened would be hung up on with "call ended".
    let late = sim.wait_for(|e| e.t > close.t && (opened(&e.kind) || prompt(&e.kind) || hangup(&e.kind)), idle * 7 / 2).await;
    assert!(late.is_none(), "after the stop: {late:?}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, prompt), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_input_fails_before_the_camera_is_contacted() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["speak", "--input", "nonexistent"]).arg(url(&sim)).envs(source.env());
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("\"nonexistent\"") && err.contains("hiktalk devices"), "{err}");
    // The list of what is available includes the test device.
    assert!(err.contains(&source.device_id()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The microphone is opened first: not a single request reached the camera.
    let events = sim.events();
    assert!(events.is_empty(), "{events:#?}");

    // A listed device that cannot be opened: the same, with the device named.
    let mut cmd = hiktalk();
    cmd.args(["speak", "--input", tone::BROKEN_DEVICE_ID]).arg(url(&sim)).envs(source.env());
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(tone::BROKEN_DEVICE_ID) && err.contains("hiktalk devices"), "{err}");
    assert!(sim.events().is_empty());

    // Push-to-talk needs a terminal to read the space key from; without one it is refused
    // (usage, exit 2) rather than sending silence forever.
    let mut cmd = hiktalk();
    cmd.args(["speak", "--ptt", "--input", &source.device_id()]).arg(url(&sim)).envs(source.env());
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--ptt") && err.contains("terminal"), "{err}");
    assert!(sim.events().is_empty());
}

/// `--vad`: no session (no speaker hiss) until someone speaks; after `--hold` of silence the
/// session is closed with the full sequence, and the next words open a new one. Every open is
/// matched by a confirmed close, the device never plays its "call ended" prompt, and what it
/// received is the speech, then zeros (never the hiss below the threshold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vad_opens_on_speech_and_closes_after_the_hold_again_and_again() {
    // -50 dBFS peak: audible as hiss through G.711, below the -45 dBFS threshold.
    let source = ToneSource::start(FREQ, -50.0).expect("the fake microphone");
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let child = speak(&source, &sim, true, &["--vad", "-45", "--hold", "1", "--no-listen"]);
    wait_for_signal_handlers(&child).await;
    let early = sim.wait_for(|e| opened(&e.kind), Duration::from_millis(800)).await;
    assert!(early.is_none(), "no session before anyone speaks: {early:?}");
    let mut rx = sim.subscribe();
    for cycle in 1..=2 {
        source.set_level(PEAK_DBFS);
        let started = std::time::Instant::now();
        loop {
            if matches!(rx.recv().await.unwrap().kind, EventKind::AudioStarted { .. }) {
                break;
            }
        }
        let opened_after = started.elapsed();
        // Talk for a while; nothing may end the session meanwhile.
        let ended = tokio::time::timeout(Duration::from_millis(600), async {
            loop {
                let kind = rx.recv().await.unwrap().kind;
                if matches!(kind, EventKind::AudioEnded { .. } | EventKind::SessionClosed { .. } | EventKind::Hangup { .. }) {
                    return kind;
                }
            }
        })
        .await;
        assert!(ended.is_err(), "cycle {cycle}: the session ended while speaking: {ended:?}");
        source.set_level(-50.0);
        let quiet = std::time::Instant::now();
        loop {
            if closed_by_client(&rx.recv().await.unwrap().kind) {
                break;
            }
        }
        let closed_after = quiet.elapsed();
        eprintln!("vad cycle {cycle}: opened {opened_after:?} after speech, closed {closed_after:?} after silence");
        assert!(opened_after < Duration::from_millis(500), "cycle {cycle}: {opened_after:?}");
        // The hold (1 s) plus the VAD's hangover (0.3 s), and not much more.
        assert!(
            closed_after >= Duration::from_millis(1200) && closed_after < Duration::from_millis(2500),
            "cycle {cycle}: {closed_after:?}"
        );
    }
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["reason"], "user_stop", "{report}");
    assert_eq!((report["sessions_opened"].as_u64(), report["closes_confirmed"].as_u64()), (Some(2), Some(2)), "{report}");
    assert_eq!(report["retries"], 0, "closing on silence is not a fault: {report}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 2, "{events:#?}");
    assert_eq!(count(&events, closed_by_client), 2);
    assert_eq!(count(&events, prompt), 0);
    assert!(leaks(&events).is_empty(), "{:?}", leaks(&events));
    for received in sim.received().await {
        let (pcm, rate) = crate::util::ffmpeg::decode_received(&received);
        let rate = rate as usize;
        // The speech, then only zeros once the voice stopped (the last second before the close).
        let talk = &pcm[rate / 10..rate / 2];
        let expected = PEAK_DBFS - 10.0 * 2f64.log10();
        assert!((rms_dbfs(talk) - expected).abs() <= 1.5, "speech: {:.2} dBFS", rms_dbfs(talk));
        assert!((dominant_hz(talk, rate as u32) - FREQ).abs() <= 5.0);
        let tail = &pcm[pcm.len() - rate * 8 / 10..];
        let loudest = tail.iter().map(|v| v.unsigned_abs()).max().unwrap();
        assert!(loudest <= 2, "below the threshold only silence is sent (peak {loudest})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_lists_the_test_microphone() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let mut cmd = hiktalk();
    cmd.arg("devices").envs(source.env());
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(&source.device_id())).unwrap_or_else(|| panic!("not listed: {text}"));
    assert!(line.contains("48000 Hz f32 2 ch") && line.contains(tone::DESCRIPTION), "{line}");

    let mut cmd = hiktalk();
    cmd.args(["--json", "devices"]).envs(source.env());
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // One JSON object, its `devices` array holding the rows.
    let listing = json(&out);
    assert_eq!((listing["reason"].as_str(), listing["exit_code"].as_i64()), (Some("done"), Some(0)), "{listing}");
    let devices = listing["devices"].as_array().unwrap_or_else(|| panic!("no devices array: {listing}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let test = devices.iter().find(|d| d["id"] == source.device_id().as_str()).unwrap_or_else(|| panic!("{devices:?}"));
    assert_eq!(
        (test["default_rate"].as_u64(), test["default_format"].as_str(), test["channels"].as_u64()),
        (Some(48000), Some("f32"), Some(2))
    );
    assert_eq!(test["description"], tone::DESCRIPTION);
    assert!(test["index"].is_u64() && test["is_default"].is_boolean(), "{test}");
}

/// cpal's error callback cannot be made to fire with the test device (this alsa-lib's `file`
/// plugin logs a failed read of its input and carries on), so the device fails the way some
/// real ones do: it stops delivering audio. Past a glitch, that ends the session like an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_that_stops_delivering_is_a_clear_error_and_a_clean_close() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    audio_started(&sim).await;
    stream_for(&sim, 0.5).await;
    source.set_paused(true);
    // No signal: hiktalk ends by itself (after 3 s without audio), closing the session.
    let out = tokio::time::timeout(Duration::from_secs(10), wait_child(child)).await.expect("hiktalk ends after the device fails");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let report = json(&out);
    assert_eq!(report["reason"], "input", "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(message.contains("the microphone delivered no audio") && message.contains("--input"), "{message}");
    assert_eq!(report["closes_confirmed"], 1, "{report}");
    assert_eq!(report["retries"], 0, "an input failure is not retried: {report}");
    // Until then the pacer kept the device fed.
    assert!(report["silence_frames"].as_u64().unwrap() >= 100, "{report}");
    assert!(!err.contains("panicked"), "{err}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, closed_by_client), 1, "{events:#?}");
    assert_eq!(count(&events, hangup) + count(&events, prompt), 0, "{events:#?}");
}

/// A fault the user did not cause (the connection reset) is retried after a backoff, and the
/// microphone's audio from the outage is not sent late: the new session starts with live audio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_reconnects_once_with_live_audio_and_the_stop_is_final() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let fault = "reset-after-bytes=4000,times=1".parse().unwrap();
    let sim = sim::start(SimConfig { faults: vec![fault], idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    let first = sim.wait_for(|e| opened(&e.kind), Duration::from_secs(10)).await.expect("a session");
    let second = sim.wait_for(|e| e.t > first.t && opened(&e.kind), Duration::from_secs(10)).await.expect("a reconnect after the reset");
    let ended = sim
        .wait_for(|e| e.t > second.t && (hangup(&e.kind) || matches!(e.kind, EventKind::AudioEnded { .. })), Duration::from_secs(1))
        .await;
    assert!(ended.is_none(), "the second session streams: {ended:?}");
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("reconnecting in"), "{err}");
    let report = json(&out);
    assert_eq!((report["retries"].as_u64(), report["sessions_opened"].as_u64()), (Some(1), Some(2)), "{report}");
    // Audio captured during the outage (the backoff is at least 0.5 s) is dropped, not sent late.
    let max = report["latency_ms_max"].as_f64().unwrap();
    assert!(max <= 150.0, "latency max {max:.1} ms: stale audio was sent after the reconnect; {report}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 2);
    assert_eq!(count(&events, prompt), 0, "{events:#?}");
    let late = sim.wait_for(|e| e.t > second.t && opened(&e.kind), Duration::from_millis(1500)).await;
    assert!(late.is_none(), "nothing after the stop: {late:?}");
}

/// A device that hung up because nothing arrived (here: hiktalk was frozen with SIGSTOP past the
/// device's idle timeout, as a suspended laptop is) is reconnected, and the reason says idle;
/// so is an upload refused with a 5xx. Every session opened is closed by hiktalk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_reconnects_after_an_idle_hang_up_and_after_a_5xx() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    audio_started(&sim).await;
    signal(&child, libc::SIGSTOP);
    let idle = sim.wait_for(|e| matches!(&e.kind, EventKind::Hangup { reason, .. } if reason == "idle"), Duration::from_secs(5)).await;
    signal(&child, libc::SIGCONT);
    let idle = idle.expect("the device hangs up an idle session");
    sim.wait_for(|e| e.t > idle.t && matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("a reconnect");
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("idle") && err.contains("reconnecting in"), "{err}");
    assert_eq!(json(&out)["retries"], 1);
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));

    let fault = "http500=audio,times=1".parse().unwrap();
    let sim = sim::start(SimConfig { faults: vec![fault], ..binary_sim_config() }).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    let started = sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("a reconnect");
    let ended = sim.wait_for(|e| e.t > started.t && matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_millis(500)).await;
    assert!(ended.is_none(), "the second session streams: {ended:?}");
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("HTTP 500") && err.contains("reconnecting in"), "{err}");
    let report = json(&out);
    assert_eq!((report["retries"].as_u64(), report["sessions_opened"].as_u64()), (Some(1), Some(2)), "{report}");
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
}

/// A child on a pseudo-terminal (stdin, stdout and stderr), as on a user's terminal: the key
/// reader and the level meter run. Returns the child, the master side to type into, and a
/// thread collecting everything the child prints.
fn speak_on_a_terminal(source: &ToneSource, sim: &SimHandle, extra: &[&str]) -> (Child, std::fs::File, std::thread::JoinHandle<String>) {
    let mut cmd = hiktalk();
    cmd.args(["speak", "--input", &source.device_id()]).args(extra).arg(url(sim)).envs(source.env());
    on_a_terminal(cmd)
}

fn rms_between(pcm: &[i16], rate: usize, from_s: f64, to_s: f64) -> f64 {
    rms_dbfs(&pcm[(from_s * rate as f64) as usize..(to_s * rate as f64) as usize])
}

/// On a terminal: `m` mutes and unmutes (silence is sent meanwhile, the session stays), and the
/// one-line meter shows the level, the seconds talked and the drops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_m_mutes_and_the_meter_shows_level_talked_and_drops() {
    use std::io::Write;
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let (child, mut keys, printed) = speak_on_a_terminal(&source, &sim, &[]);
    audio_started(&sim).await;
    stream_for(&sim, 1.0).await;
    keys.write_all(b"m").unwrap();
    stream_for(&sim, 1.5).await;
    keys.write_all(b"m").unwrap();
    stream_for(&sim, 1.0).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0));
    let printed = printed.join().unwrap();
    assert!(
        printed.contains("dBFS") && printed.contains("talked") && printed.contains("drops") && printed.contains("[muted: m]"),
        "{printed}"
    );
    // Notes and the outcome are lines of their own, not glued to the end of a meter line.
    assert!(printed.contains("Ctrl-C to stop") && printed.contains("stopped by SIGINT"), "{printed:?}");
    for (at, _) in printed.match_indices("hiktalk: ") {
        let before = &printed[..at];
        assert!(
            before.is_empty() || before.ends_with('\n') || before.ends_with("\u{1b}[2K"),
            "glued to the meter: {:?}",
            &printed[at.saturating_sub(80)..]
        );
    }
    // The tone peaks at -12 dBFS; before any audio the meter shows nothing, not full scale.
    assert!(printed.contains(" -12 dBFS") && !printed.contains("    0 dBFS"), "{printed}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, hangup) + count(&events, prompt), 0, "muted is not idle: {events:#?}");
    let id = session_id(&sim);
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    let rate = rate as usize;
    let expected = PEAK_DBFS - 10.0 * 2f64.log10();
    // Tone for ~1 s, muted for ~1.5 s, tone again for ~1 s (the key's timing is loose).
    assert!((rms_between(&pcm, rate, 0.2, 0.8) - expected).abs() <= 1.5, "before the mute");
    let muted = &pcm[(1.4 * rate as f64) as usize..(2.2 * rate as f64) as usize];
    assert!(muted.iter().all(|v| v.unsigned_abs() <= 2), "muted: silence is sent");
    let end = pcm.len() as f64 / rate as f64;
    assert!((rms_between(&pcm, rate, end - 0.6, end - 0.1) - expected).abs() <= 1.5, "unmuted again");
}

/// `--ptt` on a terminal: silence until space, the tone while talking, silence again after the
/// second space; one session throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_talk_sends_silence_until_space() {
    use std::io::Write;
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let (child, mut keys, printed) = speak_on_a_terminal(&source, &sim, &["--ptt"]);
    audio_started(&sim).await;
    stream_for(&sim, 1.5).await;
    keys.write_all(b" ").unwrap();
    stream_for(&sim, 1.0).await;
    keys.write_all(b" ").unwrap();
    stream_for(&sim, 1.0).await;
    signal(&child, libc::SIGTERM);
    let out = wait_child(child).await;
    let printed = printed.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("[space to talk]"), "{printed}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, hangup) + count(&events, prompt), 0, "{events:#?}");
    let id = session_id(&sim);
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    let rate = rate as usize;
    assert!(pcm[..rate].iter().all(|v| v.unsigned_abs() <= 2), "silence before space");
    let talked = &pcm[(1.7 * rate as f64) as usize..(2.4 * rate as f64) as usize];
    let expected = PEAK_DBFS - 10.0 * 2f64.log10();
    assert!((rms_dbfs(talked) - expected).abs() <= 1.5, "the tone while talking: {:.2} dBFS", rms_dbfs(talked));
    let end = pcm.len() - rate / 10;
    assert!(pcm[end - rate / 2..end].iter().all(|v| v.unsigned_abs() <= 2), "silence after the second space");
}

/// Every codec works live, not just for files: AAC chosen by itself on an AAC-only camera, and
/// G.726 and PCM when the channel asks for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_speaks_every_channel_codec() {
    use hiktalk::codec::Codec;
    use hiktalk::sim::Profile;
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    let configs = [
        ("AAC", SimConfig { profile: Profile::AacOnly, ..binary_sim_config() }),
        ("G.726", SimConfig { codec: Some(Codec::G726), ..binary_sim_config() }),
        ("PCM", SimConfig { codec: Some(Codec::Pcm), ..binary_sim_config() }),
    ];
    for (codec, config) in configs {
        let sim = sim::start(config).await.unwrap();
        let child = speak(&source, &sim, true, &[]);
        audio_started(&sim).await;
        stream_for(&sim, 1.5).await;
        signal(&child, libc::SIGINT);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{codec}: {}", stderr(&out));
        assert_eq!(json(&out)["codec"]["codec"], codec);
        let id = last_session_id(&sim);
        let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
        let body = &pcm[(rate as usize / 5)..pcm.len().saturating_sub(rate as usize / 5)];
        let hz = dominant_hz(body, rate);
        assert!((hz - FREQ).abs() <= 5.0, "{codec}: {hz:.1} Hz");
        assert!((rms_dbfs(body) - (PEAK_DBFS - 3.01)).abs() <= 2.0, "{codec}: level {:.1} dBFS", rms_dbfs(body));
        // Long frames (AAC's 64 ms) need a longer cushion: the device never ran dry for it.
        let l = sim.upload_of(&id).await.unwrap().listened;
        assert_eq!(l.underruns, 0, "{codec}: {l:?}");
    }
}

/// Talk delay from outside: tone onsets written to the fake microphone, against when the
/// device received the bytes that carry them (ffmpeg finds the onsets in what it received).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_reaches_the_device_soon_after_the_microphone_hears_it() {
    use crate::util::latency;
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("the fake microphone");
    source.set_tone(false);
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let child = speak(&source, &sim, true, &[]);
    audio_started(&sim).await;
    for _ in 0..5 {
        stream_for(&sim, 0.3).await;
        source.set_tone(true);
        stream_for(&sim, 0.2).await;
        source.set_tone(false);
    }
    stream_for(&sim, 0.3).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = session_id(&sim);
    let received = sim.upload_of(&id).await.unwrap();
    let l = &received.listened;
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    assert_eq!(rate, 8000, "G.711: one byte per sample, so a sample's index is its byte's offset");
    let found = latency::onsets(&pcm, 1600, rate as usize / 10);
    let sent = source.onsets();
    assert_eq!(found.len(), sent.len(), "every onset arrived once: found at {found:?}");
    let first_audio = sim.origin() + Duration::from_secs_f64(l.first_audio_at.unwrap());
    let heard: Vec<_> = found.iter().map(|&i| latency::arrival_of(i, first_audio, &l.arrivals).unwrap()).collect();
    let delays = latency::delays_ms(&sent, &heard);
    let (mean, max) = latency::mean_max(&delays);
    eprintln!("speak: microphone->device {delays:.1?} ms (mean {mean:.1}, max {max:.1}); device underruns {}", l.underruns);
    // The goal is 25 ms (the benchmark measures it quietly); a loaded test machine
    // gets some slack. The device must not starve for it.
    assert!(mean <= 40.0 && max <= 60.0, "{delays:.1?}");
    assert_eq!(l.underruns, 0, "{l:?}");
}
