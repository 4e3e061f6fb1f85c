//! `hiktalk serve`: the real binary, simulated devices named in a config file, and real HTTP
//! clients (curl). Judged at the devices: one close per open, and nothing after a stop.

use crate::util::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `hiktalk serve`, its address, and everything it printed on stderr so far.
struct Serve {
    child: Option<Child>,
    base: String,
    stderr: Arc<Mutex<String>>,
    /// True once serve's stderr ended (it exited).
    stderr_closed: tokio::sync::watch::Receiver<bool>,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A config naming each simulator `cam0`, `cam1`, ... (each table ending with `table`) and a
/// group `all` of them.
fn config(dir: &Path, sims: &[&SimHandle], table: &str) -> PathBuf {
    let mut text = String::new();
    for (i, sim) in sims.iter().enumerate() {
        text.push_str(&format!("[cameras.cam{i}]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\n{table}", sim.addr().port()));
    }
    let names: Vec<String> = (0..sims.len()).map(|i| format!("\"cam{i}\"")).collect();
    text.push_str(&format!("[groups.all]\ncameras = [{}]\n", names.join(", ")));
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts serve on an ephemeral loopback port and waits for its "serving" line.
async fn serve(sims: &[&SimHandle], extra: &[&str]) -> Serve {
    serve_with(sims, extra, "").await
}

/// [`serve`], each camera's config table ending with `table`.
async fn serve_with(sims: &[&SimHandle], extra: &[&str], table: &str) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), sims, table);
    let mut cmd = hiktalk();
    cmd.args(["--json", "--config"]).arg(&cfg).args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let log = stderr.clone();
    let (closed, stderr_closed) = tokio::sync::watch::channel(false);
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in lines.lines().map_while(Result::ok) {
            if let Some(addr) = line.split(" on http://").nth(1).filter(|_| line.contains("serving"))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.to_string());
            }
            log.lock().unwrap().push_str(&format!("{line}\n"));
        }
        let _ = closed.send(true);
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), rx).await.expect("serve starts").expect("a serving line");
    wait_for_signal_handlers(&child).await;
    Serve { child: Some(child), base: format!("http://{addr}"), stderr, stderr_closed, _dir: dir }
}

/// An SSE client (`curl -N /api/events`), subscribed once [`Sse::open`] returns.
struct Sse {
    child: Child,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Sse {
    async fn open(base: &str) -> Sse {
        let mut child =
            std::process::Command::new("curl").args(["-s", "-N", &format!("{base}/api/events")]).stdout(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
        let mut sse = Sse { child, lines };
        while sse.line().await.expect("the subscription") != ": subscribed" {}
        sse
    }

    async fn line(&mut self) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(20), self.lines.recv()).await.ok().flatten()
    }

    /// The next event's name and data, within 20 s (keep-alive comments do not count).
    async fn event(&mut self) -> Option<(String, serde_json::Value)> {
        let mut kind = String::from("message");
        let next = async {
            loop {
                let line = self.lines.recv().await?;
                if let Some(k) = line.strip_prefix("event: ") {
                    kind = k.to_string();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    return Some((kind, serde_json::from_str(data).unwrap()));
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), next).await.ok().flatten()
    }
}

impl Drop for Sse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an HTTP answer said.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// curl with `args`, off the async threads.
async fn curl(args: Vec<String>) -> Answer {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl").args(["-s", "-S", "-i", "--max-time", "60"]).args(&args).output().expect("curl runs")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) =
        text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {text:?} {}", String::from_utf8_lossy(&out.stderr)));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, headers: head.to_ascii_lowercase(), body: body.to_string() }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A field of /proc/PID/status (`VmRSS`, `VmHWM`) in MB.
fn memory_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).unwrap_or_else(|| panic!("{field} in {status}"));
    kb.trim().trim_end_matches("kB").trim().parse::<f64>().unwrap() / 1024.0
}

/// Session opens and client closes at a device.
fn opens_closes(sim: &SimHandle) -> (usize, usize) {
    let events = sim.events();
    (count(&events, opened), count(&events, closed_by_client))
}

/// A device whose idle hang-up comes after 3 s, as the issue's window asks.
async fn device() -> SimHandle {
    sim::start(SimConfig { idle_timeout: Duration::from_secs(3), ..binary_sim_config() }).await.unwrap()
}

/// Nothing opens on `sim` for `window` (longer than the device's idle hang-up): the stop held.
async fn nothing_reconnects(sim: &SimHandle, window: Duration) {
    let since = sim.events().last().map_or(0.0, |e| e.t);
    let late = sim.wait_for(|e| opened(&e.kind) && e.t > since, window).await;
    assert!(late.is_none(), "a session opened after the stop: {late:?}");
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go2rtc_call_shapes_play_show_and_stop_with_one_close_per_open() {
    let sim = device().await;
    let s = serve(&[&sim], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("chime.wav"), 800.0, 20.0, 16000, 1, 0.4);
    let wav = wav.display().to_string();

    // Play, with the options sent as %23 (what clients that encode send): 200 with the stream.
    let play = curl(args(&["-X", "POST", &format!("{}/api/streams?dst=cam0&src=ffmpeg:{wav}%23audio=pcma%23input=file", s.base)])).await;
    assert_eq!(play.status, 200, "{play:?}");
    assert_eq!(play.json()["producers"][0]["url"], format!("ffmpeg:{wav}"), "{play:?}");
    // A poller sees it playing, in go2rtc's shape, one stream and all.
    let one = curl(args(&[&format!("{}/api/streams?src=cam0", s.base)])).await.json();
    assert_eq!(one["producers"].as_array().map(Vec::len), Some(1), "{one}");
    let all = curl(args(&[&format!("{}/api/streams", s.base)])).await.json();
    assert_eq!(all["cam0"]["producers"].as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(curl(args(&[&format!("{}/api/streams?src=nosuch", s.base)])).await.status, 404);

    // DELETE, what many automations send: it stops, confirmed, and the camera stays configured.
    let stop = curl(args(&["-X", "DELETE", &format!("{}/api/streams?src=cam0", s.base)])).await;
    assert_eq!((stop.status, stop.json()["closed"].as_bool()), (200, Some(true)), "{stop:?}");
    assert_eq!(opens_closes(&sim), (1, 1));
    let idle = curl(args(&[&format!("{}/api/streams?src=cam0", s.base)])).await.json();
    assert_eq!(idle["producers"].as_array().map(Vec::len), Some(0), "{idle}");

    // The `#` sent raw: curl keeps the fragment to itself, and the file plays all the same.
    let raw = curl(args(&["-X", "POST", &format!("{}/api/streams?dst=cam0&src=ffmpeg:{wav}#audio=pcma#input=file", s.base)])).await;
    assert_eq!(raw.status, 200, "{raw:?}");
    // An empty src stops.
    let empty = curl(args(&["-X", "POST", &format!("{}/api/streams?dst=cam0&src=", s.base)])).await;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(opens_closes(&sim), (2, 2));

    // /api/ffmpeg?file= answers 200 with an empty body once audio goes out.
    let ff = curl(args(&["-X", "POST", &format!("{}/api/ffmpeg?dst=cam0&file={wav}", s.base)])).await;
    assert_eq!((ff.status, ff.body.as_str()), (200, ""), "{ff:?}");
    let stop = curl(args(&["-X", "DELETE", &format!("{}/api/streams?src=cam0", s.base)])).await;
    assert_eq!(stop.status, 200, "{stop:?}");
    assert_eq!(opens_closes(&sim), (3, 3));
    // (What follows a go2rtc DELETE is watched for 30 s in delete_on_every_path_....)
    nothing_reconnects(&sim, Duration::from_millis(100)).await;
}

/// Close requests the device answered: with [`opens_closes`]'s opens, one close per open even
/// for a session the device ended itself.
fn close_requests(sim: &SimHandle) -> usize {
    count(
        &sim.events(),
        |e| matches!(e, EventKind::Request { method, path, status: 200, .. } if method == "PUT" && path.ends_with("/close")),
    )
}

/// A device with these faults, hanging up after 3 s without audio.
async fn faulty(faults: &[&str]) -> SimHandle {
    let faults = faults.iter().map(|f| f.parse().unwrap()).collect();
    sim::start(SimConfig { faults, idle_timeout: Duration::from_secs(3), ..binary_sim_config() }).await.unwrap()
}

/// Plays `upload` on `camera`, whose device hangs up the first session after a second, and
/// stops it with `delete` while serve waits out the backoff before reopening: the answer
/// comes before the backoff would have ended, and the device saw one session.
async fn delete_during_the_backoff(s: &Serve, sse: &mut Sse, sim: &SimHandle, camera: &str, upload: &str, delete: &str) {
    let play = curl(args(&["--data-binary", upload, &format!("{}/api/cameras/{camera}/play", s.base)])).await;
    assert_eq!(play.status, 202, "{play:?}");
    let id = play.json()["sessions"][0].as_str().unwrap().to_string();
    // The session says it will reconnect, and after how long.
    let delay = loop {
        let (kind, v) = sse.event().await.unwrap_or_else(|| panic!("{camera}: no reconnect announced"));
        let note = v["note"].as_str().unwrap_or_default();
        if kind == "session" && v["id"] == id.as_str() && note.contains("reconnecting in") {
            let secs = note.split("reconnecting in ").nth(1).and_then(|r| r.split(' ').next()).and_then(|d| d.parse::<f64>().ok());
            break Duration::from_secs_f64(secs.unwrap_or_else(|| panic!("{note}")));
        }
    };
    let hangup = sim.wait_for(|e| matches!(e.kind, EventKind::Hangup { .. }), Duration::from_secs(1)).await.expect("the device's hang-up");
    let del = curl(args(&["-X", "DELETE", &format!("{}{}", s.base, delete.replace("{id}", &id))])).await;
    let answered = std::time::Instant::now();
    assert_eq!((del.status, del.json()["closed"].as_bool()), (200, Some(true)), "{camera}: {del:?}");
    let outcome = &del.json()["sessions"][0];
    assert_eq!(
        (outcome["reason"].as_str(), outcome["retries"].as_u64()),
        (Some("user_stop"), Some(0)),
        "{camera}: nothing reopened: {outcome}"
    );
    // The backoff began after the hang-up: an answer that waited it out would come later.
    let backoff_over = sim.origin() + Duration::from_secs_f64(hangup.t) + delay;
    assert!(answered < backoff_over, "{camera}: answered {:?} after the backoff", answered - backoff_over);
    assert_eq!((opens_closes(sim).0, close_requests(sim)), (1, 1), "{camera}: one session, closed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_every_path_closes_once_and_nothing_reconnects_for_30_s() {
    // cam0 answers opens after 1.5 s; cam2, cam4 and cam5 hang up their first session after a second.
    let slow = faulty(&["slow=open:1500"]).await;
    let (mid, go2rtc) = (device().await, device().await);
    let hangs_up = || faulty(&["hangup-after-secs=1,times=1"]);
    let (flaky, flaky_go2rtc, recovers) = (hangs_up().await, hangs_up().await, hangs_up().await);
    let sims = [&slow, &mid, &flaky, &go2rtc, &flaky_go2rtc, &recovers];
    let s = serve(&sims, &[]).await;
    let mut sse = Sse::open(&s.base).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4);
    let upload = format!("@{}", wav.display());

    // Mid-stream: 202 with a Location; the session plays; DELETE answers once the device closed.
    let play = curl(args(&["--data-binary", &upload, &format!("{}/api/cameras/cam1/play", s.base)])).await;
    assert_eq!(play.status, 202, "{play:?}");
    let location = play.headers.lines().find_map(|l| l.strip_prefix("location: ")).expect("a Location").trim().to_string();
    mid.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    let state = curl(args(&[&format!("{}{location}", s.base)])).await.json();
    assert_eq!((state["state"].as_str(), state["camera"].as_str()), (Some("playing"), Some("cam1")), "{state}");
    let del = curl(args(&["-X", "DELETE", &format!("{}{location}", s.base)])).await;
    assert_eq!((del.status, del.json()["closed"].as_bool()), (200, Some(true)), "{del:?}");
    // The answer came after the device's close, not before.
    assert_eq!(opens_closes(&mid), (1, 1));
    assert_eq!(del.json()["sessions"][0]["reason"], "user_stop", "{del:?}");

    // During the open (the device takes 1.5 s to answer it): the camera's sessions are deleted.
    let play = curl(args(&["--data-binary", &upload, &format!("{}/api/cameras/cam0/play", s.base)])).await;
    assert_eq!(play.status, 202, "{play:?}");
    slow.wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault.starts_with("slow")), Duration::from_secs(15))
        .await
        .expect("the open");
    let del = curl(args(&["-X", "DELETE", &format!("{}/api/cameras/cam0/sessions", s.base)])).await;
    assert_eq!((del.status, del.json()["closed"].as_bool()), (200, Some(true)), "{del:?}");
    let (opens, closes) = opens_closes(&slow);
    assert_eq!(opens, closes, "one close per open");
    assert_eq!(count(&slow.events(), |e| matches!(e, EventKind::AudioStarted { .. })), 0, "no audio after the stop");

    // During a retry's backoff, by session and by go2rtc's DELETE.
    delete_during_the_backoff(&s, &mut sse, &flaky, "cam2", &upload, "/api/sessions/{id}").await;
    delete_during_the_backoff(&s, &mut sse, &flaky_go2rtc, "cam4", &upload, "/api/streams?src=cam4").await;

    // Left alone, the session reopens after its backoff and plays the rest.
    let short = format!("@{}", tone_wav(&dir.path().join("short.wav"), 600.0, 3.0, 16000, 1, 0.4).display());
    let a = curl(args(&["--data-binary", &short, &format!("{}/api/cameras/cam5/play?wait=true", s.base)])).await;
    assert_eq!((a.status, a.json()["reason"].as_str(), a.json()["retries"].as_u64()), (200, Some("end_of_input"), Some(1)), "{a:?}");
    assert_eq!((opens_closes(&recovers).0, close_requests(&recovers)), (2, 2), "reopened once, each closed");

    // go2rtc's DELETE mid-stream.
    let play = curl(args(&["-X", "POST", &format!("{}/api/streams?dst=cam3&src=ffmpeg:{}", s.base, wav.display())])).await;
    assert_eq!(play.status, 200, "{play:?}");
    let del = curl(args(&["-X", "DELETE", &format!("{}/api/streams?src=cam3", s.base)])).await;
    assert_eq!((del.status, del.json()["closed"].as_bool()), (200, Some(true)), "{del:?}");
    assert_eq!(opens_closes(&go2rtc), (1, 1));

    let gone = curl(args(&[&format!("{}/api/sessions", s.base)])).await.json();
    assert!(gone["sessions"].as_array().unwrap().iter().all(|s| s["state"] == "closed"), "{gone}");
    // Ten times the devices' idle hang-up, all six at once: nothing opens again, nothing leaks.
    futures_util::future::join_all(sims.iter().map(|sim| nothing_reconnects(sim, Duration::from_secs(30)))).await;
    for (i, sim) in sims.iter().enumerate() {
        assert_eq!(opens_closes(sim).0, close_requests(sim), "cam{i}: one close per open");
    }
    // The hang-ups and the reconnects they started, by the fault's reason.
    let m = metrics(&s).await;
    for (cam, reopened) in [("cam2", 0.0), ("cam4", 0.0), ("cam5", 1.0)] {
        let hangups = m[format!(r#"hiktalk_device_hangups_total{{"camera": "{cam}"}}"#)].as_f64();
        let reconnects = m[format!(r#"hiktalk_reconnects_total{{"camera": "{cam}", "reason": "device_hangup"}}"#)].as_f64();
        assert_eq!((hangups, reconnects), (Some(1.0), Some(reopened)), "{cam}: {m}");
    }
    assert_eq!(m[r#"hiktalk_device_hangups_total{"camera": "cam1"}"#], 0.0, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_queue_per_camera_waits_interrupts_or_rejects() {
    let sim = device().await;
    let s = serve(&[&sim], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4).display());
    let short = format!("@{}", tone_wav(&dir.path().join("short.wav"), 900.0, 1.0, 16000, 1, 0.4).display());
    let url = format!("{}/api/cameras/cam0/play", s.base);

    let first = curl(args(&["--data-binary", &long, &url])).await;
    assert_eq!(first.status, 202, "{first:?}");
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    // reject: 409, the camera's own reason, nothing sent.
    let rejected = curl(args(&["--data-binary", &short, &format!("{url}?queue=reject")])).await;
    assert_eq!((rejected.status, rejected.json()["reason"].as_str()), (409, Some("busy")), "{rejected:?}");
    // The default waits its turn.
    let queued = curl(args(&["--data-binary", &short, &url])).await;
    assert_eq!(queued.status, 202);
    let id = queued.json()["sessions"][0].as_str().unwrap().to_string();
    assert_eq!(curl(args(&[&format!("{}/api/sessions/{id}", s.base)])).await.json()["state"], "queued");
    // interrupt: the first stops; the queued one and this one play after it, one at a time.
    let now = curl(args(&["--data-binary", &short, &format!("{url}?queue=interrupt&wait=true")])).await;
    assert_eq!((now.status, now.json()["reason"].as_str()), (200, Some("end_of_input")), "{now:?}");
    let first_id = first.json()["sessions"][0].as_str().unwrap().to_string();
    let first = curl(args(&[&format!("{}/api/sessions/{first_id}", s.base)])).await.json();
    assert_eq!((first["state"].as_str(), first["reason"].as_str()), (Some("closed"), Some("user_stop")), "{first}");
    assert_eq!(curl(args(&[&format!("{}/api/sessions/{id}", s.base)])).await.json()["reason"], "end_of_input");
    let events = sim.events();
    assert_eq!((count(&events, opened), count(&events, closed_by_client)), (3, 3));
    assert_eq!(count(&events, |e| matches!(e, EventKind::Request { status: 403 | 409, .. })), 0, "never two sessions at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_password_is_its_own_status_and_reaches_the_device_once() {
    let sim = sim::start(SimConfig { password: "another-password".into(), ..binary_sim_config() }).await.unwrap();
    // One that locks the account at the first wrong password.
    let locking =
        sim::start(SimConfig { password: "another-password".into(), lockout_attempts: Some(1), ..binary_sim_config() }).await.unwrap();
    let s = serve(&[&sim, &locking], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = format!("@{}", tone_wav(&dir.path().join("t.wav"), 600.0, 1.0, 16000, 1, 0.4).display());
    let a = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/cam0/play?wait=true", s.base)])).await;
    assert_eq!((a.status, a.json()["reason"].as_str(), a.json()["exit_code"].as_i64()), (403, Some("auth"), Some(4)), "{a:?}");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password")), 1, "never retried");
    assert!(!a.body.contains(PASSWORD) && !s.stderr.lock().unwrap().contains(PASSWORD), "no password in any answer");
    let b = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/cam1/play?wait=true", s.base)])).await;
    assert_eq!((b.status, b.json()["reason"].as_str(), b.json()["locked"].as_bool()), (403, Some("auth"), Some(true)), "{b:?}");
    let failed: Vec<_> = locking
        .events()
        .into_iter()
        .filter(|e| matches!(&e.kind, EventKind::AuthFailed { reason, .. } if reason != "no_credentials"))
        .collect();
    assert_eq!(failed.len(), 1, "one wrong password, nothing after the lock: {failed:?}");
    // Both failed logins counted, the locked one as locked too.
    let m = metrics(&s).await;
    let figure = |name: &str, cam: &str| m[format!(r#"hiktalk_{name}_total{{"camera": "{cam}"}}"#)].as_f64();
    assert_eq!((figure("failed_logins", "cam0"), figure("locked_logins", "cam0")), (Some(1.0), Some(0.0)), "{m}");
    assert_eq!((figure("failed_logins", "cam1"), figure("locked_logins", "cam1")), (Some(1.0), Some(1.0)), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_plays_to_twenty_devices_and_a_group() {
    let mut sims = Vec::new();
    for _ in 0..20 {
        sims.push(device().await);
    }
    let refs: Vec<&SimHandle> = sims.iter().collect();
    let s = serve(&refs, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = format!("@{}", tone_wav(&dir.path().join("t.wav"), 600.0, 1.5, 16000, 1, 0.4).display());
    let plays = (0..20).map(|i| curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/cam{i}/play?wait=true", s.base)])));
    for (i, a) in futures_util::future::join_all(plays).await.iter().enumerate() {
        assert_eq!((a.status, a.json()["reason"].as_str()), (200, Some("end_of_input")), "cam{i}: {a:?}");
    }
    // A group: one session per member, one outcome with each device's.
    let group = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/all/play?wait=true", s.base)])).await;
    assert_eq!((group.status, group.json()["devices_total"].as_u64()), (200, Some(20)), "{group:?}");
    for sim in &sims {
        assert_eq!(opens_closes(sim), (2, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_five_open_sessions_then_exits_0() {
    let mut sims = Vec::new();
    for _ in 0..5 {
        sims.push(device().await);
    }
    let refs: Vec<&SimHandle> = sims.iter().collect();
    let mut s = serve(&refs, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 30.0, 16000, 1, 0.4).display());
    let group = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/all/play", s.base)])).await;
    assert_eq!(group.status, 202, "{group:?}");
    for sim in &sims {
        sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    }
    let child = s.child.take().unwrap();
    signal(&child, libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(30), wait_child(child)).await.expect("serve exits");
    let v = json(&out);
    assert_eq!((out.status.code(), v["sessions_closed"].as_u64(), v["closes_unconfirmed"].as_u64()), (Some(0), Some(5), Some(0)), "{v}");
    for sim in &sims {
        assert_eq!(opens_closes(sim), (1, 1));
        assert!(leaks(&sim.events()).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_are_refused_without_reaching_a_device() {
    let sim = device().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "0123456789abcdef-secret\n").unwrap();
    let token_arg = token.display().to_string();
    let s = serve(&[&sim], &["--token-file", &token_arg, "--max-body", "100000"]).await;
    let play = format!("{}/api/cameras/cam0/play", s.base);
    let bearer = "Authorization: Bearer 0123456789abcdef-secret";

    assert_eq!(curl(args(&[&format!("{}/healthz", s.base)])).await.status, 200, "no token for /healthz");
    for bad in [None, Some("Authorization: Bearer wrong"), Some("Authorization: Basic YWRtaW46YWRtaW4=")] {
        let mut a = args(&["--data-binary", "x"]);
        if let Some(h) = bad {
            a.extend(args(&["-H", h]));
        }
        a.push(play.clone());
        let r = curl(a).await;
        assert_eq!((r.status, r.json()["reason"].as_str()), (401, Some("unauthorized")), "{bad:?}: {r:?}");
    }
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 200_000]).unwrap();
    let r = curl(args(&["-H", bearer, "--data-binary", &format!("@{}", big.display()), &play])).await;
    assert_eq!(r.status, 413, "an oversized body: {r:?}");
    for (name, status) in [("..%2F..%2Fetc%2Fpasswd", 404), ("http:%2F%2F127.0.0.1:1", 403), ("sim", 404), ("%2Fetc%2Fpasswd", 404)] {
        let r = curl(args(&["-H", bearer, "--data-binary", "x", &format!("{}/api/cameras/{name}/play", s.base)])).await;
        assert_eq!(r.status, status, "{name}: {r:?}");
        assert!(!r.body.contains("root:"), "{r:?}");
    }
    // Headers beyond the bound: 431, from hyper itself.
    let huge = format!("X-Filler: {}", "a".repeat(20_000));
    let r = curl(args(&["-H", bearer, "-H", &huge, &format!("{}/api/sessions", s.base)])).await;
    assert_eq!(r.status, 431, "{r:?}");
    // A flood: 10 000 requests, 100 at a time from two clients: half with a bad token, half
    // authorized plays to cameras that do not exist. Every one refused, the service answering
    // a request of its own meanwhile within a second or two, its memory bounded.
    let pid = s.child.as_ref().unwrap().id();
    let rss_before = memory_mb(pid, "VmRSS");
    let flood = |url: String, extra: &'static [&'static str]| {
        tokio::task::spawn_blocking(move || {
            let a = ["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "--parallel", "--parallel-max", "50"];
            std::process::Command::new("curl").args(a).args(extra).arg(&url).output().unwrap()
        })
    };
    let bad_token = flood(format!("{}/api/sessions?[1-5000]", s.base), &["-H", "Authorization: Bearer nope"]);
    let no_camera = flood(
        format!("{}/api/cameras/nosuch[1-5000]/play", s.base),
        &["-H", "Authorization: Bearer 0123456789abcdef-secret", "--data-binary", "x"],
    );
    let mut slowest = Duration::ZERO;
    while !(bad_token.is_finished() && no_camera.is_finished()) {
        let asked = std::time::Instant::now();
        let r = curl(args(&["-H", bearer, &format!("{}/api/sessions", s.base)])).await;
        assert_eq!(r.status, 200, "during the flood: {r:?}");
        slowest = slowest.max(asked.elapsed());
    }
    let codes = |out: std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
    let (bad_token, no_camera) = (codes(bad_token.await.unwrap()), codes(no_camera.await.unwrap()));
    assert_eq!(bad_token.lines().filter(|c| *c == "401").count(), 5000, "{}", bad_token.lines().take(5).collect::<Vec<_>>().join(" "));
    assert_eq!(no_camera.lines().filter(|c| *c == "404").count(), 5000, "{}", no_camera.lines().take(5).collect::<Vec<_>>().join(" "));
    assert!(slowest < Duration::from_secs(2), "a request during the flood took {slowest:?}");
    let (rss, peak) = (memory_mb(pid, "VmRSS"), memory_mb(pid, "VmHWM"));
    println!("flood: slowest request meanwhile {slowest:?}; RSS {rss_before:.1} MB before, {rss:.1} MB after, peak {peak:.1} MB");
    assert!(peak < rss_before + 32.0 && rss < rss_before + 16.0, "memory grew: {rss_before:.1} -> {rss:.1} MB, peak {peak:.1} MB");
    assert_eq!(curl(args(&["-H", bearer, &format!("{}/api/sessions", s.base)])).await.status, 200);
    // Slowloris: a request head that never ends is dropped after the head's time (10 s).
    let mut slow = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), tokio::io::AsyncReadExt::read_to_end(&mut slow, &mut buf)).await;
    assert!(read.is_ok(), "the half-sent head still holds its connection after 30 s");
    assert!(started.elapsed() >= Duration::from_secs(9), "dropped after the head's time, not before: {:?}", started.elapsed());
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { .. })), 0, "nothing reached the device");

    // Reachable from other machines without a token: refused at start.
    let mut cmd = hiktalk();
    cmd.args(["--json", "serve", "--listen", "0.0.0.0:0"]);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!((out.status.code(), json(&out)["reason"].as_str()), (Some(2), Some("usage")), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_the_lifecycle_and_metrics_count_it() {
    // A watched camera whose first event stream is cut in its second part (heartbeats rare
    // enough that the parts are the motion alarms sent below).
    let faults = vec!["cut-mid-part,times=1".parse().unwrap()];
    let cfg = SimConfig { idle_timeout: Duration::from_secs(3), heartbeat: Duration::from_secs(30), faults, ..binary_sim_config() };
    let sim = sim::start(cfg).await.unwrap();
    let s = serve_with(&[&sim], &[], "events = true\n").await;
    let dir = tempfile::tempdir().unwrap();
    let wav = format!("@{}", tone_wav(&dir.path().join("t.wav"), 600.0, 1.0, 16000, 1, 0.4).display());
    let mut sse = Sse::open(&s.base).await;
    sim.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. }), Duration::from_secs(20)).await.expect("the alertStream");
    sim.motion();
    sim.motion();
    // The first alarm arrives, the second cuts the stream: the watcher reconnects.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("connected") || !seen.iter().any(|t| t == "reconnecting") {
        let (kind, v) = sse.event().await.unwrap_or_else(|| panic!("device events so far: {seen:?}"));
        if kind == "device" {
            assert_eq!(v["camera"], "cam0", "{v}");
            seen.push(v["type"].as_str().unwrap_or_default().to_string());
        }
    }
    let alarm = seen.iter().position(|t| !["connected", "note", "reconnecting"].contains(&t.as_str()));
    assert!(alarm.is_some_and(|a| a < seen.iter().position(|t| t == "reconnecting").unwrap()), "{seen:?}");
    // The device logs a stream once its head is written: hiktalk may say `connected` first.
    sim.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { stream: 2, .. }), Duration::from_secs(5))
        .await
        .expect("the second stream");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::AlertStreamOpened { .. })), 2, "one watcher, reconnected once");
    let a = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/cam0/play?wait=true", s.base)])).await;
    assert_eq!(a.status, 200, "{a:?}");
    let mut states = Vec::new();
    while states.last().map(String::as_str) != Some("closed") {
        let (kind, v) = sse.event().await.unwrap_or_else(|| panic!("the lifecycle so far: {states:?}"));
        if kind == "session" {
            assert_eq!(v["camera"], "cam0");
            states.push(v["state"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(states, ["queued", "opening", "playing", "closed"]);
    drop(sse);

    let m = metrics(&s).await;
    let cam = r#"{"camera": "cam0"}"#;
    assert_eq!(m[format!("hiktalk_device_sessions_opened_total{cam}")], 1.0, "{m}");
    assert_eq!(m[format!("hiktalk_plays_ended_total{}", r#"{"camera": "cam0", "reason": "end_of_input"}"#)], 1.0, "{m}");
    assert_eq!(m[format!("hiktalk_plays_live{cam}")], 0.0, "{m}");
    assert_eq!(m[format!("hiktalk_closes_unconfirmed_total{cam}")], 0.0, "{m}");
    assert_eq!(m[format!("hiktalk_event_stream_reconnects_total{cam}")], 1.0, "{m}");
    assert_eq!(m[format!("hiktalk_up{cam}")], 1.0, "{m}");
    assert_eq!(m[format!("hiktalk_device_sessions_closed_total{cam}")], 1.0, "{m}");
    assert_eq!(m[format!("hiktalk_device_hangups_total{cam}")], 0.0, "{m}");
    // A second of a file on an idle loopback: every frame went out ahead of its play time.
    assert_eq!(m[format!("hiktalk_late_frames_total{cam}")], 0.0, "{m}");
    assert_eq!(m[format!("hiktalk_dropped_frames_total{cam}")], 0.0, "{m}");
    // Every configured camera's counters are there from the start, at 0: `increase()` sees
    // the first one.
    assert_eq!(m[format!("hiktalk_failed_logins_total{cam}")], 0.0, "{m}");
    assert_eq!(m[format!("hiktalk_locked_logins_total{cam}")], 0.0, "{m}");
    assert_eq!(m[format!("hiktalk_reconnects_total{}", r#"{"camera": "cam0", "reason": "device_hangup"}"#)], 0.0, "{m}");
    // The README's alert rules use metrics that exist.
    let readme = include_str!("../README.md");
    let rules = readme.split("```yaml\ngroups:\n  - name: hiktalk").nth(1).and_then(|r| r.split("```").next()).expect("the alert rules");
    let used: Vec<&str> = rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("hiktalk_")).collect();
    assert_eq!(used.len(), 3, "{rules}");
    let text = families(&s).await;
    for name in used {
        assert!(text.contains(&format!("# TYPE {} counter\n", name.trim_end_matches("_total"))), "{name} is not served: {text}");
    }
}

/// The metrics' text, as served.
async fn families(s: &Serve) -> String {
    let text = curl(args(&[&format!("{}/metrics", s.base)])).await;
    assert_eq!(text.status, 200);
    text.body
}

/// The metrics, read by the Prometheus project's own Python parser: each sample's value by its
/// name and labels (`hiktalk_up{"camera": "cam0"}`).
async fn metrics(s: &Serve) -> serde_json::Value {
    let script = "import sys, json\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
        print(json.dumps({s.name + json.dumps(s.labels, sort_keys=True): s.value for f in parse(sys.stdin.read()) for s in f.samples}))";
    let body = families(s).await;
    let parsed = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut py = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python"))
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        py.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        py.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        parsed.status.success(),
        "prometheus-client parses it (installed by `sh .ci/deps test`): {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    serde_json::from_slice(&parsed.stdout).unwrap()
}

/// An HTTP server for audio files: `/NAME` answers `files[NAME]`; it counts the requests.
async fn file_server(files: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let path = String::from_utf8_lossy(&head).split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let body = files.iter().find(|(n, _)| *n == path).map(|(_, b)| b.clone());
            let reply = match &body {
                Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            };
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.write_all(&body.unwrap_or_default()).await;
        }
    });
    (base, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_urls_are_fetched_bounded_from_python_and_go2rtc_calls() {
    let sim = device().await;
    let s = serve(&[&sim], &["--max-body", "100000"]).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone_wav(&dir.path().join("t.wav"), 700.0, 1.0, 16000, 1, 0.4)).unwrap();
    let (files, hits) = file_server(vec![("chime.wav", wav), ("big.wav", vec![0u8; 200_000])]).await;

    // Python's urllib, as an automation would send it: JSON with the URL, waiting for the end.
    let script = "import json, sys, urllib.request, urllib.error\n\
        req = urllib.request.Request(sys.argv[1], data=json.dumps({'url': sys.argv[2]}).encode(), headers={'Content-Type': 'application/json'}, method='POST')\n\
        try:\n    r = urllib.request.urlopen(req, timeout=60); print(r.status); print(r.read().decode())\n\
        except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode())";
    let py = |url: String| {
        let play = format!("{}/api/cameras/cam0/play?wait=true", s.base);
        tokio::task::spawn_blocking(move || std::process::Command::new("python3").args(["-c", script, &play, &url]).output().unwrap())
    };
    let out = py(format!("{files}/chime.wav")).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, body) = text.split_once('\n').unwrap_or_else(|| panic!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert_eq!((status, v["reason"].as_str()), ("200", Some("end_of_input")), "{v}");
    assert!((v["audio_seconds"].as_f64().unwrap() - 1.0).abs() < 0.05, "{v}");

    // Larger than --max-body: refused before any device is touched.
    let out = py(format!("{files}/big.wav")).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("422\n") && text.contains("\"reason\":\"input\""), "{text}");
    let out = py("file:///etc/passwd".into()).await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("400\n"), "only http(s)");
    assert_eq!(opens_closes(&sim), (1, 1));

    // go2rtc's ffmpeg:URL source, and its stop.
    let play = curl(args(&["-X", "POST", &format!("{}/api/streams?dst=cam0&src=ffmpeg:{files}/chime.wav%23audio=pcma", s.base)])).await;
    assert_eq!(play.status, 200, "{play:?}");
    let stop = curl(args(&["-X", "DELETE", &format!("{}/api/streams?src=cam0", s.base)])).await;
    assert_eq!(stop.status, 200, "{stop:?}");
    assert_eq!(opens_closes(&sim), (2, 2));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3, "each URL fetched once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doorbell_routes_reject_answer_hang_up_unlock_and_set_the_volume() {
    let bell = sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let s = serve(&[&bell], &[]).await;
    let at = |what: &str| format!("{}/api/cameras/cam0/{what}", s.base);

    // A ring, rejected: confirmed idle at the device.
    bell.ring();
    let r = curl(args(&["-X", "POST", &at("reject")])).await;
    assert_eq!((r.status, r.json()["call_state"].as_str()), (200, Some("idle")), "{r:?}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::CallSignal { cmd, accepted: true } if cmd == "reject")), 1);
    // Nothing to hang up: the device's refusal, as its own status.
    let r = curl(args(&["-X", "POST", &at("hangup")])).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (409, Some("refused")), "{r:?}");
    // A ring answered through the API (confirmed on a call at the device), then hung up.
    let r = curl(args(&["-X", "POST", &at("answer")])).await;
    assert_eq!((r.status, r.json()["reason"].as_str()), (409, Some("refused")), "nothing rings: {r:?}");
    bell.ring();
    let r = curl(args(&["-X", "POST", &at("answer")])).await;
    assert_eq!((r.status, r.json()["call_state"].as_str()), (200, Some("onCall")), "{r:?}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::CallSignal { cmd, accepted: true } if cmd == "answer")), 1);
    let r = curl(args(&["-X", "POST", &at("hangup")])).await;
    assert_eq!((r.status, r.json()["call_state_before"].as_str()), (200, Some("onCall")), "{r:?}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::CallSignal { cmd, accepted: true } if cmd == "hangUp")), 1);

    let r = curl(args(&["-X", "POST", &format!("{}?door=1", at("unlock"))])).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::DoorAction { door: 1, accepted: true, .. })), 1);

    let r = curl(args(&[&at("volume")])).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["volumes"].is_object(), "{r:?}");
    let r = curl(args(&["-X", "PUT", &format!("{}?level=40&mic=true", at("volume"))])).await;
    assert_eq!((r.status, r.json()["volumes"]["microphone"].as_u64()), (200, Some(40)), "{r:?}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::Volume { to: 40, accepted: true, .. })), 1);
    // A group is not a doorbell.
    assert_eq!(curl(args(&["-X", "POST", &format!("{}/api/cameras/all/unlock", s.base)])).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_holds_a_bounded_queue_and_one_delete_clears_it() {
    let sim = device().await;
    let s = serve(&[&sim], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4).display());
    let url = format!("{}/api/cameras/cam0/play", s.base);
    for i in 0..8 {
        let r = curl(args(&["--data-binary", &long, &url])).await;
        assert_eq!(r.status, 202, "play {i}: {r:?}");
    }
    let full = curl(args(&["--data-binary", &long, &url])).await;
    assert_eq!((full.status, full.json()["reason"].as_str()), (429, Some("queue_full")), "{full:?}");
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    // By its group: the sessions of every member.
    let del = curl(args(&["-X", "DELETE", &format!("{}/api/cameras/all/sessions", s.base)])).await;
    assert_eq!((del.status, del.json()["sessions"].as_array().map(Vec::len)), (200, Some(8)), "{del:?}");
    assert_eq!(opens_closes(&sim), (1, 1), "the queued plays never opened");
    nothing_reconnects(&sim, Duration::from_secs(7)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_doorbell_rings_on_api_events_once_from_one_watcher() {
    let bell = sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let s = serve_with(&[&bell], &[], "events = true\n").await;
    // The watcher is in place: its stream open, its first callStatus read.
    let within = Duration::from_secs(20);
    bell.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. }), within).await.expect("the alertStream");
    bell.wait_for(|e| matches!(&e.kind, EventKind::Request { path, status: 200, .. } if path.ends_with("callStatus")), within)
        .await
        .expect("a callStatus read");
    let mut sse = Sse::open(&s.base).await;
    bell.ring();
    let (mut rings, mut states) = (0, Vec::new());
    // Until the ring is rejected and the doorbell reads idle: one ring (the stream's sighting
    // and the polled one merged), the call state moving ring -> idle.
    while states.last().map(String::as_str) != Some("idle") {
        let (kind, v) =
            sse.event().await.unwrap_or_else(|| panic!("device events so far: {rings} rings, {states:?}; {}", s.stderr.lock().unwrap()));
        if kind != "device" {
            continue;
        }
        assert_eq!(v["camera"], "cam0", "{v}");
        match v["type"].as_str() {
            Some("ring") => rings += 1,
            Some("callStatus") => {
                states.push(v["state"].as_str().unwrap().to_string());
                // The polled call state saw the ring too: it is rejected through the API.
                if v["state"] == "ring" {
                    let r = curl(args(&["-X", "POST", &format!("{}/api/cameras/cam0/reject", s.base)])).await;
                    assert_eq!(r.status, 200, "{r:?}");
                }
            }
            _ => {}
        }
    }
    assert_eq!((rings, states), (1, vec!["ring".to_string(), "idle".to_string()]));
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::AlertStreamOpened { .. })), 1, "one watcher, one stream");
}

/// A camera URL as a path segment: `http://admin:PASSWORD@127.0.0.1:PORT`, percent-encoded.
fn url_segment(sim: &SimHandle, password: bool) -> String {
    let auth = if password { format!("admin:{PASSWORD}") } else { "admin".into() };
    format!("http://{auth}@{}", sim.addr()).replace(':', "%3A").replace('/', "%2F").replace('@', "%40")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_url_is_reachable_only_with_allow_urls() {
    let (configured, by_url) = (device().await, device().await);
    let dir = tempfile::tempdir().unwrap();
    let wav = format!("@{}", tone_wav(&dir.path().join("t.wav"), 600.0, 1.0, 16000, 1, 0.4).display());
    let long = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4).display());

    // Without --allow-urls: 403, saying what to do, on every route a camera goes in; nothing
    // reaches the device.
    let s = serve(&[&configured], &[]).await;
    let url = url_segment(&by_url, true);
    for r in [
        curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/{url}/play?wait=true", s.base)])).await,
        curl(args(&["-X", "DELETE", &format!("{}/api/cameras/{url}/sessions", s.base)])).await,
        curl(args(&["-X", "POST", &format!("{}/api/streams?dst={url}&src=ffmpeg:/nonexistent.wav", s.base)])).await,
        curl(args(&["-X", "POST", &format!("{}/api/cameras/{url}/unlock", s.base)])).await,
    ] {
        assert_eq!((r.status, r.json()["reason"].as_str()), (403, Some("url_not_allowed")), "{r:?}");
        assert!(r.json()["message"].as_str().unwrap().contains("--allow-urls") && !r.body.contains(PASSWORD), "{r:?}");
    }
    assert_eq!(count(&by_url.events(), |e| matches!(e, EventKind::Request { .. })), 0, "nothing reached the device");
    drop(s);

    // With it: the URL plays as a configured camera does, and its DELETE closes for good.
    let s = serve(&[&configured], &["--allow-urls"]).await;
    let a = curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/{url}/play?wait=true", s.base)])).await;
    assert_eq!((a.status, a.json()["reason"].as_str()), (200, Some("end_of_input")), "{a:?}");
    assert_eq!(a.json()["device"], format!("http://{}", by_url.addr()), "shown without user or password: {a:?}");
    assert_eq!(opens_closes(&by_url), (1, 1));
    let play = curl(args(&["--data-binary", &long, &format!("{}/api/cameras/{url}/play", s.base)])).await;
    assert_eq!(play.status, 202, "{play:?}");
    by_url.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    // The same camera, named without the password.
    let del = curl(args(&["-X", "DELETE", &format!("{}/api/cameras/{}/sessions", s.base, url_segment(&by_url, false))])).await;
    assert_eq!((del.status, del.json()["sessions"].as_array().map(Vec::len)), (200, Some(1)), "{del:?}");
    assert_eq!(opens_closes(&by_url), (2, 2));
    let all = curl(args(&[&format!("{}/api/sessions", s.base)])).await;
    assert!(!all.body.contains(PASSWORD) && !s.stderr.lock().unwrap().contains(PASSWORD), "no password shown: {all:?}");
    // Still not `sim`, a path or a bare name.
    for name in ["sim", "%2Fetc%2Fpasswd", "nosuch"] {
        assert_eq!(curl(args(&["--data-binary", &wav, &format!("{}/api/cameras/{name}/play", s.base)])).await.status, 404, "{name}");
    }
    assert!(leaks(&by_url.events()).is_empty() && opens_closes(&configured) == (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_ends_the_announcement_and_holds_the_queued_one() {
    let bell = sim::start(SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let s = serve(&[&bell], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4).display());
    let short = format!("@{}", tone_wav(&dir.path().join("short.wav"), 900.0, 1.0, 16000, 1, 0.4).display());
    let url = format!("{}/api/cameras/cam0/play", s.base);
    let mut sse = Sse::open(&s.base).await;
    let first = curl(args(&["--data-binary", &long, &url])).await;
    assert_eq!(first.status, 202, "{first:?}");
    bell.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    let queued = tokio::spawn(curl(args(&["--data-binary", &short, &format!("{url}?wait=true")])));
    // The queued play is in place before the ring.
    let id = first.json()["sessions"][0].as_str().unwrap().to_string();
    loop {
        let (kind, v) = sse.event().await.expect("the queued play");
        if kind == "session" && v["id"] != id.as_str() && v["state"] == "queued" {
            break;
        }
    }
    bell.ring();
    // The ring ends the announcement, as `play` says it; the queued one is not sent to a ringing
    // doorbell (the unit would not play it): 409 `ringing`, nothing opened for it.
    let queued = queued.await.unwrap();
    assert_eq!((queued.status, queued.json()["reason"].as_str()), (409, Some("ringing")), "{queued:?}");
    let first = curl(args(&[&format!("{}/api/sessions/{id}", s.base)])).await.json();
    assert_eq!((first["reason"].as_str(), first["outcome"]["call"].as_str()), (Some("device_hangup"), Some("ring")), "{first}");
    assert_eq!(opens_closes(&bell).0, 1, "one session, the first");
    assert!(leaks(&bell.events()).is_empty(), "{:?}", leaks(&bell.events()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once_naming_what_it_leaves() {
    // A device that never answers a close: the first SIGTERM waits for it.
    let sim = faulty(&["stall=close"]).await;
    let mut s = serve(&[&sim], &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let long = format!("@{}", tone_wav(&dir.path().join("long.wav"), 600.0, 20.0, 16000, 1, 0.4).display());
    assert_eq!(curl(args(&["--data-binary", &long, &format!("{}/api/cameras/cam0/play", s.base)])).await.status, 202);
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.expect("audio");
    let child = s.child.take().unwrap();
    signal(&child, libc::SIGTERM);
    sim.wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault.starts_with("stall")), Duration::from_secs(15))
        .await
        .expect("the close, unanswered");
    signal(&child, libc::SIGTERM);
    let out = tokio::time::timeout(Duration::from_secs(3), wait_child(child)).await.expect("exits at once");
    s.stderr_closed.wait_for(|c| *c).await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", s.stderr.lock().unwrap());
    let err = s.stderr.lock().unwrap().clone();
    assert!(err.contains("again, exiting now") && err.contains("hiktalk close cam0"), "says what it leaves: {err}");
}
