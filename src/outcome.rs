//! Why a talk session ended, in one typed value that maps to a message and an exit code.

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
    /// The audio input failed: unreadable, unsupported or empty file, no microphone.
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
    /// `play` was interrupted (SIGINT, SIGTERM, SIGHUP) before its input ended; `status` and
    /// `close` were stopped by one of them.
    pub const INTERRUPTED: i32 = 130;
}

/// How a session (or the attempt to start one) ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ending {
    /// All input was sent.
    EndOfInput,
    /// The user stopped hiktalk with a signal.
    UserStop { signal: String },
    /// The device closed the upload, with what it said.
    DeviceHangup { status: Option<Box<ResponseStatus>>, idle: bool, call: Option<String> },
    /// The device stopped reading audio (a half-dead connection).
    Stalled { after_secs: f64 },
    /// The connection was reset or failed mid-stream.
    ConnectionReset { detail: String },
    /// The channel is in use.
    Busy { detail: String },
    /// Credentials rejected, account locked, or no usable challenge.
    Auth { detail: String },
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
}

impl Ending {
    /// Classifies a control-request failure.
    pub fn from_isapi(e: &IsapiError) -> Ending {
        let detail = e.to_string();
        if e.is_auth() {
            Ending::Auth { detail }
        } else if e.is_busy() {
            Ending::Busy { detail }
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

    /// The exit code for this ending; `interrupted` says whether a user stop cut input short.
    pub fn exit_code(&self, stop_is_normal: bool) -> i32 {
        match self {
            Ending::EndOfInput => exit::OK,
            Ending::UserStop { .. } if stop_is_normal => exit::OK,
            Ending::UserStop { .. } => exit::INTERRUPTED,
            Ending::DeviceHangup { .. } => exit::HANGUP,
            Ending::Stalled { .. } | Ending::ConnectionReset { .. } | Ending::Network { .. } | Ending::Tls { .. } => exit::NETWORK,
            Ending::Busy { .. } => exit::BUSY,
            Ending::Auth { .. } => exit::AUTH,
            Ending::Protocol { .. } | Ending::DeviceError { .. } => exit::PROTOCOL,
            Ending::Codec { .. } => exit::CODEC,
            Ending::Input { .. } => exit::INPUT,
        }
    }

    /// A fault the user did not ask for that a bounded retry may cure.
    pub fn is_transient(&self) -> bool {
        matches!(self, Ending::ConnectionReset { .. } | Ending::Stalled { .. } | Ending::Network { .. } | Ending::DeviceError { .. })
            || matches!(self, Ending::DeviceHangup { call: None, .. })
    }

    /// One human sentence: what happened and what to try next.
    pub fn describe(&self) -> String {
        match self {
            Ending::EndOfInput => "end of input".into(),
            Ending::UserStop { signal } => format!("stopped by {signal}"),
            Ending::DeviceHangup { status, idle, call } => {
                let mut s = "the device hung up".to_string();
                if let Some(st) = status {
                    s.push_str(&format!(": {}", st.summary()));
                } else {
                    s.push_str(" (it closed the audio connection without a status)");
                }
                if let Some(c) = call {
                    s.push_str(&format!("; the doorbell reports call state {c:?} (an incoming call ends talk)"));
                } else if *idle {
                    s.push_str("; no audio reached it for several seconds (idle timeout)");
                }
                s
            }
            Ending::Stalled { after_secs } => {
                format!("the device stopped reading audio for {after_secs:.1} s (half-dead connection); check the network path to it")
            }
            Ending::ConnectionReset { detail } => format!("the audio connection failed: {detail}"),
            Ending::Busy { detail } => {
                format!("{detail}; another client is talking on this channel: wait, or use --take-over to close its session first")
            }
            Ending::Auth { detail } => {
                format!("{detail}; check the user and password (hiktalk never retries a rejected password, devices lock accounts)")
            }
            Ending::Network { detail } => format!("{detail}; check the address and that the device is reachable"),
            // The verifier's message already names the fingerprint and what to try next.
            Ending::Tls { detail } => detail.clone(),
            Ending::Protocol { detail } => format!("{detail}; is this a Hikvision device with two-way audio?"),
            Ending::DeviceError { detail } => format!("{detail}; the device reported an internal error"),
            Ending::Codec { detail } => detail.clone(),
            Ending::Input { detail } => detail.clone(),
        }
    }

    pub fn hangup(status: Option<ResponseStatus>, idle: bool) -> Ending {
        Ending::DeviceHangup { status: status.map(Box::new), idle, call: None }
    }

    pub fn stalled(after: Duration) -> Ending {
        Ending::Stalled { after_secs: after.as_secs_f64() }
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
            (Ending::Auth { detail: "x".into() }, exit::AUTH),
            (Ending::Network { detail: "x".into() }, exit::NETWORK),
            (Ending::Tls { detail: "x".into() }, exit::NETWORK),
            (Ending::Protocol { detail: "x".into() }, exit::PROTOCOL),
            (Ending::DeviceError { detail: "x".into() }, exit::PROTOCOL),
            (Ending::Codec { detail: "x".into() }, exit::CODEC),
            (Ending::Input { detail: "x".into() }, exit::INPUT),
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
            Ending::Auth { detail: "x".into() },
            Ending::Busy { detail: "x".into() },
            Ending::Codec { detail: "x".into() },
            Ending::Tls { detail: "x".into() },
        ] {
            assert!(!e.is_transient(), "{e:?}");
        }
    }
}
