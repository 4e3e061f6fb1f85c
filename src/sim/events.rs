//! The event log: every observable thing the device does, as JSON lines and in memory.
//!
//! Tests assert on this log, so it is the simulator's real output; the WAV files and the
//! summary are derived views.

use super::playout::Listened;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::broadcast;

/// One logged event. `t` is seconds since the simulator started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub t: f64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. `session_id` is the device's id for the session; on profiles that return no
/// sessionId from open (legacy) it is an internal id that the client never sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// Written when the answer goes out; `status` 0 means no answer was sent (stall, reset, close).
    Request {
        peer: String,
        method: String,
        path: String,
        query: String,
        status: u16,
    },
    AuthOk {
        user: String,
    },
    /// `reason`: bad_password, unknown_user, stale_nonce, nc_replay, no_credentials, locked,
    /// bad_digest (malformed or mismatched Digest fields). `attempts`: failures counted so far.
    AuthFailed {
        peer: String,
        reason: String,
        attempts: u32,
    },
    Locked {
        peer: String,
        seconds: u64,
    },
    /// `session_id` is what open returned (None on legacy); `id` is the session's id in all
    /// other events.
    SessionOpened {
        channel: u32,
        session_id: Option<String>,
        id: String,
    },
    OpenRefused {
        channel: u32,
        status: u16,
        reason: String,
    },
    /// `by`: client or device.
    SessionClosed {
        channel: u32,
        session_id: String,
        by: String,
        reason: String,
    },
    SessionExpired {
        channel: u32,
        session_id: String,
    },
    AudioStarted {
        channel: u32,
        session_id: String,
    },
    /// `reason`: client_closed, client_reset, hangup_idle, fault, ring, session_closed,
    /// shutdown. `upload` numbers the uploads of a session from 1; `seconds` is the audio
    /// received by the wire format's count; the rest is what a listener heard (`Listened`).
    AudioEnded {
        channel: u32,
        session_id: String,
        upload: u32,
        bytes: u64,
        seconds: f64,
        reason: String,
        raw: Option<PathBuf>,
        wav: Option<PathBuf>,
        #[serde(flatten)]
        listened: Listened,
    },
    /// A close was refused (a missing or wrong sessionId where they are required).
    CloseRefused {
        channel: u32,
        reason: String,
    },
    /// A request asked `Expect: 100-continue`.
    ExpectContinue {
        path: String,
    },
    /// A token was handed out (`/ISAPI/Security/token`), or an audioData request used one.
    Token {
        used: bool,
    },
    /// The device could not decode what it received (bytes are still counted).
    DecodeError {
        channel: u32,
        session_id: String,
        error: String,
    },
    /// An audioData PUT was refused (no session, wrong sessionId, already streaming).
    AudioRefused {
        channel: u32,
        status: u16,
        reason: String,
    },
    /// The microphone stream (audioData GET) started or ended. `first_byte_at`: when the
    /// answer's first byte was written (seconds on this log's clock); sample i of the stream is
    /// due at `first_byte_at + i / rate` (its frame is written by then; `rate` is 8 kHz for G.711
    /// and G.726, else the channel's audioSamplingRate). `codec`: the stream's, as ISAPI names it.
    MicStarted {
        channel: u32,
        session_id: String,
        first_byte_at: f64,
        codec: String,
    },
    /// `bytes`: the body written (codec bytes, without chunk markers); `reason`: client_closed,
    /// session_closed, hangup_idle, ring, fault, shutdown, content_length_reached,
    /// encoder_error, source_error.
    MicEnded {
        channel: u32,
        session_id: String,
        bytes: u64,
        reason: String,
    },
    Hangup {
        channel: u32,
        session_id: String,
        reason: String,
    },
    Prompt {
        channel: u32,
        text: String,
    },
    FaultFired {
        fault: String,
    },
    /// A visitor pressed the doorbell's button. `by`: local (`SimHandle::ring`, `ring` on the
    /// sim's stdin) or schedule (`--ring-after`, `--ring-every`, `--ring-at`).
    Ring {
        by: String,
    },
    /// A `callSignal` command; `accepted` false: it was not valid in the call state (answered
    /// with invalidOperation).
    CallSignal {
        cmd: String,
        accepted: bool,
    },
    /// The doorbell's call state moved `from` -> `status`. `cause`: ring, answer, hangUp,
    /// reject, cancel, deviceOnCall, bellTimeout (the ring timed out or a client said so),
    /// deleteRing (`DELETE /ISAPI/VideoIntercom/ring`). `by`: client (an ISAPI request), local,
    /// schedule or device (its own bell timeout).
    CallStatus {
        status: String,
        from: String,
        cause: String,
        by: String,
    },
    /// A door command. `api`: remoteControl (`/ISAPI/AccessControl/RemoteControl/door/<n>`),
    /// remoteOpenDoor (`/ISAPI/VideoIntercom/remoteOpenDoor`) or local; `reason` says why a
    /// refused one was refused.
    DoorAction {
        door: u32,
        cmd: String,
        api: String,
        accepted: bool,
        reason: Option<String>,
    },
    /// A door's lock changed: locked, unlocked (relocks after the open time) or alwaysOpen.
    DoorState {
        door: u32,
        state: String,
    },
    /// A volume was set (`accepted`) or refused. `target`: audioOut (`volume`, `talkVolume`,
    /// 0-10) or channel (`speakerVolume`, `microphoneVolume`, 0-100).
    Volume {
        target: String,
        channel: u32,
        name: String,
        from: i64,
        to: i64,
        accepted: bool,
    },
    /// An alertStream client connected; `open`: streams open now, this one included.
    AlertStreamOpened {
        peer: String,
        stream: u32,
        open: usize,
    },
    /// `reason`: client_closed, write_timeout, fault (cut-mid-part), shutdown. `parts`: parts
    /// written whole.
    AlertStreamClosed {
        peer: String,
        stream: u32,
        parts: u64,
        reason: String,
    },
    /// An alertStream request refused because `open` streams are open already.
    AlertStreamRefused {
        peer: String,
        open: usize,
    },
    /// An alarm went out on the alertStream (heartbeats are not logged). `kind`: ring,
    /// doorUnlocked, doorLocked, doorContactOpen, doorContactClosed (door station), or a
    /// detection's eventType: VMD, linedetection, fielddetection, tamperdetection, IO; `state`:
    /// active or inactive (a detection's last part), `count` its activePostCount; `streams`:
    /// clients it went to.
    Alert {
        kind: String,
        state: String,
        count: u32,
        door: Option<u32>,
        streams: usize,
    },
    /// Motion detection was switched (`PUT .../motionDetection`).
    MotionDetection {
        channel: u32,
        enabled: bool,
    },
    ChannelUpdated {
        channel: u32,
        codec: String,
    },
    BadRequest {
        peer: String,
        reason: String,
    },
}

/// Counts derived from the log, printed on exit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub sessions_opened: u32,
    pub sessions_closed: u32,
    pub sessions_expired: u32,
    pub prompts_played: u32,
    pub audio_seconds: f64,
    pub audio_bytes: u64,
    pub faults_fired: u32,
    /// What listeners heard, over all uploads.
    pub underruns: u32,
    pub underrun_ms: f64,
    pub overflow_ms: f64,
    pub max_lead_ms: f64,
    pub unheard_seconds: f64,
    /// Earliest and latest first-audio times of the uploads (seconds on the simulator's clock).
    pub first_audio_spread_ms: Option<f64>,
}

impl Summary {
    pub fn from_events(events: &[Event]) -> Summary {
        let mut s = Summary::default();
        let mut first = (f64::INFINITY, f64::NEG_INFINITY);
        for e in events {
            match &e.kind {
                EventKind::SessionOpened { .. } => s.sessions_opened += 1,
                EventKind::SessionClosed { .. } => s.sessions_closed += 1,
                EventKind::SessionExpired { .. } => s.sessions_expired += 1,
                EventKind::Prompt { .. } => s.prompts_played += 1,
                EventKind::AudioEnded { bytes, seconds, listened: l, .. } => {
                    s.audio_bytes += bytes;
                    s.audio_seconds += seconds;
                    s.underruns += l.underruns;
                    s.underrun_ms += l.underrun_ms;
                    s.overflow_ms += l.overflow_ms;
                    s.max_lead_ms = s.max_lead_ms.max(l.max_lead_ms);
                    s.unheard_seconds += l.unheard_seconds;
                    if let Some(at) = l.first_audio_at {
                        first = (first.0.min(at), first.1.max(at));
                    }
                }
                EventKind::FaultFired { .. } => s.faults_fired += 1,
                _ => {}
            }
        }
        s.first_audio_spread_ms = (first.1 >= first.0).then_some((first.1 - first.0) * 1000.0);
        s
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sessions opened {}, closed {}, expired {}; prompts played {}; audio received {:.1} s ({} bytes); heard with {} underruns ({:.0} ms), {:.0} ms lost to overflow, at most {:.0} ms ahead; faults fired {}",
            self.sessions_opened,
            self.sessions_closed,
            self.sessions_expired,
            self.prompts_played,
            self.audio_seconds,
            self.audio_bytes,
            self.underruns,
            self.underrun_ms,
            self.overflow_ms,
            self.max_lead_ms,
            self.faults_fired
        )
    }
}

enum Sink {
    None,
    Stdout,
    File(std::io::BufWriter<std::fs::File>),
}

/// The in-memory log, its broadcast channel and the optional JSON-lines sink.
pub(crate) struct EventLog {
    start: Instant,
    events: Mutex<Vec<Event>>,
    sink: Mutex<Sink>,
    tx: broadcast::Sender<Event>,
}

impl EventLog {
    pub(crate) fn new(path: Option<&std::path::Path>) -> std::io::Result<EventLog> {
        let sink = match path {
            None => Sink::None,
            Some(p) if p.as_os_str() == "-" => Sink::Stdout,
            Some(p) => Sink::File(std::io::BufWriter::new(std::fs::File::create(p)?)),
        };
        let (tx, _) = broadcast::channel(4096);
        Ok(EventLog { start: Instant::now(), events: Mutex::new(Vec::new()), sink: Mutex::new(sink), tx })
    }

    pub(crate) fn log(&self, kind: EventKind) {
        let event = Event { t: self.start.elapsed().as_secs_f64(), kind };
        // Lock order: events then sink, so the file has the same order as the memory log.
        let mut events = lock(&self.events);
        {
            let mut sink = lock(&self.sink);
            // A failing sink (full disk, closed stdout) must not stop the device.
            let line = serde_json::to_string(&event).unwrap_or_default();
            match &mut *sink {
                Sink::None => {}
                Sink::Stdout => crate::output::stdout(&line),
                Sink::File(f) => {
                    let _ = writeln!(f, "{line}");
                    let _ = f.flush();
                }
            }
        }
        events.push(event.clone());
        // No receivers is normal.
        let _ = self.tx.send(event);
    }

    /// When the events' clock reads zero.
    pub(crate) fn origin(&self) -> Instant {
        self.start
    }

    /// Seconds since the simulator started: the events' clock.
    pub(crate) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub(crate) fn snapshot(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// The first event (past or future) matching `pred`, or None after `timeout`.
    pub(crate) async fn wait_for(&self, pred: impl Fn(&Event) -> bool, timeout: std::time::Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before looking at the past so nothing falls between the two.
        let mut rx = self.subscribe();
        if let Some(e) = lock(&self.events).iter().find(|e| pred(e)) {
            return Some(e.clone());
        }
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return None,
                Ok(Ok(e)) if pred(&e) => return Some(e),
                Ok(Ok(_)) => {}
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    if let Some(e) = lock(&self.events).iter().find(|e| pred(e)) {
                        return Some(e.clone());
                    }
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            }
        }
    }
}

/// Locks a mutex, ignoring poisoning: a panicked connection task must not take the device down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
