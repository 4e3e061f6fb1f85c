//! Helpers for the integration tests. This module: run the real binary against an in-process
//! simulator and read what the simulator recorded. `raw`: an HTTP client with its own Digest, for
//! talking to the simulator without hiktalk's code. `tone`: a fake ALSA microphone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod ffmpeg;
pub mod latency;
pub mod raw;
pub mod screen;
pub mod speaker;
pub mod tone;

pub use hiktalk::sim::{self, EventKind, SimConfig, SimHandle};

pub const PASSWORD: &str = "hiktalk-sim";

/// Tests that judge real-time audio by its timing or content and keep both cores of a small
/// machine busy doing it (the echo cancellers' calls, Chromium's handset) take turns: side by
/// side they starve each other (the device runs dry, its echo moves) and measure that instead.
/// Lighter tests still run beside them.
static REALTIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn realtime_turn() -> tokio::sync::MutexGuard<'static, ()> {
    REALTIME.lock().await
}

/// A simulator with short, test-friendly timings.
pub fn binary_sim_config() -> SimConfig {
    SimConfig { idle_timeout: Duration::from_secs(2), ..SimConfig::default() }
}

pub fn url(sim: &SimHandle) -> String {
    format!("http://{}", sim.addr())
}

/// The hiktalk binary with the simulator's password in the environment.
pub fn hiktalk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hiktalk"));
    c.env("HIKTALK_PASSWORD", PASSWORD).env_remove("HIKTALK_CONFIG").env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-test");
    c.stdin(Stdio::null());
    c
}

/// Runs hiktalk to completion off the async runtime.
pub async fn run_to_end(mut cmd: Command) -> (Output, Duration) {
    tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let out = cmd.output().expect("run hiktalk");
        (out, t.elapsed())
    })
    .await
    .unwrap()
}

pub async fn wait_child(mut child: Child) -> Output {
    tokio::task::spawn_blocking(move || {
        let _ = child.stdin.take();
        child.wait_with_output().expect("wait for hiktalk")
    })
    .await
    .unwrap()
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child we own; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Waits until `child` catches SIGINT (its handlers are installed), so that a signal sent now
/// asks it to stop rather than killing it.
pub async fn wait_for_signal_handlers(child: &Child) {
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let caught = std::fs::read_to_string(&status)
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("SigCgt:").map(|m| u64::from_str_radix(m.trim(), 16).unwrap_or(0))))
            .unwrap_or(0);
        if caught & (1 << (libc::SIGINT - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "hiktalk never installed its signal handlers");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `--json` outcome line.
pub fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", stderr(out)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

/// Writes a mono or stereo 16-bit WAV of a sine.
pub fn tone_wav(path: &Path, freq: f64, secs: f64, rate: u32, channels: u16, amplitude: f64) -> PathBuf {
    let spec = hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(secs * rate as f64) as u64 {
        let v = (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() * 32767.0) as i16;
        for _ in 0..channels {
            w.write_sample(v).unwrap();
        }
    }
    w.finalize().unwrap();
    path.to_path_buf()
}

/// Signal-to-noise ratio of `x` against the best-fitting sine at `freq` (least squares over
/// amplitude and phase), skipping `skip` samples of codec/resampler start-up at each end.
pub fn sine_snr_db(x: &[i16], rate: u32, freq: f64, skip: usize) -> f64 {
    let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let x = &x[skip.min(x.len())..x.len().saturating_sub(skip)];
    let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        ss += s * s;
        sc += s * c;
        cc += c * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let (mut sig, mut noise) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let fit = a * s + b * c;
        sig += fit * fit;
        noise += (v - fit) * (v - fit);
    }
    10.0 * (sig / noise.max(1e-9)).log10()
}

/// Amplitude of the `freq` component of `x` (the correlation with one sine and cosine).
pub fn amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (s, c) = x.iter().enumerate().fold((0.0, 0.0), |(s, c), (i, &v)| {
        let (si, ci) = (w * i as f64).sin_cos();
        (s + f64::from(v) * si, c + f64::from(v) * ci)
    });
    2.0 * (s * s + c * c).sqrt() / x.len() as f64
}

pub fn count(events: &[sim::Event], pred: impl Fn(&EventKind) -> bool) -> usize {
    events.iter().filter(|e| pred(&e.kind)).count()
}

/// The device's lead at each arrival: audio received so far minus the time since the first
/// arrival (seconds, ms), for a codec of `bytes_per_second`.
pub fn lead_at_arrivals_ms(arrivals: &[(f64, usize)], bytes_per_second: f64) -> Vec<(f64, f64)> {
    let mut sent = 0.0;
    arrivals
        .iter()
        .map(|&(t, n)| {
            sent += n as f64 / bytes_per_second;
            (t, (sent - t) * 1000.0)
        })
        .collect()
}

/// Mean and largest gap (ms) between audio arrivals at the device, from `after` seconds on
/// (the first moments carry the lead at once).
pub fn arrival_jitter_ms(arrivals: &[(f64, usize)], after: f64) -> (f64, f64) {
    let times: Vec<f64> = arrivals.iter().map(|&(t, _)| t).filter(|&t| t >= after).collect();
    let gaps: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) * 1000.0).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len().max(1) as f64;
    (mean, gaps.iter().copied().fold(0.0, f64::max))
}

/// Sessions hiktalk left behind: every session the device opened must have been closed by a
/// close request from hiktalk (or ended by the device, which hiktalk then still closes).
/// Expired sessions count as leaked: the device cleaned up after the client.
pub fn leaks(events: &[sim::Event]) -> Vec<String> {
    let mut leaked = Vec::new();
    for e in events {
        let EventKind::SessionOpened { id, .. } = &e.kind else { continue };
        let ended = events.iter().find_map(|x| match &x.kind {
            EventKind::SessionClosed { session_id, by, .. } if session_id == id => Some(by.as_str()),
            EventKind::SessionExpired { session_id, .. } if session_id == id => Some("expiry"),
            _ => None,
        });
        let close_sent = events.iter().any(|x| {
            x.t >= e.t
                && matches!(&x.kind, EventKind::Request { method, path, status: 200, .. } if method == "PUT" && path.ends_with("/close"))
        });
        match ended {
            Some("client") => {}
            Some("device") if close_sent => {}
            other => leaked.push(format!("session {id} opened at {:.3} s: ended by {other:?}, close sent: {close_sent}", e.t)),
        }
    }
    leaked
}

pub fn opened(e: &EventKind) -> bool {
    matches!(e, EventKind::SessionOpened { .. })
}

pub fn closed_by_client(e: &EventKind) -> bool {
    matches!(e, EventKind::SessionClosed { by, .. } if by == "client")
}

pub fn prompt(e: &EventKind) -> bool {
    matches!(e, EventKind::Prompt { .. })
}

/// Starts `cmd` on a pseudo-terminal (stdin, stdout and stderr), as on a user's terminal.
/// Returns the child, the master side to type into, and a thread collecting all it prints.
pub fn on_a_terminal(cmd: Command) -> (Child, std::fs::File, std::thread::JoinHandle<String>) {
    on_a_sized_terminal(cmd, None)
}

/// `on_a_terminal`, on a terminal of `(columns, rows)` that is the child's controlling
/// terminal (as in a login session: `/dev/tty` is the pty, and it is what size queries see).
pub fn on_a_sized_terminal(cmd: Command, size: Option<(u16, u16)>) -> (Child, std::fs::File, std::thread::JoinHandle<String>) {
    let (child, keys, printed) = on_a_watched_terminal(cmd, size);
    (child, keys, printed.thread)
}

/// What a program on a pseudo-terminal prints, readable while it runs.
pub struct Printed {
    so_far: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    thread: std::thread::JoinHandle<String>,
}

impl Printed {
    /// Waits until the output contains `needle` (at most 15 s); all printed so far.
    pub async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = String::from_utf8_lossy(&self.so_far.lock().unwrap()).into_owned();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "{needle:?} never printed; printed: {text:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything printed, once no process holds the terminal any more.
    pub fn join(self) -> String {
        self.thread.join().unwrap()
    }
}

/// [`on_a_sized_terminal`], with the output readable while the child runs.
pub fn on_a_watched_terminal(mut cmd: Command, size: Option<(u16, u16)>) -> (Child, std::fs::File, Printed) {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    let ws = size.map(|(cols, rows)| libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 });
    let ws_ptr = ws.as_ref().map_or(std::ptr::null(), |w| w as *const libc::winsize);
    // SAFETY: openpty fills in two fds we then own; no name, default termios, the given size.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), ws_ptr) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are fresh and owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    cmd.env("TERM", "xterm");
    if size.is_some() {
        // SAFETY: only async-signal-safe calls between fork and exec: a new session, then the
        // pty (already on stdin) as its controlling terminal.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
    let child = cmd.spawn().expect("start hiktalk on a pty");
    drop(cmd); // the parent's copies of the slave: the master sees EOF (EIO) when the child is gone
    let master = std::fs::File::from(master);
    let mut reader = master.try_clone().unwrap();
    let so_far = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let all = so_far.clone();
    let thread = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        // Ends with EIO once no process holds the slave.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all.lock().unwrap()).into_owned()
    });
    (child, master, Printed { so_far, thread })
}

/// The internal id (for `recording`) of the last session the simulator opened.
pub fn last_session_id(sim: &SimHandle) -> String {
    sim.events()
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::SessionOpened { id, .. } => Some(id.clone()),
            _ => None,
        })
        .expect("a session was opened")
}

/// A door station's call-state transitions, as its log has them: (from, to, cause, by).
pub fn transitions(sim: &SimHandle) -> Vec<(String, String, String, String)> {
    sim.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::CallStatus { status, from, cause, by } => Some((from, status, cause, by)),
            _ => None,
        })
        .collect()
}

/// One expected transition, for comparing with [`transitions`].
pub fn step(from: &str, to: &str, cause: &str, by: &str) -> (String, String, String, String) {
    (from.into(), to.into(), cause.into(), by.into())
}
