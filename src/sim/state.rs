//! Channel and session state: one talk session per channel, the idle and stale timers, the
//! doorbell's call state. Everything here runs under one mutex; events are logged as state
//! changes so the log order matches what the device did.

use super::alarm::Detection;
use super::events::{EventKind, EventLog};
use super::recorder::Received;
use super::xml::{AudioOut, Channel};
use crate::codec::{Codec, CodecParams};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// Why a session ended while its audio socket may still be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    Idle,
    Fault,
    Ring,
    ClientClose,
    Shutdown,
}

impl EndReason {
    /// The reason in Hangup / SessionClosed events.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Fault => "fault",
            EndReason::Ring => "ring",
            EndReason::ClientClose => "close",
            EndReason::Shutdown => "shutdown",
        }
    }

    /// The reason in the AudioEnded event.
    pub(crate) fn audio_reason(self) -> &'static str {
        match self {
            EndReason::Idle => "hangup_idle",
            EndReason::Fault => "fault",
            EndReason::Ring => "ring",
            EndReason::ClientClose => "session_closed",
            EndReason::Shutdown => "shutdown",
        }
    }

    /// The device hung up (as opposed to the client closing or the simulator stopping).
    pub(crate) fn by_device(self) -> bool {
        matches!(self, EndReason::Idle | EndReason::Fault | EndReason::Ring)
    }
}

pub(crate) struct Session {
    pub id: String,
    /// The last audio byte (or the open, or the moment an upload attached).
    pub last_audio: Instant,
    /// An audioData upload is attached.
    pub streaming: bool,
    /// The client's upload went away without a close: the session blocks the channel until
    /// close or stale expiry.
    pub stale_since: Option<Instant>,
    pub end: watch::Sender<Option<EndReason>>,
    /// Wakes the session's watchdog when its deadline moves earlier.
    pub wake: Arc<Notify>,
    /// Uploads attached to this session so far.
    pub uploads: u32,
}

pub(crate) struct ChannelState {
    pub channel: Channel,
    pub session: Option<Session>,
}

impl ChannelState {
    pub(crate) fn codec(&self) -> Option<Codec> {
        Codec::from_isapi(&self.channel.codec)
    }

    /// The microphone's codec: `audioInboundCompressionType` when the channel has one, else
    /// the channel's. The rate is fixed for G.711/G.726, else the channel's; the bitrate is
    /// the channel's only for the channel's own codec (G.711's 64 kbit/s is no AAC bitrate).
    pub(crate) fn mic_params(&self) -> Option<CodecParams> {
        let codec = match &self.channel.inbound_codec {
            Some(name) => Codec::from_isapi(name)?,
            None => self.codec()?,
        };
        let sample_rate = codec.fixed_rate().or(self.channel.sample_rate_hz()).unwrap_or(codec.default_rate());
        let own = self.codec() == Some(codec);
        let bitrate = self.channel.bit_rate_kbps.map(|k| k * 1000).filter(|b| own && codec.accepts_bitrate(*b));
        Some(CodecParams { codec, sample_rate, bitrate })
    }

    pub(crate) fn codec_params(&self) -> Option<CodecParams> {
        let codec = self.codec()?;
        let sample_rate = codec.fixed_rate().or(self.channel.sample_rate_hz()).unwrap_or(codec.default_rate());
        Some(CodecParams { codec, sample_rate, bitrate: self.channel.bit_rate_kbps.map(|k| k * 1000) })
    }
}

/// A doorbell's call state, as `callStatus` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallStatus {
    Idle,
    Ring,
    OnCall,
}

impl CallStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallStatus::Idle => "idle",
            CallStatus::Ring => "ring",
            CallStatus::OnCall => "onCall",
        }
    }
}

/// A door's lock, as the door station drives its relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    Locked,
    /// Opened by a command; relocks after the open time.
    Unlocked,
    /// Held open until `resume` or `close`.
    AlwaysOpen,
}

impl Lock {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lock::Locked => "locked",
            Lock::Unlocked => "unlocked",
            Lock::AlwaysOpen => "alwaysOpen",
        }
    }
}

pub(crate) struct Door {
    pub lock: Lock,
    /// The door contact: someone walked through after an unlock.
    pub contact_open: bool,
    /// Bumped by every command so an old open's relock timer does not lock a newer one.
    pub generation: u64,
}

/// Finished uploads kept in memory (oldest dropped first), so a simulator left running against
/// a reconnect loop does not grow without bound.
const MAX_RECEIVED: usize = 64;

pub(crate) struct State {
    pub channels: Vec<ChannelState>,
    pub received: VecDeque<Received>,
    pub call: CallStatus,
    /// Bumped by every ring so an old ring's timeout does not end a newer one.
    pub ring_generation: u64,
    /// Doorbell: doors 1..=N.
    pub doors: Vec<Door>,
    pub audio_out: AudioOut,
    /// Motion detection is on (`motionDetection` `enabled`): off, no motion is detected.
    pub motion_detection: bool,
    /// The detections going on, and when each ends (a new one extends it).
    pub detections: HashMap<Detection, Instant>,
}

impl State {
    pub(crate) fn new(channels: Vec<Channel>, doors: u32, audio_out: AudioOut) -> State {
        State {
            channels: channels.into_iter().map(|channel| ChannelState { channel, session: None }).collect(),
            received: VecDeque::new(),
            call: CallStatus::Idle,
            ring_generation: 0,
            doors: (0..doors).map(|_| Door { lock: Lock::Locked, contact_open: false, generation: 0 }).collect(),
            audio_out,
            motion_detection: true,
            detections: HashMap::new(),
        }
    }

    /// The door with number `door` (1-based).
    pub(crate) fn door(&mut self, door: u32) -> Option<&mut Door> {
        self.doors.get_mut((door as usize).checked_sub(1)?)
    }

    /// Keeps a finished upload; the oldest go once more than `MAX_RECEIVED` are kept or their
    /// audio passes `max_bytes` in all (the newest always stays).
    pub(crate) fn keep(&mut self, received: Received, max_bytes: usize) {
        self.received.push_back(received);
        let mut bytes: usize = self.received.iter().map(Received::memory_bytes).sum();
        while self.received.len() > 1 && (self.received.len() > MAX_RECEIVED || bytes > max_bytes) {
            if let Some(old) = self.received.pop_front() {
                bytes -= old.memory_bytes();
            }
        }
    }

    /// The channel with ISAPI id `id` (1-based).
    pub(crate) fn channel(&mut self, id: u32) -> Option<&mut ChannelState> {
        self.channels.get_mut((id as usize).checked_sub(1)?)
    }

    /// The session on `channel` if its id is `session_id`.
    pub(crate) fn session(&mut self, channel: u32, session_id: &str) -> Option<&mut Session> {
        self.channel(channel)?.session.as_mut().filter(|s| s.id == session_id)
    }

    /// Ends the session on `channel` (if it is `session_id`, or any when None), tells its
    /// upload why, and logs it. Returns whether a session was ended.
    pub(crate) fn end_session(&mut self, log: &EventLog, channel: u32, session_id: Option<&str>, why: EndReason) -> bool {
        let Some(ch) = self.channel(channel) else { return false };
        if session_id.is_some_and(|id| ch.session.as_ref().is_some_and(|s| s.id != id)) {
            return false;
        }
        let Some(session) = ch.session.take() else { return false };
        ch.channel.enabled = Some(false);
        let id = session.id.clone();
        if why.by_device() {
            log.log(EventKind::Hangup { channel, session_id: id.clone(), reason: why.as_str().to_string() });
            if why == EndReason::Idle {
                log.log(EventKind::Prompt { channel, text: "call ended".to_string() });
            }
        }
        let by = if why.by_device() {
            "device"
        } else if why == EndReason::ClientClose {
            "client"
        } else {
            "simulator"
        };
        log.log(EventKind::SessionClosed { channel, session_id: id, by: by.to_string(), reason: why.as_str().to_string() });
        // The upload (if any) holds a receiver; nobody listening is fine.
        let _ = session.end.send(Some(why));
        session.wake.notify_one();
        true
    }
}
