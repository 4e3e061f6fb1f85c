//! End-to-end delay of a call on loopback, both ways, measured from outside hiktalk with real
//! cpal devices (the ALSA FIFO microphone and speaker of `tests/util/`, no sound card needed):
//!
//! - talk: tone onsets written to the fake microphone (each at a random frame of its 10 ms
//!   period, timed from when that frame reached the microphone), against when the simulated
//!   device received the bytes carrying them (its arrival log; ffmpeg finds the onsets); full
//!   duplex, quiet, beside a busy loop at nice 5, and once with speak stopped for 100 ms.
//!   Goal 20 ms mean, 30 ms max, no device underruns.
//! - listen: onsets the simulated device wrote into its microphone stream, against when the
//!   fake speaker's reader took them from cpal's output. Goal 80 ms.
//!
//! Run it:
//!
//!     cargo bench --bench latency                   # release build
//!     cargo bench --profile dev --bench latency     # reuses the test build (deps are -O2)
//!     HIKTALK_BENCH_ONSETS=20 HIKTALK_BENCH_RUNS=3 cargo bench --bench latency

#[allow(dead_code)]
#[path = "../tests/util/ffmpeg.rs"]
mod ffmpeg;
#[allow(dead_code)]
#[path = "../tests/util/latency.rs"]
mod latency;
#[allow(dead_code)]
#[path = "../tests/util/speaker.rs"]
mod speaker;
#[allow(dead_code)]
#[path = "../tests/util/tone.rs"]
mod tone;

use hiktalk::sim::{self, EventKind, SimConfig, SimHandle};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn hiktalk(sim: &SimHandle, args: &[&str], env: Vec<(String, String)>) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(args)
        .arg(format!("http://{}", sim.addr()))
        .env("HIKTALK_PASSWORD", &SimConfig::default().password)
        .env_remove("HIKTALK_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hiktalk")
}

fn stop(child: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait_with_output();
}

/// One `speak` run, full duplex (what the device says plays on the fake speaker): `onsets`
/// tone onsets, each at a random frame of its microphone period; with `stall`, the speak
/// process is stopped (SIGSTOP) for 100 ms after the first half, as a loaded machine might.
/// Returns each onset's delay and the device's underruns.
async fn talk(onsets: usize, stall: bool) -> (Vec<f64>, u32) {
    // Not the device's own 440 Hz: the room's echo canceller (on by default with a speaker)
    // takes a near voice identical to what is playing for its echo.
    let source = tone::ToneSource::start(1000.0, -12.0).expect("the ALSA test tone (libasound2-data)");
    source.set_tone(false);
    let speaker = speaker::SpeakerSink::start().expect("the ALSA test speaker");
    let sim = sim::start(SimConfig::default()).await.unwrap();
    let input = source.device_id();
    let output = speaker.device_id();
    let mut args = vec!["speak", "--input", &input, "--output", &output];
    // `HIKTALK_BENCH_ECHO=off` (or another `--echo` value); unset: speak's default.
    let echo = std::env::var("HIKTALK_BENCH_ECHO").ok();
    if let Some(e) = &echo {
        args.extend(["--echo", e]);
    }
    let child = hiktalk(&sim, &args, speaker.env(Some(&source)));
    let pid = child.id() as i32;
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
    for k in 0..onsets {
        tokio::time::sleep(Duration::from_millis(300)).await;
        source.set_tone(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
        source.set_tone(false);
        if stall && k + 1 == onsets / 2 {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            tokio::time::sleep(Duration::from_millis(100)).await;
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::spawn_blocking(move || stop(child)).await.unwrap();
    sim.wait_for(|e| matches!(e.kind, EventKind::SessionClosed { .. }), Duration::from_secs(5)).await;
    let received = sim.received().await.pop().expect("an upload");
    let (pcm, _) = ffmpeg::decode_received(&received);
    let l = &received.listened;
    let first_audio = sim.origin() + Duration::from_secs_f64(l.first_audio_at.unwrap());
    let heard: Vec<_> =
        latency::onsets(&pcm, 1600, 800).iter().map(|&i| latency::arrival_of(i, first_audio, &l.arrivals).unwrap()).collect();
    let sent = source.onsets();
    // Each onset against the first one the device got after it (within a tone's length): a
    // gap inside a tone (a stall) reads as an extra onset, which is counted, not paired.
    let delays: Vec<f64> = sent
        .iter()
        .filter_map(|&s| heard.iter().find(|&&h| h >= s && h < s + Duration::from_millis(200)).map(|&h| (h - s).as_secs_f64() * 1000.0))
        .collect();
    assert_eq!(delays.len(), sent.len(), "every onset reached the device");
    if heard.len() > sent.len() {
        println!("  {} gap(s) of 100 ms or more inside a tone", heard.len() - sent.len());
    }
    (delays, l.underruns)
}

/// A busy loop at nice 5 beside the bench (another program on the machine), for `load`.
struct Load(Option<Child>);

impl Load {
    fn start(on: bool) -> Load {
        Load(on.then(|| Command::new("nice").args(["-n", "5", "sh", "-c", "while :; do :; done"]).spawn().expect("start the load")))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn report_talk(rt: &tokio::runtime::Runtime, label: &str, runs: usize, onsets: usize, load: bool, stall: bool) {
    let _load = Load::start(load);
    let mut all = Vec::new();
    let mut underruns_all = 0;
    for run in 1..=runs {
        let (delays, underruns) = rt.block_on(talk(onsets, stall));
        let (mean, max) = latency::mean_max(&delays);
        println!("talk {label} run {run}: {mean:.1} ms mean, {max:.1} ms max over {} onsets; device underruns {underruns}", delays.len());
        if stall {
            let each: Vec<String> = delays.iter().map(|d| format!("{d:.0}")).collect();
            println!("  each onset (ms; the stall after #{}): {}", onsets / 2, each.join(" "));
        }
        all.extend(delays);
        underruns_all += underruns;
    }
    let (mean, max) = latency::mean_max(&all);
    println!(
        "talk {label}: microphone -> device {mean:.1} ms mean, {max:.1} ms max over {} onsets in {runs} runs; device underruns {underruns_all} (goal 20 ms mean, 30 ms max, 0)",
        all.len()
    );
}

async fn listen(onsets: usize) -> Vec<f64> {
    const SILENCE: f64 = 0.3;
    const LOOP: f64 = 0.5;
    let dir = tempfile::tempdir().unwrap();
    let mic = dir.path().join("mic.wav");
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&mic, spec).unwrap();
    for i in 0..(LOOP * 8000.0) as usize {
        let t = i as f64 / 8000.0;
        w.write_sample(if t < SILENCE { 0 } else { (8000.0 * (2.0 * std::f64::consts::PI * 1031.0 * t).sin()) as i16 }).unwrap();
    }
    w.finalize().unwrap();
    let speaker = speaker::SpeakerSink::start().expect("the ALSA test speaker");
    let sim = sim::start(SimConfig { mic: Some(mic), ..SimConfig::default() }).await.unwrap();
    let duration = format!("{}", onsets as f64 * LOOP + 0.2);
    let child = hiktalk(&sim, &["listen", "--output", &speaker.device_id(), "--duration", &duration], speaker.env(None));
    tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let first_byte_at = sim
        .events()
        .iter()
        .find_map(|e| match e.kind {
            EventKind::MicStarted { first_byte_at, .. } => Some(first_byte_at),
            _ => None,
        })
        .expect("the microphone stream started");
    let played = speaker.played();
    let found = latency::onsets(&played.pcm(), 1600, speaker::RATE as usize / 10);
    let wrote: Vec<_> =
        (0..found.len()).map(|k| sim.origin() + Duration::from_secs_f64(first_byte_at + SILENCE + k as f64 * LOOP)).collect();
    let heard: Vec<_> = found.iter().map(|&i| played.at(i)).collect();
    latency::delays_ms(&wrote, &heard)
}

fn main() {
    // `cargo bench` passes --bench; a filter that is not ours means another bench was asked for.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"latency".contains(a.as_str())) {
        return;
    }
    let onsets: usize = env_or("HIKTALK_BENCH_ONSETS", 20);
    let runs: usize = env_or("HIKTALK_BENCH_RUNS", 3);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    report_talk(&rt, "quiet", runs, onsets, false, false);
    report_talk(&rt, "beside a busy loop", runs, onsets, true, false);
    report_talk(&rt, "with a 100 ms stall", 1, onsets, false, true);
    let listen = rt.block_on(listen(onsets));
    let (mean, max) = latency::mean_max(&listen);
    println!("listen: device -> speaker {mean:.1} ms mean, {max:.1} ms max over {} onsets (goal 80 ms)", listen.len());
}
