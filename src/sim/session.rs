//! A channel's talk session as the audio streams see it: the checks an audioData request
//! passes (upload and microphone alike), and the watchdog that ends a session gone quiet.

use super::events::{EventKind, lock};
use super::http::{Request, Response};
use super::shared::Shared;
use super::state::EndReason;
use super::xml::ResponseStatus;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// An audioData request attached to the channel's session.
pub(crate) struct Attached {
    pub session_id: String,
    pub end: watch::Receiver<Option<EndReason>>,
    /// The upload's number within the session.
    pub upload: u32,
}

/// Checks the audioData request against the channel's session; `attach` for an upload (one
/// at a time), not for the microphone, which may run beside it.
pub(crate) fn check_session(shared: &Shared, req: &Request, channel: u32, attach: bool) -> Result<Attached, &'static str> {
    let required = shared.requires_session_id();
    let mut st = lock(&shared.state);
    let ch = st.channel(channel).ok_or("no_channel")?;
    let s = ch.session.as_mut().ok_or("no_session")?;
    if required {
        match req.query_param("sessionId") {
            None => return Err("missing_session_id"),
            Some(id) if id != s.id => return Err("wrong_session_id"),
            Some(_) => {}
        }
    }
    if attach {
        // One upload per session: a second PUT (a PUT per chunk) is refused.
        if s.streaming {
            return Err("already_streaming");
        }
        s.streaming = true;
        s.uploads += 1;
        // The idle clock runs from open; a client coming back to a stale session restarts it.
        if s.stale_since.take().is_some() {
            s.last_audio = Instant::now();
            s.wake.notify_one();
        }
    }
    Ok(Attached { session_id: s.id.clone(), end: s.end.subscribe(), upload: s.uploads })
}

pub(crate) fn refuse(shared: &Shared, req: &Request, channel: u32, reason: &str) -> Response {
    shared.log.log(EventKind::AudioRefused { channel, status: 403, reason: reason.into() });
    let mut rs = ResponseStatus::new(&req.path, 4, "Invalid Operation", "invalidOperation");
    rs.description = Some(reason.replace('_', " "));
    shared.status_xml(403, rs).closing()
}

/// Ends a session that went quiet (idle hang-up) or whose client vanished (stale expiry).
pub(crate) async fn watchdog(shared: Arc<Shared>, channel: u32, id: String, wake: Arc<Notify>) {
    loop {
        let deadline = {
            let mut st = lock(&shared.state);
            let Some(s) = st.session(channel, &id) else { return };
            let deadline = match s.stale_since {
                Some(t) => t + shared.cfg.stale_expiry,
                None => s.last_audio + shared.cfg.idle_timeout,
            };
            if Instant::now() >= deadline {
                if s.stale_since.is_some() {
                    if let Some(ch) = st.channel(channel) {
                        ch.session = None;
                        ch.channel.enabled = Some(false);
                    }
                    shared.log.log(EventKind::SessionExpired { channel, session_id: id });
                } else {
                    st.end_session(&shared.log, channel, Some(&id), EndReason::Idle);
                }
                return;
            }
            deadline
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = wake.notified() => {}
            _ = shared.shutting_down() => return,
        }
    }
}
