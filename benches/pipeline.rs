//! Throughput per codec: WAV 48 kHz decoded, resampled and encoded (the whole send path), and
//! the encoder alone. Criterion reports samples/s; after the criterion runs, audio-seconds per
//! CPU-second are printed from a separate timed pass (thread CPU time where Linux exposes it).
//!
//! Run: cargo bench --bench pipeline -- --quick

use criterion::{BenchmarkId, Criterion, Throughput};
use hiktalk::audio::decode::Input;
use hiktalk::codec::{self, Codec, CodecParams};
use hiktalk::feed::file::Opened;
use hiktalk::feed::{Feed, Next};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const SECS: u32 = 5;
const RATE: u32 = 48000;

/// Speech-like test signal: two tones plus a little noise, at -12 dBFS.
fn signal(rate: u32, secs: u32) -> Vec<f32> {
    let mut seed = 1u32;
    (0..rate * secs)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let t = i as f32 / rate as f32;
            let noise = (seed >> 8) as f32 / (1 << 24) as f32 - 0.5;
            0.15 * (t * 2.0 * std::f32::consts::PI * 440.0).sin() + 0.08 * (t * 2.0 * std::f32::consts::PI * 1700.0).sin() + 0.02 * noise
        })
        .collect()
}

fn write_wav(path: &Path) {
    let spec = hound::WavSpec { channels: 1, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in signal(RATE, SECS) {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Decode + resample + encode the whole file through a feed; returns the frames made.
fn send_path(path: &Path, codec: Codec) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let source = Opened::open(&Input::Path(path.to_path_buf()), None).unwrap().start(false).unwrap();
    let mut feed = Feed::new(source, 0.0);
    let track = feed.track(CodecParams::new(codec)).unwrap();
    let mut frames = 0;
    loop {
        match feed.next_frame(track) {
            Next::Frame(f) => frames += usize::from(!black_box(f).bytes.is_empty()),
            Next::Wait => match rt.block_on(feed.recv()) {
                Some(item) => feed.push(item),
                None => break,
            },
            Next::End | Next::Failed(_) => break,
        }
    }
    frames
}

fn frames_for(codec: Codec) -> (Box<dyn codec::Encoder>, Vec<Vec<i16>>) {
    let enc = codec::encoder(CodecParams::new(codec)).unwrap();
    let rate = enc.params().sample_rate;
    let pcm: Vec<i16> = signal(rate, SECS).iter().map(|s| (s * 32767.0) as i16).collect();
    let frames = pcm.chunks_exact(enc.frame_samples()).map(<[i16]>::to_vec).collect();
    (enc, frames)
}

fn encode_all(enc: &mut dyn codec::Encoder, frames: &[Vec<i16>]) -> usize {
    let mut bytes = 0;
    let mut out = Vec::new();
    for f in frames {
        out.clear();
        enc.encode(f, &mut out).unwrap();
        bytes += out.len();
    }
    bytes
}

fn benches(c: &mut Criterion, wav: &Path) {
    let mut group = c.benchmark_group("wav48k_to_codec");
    group.throughput(Throughput::Elements(u64::from(RATE * SECS)));
    for codec in Codec::ALL {
        group.bench_with_input(BenchmarkId::from_parameter(codec), &codec, |b, &codec| b.iter(|| black_box(send_path(wav, codec))));
    }
    group.finish();

    let mut group = c.benchmark_group("encode_only");
    for codec in Codec::ALL {
        let (mut enc, frames) = frames_for(codec);
        group.throughput(Throughput::Elements((frames.len() * enc.frame_samples()) as u64));
        group.bench_function(BenchmarkId::from_parameter(codec), |b| b.iter(|| black_box(encode_all(enc.as_mut(), &frames))));
    }
    group.finish();
}

/// CPU time of this thread (Linux schedstat, ns), or wall time where that is missing.
fn cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| Instant::now().duration_since(*START.get_or_init(Instant::now)))
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn audio_seconds_per_cpu_second(wav: &Path) {
    println!("\naudio-seconds per CPU-second (passes of {SECS} s of audio, repeated for >= 0.5 s of CPU):");
    println!("{:<10} {:>18} {:>14}", "codec", "wav48k->codec", "encode only");
    // schedstat advances in scheduler ticks, so measure over many passes.
    let rate = |f: &mut dyn FnMut()| {
        let start = cpu_now();
        let mut passes = 0u32;
        while (cpu_now() - start).as_secs_f64() < 0.5 {
            f();
            passes += 1;
        }
        f64::from(SECS * passes) / (cpu_now() - start).as_secs_f64()
    };
    for codec in Codec::ALL {
        let path_rate = rate(&mut || {
            black_box(send_path(wav, codec));
        });
        let (mut enc, frames) = frames_for(codec);
        let enc_rate = rate(&mut || {
            black_box(encode_all(enc.as_mut(), &frames));
        });
        println!("{:<10} {:>18.0} {:>14.0}", codec.to_string(), path_rate, enc_rate);
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("bench48k.wav");
    write_wav(&wav);
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    benches(&mut c, &wav);
    c.final_summary();
    audio_seconds_per_cpu_second(&wav);
}
