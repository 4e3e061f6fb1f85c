//! Sessions: everything between a feed and a device. By phase: `negotiate` (channel and
//! codec), `clock` (the one schedule frames leave on, shared by every session of a feed),
//! `stream` (one session's frames onto its upload), `lifecycle` (open, close, and the reconnect
//! loop, whose rules are in `retry`), and `stop` (the user's signals).

pub mod clock;
pub mod hear;
pub mod lifecycle;
pub mod negotiate;
pub mod retry;
pub mod stop;
pub mod stream;
pub mod voice;

use crate::codec::{Codec, CodecParams};
pub use crate::outcome::Ending;
pub use clock::Clock;
pub use lifecycle::{Media, talk};
pub use negotiate::{Negotiation, negotiate, restore};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
pub use stop::Stop;
pub use stream::Progress;
use stream::Streamed;
pub use voice::Voice;

/// Says something to the user (a reconnect, a codec switch).
pub type Announce = Arc<dyn Fn(&str) + Send + Sync>;
/// Told once, at the first open, which channel and codec the session uses.
pub type OnOpen = Arc<dyn Fn(&str, CodecParams) + Send + Sync>;

/// What the user asked of the session.
#[derive(Clone)]
pub struct TalkOptions {
    pub channel: Option<String>,
    /// Encode with this codec whatever the channel says (`--codec`).
    pub codec: Option<Codec>,
    /// Reconfigure the channel to this codec before opening (`--set-codec`).
    pub set_codec: Option<Codec>,
    /// Leave a `--set-codec` change in place afterwards.
    pub keep_codec: bool,
    /// Close a session left by another client before opening.
    pub take_over: bool,
    /// Reconnect attempts after unasked faults.
    pub retries: u32,
    /// Whether this session reconnects at all (`speak`, `play --loop`).
    pub reconnect: bool,
    /// The first reconnect delay's ceiling and every delay's floor.
    pub backoff_base: Duration,
    pub announce: Announce,
    pub on_open: OnOpen,
    /// Live counters for a progress display.
    pub progress: Option<Arc<Progress>>,
    /// When listening stops by itself (`listen --duration`).
    pub until: Option<tokio::time::Instant>,
    /// Sessions that open on speech and close after silence (`speak --vad`).
    pub voice: Option<Voice>,
}

impl Default for TalkOptions {
    fn default() -> Self {
        TalkOptions {
            channel: None,
            codec: None,
            set_codec: None,
            keep_codec: false,
            take_over: false,
            retries: 3,
            reconnect: false,
            backoff_base: Duration::from_millis(500),
            announce: Arc::new(|m| crate::output::stderr(&format!("hiktalk: {m}"))),
            on_open: Arc::new(|_, _| {}),
            progress: None,
            until: None,
            voice: None,
        }
    }
}

/// Everything worth telling about a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub device: String,
    pub channel: Option<String>,
    pub codec: Option<CodecParams>,
    #[serde(flatten)]
    pub ending: Ending,
    pub message: String,
    pub sessions_opened: u32,
    pub closes_confirmed: u32,
    pub close_error: Option<String>,
    pub retries: u32,
    /// Why each reconnect was made: the fault's reason, how often.
    pub retry_reasons: BTreeMap<String, u32>,
    /// Sessions the device ended itself (hung up), retried or not.
    pub device_hangups: u32,
    pub audio_seconds: f64,
    pub bytes_sent: u64,
    /// How far ahead of real time the device was given audio, at most.
    pub max_ahead_ms: f64,
    /// Frames of silence that bridged gaps in the source.
    pub silence_frames: u64,
    /// Frames the device never got (it fell behind, or a live backlog was cut).
    pub dropped_frames: u64,
    /// Frames' worth of time a device ran out of audio (it played all it was given before
    /// more came).
    pub late_frames: u64,
    /// Capture-to-socket latency of live frames.
    pub latency_ms_mean: Option<f64>,
    pub latency_ms_max: Option<f64>,
    pub codec_restored: Option<String>,
    /// The device's microphone stream: its codec, the audio heard, and its bytes.
    pub heard_codec: Option<CodecParams>,
    pub heard_seconds: f64,
    pub heard_bytes: u64,
    /// The device sent audio faster than real time (it was read at real time).
    pub heard_too_fast: bool,
    #[serde(skip)]
    latency: (u64, Duration, Duration),
}

impl Report {
    pub fn new(device: &str, ending: Ending) -> Report {
        Report {
            device: device.to_string(),
            channel: None,
            codec: None,
            message: ending.describe(),
            ending,
            sessions_opened: 0,
            closes_confirmed: 0,
            close_error: None,
            retries: 0,
            retry_reasons: BTreeMap::new(),
            device_hangups: 0,
            audio_seconds: 0.0,
            bytes_sent: 0,
            max_ahead_ms: 0.0,
            silence_frames: 0,
            dropped_frames: 0,
            late_frames: 0,
            latency_ms_mean: None,
            latency_ms_max: None,
            codec_restored: None,
            heard_codec: None,
            heard_seconds: 0.0,
            heard_bytes: 0,
            heard_too_fast: false,
            latency: Default::default(),
        }
    }

    fn end(&mut self, ending: Ending) {
        self.message = ending.describe();
        self.ending = ending;
    }

    /// Adds what one session heard.
    fn add_heard(&mut self, h: &hear::Heard) {
        self.heard_seconds += h.audio.as_secs_f64();
        self.heard_bytes += h.bytes;
        self.heard_too_fast |= h.too_fast;
    }

    /// Adds one stream's figures.
    fn add(&mut self, s: &Streamed) {
        self.audio_seconds += s.audio.as_secs_f64();
        self.bytes_sent += s.bytes;
        self.max_ahead_ms = self.max_ahead_ms.max(s.max_ahead.as_secs_f64() * 1000.0);
        self.silence_frames += s.silence_frames;
        self.dropped_frames += s.dropped;
        self.late_frames += s.late;
        let (n, sum, max) = s.latency;
        self.latency = (self.latency.0 + n, self.latency.1 + sum, self.latency.2.max(max));
        if self.latency.0 > 0 {
            self.latency_ms_mean = Some(self.latency.1.as_secs_f64() * 1000.0 / self.latency.0 as f64);
            self.latency_ms_max = Some(self.latency.2.as_secs_f64() * 1000.0);
        }
    }
}

/// Runs `f` unless the user stops first.
async fn unless_stopped<T>(stop: &Stop, f: impl Future<Output = T>) -> Result<T, Ending> {
    tokio::select! {
        biased;
        s = stop.wait() => Err(Ending::UserStop { signal: s.to_string() }),
        v = f => Ok(v),
    }
}
