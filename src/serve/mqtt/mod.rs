//! `serve --mqtt`: the configured cameras on an MQTT broker, as Home Assistant discovers them
//! (`discovery`). Another front over the job layer, as the HTTP routes are: a command topic
//! becomes the same job call a route makes (`job::door`, the registry's plays, one queue per
//! camera), its outcome is published on a result topic as the JSON object `--json` prints, and
//! what the registry's bus says (session lifecycle, the one watcher per camera) becomes state
//! topics. The connection is kept with backoff and jitter; the last will says `offline`.
//!
//! Topics, under `--mqtt-topic` (`hiktalk`): `status` (online/offline, retained), and per
//! camera `<camera>/availability`, `/ring` (events), `/call_state`, `/session`,
//! `/session/attributes`, `/volume` (retained states), `/command/<name>` (what hiktalk obeys)
//! and `/result/<name>` (each command's outcome).

pub mod broker;
pub mod command;
pub mod discovery;

use super::App;
use super::native::{Speech, spoken_audio};
use super::registry::{Audio, Published, Queue, Refused, Session, State};
use crate::audio::decode::Input;
use crate::cli::serve::MqttArgs;
use crate::config::{ConfigError, Target};
use crate::isapi::Device;
use crate::job::door::{self, Level};
use crate::job::{Context, SimAs};
use crate::outcome::{Ending, Outcome};
use crate::output::Output;
use broker::Broker;
use command::{Admit, Command, Rate};
use discovery::Probe;
use rand::Rng;
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, Outgoing, Packet, QoS};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// The longest wait between two attempts to reach the broker.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// A connection that lasted this long was healthy: the backoff starts afresh after it (a
/// broker that accepts and drops at once is not retried every second forever).
const HEALTHY: Duration = Duration::from_secs(30);
/// Requests (publishes, subscriptions) waiting for the connection; beyond them, a state is
/// kept for the next connection and an event dropped.
const REQUESTS: usize = 512;
/// Sounds offered by the `sound` entity; more in the directory are left out (said once).
const MAX_SOUNDS: usize = 100;
/// How long the caller of a ring is asked for before the ring goes out without it.
const CALLER_WITHIN: Duration = Duration::from_millis(500);

/// One camera's topics.
pub struct Topics {
    pub status: String,
    pub availability: String,
    pub ring: String,
    pub call_state: String,
    pub session: String,
    pub session_attributes: String,
    pub volume: String,
    camera: String,
}

impl Topics {
    fn new(base: &str, slug: &str) -> Topics {
        let camera = format!("{base}/{slug}");
        Topics {
            status: format!("{base}/status"),
            availability: format!("{camera}/availability"),
            ring: format!("{camera}/ring"),
            call_state: format!("{camera}/call_state"),
            session: format!("{camera}/session"),
            session_attributes: format!("{camera}/session/attributes"),
            volume: format!("{camera}/volume"),
            camera,
        }
    }

    pub fn command(&self, name: &str) -> String {
        format!("{}/command/{name}", self.camera)
    }

    fn result(&self, name: &str) -> String {
        format!("{}/result/{name}", self.camera)
    }
}

/// A configured camera as MQTT shows it.
pub struct Camera {
    /// Its config name.
    pub name: String,
    /// The name as a topic level and an entity id: `[a-z0-9_]`.
    pub slug: String,
    /// `events = true`: serve's watcher reports its rings and call state.
    pub watched: bool,
    pub topics: Topics,
    target: Target,
}

/// `front_door` from `Front Door`: a topic level with no wildcard or separator, and an entity
/// id Home Assistant takes.
fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(64).collect()
}

/// A topic given on the command line: levels without wildcards.
fn checked_topic(flag: &str, topic: &str) -> Result<String, ConfigError> {
    let t = topic.trim_matches('/');
    if t.is_empty() || t.contains(['+', '#', '\0']) || t.split('/').any(str::is_empty) {
        return Err(ConfigError::Invalid { camera: "mqtt".into(), message: format!("{flag} {topic:?} is not a topic without wildcards") });
    }
    Ok(t.to_string())
}

/// Everything the MQTT front needs, checked before `serve` starts: a mistake in it is a usage
/// error at start, not a silent broker.
pub struct Setup {
    broker: Broker,
    base: String,
    discovery: String,
    cameras: Vec<Camera>,
    sounds: BTreeMap<String, PathBuf>,
    queue: usize,
}

/// Reads `serve`'s MQTT flags; `None` without `--mqtt`.
pub fn setup(args: &MqttArgs, targets: Vec<Target>, out: &Output) -> Result<Option<Setup>, ConfigError> {
    let Some(url) = &args.mqtt else { return Ok(None) };
    let invalid = |message: String| ConfigError::Invalid { camera: "mqtt".into(), message };
    let base = checked_topic("--mqtt-topic", &args.mqtt_topic)?;
    let discovery = checked_topic("--mqtt-discovery-prefix", &args.mqtt_discovery_prefix)?;
    let broker = broker::from_args(args, url, &format!("{base}/status"), out)?;
    let mut cameras: Vec<Camera> = Vec::new();
    for target in targets {
        let name = target.name().to_string();
        let s = slug(&name);
        if let Some(other) = cameras.iter().find(|c| c.slug == s) {
            return Err(invalid(format!("the cameras {:?} and {name:?} would share the MQTT topic {base}/{s}; rename one", other.name)));
        }
        let watched = matches!(&target, Target::Camera(c) if c.events);
        cameras.push(Camera { topics: Topics::new(&base, &s), name, slug: s, watched, target });
    }
    let sounds = match &args.sounds {
        None => BTreeMap::new(),
        Some(dir) => sounds(dir, out).map_err(|e| invalid(format!("cannot read the sounds directory {}: {e}", dir.display())))?,
    };
    Ok(Some(Setup { broker, base, discovery, cameras, sounds, queue: usize::from(args.mqtt_queue) }))
}

/// The sounds in `dir` by name (the file name without its extension): audio files whose name is
/// plain (letters, digits, space, `_-.`, not hidden), at most [`MAX_SOUNDS`].
fn sounds(dir: &std::path::Path, out: &Output) -> std::io::Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let audio = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["wav", "mp3", "flac", "ogg", "oga"].contains(&e.to_ascii_lowercase().as_str()));
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        let plain = !name.starts_with('.') && name.chars().all(|c| c.is_alphanumeric() || " _-.".contains(c)) && name.len() <= 64;
        if audio && plain && path.is_file() {
            found.insert(name.to_string(), path.clone());
        }
    }
    if found.len() > MAX_SOUNDS {
        out.warn(&format!("{} holds {} sounds; the first {MAX_SOUNDS} by name are offered", dir.display(), found.len()));
        found = found.into_iter().take(MAX_SOUNDS).collect();
    }
    Ok(found)
}

/// The MQTT front while `serve` runs.
struct Front {
    app: Arc<App>,
    client: AsyncClient,
    base: String,
    discovery: String,
    cameras: Vec<Camera>,
    sounds: BTreeMap<String, PathBuf>,
    names: Vec<String>,
    queue: usize,
    /// Each camera's device, from its probe: the caller of a ring is asked there.
    devices: Mutex<HashMap<usize, Arc<Device>>>,
    /// Retained topics and what they say now: published again on every connection (a broker
    /// restarted without persistence forgot them).
    retained: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Per camera: the rate of `stop`, and of every other command.
    rates: Mutex<HashMap<(usize, bool), Rate>>,
    /// Per camera: the announcements MQTT started that are not over, and the lock that admits
    /// one at a time.
    announcing: Vec<tokio::sync::Mutex<Vec<Arc<Session>>>>,
    out: Output,
}

/// Runs the MQTT front until the process's stop: then `offline` is said and the connection
/// closed. A refused login ends it at once (never retried: brokers lock accounts too).
pub async fn run(app: Arc<App>, setup: Setup, out: Output) {
    let stop = app.registry.process_stop();
    // Subscribed before the probes: nothing the watchers say meanwhile is missed.
    let bus = app.registry.subscribe();
    let (client, mut eventloop) = AsyncClient::new(setup.broker.options.clone(), REQUESTS);
    let front = Arc::new(Front {
        announcing: setup.cameras.iter().map(|_| Default::default()).collect(),
        names: setup.sounds.keys().cloned().collect(),
        app,
        client,
        base: setup.base,
        discovery: setup.discovery,
        cameras: setup.cameras,
        sounds: setup.sounds,
        queue: setup.queue,
        devices: Default::default(),
        retained: Default::default(),
        rates: Default::default(),
        out,
    });
    for i in 0..front.cameras.len() {
        front.retain(&front.cameras[i].topics.session, "idle");
        front.discover(i, &Probe::default());
    }
    tokio::spawn(front.clone().probe_all());
    tokio::spawn(front.clone().follow(bus));
    let shown = setup.broker.shown;
    let (mut failures, mut connected_at, mut said_down) = (0u32, None::<tokio::time::Instant>, false);
    let mut rng: rand::rngs::StdRng = rand::SeedableRng::from_os_rng();
    loop {
        let event = tokio::select! {
            _ = stop.wait() => break,
            e = eventloop.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected_at = Some(tokio::time::Instant::now());
                said_down = false;
                out.note(&format!("MQTT: connected to {shown}; {} camera(s) under {}/", front.cameras.len(), front.discovery));
                tokio::spawn(front.clone().announce());
            }
            Ok(Event::Incoming(Packet::Publish(p))) => front.incoming(p),
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized))) => {
                out.warn(&format!(
                    "MQTT: {shown} refused the login ({code:?}); not tried again: check the user in --mqtt and HIKTALK_MQTT_PASSWORD or --mqtt-password-file"
                ));
                return;
            }
            Err(e) => {
                if connected_at.take().is_some_and(|at| at.elapsed() >= HEALTHY) {
                    failures = 0;
                }
                let ceiling = BACKOFF_BASE.saturating_mul(1u32 << failures.min(16)).min(BACKOFF_CAP);
                let floor = (ceiling / 2).max(BACKOFF_BASE);
                let delay = Duration::from_secs_f64(rng.random_range(floor.as_secs_f64()..=ceiling.as_secs_f64().max(floor.as_secs_f64())));
                failures = failures.saturating_add(1);
                // Said when the connection goes, and every time the wait reaches its ceiling.
                if !said_down || ceiling == BACKOFF_CAP {
                    out.warn(&format!("MQTT: {shown}: {e}; trying again in {:.1} s", delay.as_secs_f64()));
                    said_down = true;
                }
                tokio::select! {
                    _ = stop.wait() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    // A goodbye the broker keeps (the will is for a connection that dies without one).
    let status = format!("{}/status", front.base);
    if connected_at.is_some() {
        let _ = front.client.try_publish(status, QoS::AtLeastOnce, true, "offline");
        let _ = front.client.try_disconnect();
        let flushed = async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), flushed).await;
    }
}

impl Front {
    /// Publishes a state that is kept (and published again on each connection).
    fn retain(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        let payload = payload.into();
        let mut retained = self.retained.lock().unwrap_or_else(|p| p.into_inner());
        if retained.get(topic) == Some(&payload) {
            return;
        }
        retained.insert(topic.to_string(), payload.clone());
        let _ = self.client.try_publish(topic, QoS::AtLeastOnce, true, payload);
    }

    /// Publishes an event or a result; while the broker is away, one too many is dropped.
    fn send(&self, topic: String, payload: Value) {
        let _ = self.client.try_publish(topic, QoS::AtLeastOnce, false, payload.to_string());
    }

    fn discover(&self, i: usize, probe: &Probe) {
        let cam = &self.cameras[i];
        for (topic, config) in discovery::entities(&self.discovery, cam, probe, &self.names) {
            self.retain(&topic, config.to_string());
        }
        if let Some((level, _, _)) = probe.volume {
            self.retain(&cam.topics.volume, level.to_string());
        }
    }

    /// On each connection: subscribe, then every retained topic (discovery first), then
    /// `online` last, once the entities it makes available exist.
    async fn announce(self: Arc<Self>) {
        let commands = format!("{}/+/command/+", self.base);
        let birth = format!("{}/status", self.discovery);
        for topic in [commands, birth] {
            if self.client.subscribe(topic, QoS::AtLeastOnce).await.is_err() {
                return;
            }
        }
        self.republish().await;
    }

    async fn republish(&self) {
        let all: Vec<(String, Vec<u8>)> = self.retained.lock().unwrap_or_else(|p| p.into_inner()).clone().into_iter().collect();
        let prefix = format!("{}/", self.discovery);
        let (configs, states): (Vec<_>, Vec<_>) = all.into_iter().partition(|(t, _)| t.starts_with(&prefix));
        for (topic, payload) in configs.into_iter().chain(states) {
            if self.client.publish(topic, QoS::AtLeastOnce, true, payload).await.is_err() {
                return;
            }
        }
        let _ = self.client.publish(format!("{}/status", self.base), QoS::AtLeastOnce, true, "online").await;
    }

    /// A message on a subscribed topic: Home Assistant's birth (`online` again after its
    /// restart: discovery is sent again), or a command, admitted by its camera's rate.
    fn incoming(self: &Arc<Self>, p: rumqttc::Publish) {
        if p.topic == format!("{}/status", self.discovery) {
            if p.payload.as_ref() == b"online" {
                let front = self.clone();
                tokio::spawn(async move { front.republish().await });
            }
            return;
        }
        // An empty message is how a retained one is cleared, not a command.
        if p.payload.is_empty() {
            return;
        }
        let Some(rest) = p.topic.strip_prefix(&format!("{}/", self.base)) else { return };
        let mut levels = rest.split('/');
        let (Some(slug), Some("command"), Some(name), None) = (levels.next(), levels.next(), levels.next(), levels.next()) else { return };
        // Topics of cameras that are not configured are no one's: nothing to answer.
        let Some(i) = self.cameras.iter().position(|c| c.slug == slug) else { return };
        let name = if command::NAMES.contains(&name) { name.to_string() } else { "invalid".to_string() };
        // `stop` is the way out of a flood of the others: it has a rate of its own.
        let key = (i, name == "stop");
        let admitted = self.rates.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().admit();
        match admitted {
            Admit::Yes => {}
            Admit::NoSay => return self.send(self.cameras[i].topics.result(&name), command::rate_refusal()),
            Admit::NoQuiet => return,
        }
        let front = self.clone();
        tokio::spawn(async move {
            let cam = &front.cameras[i];
            let result = if p.retain {
                // A retained command would run again on every reconnect.
                let detail = "retained commands are not obeyed (each would run again on every reconnect); publish it without retain".into();
                Outcome::new(Some(cam.name.clone()), Ending::Usage { detail }).to_json()
            } else {
                match Command::parse(&name, &p.payload, &front.names) {
                    Ok(c) => front.execute(i, c).await,
                    Err(e) => Outcome::new(Some(cam.name.clone()), e).to_json(),
                }
            };
            front.send(cam.topics.result(&name), result);
        });
    }

    /// One command, through the same job calls as the HTTP routes; its outcome's JSON.
    async fn execute(&self, i: usize, cmd: Command) -> Value {
        let cam = &self.cameras[i];
        match cmd {
            Command::Signal(c) => self.on_device(i, move |d| async move { door::signal(&d.device, c).await }).await.to_json(),
            Command::Unlock(n) => self.on_device(i, move |d| async move { door::unlock(&d.device, n).await }).await.to_json(),
            Command::Volume(level) => {
                let set = Level { level, mic: false, speaker: false };
                let o = self
                    .on_device(i, move |d| async move {
                        let (line, vols) = door::volume(&d.device, d.channel.as_deref(), Some(set)).await?;
                        Ok((line.unwrap_or_default(), json!({ "volumes": vols })))
                    })
                    .await;
                if o.exit_code == 0 {
                    self.retain(&cam.topics.volume, level.to_string());
                }
                o.to_json()
            }
            Command::Stop => {
                let outcomes = self.app.registry.stop_all(Some(&cam.name)).await;
                let confirmed = outcomes.iter().all(super::native::close_confirmed);
                json!({ "closed": confirmed, "sessions": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>() })
            }
            Command::Say(text) => {
                let speech: Speech = match serde_json::from_value(json!({ "text": text })) {
                    Ok(s) => s,
                    Err(e) => return Outcome::new(Some(cam.name.clone()), Ending::Internal { detail: e.to_string() }).to_json(),
                };
                match spoken_audio(&self.app, speech).await {
                    Ok(audio) => self.play(i, audio).await,
                    Err(e) => Outcome::new(Some(cam.name.clone()), e).to_json(),
                }
            }
            Command::Sound(name) => {
                let Some(path) = self.sounds.get(&name) else {
                    return Outcome::new(Some(cam.name.clone()), Ending::Usage { detail: format!("no sound {name:?}") }).to_json();
                };
                let audio = Audio { input: Input::Path(path.clone()), source: format!("sound:{name}"), talk: self.app.talk.clone() };
                self.play(i, audio).await
            }
        }
    }

    /// A request to the camera's device (`job::door`), its outcome.
    async fn on_device<F, Fut>(&self, i: usize, f: F) -> Outcome
    where
        F: FnOnce(crate::job::Connected) -> Fut,
        Fut: Future<Output = Result<(String, Value), Ending>>,
    {
        let registry = &self.app.registry;
        let ctx = Context { config: registry.config.clone(), out: quiet(), stop: registry.process_stop().child() };
        door::on_target(self.cameras[i].target.clone(), &registry.login, &ctx, f).await
    }

    /// An announcement on the camera's one queue: refused as busy while one plays (or, with
    /// `--mqtt-queue N`, while N wait behind it); the outcome once it is over.
    async fn play(&self, i: usize, audio: Audio) -> Value {
        let cam = &self.cameras[i];
        let mut live = self.announcing[i].lock().await;
        live.retain(|s| s.is_live());
        let queue = match self.queue {
            0 => Queue::Reject,
            n if live.len() > n => {
                let detail = format!("{} is playing an announcement and {n} wait behind it (--mqtt-queue {n})", cam.name);
                return Outcome::new(Some(cam.name.clone()), Ending::Busy { detail }).to_json();
            }
            _ => Queue::Wait,
        };
        let sessions = match self.app.registry.play(vec![cam.target.clone()], audio, queue).await {
            Ok(s) => s,
            Err(Refused::Busy(name)) => {
                let detail = format!("{name} is playing an announcement (serve --mqtt-queue N lets N wait behind it)");
                return Outcome::new(Some(name), Ending::Busy { detail }).to_json();
            }
            Err(Refused::QueueFull(name)) => {
                let message = format!("{name} holds {} plays already; try again when one ended", super::registry::QUEUE_MAX);
                return json!({ "reason": "queue_full", "device": name, "message": message });
            }
            Err(Refused::ShuttingDown) => {
                return json!({ "reason": "shutting_down", "message": "hiktalk serve is closing its sessions to exit" });
            }
        };
        live.extend(sessions.iter().cloned());
        drop(live);
        let outcomes = futures_util::future::join_all(sessions.iter().map(|s| s.ended())).await;
        let mut o = crate::job::fleet::combine(outcomes);
        o.figures.insert("sessions".into(), sessions.iter().map(|s| Value::String(s.id.to_string())).collect());
        o.to_json()
    }

    /// What each camera offers (call control, doors, a volume), asked once at the start; a
    /// camera that cannot be reached is asked again with backoff until it answers, and its
    /// entities then completed.
    async fn probe_all(self: Arc<Self>) {
        let probes = (0..self.cameras.len()).map(|i| {
            let front = self.clone();
            async move {
                let mut failures = 0u32;
                loop {
                    match front.probe(i).await {
                        Ok((probe, device)) => {
                            front.devices.lock().unwrap_or_else(|p| p.into_inner()).insert(i, device);
                            front.discover(i, &probe);
                            front.retain(&front.cameras[i].topics.availability, "online");
                            return;
                        }
                        Err(ending) => {
                            front.retain(&front.cameras[i].topics.availability, "offline");
                            if matches!(ending, Ending::Auth { .. }) {
                                front.out.warn(&format!(
                                    "MQTT: {}: {}; its entities stay unavailable",
                                    front.cameras[i].name,
                                    ending.describe()
                                ));
                                return;
                            }
                        }
                    }
                    let wait = BACKOFF_BASE.saturating_mul(1u32 << failures.min(6)).min(Duration::from_secs(60));
                    failures += 1;
                    let stop = front.app.registry.process_stop();
                    tokio::select! {
                        _ = stop.wait() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        });
        futures_util::future::join_all(probes).await;
    }

    async fn probe(&self, i: usize) -> Result<(Probe, Arc<Device>), Ending> {
        let registry = &self.app.registry;
        let ctx = Context { config: registry.config.clone(), out: quiet(), stop: registry.process_stop().child() };
        let c = crate::job::connect::connect_target(self.cameras[i].target.clone(), &registry.login, None, &ctx, SimAs::Camera)
            .await
            .map_err(|e| Outcome::failed(None, &e).ending)?;
        let d = &c.device;
        let info = d.device_info().await.map_err(|e| Ending::from_isapi(&e))?;
        let doorbell = d.call_state().await.is_ok();
        let doors = match d.door_capabilities().await {
            Ok(Some(caps)) => caps.doors.unwrap_or(1).min(8),
            _ => u32::from(doorbell),
        };
        let volume = match door::volume(d, c.channel.as_deref(), None).await {
            Ok((_, v)) => match v.audio_out {
                Some(a) if a.talk_volume.is_some() => a.talk_volume.map(|t| (t, a.min.unwrap_or(0), a.max.unwrap_or(10))),
                _ => v.speaker.map(|s| (s, 0, 100)),
            },
            Err(_) => None,
        };
        let probe = Probe { doorbell, doors, volume, model: info.model, firmware: info.firmware_version };
        Ok((probe, Arc::new(c.device)))
    }

    /// The registry's bus: session lifecycle as each camera's announcement state, the
    /// watchers' rings, call states and stream health as its events and availability.
    async fn follow(self: Arc<Self>, mut bus: broadcast::Receiver<Published>) {
        let stop = self.app.registry.process_stop();
        loop {
            let published = tokio::select! {
                r = bus.recv() => r,
                _ = stop.wait() => return,
            };
            let p = match published {
                Ok(p) => p,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(i) = self.cameras.iter().position(|c| p.data["camera"] == c.name.as_str()) else { continue };
            let topics = &self.cameras[i].topics;
            match (p.kind, p.data["type"].as_str()) {
                ("session", _) => {
                    // The camera's busiest session says what it is doing; none live: idle.
                    let states: Vec<_> = self.app.registry.live(&self.cameras[i].name).iter().map(|s| s.state()).collect();
                    let now = [State::Playing, State::Opening, State::Closing, State::Queued].into_iter().find(|s| states.contains(s));
                    let word = now.map_or("idle".to_string(), |s| {
                        serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                    });
                    self.retain(&topics.session_attributes, p.data.to_string());
                    self.retain(&topics.session, word);
                }
                ("device", Some("ring")) => {
                    let device = self.devices.lock().unwrap_or_else(|p| p.into_inner()).get(&i).cloned();
                    let front = self.clone();
                    tokio::spawn(async move {
                        let caller = match device {
                            Some(d) => tokio::time::timeout(CALLER_WITHIN, d.caller_info()).await.ok().and_then(Result::ok).flatten(),
                            None => None,
                        };
                        let ring = json!({ "event_type": "ring", "time": p.data["time"], "source": p.data["source"], "caller": caller });
                        front.send(front.cameras[i].topics.ring.clone(), ring);
                    });
                }
                ("device", Some("callStatus")) => {
                    if let Some(state) = p.data["state"].as_str() {
                        self.retain(&topics.call_state, state);
                    }
                }
                ("device", Some("connected")) => self.retain(&topics.availability, "online"),
                ("device", Some("reconnecting" | "watch_ended")) => self.retain(&topics.availability, "offline"),
                _ => {}
            }
        }
    }
}

fn quiet() -> Output {
    Output { quiet: true, json: false, verbose: false }
}
