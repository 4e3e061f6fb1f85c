//! What a call costs: `hiktalk speak` full duplex for a while, with a paced 48 kHz microphone
//! and speaker (the ALSA FIFO devices of `tests/util/`, no sound card), against the simulated
//! device. CPU as the kernel counts it (/proc), per thread, with the wake-ups (context
//! switches) per second of each, measured after a 5 s settling time; the same for `--no-listen`.
//! With `HIKTALK_BENCH_PERF=FILE`, the full-duplex run is recorded by `perf record` into FILE
//! (read it with `perf report -i FILE --no-children --sort sym`).
//!
//!     cargo bench --bench speak                          # 30 s each
//!     HIKTALK_BENCH_SECS=60 HIKTALK_BENCH_PERF=/tmp/speak.perf cargo bench --bench speak
//!     HIKTALK_BENCH_ECHO=off cargo bench --bench speak   # without the room's canceller

#[allow(dead_code)]
#[path = "../tests/util/speaker.rs"]
mod speaker;
#[allow(dead_code)]
#[path = "../tests/util/tone.rs"]
mod tone;

use hiktalk::sim::{self, EventKind, SimConfig};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(5);

/// Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux).
const HZ: f64 = 100.0;

/// Per thread name: (CPU seconds, context switches), summed over threads of that name.
fn threads(pid: u32) -> BTreeMap<String, (f64, u64)> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
    for task in tasks.flatten() {
        let dir = task.path();
        let (Ok(stat), Ok(status)) = (std::fs::read_to_string(dir.join("stat")), std::fs::read_to_string(dir.join("status"))) else {
            continue;
        };
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map_or("?", |(_, n)| n).to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        let switches: u64 = status
            .lines()
            .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        let e = by_name.entry(name).or_insert((0.0, 0));
        e.0 += ticks / HZ;
        e.1 += switches;
    }
    by_name
}

async fn call(listen: bool, secs: u64, perf: Option<&str>) {
    let source = tone::ToneSource::start(440.0, -12.0).expect("the ALSA test tone (libasound2-data)");
    let speaker = speaker::SpeakerSink::start().expect("the ALSA test speaker");
    let sim = sim::start(SimConfig::default()).await.unwrap();
    let hiktalk = env!("CARGO_BIN_EXE_hiktalk");
    let mut cmd = match perf {
        Some(file) => {
            let mut c = Command::new("perf");
            c.args(["record", "-q", "-F", "999", "-g", "-o", file, "--", hiktalk]);
            c
        }
        None => Command::new(hiktalk),
    };
    let (input, output) = (source.device_id(), speaker.device_id());
    cmd.args(["speak", "--input", &input]);
    if listen {
        cmd.args(["--output", &output]);
        // `HIKTALK_BENCH_ECHO=off` (or another `--echo` value); unset: speak's default.
        if let Ok(echo) = std::env::var("HIKTALK_BENCH_ECHO") {
            cmd.args(["--echo", &echo]);
        }
    } else {
        cmd.arg("--no-listen");
    }
    let mut child = cmd
        .arg(format!("http://{}", sim.addr()))
        .env("HIKTALK_PASSWORD", &SimConfig::default().password)
        .env_remove("HIKTALK_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
        .envs(speaker.env(Some(&source)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hiktalk");
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("the upload starts");
    // perf's child is hiktalk: find it by its parent.
    let pid = if perf.is_some() {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap_or_default();
        children.split_whitespace().next().and_then(|p| p.parse().ok()).expect("hiktalk under perf")
    } else {
        child.id()
    };
    tokio::time::sleep(SETTLE).await;
    let before = threads(pid);
    let t0 = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let after = threads(pid);
    let wall = t0.elapsed().as_secs_f64();
    // SAFETY: kill(2) on our own child (hiktalk, or perf's child).
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let label = if listen { "full duplex" } else { "--no-listen" };
    let (mut cpu, mut wakes) = (0.0, 0);
    let mut lines = Vec::new();
    for (name, (c1, w1)) in &after {
        let (c0, w0) = before.get(name).copied().unwrap_or((0.0, 0));
        let (c, w) = (c1 - c0, w1 - w0);
        cpu += c;
        wakes += w;
        lines.push(format!("  {name:<18} {:5.2}% of a core, {:6.0} wake-ups/s", c / wall * 100.0, w as f64 / wall));
    }
    println!(
        "speak {label}: {:.2}% of a core ({:.2} s of CPU a minute), {:.0} wake-ups/s, over {wall:.0} s (after {} s settling)",
        cpu / wall * 100.0,
        cpu / wall * 60.0,
        wakes as f64 / wall,
        SETTLE.as_secs()
    );
    for l in lines {
        println!("{l}");
    }
}

fn main() {
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"speak".contains(a.as_str())) {
        return;
    }
    let secs = std::env::var("HIKTALK_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let perf = std::env::var("HIKTALK_BENCH_PERF").ok();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(call(true, secs, perf.as_deref()));
    rt.block_on(call(false, secs, None));
}
