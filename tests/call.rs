//! `hiktalk speak` as a call: the ALSA test tone goes to the device while the device's
//! microphone plays on the ALSA test speaker, both on one session with one close; judged by
//! what the simulated device received (ffmpeg) and what the fake speaker played.

use crate::util::speaker::{self, SpeakerSink};
use crate::util::tone::ToneSource;
use crate::util::*;
use std::process::{Child, Stdio};
use std::time::Duration;

/// What the user says (the fake microphone) and what the device hears (its microphone file).
const TALK_HZ: f64 = 440.0;
const DEVICE_HZ: f64 = 1031.0;

fn device_mic(dir: &std::path::Path) -> std::path::PathBuf {
    tone_wav(&dir.join("device-mic.wav"), DEVICE_HZ, 2.0, 16000, 1, 0.25)
}

fn call(source: &ToneSource, speaker: &SpeakerSink, sim: &SimHandle, extra: &[&str]) -> Child {
    let mut cmd = hiktalk();
    cmd.args(["--json", "speak", "--input", &source.device_id(), "--output", &speaker.device_id()]).args(extra).arg(url(sim));
    cmd.envs(speaker.env(Some(source))).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("start hiktalk speak")
}

/// Waits until both directions run on one session; returns its id.
async fn both_ways(sim: &SimHandle) -> String {
    let talk =
        sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
    let hear =
        sim.wait_for(|e| matches!(e.kind, EventKind::MicStarted { .. }), Duration::from_secs(10)).await.expect("the microphone starts");
    let (EventKind::AudioStarted { session_id: a, .. }, EventKind::MicStarted { session_id: b, .. }) = (talk.kind, hear.kind) else {
        unreachable!()
    };
    assert_eq!(a, b, "talk and listen share one session");
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_on_one_session_with_one_close() {
    let dir = tempfile::tempdir().unwrap();
    let source = ToneSource::start(TALK_HZ, -12.0).expect("the fake microphone");
    let speaker = SpeakerSink::start().expect("the fake speaker");
    let sim = sim::start(SimConfig { mic: Some(device_mic(dir.path())), ..binary_sim_config() }).await.unwrap();
    let child = call(&source, &speaker, &sim, &[]);
    let id = both_ways(&sim).await;
    let ended = sim.wait_for(|e| matches!(e.kind, EventKind::AudioEnded { .. } | EventKind::MicEnded { .. }), Duration::from_secs(2)).await;
    assert!(ended.is_none(), "{ended:?}");
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!((report["sessions_opened"].as_u64(), report["closes_confirmed"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["heard_codec"]["codec"], "G.711ulaw", "{report}");
    assert!(report["heard_seconds"].as_f64().unwrap() > 1.5, "{report}");
    let events = sim.events();
    assert_eq!(count(&events, opened), 1);
    assert_eq!(count(&events, closed_by_client), 1);
    assert!(leaks(&events).is_empty(), "{:?}", leaks(&events));

    // The device heard the user: 440 Hz, clean.
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    let body = &pcm[rate as usize / 5..pcm.len() - rate as usize / 10];
    let snr = sine_snr_db(body, rate, TALK_HZ, 0);
    assert!(snr >= 30.0, "the device heard the user with SNR {snr:.1} dB");
    // The user heard the device: 1031 Hz, clean in every 100 ms block after the jitter buffer's start.
    let played = speaker.played().pcm();
    let rate = speaker::RATE as usize;
    let start = played.iter().position(|v| v.unsigned_abs() > 1600).expect("the device was heard");
    let heard = &played[start + rate / 20..played.len().saturating_sub(rate / 5)];
    assert!(heard.len() >= rate, "{} s heard", heard.len() as f64 / rate as f64);
    let worst = heard.chunks_exact(rate / 10).map(|b| sine_snr_db(b, speaker::RATE, DEVICE_HZ, 0)).fold(f64::INFINITY, f64::min);
    assert!(worst >= 25.0, "the device's microphone through the speaker: worst 100 ms block {worst:.1} dB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stop_signal_during_a_call_closes_both_directions_once() {
    let dir = tempfile::tempdir().unwrap();
    let source = ToneSource::start(TALK_HZ, -12.0).expect("the fake microphone");
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let speaker = SpeakerSink::start().expect("the fake speaker");
        let sim = sim::start(SimConfig { mic: Some(device_mic(dir.path())), ..binary_sim_config() }).await.unwrap();
        let child = call(&source, &speaker, &sim, &[]);
        both_ways(&sim).await;
        signal(&child, sig);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let report = json(&out);
        assert_eq!((report["reason"].as_str(), report["signal"].as_str()), (Some("user_stop"), Some(name)), "{report}");
        // The device logs the end of its microphone stream when it notices it.
        for (what, ended) in [
            ("microphone", sim.wait_for(|e| matches!(e.kind, EventKind::MicEnded { .. }), Duration::from_secs(2)).await),
            ("upload", sim.wait_for(|e| matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_secs(2)).await),
        ] {
            // Ended by our close or by our leaving, never by the device.
            let reason = match ended.map(|e| e.kind) {
                Some(EventKind::MicEnded { reason, .. } | EventKind::AudioEnded { reason, .. }) => reason,
                other => panic!("{name}: the {what} did not end: {other:?}"),
            };
            assert!(reason == "client_closed" || reason == "session_closed", "{name}: the {what} ended by {reason}");
        }
        let events = sim.events();
        assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1), "{name}: {events:#?}");
        assert_eq!(count(&events, |e| matches!(e, EventKind::MicEnded { .. } | EventKind::AudioEnded { .. })), 2, "{name}");
        assert!(leaks(&events).is_empty(), "{name}: {:?}", leaks(&events));
    }
}

/// What the speaker played around a moment: the `freq` amplitude over 300 ms ending `before`
/// the last played sample.
fn played_amplitude(speaker: &SpeakerSink, before: Duration, freq: f64) -> f64 {
    let pcm = speaker.played().pcm();
    let rate = speaker::RATE as usize;
    let end = pcm.len() - (before.as_secs_f64() * rate as f64) as usize;
    amplitude(&pcm[end - rate * 3 / 10..end], speaker::RATE, freq)
}

/// `--mic-echo`: the device's microphone hears its own speaker, so the user hears their own
/// voice back. `--half-duplex` turns the device down while the user speaks, and up again after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_duplex_ducks_the_device_while_the_user_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let source = ToneSource::start(TALK_HZ, -12.0).expect("the fake microphone");
    let echo = sim::MicEcho { delay: Duration::from_millis(100), gain_db: 0.0 };
    let mut measured = Vec::new();
    for half_duplex in [false, true] {
        source.set_tone(true);
        let speaker = SpeakerSink::start().expect("the fake speaker");
        let config = SimConfig { mic: Some(device_mic(dir.path())), mic_echo: Some(echo), ..binary_sim_config() };
        let sim = sim::start(config).await.unwrap();
        // Only the ducking: the room's canceller (on by default) would also see this tone, whose
        // echo, a sine, it cannot tell from the voice itself.
        let child = call(&source, &speaker, &sim, if half_duplex { &["--echo", "off", "--half-duplex"] } else { &["--echo", "off"] });
        both_ways(&sim).await;
        let quiet = sim.wait_for(|e| matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_millis(1500)).await;
        assert!(quiet.is_none());
        // While the user speaks: their echo (440 Hz) and the device's own sound (1031 Hz).
        let talking = (played_amplitude(&speaker, Duration::ZERO, TALK_HZ), played_amplitude(&speaker, Duration::ZERO, DEVICE_HZ));
        source.set_tone(false);
        let quiet = sim.wait_for(|e| matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_millis(1200)).await;
        assert!(quiet.is_none());
        let after = played_amplitude(&speaker, Duration::ZERO, DEVICE_HZ);
        signal(&child, libc::SIGINT);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(leaks(&sim.events()).is_empty());
        measured.push((talking, after));
    }
    let [((echo_full, device_full), after_full), ((echo_ducked, device_ducked), after_ducked)] = measured[..] else { unreachable!() };
    let db = |a: f64, b: f64| 20.0 * (a / b).log10();
    eprintln!(
        "half duplex: echo {:.1} dB, device {:.1} dB while speaking; device {:.1} dB after (against full duplex)",
        db(echo_ducked, echo_full),
        db(device_ducked, device_full),
        db(after_ducked, after_full)
    );
    // Full duplex: the echo of the user's voice is loud (0 dB echo of -12 dBFS through G.711).
    assert!(echo_full > 0.15 * 32768.0, "echo amplitude {echo_full:.0}");
    assert!(db(echo_ducked, echo_full) <= -25.0 && db(device_ducked, device_full) <= -25.0, "ducked while speaking");
    assert!(db(after_ducked, after_full).abs() <= 1.0, "back to full level once the user stops");
}
