//! Talk: a channel's session opened (one at a time), the speaker upload (`PUT .../audioData`:
//! raw bytes after the answer, read until the socket closes or the session ends), and the
//! client's close.

use super::config::Expect;
use super::events::{EventKind, lock};
use super::faults::{Fault, corrupt};
use super::http::{Next, Request, Response};
use super::profile::{BusyStyle, Profile};
use super::recorder::Recorder;
use super::session::{Attached, check_session, refuse, watchdog};
use super::shared::Shared;
use super::state::{CallStatus, EndReason, Session};
use super::xml::{self, ResponseStatus};
use crate::codec::Codec;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::{Duration, Instant};

/// After a device hang-up, how long the socket is drained so the client can read the goodbye
/// (closing with unread input would make the kernel send a reset instead).
const HANGUP_DRAIN: Duration = Duration::from_millis(500);

pub(crate) fn open(shared: &Arc<Shared>, req: &Request, id: u32) -> Response {
    let profile = shared.cfg.profile;
    let mut st = lock(&shared.state);
    let Some(ch) = st.channel(id) else { return shared.not_supported(req) };
    // A doorbell that is ringing grants the session; it just does not play the audio.
    let refusal = if let Some(s) = &ch.session {
        Some(if s.stale_since.is_some() { "busy_stale" } else { "busy" })
    } else if profile == Profile::AacOnly && ch.codec() != Some(Codec::Aac) {
        Some("codec_not_aac")
    } else {
        None
    };
    if let Some(reason) = refusal {
        let resp = if reason == "codec_not_aac" { refused(shared, req, BusyStyle::Forbidden) } else { refused(shared, req, shared.busy) };
        shared.log.log(EventKind::OpenRefused { channel: id, status: resp.status, reason: reason.into() });
        return resp;
    }
    let session_id: String = {
        use rand::Rng;
        let mut rng = rand::rng();
        (0..32).map(|_| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.random_range(0..36)])).collect()
    };
    let wake = Arc::new(Notify::new());
    ch.session = Some(Session {
        id: session_id.clone(),
        last_audio: Instant::now(),
        streaming: false,
        stale_since: None,
        end: watch::channel(None).0,
        wake: wake.clone(),
        uploads: 0,
    });
    ch.channel.enabled = Some(true);
    let returned = profile.uses_session_id().then(|| session_id.clone());
    shared.log.log(EventKind::SessionOpened { channel: id, session_id: returned.clone(), id: session_id.clone() });
    tokio::spawn(watchdog(shared.clone(), id, session_id, wake));
    match returned {
        Some(sid) => Response::xml(200, xml::session_to_xml(&sid, shared.ns)),
        // Old firmware answers open with a plain ResponseStatus.
        None => shared.status_xml(200, ResponseStatus::ok(&req.path)),
    }
}

/// The answer to an open the device will not grant.
fn refused(shared: &Shared, req: &Request, style: BusyStyle) -> Response {
    match style.resolve(shared.cfg.profile) {
        BusyStyle::Unauthorized => shared.unauthorized(false, None, None),
        BusyStyle::Busy => shared.status_xml(503, ResponseStatus::new(&req.path, 2, "Device Busy", "deviceBusy")),
        BusyStyle::Unavailable => shared.status_xml(503, ResponseStatus::new(&req.path, 2, "Device Busy", "serviceUnavailable")),
        BusyStyle::InProgress => {
            let mut rs = ResponseStatus::new(&req.path, 4, "Invalid Operation", "twoWayAudioInProgressPleaseWait");
            rs.error_code = Some("0x40002068".into());
            rs.error_msg = Some("Two-Way audio in progress...Please Wait.".into());
            shared.status_xml(403, rs)
        }
        _ => shared.status_xml(403, ResponseStatus::new(&req.path, 4, "Invalid Operation", "invalidOperation")),
    }
}

/// Closes the channel's session: idempotent (closing a closed channel is OK too; real devices
/// leave requestURL empty), but where sessionIds are required, one naming another session is
/// refused.
pub(crate) fn close(shared: &Shared, req: &Request, id: u32) -> Response {
    let mut st = lock(&shared.state);
    let current = st.channel(id).and_then(|c| c.session.as_ref().map(|s| s.id.clone()));
    if shared.requires_session_id() && current.is_some() {
        let given = req.query_param("sessionId");
        if given != current.as_deref() {
            let reason = if given.is_none() { "missing_session_id" } else { "wrong_session_id" };
            shared.log.log(EventKind::CloseRefused { channel: id, reason: reason.into() });
            let mut rs = ResponseStatus::new(&req.path, 4, "Invalid Operation", "invalidOperation");
            rs.description = Some(reason.replace('_', " "));
            return shared.status_xml(403, rs);
        }
    }
    if let Some(sid) = current {
        // Firmware that confirms the close and keeps the session: it blocks the channel until
        // it expires as stale. (The state lock is let go while the fault fires and logs.)
        drop(st);
        if shared.fire(|f| matches!(f, Fault::CloseKeepsChannel { .. })).is_some() {
            mark_stale(shared, id, &sid);
            return shared.status_xml(200, ResponseStatus::ok(""));
        }
        st = lock(&shared.state);
    }
    st.end_session(&shared.log, id, None, EndReason::ClientClose);
    shared.status_xml(200, ResponseStatus::ok(""))
}

/// Faults that act on the upload stream, picked when it starts and fired when they trigger.
struct StreamFaults {
    hangup_bytes: Option<Fault>,
    hangup_at: Option<(Fault, Instant)>,
    reset_bytes: Option<Fault>,
    reset_at: Option<(Fault, Instant)>,
    freeze_bytes: Option<Fault>,
    pause_bytes: Option<Fault>,
}

impl StreamFaults {
    fn pick(shared: &Shared, start: Instant) -> StreamFaults {
        let faults = lock(&shared.faults);
        let at = |secs: f64| start + Duration::from_secs_f64(secs);
        StreamFaults {
            hangup_bytes: faults.peek(|f| matches!(f, Fault::HangupAfterBytes { .. })),
            hangup_at: faults.peek(|f| matches!(f, Fault::HangupAfterSecs { .. })).and_then(|f| match f {
                Fault::HangupAfterSecs { secs, .. } => Some((f.clone(), at(secs))),
                _ => None,
            }),
            reset_bytes: faults.peek(|f| matches!(f, Fault::ResetAfterBytes { .. })),
            reset_at: faults.peek(|f| matches!(f, Fault::ResetAfterSecs { .. })).and_then(|f| match f {
                Fault::ResetAfterSecs { secs, .. } => Some((f.clone(), at(secs))),
                _ => None,
            }),
            freeze_bytes: faults.peek(|f| matches!(f, Fault::FreezeAfterBytes { .. })),
            pause_bytes: faults.peek(|f| matches!(f, Fault::PauseAfterBytes { .. })),
        }
    }
}

fn byte_limit(f: &Option<Fault>) -> Option<u64> {
    match f {
        Some(
            Fault::HangupAfterBytes { bytes, .. }
            | Fault::ResetAfterBytes { bytes, .. }
            | Fault::FreezeAfterBytes { bytes, .. }
            | Fault::PauseAfterBytes { bytes, .. },
        ) => Some(*bytes),
        _ => None,
    }
}

/// How an upload ended.
enum Ending {
    Session(EndReason),
    ClientClosed,
    ClientReset,
    HangupFault,
    ResetFault,
    /// `Expect: 100-continue` in `continue` mode: the announced body has arrived.
    BodyDone,
}

/// Serves `PUT .../audioData`: answers 200 at once, then reads raw audio until the end.
pub(crate) async fn upload(
    shared: &Arc<Shared>,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    req: &Request,
    channel: u32,
    body_fault: impl FnOnce() -> Option<Fault>,
) -> Next {
    let Attached { session_id, mut end, upload } = match check_session(shared, req, channel, true) {
        Ok(x) => x,
        Err(reason) => {
            let resp = refuse(shared, req, channel, reason);
            let _ = resp.write(stream).await;
            shared.log_request(peer, req, resp.status);
            return Next::Close;
        }
    };
    let params = lock(&shared.state).channel(channel).and_then(|c| c.codec_params());
    let mut resp = shared.status_xml(200, ResponseStatus::ok(&req.path));
    let fault = body_fault();
    if let Some(f) = &fault {
        resp = corrupt(resp, f);
    }
    let expects = req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects {
        shared.log.log(EventKind::ExpectContinue { path: req.path.clone() });
    }
    // In `continue` mode the announced body is the audio, and the answer comes after it.
    let body_len = (expects && shared.cfg.expect == Expect::Continue).then(|| req.content_length().unwrap_or(0) as u64);
    let out = match body_len {
        Some(_) => b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
        // The answer goes out before any audio is read: devices reply at once and then take
        // raw bytes regardless of Content-Length.
        None => {
            let mut out = resp.head().into_bytes();
            out.extend_from_slice(&resp.body);
            out
        }
    };
    // Counted from before the answer, so a client that has it knows its recording will be kept.
    let _receiving = shared.receiving();
    // Taken before the write: the client cannot have the answer (and start its clock) earlier.
    let answered = Instant::now();
    let written = stream.write_all(&out).await.is_ok();
    if body_len.is_none() {
        shared.log_request(peer, req, resp.status);
    }
    if !written || matches!(fault, Some(Fault::TruncatedXml { .. })) {
        mark_stale(shared, channel, &session_id);
        return Next::Close;
    }
    shared.log.log(EventKind::AudioStarted { channel, session_id: session_id.clone() });

    let (mut rec, problems) =
        Recorder::new(params, shared.cfg.record_dir.as_deref(), (channel, &session_id, upload), (shared.cfg.buffer, answered));
    if let Some(line) = shared.echo_line(channel) {
        rec = rec.echo_into(line, shared.cfg.buffer);
    }
    let accepted = shared.visit_began();
    for error in problems {
        shared.log.log(EventKind::DecodeError { channel, session_id: session_id.clone(), error });
    }
    let start = Instant::now();
    let faults = StreamFaults::pick(shared, start);
    let far = start + Duration::from_secs(365 * 24 * 3600);
    let mut bytes: u64 = 0;
    let mut pending = std::mem::take(buf);
    let mut chunk = vec![0u8; 8192];
    let mut paused = false;

    let ending = loop {
        if !pending.is_empty() {
            let data = std::mem::take(&mut pending);
            bytes += data.len() as u64;
            // A doorbell that is ringing takes the audio but does not play it.
            let audible = lock(&shared.state).call != CallStatus::Ring;
            if let Err(error) = rec.feed(&data, audible, accepted, shared.log.now()) {
                shared.log.log(EventKind::DecodeError { channel, session_id: session_id.clone(), error });
            }
            if let Some(s) = lock(&shared.state).session(channel, &session_id) {
                s.last_audio = Instant::now();
            }
            if body_len.is_some_and(|n| bytes >= n) {
                break Ending::BodyDone;
            }
            if byte_limit(&faults.reset_bytes).is_some_and(|n| bytes >= n) && take(shared, faults.reset_bytes.as_ref()) {
                break Ending::ResetFault;
            }
            if byte_limit(&faults.hangup_bytes).is_some_and(|n| bytes >= n) && take(shared, faults.hangup_bytes.as_ref()) {
                break Ending::HangupFault;
            }
            if !paused && byte_limit(&faults.pause_bytes).is_some_and(|n| bytes >= n) && take(shared, faults.pause_bytes.as_ref()) {
                paused = true;
                // A device that stops reading for a while: the client's writes block, then
                // whatever the buffers held arrives at once.
                if let Some(Fault::PauseAfterBytes { ms, .. }) = &faults.pause_bytes {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(*ms)) => {}
                        _ = shared.shutting_down() => break Ending::Session(EndReason::Shutdown),
                    }
                }
            }
            if byte_limit(&faults.freeze_bytes).is_some_and(|n| bytes >= n) && take(shared, faults.freeze_bytes.as_ref()) {
                // A half-dead connection: the socket and the session stay, nothing is read any
                // more, so the client's writes block once the buffers fill. Only the end of the
                // session (the client's close, on another connection) or shutdown ends it.
                break tokio::select! {
                    changed = end.changed() => {
                        let why = if changed.is_ok() { *end.borrow() } else { None };
                        Ending::Session(why.unwrap_or(EndReason::ClientClose))
                    }
                    _ = shared.shutting_down() => Ending::Session(EndReason::Shutdown),
                };
            }
        }
        let hangup_deadline = faults.hangup_at.as_ref().map_or(far, |(_, t)| *t);
        let reset_deadline = faults.reset_at.as_ref().map_or(far, |(_, t)| *t);
        tokio::select! {
            biased;
            changed = end.changed() => {
                // A dropped sender without a value means the session is gone all the same.
                let why = if changed.is_ok() { *end.borrow() } else { None };
                let why = why.unwrap_or(EndReason::ClientClose);
                if why == EndReason::ClientClose {
                    // The client's close came on another connection; audio it sent before
                    // that may still sit in this socket. A device plays it; so do we.
                    while let Ok(n) = stream.try_read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        bytes += n as u64;
                        if let Err(error) = rec.feed(&chunk[..n], true, accepted, shared.log.now()) {
                            shared.log.log(EventKind::DecodeError { channel, session_id: session_id.clone(), error });
                        }
                    }
                }
                break Ending::Session(why);
            }
            _ = shared.shutting_down() => break Ending::Session(EndReason::Shutdown),
            _ = tokio::time::sleep_until(reset_deadline), if faults.reset_at.is_some() => {
                if take(shared, faults.reset_at.as_ref().map(|(f, _)| f)) {
                    break Ending::ResetFault;
                }
            }
            _ = tokio::time::sleep_until(hangup_deadline), if faults.hangup_at.is_some() => {
                if take(shared, faults.hangup_at.as_ref().map(|(f, _)| f)) {
                    break Ending::HangupFault;
                }
            }
            r = stream.read(&mut chunk) => match r {
                Ok(0) => break Ending::ClientClosed,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
                Err(_) => break Ending::ClientReset,
            },
        }
    };

    let reason = match ending {
        Ending::Session(why) => {
            if why.by_device() && shared.cfg.hangup_body {
                let mut rs = ResponseStatus::ok(&req.path);
                rs.description = Some(format!("call ended: {}", why.as_str()));
                let _ = stream.write_all(rs.to_xml(shared.ns).as_bytes()).await;
            }
            close_gently(stream).await;
            why.audio_reason()
        }
        Ending::HangupFault => {
            lock(&shared.state).end_session(&shared.log, channel, Some(&session_id), EndReason::Fault);
            if shared.cfg.hangup_body {
                let mut rs = ResponseStatus::ok(&req.path);
                rs.description = Some("call ended: fault".into());
                let _ = stream.write_all(rs.to_xml(shared.ns).as_bytes()).await;
            }
            close_gently(stream).await;
            "fault"
        }
        Ending::ResetFault => {
            // SO_LINGER 0: close() sends RST. The session stays open, as after a network drop.
            let _ = stream.set_zero_linger();
            mark_stale(shared, channel, &session_id);
            "fault"
        }
        Ending::ClientClosed => {
            mark_stale(shared, channel, &session_id);
            "client_closed"
        }
        Ending::ClientReset => {
            mark_stale(shared, channel, &session_id);
            "client_reset"
        }
        Ending::BodyDone => {
            let _ = resp.write(stream).await;
            shared.log_request(peer, req, resp.status);
            mark_stale(shared, channel, &session_id);
            "body_complete"
        }
    };
    let received = rec.finish();
    let (raw, wav, listened) = (received.raw_path.clone(), received.wav_path.clone(), received.listened.clone());
    lock(&shared.state).keep(received, shared.cfg.keep_audio_bytes);
    let seconds = listened.audio_seconds;
    shared.log.log(EventKind::AudioEnded { channel, session_id, upload, bytes, seconds, reason: reason.into(), raw, wav, listened });
    Next::Close
}

/// Fires a picked stream fault if it still has firings left (another upload may have used it).
fn take(shared: &Shared, fault: Option<&Fault>) -> bool {
    fault.is_some_and(|fault| shared.fire(|f| f == fault).is_some())
}

/// The upload went away without a close: the session stays, blocking the channel, until
/// close or stale expiry.
fn mark_stale(shared: &Shared, channel: u32, session_id: &str) {
    if let Some(s) = lock(&shared.state).session(channel, session_id) {
        s.streaming = false;
        s.stale_since = Some(Instant::now());
        s.wake.notify_one();
    }
}

/// Half-closes, then drains briefly so the client reads what was written before the close.
async fn close_gently(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let deadline = Instant::now() + HANGUP_DRAIN;
    let mut sink = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}
