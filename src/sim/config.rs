//! Everything the simulated device can be told: [`SimConfig`], the shape of an
//! `Expect: 100-continue` answer, and the shortest timer period.

use super::alarm::AlertFormat;
use super::faults::Fault;
use super::profile::{BusyStyle, CallSignalStyle, DoorApi, MicAac, MicFraming, Profile};
use super::room::MicEcho;
use crate::codec::Codec;
use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// A detection this often, each of the profile's in turn (motion, line crossing, ...).
    pub event_every: Option<Duration>,
    /// How long a detection lasts: `active` parts about every second, then one `inactive`.
    pub alarm_duration: Duration,
    /// How the alertStream is written; `None`: the profile's (XML on cameras, JSON on the
    /// door station; a door station in XML sends its ring as alarm input 1, `IO`).
    pub alert_format: Option<AlertFormat>,
    /// `/ISAPI/Event/triggers` and the motion detection settings exist (event integrations
    /// read them before they listen); without, they answer 404 as on units that lack them.
    pub event_config: bool,
    /// Finished uploads kept in memory (the newest first), at most this many bytes of audio
    /// (raw and decoded) in all; the newest upload is always kept. `--record-dir` keeps all.
    pub keep_audio_bytes: usize,
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
            alarm_duration: Duration::from_secs(3),
            alert_format: None,
            event_config: true,
            keep_audio_bytes: KEEP_AUDIO_BYTES,
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

/// The default of [`SimConfig::keep_audio_bytes`]: an hour of G.711 is about 86 MB raw and
/// decoded, so a demo left on keeps its last few minutes.
pub const KEEP_AUDIO_BYTES: usize = 64 * 1024 * 1024;

/// The shortest period of a repeating timer (heartbeat, ring or event schedule): a zero
/// would spin.
pub(crate) const MIN_PERIOD: Duration = Duration::from_millis(10);
