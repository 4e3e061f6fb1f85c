//! hiktalk against a hostile or broken device (`tests/hostile/server.py`, one mode per case) and
//! against bad local input: nothing a device sends may steer hiktalk's requests, crash it, make
//! it use unbounded memory or time, or make it print a password; every failure is explained,
//! and under `--json` as exactly one JSON object. Assertions are on the request lines the
//! server logged, exit codes, stdout JSON, what reached the terminal, and what the process cost
//! as measured from outside it: peak RSS, CPU in a fixed window, time from SIGINT to exit.

use crate::util::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "S3cr3t-PW";

/// One logged request: method, raw target, headers.
type Logged = (String, String, Vec<(String, String)>);

/// A running `server.py` in one mode; killed when dropped.
struct Hostile {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hostile {
    fn start(mode: &str) -> Hostile {
        Hostile::start_with(mode, &[])
    }

    fn start_with(mode: &str, extra: &[&str]) -> Hostile {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--mode", mode, "--log"])
            .arg(&log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (installed by .ci/deps test)");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let port = first.trim().rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no address in {first:?}"));
        Hostile { child, port, log, _dir: dir }
    }

    fn url(&self) -> String {
        format!("http://admin:{SECRET}@127.0.0.1:{}", self.port)
    }

    /// Every request the server received: (method, raw target, headers).
    fn requests(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let headers = v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                    .collect();
                (v["method"].as_str().unwrap().to_string(), v["target"].as_str().unwrap().to_string(), headers)
            })
            .collect()
    }

    /// Targets of the requests with `method`.
    fn targets(&self, method: &str) -> Vec<String> {
        self.requests().into_iter().filter(|(m, ..)| m == method).map(|(_, t, _)| t).collect()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// What a finished hiktalk run left: exit code, stdout, stderr, peak RSS, CPU (user + system),
/// wall time, and for a run stopped by SIGINT how long it took to exit after it.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
    cpu: Duration,
    wall: Duration,
    stop_latency: Option<Duration>,
}

impl Run {
    /// The single JSON object on stdout.
    fn json(&self) -> serde_json::Value {
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one JSON line on stdout: {:?}\nstderr: {}", self.stdout, self.stderr);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {:?}", lines[0]));
        for key in ["reason", "exit_code", "message", "device"] {
            assert!(v.get(key).is_some(), "no {key:?} in {v}");
        }
        assert_eq!(v["exit_code"].as_i64(), self.code.map(i64::from), "{v}");
        v
    }

    /// Nothing printed shows the password, a raw control character or a panic.
    fn assert_clean(&self) {
        let all = format!("{}{}", self.stdout, self.stderr);
        assert!(!all.contains(SECRET), "the password was printed: {all}");
        assert!(
            !all.contains('\r') && !all.contains('\u{1b}') && !all.contains('\u{9b}') && !all.contains('\u{202e}'),
            "raw control characters: {all:?}"
        );
        assert!(!all.contains("panicked") && !all.contains("RUST_BACKTRACE") && self.code != Some(101), "a panic: {all}");
    }
}

/// Runs hiktalk to the end, measuring its peak RSS and CPU.
async fn measure(args: Vec<String>) -> Run {
    measure_for(args, None).await
}

/// Runs hiktalk, measured from outside: a small Python parent spawns it, and wait4(2) gives its
/// peak RSS and CPU time (a child spawned straight from this large, many-threaded test process
/// shares its memory until exec, and the kernel would count the test's RSS as the child's).
/// With `window`, the parent sends SIGINT that long after hiktalk has installed its signal
/// handlers (a fixed window of its life), and times how long it takes to exit after that.
async fn measure_for(args: Vec<String>, window: Option<Duration>) -> Run {
    const PARENT: &str = "import os, signal, subprocess, sys, time\n\
        window = float(sys.argv[1])\n\
        p = subprocess.Popen(sys.argv[2:])\n\
        ready = sent = None\n\
        while True:\n\
        \x20   pid, status, usage = os.wait4(p.pid, os.WNOHANG)\n\
        \x20   if pid:\n\
        \x20       break\n\
        \x20   now = time.monotonic()\n\
        \x20   if window >= 0 and sent is None and ready is None:\n\
        \x20       try:\n\
        \x20           for line in open('/proc/%d/status' % p.pid):\n\
        \x20               if line.startswith('SigCgt:') and int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)):\n\
        \x20                   ready = now\n\
        \x20       except OSError:\n\
        \x20           pass\n\
        \x20   elif window >= 0 and sent is None and now - ready >= window:\n\
        \x20       os.kill(p.pid, signal.SIGINT)\n\
        \x20       sent = now\n\
        \x20   time.sleep(0.005)\n\
        stop_ms = (time.monotonic() - sent) * 1000 if sent else -1\n\
        sys.stderr.write('\\nmaxrss_kib=%d cpu_ms=%d stop_ms=%d\\n' % (usage.ru_maxrss, (usage.ru_utime + usage.ru_stime) * 1000, stop_ms))\n\
        code = os.waitstatus_to_exitcode(status)\n\
        sys.exit(code if code >= 0 else 128 - code)\n";
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("python3");
        let window = window.map_or("-1".to_string(), |w| w.as_secs_f64().to_string());
        cmd.args(["-c", PARENT, &window, env!("CARGO_BIN_EXE_hiktalk")]).args(&args);
        cmd.env_remove("HIKTALK_PASSWORD").env_remove("HIKTALK_CONFIG").env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-test");
        cmd.stdin(Stdio::null());
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let wall = t.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let (stderr, report) = stderr.rsplit_once("\nmaxrss_kib=").expect("the measuring parent's report");
        let figures: Vec<i64> = report.split_whitespace().map(|f| f.rsplit('=').next().unwrap().parse().unwrap()).collect::<Vec<_>>();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: stderr.to_string(),
            max_rss_kib: figures[0],
            cpu: Duration::from_millis(figures[1] as u64),
            wall,
            stop_latency: (figures[2] >= 0).then(|| Duration::from_millis(figures[2] as u64)),
        }
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn chime() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/chime.wav").display().to_string()
}

/// The targets a well-behaved client may request of a device whose only channel is `1`.
fn allowed(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or(target);
    path == "/ISAPI/System/TwoWayAudio/channels"
        || path
            .strip_prefix("/ISAPI/System/TwoWayAudio/channels/1")
            .is_some_and(|t| ["", "/capabilities", "/open", "/close", "/audioData"].contains(&t))
        || path == "/ISAPI/System/deviceInfo"
        || path == "/ISAPI/VideoIntercom/callStatus"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_ids_from_the_device_never_reach_a_request_line() {
    for mode in ["traversal-id", "crlf-id", "hash-id", "query-id", "space-id"] {
        let dev = Hostile::start(mode);
        for cmd in [&["--json", "play", &chime()][..], &["--json", "close"], &["--json", "speak", "--input", "alsa:null"]] {
            let mut a = args(cmd);
            a.push(dev.url());
            let run = measure(a).await;
            run.assert_clean();
            let v = run.json();
            assert_eq!(run.code, Some(8), "{mode} {cmd:?}: {v}");
            assert_eq!(v["reason"], "protocol", "{mode} {cmd:?}: {v}");
            assert!(v["message"].as_str().unwrap().contains("not a channel id"), "{mode}: {v}");
        }
        // Only the channel list was read (and the fixed doorbell callStatus path, asked before
        // talking in case the unit rings): nothing was built from the bad id.
        for (method, target, headers) in dev.requests().into_iter().filter(|(_, t, _)| t != "/ISAPI/VideoIntercom/callStatus?format=json") {
            assert_eq!((method.as_str(), target.as_str()), ("GET", "/ISAPI/System/TwoWayAudio/channels"), "{mode}");
            assert!(!headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-injected")), "{mode}: injected header {headers:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_text_is_escaped_on_the_terminal_and_in_json() {
    let dev = Hostile::start("crlf-text");
    let run = measure(args(&["status", &dev.url()])).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.assert_clean();
    assert!(run.stdout.contains("DS\\r\\n\\u{9b}31mRED\\u{202e}txt"), "the model, escaped: {}", run.stdout);
    let run = measure(args(&["--json", "status", &dev.url()])).await;
    run.assert_clean();
    assert_eq!(run.json()["info"]["model"], "DS\\r\\n\\u{9b}31mRED\\u{202e}txt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_reported_not_followed() {
    let elsewhere = Hostile::start("normal");
    let dev = Hostile::start_with("redirect-307", &["--other-port", &elsewhere.port.to_string()]);
    let run = measure(args(&["--json", "play", &chime(), &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(8), Some("protocol")), "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("307") && message.contains(&format!("127.0.0.1:{}", elsewhere.port)), "{message}");
    assert!(elsewhere.requests().is_empty(), "the redirect was followed: {:?}", elsewhere.requests());
    assert!(!message.contains("password"), "a redirect is not a rejected password: {message}");

    let dev = Hostile::start("redirect-open");
    let run = measure(args(&["--json", "play", &chime(), &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(8), "{v}");
    assert!(v["message"].as_str().unwrap().contains("evil.example"), "{v}");
    assert!(dev.requests().iter().all(|(_, t, _)| allowed(t)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multibyte_challenge_on_the_upload_is_an_auth_failure_and_the_session_is_closed() {
    let dev = Hostile::start("utf8-challenge");
    let run = measure(args(&["--json", "play", &chime(), &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(4), Some("auth")), "{v}");
    let puts = dev.targets("PUT");
    let open = puts.iter().position(|t| t.ends_with("/open")).expect("the session was opened");
    assert!(puts[open..].iter().any(|t| t.contains("/close?sessionId=abc123")), "the opened session was not closed: {puts:?}");
    assert_eq!(v["sessions_opened"], 1, "{v}");
    assert_eq!(v["closes_confirmed"], 1, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_off_within_bounded_memory() {
    for mode in ["endless-body", "endless-chunked"] {
        let dev = Hostile::start(mode);
        let run = measure(args(&["--json", "status", &dev.url()])).await;
        run.assert_clean();
        let v = run.json();
        assert_eq!((run.code, v["reason"].as_str()), (Some(8), Some("protocol")), "{mode}: {v}");
        assert!(v["message"].as_str().unwrap().contains("more than 4 MiB"), "{mode}: {v}");
        println!("{mode}: peak RSS {:.1} MB, {:.2} s", run.max_rss_kib as f64 / 1024.0, run.wall.as_secs_f64());
        assert!(run.max_rss_kib < 50 * 1024, "{mode}: peak RSS {} KiB", run.max_rss_kib);
        assert!(run.wall < Duration::from_secs(5), "{mode}: {:?}", run.wall);
    }
    let dev = Hostile::start("big-head");
    let run = measure(args(&["--json", "status", "--timeout", "3", &dev.url()])).await;
    run.assert_clean();
    assert!(matches!(run.code, Some(7 | 8)), "{}", run.stdout);
    assert!(run.max_rss_kib < 50 * 1024, "big-head: peak RSS {} KiB", run.max_rss_kib);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_answer_is_bounded_by_the_timeout() {
    let dev = Hostile::start("drip-head");
    let run = measure(args(&["--json", "status", "--timeout", "2", &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(7), Some("network")), "{v}");
    assert!(run.wall < Duration::from_secs(4), "status took {:?}", run.wall);

    // The audioData answer drips; the session it belongs to is still closed.
    let dev = Hostile::start("drip-audio");
    let run = measure(args(&["--json", "play", "--timeout", "2", &chime(), &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(7), Some("network")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("audioData"), "{v}");
    assert!(run.wall < Duration::from_secs(5), "play took {:?}", run.wall);
    assert!(dev.targets("PUT").iter().any(|t| t.contains("/close")), "{:?}", dev.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_close_is_reported() {
    // play: the audio went out, so exit 0, but the line and the JSON say the close is unconfirmed.
    let dev = Hostile::start("stall-close");
    let run = measure(args(&["play", "--timeout", "1", &chime(), &dev.url()])).await;
    run.assert_clean();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let last = run.stderr.trim_end().lines().last().unwrap().to_string();
    assert!(last.contains("did not confirm the close") && last.contains("hiktalk close"), "{last}");
    let run = measure(args(&["--json", "play", "--timeout", "1", &chime(), &dev.url()])).await;
    let v = run.json();
    assert_eq!(v["closes_confirmed"], 0, "{v}");
    assert!(v["close_error"].as_str().unwrap().contains("did not confirm"), "{v}");

    // close: not confirmed is not success.
    let run = measure(args(&["--json", "close", "--timeout", "1", &dev.url()])).await;
    let v = run.json();
    assert_eq!((run.code, v["channels"][0]["confirmed"].as_bool()), (Some(7), Some(false)), "{v}");
    let dev = Hostile::start("close-refused");
    let run = measure(args(&["close", &dev.url()])).await;
    run.assert_clean();
    assert_eq!(run.code, Some(8), "{}", run.stderr);
    assert!(run.stderr.contains("refused the close: Invalid Operation"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_appear_in_url_and_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad_port = dir.path().join("port.toml");
    std::fs::write(&bad_port, format!("[cameras.door]\nurl = \"http://admin:{SECRET}@10.0.0.5:99999\"\n")).unwrap();
    let syntax = dir.path().join("syntax.toml");
    std::fs::write(&syntax, format!("[cameras.door]\nurl = \"http://admin:{SECRET}@10.0.0.5\" oops\npassword = \"{SECRET}\"\n")).unwrap();
    let cases: Vec<Vec<String>> = vec![
        args(&["status", &format!("http://admin:{SECRET}@127.0.0.1:99999")]),
        args(&["status", &format!("http://admin:{SECRET}@127.0.0.1:1234/x y")]),
        args(&["status", &format!("ftp://admin:{SECRET}@host/")]),
        args(&["status", &format!("admin:{SECRET}@127.0.0.1:99999")]),
        vec!["--config".into(), bad_port.display().to_string(), "status".into(), "door".into()],
        vec!["--config".into(), syntax.display().to_string(), "status".into(), "door".into()],
    ];
    for case in cases {
        let run = measure(case.clone()).await;
        run.assert_clean();
        assert_eq!(run.code, Some(2), "{case:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("hiktalk: "), "{case:?}: {}", run.stderr);
        let mut json = vec!["--json".to_string()];
        json.extend(case.clone());
        let run = measure(json).await;
        run.assert_clean();
        assert_eq!(run.json()["reason"], "usage", "{case:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_prints_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let cases: [(&[&str], i32, &str); 6] = [
        (&["play", "--no-such-flag"], 2, "usage"),
        (&["play", "/no/such/file.wav", "sim"], 3, "input"),
        (&["play", empty.to_str().unwrap(), "sim"], 3, "input"),
        (&["status", "no-such-camera"], 2, "usage"),
        // No password anywhere, and no terminal to ask on.
        (&["status", "http://127.0.0.1:9"], 2, "usage"),
        (&["status", "http://127.0.0.1:1/a/b"], 2, "usage"),
    ];
    for (case, code, reason) in cases {
        let mut a = vec!["--json".to_string()];
        a.extend(args(case));
        let run = measure(a).await;
        run.assert_clean();
        let v = run.json();
        assert_eq!((run.code, v["reason"].as_str()), (Some(code), Some(reason)), "{case:?}: {v}");
        // The human form of the same failure is one line in hiktalk's format.
        let run = measure(args(case)).await;
        assert_eq!(run.code, Some(code));
        if reason != "usage" || case[0] != "play" {
            let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.is_empty()).collect();
            assert!(lines.last().is_some_and(|l| l.starts_with("hiktalk: ")), "{case:?}: {}", run.stderr);
        }
    }
    // An OS error is named once.
    let run = measure(args(&["play", "/no/such/file.wav", "sim"])).await;
    assert_eq!(run.stderr.matches("No such file or directory").count(), 1, "{}", run.stderr);
    // A refused connection: the URL once, the OS's words, no HTTP library wrapping, a hint.
    let run = measure(args(&["status", &format!("http://admin:{SECRET}@127.0.0.1:1")])).await;
    run.assert_clean();
    assert_eq!(run.code, Some(7), "{}", run.stderr);
    assert_eq!(run.stderr.matches("http://").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("Connection refused") && !run.stderr.contains("error sending request"), "{}", run.stderr);
    assert!(run.stderr.contains("; check the address"), "{}", run.stderr);
    // A file that is not audio: the hint names the flag that exists.
    let run = measure(args(&["play", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"), "sim"])).await;
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.stderr.contains("--raw-format"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codec_names_are_spelled_as_devices_spell_them() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut cmd = hiktalk();
    cmd.args(["--json", "play", &chime(), &url(&sim)]);
    let (out, _) = run_to_end(cmd).await;
    let v = json(&out);
    assert_eq!(v["codec"]["codec"], "G.711ulaw", "{v}");
}

/// Ctrl-C while `play -` waits for stdin stops at once with 130 and opens nothing, with a
/// silent writer and with a writer that dies with the same Ctrl-C (a shell pipeline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_waiting_for_stdin_exits_130() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    for writer_dies in [false, true] {
        let mut cmd = hiktalk();
        cmd.args(["play", "-", &url(&sim)]).stdin(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        wait_for_signal_handlers(&child).await;
        let t = Instant::now();
        signal(&child, libc::SIGINT);
        if writer_dies {
            drop(stdin);
        }
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(130), "writer dies: {writer_dies}: {}", stderr(&out));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(stderr(&out).contains("stopped by SIGINT"), "{}", stderr(&out));
    }
    assert_eq!(count(&sim.events(), opened), 0);
}

/// A FIFO carrying raw samples is read as it flows, not declared empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_samples_from_a_fifo_are_played() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("raw.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
        // 1 s of a 440 Hz tone at 8 kHz, in ten pieces as a live producer would write it.
        let samples: Vec<u8> =
            (0..8000).flat_map(|i| ((f64::sin(i as f64 * 440.0 * std::f64::consts::TAU / 8000.0) * 8000.0) as i16).to_le_bytes()).collect();
        for piece in samples.chunks(1600) {
            f.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut cmd = hiktalk();
    cmd.args(["play", "--raw-format", "s16le:8000:1"]).arg(&fifo).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (rec, _) = crate::util::ffmpeg::heard(&sim, &last_session_id(&sim)).await;
    assert!(rec.len() >= 7900, "{} samples recorded", rec.len());
}

// ---- issue 25: events, listen, the doorbell commands and Digest itself ----

const ALERT: &str = "/ISAPI/Event/notification/alertStream";
const CALL_STATUS: &str = "/ISAPI/VideoIntercom/callStatus?format=json";
/// The most memory any of these runs may take, whatever the device sends.
const RSS_BOUND_KIB: i64 = 50 * 1024;

impl Hostile {
    /// How many requests went to `target` (the path with its query, as sent).
    fn count(&self, target: &str) -> usize {
        self.requests().iter().filter(|(_, t, _)| t == target).count()
    }

    /// How many requests to `target` carried an Authorization header.
    fn with_credentials(&self, target: &str) -> usize {
        self.requests().iter().filter(|(_, t, h)| t == target && h.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization"))).count()
    }

    /// The "auth" verdicts the Digest modes logged: none, ok, bad.
    fn auth_verdicts(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?.get("auth")?.as_str().map(str::to_string)).collect()
    }
}

impl Run {
    /// Nothing printed names a source file (a panic's location, a build path).
    fn assert_no_source_path(&self) {
        let all = format!("{}{}", self.stdout, self.stderr);
        assert!(!all.contains(".rs:") && !all.contains("/.cargo/") && !all.contains("internal error"), "{all}");
    }

    fn lines_with(&self, needle: &str) -> usize {
        self.stderr.lines().filter(|l| l.contains(needle)).count()
    }
}

fn report(name: &str, run: &Run) {
    println!(
        "{name}: exit {:?}, peak RSS {:.1} MB, CPU {:.2} s in {:.2} s wall{}",
        run.code,
        run.max_rss_kib as f64 / 1024.0,
        run.cpu.as_secs_f64(),
        run.wall.as_secs_f64(),
        run.stop_latency.map(|l| format!(", exit {} ms after SIGINT", l.as_millis())).unwrap_or_default()
    );
}

/// Item 1: a realm of bidi overrides (UTF-8 in the header) once panicked digest_auth. Every
/// command ends as a refused login (exit 4), escaped, with no panic and no source path; one
/// such camera in a `play` to two does not stop the healthy one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bidi_digest_realm_is_a_refused_login_not_a_panic() {
    let cases: [&[&str]; 3] = [&["--json", "status"], &["--json", "listen", "--duration", "2", "-o", "/dev/null"], &["--json", "events"]];
    for case in cases {
        let dev = Hostile::start("bidi-realm");
        let mut a = args(case);
        a.push(dev.url());
        let run = measure(a).await;
        report(case[1], &run);
        run.assert_clean();
        run.assert_no_source_path();
        let v = run.json();
        assert_eq!((run.code, v["reason"].as_str()), (Some(4), Some("auth")), "{case:?}: {v}");
        // One request without credentials and one with, per request path: never more.
        let verdicts = dev.auth_verdicts();
        assert!(verdicts.iter().filter(|v| *v != "none").count() <= 2, "{case:?}: {verdicts:?}");
        assert!(verdicts.len() <= 4, "{case:?}: {verdicts:?}");
    }
    let bad = Hostile::start("bidi-realm");
    let good = Hostile::start("normal");
    let run = measure(args(&["--json", "play", &chime(), &bad.url(), &good.url()])).await;
    run.assert_clean();
    run.assert_no_source_path();
    let v = run.json();
    assert_eq!(run.code, Some(10), "{v}");
    assert!(good.targets("PUT").iter().any(|t| t.contains("/audioData")), "the healthy camera was not played to");
    assert!(good.targets("PUT").iter().any(|t| t.contains("/close")), "{:?}", good.requests());
}

/// Item 2: a realm in another language logs in, the realm hashed as its UTF-8 bytes (the
/// server checks the answer), on the control requests and on the audio upload alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_in_another_language_logs_in() {
    let dev = Hostile::start("utf8-realm");
    let run = measure(args(&["--json", "status", &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    let run = measure(args(&["--json", "play", &chime(), &dev.url()])).await;
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    assert_eq!(v["closes_confirmed"], 1, "{v}");
    let verdicts = dev.auth_verdicts();
    assert!(verdicts.iter().filter(|v| *v == "ok").count() >= 4, "{verdicts:?}");
    assert!(!verdicts.iter().any(|v| v == "bad"), "an answer the device could not verify: {verdicts:?}");
    assert!(dev.targets("PUT").iter().any(|t| t.contains("/audioData")));
}

/// Item 3: a device's text that mentions `password=` is data: printed whole, escaped, and
/// `--json` stays one valid object with its exit code. Only the user's exact password would
/// be masked, and it is never formatted into text at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_text_mentioning_a_password_is_printed_whole() {
    let dev = Hostile::start("password-text");
    let run = measure(args(&["--json", "reject", &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(13), Some("refused")), "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains(r#"password= "***" caller x"#) && message.contains("password=hunter2 is wrong"), "{message}");
    assert!(message.contains("call state ring"), "the line goes on past the device's text: {message}");
    let run = measure(args(&["reject", &dev.url()])).await;
    run.assert_clean();
    assert_eq!(run.code, Some(13));
    let last = run.stderr.trim_end().lines().last().unwrap();
    assert!(last.contains("password=hunter2 is wrong") && last.ends_with("the call is not in a state where this applies"), "{last}");
}

/// Item 4: a stream that delivers one part and closes is a failure like any other: the waits
/// grow (at least half the doubling ceiling), so 12 s see 3 to 5 connections, not 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_closes_at_once_is_reopened_ever_more_slowly() {
    let dev = Hostile::start("short-stream");
    let run = measure_for(args(&["--json", "events", &dev.url()]), Some(Duration::from_secs(12))).await;
    report("short-stream", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    let opened = dev.count(ALERT);
    assert!((3..=5).contains(&opened), "{opened} alertStream connections in 12 s: {}", run.stderr);
    let delays: Vec<f64> =
        run.stderr.lines().filter_map(|l| l.split("reconnecting in ").nth(1)?.strip_suffix(" s")?.parse().ok()).collect();
    assert!(delays.len() >= 2, "{}", run.stderr);
    for (i, d) in delays.iter().enumerate() {
        let ceiling = 2f64.powi(i as i32).min(30.0);
        assert!(*d >= (ceiling / 2.0).max(1.0) - 0.05 && *d <= ceiling + 0.05, "delay {i} was {d} s: {delays:?}");
    }
    // Every stream's one part was read, but for one the SIGINT may catch between the device
    // taking the request and hiktalk reading its part.
    let heartbeats = v["heartbeats"].as_u64().unwrap() as usize;
    assert!(heartbeats == opened || heartbeats + 1 == opened, "{heartbeats} parts read from {opened} streams: {v}");
}

/// Item 5: one junk byte a second is not life: only a whole part is, so the stream is declared
/// dead after `--heartbeat-timeout` and reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_stream_is_declared_dead() {
    let dev = Hostile::start("drip-stream");
    let run = measure_for(args(&["--json", "events", "--heartbeat-timeout", "2", &dev.url()]), Some(Duration::from_secs(7))).await;
    report("drip-stream", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    assert!(dev.count(ALERT) >= 2, "the dripping stream was never given up: {}", run.stderr);
    assert!(run.stderr.contains("no heartbeat or event (a whole part) for 2.0 s"), "{}", run.stderr);
    assert!(v["reconnects"].as_u64().unwrap() >= 1, "{v}");
}

/// Item 6: a part that never ends under a 200-byte boundary, sent in 16-byte packets until it
/// outgrows 512 KiB: each byte is scanned once (rescanning the buffer after each read cost
/// seconds), and Ctrl-C is handled at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_ending_part_in_tiny_packets_costs_little_cpu() {
    let dev = Hostile::start("cpu-stream");
    let run = measure_for(args(&["--json", "events", &dev.url()]), Some(Duration::from_secs(8))).await;
    report("cpu-stream", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    // The part outgrows 512 KiB and the stream is reopened: the bytes did flow.
    assert!(run.stderr.contains("larger than the 512 KiB allowed"), "{}", run.stderr);
    assert!(run.cpu < Duration::from_millis(1000), "{:?} of CPU in an 8 s window", run.cpu);
    assert!(run.stop_latency.unwrap() < Duration::from_millis(500), "{:?} from SIGINT to exit", run.stop_latency);
    assert!(run.max_rss_kib < RSS_BOUND_KIB, "peak RSS {} KiB", run.max_rss_kib);
}

/// Item 7: 4 MB answers of two million JSON zeros or a million `<a/>` are refused before they
/// are parsed: peak RSS stays far under 50 MB, and each is asked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_answers_are_refused_within_bounded_memory() {
    let dev = Hostile::start("dense-json");
    let run = measure(args(&["--json", "wait-ring", "--timeout", "20", &dev.url()])).await;
    report("dense-json wait-ring", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(8), Some("protocol")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("more than 20000 elements"), "{v}");
    assert!(run.max_rss_kib < RSS_BOUND_KIB, "wait-ring: peak RSS {} KiB", run.max_rss_kib);
    assert_eq!(dev.count(CALL_STATUS), 1, "an answer that cannot be read is not asked for again");
    let dev = Hostile::start("dense-xml");
    for cmd in [&["--json", "unlock"][..], &["--json", "volume"]] {
        let mut a = args(cmd);
        a.push(dev.url());
        let run = measure(a).await;
        report(cmd[1], &run);
        run.assert_clean();
        let v = run.json();
        assert_eq!(run.code, Some(8), "{cmd:?}: {v}");
        assert!(v["message"].as_str().unwrap().contains("more than 20000 elements"), "{v}");
        assert!(run.max_rss_kib < RSS_BOUND_KIB, "{cmd:?}: peak RSS {} KiB", run.max_rss_kib);
    }
}

/// Item 8: a device that sends audio far faster than real time: `listen --duration 3 -o`
/// writes at most 3 s, not whatever arrived, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_to_a_device_that_sends_too_fast_is_paced() {
    let dev = Hostile::start("fast-audio");
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("heard.wav");
    let run = measure(args(&["--json", "listen", "--duration", "3", "-o", wav.to_str().unwrap(), &dev.url()])).await;
    report("fast-audio listen", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}\n{}", run.stderr);
    assert_eq!(v["heard_too_fast"], true, "{v}");
    assert!(run.stderr.contains("faster than real time"), "{}", run.stderr);
    let reader = hound::WavReader::open(&wav).unwrap();
    let secs = reader.duration() as f64 / f64::from(reader.spec().sample_rate);
    assert!((2.5..=3.0).contains(&secs), "{secs:.2} s of audio written in a 3 s listen");
    assert!(std::fs::metadata(&wav).unwrap().len() < 100_000, "{} bytes", std::fs::metadata(&wav).unwrap().len());
    assert!(run.max_rss_kib < RSS_BOUND_KIB, "peak RSS {} KiB", run.max_rss_kib);
    assert!(dev.targets("PUT").iter().any(|t| t.contains("/close")), "{:?}", dev.requests());
}

/// Item 9: a device that calls every nonce stale gets one retry, then it is a refused login
/// (exit 4): three requests, two with credentials, per request path, and then nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_nonce_loop_is_a_refused_login() {
    let dev = Hostile::start("stale-loop");
    let run = measure(args(&["--json", "wait-ring", "--timeout", "20", &dev.url()])).await;
    report("stale-loop", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(4), Some("auth")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("stale"), "{v}");
    assert!(run.wall < Duration::from_secs(5), "{:?}", run.wall);
    assert!(dev.count(CALL_STATUS) <= 3 && dev.with_credentials(CALL_STATUS) <= 2, "{:?}", dev.requests());
    assert!(dev.count(ALERT) <= 3 && dev.with_credentials(ALERT) <= 2, "{:?}", dev.requests());
}

/// Item 10: thousands of unreadable parts a second are said once, then as a count, not a line
/// each; a stream of nothing else is dropped after 100 in a row and reopened with backoff
/// (so it is not parsed at whatever rate the device can send: little CPU).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unreadable_parts_is_said_once_with_a_count() {
    let dev = Hostile::start("flood-parts");
    let run = measure_for(args(&["--json", "events", &dev.url()]), Some(Duration::from_secs(7))).await;
    report("flood-parts", &run);
    run.assert_clean();
    let v = run.json();
    assert_eq!(run.code, Some(0), "{v}");
    assert_eq!(run.lines_with("skipped a part of the event stream"), 1, "{}", run.stderr);
    let counted: Vec<u64> =
        run.stderr.lines().filter_map(|l| l.split("skipped ").nth(1)?.split(" more unreadable part").next()?.parse().ok()).collect();
    // Every part is accounted for: the first said, the rest in the counts (a stream cut by the
    // stop may leave some uncounted).
    let ended = run.lines_with("its last 100 parts could not be read") as u64;
    let total = 1 + counted.iter().sum::<u64>();
    assert!(ended >= 2 && total >= 100 * ended && total <= 100 * (ended + 1), "{total} parts counted: {}", run.stderr);
    let opened = dev.count(ALERT);
    assert!((3..=4).contains(&opened), "{opened} streams in 7 s: {}", run.stderr);
    assert!(run.stderr.lines().count() < 20, "{}", run.stderr);
    assert!(run.cpu < Duration::from_secs(1), "{:?} of CPU in a 7 s window", run.cpu);
    assert!(run.stop_latency.unwrap() < Duration::from_millis(500), "{:?} from SIGINT to exit", run.stop_latency);
}

/// Item 11: exit codes and hints that fit the request: a door refused in a 200 is a refusal
/// (13); a door answering 503 is the device failing (8), with no `--take-over` hint; a
/// malformed alertStream answer names the alertStream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn door_and_stream_failures_get_their_own_codes_and_hints() {
    let dev = Hostile::start("door-refused");
    let run = measure(args(&["--json", "unlock", &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    assert_eq!((run.code, v["reason"].as_str()), (Some(13), Some("refused")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("refused to open door 1"), "{v}");
    let dev = Hostile::start("door-503");
    let run = measure(args(&["--json", "unlock", &dev.url()])).await;
    run.assert_clean();
    let v = run.json();
    let message = v["message"].as_str().unwrap();
    assert_eq!(run.code, Some(8), "{v}");
    assert!(message.contains("503") && !message.contains("take-over") && !message.contains("two-way audio"), "{message}");
    let dev = Hostile::start("bad-status-line");
    let run = measure_for(args(&["--json", "events", &dev.url()]), Some(Duration::from_secs(2))).await;
    run.assert_clean();
    assert_eq!(run.json()["exit_code"], 0);
    assert!(run.stderr.contains("GET /ISAPI/Event/notification/alertStream did not answer like an ISAPI device"), "{}", run.stderr);
    assert!(!run.stderr.contains("audioData"), "{}", run.stderr);
}
