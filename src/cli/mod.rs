//! Command-line definitions (clap derive) and nothing else. Completions and the man page are
//! generated from these types, so flags, help, completions and man never disagree.

pub mod complete;
pub mod manual;
pub mod serve;
pub mod sim;

use crate::audio::decode::RawFormat;
use crate::codec::Codec;
use clap::{Args, Parser, Subcommand, ValueHint};
use complete::{CODECS, choices};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Cameras are named in the config file, given as a URL (http://192.168.1.64, https://cam:443/1),
or `sim` for the built-in simulated camera (a simulated door station for answer, hangup,
reject, wait-ring and unlock).

Examples:
  hiktalk play chime.wav frontdoor
  hiktalk say \"Leave the parcel\" frontdoor
  hiktalk speak frontdoor          (microphone -> camera until Ctrl-C)
  hiktalk say \"Hello\" sim          (no camera needed)

Exit codes: 0 done, 2 usage, 3 input, 4 auth, 5 busy, 6 device hung up, 7 network,
8 device protocol, 9 codec, 10 some of several devices failed, 11 not ringing, 12 timed out
waiting for a ring, 13 refused by the device, 14 ringing (nothing sent), 15 a check failed, 130 interrupted. More in
--help and `man hiktalk`.";

/// `hiktalk --help`'s description (the man page's too).
const LONG_ABOUT: &str = "\
Talk through Hikvision cameras, doorbells and NVRs (ISAPI two-way audio).

A session is opened once, fed continuously (silence when nothing is said), and closed explicitly \
on end of input, Ctrl-C, SIGTERM or SIGHUP. A second Ctrl-C exits at once. Nothing reconnects \
after a stop; speak and play --loop retry unasked faults (reset, device hang-up, 5xx) up to \
--retries times in a row (restored after a minute of good audio; at most 20 in any hour) with \
exponential backoff and jitter. A rejected password is never retried.";

#[derive(Debug, Parser)]
#[command(name = "hiktalk", version, about = "Talk through Hikvision cameras, doorbells and NVRs (ISAPI two-way audio)", long_about = LONG_ABOUT)]
#[command(after_help = AFTER_HELP, after_long_help = manual::long_help(), disable_help_subcommand = true, propagate_version = true)]
#[command(mut_subcommands = complete::no_file_names)]
pub struct Cli {
    /// Config file with named cameras [default: $XDG_CONFIG_HOME/hiktalk/config.toml]
    #[arg(long, global = true, env = "HIKTALK_CONFIG", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print the outcome as one JSON object on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Show each request to a device and its answer's status on stderr (never credentials)
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream an audio file (or stdin) to a camera's speaker in real time
    ///
    /// Formats: WAV (any rate, width, channels), MP3, FLAC, Ogg Vorbis; `-` reads a WAV stream
    /// from stdin, or raw samples with --raw-format. Audio is downmixed to mono, resampled and
    /// encoded to the channel's codec, then paced in real time on one upload; the session is
    /// closed at the end.
    #[command(after_help = "Examples:\n  hiktalk play chime.wav frontdoor\n  hiktalk play closing.mp3 frontdoor garage --volume -6\n  \
espeak-ng --stdout \"Leave the parcel\" | hiktalk play - frontdoor\n  hiktalk play --set-codec aac msg.wav garage")]
    Play(PlayArgs),
    /// Say a text through cameras' speakers (text to speech with espeak-ng)
    ///
    /// The text is spoken by espeak-ng (`espeak-ng --stdout`), then played exactly as `play`
    /// plays a file: to one camera or several in step. Without espeak-ng on PATH, say exits 3
    /// before touching any camera.
    #[command(after_help = "Examples:\n  hiktalk say \"Leave the parcel by the door\" frontdoor\n  \
hiktalk say --voice de --rate 140 \"Bitte warten\" frontdoor garage\n  hiktalk say \"Hello\" sim")]
    Say(SayArgs),
    /// Talk through a camera with the microphone until Ctrl-C
    ///
    /// Silence is sent whenever nothing is said (muted, push-to-talk released), so the camera
    /// never hangs up for lack of audio. With --vad the session is open only while you speak
    /// (and --hold after). What the device hears plays on the output device unless --no-listen.
    /// Ctrl-C closes the session and exits 0. Keys on a terminal: m toggles mute; with --ptt,
    /// space toggles talking.
    #[command(after_help = "Examples:\n  hiktalk speak frontdoor\n  hiktalk speak frontdoor --vad -40 --hold 2\n  \
hiktalk speak frontdoor --echo off            # a headset: no echo to cancel\n  \
hiktalk speak frontdoor --echo both --clean-listen\n  hiktalk speak frontdoor garage --no-listen")]
    Speak(SpeakArgs),
    /// Hear what the device's microphone hears, through the speakers or into a file
    ///
    /// The session is opened once and closed explicitly on Ctrl-C, SIGTERM, SIGHUP or
    /// --duration; faults the user did not cause are retried like speak's. Playback starts
    /// after 60 ms of audio (a jitter buffer that grows on underruns and shrinks again);
    /// --stats tells how it went.
    #[command(after_help = "Examples:\n  hiktalk listen frontdoor\n  hiktalk listen frontdoor -o porch.wav --duration 30\n  \
hiktalk listen frontdoor -o - | ffmpeg -i - porch.mp3")]
    Listen(ListenArgs),
    /// List audio inputs (for `speak --input`) and outputs (for `--output`)
    ///
    /// Two tables: index, id, default config and description; `*` marks the defaults. With
    /// --json, one object whose `devices` array holds every row, with its `direction` and its
    /// `index`.
    #[command(after_help = "Examples:\n  hiktalk devices\n  hiktalk devices --json | jq '.devices[] | select(.direction == \"input\")'")]
    Devices,
    /// Serve the configured cameras over HTTP: a native JSON API and a go2rtc-compatible subset
    ///
    /// Runs until SIGTERM or SIGINT, which close every session (each confirmed by its device)
    /// and exit 0; a second signal exits at once. Only the cameras and groups of the config file
    /// are reachable. Routes: POST /api/cameras/{camera|group}/play (audio body, or JSON
    /// {"text" or "url", "voice", "volume_db"}; ?wait=true answers with the outcome,
    /// ?queue=interrupt|reject), GET /api/sessions[/{id}], DELETE /api/sessions/{id} and
    /// /api/cameras/{camera}/sessions (answered once the device confirmed the close, else 504),
    /// POST /api/cameras/{camera}/hangup|reject|unlock, GET|PUT /api/cameras/{camera}/volume,
    /// GET /api/events (SSE), GET /metrics, GET /healthz; go2rtc's POST|DELETE|GET /api/streams
    /// and POST /api/ffmpeg.
    #[command(after_help = "Examples:\n  hiktalk serve\n  hiktalk serve --listen 0.0.0.0:1984 --token-file /etc/hiktalk/token\n  \
curl --data-binary @chime.wav 'http://127.0.0.1:1984/api/cameras/frontdoor/play?wait=true'")]
    Serve(Box<serve::ServeArgs>),
    /// Show a device's model, firmware and talk channels
    ///
    /// For each talk channel: its codec, rate, bitrate, volumes, whether a session is open, and
    /// the codecs it can be switched to (from its capabilities).
    #[command(
        after_help = "Examples:\n  hiktalk status frontdoor\n  hiktalk status frontdoor --json | jq '.channels[].codec_options'\n  hiktalk status -v http://192.168.1.64"
    )]
    Status(StatusArgs),
    /// Close a stuck talk session left by any client
    ///
    /// Closes the talk channel's session, whoever opened it, and says whether the device
    /// confirmed the close.
    #[command(after_help = "Examples:\n  hiktalk close frontdoor\n  hiktalk close frontdoor --channel 2")]
    Close(CloseArgs),
    /// Answer a ringing doorbell, then talk (or play a message) until either side hangs up
    #[command(after_help = "Answers the ring (callSignal answer), runs the call as `speak` does (or plays --play FILE),\n\
and on Ctrl-C, SIGTERM, SIGHUP, the end of the message or the far side hanging up: closes the\n\
talk session, sends hangUp and confirms from callStatus that the doorbell is idle. Without a\n\
ring: exit 11, unless --wait.\n\
Examples:\n  hiktalk answer frontdoor\n  hiktalk answer frontdoor --wait 60 --play go-away.wav")]
    Answer(AnswerArgs),
    /// End a doorbell call in progress (callSignal hangUp)
    #[command(after_help = "Confirmed from callStatus. A doorbell with no call in progress refuses (exit 13).\n\
Example:\n  hiktalk hangup frontdoor")]
    Hangup(CallArgs),
    /// Reject a ringing doorbell's call (callSignal reject)
    #[command(after_help = "Confirmed from callStatus. A doorbell that is not ringing refuses (exit 13).\n\
Example:\n  hiktalk reject frontdoor")]
    Reject(CallArgs),
    /// Wait until a doorbell rings; prints who rings where the device says
    #[command(after_help = "Rings are seen on the device's alertStream, and by reading callStatus every second (many\n\
door stations send no call events). Exits 0 on the next ring, 12 after --timeout.\n\
Example:\n  hiktalk wait-ring frontdoor && notify-send \"Someone is at the door\"")]
    WaitRing(WaitRingArgs),
    /// Open a door station's lock
    #[command(after_help = "Sends RemoteControl/door/N cmd open; units without it get remoteOpenDoor (command unlock)\n\
instead. Exits 0 when the device confirms, 13 when it refuses (e.g. a door it does not have).\n\
Example:\n  hiktalk unlock frontdoor --door 2")]
    Unlock(UnlockArgs),
    /// Print the device's events (alertStream) as JSON lines until Ctrl-C
    #[command(after_help = "One JSON object per line on stdout: type, state, channel (a number or null), time (UTC,\n\
RFC 3339 ending in Z, or null), source (alertStream or callStatus), door (a number or null),\n\
current (false: history the device replays) and fields (everything the device said), each field\n\
the same type from every source. Heartbeats are not printed; a stream without a whole part for\n\
--heartbeat-timeout is reopened with backoff and jitter, as is a stream that is cut or unreadable;\n\
the wait grows until a stream stays open 30 s. On doorbells the call state is read\n\
every second and each change printed (type callStatus; a new ring also as type ring, once per\n\
ring). With --json the last line is the outcome object (it has `exit_code`). Ctrl-C ends it (exit 0).\n\
Examples:\n  hiktalk events frontdoor\n  hiktalk events garage --type VMD,linedetection | jq .time")]
    Events(EventsArgs),
    /// Show or set a device's speaker, talk or microphone volume
    #[command(after_help = "Door stations: LEVEL sets the talk volume (AudioOut talkVolume, 0-10 on most units), --speaker\n\
the speaker volume (AudioOut volume). Cameras: LEVEL sets the channel's speakerVolume (0-100).\n\
--mic sets the channel's microphoneVolume instead. Without a level: shows them all.\n\
Examples:\n  hiktalk volume frontdoor\n  hiktalk volume frontdoor 7\n  hiktalk volume garage --mic 60")]
    Volume(VolumeArgs),
    /// Test whether a device works with hiktalk, and what to do if not
    ///
    /// A short sequence, safe on a device in use, with one line per check (pass, warn, FAIL,
    /// skipped; what it means -> what to do): reachable, TLS, the login schemes, the login
    /// (one attempt, never more), deviceInfo, the talk channels and their codecs, one talk
    /// session (about 2 s of a quiet tone, its close confirmed), the channel free again (a
    /// second open, closed), whether audioData wants the sessionId, the upload styles, the
    /// microphone's byte rate, a doorbell's call state, doors and volumes, the event stream's
    /// heartbeat, the known quirks of the model and firmware, and that nothing was left behind
    /// (every session closed, a switched codec restored). A doorbell in a call gets no talk
    /// session, and no call signal or door command is ever sent. Several devices are checked in
    /// parallel. Exit 0 when every check passed, warned or was skipped; 15 when one failed.
    #[command(
        after_help = "Examples:\n  hiktalk check frontdoor\n  hiktalk check frontdoor garage --json | jq '.devices[].checks[] | select(.verdict == \"fail\")'\n  \
hiktalk check frontdoor --markdown >> compatibility.md\n  hiktalk check frontdoor --idle"
    )]
    Check(CheckArgs),
    /// Run a simulated Hikvision device (for tests and demos)
    #[command(after_help = sim::after_help())]
    Sim(Box<sim::SimArgs>),
}

impl Command {
    /// The cameras the command talks to, as given on the command line.
    pub fn cameras(&self) -> &[String] {
        match self {
            Command::Play(a) => &a.cameras,
            Command::Say(a) => &a.cameras,
            Command::Speak(a) => &a.cameras,
            Command::Listen(a) => std::slice::from_ref(&a.camera),
            Command::Status(a) => &a.cameras,
            Command::Close(a) => &a.cameras,
            Command::Answer(a) => std::slice::from_ref(&a.camera),
            Command::Hangup(a) | Command::Reject(a) => std::slice::from_ref(&a.camera),
            Command::WaitRing(a) => std::slice::from_ref(&a.camera),
            Command::Unlock(a) => std::slice::from_ref(&a.camera),
            Command::Events(a) => std::slice::from_ref(&a.camera),
            Command::Volume(a) => std::slice::from_ref(&a.camera),
            Command::Check(a) => &a.cameras,
            Command::Devices | Command::Sim(_) | Command::Serve(_) => &[],
        }
    }
}

/// Cameras, as several commands take them.
const CAMERAS: &str = "Cameras: names from the config file, groups, URLs, or `sim`";

/// How to reach and log in to the cameras a command names.
#[derive(Debug, Clone, Args)]
pub struct Login {
    /// User name [default: from the config or URL, else admin]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Read the password from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Talk channel id [default: the device's first]
    #[arg(long, value_name = "ID")]
    pub channel: Option<String>,
    /// Accept any TLS certificate (prefer tls_fingerprint in the config)
    #[arg(long)]
    pub insecure: bool,
    /// Trust the device's TLS certificate with this SHA-256 fingerprint
    #[arg(long, value_name = "SHA256")]
    pub tls_fingerprint: Option<String>,
    /// Seconds allowed to connect
    #[arg(long, default_value_t = 5.0, value_name = "SECS", value_parser = positive_secs)]
    pub connect_timeout: f64,
    /// Seconds allowed for each request and its whole answer; after a stop, for the close
    #[arg(long, default_value_t = 10.0, value_name = "SECS", value_parser = positive_secs)]
    pub timeout: f64,
}

/// Session options every command that opens a session shares.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Close another client's session on the channel before opening ours
    #[arg(long)]
    pub take_over: bool,
    /// Reconnect attempts after a fault the user did not cause (speak, listen, play --loop);
    /// restored after a minute of good audio, and never more than 20 in an hour
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,
    /// Seconds a device may stop reading (or sending) audio before the connection counts as dead
    #[arg(long, default_value_t = 5.0, value_name = "SECS", value_parser = positive_secs)]
    pub stall_timeout: f64,
}

/// Talk options shared by `play` and `speak`.
#[derive(Debug, Clone, Args)]
pub struct TalkArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Encode with this codec whatever the channel says
    #[arg(long, value_name = "CODEC", value_parser = choices::<Codec>(CODECS))]
    pub codec: Option<Codec>,
    /// Switch the channel to this codec first; restored afterwards unless --keep-codec
    #[arg(long, value_name = "CODEC", value_parser = choices::<Codec>(CODECS))]
    pub set_codec: Option<Codec>,
    /// Keep the codec --set-codec chose
    #[arg(long, requires = "set_codec")]
    pub keep_codec: bool,
    /// With several cameras: seconds to wait for every session to open before the audio
    /// starts; a device later than that joins at the current position
    #[arg(long, default_value_t = 2.0, value_name = "SECS", value_parser = positive_secs)]
    pub sync_wait: f64,
    /// Gain in dB (negative is quieter); peaks are limited, never wrapped
    #[arg(long, default_value_t = 0.0, value_name = "DB", allow_hyphen_values = true, value_parser = gain_db)]
    pub volume: f32,
    /// Doorbells: stop the ring first (audio sent while the door unit rings is not played, so
    /// without this flag nothing is sent to a ringing unit: exit 14)
    #[arg(long)]
    pub stop_ring: bool,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Audio file, or - for stdin
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub input: String,
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
    #[command(flatten)]
    pub talk: TalkArgs,
    /// Headerless samples (stdin or a raw file) as FORMAT:RATE:CHANNELS (s16le, s16be, u8,
    /// f32le, mulaw, alaw), e.g. s16le:16000:1; refused (exit 3) for a WAV, MP3, FLAC or Ogg input,
    /// whose header says its format
    #[arg(long, value_name = "SPEC")]
    pub raw_format: Option<RawFormat>,
    /// Repeat the file until stopped (reconnects after faults, like speak)
    #[arg(long = "loop")]
    pub repeat: bool,
}

#[derive(Debug, Args)]
pub struct SayArgs {
    /// What to say
    #[arg(value_name = "TEXT")]
    pub text: String,
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
    #[command(flatten)]
    pub talk: TalkArgs,
    /// espeak-ng voice, e.g. en, en-us, de, fr+f3 (`espeak-ng --voices` lists them)
    #[arg(long, value_name = "VOICE")]
    pub voice: Option<String>,
    /// Speed in words per minute [default: espeak-ng's, 175]
    #[arg(long, value_name = "WPM", value_parser = clap::value_parser!(u32).range(80..=450))]
    pub rate: Option<u32>,
    /// Say it again and again until stopped (reconnects after faults, like speak)
    #[arg(long = "loop")]
    pub repeat: bool,
}

#[derive(Debug, Args)]
pub struct SpeakArgs {
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
    #[command(flatten)]
    pub talk: TalkArgs,
    #[command(flatten)]
    pub mic: MicArgs,
}

/// The microphone call's options (`speak`, `answer`).
#[derive(Debug, Clone, Args)]
pub struct MicArgs {
    /// Input device: an id or index from `hiktalk devices`, or part of its description
    #[arg(short, long, value_name = "DEVICE")]
    pub input: Option<String>,
    /// Talk only while the input is louder than this level (dBFS, e.g. -45): the session
    /// opens on the first speech and closes after --hold of silence, as often as needed
    #[arg(long, value_name = "DBFS", num_args = 0..=1, default_missing_value = "-45", allow_hyphen_values = true)]
    pub vad: Option<f32>,
    /// With --vad: seconds of silence that close the session (the device's speaker stops
    /// hissing); it reopens on speech
    #[arg(long, value_name = "SECS", requires = "vad", default_value = "3", value_parser = positive_secs)]
    pub hold: f64,
    /// Push-to-talk: silence until space is pressed, space again to stop (terminal only)
    #[arg(long)]
    pub ptt: bool,
    /// Print latency and drop statistics at the end
    #[arg(long)]
    pub stats: bool,
    /// Talk only: do not play what the device's microphone hears
    #[arg(long)]
    pub no_listen: bool,
    /// Turn the device down (-30 dB) while you speak, so its echo of your voice is not heard
    /// (speech is detected at the --vad level, -45 dBFS by default)
    #[arg(long, conflicts_with = "no_listen")]
    pub half_duplex: bool,
    /// Which echo to cancel (WebRTC's AEC3). local: the room's, what your speaker plays and
    /// your microphone hears again (a laptop, a speakerphone: the visitor would hear
    /// themselves). device: your own voice coming back from the device (a door station that
    /// does not cancel its own echo). both. off: a headset, or a device and room with no
    /// echo. Default: local while what the device hears plays on a speaker, else off
    #[arg(long, value_name = "WHICH", value_enum, conflicts_with = "no_listen")]
    pub echo: Option<EchoMode>,
    /// Same as --echo device (the older spelling)
    #[arg(long, hide = true, conflicts_with_all = ["no_listen", "echo"])]
    pub echo_cancel: bool,
    /// Clean what the device sends back: noise suppression and adaptive gain (an outdoor
    /// unit's quiet, noisy microphone)
    #[arg(long, conflicts_with = "no_listen")]
    pub clean_listen: bool,
    /// Clean your microphone the same way before it is sent (a quiet laptop microphone)
    #[arg(long)]
    pub clean_mic: bool,
    /// Output device for what the device hears: an id or index from `hiktalk devices`
    #[arg(long, value_name = "DEVICE", conflicts_with = "no_listen")]
    pub output: Option<String>,
}

/// `--echo`: which echo the call cancels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EchoMode {
    Local,
    Device,
    Both,
    Off,
}

/// `--wait [SECS]`, `--timeout`, and the watcher's knobs: how a doorbell is watched.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Seconds the event stream may go without a whole part (heartbeat or event) before it is reopened
    #[arg(long, default_value_t = 60.0, value_name = "SECS", value_parser = positive_secs)]
    pub heartbeat_timeout: f64,
    /// Seconds between two readings of the call state (callStatus)
    #[arg(long, default_value_t = 1.0, value_name = "SECS", value_parser = positive_secs, hide = true)]
    pub poll_interval: f64,
}

#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// Doorbell: a name from the config file, a URL, or `sim` (a simulated door station)
    #[arg(value_name = "DOORBELL", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    #[command(flatten)]
    pub talk: TalkArgs,
    #[command(flatten)]
    pub mic: MicArgs,
    /// Play this audio file (or - for stdin) instead of talking with the microphone
    #[arg(long, value_name = "FILE")]
    pub play: Option<String>,
    /// Not ringing: wait for the next ring (at most SECS seconds, exit 12 after them)
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "0")]
    pub wait: Option<f64>,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// Doorbell: a name from the config file, a URL, or `sim` (a simulated door station)
    #[arg(value_name = "DOORBELL", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Debug, Args)]
// `--timeout` is the wait here, as on `timeout(1)`; each request's deadline is --request-timeout.
#[command(mut_arg("timeout", |a| a.long("request-timeout")))]
pub struct WaitRingArgs {
    /// Doorbell: a name from the config file, a URL, or `sim` (a simulated door station)
    #[arg(value_name = "DOORBELL", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    /// Give up after SECS seconds without a ring (exit 12)
    #[arg(long = "timeout", id = "wait_timeout", value_name = "SECS", value_parser = positive_secs)]
    pub wait_timeout: Option<f64>,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Door station: a name from the config file, a URL, or `sim` (a simulated door station)
    #[arg(value_name = "DOORBELL", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    /// The door (lock relay) to open, from 1
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub door: u32,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Camera or door station: a name from the config file, a URL, or `sim`
    #[arg(value_name = "CAMERA", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    /// Print only events of these types (type or the device's eventType, any case; repeatable
    /// or a list: ring,doorUnlocked,VMD)
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Args)]
pub struct VolumeArgs {
    /// Camera or door station: a name from the config file, a URL, or `sim`
    #[arg(value_name = "CAMERA", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    /// The level to set (the talk volume on door stations, the speaker volume on cameras)
    #[arg(value_name = "LEVEL", value_parser = volume_level)]
    pub level: Option<u32>,
    /// Set the microphone volume instead
    #[arg(long, conflicts_with = "speaker")]
    pub mic: bool,
    /// Door stations: set the speaker volume (AudioOut volume) instead of the talk volume
    #[arg(long)]
    pub speaker: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Camera: a name from the config file, a URL, or `sim`
    #[arg(value_name = "CAMERA", add = complete::cameras())]
    pub camera: String,
    #[command(flatten)]
    pub login: Login,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Write a WAV file instead of playing (`-` writes it to stdout, for pipes)
    #[arg(short = 'o', long = "out", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub out: Option<String>,
    /// With -o: headerless s16le samples instead of WAV
    #[arg(long, requires = "out")]
    pub raw: bool,
    /// Output device: an id or index from `hiktalk devices`, or part of its description
    #[arg(long, value_name = "DEVICE", conflicts_with = "out")]
    pub output: Option<String>,
    /// Stop after this many seconds
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub duration: Option<f64>,
    /// Print jitter-buffer and network figures at the end
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
    /// Print one row of the compatibility table (README's) per device instead of the checks
    #[arg(long)]
    pub markdown: bool,
    /// Also measure how long the device waits without audio before it hangs up (it plays its
    /// "call ended" prompt once; up to a minute)
    #[arg(long)]
    pub idle: bool,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[arg(value_name = "CAMERA", required = true, help = CAMERAS, add = complete::cameras())]
    pub cameras: Vec<String>,
    #[command(flatten)]
    pub login: Login,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v <= 3600.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds between 0 and 3600")),
    }
}

fn volume_level(s: &str) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|&v| v <= 1000)
        .ok_or_else(|| format!("{s:?} is not a volume level: give a whole number from 0 (door stations take 0-10, cameras 0-100)"))
}

fn gain_db(s: &str) -> Result<f32, String> {
    let range = crate::audio::shape::GAIN_DB;
    match s.parse::<f32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a gain between {} and +{} dB", range.start(), range.end())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn play_parses_the_documented_forms() {
        let cli = Cli::try_parse_from(["hiktalk", "play", "-", "frontdoor", "--volume", "-6", "--codec", "alaw"]).unwrap();
        let Command::Play(p) = cli.command else { panic!("not play") };
        assert_eq!((p.input.as_str(), p.cameras.as_slice(), p.talk.volume), ("-", &["frontdoor".to_string()][..], -6.0));
        let cli = Cli::try_parse_from(["hiktalk", "play", "x.wav", "front", "garage", "--codec", "alaw"]).unwrap();
        let Command::Play(p) = cli.command else { panic!("not play") };
        assert_eq!(p.cameras, ["front", "garage"]);
        assert_eq!(p.talk.codec, Some(Codec::G711Alaw));
        assert!(Cli::try_parse_from(["hiktalk", "play", "x.wav", "cam", "--volume", "90"]).is_err());
        assert!(Cli::try_parse_from(["hiktalk", "play", "x.wav", "cam", "--keep-codec"]).is_err());
    }
}
