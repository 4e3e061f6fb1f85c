//! What a page costs: `hiktalk play` of one file to 1, 50 and 200 simulated devices, each
//! device a separate port of one `hiktalk sim --devices N` process. hiktalk's CPU time, context
//! switches and peak RSS come from the kernel (wait4's rusage of the play process alone); the
//! underruns, overflow and the spread of first-audio times come from the devices' own figures.
//!
//!     cargo bench --bench paging                              # release build
//!     HIKTALK_BENCH_DEVICES=200 HIKTALK_BENCH_SECS=60 cargo bench --bench paging

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "hiktalk-sim";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A 44.1 kHz stereo tone, as a typical file is: decoding and resampling are part of the cost.
fn tone_file(path: &std::path::Path, secs: u32) {
    let spec = hound::WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..44_100 * secs {
        let s = (0.3 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 44_100.0).sin() * 32767.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_mb: f64,
    voluntary_switches: i64,
}

/// Runs `cmd` to its end and reads what the kernel counted for it alone.
#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reads its rusage")]
fn run_measured(cmd: &mut Command) -> (i32, Cost) {
    let start = Instant::now();
    let child = cmd.spawn().expect("start hiktalk");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `status` and `usage` are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cost = Cost {
        wall: start.elapsed(),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        voluntary_switches: usage.ru_nvcsw,
    };
    (libc::WEXITSTATUS(status), cost)
}

fn page(devices: usize, secs: u32, wav: &std::path::Path) {
    let mut sim = Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(["--json", "sim", "--devices", &devices.to_string(), "--idle-timeout", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hiktalk sim");
    let mut lines = std::io::BufReader::new(sim.stderr.take().unwrap()).lines();
    let urls: Vec<String> = (0..devices)
        .map(|_| {
            let line = lines.next().unwrap().unwrap();
            let url = line.rsplit(' ').next().unwrap().to_string();
            url.replacen("http://", "http://admin@", 1)
        })
        .collect();
    let (code, cost) = run_measured(
        Command::new(env!("CARGO_BIN_EXE_hiktalk"))
            .args(["--quiet", "play"])
            .arg(wav)
            .args(&urls)
            .env("HIKTALK_PASSWORD", PASSWORD)
            .env_remove("HIKTALK_CONFIG")
            .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(sim.id() as i32, libc::SIGINT) };
    let out = sim.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the simulator's JSON summary");
    let summary = &report["summary"];
    let total = if devices == 1 { summary } else { &summary["total"] };
    let spread = if devices == 1 { Some(0.0) } else { summary["first_audio_spread_ms"].as_f64() };
    let core = cost.cpu.as_secs_f64() / cost.wall.as_secs_f64() * 100.0;
    println!(
        "{devices:>4} devices, {secs} s: exit {code}; hiktalk CPU {:.2} s = {core:.2}% of a core ({:.3}% per device), peak RSS {:.1} MB, {:.0} voluntary switches/s; devices: {} s heard, {} underruns, {:.0} ms overflow, first audio within {} ms",
        cost.cpu.as_secs_f64(),
        core / devices as f64,
        cost.max_rss_mb,
        cost.voluntary_switches as f64 / cost.wall.as_secs_f64(),
        total["audio_seconds"].as_f64().map_or("?".into(), |s| format!("{s:.1}")),
        total["underruns"],
        total["overflow_ms"].as_f64().unwrap_or(f64::NAN),
        spread.map_or("-".into(), |s| format!("{s:.1}")),
    );
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secs: u32 = env_or("HIKTALK_BENCH_SECS", "30").parse().expect("HIKTALK_BENCH_SECS");
    let wav = dir.path().join("page.wav");
    tone_file(&wav, secs);
    for devices in env_or("HIKTALK_BENCH_DEVICES", "1,50,200").split(',') {
        page(devices.trim().parse().expect("HIKTALK_BENCH_DEVICES: numbers"), secs, &wav);
    }
}
