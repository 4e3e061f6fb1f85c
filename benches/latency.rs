//! End-to-end delay of a call on loopback, both ways, measured from outside hiktalk with real
//! cpal devices (the ALSA FIFO microphone and speaker of `tests/util/`, no sound card needed):
//!
//! - talk: tone onsets written to the fake microphone, against when the simulated device
//!   received the bytes carrying them (its arrival log; ffmpeg finds the onsets). Goal 25 ms.
//! - listen: onsets the simulated device wrote into its microphone stream, against when the
//!   fake speaker's reader took them from cpal's output. Goal 120 ms.
//!
//! Run it:
//!
//!     cargo bench --bench latency                   # release build
//!     cargo bench --profile dev --bench latency     # reuses the test build (deps are -O2)
//!     HIKTALK_BENCH_ONSETS=20 cargo bench --bench latency

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

async fn talk(onsets: usize) -> (Vec<f64>, u32) {
    let source = tone::ToneSource::start(440.0, -12.0).expect("the ALSA test tone (libasound2-data)");
    source.set_tone(false);
    let sim = sim::start(SimConfig::default()).await.unwrap();
    let child = hiktalk(&sim, &["speak", "--no-listen", "--input", &source.device_id()], source.env());
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
    for _ in 0..onsets {
        tokio::time::sleep(Duration::from_millis(300)).await;
        source.set_tone(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
        source.set_tone(false);
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
    (latency::delays_ms(&source.onsets(), &heard), l.underruns)
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
    let onsets: usize = env_or("HIKTALK_BENCH_ONSETS", 10);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (talk, underruns) = rt.block_on(talk(onsets));
    let (mean, max) = latency::mean_max(&talk);
    println!(
        "talk: microphone -> device {mean:.1} ms mean, {max:.1} ms max over {} onsets; device underruns {underruns} (goal 25 ms, 0)",
        talk.len()
    );
    let listen = rt.block_on(listen(onsets));
    let (mean, max) = latency::mean_max(&listen);
    println!("listen: device -> speaker {mean:.1} ms mean, {max:.1} ms max over {} onsets (goal 120 ms)", listen.len());
}
