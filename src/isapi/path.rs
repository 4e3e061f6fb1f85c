//! Request paths: the one place where a device-supplied string (a channel id, a sessionId) goes
//! into a request line. Every request builder, the raw audioData head included, gets its path
//! from here.
//!
//! A channel id becomes a path segment, and percent-encoding alone cannot make every string a
//! safe segment (URL parsers turn `%2E%2E` back into `..`), so ids are checked instead: talk
//! channels are numbered, and anything beyond letters, digits, `-` and `_` is refused as a
//! protocol error. A sessionId is opaque and goes into the query, percent-encoded.

use super::error::IsapiError;

/// The talk channel list.
pub const CHANNELS: &str = "/ISAPI/System/TwoWayAudio/channels";
/// The longest channel id accepted (real ones are one or two digits).
const MAX_ID: usize = 32;

/// What comes after `channels/<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Talk {
    Channel,
    Capabilities,
    Open,
    Close,
    AudioData,
}

/// The path of `what` on channel `id`, with `?sessionId=` when a session id is given.
pub fn talk(id: &str, what: Talk, session_id: Option<&str>) -> Result<String, IsapiError> {
    let id = channel_id(id)?;
    let tail = match what {
        Talk::Channel => "",
        Talk::Capabilities => "/capabilities",
        Talk::Open => "/open",
        Talk::Close => "/close",
        Talk::AudioData => "/audioData",
    };
    Ok(with_session(&format!("{CHANNELS}/{id}{tail}"), session_id))
}

/// `id` if it is a channel id that can go into a path unchanged.
fn channel_id(id: &str) -> Result<&str, IsapiError> {
    let sane = !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if sane { Ok(id) } else { Err(IsapiError::BadChannelId { id: id.chars().take(MAX_ID * 2).collect() }) }
}

/// Appends `?sessionId=` when the device gave one.
fn with_session(path: &str, session_id: Option<&str>) -> String {
    match session_id {
        Some(s) => format!("{path}?sessionId={}", percent_encode(s)),
        None => path.to_string(),
    }
}

/// Everything but RFC 3986 unreserved characters, percent-encoded (a query value).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The path without its query, for messages (`PUT .../open`).
pub fn without_query(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_encoded_into_the_query() {
        assert_eq!(with_session("/c/close", None), "/c/close");
        assert_eq!(with_session("/c/close", Some("ab c&1\r\n")), "/c/close?sessionId=ab%20c%261%0D%0A");
        assert_eq!(talk("1", Talk::AudioData, Some("x")).unwrap(), "/ISAPI/System/TwoWayAudio/channels/1/audioData?sessionId=x");
        assert_eq!(talk("2", Talk::Channel, None).unwrap(), "/ISAPI/System/TwoWayAudio/channels/2");
    }

    #[test]
    fn ids_that_would_leave_the_path_segment_are_refused() {
        for bad in ["../../../Security/users/1", "1\r\nX-Injected: yes", "1#", "1?x=y", "1 2", "", "..", "%2e%2e", "1/open", "ü"] {
            assert!(matches!(talk(bad, Talk::Open, None), Err(IsapiError::BadChannelId { .. })), "{bad:?}");
        }
        for good in ["1", "2", "101", "ch-1", "a_b"] {
            assert!(talk(good, Talk::Open, None).is_ok(), "{good:?}");
        }
    }
}
