//! What the process benches share: the test file, simulated devices in their own processes,
//! and what the kernel counted for a process (wait4's rusage), never hiktalk's own figures.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "hiktalk-sim";

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The hiktalk binary measured: this build's, or another (`HIKTALK_BENCH_BIN`, e.g. one built
/// with `--profile small`). The simulators always run this build's.
pub fn hiktalk_under_test() -> String {
    env_or("HIKTALK_BENCH_BIN", env!("CARGO_BIN_EXE_hiktalk"))
}

/// A 44.1 kHz stereo tone, as a typical file is: decoding and resampling are part of the cost.
pub fn tone_file(path: &Path, secs: u32) {
    let spec = hound::WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..44_100 * secs {
        let s = (0.3 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 44_100.0).sin() * 32767.0) as i16;
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// What the kernel counted for one process (and the children it waited for).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cost {
    pub wall: Duration,
    pub cpu: Duration,
    pub max_rss_mb: f64,
    pub voluntary_switches: i64,
}

impl Cost {
    /// Percent of one core over the wall time.
    pub fn core_percent(&self) -> f64 {
        self.cpu.as_secs_f64() / self.wall.as_secs_f64() * 100.0
    }
}

/// Waits for `child` and reads its rusage.
pub fn wait_measured(child: Child, start: Instant) -> (i32, Cost) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; `status` and `usage` are valid for writes.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    // Reaped by wait4: the Child must not try again.
    std::mem::forget(child);
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let cost = Cost {
        wall: start.elapsed(),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        voluntary_switches: usage.ru_nvcsw,
    };
    (libc::WEXITSTATUS(status), cost)
}

/// Runs `cmd` to its end and reads what the kernel counted for it alone.
pub fn run_measured(cmd: &mut Command) -> (i32, Cost) {
    let start = Instant::now();
    let child = cmd.spawn().expect("start the measured process");
    wait_measured(child, start)
}

/// One `hiktalk sim --devices N` process.
pub struct Sims {
    child: Child,
    started: Instant,
    /// Each device's URL, with the user name.
    pub urls: Vec<String>,
}

impl Sims {
    pub fn start(devices: usize) -> Sims {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hiktalk"))
            .args(["--json", "sim", "--devices", &devices.to_string(), "--idle-timeout", "30"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hiktalk sim");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut urls = Vec::with_capacity(devices);
        while urls.len() < devices {
            let line = lines.next().expect("the simulator's address lines").unwrap();
            if line.contains(" listening on ") {
                urls.push(line.rsplit(' ').next().unwrap().replacen("http://", "http://admin@", 1));
            }
        }
        // The rest of stderr is drained, so the simulator never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Sims { child, started, urls }
    }

    /// Stops the simulator; returns its JSON summary (flat for one device, `total` and
    /// `devices` for several) and what it cost.
    pub fn stop(mut self) -> (serde_json::Value, Cost) {
        // SAFETY: a plain signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut out = Vec::new();
        std::io::Read::read_to_end(self.child.stdout.as_mut().unwrap(), &mut out).unwrap();
        let (_, cost) = wait_measured(self.child, self.started);
        let report: serde_json::Value = serde_json::from_slice(&out).expect("the simulator's JSON summary");
        (report["summary"].clone(), cost)
    }
}

/// Every device's own figures from one simulator's summary.
pub fn devices_of(summary: &serde_json::Value) -> Vec<serde_json::Value> {
    match summary["devices"].as_array() {
        Some(each) => each.clone(),
        None => vec![summary.clone()],
    }
}

/// A `hiktalk play` of `wav` to `urls`, with the simulators' password and no config.
pub fn play_command(wav: &Path, urls: &[String]) -> Command {
    let mut cmd = Command::new(hiktalk_under_test());
    cmd.args(["--quiet", "play"])
        .arg(wav)
        .args(urls)
        .env("HIKTALK_PASSWORD", PASSWORD)
        .env_remove("HIKTALK_CONFIG")
        .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}
