//! A simulated Hikvision device speaking ISAPI two-way audio on loopback.
//!
//! It is the ground truth for hiktalk's tests and the embedded `sim` camera. It is modelled on
//! what public clients (go2rtc, Scrypted, Home Assistant integrations), their issue threads and
//! Hikvision's ISAPI guide document of real devices (paths, Digest challenge shape, lockout, the
//! raw audioData upload, one session per channel, idle hang-up, firmware differences), not on
//! what hiktalk sends.
//! Everything observable is logged as [`Event`]s; tests wait on them with [`SimHandle::wait_for`].
//!
//! Profiles ([`Profile`]):
//! - `modern`: hikvision.com namespace; open returns a `TwoWayAudioSession`; audioData needs
//!   `?sessionId=` (missing or wrong: 403 invalidOperation); a busy open gets 403.
//! - `doorbell`: isapi.org namespace, a door station (DS-KV6113):
//!   - the call (`call`): `GET /ISAPI/VideoIntercom/callStatus` (JSON, or XML with
//!     `call_status_xml`) and its capabilities, `callerInfo`, `PUT callSignal` (answer,
//!     reject, hangUp, cancel, bellTimeout, deviceOnCall; one that does not fit the state gets
//!     403 invalidOperation; success and errors in `call_signal_style`), `DELETE
//!     /ISAPI/VideoIntercom/ring`. idle -> ring (a visitor: [`SimHandle::ring`], `ring_after`,
//!     `ring_every`, `ring_at`, stdin) -> onCall (answer) -> idle (hangUp); a ring that nobody
//!     answers goes back to idle after `ring_duration` (bellTimeout). A ring ends active talk;
//!     talk while ringing is taken but not played. Without `call_control` these paths answer
//!     404 "Can't locate the url" (DS-KB6003), and rings still happen.
//!   - doors (`door`): `PUT /ISAPI/AccessControl/RemoteControl/door/<n>` (RemoteControlDoor:
//!     open, close, alwaysOpen, resume) and its capabilities, or `PUT
//!     /ISAPI/VideoIntercom/remoteOpenDoor` (`door_api`); `doors` doors, an opened one relocks
//!     after `door_open_time`.
//!   - volume (`volume`): `GET/PUT /ISAPI/System/Audio/AudioOut/channels/1` (`AudioOutVlome`:
//!     volume, talkVolume 0-10) and `AudioOut/capabilities`.
//! - `legacy`: PSIA namespace; open answers a plain `ResponseStatus` (no sessionId) and
//!   audioData ignores any sessionId; a busy open gets 401.
//! - `aac-only`: lists G.711ulaw, open answers 403 until a channel PUT sets AAC.
//!
//! Every profile: a channel PUT may set `speakerVolume` / `microphoneVolume` (0-100, checked),
//! and `GET /ISAPI/Event/notification/alertStream` is a never-ending `multipart/mixed` of
//! alarms (`alert`): XML `EventNotificationAlert`s on cameras (`boundary=hikboundary`; motion
//! and line crossing with `event_every` or [`SimHandle::motion`]), JSON
//! `AccessControllerEvent`s on the door station (`--MIME_boundary`; ring, door unlocked and
//! locked, door contact), a heartbeat every `heartbeat`, at most [`MAX_ALERT_STREAMS`] at
//! once, and the alertStream faults ([`AlertFault`]) to break clients' parsers with.
//! Local control (what a visitor or the resident does): [`SimHandle::command`], which
//! `hiktalk sim` feeds with its stdin's lines.
//!
//! The upload: `PUT .../audioData` is answered 200 at once, then raw bytes are read until the
//! socket closes (session left open: stale, expires after `stale_expiry`), the client PUTs
//! close, or the device hangs up (idle, fault, ring). Chunked uploads are dropped.
//!
//! The microphone: `GET .../audioData` on an open session (beside an upload on the same
//! session: full duplex) is answered 200 with a raw stream, paced in real time on an absolute
//! schedule from the answer's first byte (logged as `first_byte_at` in `MicStarted`), until the
//! client leaves or the session ends. A streaming microphone keeps the session from idling.
//! - What it hears: a 440 Hz tone at about -12 dBFS, or `mic` (`--mic FILE`: any format
//!   hiktalk reads, decoded at start, its first 10 minutes looped); plus, with `mic_echo`
//!   (`--mic-echo MS[:DB]`), what the channel's speaker played MS milliseconds earlier at DB
//!   (default -6 dB): a device hears its own speaker.
//! - Its codec: the channel's `audioInboundCompressionType` when set (`inbound_codec`,
//!   `--inbound-codec`, sets it on every channel), else `audioCompressionType`; G.711 and G.726
//!   at 8 kHz, others at the channel's `audioSamplingRate`. AAC is length-prefixed ADTS, or bare
//!   ADTS with `mic_aac` (`--mic-aac bare`).
//! - Its HTTP framing, by profile unless `mic_framing` (`--mic-framing`) says otherwise:
//!   modern and aac-only `audio/basic`, body until close; doorbell `application/octem-strem`
//!   (sic, as a DS-KV6124 sends it) with `Content-Length: 2147483647`; legacy
//!   `application/octet-stream`, chunked (one chunk per codec frame).

mod alert;
mod audio;
mod auth;
mod call;
mod console;
mod door;
mod events;
mod faults;
mod http;
mod many;
mod mic;
mod playout;
mod profile;
mod recorder;
mod server;
mod shared;
mod state;
mod volume;
mod xml;

pub use alert::MAX_STREAMS as MAX_ALERT_STREAMS;
pub use call::CallSignalStyle;
pub use console::COMMANDS;
pub use door::DoorApi;
pub use events::{Event, EventKind, Summary};
pub use faults::{AlertFault, Endpoint, Fault, FaultParseError};
pub use many::{DeviceSummary, ForDevice, Many, ManySummary, ProfileMix, Variation, start as start_many};
pub use mic::{MicAac, MicEcho, MicFraming};
pub use playout::Listened;
pub use profile::{BusyStyle, ParseNameError, Profile};
pub use recorder::{Received, raw_extension};
pub use server::StartError;

use crate::codec::Codec;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the simulated device can be told. `Default` is a modern camera on
/// 127.0.0.1:0 with admin / hiktalk-sim.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub user: String,
    pub password: String,
    pub profile: Profile,
    /// An open session with no audio for this long is hung up by the device.
    pub idle_timeout: Duration,
    /// A session whose client vanished without close blocks the channel this long.
    pub stale_expiry: Duration,
    /// Failed logins for one user from one IP before it is locked; `None`: 7 for admin and 5
    /// for other users, as older firmware does.
    pub lockout_attempts: Option<u32>,
    pub lockout_duration: Duration,
    /// A Digest nonce older than this is answered with `stale=TRUE`.
    pub nonce_lifetime: Duration,
    pub busy_style: BusyStyle,
    /// Write a ResponseStatus on the audioData socket before a device hang-up closes it.
    pub hangup_body: bool,
    pub faults: Vec<Fault>,
    /// JSON lines of every event; `-` is stdout.
    pub events_path: Option<PathBuf>,
    /// One WAV per session of what the speaker received.
    pub record_dir: Option<PathBuf>,
    /// Talk channels (ids 1..=channels).
    pub channels: u32,
    /// The channels' initial codec instead of the profile's (G.711ulaw).
    pub codec: Option<Codec>,
    /// Send a second `WWW-Authenticate: Basic` header with the Digest challenge.
    pub basic_challenge: bool,
    /// Doorbell: ring this long after an upload starts.
    pub ring_after: Option<Duration>,
    /// Doorbell: ring every this long from the start.
    pub ring_every: Option<Duration>,
    /// Doorbell: ring once at each of these times after the start.
    pub ring_at: Vec<Duration>,
    /// Doorbell: the bell timeout; a ring not answered or rejected stops after this long.
    pub ring_duration: Duration,
    /// Doorbell: callStatus, callSignal, callerInfo and `DELETE ring` exist; old units
    /// (DS-KB6003) answer "Can't locate the url" on them.
    pub call_control: bool,
    /// Doorbell: the shape of a successful (and failed) callSignal answer.
    pub call_signal_style: CallSignalStyle,
    /// Doorbell: doors 1..=doors.
    pub doors: u32,
    /// Doorbell: which door API the firmware has.
    pub door_api: DoorApi,
    /// Doorbell: an opened door relocks after this long.
    pub door_open_time: Duration,
    /// alertStream: a heartbeat part this often.
    pub heartbeat: Duration,
    /// Cameras: a motion (then line crossing, alternately) alarm on the alertStream this often.
    pub event_every: Option<Duration>,
    /// Time allowed for a request's headers (and body) to arrive, and for an idle keep-alive.
    pub header_timeout: Duration,
    /// The speaker's buffer: audio arriving beyond it is lost (counted as overflow).
    pub buffer: Duration,
    /// audioData and close need the sessionId that open returned; `None`: the profile decides
    /// (doorbells do, cameras do not: go2rtc never sends one and works with most cameras).
    pub require_session_id: Option<bool>,
    /// How an audioData PUT that asks `Expect: 100-continue` is answered.
    pub expect: Expect,
    /// Doorbell: answer callStatus in XML even when asked for JSON, as old firmware does.
    pub call_status_xml: bool,
    /// The microphone hears this file (any format hiktalk decodes), looped, instead of the
    /// tone. Decoded when the simulator starts; a file that does not decode fails the start.
    pub mic: Option<PathBuf>,
    /// The microphone's codec, set as `audioInboundCompressionType` on every channel; `None`:
    /// the channels have no such field and the microphone uses `audioCompressionType`.
    pub inbound_codec: Option<Codec>,
    /// AAC on the microphone stream: length-prefixed (as uploads) or bare ADTS.
    pub mic_aac: MicAac,
    /// The microphone stream's HTTP framing; `None`: the profile's.
    pub mic_framing: Option<MicFraming>,
    /// The microphone hears the channel's speaker this much later, this much quieter.
    pub mic_echo: Option<MicEcho>,
}

/// What the device does with `Expect: 100-continue` on an audioData PUT. What real devices do
/// is unconfirmed; the default is what they are known to do with every upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expect {
    /// Answer 200 at once, as devices answer audioData, and read whatever follows as audio (a
    /// client that waits for 100 Continue then sends nothing: `curl -T` uploads 0 bytes).
    #[default]
    Ignore,
    /// Answer `100 Continue`, read the announced body as the audio, then answer 200.
    Continue,
}

impl std::str::FromStr for Expect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ignore" => Ok(Expect::Ignore),
            "continue" => Ok(Expect::Continue),
            _ => Err(format!("unknown expect mode {s:?}; expected ignore or continue")),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            user: "admin".to_string(),
            password: "hiktalk-sim".to_string(),
            profile: Profile::Modern,
            idle_timeout: Duration::from_secs(5),
            stale_expiry: Duration::from_secs(90),
            lockout_attempts: None,
            lockout_duration: Duration::from_secs(600),
            nonce_lifetime: Duration::from_secs(300),
            busy_style: BusyStyle::ProfileDefault,
            hangup_body: true,
            faults: Vec::new(),
            events_path: None,
            record_dir: None,
            channels: 1,
            codec: None,
            basic_challenge: false,
            ring_after: None,
            ring_every: None,
            ring_at: Vec::new(),
            ring_duration: Duration::from_secs(30),
            call_control: true,
            call_signal_style: CallSignalStyle::Number,
            doors: 1,
            door_api: DoorApi::RemoteControl,
            door_open_time: Duration::from_secs(5),
            heartbeat: Duration::from_secs(10),
            event_every: None,
            header_timeout: Duration::from_secs(10),
            buffer: Duration::from_secs(1),
            require_session_id: None,
            expect: Expect::Ignore,
            call_status_xml: false,
            mic: None,
            inbound_codec: None,
            mic_aac: MicAac::Prefixed,
            mic_framing: None,
            mic_echo: None,
        }
    }
}

/// The shortest period of a repeating timer (heartbeat, ring or event schedule): a zero
/// would spin.
pub(crate) const MIN_PERIOD: Duration = Duration::from_millis(10);

/// Binds, then serves until [`SimHandle::shutdown`] (or until the handle is dropped).
pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
    let (shared, task) = server::start(config).await?;
    Ok(SimHandle { shared, task: Some(task) })
}

/// A running simulated device.
pub struct SimHandle {
    shared: Arc<shared::Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The instant the events' clock (`Event::t`, `first_byte_at`, arrivals) reads zero, to
    /// line device-side times up with times measured elsewhere in the same process.
    pub fn origin(&self) -> std::time::Instant {
        self.shared.log.origin()
    }

    /// Everything logged so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared.log.snapshot()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.shared.log.subscribe()
    }

    /// The first event, past or future, matching `pred`; None after `timeout`.
    pub async fn wait_for(&self, pred: impl Fn(&Event) -> bool, timeout: Duration) -> Option<Event> {
        self.shared.log.wait_for(pred, timeout).await
    }

    /// Doorbell: a visitor presses the button now (ends an active talk session). Other
    /// profiles have no bell and ignore it.
    pub fn ring(&self) {
        call::ring(&self.shared, call::By::Local);
    }

    /// Doorbell: the resident answers the ringing call (as on the indoor station); false when
    /// nothing rings.
    pub fn answer(&self) -> bool {
        call::signal(&self.shared, call::Cmd::Answer, call::By::Local).is_ok()
    }

    /// Doorbell: the resident hangs up: a ringing call is rejected, a call in progress ended;
    /// false when the doorbell is idle.
    pub fn hang_up(&self) -> bool {
        call::hang_up(&self.shared)
    }

    /// Doorbell: opens a door (1-based) from the indoor station; false if there is no such door.
    pub fn open_door(&self, door: u32) -> bool {
        door::act(&self.shared, u64::from(door), door::Cmd::Open, "local").is_ok()
    }

    /// Cameras: a motion alarm on the alertStream now. The door station ignores it.
    pub fn motion(&self) {
        alert::publish(&self.shared, alert::Alert::Motion);
    }

    /// Carries out one line of local control (what `hiktalk sim` reads on stdin: `ring`,
    /// `answer`, `hangup`, `unlock [N]`, `motion`, `help`); Ok: what happened, Err: why
    /// nothing did.
    pub fn command(&self, line: &str) -> Result<String, String> {
        console::run(self, line)
    }

    /// Every finished upload, in order (the most recent 64): the raw bytes, what a listener
    /// heard of them, and the simulator's own decode.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received()
    }

    /// The last finished upload of a session (by the `id` in its events).
    pub fn upload_of(&self, session_id: &str) -> Option<Received> {
        self.received().into_iter().rev().find(|r| r.session_id == session_id)
    }

    pub fn summary(&self) -> Summary {
        Summary::from_events(&self.events())
    }

    /// Stops accepting, ends open sessions and uploads, and waits for them to be logged.
    pub async fn shutdown(self) -> Summary {
        self.shutdown_with_events().await.0
    }

    /// [`SimHandle::shutdown`], keeping the whole log too.
    pub async fn shutdown_with_events(mut self) -> (Summary, Vec<Event>) {
        self.shared.begin_shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let events = self.events();
        (Summary::from_events(&events), events)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.shared.begin_shutdown();
        }
    }
}
