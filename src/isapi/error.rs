//! What can go wrong talking to a device, typed so the session can decide (retry? report?) and
//! `main` can pick an exit code. Messages never contain a password or a Digest response.

use super::xml::{ResponseStatus, UserCheck, XmlError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum IsapiError {
    #[error("cannot connect to {addr}: {detail}")]
    Connect { addr: String, detail: String },
    #[error("TLS handshake with {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
    #[error("no answer to {step} within {} s", after.as_secs_f32())]
    Timeout { step: String, after: Duration },
    #[error("connection lost during {step}: {detail}")]
    Network { step: String, detail: String },
    #[error("the device rejected the password for user {user:?}{}", lock_note(check))]
    AuthRejected { user: String, check: Option<Box<UserCheck>> },
    #[error("the device has locked this client out{}", lock_note(check))]
    Locked { check: Option<Box<UserCheck>> },
    #[error("the device answered 401 without a Digest challenge{}", lock_note(check))]
    NoChallenge { check: Option<Box<UserCheck>> },
    /// Every nonce called stale, even the one the device had just given: it is not accepting
    /// the login, and trying on would count against the account.
    #[error("the device refused the login for user {user:?}: it called a fresh nonce stale again")]
    StaleAgain { user: String },
    /// `why` is hiktalk's own words, never the device's text.
    #[error("the device's Digest challenge cannot be answered: {why}")]
    BadChallenge { why: String },
    #[error("no password given for user {user:?}")]
    NoPassword { user: String },
    #[error("{method} {path} answered HTTP {http}{}", status_note(status))]
    Status { method: String, path: String, http: u16, status: Option<Box<ResponseStatus>> },
    /// `http` 0: the answer was not HTTP at all (`detail` says how).
    #[error("{path} did not answer like an ISAPI device ({})", answer_note(*http, detail))]
    NotIsapi { path: String, http: u16, detail: String },
    #[error("{path} answered with a document hiktalk cannot read: {source}")]
    Xml { path: String, source: XmlError },
    /// ISAPI never redirects; following one would send the request (and a Digest answer)
    /// somewhere the user did not name.
    #[error(
        "{method} {path} answered HTTP {http}, a redirect to {location:?}; ISAPI devices do not redirect, so hiktalk does not follow it"
    )]
    Redirect { method: String, path: String, http: u16, location: String },
    #[error("{path} answered with more than {} MiB; an ISAPI answer is a few KiB", limit / (1024 * 1024))]
    TooLarge { path: String, limit: usize },
    #[error("{path} answered with a document of more than {limit} elements or values; an ISAPI answer has a few hundred")]
    TooDense { path: String, limit: usize },
    /// The device has no such function (404, "Can't locate the url", notSupport).
    #[error("the device has no {what} ({path} answered HTTP {http})")]
    NotSupported { what: &'static str, path: String, http: u16 },
    /// `id` is already cleaned (see `text::clean`).
    #[error(
        "the device lists a talk channel \"{id}\", which is not a channel id hiktalk will put into a request (letters, digits, - and _)"
    )]
    BadChannelId { id: String },
}

fn answer_note(http: u16, detail: &str) -> String {
    match http {
        0 => detail.trim_start_matches(": ").to_string(),
        _ => format!("HTTP {http}{detail}"),
    }
}

fn lock_note(check: &Option<Box<UserCheck>>) -> String {
    match check.as_deref() {
        Some(c) if c.is_locked() => match c.unlock_time {
            Some(s) => format!(" (account locked for this address, unlocks in {s} s)"),
            None => " (account locked for this address)".to_string(),
        },
        Some(c) => match c.retry_times {
            Some(n) => format!(" ({n} attempts left before the device locks the account)"),
            None => String::new(),
        },
        None => String::new(),
    }
}

fn status_note(status: &Option<Box<ResponseStatus>>) -> String {
    status.as_ref().map(|s| format!(": {}", s.summary())).unwrap_or_default()
}

impl IsapiError {
    /// A fault that may pass on its own (worth a bounded retry in a long session).
    pub fn is_transient(&self) -> bool {
        match self {
            IsapiError::Connect { .. } | IsapiError::Timeout { .. } | IsapiError::Network { .. } => true,
            IsapiError::Status { http, .. } => *http >= 500 && !self.is_busy(),
            _ => false,
        }
    }

    /// True for auth failures, which must never be retried (devices lock accounts).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            IsapiError::AuthRejected { .. }
                | IsapiError::Locked { .. }
                | IsapiError::NoChallenge { .. }
                | IsapiError::NoPassword { .. }
                | IsapiError::StaleAgain { .. }
                | IsapiError::BadChallenge { .. }
        )
    }

    /// True when the device says it has locked the account (for this address).
    pub fn is_locked(&self) -> bool {
        match self {
            IsapiError::Locked { .. } => true,
            IsapiError::AuthRejected { check, .. } | IsapiError::NoChallenge { check } => {
                check.as_deref().is_some_and(UserCheck::is_locked)
            }
            _ => false,
        }
    }

    /// True when a doorbell says the command does not fit the call state (`invalidOperation`,
    /// errorCode 0x40000006).
    pub fn is_invalid_operation(&self) -> bool {
        match self {
            IsapiError::Status { status: Some(s), .. } => {
                s.sub_status_code.eq_ignore_ascii_case("invalidOperation")
                    || s.error_code.as_deref() == Some("1073741830")
                    || s.error_msg.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("invalidOperation"))
            }
            _ => false,
        }
    }

    /// True when the device says the talk channel is in use. Only a talk request can be busy
    /// in that sense: a door or call command answered 503 is the device failing, not another
    /// client holding a channel (`--take-over` would not help).
    pub fn is_busy(&self) -> bool {
        match self {
            IsapiError::Status { http, status, path, .. } if path.starts_with(super::path::CHANNELS) => {
                let sub = status.as_ref().map(|s| s.sub_status_code.to_ascii_lowercase()).unwrap_or_default();
                let code = status.as_ref().and_then(|s| s.status_code);
                *http == 503
                    || code == Some(2)
                    || sub.contains("busy")
                    || sub == "serviceunavailable"
                    || sub.contains("twowayaudioinprogress")
            }
            _ => false,
        }
    }
}
