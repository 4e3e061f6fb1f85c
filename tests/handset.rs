//! The handset page of `hiktalk serve` in a real browser: Debian's chromium driven through
//! chromium-driver by selenium (tests/handset_browser.py), its microphone Chromium's fake
//! capture device playing a WAV, talking to simulated devices. Judged at the devices: what
//! they recorded (decoded by ffmpeg), their call and door states, one close per open; and
//! what the page says it received.

use crate::util::ffmpeg::{heard, tool};
use crate::util::*;
use hiktalk::sim::Profile;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fake microphone's tone.
const TONE_HZ: f64 = 1000.0;
/// The simulated microphone's tone (src/sim/room.rs).
const DEVICE_TONE_HZ: f64 = 440.0;
/// The service's bound on a quiet socket (src/serve/handset.rs).
const QUIET: Duration = Duration::from_secs(3);

/// A running `hiktalk serve` and what it printed on stderr.
struct Serve {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve` for `sim` named `cam0` (its table ending with `table`), with `extra` flags and
/// environment, on an ephemeral loopback port; `scheme` is what its serving line says.
async fn serve(sim: &SimHandle, table: &str, extra: &[&str], env: &[(&str, &Path)], scheme: &str) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("[cameras.cam0]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\n{table}", sim.addr().port())).unwrap();
    let mut cmd = hiktalk();
    cmd.args(["--json", "--config"]).arg(&cfg).args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let (log, marker) = (stderr.clone(), format!(" on {scheme}://"));
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in lines.lines().map_while(Result::ok) {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(addr) = line.split(&marker).nth(1).filter(|_| line.contains("serving"))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("serve starts")
        .unwrap_or_else(|_| panic!("{}", stderr.lock().unwrap()));
    wait_for_signal_handlers(&child).await;
    Serve { child, base: format!("{scheme}://{addr}"), stderr, _dir: dir }
}

/// Chromium through tests/handset_browser.py: one command a line, one JSON answer a line.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    answers: std::sync::mpsc::Receiver<String>,
}

impl Browser {
    fn start(wav: &Path, shots: &Path) -> Browser {
        tool("chromium", "chromium");
        tool("chromedriver", "chromium-driver");
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/python");
        assert!(python.exists(), "selenium's venv is missing: run `sh .ci/deps test`");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/handset_browser.py");
        let mut child = Command::new(python).arg(script).arg(wav).arg(shots).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let (tx, answers) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || out.lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
        let stdin = child.stdin.take().unwrap();
        let mut b = Browser { child, stdin, answers };
        assert_eq!(b.answer(Duration::from_secs(60)), Ok(Value::from("ready")));
        b
    }

    fn answer(&mut self, within: Duration) -> Result<Value, String> {
        let line = self.answers.recv_timeout(within).map_err(|e| format!("the browser script said nothing: {e}"))?;
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("{e}: {line}"))?;
        match v.get("error") {
            Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
            None => Ok(v["ok"].clone()),
        }
    }

    /// Runs one command (off the async threads: the script may take seconds).
    async fn cmd(&mut self, line: &str) -> Result<Value, String> {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        tokio::task::block_in_place(|| self.answer(Duration::from_secs(60)))
    }

    async fn ok(&mut self, line: &str) -> Value {
        self.cmd(line).await.unwrap_or_else(|e| panic!("{line}: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go (kept after the run).
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("handset");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one session the device opened, its internal id, once audio arrives.
async fn call_opened(sim: &SimHandle) -> String {
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(20))
        .await
        .expect("the call's audio at the device");
    last_session_id(sim)
}

/// When the device saw its session closed by the client, after `since` (its log's seconds).
async fn closed_after(sim: &SimHandle, since: f64, within: Duration) -> Option<f64> {
    sim.wait_for(|e| e.t > since && closed_by_client(&e.kind), within).await.map(|e| e.t)
}

/// The loud part of a recording: from the first sample above `threshold`, `secs` long.
fn loud(x: &[i16], rate: u32, threshold: i16, secs: f64) -> &[i16] {
    let start = x.iter().position(|s| s.unsigned_abs() > threshold as u16).unwrap_or(x.len());
    let skip = start + rate as usize / 10;
    &x[skip.min(x.len())..(skip + (secs * f64::from(rate)) as usize).min(x.len())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_answers_a_ring_talks_hears_unlocks_and_hangs_up() {
    let _turn = realtime_turn().await;
    tool("ffmpeg", "ffmpeg");
    let bell = sim::start(SimConfig { profile: Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = "handset-token-0123456789abcdef";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let s = serve(&bell, "events = true\n", &["--token-file", token_file.to_str().unwrap()], &[], "http").await;
    let wav = tone_wav(&dir.path().join("mouth.wav"), TONE_HZ, 30.0, 48_000, 1, 0.5);
    let shots = shots();
    let mut b = Browser::start(&wav, &shots);

    // The token is asked for once and kept; the camera shows, idle.
    b.ok(&format!("open {}/", s.base)).await;
    b.ok("wait !document.getElementById('login').hidden 20").await;
    b.ok(&format!("eval (document.getElementById('token').value = {token:?}, document.querySelector('#login button').click(), true)"))
        .await;
    b.ok("wait document.querySelector('.camera[data-camera=\"cam0\"][data-state=\"idle\"]') && document.getElementById('link').textContent === 'live' 20").await;
    assert_eq!(b.ok(&format!("eval localStorage.getItem('hiktalk.token') === {token:?}")).await, true);
    // The watcher is in place before the visitor rings.
    let within = Duration::from_secs(20);
    bell.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. }), within).await.expect("the alertStream");
    bell.wait_for(|e| matches!(&e.kind, EventKind::Request { path, status: 200, .. } if path.ends_with("callStatus")), within)
        .await
        .expect("callStatus");

    // A ring shows at once, with Answer / Reject.
    bell.ring();
    let rang = Instant::now();
    b.ok("wait !document.getElementById('ring').hidden 10").await;
    let shown = rang.elapsed();
    b.ok("shot phone-ring 390 844").await;

    // Answered: the call opens at the device, the doorbell on a call.
    b.ok("click answer").await;
    let id = call_opened(&bell).await;
    b.ok("wait window.hiktalk.state === 'talking' 20").await;
    // The device's microphone is heard on the page: a second of it, its tone and level.
    b.ok("wait window.hiktalk.rxSamples >= 48000 && window.hiktalk.rxLevelDb > -30 20").await;
    let rate = b.ok("eval window.hiktalk.rate").await.as_u64().unwrap() as u32;
    let rx: Vec<i16> = serde_json::from_value(b.ok("eval window.hiktalk.rxLast(24000)").await).unwrap();
    let (rx_snr, rx_amp) = (sine_snr_db(&rx, rate, DEVICE_TONE_HZ, rate as usize / 20), amplitude(&rx, rate, DEVICE_TONE_HZ));
    // Talk (toggle mode) for two seconds of audio sent.
    b.ok("click toggle").await;
    b.ok("click talk").await;
    b.ok("wait window.hiktalk.sent.length >= 100 20").await;
    b.ok("shot phone-call 390 844").await;
    b.ok("shot desktop-call 1280 800").await;

    // Unlock, confirmed: the first tap only asks.
    b.ok("click unlock").await;
    assert_eq!(b.ok("eval document.getElementById('unlock').textContent").await, "Tap again to unlock");
    assert!(!bell.events().iter().any(|e| matches!(e.kind, EventKind::DoorAction { .. })), "one tap opened the door");
    b.ok("click unlock").await;
    b.ok("wait document.body.dataset.unlocked === 'yes' 20").await;

    // Hang up: the session closed (confirmed) and the call ended at the device.
    let since = bell.events().last().map_or(0.0, |e| e.t);
    b.ok("click hangup").await;
    b.ok("wait window.hiktalk.state === 'ended' && window.hiktalk.outcome 20").await;
    let outcome = b.ok("eval window.hiktalk.outcome").await;
    assert!(closed_after(&bell, since, Duration::from_secs(10)).await.is_some(), "the device saw no close");
    let note = b.ok("eval document.getElementById('call-note').textContent").await;
    assert!(note.as_str().unwrap().contains("device confirmed"), "{note}");
    assert_eq!(outcome["call"]["hung_up"], true, "{outcome}");

    let t = transitions(&bell);
    assert_eq!(
        t,
        vec![step("idle", "ring", "ring", "local"), step("ring", "onCall", "answer", "client"), step("onCall", "idle", "hangUp", "client")],
        "{}",
        s.stderr.lock().unwrap()
    );
    let doors: Vec<_> = bell.events().into_iter().filter(|e| matches!(e.kind, EventKind::DoorAction { accepted: true, .. })).collect();
    assert_eq!(doors.len(), 1, "{doors:?}");

    // What the device heard, decoded by ffmpeg: the fake microphone's tone, at its level.
    let (pcm, device_rate) = heard(&bell, &id).await;
    let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    let sent = b.ok("eval JSON.stringify(window.hiktalk.sent.slice(-5))").await;
    assert!(peak > 2000, "the device heard nothing louder than {peak} in {} samples; the page sent {sent}", pcm.len());
    let talk = loud(&pcm, device_rate, 2000, 1.0);
    let (snr, amp) = (sine_snr_db(talk, device_rate, TONE_HZ, 0), amplitude(talk, device_rate, TONE_HZ));
    eprintln!(
        "handset: ring shown after {:.0} ms; device heard {TONE_HZ} Hz at amplitude {amp:.0} (SNR {snr:.1} dB); page heard {DEVICE_TONE_HZ} Hz at amplitude {rx_amp:.0} (SNR {rx_snr:.1} dB) at {rate} Hz",
        shown.as_secs_f64() * 1000.0
    );
    assert!(shown < Duration::from_secs(3), "the ring took {shown:?} to show");
    assert!(snr > 20.0 && (8000.0..24000.0).contains(&amp), "the device heard {amp:.0} at {snr:.1} dB SNR");
    // The simulated microphone's tone is 8000 peak (src/sim/room.rs), through G.711 and resampling.
    assert!(rx_snr > 20.0 && (5000.0..11000.0).contains(&rx_amp), "the page heard {rx_amp:.0} at {rx_snr:.1} dB SNR");
    assert!(leaks(&bell.events()).is_empty(), "{:?}", leaks(&bell.events()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_tab_or_a_silent_socket_ends_the_call_at_the_device_and_announcements_play() {
    let _turn = realtime_turn().await;
    let cam = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = serve(&cam, "", &[], &[], "http").await;
    let wav = tone_wav(&dir.path().join("mouth.wav"), TONE_HZ, 30.0, 48_000, 1, 0.5);
    let mut b = Browser::start(&wav, &shots());
    let talk = "document.querySelector('.camera[data-camera=\"cam0\"] button').click()";

    // The tab closes mid-call: the socket closes with it, and the device sees the close at once.
    b.ok(&format!("open {}/", s.base)).await;
    b.ok("wait document.querySelector('.camera[data-state=\"idle\"]') 20").await;
    b.ok(&format!("eval {talk}")).await;
    call_opened(&cam).await;
    let since = cam.events().last().map_or(0.0, |e| e.t);
    let t0 = Instant::now();
    b.ok("closetab").await;
    assert!(closed_after(&cam, since, Duration::from_secs(10)).await.is_some(), "no close after the tab closed");
    let tab = t0.elapsed();

    // The network goes (the socket stays, nothing comes): ended after the quiet bound.
    b.ok(&format!("open {}/", s.base)).await;
    b.ok("wait document.querySelector('.camera[data-state=\"idle\"]') 20").await;
    b.ok(&format!("eval {talk}")).await;
    let before = cam.events().len();
    cam.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }) && e.t > since, Duration::from_secs(20))
        .await
        .expect("the second call");
    assert!(cam.events().len() > before);
    let since = cam.events().last().map_or(0.0, |e| e.t);
    let t0 = Instant::now();
    b.ok("eval window.hiktalk.freeze()").await;
    assert!(closed_after(&cam, since, QUIET + Duration::from_secs(7)).await.is_some(), "no close after the socket went quiet");
    let quiet = t0.elapsed();
    eprintln!(
        "handset: closed tab -> device close {:.0} ms; silent socket -> device close {:.0} ms",
        tab.as_secs_f64() * 1000.0,
        quiet.as_secs_f64() * 1000.0
    );
    assert!(tab < Duration::from_secs(3), "the closed tab's session closed after {tab:?}");
    assert!(
        quiet >= QUIET - Duration::from_millis(200) && quiet < QUIET + Duration::from_secs(4),
        "the silent socket's session closed after {quiet:?}"
    );

    // The page says so, and nothing reconnects.
    b.ok("wait window.hiktalk.state === 'ended' 10").await;
    let late = cam.wait_for(|e| opened(&e.kind) && e.t > since, Duration::from_secs(4)).await;
    assert!(late.is_none(), "a session opened after the call ended: {late:?}");
    assert_eq!(count(&cam.events(), opened), 2);

    // Announcements from the page: words said, then a file played, each heard at the device.
    tool("espeak-ng", "espeak-ng");
    let chime = tone_wav(&dir.path().join("chime.wav"), 700.0, 1.0, 16_000, 1, 0.4);
    for (i, step) in [
        vec!["eval document.getElementById('text').value = 'Parcel for you'".to_string(), "click say".into()],
        vec![format!("file file {}", chime.display()), "click play".into()],
    ]
    .iter()
    .enumerate()
    {
        let since = cam.events().last().map_or(0.0, |e| e.t);
        for line in step {
            b.ok(line).await;
        }
        let ended = cam.wait_for(|e| e.t > since && matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_secs(30)).await;
        assert!(ended.is_some(), "announcement {i} never reached the device");
        let note = b.ok("eval document.getElementById('announce-note').textContent").await;
        assert_eq!(note, "cam0: playing", "announcement {i}");
    }
    assert_eq!(count(&cam.events(), opened), 4);
    assert!(leaks(&cam.events()).is_empty(), "{:?}", leaks(&cam.events()));
}

/// `GET path` over TLS to `base`'s port, trusting only `fingerprint`: the status line and body.
async fn https_get(base: &str, path: &str, fingerprint: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let trust = hiktalk::isapi::tls::Trust::pinned(fingerprint).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(hiktalk::isapi::tls::client_config(trust)));
    let addr = base.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The fingerprint serve printed at start.
fn printed_fingerprint(s: &Serve) -> String {
    let log = s.stderr.lock().unwrap().clone();
    let line = log.lines().find(|l| l.contains("SHA-256 fingerprint")).unwrap_or_else(|| panic!("no fingerprint in {log}"));
    line.rsplit(' ').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_tls_makes_its_certificate_once_and_serves_the_page_with_it() {
    let cam = sim::start(binary_sim_config()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let env = [("XDG_DATA_HOME", data.path())];
    let first = serve(&cam, "", &["--tls"], &env, "https").await;
    let fingerprint = printed_fingerprint(&first);
    assert!(first.stderr.lock().unwrap().contains("made now"), "{}", first.stderr.lock().unwrap());
    let page = https_get(&first.base, "/", &fingerprint).await.expect("the page over TLS");
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("<title>hiktalk handset</title>"), "{page}");
    // Another certificate's fingerprint is refused: the pin is what is checked.
    let other = "00".repeat(32);
    assert!(https_get(&first.base, "/", &other).await.is_err(), "a wrong pin was accepted");
    drop(first);

    // Kept: a second start serves the same certificate, its key readable by the user only.
    let dir = data.path().join("hiktalk");
    let (cert, key) = (dir.join("serve-cert.pem"), dir.join("serve-key.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = serve(&cam, "", &["--tls"], &env, "https").await;
    assert_eq!(printed_fingerprint(&again), fingerprint);
    assert!(!again.stderr.lock().unwrap().contains("made now"));
    drop(again);

    // The user's own files (these same ones, given by name) serve as well.
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let given = serve(&cam, "", &["--tls", "--tls-cert", c, "--tls-key", k], &[], "https").await;
    assert_eq!(printed_fingerprint(&given), fingerprint);
    let healthz = https_get(&given.base, "/healthz", &fingerprint).await.unwrap();
    assert!(healthz.starts_with("HTTP/1.1 200"), "{healthz}");
}

/// A WAV of 440 Hz (`freq`) bursts, 150 ms every 500 ms from its start.
fn bursts_wav(path: &Path, freq: f64, secs: f64, rate: u32) -> PathBuf {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(secs * f64::from(rate)) as u64 {
        let t = i as f64 / f64::from(rate);
        let on = t % 0.5 < 0.15;
        let v = if on { 0.5 * (2.0 * std::f64::consts::PI * freq * t).sin() * 32767.0 } else { 0.0 };
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
    path.to_path_buf()
}

/// Milliseconds since the Unix epoch of `at`.
fn epoch_ms(at: Instant) -> f64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
    now - at.elapsed().as_secs_f64() * 1000.0
}

/// For each of `later` (ms), how long after the latest of `earlier` before it (within 400 ms).
fn pair_delays(earlier: &[f64], later: &[f64]) -> Vec<f64> {
    later.iter().filter_map(|l| earlier.iter().rev().find(|e| *e <= l && l - *e < 400.0).map(|e| l - e)).collect()
}

/// Mouth to device: the browser stamps each piece it sends (when its first sample entered the
/// audio graph), the device logs when each byte arrived; a burst's onset is found in both.
/// Device to ear: the device logs when its microphone stream's first byte went out (sample i
/// is due i/rate later), the page when each piece came and what was ahead of it (its jitter
/// buffer and the output's latency). One clock: the machine's, on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handset_latency_mouth_to_device_and_device_to_ear_on_loopback() {
    let _turn = realtime_turn().await;
    use crate::util::latency;
    tool("ffmpeg", "ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let room = bursts_wav(&dir.path().join("room.wav"), DEVICE_TONE_HZ, 60.0, 8000);
    let cam = sim::start(SimConfig { mic: Some(room), ..binary_sim_config() }).await.unwrap();
    let s = serve(&cam, "", &[], &[], "http").await;
    let mouth = bursts_wav(&dir.path().join("mouth.wav"), TONE_HZ, 30.0, 48_000);
    let mut b = Browser::start(&mouth, &shots());
    b.ok(&format!("open {}/", s.base)).await;
    b.ok("wait document.querySelector('.camera[data-state=\"idle\"]') 20").await;
    b.ok("eval document.querySelector('.camera[data-camera=\"cam0\"] button').click()").await;
    let id = call_opened(&cam).await;
    b.ok("wait window.hiktalk.state === 'talking' 20").await;
    b.ok("click toggle").await;
    b.ok("click talk").await;
    b.ok("wait window.hiktalk.sent.length >= 300 30").await;
    let sent: Vec<(f64, f64, i64)> = serde_json::from_value(b.ok("eval window.hiktalk.sent").await).unwrap();
    let arrived: Vec<(f64, f64, u64, f64, f64, i64)> = serde_json::from_value(b.ok("eval window.hiktalk.arrived").await).unwrap();
    let rate = b.ok("eval window.hiktalk.rate").await.as_f64().unwrap();
    b.ok("click hangup").await;
    b.ok("wait window.hiktalk.state === 'ended' 20").await;

    // Mouth -> device.
    let mouth_onsets: Vec<f64> =
        sent.windows(2).filter(|w| w[0].2 < 0 && w[1].2 >= 0).map(|w| w[1].0 + w[1].2 as f64 * 1000.0 / rate).collect();
    let received = cam.upload_of(&id).await.unwrap();
    let (pcm, device_rate) = heard(&cam, &id).await;
    assert_eq!(device_rate, 8000, "G.711: a sample's index is its byte's offset");
    let first_audio = cam.origin() + Duration::from_secs_f64(received.listened.first_audio_at.unwrap());
    let arrivals: Vec<f64> = latency::onsets(&pcm, 1600, device_rate as usize / 10)
        .iter()
        .filter_map(|&i| latency::arrival_of(i, first_audio, &received.listened.arrivals))
        .map(epoch_ms)
        .collect();
    let up = pair_delays(&mouth_onsets, &arrivals);

    // Device -> ear.
    let mic_start = cam
        .events()
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::MicStarted { first_byte_at, .. } => Some(*first_byte_at),
            _ => None,
        })
        .expect("the microphone stream");
    let origin = epoch_ms(cam.origin());
    let due: Vec<f64> = (0..200).map(|k| origin + (mic_start + 0.5 * f64::from(k)) * 1000.0).collect();
    let ears: Vec<f64> =
        arrived.windows(2).filter(|w| w[0].5 < 0 && w[1].5 >= 0).map(|w| w[1].0 + (w[1].5 as f64 / rate + w[1].4) * 1000.0).collect();
    let down = pair_delays(&due, &ears);
    let ((up_mean, up_max), (down_mean, down_max)) = (latency::mean_max(&up), latency::mean_max(&down));
    eprintln!(
        "handset latency: mouth->device mean {up_mean:.1} max {up_max:.1} ms ({} bursts); device->ear mean {down_mean:.1} max {down_max:.1} ms ({} bursts)",
        up.len(),
        down.len()
    );
    let head = |v: &[f64]| v.iter().take(4).map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
    assert!(
        up.len() >= 4 && down.len() >= 4,
        "bursts paired: up {up:.0?}, down {down:.0?}; onsets sent [{}], arrived [{}]",
        head(&mouth_onsets),
        head(&arrivals)
    );
    // The bounds, on a loaded 2-core machine's mean.
    assert!(up_mean <= 80.0, "mouth->device {up:.0?}");
    assert!(down_mean <= 150.0, "device->ear {down:.0?}");
    assert!(leaks(&cam.events()).is_empty(), "{:?}", leaks(&cam.events()));
}

/// A WebSocket client that is not a browser: the call of `cam0` at `base`, `protocols` offered.
async fn socket(
    base: &str,
    protocols: &str,
) -> Result<
    (tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, String),
    tokio_tungstenite::tungstenite::Error,
> {
    socket_to(base, "", protocols).await
}

/// [`socket`] with `query` after the rate.
async fn socket_to(
    base: &str,
    query: &str,
    protocols: &str,
) -> Result<
    (tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, String),
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/api/cameras/cam0/call?rate=16000{query}", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    if !protocols.is_empty() {
        request.headers_mut().insert("sec-websocket-protocol", protocols.parse().unwrap());
    }
    let (ws, answer) = tokio_tungstenite::connect_async(request).await?;
    let chosen = answer.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    Ok((ws, chosen))
}

/// Until `GET /api/handset` lists no live session (within 20 s).
async fn no_live_sessions(base: &str, token: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    for _ in 0..200 {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /api/handset HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
        if body["sessions"].as_array().is_some_and(Vec::is_empty) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the call's session is still live");
}

/// 20 ms at 16 kHz of a 440 Hz tone, stamped, as the page sends it.
fn piece(n: usize) -> Vec<u8> {
    let mut b = 0f64.to_le_bytes().to_vec();
    for i in 0..320 {
        let t = (n * 320 + i) as f64 / 16000.0;
        b.extend_from_slice(&((0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 32767.0) as i16).to_le_bytes());
    }
    b
}

/// The HTTP status a refused WebSocket handshake got.
fn refused_with(r: Result<impl Sized, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(answer)) => answer.status().as_u16(),
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_socket_wants_the_token_holds_one_call_and_ends_on_a_bad_frame() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let cam = sim::start(binary_sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = "socket-token-0123456789abcdef";
    std::fs::write(dir.path().join("token"), token).unwrap();
    let s = serve(&cam, "", &["--token-file", dir.path().join("token").to_str().unwrap()], &[], "http").await;
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    let good = format!("hiktalk, hiktalk.bearer.{hex}");

    // No token, or a wrong one: 401 before anything reaches the device.
    assert_eq!(refused_with(socket(&s.base, "hiktalk").await), 401);
    assert_eq!(refused_with(socket(&s.base, "hiktalk, hiktalk.bearer.00ff").await), 401);
    assert_eq!(count(&cam.events(), |e| matches!(e, EventKind::Request { .. })), 0);

    // The token as a subprotocol: the call opens, and the service speaks `hiktalk`.
    let (mut ws, chosen) = socket(&s.base, &good).await.expect("the call");
    assert_eq!(chosen, "hiktalk");
    for n in 0..25 {
        ws.send(Message::binary(piece(n))).await.unwrap();
    }
    cam.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(20)).await.expect("the call's audio");
    // One call per camera: a second is refused while the first is up.
    assert_eq!(refused_with(socket(&s.base, &good).await), 409);

    // A message beyond the bound ends the call, closed at the device.
    let since = cam.events().last().map_or(0.0, |e| e.t);
    let _ = ws.send(Message::binary(vec![0u8; 20_000])).await;
    assert!(closed_after(&cam, since, Duration::from_secs(10)).await.is_some(), "an oversized frame left the call up");
    // The camera's turn is free once the session is over (its outcome made), not before.
    no_live_sessions(&s.base, token).await;

    // A frame that is not a stamp and whole samples: closed with 1003, and at the device.
    let (mut ws, _) = socket(&s.base, &good).await.expect("a new call once the first ended");
    for n in 0..25 {
        ws.send(Message::binary(piece(n))).await.unwrap();
    }
    let since = cam.events().last().map_or(0.0, |e| e.t);
    cam.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }) && e.t > since - 5.0, Duration::from_secs(20)).await.expect("audio");
    ws.send(Message::binary(vec![0u8; 9])).await.unwrap();
    let close = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(f)) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the service closes the socket");
    assert_eq!(close, Some(1003));
    assert_eq!(count(&cam.events(), opened), 2);
    assert_eq!(count(&cam.events(), closed_by_client), 2);
    assert!(leaks(&cam.events()).is_empty(), "{:?}", leaks(&cam.events()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_ends_when_the_doorbell_leaves_it() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let bell = sim::start(SimConfig { profile: Profile::Doorbell, ..binary_sim_config() }).await.unwrap();
    let s = serve(&bell, "", &[], &[], "http").await;
    bell.ring();
    let (mut ws, _) = socket_to(&s.base, "&answer=true", "hiktalk").await.expect("the call");
    // The page's audio goes on while the test waits: the socket must not go quiet.
    let feeding = tokio::spawn(async move {
        let mut n = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if ws.send(Message::binary(piece(n))).await.is_err() {
                        return None;
                    }
                    n += 1;
                }
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => return Some(serde_json::from_str::<Value>(&t).unwrap()),
                    Some(Ok(_)) => {}
                    _ => return None,
                },
            }
        }
    });
    bell.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(20)).await.expect("the call's audio");
    // The resident takes the call at the indoor station's side and hangs up: the far side.
    assert!(bell.hang_up());
    let ended = tokio::time::timeout(Duration::from_secs(15), feeding).await.expect("the page hears the end").unwrap();
    let ended = ended.expect("an ended message before the close");
    assert_eq!(ended["type"], "ended");
    assert_eq!(ended["outcome"]["call"]["ended_by"], "device", "{ended}");
    assert_eq!(ended["outcome"]["call"]["call_state"], "idle", "{ended}");
    let t = transitions(&bell);
    assert_eq!(
        t,
        vec![step("idle", "ring", "ring", "local"), step("ring", "onCall", "answer", "client"), step("onCall", "idle", "hangUp", "local")]
    );
    assert_eq!((count(&bell.events(), opened), count(&bell.events(), closed_by_client)), (1, 1));
    assert!(leaks(&bell.events()).is_empty(), "{:?}", leaks(&bell.events()));
}
