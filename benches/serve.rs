//! What `hiktalk serve` costs and how fast it starts, measured outside it: the real binary
//! against simulated devices in this process, plain HTTP/1.1 requests on loopback, the figures
//! from the devices' own logs and the kernel's accounting of the serve process.
//!
//! - start: an API play (`POST /api/cameras/C/play` with a WAV body) written, to the first
//!   audio byte at the device (its log). Goal 30 ms.
//! - idle: `serve` with 20 cameras watched (`events = true`: one alertStream each), its CPU
//!   over `HIKTALK_BENCH_IDLE_SECS` (60: /proc/PID/stat counts in 10 ms ticks) and its RSS
//!   from /proc/PID/status. Goals 0.1 % of a core, 30 MB.
//! - 50 plays at once: 50 concurrent `?wait=true` plays to 50 devices; the underruns the
//!   devices heard. Goal 0.
//!
//! Run it:
//!
//!     cargo bench --bench serve                   # release build
//!     HIKTALK_BENCH_SECS=10 HIKTALK_BENCH_PLAYS=20 cargo bench --bench serve

use hiktalk::sim::{self, EventKind, SimConfig, SimHandle};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// A 16 kHz mono tone, as announcements usually are.
fn tone_wav(secs: f64) -> Vec<u8> {
    let spec = hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for n in 0..(16_000.0 * secs) as u32 {
        w.write_sample((0.3 * (2.0 * std::f64::consts::PI * 600.0 * f64::from(n) / 16_000.0).sin() * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A running `hiktalk serve` over a config naming each device `camN`.
struct Serve {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start(sims: &[SimHandle], table: &str) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let mut config = String::new();
        for (i, sim) in sims.iter().enumerate() {
            config.push_str(&format!("[cameras.cam{i}]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\n{table}", sim.addr().port()));
        }
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hiktalk"))
            .args(["--json", "--config"])
            .arg(&path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("HIKTALK_PASSWORD", SimConfig::default().password)
            .env_remove("HIKTALK_CONFIG")
            .env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-bench")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hiktalk serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve's serving line").unwrap();
            if let Some(addr) = line.split(" on http://").nth(1).filter(|_| line.contains("serving")) {
                break addr.to_string();
            }
        };
        // The rest of its stderr is read (and dropped) so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, addr, _dir: dir }
    }

    /// `POST /api/cameras/{camera}/play?wait=true` with `wav`; the status and when the request
    /// was written.
    fn play(&self, camera: &str, wav: &[u8]) -> (u16, Instant) {
        let mut conn = std::net::TcpStream::connect(&self.addr).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut request = format!(
            "POST /api/cameras/{camera}/play?wait=true HTTP/1.1\r\nHost: {}\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            wav.len()
        )
        .into_bytes();
        request.extend_from_slice(wav);
        let sent = Instant::now();
        conn.write_all(&request).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, sent)
    }

    /// User plus system CPU time so far, from /proc/PID/stat.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // The fields after the command name (which is in parentheses and may hold spaces).
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        Duration::from_secs_f64(ticks as f64 / hz as f64)
    }

    /// Nanoseconds on a CPU of each thread alive now, from /proc/PID/task/TID/schedstat: finer
    /// than the ticks of `cpu`, but blind to threads that come and go between two readings.
    fn thread_cpu(&self) -> std::collections::HashMap<String, u64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        tasks
            .filter_map(|t| {
                let t = t.ok()?;
                let stat = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
                Some((t.file_name().to_string_lossy().into_owned(), stat.split_whitespace().next()?.parse().ok()?))
            })
            .collect()
    }

    /// A field of /proc/PID/status in MB (`VmRSS`, `VmHWM`).
    fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 =
            status.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap().trim().trim_end_matches(" kB").parse().unwrap();
        kb / 1024.0
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SAFETY: a plain signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

async fn devices(n: usize) -> Vec<SimHandle> {
    let mut sims = Vec::with_capacity(n);
    for _ in 0..n {
        sims.push(sim::start(SimConfig { idle_timeout: Duration::from_secs(30), ..SimConfig::default() }).await.unwrap());
    }
    sims
}

/// When each finished upload's first audio byte reached `sim`, read once its uploads ended.
fn first_audio(rt: &tokio::runtime::Runtime, sim: &SimHandle) -> Vec<Instant> {
    let received = rt.block_on(sim.received());
    received.iter().filter_map(|r| r.listened.first_audio_at).map(|t| sim.origin() + Duration::from_secs_f64(t)).collect()
}

fn start_latency(rt: &tokio::runtime::Runtime, plays: usize) {
    let sims = rt.block_on(devices(1));
    let serve = Serve::start(&sims, "");
    let wav = tone_wav(0.3);
    let mut delays = Vec::new();
    for _ in 0..plays {
        let (status, sent) = serve.play("cam0", &wav);
        assert_eq!(status, 200, "the play");
        let at = *first_audio(rt, &sims[0]).last().expect("audio at the device");
        delays.push(at.duration_since(sent).as_secs_f64() * 1000.0);
    }
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    let max = delays.iter().copied().fold(0.0, f64::max);
    println!("start: API request -> first audio byte at the device {mean:.1} ms mean, {max:.1} ms max over {plays} plays (goal 30 ms)");
}

fn idle(rt: &tokio::runtime::Runtime, cameras: usize, secs: u64) {
    let sims = rt.block_on(devices(cameras));
    let serve = Serve::start(&sims, "events = true\n");
    // Every watcher's stream open, and a moment for the first polls to settle.
    rt.block_on(async {
        for sim in &sims {
            sim.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. }), Duration::from_secs(30)).await.expect("a watcher");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let (cpu, threads, wall) = (serve.cpu(), serve.thread_cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (used, after, wall) = (serve.cpu() - cpu, serve.thread_cpu(), wall.elapsed().as_secs_f64());
    let fine: u64 = after.iter().filter_map(|(tid, ns)| threads.get(tid).map(|before| ns - before)).sum();
    let fine = Duration::from_nanos(fine).as_secs_f64();
    println!(
        "idle: {cameras} watched cameras over {secs} s: CPU {:.2} s by the kernel's ticks = {:.3}% of a core; {fine:.4} s by its threads' schedstat = {:.4}%; RSS {:.1} MB (peak {:.1} MB) (goals 0.1%, 30 MB)",
        used.as_secs_f64(),
        used.as_secs_f64() / wall * 100.0,
        fine / wall * 100.0,
        serve.memory_mb("VmRSS"),
        serve.memory_mb("VmHWM"),
    );
}

fn concurrent(rt: &tokio::runtime::Runtime, devices_n: usize, secs: f64) {
    let sims = rt.block_on(devices(devices_n));
    let serve = Serve::start(&sims, "");
    let wav = tone_wav(secs);
    let cpu = serve.cpu();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let plays: Vec<_> = (0..devices_n)
            .map(|i| {
                let (serve, wav) = (&serve, &wav);
                s.spawn(move || serve.play(&format!("cam{i}"), wav).0)
            })
            .collect();
        plays.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let used = serve.cpu() - cpu;
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let starts: Vec<Instant> = sims.iter().flat_map(|sim| first_audio(rt, sim)).collect();
    let summaries: Vec<_> = sims.iter().map(SimHandle::summary).collect();
    let underruns: u32 = summaries.iter().map(|s| s.underruns).sum();
    let underrun_ms: f64 = summaries.iter().map(|s| s.underrun_ms).sum();
    let heard: f64 = summaries.iter().map(|s| s.audio_seconds).sum();
    let spread = starts.iter().max().zip(starts.iter().min()).map_or(0.0, |(a, b)| a.duration_since(*b).as_secs_f64() * 1000.0);
    println!(
        "{devices_n} plays at once of {secs} s: {ok} answered 200; devices: {heard:.1} s heard, {underruns} underruns ({underrun_ms:.0} ms), first audio within {spread:.0} ms; serve CPU {:.2} s, peak RSS {:.1} MB (goal 0 underruns)",
        used.as_secs_f64(),
        serve.memory_mb("VmHWM"),
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter that is not ours means another bench was asked for.
    if !std::env::args().any(|a| a == "--bench") || std::env::args().skip(1).any(|a| !a.starts_with('-') && !"serve".contains(a.as_str())) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    start_latency(&rt, env_or("HIKTALK_BENCH_STARTS", 20));
    idle(&rt, 20, env_or("HIKTALK_BENCH_IDLE_SECS", 60));
    concurrent(&rt, env_or("HIKTALK_BENCH_PLAYS", 50), env_or("HIKTALK_BENCH_SECS", 10.0));
}
