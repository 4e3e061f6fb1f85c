//! How a command ended: one typed reason ([`Ending`]) that maps to a message and to the
//! documented exit code (the one place that mapping lives), and the [`Outcome`] a command
//! reports (one human line, or one JSON object with the same schema for every command).

use crate::isapi::{IsapiError, xml::ResponseStatus};
use serde::Serialize;
use std::time::Duration;

/// Documented process exit codes (README and man page list the same table).
pub mod exit {
    /// Finished: the input ended, or `speak` was stopped by the user.
    pub const OK: i32 = 0;
    /// A bug or an unexpected local failure.
    pub const INTERNAL: i32 = 1;
    /// Bad command line or configuration (unknown camera, bad flag value).
    pub const USAGE: i32 = 2;
    /// The audio input failed: unreadable, unsupported or empty file, no microphone, no
    /// speech engine (`say`).
    pub const INPUT: i32 = 3;
    /// The device rejected the credentials or has locked this client out.
    pub const AUTH: i32 = 4;
    /// The talk channel is in use by another client.
    pub const BUSY: i32 = 5;
    /// The device ended the session (hang-up, idle timeout, doorbell call).
    pub const HANGUP: i32 = 6;
    /// The network failed: cannot connect, connection reset, timeout, device stopped reading.
    pub const NETWORK: i32 = 7;
    /// The device answered something that is not ISAPI two-way audio, or reported an error.
    pub const PROTOCOL: i32 = 8;
    /// The channel's codec is not one hiktalk can encode, or the device refused the codec.
    pub const CODEC: i32 = 9;
    /// Several devices: some failed, or all failed for different reasons (each device's own
    /// reason and code are in the report).
    pub const SOME_FAILED: i32 = 10;
    /// `answer`: the doorbell is not ringing (and no `--wait`).
    pub const NOT_RINGING: i32 = 11;
    /// `wait-ring --timeout`, `answer --wait S`: no ring in time.
    pub const TIMED_OUT: i32 = 12;
    /// The device refused a call or door command (invalidOperation, a door it does not have).
    pub const REFUSED: i32 = 13;
    /// A doorbell rings, and audio sent while it rings is not played: nothing was sent (`play`,
    /// `say`, `speak` without `--stop-ring`).
    pub const RINGING: i32 = 14;
    /// `check`: at least one check failed (each check's line says which and what to do).
    pub const CHECK_FAILED: i32 = 15;
    /// `play` was interrupted (SIGINT, SIGTERM, SIGHUP) before its input ended; `status` and
    /// `close` (and `volume`, `unlock`, `hangup`, `reject`) were stopped by one of them.
    pub const INTERRUPTED: i32 = 130;

    /// The HTTP status `serve` answers an outcome with: the same table, read by an HTTP client.
    /// The device's faults are the gateway's (502, 504 when it cannot be reached); a busy or
    /// ringing device, a refused command and a stopped play conflict with the request (409).
    pub fn http_status(code: i32) -> u16 {
        match code {
            OK => 200,
            USAGE => 400,
            INPUT | CODEC => 422,
            AUTH => 403,
            BUSY | RINGING | NOT_RINGING | REFUSED | INTERRUPTED => 409,
            NETWORK | TIMED_OUT => 504,
            HANGUP | PROTOCOL | SOME_FAILED => 502,
            _ => 500,
        }
    }
}

/// How a command, a session or the attempt to start one ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ending {
    /// A one-shot command (status, close, devices) did what was asked.
    Done,
    /// All input was sent.
    EndOfInput,
    /// The user stopped hiktalk with a signal.
    UserStop { signal: String },
    /// Nobody spoke for `--hold` (`speak --vad`): the session was closed and reopens on speech.
    /// It ends a session, never a run.
    Quiet { hold_secs: f64 },
    /// The device closed the upload, with what it said.
    DeviceHangup { status: Option<Box<ResponseStatus>>, idle: bool, call: Option<String> },
    /// The device stopped reading audio (a half-dead connection).
    Stalled { after_secs: f64 },
    /// The connection was reset or failed mid-stream.
    ConnectionReset { detail: String },
    /// The channel is in use.
    Busy { detail: String },
    /// Credentials rejected, account locked (`locked`: the device said so), or no usable
    /// challenge.
    Auth { detail: String, locked: bool },
    /// Connect failure or timeout on a control step.
    Network { detail: String },
    /// The TLS handshake failed, usually an unpinned or changed certificate. Not transient:
    /// retrying cannot make an untrusted certificate trusted.
    Tls { detail: String },
    /// The device is not an ISAPI talk device, or answered with an error status.
    Protocol { detail: String },
    /// The device answered with a server error (5xx); it may pass.
    DeviceError { detail: String },
    /// Codec unsupported or refused.
    Codec { detail: String },
    /// The audio input failed.
    Input { detail: String },
    /// A bad command line, config file or camera name.
    Usage { detail: String },
    /// A bug: a panic, or a part of hiktalk that stopped unexpectedly.
    Internal { detail: String },
    /// Several devices, and `failed` of the `total` did not succeed (each says why).
    SomeFailed { failed: usize, total: usize },
    /// `answer` without `--wait` on a doorbell that is not ringing.
    NotRinging { call_state: String },
    /// No ring came within `waited_secs`.
    TimedOut { waited_secs: f64 },
    /// The device refused a call or door command.
    Refused { detail: String },
    /// The device has no such function (old door stations have no call control).
    Unsupported { detail: String },
    /// A call ended from the other side (the visitor, the indoor station, the bell timeout).
    CallEnded { call_state: String },
    /// The doorbell rings: talk would not be played, so none was sent.
    Ringing,
    /// `check`: `failed` of the device's `total` checks failed.
    CheckFailed { failed: usize, total: usize },
}

impl Ending {
    /// Classifies a control-request failure.
    pub fn from_isapi(e: &IsapiError) -> Ending {
        let detail = e.to_string();
        if e.is_auth() {
            Ending::Auth { detail, locked: e.is_locked() }
        } else if e.is_busy() {
            Ending::Busy { detail }
        } else if matches!(e, IsapiError::NotSupported { .. }) {
            Ending::Unsupported { detail }
        } else if matches!(e, IsapiError::Tls { .. }) {
            Ending::Tls { detail }
        } else if matches!(e, IsapiError::Connect { .. } | IsapiError::Timeout { .. } | IsapiError::Network { .. }) {
            Ending::Network { detail }
        } else if e.is_transient() {
            Ending::DeviceError { detail }
        } else {
            Ending::Protocol { detail }
        }
    }

    /// The exit code for this ending; `stop_is_normal` says whether a user stop is how the
    /// command ends normally (`speak`) rather than an interruption (`play`).
    pub fn exit_code(&self, stop_is_normal: bool) -> i32 {
        match self {
            Ending::Done | Ending::EndOfInput | Ending::Quiet { .. } | Ending::CallEnded { .. } => exit::OK,
            Ending::NotRinging { .. } => exit::NOT_RINGING,
            Ending::Ringing => exit::RINGING,
            Ending::CheckFailed { .. } => exit::CHECK_FAILED,
            Ending::TimedOut { .. } => exit::TIMED_OUT,
            Ending::Refused { .. } => exit::REFUSED,
            Ending::Unsupported { .. } => exit::PROTOCOL,
            Ending::UserStop { .. } if stop_is_normal => exit::OK,
            Ending::UserStop { .. } => exit::INTERRUPTED,
            Ending::DeviceHangup { .. } => exit::HANGUP,
            Ending::Stalled { .. } | Ending::ConnectionReset { .. } | Ending::Network { .. } | Ending::Tls { .. } => exit::NETWORK,
            Ending::Busy { .. } => exit::BUSY,
            Ending::Auth { .. } => exit::AUTH,
            Ending::Protocol { .. } | Ending::DeviceError { .. } => exit::PROTOCOL,
            Ending::Codec { .. } => exit::CODEC,
            Ending::Input { .. } => exit::INPUT,
            Ending::Usage { .. } => exit::USAGE,
            Ending::Internal { .. } => exit::INTERNAL,
            Ending::SomeFailed { .. } => exit::SOME_FAILED,
        }
    }

    /// A fault the user did not ask for that a bounded retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(self, Ending::ConnectionReset { .. } | Ending::Stalled { .. } | Ending::Network { .. } | Ending::DeviceError { .. })
            || matches!(self, Ending::DeviceHangup { call: None, .. })
    }

    /// The `reason` of the JSON form (`device_hangup`, `connection_reset`, ...).
    pub fn reason(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or_default();
        v.get("reason").and_then(|r| r.as_str()).unwrap_or("unknown").to_string()
    }

    /// One human sentence: what happened and what to try next.
    pub fn describe(&self) -> String {
        match self {
            Ending::Done => "done".into(),
            Ending::EndOfInput => "end of input".into(),
            Ending::UserStop { signal } => format!("stopped by {signal}"),
            Ending::Quiet { hold_secs } => format!("quiet for {hold_secs:.1} s: session closed until you speak again"),
            Ending::DeviceHangup { status, idle, call } => {
                let mut s = "the device hung up".to_string();
                match status {
                    Some(st) => s.push_str(&format!(": {}", st.summary())),
                    None => s.push_str(" (it closed the audio connection without a status)"),
                }
                if let Some(c) = call {
                    s.push_str(&format!(
                        "; the doorbell reports call state {c:?} (an incoming call ends talk): answer it with `hiktalk answer`"
                    ));
                } else if *idle {
                    s.push_str("; no audio reached it for several seconds (idle timeout): check the network path to it");
                } else {
                    s.push_str("; try again, and if it keeps hanging up check its two-way audio settings and log");
                }
                s
            }
            Ending::Stalled { after_secs } => {
                format!("the device stopped reading audio for {after_secs:.1} s (half-dead connection); check the network path to it")
            }
            Ending::ConnectionReset { detail } => format!("the audio connection failed: {detail}"),
            Ending::Busy { detail } => format!(
                "{detail}; wait for it to end, use --take-over to close that session first, or clear a session a crashed client left with `hiktalk close`; \
                 if it stays busy with nothing talking, the firmware may not free the channel on close: {}",
                crate::quirks::get(crate::quirks::QuirkId::CloseKeepsChannel).advice
            ),
            Ending::Auth { detail, .. } => {
                format!("{detail}; check the user and password (hiktalk never retries a rejected password, devices lock accounts)")
            }
            Ending::Network { detail } => format!("{detail}; check the address and that the device is reachable"),
            // The verifier's message already names the fingerprint and what to try next.
            Ending::Tls { detail } => detail.clone(),
            Ending::Protocol { detail } => format!("{detail}; is this a Hikvision device with two-way audio?"),
            Ending::DeviceError { detail } => format!("{detail}; the device reported an internal error"),
            Ending::Codec { detail } | Ending::Input { detail } | Ending::Usage { detail } => detail.clone(),
            Ending::Internal { detail } => format!("internal error: {detail}; this is a bug in hiktalk, please report it"),
            Ending::SomeFailed { failed, total } => format!("{failed} of {total} devices failed; each device's line says why"),
            Ending::NotRinging { call_state } => format!(
                "the doorbell is not ringing (call state {call_state}); `--wait` answers the next ring, `hiktalk wait-ring` waits for one"
            ),
            Ending::TimedOut { waited_secs } => format!("no ring within {waited_secs:.1} s"),
            Ending::Refused { detail } => detail.clone(),
            Ending::Unsupported { detail } => {
                let q = crate::quirks::get(crate::quirks::QuirkId::NoCallControl);
                format!("{detail}; this firmware cannot do that (some old door stations have no call control: {})", q.advice)
            }
            Ending::CallEnded { call_state } => format!("the call ended at the door (call state {call_state})"),
            Ending::CheckFailed { failed, total } => {
                format!("{failed} of {total} checks failed; each check's line says what it means and what to do")
            }
            Ending::Ringing => "the doorbell is ringing, and audio sent while it rings is not played, so none was sent; \
                               answer the call (`hiktalk answer`) or add --stop-ring to stop the ring first"
                .into(),
        }
    }

    /// The ending an error means. Errors are typed where they happen; this is where they meet.
    pub fn from_error(e: &anyhow::Error) -> Ending {
        let detail = e.to_string();
        if let Some(ending) = e.downcast_ref::<Ending>() {
            ending.clone()
        } else if let Some(crate::config::ConfigError::Interrupted) = e.downcast_ref::<crate::config::ConfigError>() {
            Ending::UserStop { signal: "SIGINT".into() }
        } else if e.is::<crate::config::ConfigError>() {
            Ending::Usage { detail }
        } else if e.is::<crate::audio::decode::AudioError>()
            || e.is::<crate::audio::capture::CaptureError>()
            || e.is::<crate::audio::devices::Lookup>()
            || e.is::<crate::audio::playback::PlaybackError>()
            || e.is::<crate::audio::echo::EchoError>()
            || e.is::<crate::audio::speech::SpeechError>()
            || matches!(e.downcast_ref::<crate::listen::ListenError>(), Some(l) if !matches!(l, crate::listen::ListenError::Thread(_)))
        {
            Ending::Input { detail }
        } else if let Some(i) = e.downcast_ref::<IsapiError>() {
            Ending::from_isapi(i)
        } else {
            Ending::Internal { detail }
        }
    }

    pub fn hangup(status: Option<ResponseStatus>, idle: bool) -> Ending {
        Ending::DeviceHangup { status: status.map(Box::new), idle, call: None }
    }

    pub fn stalled(after: Duration) -> Ending {
        Ending::Stalled { after_secs: after.as_secs_f64() }
    }
}

static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Replaces the default panic output (a raw message and a backtrace) by keeping the message:
/// whatever turns the panic into an outcome (`commands::main`, the session, a producer's end)
/// names it in hiktalk's own format, once.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("a thread").to_string();
        let detail = format!("{what} (in {thread}{at})");
        *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = Some(detail);
    }));
}

/// The last panic's message, if one happened.
pub fn take_panic() -> Option<String> {
    LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()).take()
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::error::Error for Ending {}

/// What a command reports when it ends: printed once by `output::report`, as one line on
/// stderr or as one JSON object on stdout with the same schema for every command:
/// `device`, `reason` (and the reason's own fields), `exit_code`, `message`, then the
/// command's figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The camera as the user named it (a URL without its credentials), when there is one.
    pub device: Option<String>,
    pub ending: Ending,
    pub exit_code: i32,
    /// The command's own figures, merged into the JSON object.
    pub figures: serde_json::Map<String, serde_json::Value>,
    /// Human mode: data the command prints on stdout (a table), if any.
    pub stdout: Option<String>,
    /// Human mode: the line for stderr. `None` prints `device: message` for a failure and
    /// nothing for a success.
    pub line: Option<String>,
}

impl Outcome {
    /// An outcome whose exit code is the ending's (a user stop counts as an interruption).
    pub fn new(device: Option<String>, ending: Ending) -> Outcome {
        let exit_code = ending.exit_code(false);
        Outcome { device, ending, exit_code, figures: Default::default(), stdout: None, line: None }
    }

    /// The outcome of an error that ended a command.
    pub fn failed(device: Option<String>, e: &anyhow::Error) -> Outcome {
        Outcome::new(device, Ending::from_error(e))
    }

    /// Adds the fields of `figures` (a struct serialising to an object) to the JSON.
    pub fn with_figures(mut self, figures: &impl Serialize) -> Outcome {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(figures) {
            self.figures.extend(map);
        }
        self
    }

    /// The one-object JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("device".into(), self.device.clone().into());
        if let Ok(serde_json::Value::Object(ending)) = serde_json::to_value(&self.ending) {
            obj.extend(ending);
        }
        obj.insert("exit_code".into(), self.exit_code.into());
        obj.insert("message".into(), self.ending.describe().into());
        for (k, v) in &self.figures {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
        serde_json::Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_has_its_documented_code() {
        let st = ResponseStatus::new("", 4, "Invalid Operation", "sessionTimeout");
        let cases = [
            (Ending::EndOfInput, exit::OK),
            (Ending::UserStop { signal: "SIGINT".into() }, exit::INTERRUPTED),
            (Ending::hangup(Some(st), false), exit::HANGUP),
            (Ending::stalled(Duration::from_secs(5)), exit::NETWORK),
            (Ending::ConnectionReset { detail: "reset".into() }, exit::NETWORK),
            (Ending::Busy { detail: "x".into() }, exit::BUSY),
            (Ending::Auth { detail: "x".into(), locked: false }, exit::AUTH),
            (Ending::Network { detail: "x".into() }, exit::NETWORK),
            (Ending::Tls { detail: "x".into() }, exit::NETWORK),
            (Ending::Protocol { detail: "x".into() }, exit::PROTOCOL),
            (Ending::DeviceError { detail: "x".into() }, exit::PROTOCOL),
            (Ending::Codec { detail: "x".into() }, exit::CODEC),
            (Ending::Input { detail: "x".into() }, exit::INPUT),
            (Ending::NotRinging { call_state: "idle".into() }, exit::NOT_RINGING),
            (Ending::TimedOut { waited_secs: 1.0 }, exit::TIMED_OUT),
            (Ending::Refused { detail: "x".into() }, exit::REFUSED),
            (Ending::Unsupported { detail: "x".into() }, exit::PROTOCOL),
            (Ending::CallEnded { call_state: "idle".into() }, exit::OK),
            (Ending::Ringing, exit::RINGING),
            (Ending::CheckFailed { failed: 1, total: 20 }, exit::CHECK_FAILED),
        ];
        for (ending, code) in cases {
            assert_eq!(ending.exit_code(false), code, "{ending:?}");
        }
        assert_eq!(Ending::UserStop { signal: "SIGTERM".into() }.exit_code(true), exit::OK);
    }

    #[test]
    fn only_unasked_faults_are_transient() {
        assert!(Ending::ConnectionReset { detail: "x".into() }.is_transient());
        assert!(Ending::hangup(None, false).is_transient());
        assert!(!Ending::DeviceHangup { status: None, idle: false, call: Some("ring".into()) }.is_transient());
        for e in [
            Ending::UserStop { signal: "SIGINT".into() },
            Ending::Auth { detail: "x".into(), locked: false },
            Ending::Busy { detail: "x".into() },
            Ending::Codec { detail: "x".into() },
            Ending::Tls { detail: "x".into() },
        ] {
            assert!(!e.is_transient(), "{e:?}");
        }
    }
}
