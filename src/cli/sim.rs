//! `hiktalk sim` arguments: every simulator knob as a flag.

use super::complete::choices;
use crate::codec::Codec;
use crate::sim::{
    AlertFormat, BusyStyle, CallSignalStyle, DoorApi, Fault, ForDevice, MicAac, MicEcho, MicFraming, Profile, ProfileMix, SimConfig,
    Variation,
};
use clap::{Args, ValueHint};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The codecs the simulated device can take (every spelling `Codec::from_str` knows works).
const SIM_CODECS: &[&str] = &["ulaw", "alaw", "g726", "aac", "pcm"];

const FAULT_HELP: &str = "\
Inject a fault (repeatable). Spec: NAME[=VALUE][,times=N]; times=N fires it N times, then the \
device behaves (default: every time).
  hangup-after-bytes=N   device hangs up an upload after N bytes
  hangup-after-secs=S    device hangs up an upload S seconds after it started
  reset-after-bytes=N    TCP reset of the upload after N bytes (session stays open)
  reset-after-secs=S     TCP reset of the upload after S seconds (session stays open)
  freeze-after-bytes=N   stop reading the upload after N bytes, socket and session stay open
  pause-after-bytes=N:MS stop reading the upload after N bytes for MS ms, then read on
  stall=EP               read the request, never answer
  slow=EP:MS             answer after MS milliseconds
  malformed-xml=EP       answer with a broken XML body
  truncated-xml=EP       announce the whole body, send half, close
  http500=EP             answer 500 with a Device Error ResponseStatus
  401-no-challenge[=EP]  answer 401 without any WWW-Authenticate header
  close-keeps-channel    answer a close OK but keep the session (busy) until it expires
alertStream faults (times=N counts streams):
  no-heartbeat           the stream stays open and silent: no heartbeat, no event
  cut-mid-part           the second part stops halfway and the socket closes
  oversized-part         parts run past their Content-Length
  no-boundary            multipart/mixed without a boundary parameter (DS-KV6124)
  doubled-boundary       every boundary line comes twice
  jpeg-part              an image/jpeg part follows each event
EP: any, channels, channel, capabilities, open, close, audio (audioData PUT), mic (audioData \
GET), deviceinfo, callstatus, callsignal, door, audioout, alertstream.
Example: --fault http500=open,times=1 --fault slow=channels:1500";

/// `hiktalk sim --help`'s closing words: the stdin commands and the endpoints.
pub fn after_help() -> String {
    let commands: Vec<String> = crate::sim::COMMANDS.lines().filter(|l| !l.starts_with("help")).map(|l| format!("  {l}")).collect();
    format!(
        "Lines on stdin act at the device (answers go to stderr):\n{}\n\
Doorbell endpoints: /ISAPI/VideoIntercom/callStatus, callSignal, callerInfo (JSON), DELETE\n\
/ISAPI/VideoIntercom/ring, /ISAPI/AccessControl/RemoteControl/door/N (or remoteOpenDoor),\n\
/ISAPI/System/Audio/AudioOut/channels/1. Every profile: /ISAPI/Event/notification/alertStream.\n\
Example: hiktalk sim --profile doorbell --ring-every 20 --heartbeat 5 --events -",
        commands.join("\n")
    )
}

fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(v).map_err(|_| format!("{s:?} is not a valid number of seconds"))
}

/// Serve one simulated Hikvision device (ISAPI two-way audio) until Ctrl-C.
///
/// The first line on stdout is `hiktalk-sim listening on http://ADDR`; a summary is printed
/// on exit.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Device user name.
    #[arg(long, default_value = "admin")]
    pub user: String,
    /// Device password.
    #[arg(long, default_value = "hiktalk-sim", env = "HIKTALK_SIM_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// Firmware to play: modern (camera, sessionId required), doorbell (isapi.org namespace,
    /// callStatus/callSignal, rings end talk), legacy (PSIA namespace, no sessionId), aac-only
    /// (lists G.711, refuses open until the channel is set to AAC).
    #[arg(long, default_value = "modern", value_parser = choices::<Profile>(&["modern", "doorbell", "legacy", "aac-only"]))]
    pub profile: Profile,
    /// Serve N devices from this one process, each with its own port (consecutive from
    /// --listen's, or any free one with port 0), state, log and figures
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub devices: u32,
    /// The devices' profiles in proportion, e.g. modern:3,doorbell:1: devices 1-3 are cameras,
    /// 4 a doorbell, 5-7 cameras again... (instead of --profile)
    #[arg(long, value_name = "MIX")]
    pub profile_mix: Option<ProfileMix>,
    /// A fault for device N only (repeatable), e.g. 3:hangup-after-secs=2 (see --fault)
    #[arg(long, value_name = "N:SPEC")]
    pub device_fault: Vec<ForDevice<Fault>>,
    /// Another password for device N only (repeatable), e.g. 2:other-secret
    #[arg(long, value_name = "N:PASSWORD")]
    pub device_password: Vec<ForDevice<String>>,
    /// Seconds without audio after which the device hangs up an open session ("call ended").
    #[arg(long, default_value = "5", value_parser = seconds, value_name = "SECS")]
    pub idle_timeout: Duration,
    /// Seconds a session left by a vanished client blocks the channel.
    #[arg(long, default_value = "90", value_parser = seconds, value_name = "SECS")]
    pub stale_expiry: Duration,
    /// Failed logins for one user from one IP before it is locked out [default: 7 for admin,
    /// 5 for other users, as older firmware does]
    #[arg(long, value_name = "N")]
    pub lockout_attempts: Option<u32>,
    /// Seconds a locked-out IP stays locked.
    #[arg(long, default_value = "600", value_parser = seconds, value_name = "SECS")]
    pub lockout_secs: Duration,
    /// Seconds a Digest nonce is valid; older nonces get `stale=TRUE`.
    #[arg(long, default_value = "300", value_parser = seconds, value_name = "SECS")]
    pub nonce_lifetime: Duration,
    /// How a second open on a busy channel is refused: profile (its default), 401, 403, 503,
    /// unavailable (503, statusCode 2 serviceUnavailable) or in-progress (403,
    /// twoWayAudioInProgressPleaseWait).
    #[arg(long, default_value = "profile", value_name = "STYLE", value_parser = choices::<BusyStyle>(&["profile", "401", "403", "503", "unavailable", "in-progress"]))]
    pub busy_style: BusyStyle,
    /// Close the audioData socket without a ResponseStatus body on a device hang-up.
    #[arg(long)]
    pub no_hangup_body: bool,
    #[arg(long = "fault", value_name = "SPEC", long_help = FAULT_HELP, help = "Inject a fault (repeatable), e.g. http500=open,times=1; see --help")]
    pub faults: Vec<Fault>,
    /// Write every event as a JSON line to this file (`-` for stdout).
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub events: Option<PathBuf>,
    /// Record each session's received audio as a WAV file in this directory.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub record_dir: Option<PathBuf>,
    /// Megabytes of received audio kept in memory (raw and decoded, the newest uploads; at
    /// most 64 uploads, the newest always): a simulator left running drops the oldest instead
    /// of growing (an hour of G.711 is about 86 MB). --record-dir keeps everything on disk.
    #[arg(long, default_value_t = 64, value_name = "MB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub keep_audio: u32,
    /// Number of talk channels.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub channels: u32,
    /// Initial channel codec instead of G.711ulaw.
    #[arg(long, value_parser = choices::<Codec>(SIM_CODECS))]
    pub codec: Option<Codec>,
    /// Add a second `WWW-Authenticate: Basic` header to challenges, as some devices do.
    #[arg(long)]
    pub basic_challenge: bool,
    /// Doorbell: ring this many seconds after an upload starts (the ring ends the talk).
    #[arg(long, value_parser = seconds, value_name = "SECS")]
    pub ring_after: Option<Duration>,
    /// Doorbell: a visitor rings every SECS seconds from the start.
    #[arg(long, value_parser = seconds, value_name = "SECS")]
    pub ring_every: Option<Duration>,
    /// Doorbell: a visitor rings SECS seconds after the start (repeatable, or a list: 2,5.5,10).
    #[arg(long, value_parser = seconds, value_name = "SECS", value_delimiter = ',')]
    pub ring_at: Vec<Duration>,
    /// Doorbell: the bell timeout: seconds an unanswered ring lasts before the call goes back
    /// to idle (logged with cause bellTimeout).
    #[arg(long, visible_alias = "bell-timeout", default_value = "30", value_parser = seconds, value_name = "SECS")]
    pub ring_duration: Duration,
    /// Doorbell: play an old unit (DS-KB6003) without call control: callStatus, callSignal,
    /// callerInfo and DELETE ring answer 404 "Can't locate the url". Rings still end talk.
    #[arg(long)]
    pub no_call_control: bool,
    /// Doorbell: how callSignal answers: number (statusCode 1, subStatusCode ok) or string
    /// (statusCode "1", errorMsg, errorCode, as some firmware writes it).
    #[arg(long, default_value = "number", value_name = "STYLE", value_parser = choices::<CallSignalStyle>(&["number", "string"]))]
    pub call_signal_style: CallSignalStyle,
    /// Doorbell: number of doors (lock relays); door numbers are 1..=N.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=8))]
    pub doors: u32,
    /// Doorbell: the door API: remote-control (PUT /ISAPI/AccessControl/RemoteControl/door/N
    /// with RemoteControlDoor), remote-open-door (only PUT /ISAPI/VideoIntercom/remoteOpenDoor
    /// with RemoteOpenDoor, as older units), or both.
    #[arg(long, default_value = "remote-control", value_name = "API", value_parser = choices::<DoorApi>(&["remote-control", "remote-open-door", "both"]))]
    pub door_api: DoorApi,
    /// Doorbell: seconds an opened door stays unlocked before it relocks.
    #[arg(long, default_value = "5", value_parser = seconds, value_name = "SECS")]
    pub door_open_time: Duration,
    /// Seconds between alertStream heartbeats (videoloss, inactive); clients take 40-60 s
    /// without a part for a dead stream.
    #[arg(long, default_value = "10", value_parser = seconds, value_name = "SECS")]
    pub heartbeat: Duration,
    /// A detection every SECS seconds, each of the profile's in turn: motion (VMD), line
    /// crossing, intrusion (fielddetection), tamper, alarm input (IO) on cameras; motion and
    /// IO on the door station; motion, tamper and IO on legacy.
    #[arg(long, value_parser = seconds, value_name = "SECS")]
    pub event_every: Option<Duration>,
    /// Seconds a detection lasts: `active` parts (activePostCount 1, 2, ...) about every
    /// second, then one `inactive`; a new detection meanwhile extends it.
    #[arg(long, default_value = "3", value_parser = seconds, value_name = "SECS")]
    pub alarm_duration: Duration,
    /// The alertStream's format: xml (EventNotificationAlert, as cameras) or json (as door
    /// stations); default: the profile's. A door station in xml sends its ring as alarm
    /// input 1 (IO), which camera event clients track, and no door events.
    #[arg(long, value_name = "FORMAT", value_parser = choices::<AlertFormat>(&["xml", "json"]))]
    pub alert_format: Option<AlertFormat>,
    /// Answer 404 on /ISAPI/Event/triggers and .../motionDetection, as units without them
    /// (event integrations then track no event).
    #[arg(long)]
    pub no_event_config: bool,
    /// Seconds allowed for a request's headers to arrive (slow clients are dropped).
    #[arg(long, default_value = "10", value_parser = seconds, value_name = "SECS")]
    pub header_timeout: Duration,
    /// Seconds of audio the speaker buffers; audio arriving beyond it is lost and counted as
    /// overflow, as a real speaker would lose it.
    #[arg(long, default_value = "1", value_parser = seconds, value_name = "SECS")]
    pub buffer: Duration,
    /// Refuse audioData and close without the sessionId open returned (or with another);
    /// [default: on for the doorbell profile, off for cameras, which work without it]
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_session_id: Option<bool>,
    /// An audioData PUT with `Expect: 100-continue`: `ignore` answers 200 at once, as devices
    /// answer every upload (the default; what devices do with Expect is unconfirmed, and a
    /// client waiting for 100 Continue then sends nothing), or `continue` answers 100 Continue,
    /// reads the announced body as the audio, then answers 200
    #[arg(long, default_value = "ignore", value_name = "MODE", value_parser = choices::<crate::sim::Expect>(&["ignore", "continue"]))]
    pub expect: crate::sim::Expect,
    /// Doorbell: answer callStatus in XML even when asked for JSON, as old firmware does.
    #[arg(long)]
    pub call_status_xml: bool,
    /// The device microphone (audioData GET) hears this audio file (WAV, MP3, FLAC, Ogg
    /// Vorbis), looped from its first 10 minutes, instead of a 440 Hz tone; it is decoded at
    /// start and the start fails if it cannot be
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub mic: Option<PathBuf>,
    /// The microphone's codec (ulaw, alaw, g726, aac, pcm), written as
    /// audioInboundCompressionType on every channel; without it the microphone uses the
    /// channel's audioCompressionType. G.711 and G.726 run at 8 kHz, others at the channel's
    /// audioSamplingRate
    #[arg(long, value_name = "CODEC", value_parser = choices::<Codec>(SIM_CODECS))]
    pub inbound_codec: Option<Codec>,
    /// AAC framing of the microphone stream: prefixed (each ADTS frame after its 4-byte
    /// big-endian length, as uploads carry it) or bare (plain ADTS frames)
    #[arg(long, default_value = "prefixed", value_name = "FRAMING", value_parser = choices::<MicAac>(&["prefixed", "bare"]))]
    pub mic_aac: MicAac,
    /// HTTP framing of the microphone stream: until-close (no Content-Length), length
    /// (Content-Length: 2147483647) or chunked (a chunk per codec frame) [default: the
    /// profile's: until-close for modern and aac-only, length for doorbell, chunked for legacy]
    #[arg(long, value_name = "FRAMING", value_parser = choices::<MicFraming>(&["until-close", "length", "chunked"]))]
    pub mic_framing: Option<MicFraming>,
    /// The device hears its own speaker: the microphone picks up what the channel's speaker
    /// played MS milliseconds earlier, at DB (0 or less; default -6), e.g. 120:-6
    #[arg(long, value_name = "MS[:DB]")]
    pub mic_echo: Option<MicEcho>,
}

impl SimArgs {
    /// How the devices differ from the configuration they share.
    pub fn variation(&self) -> Variation {
        Variation { mix: self.profile_mix.clone(), faults: self.device_fault.clone(), passwords: self.device_password.clone() }
    }
}

impl From<SimArgs> for SimConfig {
    fn from(a: SimArgs) -> SimConfig {
        SimConfig {
            listen: a.listen,
            user: a.user,
            password: a.password,
            profile: a.profile,
            idle_timeout: a.idle_timeout,
            stale_expiry: a.stale_expiry,
            lockout_attempts: a.lockout_attempts,
            lockout_duration: a.lockout_secs,
            nonce_lifetime: a.nonce_lifetime,
            busy_style: a.busy_style,
            hangup_body: !a.no_hangup_body,
            faults: a.faults,
            events_path: a.events,
            record_dir: a.record_dir,
            channels: a.channels,
            codec: a.codec,
            basic_challenge: a.basic_challenge,
            ring_after: a.ring_after,
            ring_every: a.ring_every,
            ring_at: a.ring_at,
            ring_duration: a.ring_duration,
            call_control: !a.no_call_control,
            call_signal_style: a.call_signal_style,
            doors: a.doors,
            door_api: a.door_api,
            door_open_time: a.door_open_time,
            heartbeat: a.heartbeat,
            event_every: a.event_every,
            alarm_duration: a.alarm_duration,
            alert_format: a.alert_format,
            event_config: !a.no_event_config,
            keep_audio_bytes: a.keep_audio as usize * 1024 * 1024,
            header_timeout: a.header_timeout,
            buffer: a.buffer,
            require_session_id: a.require_session_id,
            expect: a.expect,
            call_status_xml: a.call_status_xml,
            mic: a.mic,
            inbound_codec: a.inbound_codec,
            mic_aac: a.mic_aac,
            mic_framing: a.mic_framing,
            mic_echo: a.mic_echo,
        }
    }
}
