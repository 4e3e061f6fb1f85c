//! The sessions `serve` runs and one queue per camera, shared by every front end of the process:
//! a flood of requests opens at most one session per camera at a time.

use super::metrics::Metrics;
use crate::audio::decode::Input;
use crate::cli::{Login, TalkArgs};
use crate::codec::CodecParams;
use crate::config::Target;
use crate::job::fleet::Member;
use crate::job::{self, Context, Event, Events, Replay, SimAs};
use crate::outcome::{Ending, Outcome};
use crate::output::Output;
use crate::session::{Progress, Stop};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedMutexGuard, broadcast, watch};

/// Closed sessions kept for `GET /api/sessions` before the oldest are forgotten.
const KEEP_CLOSED: usize = 100;
/// Plays a camera holds (playing and queued); one more is refused: each holds its audio.
pub const QUEUE_MAX: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for the camera's previous announcement to end.
    Queued,
    Opening,
    Playing,
    Closing,
    Closed,
}

/// What a play does when the camera is already playing something.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Queue {
    /// Play after it (the default).
    Wait,
    /// Stop it first.
    Interrupt,
    /// Refuse (409).
    Reject,
}

/// One camera's part of a play: its state, its live figures, and its outcome once over.
pub struct Session {
    pub id: u64,
    pub camera: String,
    /// `play` (an announcement) or `call` (the handset's live talk).
    pub kind: &'static str,
    /// What it plays, as the go2rtc routes show it (`ffmpeg:...`, `upload`, `text`).
    pub source: String,
    stop: Stop,
    stopping: AtomicBool,
    progress: Arc<Progress>,
    bus: broadcast::Sender<Published>,
    state: watch::Sender<State>,
    codec: Mutex<Option<CodecParams>>,
    done: watch::Sender<Option<Outcome>>,
}

impl Session {
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Resolves once audio goes out, or the session is over without any.
    pub async fn started(&self) {
        let _ = self.state.subscribe().wait_for(|s| matches!(s, State::Playing | State::Closed)).await;
    }

    pub fn is_live(&self) -> bool {
        self.state() != State::Closed
    }

    /// Asks the session to close (once: a second trigger of a stop exits the process).
    pub fn stop(&self) {
        self.stop_for("DELETE");
    }

    /// [`Session::stop`], saying why (the outcome's `signal`: `DELETE`, `hangup`, ...).
    pub fn stop_for(&self, why: &'static str) {
        if !self.stopping.swap(true, Ordering::SeqCst) {
            let closing = self.state.send_if_modified(|s| {
                let live = *s != State::Closed;
                if live {
                    *s = State::Closing;
                }
                live
            });
            if closing {
                self.publish();
            }
            self.stop.trigger(why);
        }
    }

    /// The outcome, once the session is over (its close confirmed or not).
    pub async fn ended(&self) -> Outcome {
        let mut rx = self.done.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(o) => o.clone().unwrap_or_else(|| Outcome::new(Some(self.camera.clone()), Ending::Done)),
            Err(_) => Outcome::new(Some(self.camera.clone()), Ending::Internal { detail: "the session's task ended".into() }),
        }
    }

    /// The session as the API shows it.
    pub fn to_json(&self) -> serde_json::Value {
        let (state, codec) = (self.state(), *self.codec.lock().unwrap_or_else(|p| p.into_inner()));
        let outcome = self.done.borrow().as_ref().map(Outcome::to_json);
        serde_json::json!({
            "id": self.id.to_string(),
            "camera": self.camera,
            "kind": self.kind,
            "state": state,
            "seconds": self.progress.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            "codec": codec,
            "reason": outcome.as_ref().and_then(|o| o.get("reason").cloned()),
            "outcome": outcome,
        })
    }

    fn on_event(&self, e: &Event) {
        let to = match e {
            Event::Opening { .. } => State::Opening,
            Event::Playing { codec, .. } => {
                *self.codec.lock().unwrap_or_else(|p| p.into_inner()) = Some(*codec);
                State::Playing
            }
            Event::Note { message, .. } => {
                let mut data = self.to_json();
                data["note"] = crate::config::redact(message).into();
                let _ = self.bus.send(Published { kind: "session", data });
                return;
            }
            Event::Ended { .. } => return,
        };
        // A session asked to close stays closing whatever its job says meanwhile.
        let moved = self.state.send_if_modified(|s| {
            let moves = !matches!(s, State::Closing | State::Closed) && *s != to;
            if moves {
                *s = to;
            }
            moves
        });
        if moved {
            self.publish();
        }
    }

    fn finish(&self, outcome: Outcome) {
        self.state.send_replace(State::Closed);
        self.done.send_replace(Some(outcome));
        self.publish();
    }

    /// Tells `/api/events` the session as it is now (nobody listening is fine).
    fn publish(&self) {
        let _ = self.bus.send(Published { kind: "session", data: self.to_json() });
    }
}

/// One event on the bus: its SSE event name (`session`, `device`) and its JSON.
#[derive(Debug, Clone)]
pub struct Published {
    pub kind: &'static str,
    pub data: serde_json::Value,
}

/// The audio of one play, shared by the sessions of a group.
pub struct Audio {
    pub input: Input,
    pub source: String,
    pub talk: TalkArgs,
}

/// Why a play was not started.
#[derive(Debug)]
pub enum Refused {
    /// `Queue::Reject`, and this camera plays something.
    Busy(String),
    /// The process is closing its sessions to exit.
    ShuttingDown,
    /// This camera holds [`QUEUE_MAX`] plays already.
    QueueFull(String),
}

pub struct Registry {
    pub config: Option<PathBuf>,
    pub login: Login,
    /// The process's stop: sessions get children of it, so a second signal names what they hold.
    stop: Stop,
    sessions: Mutex<BTreeMap<u64, Arc<Session>>>,
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    next: AtomicU64,
    /// Session lifecycle and device events for `/api/events`: each once.
    bus: broadcast::Sender<Published>,
    pub metrics: Metrics,
}

/// Lifecycle events an SSE client may fall behind by before it misses some.
const BUS: usize = 256;

impl Registry {
    pub fn new(config: Option<PathBuf>, login: Login, stop: Stop) -> Registry {
        Registry {
            config,
            login,
            stop,
            sessions: Default::default(),
            queues: Default::default(),
            next: AtomicU64::new(1),
            bus: broadcast::channel(BUS).0,
            metrics: Metrics::default(),
        }
    }

    /// The process's stop: long answers (SSE) end when it is asked for.
    pub fn process_stop(&self) -> Stop {
        self.stop.clone()
    }

    /// The session lifecycle and device events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.bus.subscribe()
    }

    /// Tells `/api/events` what a device said (nobody listening is fine).
    pub fn publish_device(&self, data: serde_json::Value) {
        let _ = self.bus.send(Published { kind: "device", data });
    }

    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let id: u64 = id.parse().ok()?;
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// The sessions of `camera` not yet closed.
    pub fn live(&self, camera: &str) -> Vec<Arc<Session>> {
        self.all().into_iter().filter(|s| s.camera == camera && s.is_live()).collect()
    }

    /// Stops every live session of `camera` (all cameras: `None`) and waits until each is
    /// over; their outcomes.
    pub async fn stop_all(&self, camera: Option<&str>) -> Vec<Outcome> {
        let sessions: Vec<_> = self.all().into_iter().filter(|s| s.is_live() && camera.is_none_or(|c| s.camera == c)).collect();
        sessions.iter().for_each(|s| s.stop());
        futures_util::future::join_all(sessions.iter().map(|s| s.ended())).await
    }

    fn queue(&self, camera: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).entry(camera.to_string()).or_default().clone()
    }

    /// Starts playing `audio` to every target, one session each, queued behind what each camera
    /// plays already as `queue` says. `Err(camera)`: `Queue::Reject` and that camera is busy
    /// (nothing was started).
    pub async fn play(self: &Arc<Self>, targets: Vec<Target>, audio: Audio, queue: Queue) -> Result<Vec<Arc<Session>>, Refused> {
        if self.stop.requested().is_some() {
            return Err(Refused::ShuttingDown);
        }
        let names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
        let mut held: Vec<Option<OwnedMutexGuard<()>>> = Vec::new();
        for name in &names {
            if self.live(name).len() >= QUEUE_MAX {
                return Err(Refused::QueueFull(name.clone()));
            }
            match queue {
                Queue::Reject => match self.queue(name).try_lock_owned() {
                    Ok(guard) => held.push(Some(guard)),
                    Err(_) => return Err(Refused::Busy(name.clone())),
                },
                Queue::Interrupt => {
                    // The announcement playing stops; those queued behind it keep their turn.
                    self.live(name).iter().filter(|s| s.state() != State::Queued).for_each(|s| s.stop());
                    held.push(None);
                }
                Queue::Wait => held.push(None),
            }
        }
        let audio = Arc::new(audio);
        let mut started = Vec::new();
        for ((target, name), guard) in targets.into_iter().zip(names).zip(held) {
            let session = self.open(&name, &audio.source, "play");
            let (registry, audio) = (self.clone(), audio.clone());
            let job = move |ctx: Context, events: Events, progress: Arc<Progress>| async move {
                let opened = job::open_input(&audio.input, None, &ctx.stop).await?;
                let connected = job::connect::connect_target(target, &registry.login, None, &ctx, SimAs::Camera).await;
                let members = vec![Member { name: name.clone(), connected }];
                job::play(opened, members, &audio.talk, Replay::Resume, &ctx, events, move |_| progress.clone()).await
            };
            let queue = self.queue(&session.camera);
            tokio::spawn(self.clone().run(session.clone(), queue, guard, job));
            started.push(session);
        }
        Ok(started)
    }

    /// Starts a live call on `camera` (the handset): `job` runs in the camera's turn, which it
    /// takes now or not at all (one call per camera, and a call does not wait behind an
    /// announcement). It gets the session's context (its stop), where its events go, and the
    /// session's live counters.
    pub fn call<F, Fut>(self: &Arc<Self>, camera: &str, job: F) -> Result<Arc<Session>, Refused>
    where
        F: FnOnce(Context, Events, Arc<Progress>) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<Outcome>> + Send + 'static,
    {
        if self.stop.requested().is_some() {
            return Err(Refused::ShuttingDown);
        }
        let guard = self.queue(camera).try_lock_owned().map_err(|_| Refused::Busy(camera.to_string()))?;
        let session = self.open(camera, "handset", "call");
        tokio::spawn(self.clone().run(session.clone(), self.queue(camera), Some(guard), job));
        Ok(session)
    }

    /// A new session of `camera`, queued, registered and announced.
    fn open(&self, camera: &str, source: &str, kind: &'static str) -> Arc<Session> {
        let session = Arc::new(Session {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            camera: camera.to_string(),
            kind,
            source: source.to_string(),
            stop: self.stop.child(),
            stopping: AtomicBool::new(false),
            progress: Arc::default(),
            bus: self.bus.clone(),
            state: watch::channel(State::Queued).0,
            codec: Mutex::new(None),
            done: watch::channel(None).0,
        });
        self.insert(session.clone());
        self.metrics.started(camera);
        session.publish();
        session
    }

    fn insert(&self, session: Arc<Session>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.insert(session.id, session);
        let closed: Vec<u64> = sessions.iter().filter(|(_, s)| !s.is_live()).map(|(id, _)| *id).collect();
        for id in closed.iter().take(closed.len().saturating_sub(KEEP_CLOSED)) {
            sessions.remove(id);
        }
    }

    /// One session from its turn in the camera's queue to its outcome: its `job` (the same
    /// jobs as the shell's), its events turned into the session's states.
    async fn run<F, Fut>(
        self: Arc<Self>,
        session: Arc<Session>,
        queue: Arc<tokio::sync::Mutex<()>>,
        guard: Option<OwnedMutexGuard<()>>,
        job: F,
    ) where
        F: FnOnce(Context, Events, Arc<Progress>) -> Fut,
        Fut: Future<Output = anyhow::Result<Outcome>>,
    {
        let name = session.camera.clone();
        let ctx =
            Context { config: self.config.clone(), out: Output { quiet: true, json: false, verbose: false }, stop: session.stop.clone() };
        let _turn = match guard {
            Some(g) => Some(g),
            None => tokio::select! {
                g = queue.lock_owned() => Some(g),
                s = ctx.stop.wait() => {
                    // Stopped while queued: nothing was opened.
                    let outcome = Outcome::new(Some(name.clone()), Ending::UserStop { signal: s.to_string() });
                    self.metrics.ended(&name, &outcome);
                    return session.finish(outcome);
                }
            },
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher = {
            let session = session.clone();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    session.on_event(&e);
                }
            })
        };
        let result = job(ctx, Events::to(tx), session.progress.clone()).await;
        let _ = watcher.await;
        let outcome = result.unwrap_or_else(|e| Outcome::failed(Some(name.clone()), &e));
        self.metrics.ended(&name, &outcome);
        session.finish(outcome);
    }
}
