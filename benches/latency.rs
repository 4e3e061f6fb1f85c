//! End-to-end capture->socket latency of `hiktalk speak`, measured by hiktalk itself: a real
//! cpal capture (the paced ALSA test tone of `tests/util/tone.rs`, no sound card needed)
//! through the real binary to the simulator on loopback. Each frame carries the capture time of
//! its first sample (cpal's callback timestamp); the session records how long ago that was when
//! the frame's bytes were written to the socket, and `--json` reports the mean and maximum.
//!
//!     cargo bench --bench latency                   # 8 s of speech, release build
//!     cargo bench --profile dev --bench latency     # reuses the test build (deps are -O2)
//!     HIKTALK_BENCH_SECS=30 HIKTALK_BENCH_RUNS=3 cargo bench --bench latency
//!
//! The budget (the speak issue) is 40 ms plus one frame (20 ms for G.711).

#[allow(dead_code)]
#[path = "../tests/util/tone.rs"]
mod tone;

use hiktalk::sim::{self, EventKind, SimConfig};
use std::process::{Command, Stdio};
use std::time::Duration;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    // `cargo bench` passes --bench; a filter that is not ours means another bench was asked for.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"latency".contains(a.as_str())) {
        return;
    }
    let secs: f64 = env_or("HIKTALK_BENCH_SECS", 8.0);
    let runs: u32 = env_or("HIKTALK_BENCH_RUNS", 1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let source = tone::ToneSource::start(440.0, -12.0).expect("the ALSA test tone (libasound2-data)");
    let (mut means, mut maxes) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let report = rt.block_on(async {
            let sim = sim::start(SimConfig::default()).await.unwrap();
            let mut child = Command::new(env!("CARGO_BIN_EXE_hiktalk"))
                .args(["--json", "speak", "--input", &source.device_id()])
                .arg(format!("http://{}", sim.addr()))
                .env("HIKTALK_PASSWORD", &SimConfig::default().password)
                .env_remove("HIKTALK_CONFIG")
                .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
                .envs(source.env())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start hiktalk");
            sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let out = tokio::task::spawn_blocking(move || {
                let _ = child.stdin.take();
                child.wait_with_output().unwrap()
            })
            .await
            .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().last().unwrap_or_else(|| panic!("no report; stderr: {}", String::from_utf8_lossy(&out.stderr)));
            serde_json::from_str::<serde_json::Value>(line).unwrap()
        });
        let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "latency run {run}: {:.1} s of audio; capture->socket mean {:.1} ms, max {:.1} ms; {} silence frames, {} dropped frames; exit {}",
            f("audio_seconds"),
            f("latency_ms_mean"),
            f("latency_ms_max"),
            report["silence_frames"],
            report["dropped_frames"],
            report["exit_code"]
        );
        means.push(f("latency_ms_mean"));
        maxes.push(f("latency_ms_max"));
    }
    let mean = means.iter().sum::<f64>() / means.len() as f64;
    let max = maxes.iter().copied().fold(f64::NAN, f64::max);
    println!(
        "latency: capture->socket mean {mean:.1} ms, max {max:.1} ms over {runs} run(s) of {secs} s (budget: 40 ms + one 20 ms frame)"
    );
}
