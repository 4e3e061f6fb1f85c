//! `serve --mqtt`: the real binary against a real broker (Debian's mosquitto, started here on a
//! free loopback port) and simulated devices, observed with mosquitto's own client
//! (`mosquitto_sub`, `mosquitto_pub`): Home Assistant's discovery payloads, a ring on the
//! broker, commands reaching the device, the broker restarted mid-session, a flood.

use crate::util::ffmpeg::{ffmpeg_decode, heard, tool};
use crate::util::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const WITHIN: Duration = Duration::from_secs(20);
const USER: &str = "hiktalk";
const BROKER_PASSWORD: &str = "broker-secret-4711";

/// A mosquitto on 127.0.0.1:`port` that wants a user and password, and the lines it logged.
struct Broker {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    log: Arc<Mutex<String>>,
    tls: bool,
}

impl Broker {
    async fn start() -> Broker {
        Broker::start_with(None).await
    }

    /// [`Broker::start`]; with `tls`, the listener speaks TLS with that certificate and key
    /// (PEM) and the clients check it against `ca.pem`.
    async fn start_with(tls: Option<(String, String, String)>) -> Broker {
        // A free port may be taken by another test's broker before this one binds it: then
        // mosquitto exits, and another port is tried.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            if let Some(b) = Broker::on(port, tls.clone()).await {
                return b;
            }
        }
        panic!("mosquitto did not start on five free ports");
    }

    async fn on(port: u16, tls: Option<(String, String, String)>) -> Option<Broker> {
        let dir = tempfile::tempdir().unwrap();
        tool("mosquitto_passwd", "mosquitto");
        let pw = dir.path().join("passwd");
        let made = Command::new("mosquitto_passwd").args(["-b", "-c"]).arg(&pw).args([USER, BROKER_PASSWORD]).output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nlog_dest stderr\npersistence false\n",
            pw.display()
        );
        let mut conf = conf;
        if let Some((ca, cert, key)) = &tls {
            for (name, pem) in [("ca.pem", ca), ("server.pem", cert), ("server.key", key)] {
                std::fs::write(dir.path().join(name), pem).unwrap();
            }
            let d = dir.path().display();
            conf = conf.replacen('\n', &format!("\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"), 1);
        }
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut b = Broker { child: None, port, dir, log: Default::default(), tls: tls.is_some() };
        b.run().await.then_some(b)
    }

    /// Starts mosquitto and waits until it says it runs (its listener open); false if it
    /// exited instead.
    async fn run(&mut self) -> bool {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto (installed by `sh .ci/deps test`)");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (lines, log) = (BufReader::new(child.stderr.take().unwrap()), self.log.clone());
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in lines.lines().map_while(Result::ok) {
                if line.contains(" running")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let running = tokio::time::timeout(WITHIN, rx).await.expect("mosquitto starts or exits").is_ok();
        self.child = Some(child);
        running
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `mosquitto_pub` with `args` (as our user), to its end.
    async fn publish(&self, args: &[&str], stdin: Option<String>) {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(self.client_args()).args(["-q", "1"]).args(args);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
            if let Some(text) = stdin {
                child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "mosquitto_pub {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// How mosquitto's clients reach it, as our user.
    fn client_args(&self) -> Vec<String> {
        let mut a: Vec<String> =
            ["-h", "127.0.0.1", "-p", &self.port.to_string(), "-u", USER, "-P", BROKER_PASSWORD].map(String::from).into();
        if self.tls {
            a.extend(["--cafile".to_string(), self.dir.path().join("ca.pem").display().to_string()]);
        }
        a
    }

    async fn command(&self, camera: &str, name: &str, payload: &str) {
        self.publish(&["-t", &format!("hiktalk/{camera}/command/{name}"), "-m", payload], None).await;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as `mosquitto_sub` printed it.
#[derive(Debug, Clone)]
struct Msg {
    retained: bool,
    topic: String,
    payload: String,
}

impl Msg {
    fn json(&self) -> Value {
        serde_json::from_str(&self.payload).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.topic, self.payload))
    }
}

/// A `mosquitto_sub` on every topic, subscribed once [`Sub::open`] returns.
struct Sub {
    child: Child,
    rx: mpsc::UnboundedReceiver<Msg>,
    seen: Vec<Msg>,
}

impl Sub {
    async fn open(broker: &Broker) -> Sub {
        // A retained marker: it arrives once the subscription is in place.
        let marker = format!("test/marker/{}", std::process::id() as u128 * 1000 + Instant::now().elapsed().as_nanos());
        broker.publish(&["-r", "-t", &marker, "-m", "here"], None).await;
        let mut child = Command::new("mosquitto_sub")
            .args(broker.client_args())
            .args(["-t", "#", "-F", "%r %t %p"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let mut parts = line.splitn(3, ' ');
                let (r, t, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let _ = tx.send(Msg { retained: r == "1", topic: t.into(), payload: p.into() });
            }
        });
        let mut sub = Sub { child, rx, seen: Vec::new() };
        sub.until(|m| m.topic == marker).await;
        sub
    }

    /// The next message that `pred` takes, within 20 s; every message is kept in `seen`.
    async fn until(&mut self, pred: impl Fn(&Msg) -> bool) -> Msg {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let m = tokio::time::timeout_at(deadline, self.rx.recv()).await.ok().flatten().unwrap_or_else(|| {
                let topics: Vec<&str> = self.seen.iter().rev().take(40).map(|m| m.topic.as_str()).collect();
                panic!("no such message within 20 s; the last seen, newest first: {topics:?}")
            });
            self.seen.push(m.clone());
            if pred(&m) {
                return m;
            }
        }
    }

    async fn topic(&mut self, topic: &str) -> Msg {
        self.until(|m| m.topic == topic).await
    }

    /// Returns once `topic` says `payload`: its last message so far, or one to come.
    async fn says(&mut self, topic: &str, payload: &str) {
        if self.seen.iter().rev().find(|m| m.topic == topic).is_none_or(|m| m.payload != payload) {
            self.until(|m| m.topic == topic && m.payload == payload).await;
        }
    }

    /// The last message on `topic` seen so far, else the next.
    async fn last_or_next(&mut self, topic: &str) -> Msg {
        match self.seen.iter().rev().find(|m| m.topic == topic) {
            Some(m) => m.clone(),
            None => self.topic(topic).await,
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `hiktalk serve --mqtt` and its stderr so far.
struct Serve {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// serve with cameras `cam0`.. (one per simulator; `events = true` on each) on `broker`; the
/// broker password from the environment, as a user would give it.
async fn serve(broker: &Broker, sims: &[&SimHandle], extra: &[&str]) -> Serve {
    serve_as(broker, sims, extra, BROKER_PASSWORD).await
}

/// [`serve`] with `password` for the broker, over TLS if the broker speaks it.
async fn serve_as(broker: &Broker, sims: &[&SimHandle], extra: &[&str], password: &str) -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, sim) in sims.iter().enumerate() {
        text.push_str(&format!("[cameras.cam{i}]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"admin\"\nevents = true\n", sim.addr().port()));
    }
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut cmd = hiktalk();
    let scheme = if broker.tls { "mqtts" } else { "mqtt" };
    cmd.env("HIKTALK_MQTT_PASSWORD", password)
        .args(["--json", "--config"])
        .arg(&cfg)
        .args(["serve", "--listen", "127.0.0.1:0", "--mqtt", &format!("{scheme}://{USER}@127.0.0.1:{}", broker.port)])
        .args(extra);
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let (lines, log) = (BufReader::new(child.stderr.take().unwrap()), stderr.clone());
    std::thread::spawn(move || lines.lines().map_while(Result::ok).for_each(|l| log.lock().unwrap().push_str(&format!("{l}\n"))));
    wait_for_signal_handlers(&child).await;
    Serve { child: Some(child), stderr, _dir: dir }
}

/// Waits for hiktalk's `online` and the discovery of `cam0`'s `object` (the device probed).
async fn discovered(sub: &mut Sub, component: &str, object: &str) -> Value {
    sub.says("hiktalk/status", "online").await;
    sub.last_or_next(&format!("homeassistant/{component}/hiktalk_cam0/{object}/config")).await.json()
}

fn doorbell() -> SimConfig {
    SimConfig { profile: hiktalk::sim::Profile::Doorbell, ..binary_sim_config() }
}

/// Waits until the serve watcher of `sim` has its stream open and has read the call state: two
/// reads after the stream opened, since the MQTT front's probe reads it once too.
async fn watched(sim: &SimHandle) {
    let open = sim.wait_for(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. }), WITHIN).await.expect("the alertStream");
    let read = |after: f64| {
        move |e: &sim::Event| e.t > after && matches!(&e.kind, EventKind::Request { path, status: 200, .. } if path.ends_with("callStatus"))
    };
    let first = sim.wait_for(read(open.t), WITHIN).await.expect("a callStatus read");
    sim.wait_for(read(first.t), WITHIN).await.expect("another callStatus read");
}

fn sounds(dir: &Path, secs: f64) -> PathBuf {
    let sounds = dir.join("sounds");
    std::fs::create_dir(&sounds).unwrap();
    tone_wav(&sounds.join("chime.wav"), 800.0, secs, 16000, 1, 0.4);
    std::fs::write(sounds.join("notes.txt"), "not a sound").unwrap();
    std::fs::write(dir.join("secret.wav"), "outside").unwrap();
    sounds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_has_each_entitys_required_keys_and_a_ring_reaches_the_broker_within_a_second() {
    let broker = Broker::start().await;
    let bell = sim::start(doorbell()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sounds = sounds(dir.path(), 1.0);
    let mut sub = Sub::open(&broker).await;
    let s = serve(&broker, &[&bell], &["--sounds", &sounds.display().to_string()]).await;
    discovered(&mut sub, "event", "ring").await;
    // Every entity the doorbell offers, each as Home Assistant's MQTT docs require.
    let required: &[(&str, &[&str])] = &[
        ("event", &["state_topic", "event_types"]),
        ("sensor", &["state_topic"]),
        ("button", &["command_topic"]),
        ("number", &["command_topic"]),
        ("text", &["command_topic"]),
        ("select", &["command_topic", "options"]),
    ];
    let mut objects = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for object in [
        "event/ring",
        "sensor/call_state",
        "sensor/session",
        "button/answer",
        "button/hangup",
        "button/reject",
        "button/unlock_1",
        "button/stop",
        "number/talk_volume",
        "text/say",
        "select/sound",
    ] {
        let topic = format!("homeassistant/{}/config", object.replacen('/', "/hiktalk_cam0/", 1));
        let v = sub.last_or_next(&topic).await.json();
        let component = object.split('/').next().unwrap();
        for key in required.iter().find(|(c, _)| *c == component).unwrap().1 {
            assert!(!v[key].is_null(), "{topic} lacks {key}: {v}");
        }
        assert!(ids.insert(v["unique_id"].as_str().expect("a unique_id").to_string()), "unique_id repeated: {v}");
        // Not `object_id`, which Home Assistant stopped reading in 2026.4.
        let (kind, id) = object.split_once('/').unwrap();
        assert_eq!(
            (v["default_entity_id"].as_str(), v.get("object_id")),
            (Some(format!("{kind}.hiktalk_cam0_{id}").as_str()), None),
            "{v}"
        );
        assert_eq!(v["device"]["identifiers"][0], "hiktalk_cam0", "{v}");
        assert_eq!((v["device"]["name"].as_str(), v["device"]["manufacturer"].as_str()), (Some("cam0"), Some("Hikvision")), "{v}");
        let avail: Vec<&str> = v["availability"].as_array().unwrap().iter().map(|a| a["topic"].as_str().unwrap()).collect();
        assert_eq!((avail, v["availability_mode"].as_str()), (vec!["hiktalk/status", "hiktalk/cam0/availability"], Some("all")), "{v}");
        objects.push(v);
    }
    assert_eq!(objects[0]["event_types"], serde_json::json!(["ring"]));
    assert_eq!(objects[10]["options"], serde_json::json!(["chime"]), "only the sound, by name");
    assert_eq!(sub.last_or_next("hiktalk/cam0/availability").await.payload, "online");

    // A ring at the door station: on the broker within a second, with the caller.
    watched(&bell).await;
    let rang = Instant::now();
    bell.ring();
    let ring = sub.topic("hiktalk/cam0/ring").await;
    let took = rang.elapsed();
    assert!(took < Duration::from_secs(1), "the ring took {took:?}");
    eprintln!("the ring on the broker {} ms after the press", took.as_millis());
    let v = ring.json();
    assert_eq!((v["event_type"].as_str(), ring.retained), (Some("ring"), false), "{v}");
    assert_eq!(v["caller"]["floorNo"], 1, "{v}");
    sub.says("hiktalk/cam0/call_state", "ring").await;

    // The reject button: callSignal at the device, the outcome `--json` prints on the result topic.
    broker.command("cam0", "reject", "PRESS").await;
    let r = sub.topic("hiktalk/cam0/result/reject").await.json();
    assert_eq!((r["reason"].as_str(), r["call_state"].as_str(), r["exit_code"].as_i64()), (Some("done"), Some("idle"), Some(0)), "{r}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::CallSignal { cmd, accepted: true } if cmd == "reject")), 1);
    sub.says("hiktalk/cam0/call_state", "idle").await;
    // Nothing rings now: the device's refusal, as the shell would say it.
    broker.command("cam0", "answer", "PRESS").await;
    let r = sub.topic("hiktalk/cam0/result/answer").await.json();
    assert_eq!(r["reason"], "refused", "{r}");
    broker.command("cam0", "unlock", "1").await;
    let r = sub.topic("hiktalk/cam0/result/unlock").await.json();
    assert_eq!(r["door"], 1, "{r}");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::DoorAction { door: 1, accepted: true, .. })), 1);
    broker.command("cam0", "volume", "7").await;
    let r = sub.topic("hiktalk/cam0/result/volume").await.json();
    assert_eq!(r["exit_code"], 0, "{r}");
    assert_eq!(sub.last_or_next("hiktalk/cam0/volume").await.payload, "7");
    assert_eq!(count(&bell.events(), |e| matches!(e, EventKind::Volume { to: 7, accepted: true, .. })), 1);

    // A path as a sound name: refused, nothing played.
    broker.command("cam0", "sound", "../secret").await;
    let r = sub.topic("hiktalk/cam0/result/sound").await.json();
    assert_eq!(r["reason"], "usage", "{r}");
    assert_eq!(count(&bell.events(), opened), 0);
    let log = s.stderr.lock().unwrap().clone();
    assert!(!log.contains(BROKER_PASSWORD), "{log}");
    assert!(!broker.log.lock().unwrap().contains("not authorised"), "{}", broker.log.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_through_the_text_entity_is_heard_at_the_device_as_espeak_says_it() {
    let broker = Broker::start().await;
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let mut sub = Sub::open(&broker).await;
    let mut s = serve(&broker, &[&sim], &[]).await;
    discovered(&mut sub, "text", "say").await;
    let text = "The parcel goes behind the blue gate.";
    broker.command("cam0", "say", text).await;
    let mut states = Vec::new();
    let r = loop {
        let m = sub.until(|m| m.topic == "hiktalk/cam0/session" || m.topic == "hiktalk/cam0/result/say").await;
        match m.topic.as_str() {
            "hiktalk/cam0/session" => states.push(m.payload),
            _ => break m.json(),
        }
    };
    assert_eq!((r["reason"].as_str(), r["exit_code"].as_i64()), (Some("end_of_input"), Some(0)), "{r}");
    // The announcement sensor followed the session to its end.
    sub.says("hiktalk/cam0/session", "idle").await;
    assert!(states.contains(&"playing".to_string()), "{states:?}");
    assert_eq!((count(&sim.events(), opened), count(&sim.events(), closed_by_client)), (1, 1));
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
    // What the device recorded, decoded by ffmpeg, lasts as long as espeak-ng's own rendering.
    let (pcm, rate) = heard(&sim, &last_session_id(&sim)).await;
    tool("espeak-ng", "espeak-ng");
    let wav = Command::new("espeak-ng").args(["--stdout", text]).output().unwrap().stdout;
    let want = ffmpeg_decode(tempfile::tempdir().unwrap().path(), &["-f", "wav"], &wav, rate);
    let (got, want) = (pcm.len() as f64 / f64::from(rate), want.len() as f64 / f64::from(rate));
    assert!((got - want).abs() <= 0.15, "recorded {got:.2} s, espeak-ng makes {want:.2} s");
    assert!(rms(&pcm) > 500.0, "speech, not silence: rms {}", rms(&pcm));
    // SIGTERM: `offline` said (retained) before the exit, not left to the last will.
    let child = s.child.take().unwrap();
    signal(&child, libc::SIGTERM);
    sub.until(|m| m.topic == "hiktalk/status" && m.payload == "offline").await;
    let out = tokio::time::timeout(WITHIN, wait_child(child)).await.expect("serve exits");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        broker.log.lock().unwrap().contains("hiktalk-hiktalkstatus disconnected."),
        "a clean disconnect: {}",
        broker.log.lock().unwrap()
    );
}

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_restarted_mid_session_is_reconnected_and_the_session_plays_on_alone() {
    let mut broker = Broker::start().await;
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(3), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sounds = sounds(dir.path(), 6.0);
    let mut sub = Sub::open(&broker).await;
    let s = serve(&broker, &[&sim], &["--sounds", &sounds.display().to_string()]).await;
    discovered(&mut sub, "select", "sound").await;
    broker.command("cam0", "sound", "chime").await;
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), WITHIN).await.expect("audio");
    drop(sub);
    broker.stop();
    assert!(broker.run().await, "mosquitto restarts on its port: {}", broker.log.lock().unwrap());
    // Back: hiktalk says online again, with its entities (the broker kept nothing), and the
    // outcome of the session that played on meanwhile arrives once it ends.
    let mut sub = Sub::open(&broker).await;
    discovered(&mut sub, "select", "sound").await;
    let r = sub.topic("hiktalk/cam0/result/sound").await.json();
    assert_eq!((r["reason"].as_str(), r["sessions"].as_array().map(Vec::len)), (Some("end_of_input"), Some(1)), "{r}");
    assert!((r["audio_seconds"].as_f64().unwrap() - 6.0).abs() < 0.1, "{r}");
    assert_eq!((count(&sim.events(), opened), count(&sim.events(), closed_by_client)), (1, 1), "one session, closed once");
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
    let log = s.stderr.lock().unwrap().clone();
    assert!(log.contains("trying again in"), "the loss was said: {log}");
    assert_eq!(log.matches("MQTT: connected").count(), 2, "{log}");
    // Nothing opens later either (longer than the device's idle hang-up).
    let since = sim.events().last().map_or(0.0, |e| e.t);
    let late = sim.wait_for(|e| opened(&e.kind) && e.t > since, Duration::from_secs(4)).await;
    assert!(late.is_none(), "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_a_thousand_commands_opens_one_session_and_a_retained_one_is_not_obeyed() {
    let broker = Broker::start().await;
    let sim = sim::start(SimConfig { idle_timeout: Duration::from_secs(3), ..binary_sim_config() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sounds = sounds(dir.path(), 8.0);
    // A retained command, there before hiktalk subscribes: it would run again on every
    // reconnect, so it is refused and nothing opens.
    broker.publish(&["-r", "-t", "hiktalk/cam0/command/sound", "-m", "chime"], None).await;
    let mut sub = Sub::open(&broker).await;
    let _s = serve(&broker, &[&sim], &["--sounds", &sounds.display().to_string()]).await;
    let r = sub.topic("hiktalk/cam0/result/sound").await.json();
    assert_eq!(r["reason"], "usage", "{r}");
    assert!(r["message"].as_str().unwrap().contains("retained"), "{r}");
    broker.publish(&["-r", "-n", "-t", "hiktalk/cam0/command/sound"], None).await;
    discovered(&mut sub, "select", "sound").await;
    assert_eq!(count(&sim.events(), opened), 0);

    // A thousand at once, from one client: `mosquitto_pub -l` sends one message per line.
    let lines = "chime\n".repeat(1000);
    broker.publish(&["-t", "hiktalk/cam0/command/sound", "-l"], Some(lines)).await;
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), WITHIN).await.expect("audio");
    // Every admitted command answered before the stop; the rest refused for the rate.
    let mut results = Vec::new();
    let reasons = |results: &[Value], reason: &str| results.iter().filter(|v| v["reason"] == reason).count();
    // The burst the rate lets through (less the retained one): one plays, the others are busy.
    while reasons(&results, "busy") < 3 || reasons(&results, "rate_limited") == 0 {
        results.push(sub.topic("hiktalk/cam0/result/sound").await.json());
    }
    broker.command("cam0", "stop", "PRESS").await;
    let stop = sub.topic("hiktalk/cam0/result/stop").await.json();
    assert_eq!((stop["closed"].as_bool(), stop["sessions"].as_array().map(Vec::len)), (Some(true), Some(1)), "{stop}");
    let stopped = |m: &Msg| m.topic == "hiktalk/cam0/result/sound" && m.json()["reason"] == "user_stop";
    let played = match sub.seen.iter().find(|m| stopped(m)) {
        Some(m) => m.clone(),
        None => sub.until(stopped).await,
    };
    assert_eq!(played.json()["sessions"].as_array().map(Vec::len), Some(1));
    let (opens, closes) = (count(&sim.events(), opened), count(&sim.events(), closed_by_client));
    assert_eq!((opens, closes), (1, 1), "one session for a thousand commands");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { status: 403 | 409, .. })), 0, "never two at once");
    let answered = sub.seen.iter().filter(|m| m.topic == "hiktalk/cam0/result/sound").count();
    assert!(answered < 30, "results bounded by the rate: {answered}");
    eprintln!("1000 sound commands: {opens} session, {answered} results");
}

/// A CA, and a certificate for 127.0.0.1 it signed, with its key: PEM each.
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "hiktalk test CA");
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    (issuer.pem(), cert.pem(), key.serialize_pem())
}

/// Waits until `serve` has printed `needle` on stderr (at most 20 s); all of it.
async fn printed(s: &Serve, needle: &str) -> String {
    let deadline = Instant::now() + WITHIN;
    loop {
        let text = s.stderr.lock().unwrap().clone();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle:?} within 20 s: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_checks_the_broker_against_its_ca_and_a_refused_password_is_tried_once() {
    let broker = Broker::start_with(Some(certificates())).await;
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let ca = broker.dir.path().join("ca.pem").display().to_string();
    let mut sub = Sub::open(&broker).await;
    let s = serve(&broker, &[&sim], &["--mqtt-ca", &ca]).await;
    discovered(&mut sub, "sensor", "session").await;
    broker.command("cam0", "stop", "PRESS").await;
    let r = sub.topic("hiktalk/cam0/result/stop").await.json();
    assert_eq!((r["closed"].as_bool(), r["sessions"].as_array().map(Vec::len)), (Some(true), Some(0)), "{r}");
    // The system's authorities do not know this CA: refused, and said.
    let untrusted = serve(&broker, &[&sim], &["--mqtt-topic", "untrusted"]).await;
    let log = printed(&untrusted, "trying again in").await;
    assert!(log.contains("certificate"), "{log}");
    drop(untrusted);

    // A wrong password: refused by the broker, said, never tried again.
    let wrong = serve_as(&broker, &[&sim], &["--mqtt-ca", &ca, "--mqtt-topic", "wrong"], "not-the-password").await;
    let log = printed(&wrong, "refused the login").await;
    assert!(!log.contains("not-the-password") && !log.contains(BROKER_PASSWORD), "{log}");
    // Longer than the first backoff: nothing more arrives from that client (mosquitto names no
    // client in its refusals; every other client here has the right password).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refusals = broker.log.lock().unwrap().lines().filter(|l| l.contains("not authorised")).count();
    assert_eq!(refusals, 1, "{}", broker.log.lock().unwrap());
    assert!(!s.stderr.lock().unwrap().contains(BROKER_PASSWORD));
}
