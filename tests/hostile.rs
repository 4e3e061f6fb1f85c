//! hiktalk against a hostile or broken device (`tests/hostile/server.py`, one mode per case) and
//! against bad local input: nothing a device sends may steer hiktalk's requests, crash it, make
//! it use unbounded memory or time, or make it print a password; every failure is explained,
//! and under `--json` as exactly one JSON object. Assertions are on the request lines the
//! server logged, exit codes, stdout JSON, what reached the terminal, and peak RSS.

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

/// What a finished hiktalk run left: exit code, stdout, stderr, peak RSS, wall time.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
    wall: Duration,
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

/// Runs hiktalk to the end, measuring its peak RSS. The measuring is done by a small Python
/// parent with wait4(2): a child spawned straight from this (large, many-threaded) test process
/// shares its memory until exec, and the kernel would count the test's RSS as the child's.
async fn measure(args: Vec<String>) -> Run {
    const PARENT: &str = "import os, subprocess, sys\n\
        p = subprocess.Popen(sys.argv[1:])\n\
        _, status, usage = os.wait4(p.pid, 0)\n\
        sys.stderr.write('\\nmaxrss_kib=%d\\n' % usage.ru_maxrss)\n\
        code = os.waitstatus_to_exitcode(status)\n\
        sys.exit(code if code >= 0 else 128 - code)\n";
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", PARENT, env!("CARGO_BIN_EXE_hiktalk")]).args(&args);
        cmd.env_remove("HIKTALK_PASSWORD").env_remove("HIKTALK_CONFIG").env("XDG_CONFIG_HOME", "/nonexistent-hiktalk-test");
        cmd.stdin(Stdio::null());
        let t = Instant::now();
        let out = cmd.output().unwrap();
        let wall = t.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let (stderr, rss) = stderr.rsplit_once("\nmaxrss_kib=").expect("the measuring parent's report");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: stderr.to_string(),
            max_rss_kib: rss.trim().parse().unwrap(),
            wall,
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
    let (rec, _) = crate::util::ffmpeg::heard(&sim, &last_session_id(&sim));
    assert!(rec.len() >= 7900, "{} samples recorded", rec.len());
}
