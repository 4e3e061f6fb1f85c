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
    // The budget is 80 ms (the benchmark measures it quietly); a loaded test machine
    // gets some slack.
    assert!(latencies.iter().all(|&l| l > 0.0 && l <= 120.0), "latency {latencies:.1?} ms");
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

/// The files in `dir` and their contents.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    all.sort();
    all
}

/// A failed run (wrong password, unreachable device, busy channel) leaves an existing recording
/// as it was and no temporary file; a good one replaces it, renamed into place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_listen_leaves_the_existing_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("yesterday.wav"), 440.0, 3.0, 8000, 1, 0.3);
    let before = files(dir.path());
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", refused.local_addr().unwrap());
    drop(refused);
    for (password, camera, code) in [("wrong", url(&sim), 4), (PASSWORD, unreachable, 7)] {
        let mut cmd = hiktalk();
        cmd.env("HIKTALK_PASSWORD", password).args(["listen", "-o"]).arg(&wav).args(["--duration", "1", &camera]);
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert_eq!(files(dir.path()), before, "exit {code}: the recording and the directory are as they were");
    }
    // Another client holds the channel.
    let other = std::process::Command::new("curl")
        .args(["-s", "--digest", "-u", &format!("admin:{PASSWORD}"), "-X", "PUT", "-H", "Content-Length: 0"])
        .arg(format!("{}/ISAPI/System/TwoWayAudio/channels/1/open", url(&sim)))
        .output()
        .expect("curl");
    assert!(String::from_utf8_lossy(&other.stdout).contains("sessionId"), "{other:?}");
    let mut cmd = hiktalk();
    cmd.args(["listen", "-o"]).arg(&wav).args(["--duration", "1", &url(&sim)]);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(files(dir.path()), before, "busy: the recording is as it was");

    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["listen", "-o"]).arg(&wav).args(["--duration", "1", &url(&sim)]);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = files(dir.path());
    assert_eq!(after.len(), 1, "only the recording, no temporary file: {:?}", after.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert_ne!(after, before, "replaced by the new recording");
    let r = hound::WavReader::open(&wav).unwrap();
    assert!((f64::from(r.len()) / 8000.0 - 1.0).abs() < 0.15, "{} samples", r.len());
}

/// Killed mid-recording: FILE is untouched, and what was heard so far is a readable WAV beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listen_leaves_a_readable_partial_recording_beside_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("door.wav"), 440.0, 1.0, 8000, 1, 0.3);
    let before = std::fs::read(&wav).unwrap();
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut child = hiktalk().args(["listen", "-o"]).arg(&wav).arg(url(&sim)).stderr(Stdio::piped()).spawn().unwrap();
    // Audio is flowing once the device's microphone has sent for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sim.events().iter().any(|e| matches!(e.kind, EventKind::MicStarted { .. })) {
        assert!(Instant::now() < deadline, "the microphone stream never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    let _ = wait_child(child).await;
    assert_eq!(std::fs::read(&wav).unwrap(), before, "FILE untouched");
    let partial: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".partial"))
        .collect();
    assert_eq!(partial.len(), 1, "one partial recording");
    let r = hound::WavReader::open(&partial[0]).unwrap();
    assert!(r.len() >= 4000, "half a second or more heard: {} samples", r.len());
}

/// An output that cannot be written is the user's input, not a bug: exit 3, before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_output_is_an_input_error_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let missing = dir.path().join("no/such/dir/x.wav");
    let cases: Vec<Vec<String>> = vec![
        vec!["-o".into(), dir.path().display().to_string()],
        vec!["-o".into(), missing.display().to_string()],
        vec!["-o".into(), missing.display().to_string(), "--raw".into()],
        vec!["--output".into(), "no-such-sound-device".into()],
    ];
    for case in cases {
        let mut cmd = hiktalk();
        cmd.arg("listen").args(&case).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{case:?}: {err}");
        assert!(!err.contains("bug"), "{case:?}: {err}");
    }
    assert!(sim.events().iter().all(|e| !matches!(e.kind, EventKind::Request { .. })), "no request was sent");
}

/// An output with no clock of its own (ALSA's `null` takes samples as fast as they come) is
/// paced by hiktalk's clock: the process's CPU time, as the kernel counts it, stays far below
/// a spinning thread's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_without_a_clock_does_not_spin() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(SimConfig { mic: Some(onset_file(dir.path())), ..binary_sim_config() }).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["listen", "--output", "alsa:null", "--duration", "4", &url(&sim)]).stdout(Stdio::null()).stderr(Stdio::piped());
    // Reaped by wait4(2) below, which also gives its CPU time (std's wait cannot).
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("start hiktalk listen");
    let (status, cpu, wall) = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let (mut status, mut usage) = (0, std::mem::MaybeUninit::<libc::rusage>::zeroed());
        // SAFETY: wait4(2) on our own child, with valid out-pointers; reaps it once.
        let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr()) };
        assert_eq!(pid, child.id() as i32);
        // SAFETY: filled in by the successful wait4 above.
        let usage = unsafe { usage.assume_init() };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (status, secs(usage.ru_utime) + secs(usage.ru_stime), start.elapsed().as_secs_f64())
    })
    .await
    .unwrap();
    eprintln!("listen --output alsa:null: {cpu:.2} s of CPU in {wall:.2} s");
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "exit status {status}");
    assert_eq!(count(&sim.events(), closed_by_client), 1);
    // Spinning, the output thread alone took a third of a core here; paced, the whole listen 4%.
    assert!(cpu < 0.15 * wall, "{cpu:.2} s of CPU in {wall:.2} s");
}
