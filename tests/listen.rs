//! `hiktalk listen` end to end: the simulator's microphone through the real binary to a real
//! cpal output (the ALSA FIFO speaker of `util/speaker.rs`, no sound card) or to a file, judged
//! by what the speaker played and by ffmpeg, never by hiktalk's own counters.

use crate::util::latency;
use crate::util::speaker::{self, SpeakerSink};
use crate::util::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The microphone file: `SILENCE` then `TONE_HZ` at -12 dBFS peak, `LOOP` long, looped by the
/// device, so every loop has an onset to time.
const SILENCE: f64 = 0.3;
const LOOP: f64 = 2.0;
/// Not a divisor of any codec rate, so quantisation error is noise, not a harmonic.
const TONE_HZ: f64 = 1031.0;
const TONE_PEAK: f64 = 0.25;

fn onset_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mic.wav");
    let rate = 16000;
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..(LOOP * f64::from(rate)) as usize {
        let t = i as f64 / f64::from(rate);
        let v = if t < SILENCE { 0.0 } else { TONE_PEAK * (2.0 * std::f64::consts::PI * TONE_HZ * t).sin() };
        w.write_sample((v * 32767.0).round() as i16).unwrap();
    }
    w.finalize().unwrap();
    path
}

fn mic_started(sim: &SimHandle) -> (String, f64) {
    sim.events()
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::MicStarted { session_id, first_byte_at, .. } => Some((session_id.clone(), *first_byte_at)),
            _ => None,
        })
        .expect("the microphone stream started")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_is_heard_through_the_speaker_in_tune_without_gaps_and_soon() {
    let dir = tempfile::tempdir().unwrap();
    let speaker = SpeakerSink::start().expect("the fake speaker");
    let sim = sim::start(SimConfig { mic: Some(onset_file(dir.path())), ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["--json", "listen", "--output", &speaker.device_id(), "--duration", "5", "--stats", &url(&sim)]).envs(speaker.env(None));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["reason"], "done", "{report}");
    assert_eq!(report["output_underruns"], 0, "{report}");
    let events = sim.events();
    assert!(leaks(&events).is_empty(), "{:?}", leaks(&events));
    assert_eq!(count(&events, closed_by_client), 1);
    assert_eq!(
        count(&events, |e| matches!(e, EventKind::MicEnded { reason, .. } if reason == "session_closed" || reason == "client_closed")),
        1
    );

    let (_, first_byte_at) = mic_started(&sim);
    let played = speaker.played();
    let rate = speaker::RATE as usize;
    let pcm = played.pcm();
    // Every loop's onset: the first loud sample after a quiet stretch, in order.
    let onsets = latency::onsets(&pcm, 1600, rate / 10);
    assert!(onsets.len() >= 2, "at least two loops heard: onsets at {onsets:?} of {}", pcm.len());
    let wrote: Vec<Instant> =
        (0..onsets.len()).map(|k| sim.origin() + Duration::from_secs_f64(first_byte_at + SILENCE + k as f64 * LOOP)).collect();
    let heard: Vec<Instant> = onsets.iter().map(|&i| played.at(i)).collect();
    let latencies = latency::delays_ms(&wrote, &heard);
    let mut snrs = Vec::new();
    for &i in &onsets {
        // The tone's 1.7 s, less a margin at each end, in 100 ms blocks: all there, all clean.
        let body = &pcm[i + rate / 20..(i + rate * 16 / 10).min(pcm.len())];
        for block in body.chunks_exact(rate / 10) {
            snrs.push(sine_snr_db(block, speaker::RATE, TONE_HZ, 0));
        }
        let rms = (body.iter().map(|&v| (f64::from(v) / 32768.0).powi(2)).sum::<f64>() / body.len() as f64).sqrt();
        let expected = TONE_PEAK / 2f64.sqrt();
        assert!((20.0 * (rms / expected).log10()).abs() < 1.0, "level {rms:.4} vs {expected:.4}");
    }
    let worst = snrs.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("listen: latency device->speaker {latencies:.1?} ms; SNR per 100 ms block min {worst:.1} dB over {} blocks", snrs.len());
    assert!(worst >= 25.0, "a gap or glitch: SNR per block {snrs:.1?}");
    // The budget is 120 ms (the benchmark measures it quietly); a loaded test machine
    // gets some slack.
    assert!(latencies.iter().all(|&l| l > 0.0 && l <= 160.0), "latency {latencies:.1?} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wav_file_reads_back_with_ffmpeg_at_the_requested_length() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let wav = dir.path().join("heard.wav");
    let mut cmd = hiktalk();
    cmd.args(["listen", "-o", wav.to_str().unwrap(), "--duration", "2", &url(&sim)]);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(leaks(&sim.events()).is_empty());
    let pcm = crate::util::ffmpeg::ffmpeg_decode(dir.path(), &["-f", "wav"], &std::fs::read(&wav).unwrap(), 8000);
    let secs = pcm.len() as f64 / 8000.0;
    assert!((secs - 2.0).abs() <= 0.15, "{secs:.3} s written for --duration 2");
    // The simulator's own microphone: 440 Hz, clean from start to end.
    let snr = sine_snr_db(&pcm[800..pcm.len() - 800], 8000, 440.0, 0);
    assert!(snr >= 30.0, "SNR {snr:.1} dB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wav_on_stdout_feeds_a_pipe_and_a_closed_pipe_ends_the_session_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut child = hiktalk().args(["listen", "-o", "-", &url(&sim)]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // A second of audio (16 kB at 8 kHz) and the header, then the reader goes away.
    let bytes = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 44 + 16_000];
        std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
        buf
    })
    .await
    .unwrap();
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "a reader that closed the pipe is a normal end: {}", stderr(&out));
    let events = sim.events();
    assert!(leaks(&events).is_empty(), "{:?}", leaks(&events));
    assert_eq!(count(&events, closed_by_client), 1);
    let pcm = crate::util::ffmpeg::ffmpeg_decode(dir.path(), &["-f", "wav"], &bytes, 8000);
    assert!(pcm.len() >= 7900, "{} samples", pcm.len());
    assert!(sine_snr_db(&pcm[800..], 8000, 440.0, 0) >= 30.0);
}
