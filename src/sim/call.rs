//! The doorbell's call: a visitor rings, the resident answers and hangs up (or rejects, or the
//! bell times out), as `callStatus` reports it and `callSignal` drives it.
//!
//! idle --ring--> ring --answer--> onCall --hangUp--> idle
//!                ring --reject | cancel | deviceOnCall | bellTimeout | DELETE ring--> idle
//!
//! Anything else is an invalid operation: a real unit answers a `callSignal` that does not fit
//! the state with statusCode 4 invalidOperation, and a 200 never proves that the state moved
//! (clients read `callStatus` again). A ring always rings, even over a call in progress, and
//! ends talk sessions (a DS-KV6113 does); talk while ringing is taken but not played.

use super::alarm::{Alert, AlertFormat, Detection};
use super::config::MIN_PERIOD;
use super::events::{Event, EventKind, lock};
use super::http::{Request, Response};
use super::profile::CallSignalStyle;
use super::shared::Shared;
use super::state::{CallStatus, EndReason};
use super::xml::{self, ResponseStatus};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The `cmdType`s of `callSignal`, as the ISAPI guide lists them.
const CMD_TYPES: [(Cmd, &str); 6] = [
    (Cmd::Answer, "answer"),
    (Cmd::Reject, "reject"),
    (Cmd::BellTimeout, "bellTimeout"),
    (Cmd::HangUp, "hangUp"),
    (Cmd::DeviceOnCall, "deviceOnCall"),
    (Cmd::Cancel, "cancel"),
];

/// `CallerInfo`: who is calling, as a door station describes itself (building 1, floor 1,
/// unit 1, device 1; devType 1 is a door station). `lockNum` is the door count.
const CALLER: [(&str, i64); 6] = [("buildingNo", 1), ("floorNo", 1), ("zoneNo", 1), ("unitNo", 1), ("devNo", 1), ("devType", 1)];

/// Old units (DS-KB6003) have no call control: their web server's 404 says just this.
const NO_SUCH_URL: &str = "Can't locate the url";

/// The errorCode of invalidOperation (0x40000006).
const INVALID_OPERATION: u32 = 1073741830;

/// A `callSignal` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmd {
    Answer,
    Reject,
    BellTimeout,
    HangUp,
    DeviceOnCall,
    Cancel,
}

impl Cmd {
    fn as_str(self) -> &'static str {
        CMD_TYPES.iter().find(|(c, _)| *c == self).map_or("", |(_, n)| n)
    }

    /// Where the command takes the call from `from`; None: not valid there.
    fn next(self, from: CallStatus) -> Option<CallStatus> {
        match (from, self) {
            (CallStatus::Ring, Cmd::Answer) => Some(CallStatus::OnCall),
            (CallStatus::Ring, Cmd::Reject | Cmd::Cancel | Cmd::DeviceOnCall | Cmd::BellTimeout) => Some(CallStatus::Idle),
            (CallStatus::OnCall, Cmd::HangUp) => Some(CallStatus::Idle),
            _ => None,
        }
    }
}

/// Who moved the call, in `CallStatus` and `Ring` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// An ISAPI request.
    Client,
    /// `SimHandle` or a line on the sim's stdin.
    Local,
    /// `--ring-after`, `--ring-every`, `--ring-at`.
    Schedule,
    /// The device itself (its bell timeout).
    Device,
}

impl By {
    fn as_str(self) -> &'static str {
        match self {
            By::Client => "client",
            By::Local => "local",
            By::Schedule => "schedule",
            By::Device => "device",
        }
    }
}

/// Moves the call to `to` (under the state lock) and logs the transition.
fn set(shared: &Shared, call: &mut CallStatus, to: CallStatus, cause: &str, by: By) {
    let from = std::mem::replace(call, to);
    shared.log.log(EventKind::CallStatus {
        status: to.as_str().into(),
        from: from.as_str().into(),
        cause: cause.into(),
        by: by.as_str().into(),
    });
}

/// A visitor presses the button: the bell rings for `ring_duration`, ending talk sessions.
/// Other profiles have no bell.
pub(crate) fn ring(shared: &Arc<Shared>, by: By) {
    if !shared.cfg.profile.is_doorbell() {
        return;
    }
    let generation = {
        let mut st = lock(&shared.state);
        st.ring_generation += 1;
        shared.log.log(EventKind::Ring { by: by.as_str().into() });
        set(shared, &mut st.call, CallStatus::Ring, "ring", by);
        for id in 1..=st.channels.len() as u32 {
            st.end_session(&shared.log, id, None, EndReason::Ring);
        }
        st.ring_generation
    };
    shared.publish(Alert::Ring);
    // In XML, the call button is alarm input 1: what a camera-event client can see.
    if shared.alert_format() == AlertFormat::Xml {
        let _ = shared.detect(Detection::Io);
    }
    let shared = shared.clone();
    shared.rt.clone().spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(shared.cfg.ring_duration) => {}
            _ = shared.shutting_down() => return,
        }
        let mut st = lock(&shared.state);
        if st.ring_generation == generation && st.call == CallStatus::Ring {
            set(&shared, &mut st.call, CallStatus::Idle, "bellTimeout", By::Device);
        }
    });
}

/// Applies a `callSignal` command; Err(the state it did not fit).
pub(crate) fn signal(shared: &Shared, cmd: Cmd, by: By) -> Result<(), CallStatus> {
    let mut st = lock(&shared.state);
    let from = st.call;
    let next = cmd.next(from);
    if by == By::Client {
        shared.log.log(EventKind::CallSignal { cmd: cmd.as_str().into(), accepted: next.is_some() });
    }
    let to = next.ok_or(from)?;
    set(shared, &mut st.call, to, cmd.as_str(), by);
    Ok(())
}

/// Stops the ringing (`DELETE /ISAPI/VideoIntercom/ring`); whether it was ringing.
pub(crate) fn stop_ring(shared: &Shared, by: By) -> bool {
    let mut st = lock(&shared.state);
    if st.call != CallStatus::Ring {
        return false;
    }
    set(shared, &mut st.call, CallStatus::Idle, "deleteRing", by);
    true
}

/// The resident hangs up locally: a ringing call is rejected, a call in progress ended.
pub(crate) fn hang_up(shared: &Shared) -> bool {
    let cmd = if lock(&shared.state).call == CallStatus::Ring { Cmd::Reject } else { Cmd::HangUp };
    signal(shared, cmd, By::Local).is_ok()
}

/// `--ring-every` and `--ring-at`: rings on a schedule from the start, until shutdown;
/// `--ring-after`: a ring that long into each upload.
pub(crate) fn schedule(shared: &Arc<Shared>) {
    if !shared.cfg.profile.is_doorbell() {
        return;
    }
    let start = tokio::time::Instant::now();
    if let Some(every) = shared.cfg.ring_every {
        let every = every.max(MIN_PERIOD);
        let shared = shared.clone();
        tokio::spawn(async move {
            for n in 1u32.. {
                tokio::select! {
                    _ = tokio::time::sleep_until(start + every * n) => ring(&shared, By::Schedule),
                    _ = shared.shutting_down() => return,
                }
            }
        });
    }
    if let Some(after) = shared.cfg.ring_after {
        // Subscribed before anything is served, so no upload's start is missed.
        let mut rx = shared.log.subscribe();
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    e = rx.recv() => e,
                    _ = shared.shutting_down() => return,
                };
                match event {
                    Ok(Event { t, kind: EventKind::AudioStarted { channel, session_id } }) => {
                        ring_into(&shared, t, channel, session_id, after)
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }
    let mut at: Vec<Duration> = shared.cfg.ring_at.clone();
    at.sort();
    if !at.is_empty() {
        let shared = shared.clone();
        tokio::spawn(async move {
            for t in at {
                tokio::select! {
                    _ = tokio::time::sleep_until(start + t) => ring(&shared, By::Schedule),
                    _ = shared.shutting_down() => return,
                }
            }
        });
    }
}

/// The visitor rings `after` into the upload that started at `t` (the log's clock) on
/// `channel`, if that upload is still going then: the ring ends it.
fn ring_into(shared: &Arc<Shared>, t: f64, channel: u32, session_id: String, after: Duration) {
    let Some(upload) = lock(&shared.state).session(channel, &session_id).map(|s| s.uploads) else { return };
    let due = tokio::time::Instant::from_std(shared.log.origin() + Duration::from_secs_f64(t) + after);
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {}
            _ = shared.shutting_down() => return,
        }
        let going = lock(&shared.state).session(channel, &session_id).is_some_and(|s| s.streaming && s.uploads == upload);
        if going {
            ring(&shared, By::Schedule);
        }
    });
}

/// Whether the firmware has call control (cameras and old door stations have none).
pub(crate) fn available(shared: &Shared) -> bool {
    shared.cfg.profile.is_doorbell() && shared.cfg.call_control
}

/// What an old door station without call control (DS-KB6003) answers on its paths: its web
/// server's bare 404.
pub(crate) fn no_such_url() -> Response {
    Response::new(404, "text/html", NO_SUCH_URL)
}

/// `GET /ISAPI/VideoIntercom/callStatus`.
pub(crate) fn status(shared: &Shared) -> Response {
    let status = lock(&shared.state).call.as_str();
    if shared.cfg.call_status_xml {
        Response::xml(200, xml::call_status_to_xml(status, None, shared.ns))
    } else {
        Response::json(200, serde_json::json!({ "CallStatus": { "status": status } }).to_string())
    }
}

/// `GET /ISAPI/VideoIntercom/callStatus/capabilities`.
pub(crate) fn status_capabilities(shared: &Shared) -> Response {
    let opt = [CallStatus::Idle, CallStatus::Ring, CallStatus::OnCall].map(CallStatus::as_str);
    if shared.cfg.call_status_xml {
        let status = lock(&shared.state).call.as_str();
        Response::xml(200, xml::call_status_to_xml(status, Some(&opt.join(",")), shared.ns))
    } else {
        Response::json(200, serde_json::json!({ "CallStatus": { "status": { "@opt": opt } } }).to_string())
    }
}

/// `GET /ISAPI/VideoIntercom/callSignal/capabilities`.
pub(crate) fn signal_capabilities() -> Response {
    let opt: Vec<&str> = CMD_TYPES.iter().map(|(_, n)| *n).collect();
    Response::json(200, serde_json::json!({ "CallSignal": { "cmdType": { "@opt": opt } } }).to_string())
}

/// `GET /ISAPI/VideoIntercom/callerInfo`.
pub(crate) fn caller_info(shared: &Shared) -> Response {
    let st = lock(&shared.state);
    let mut info: serde_json::Map<String, serde_json::Value> = CALLER.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
    info.insert("lockNum".into(), st.doors.len().into());
    info.insert("status".into(), st.call.as_str().into());
    Response::json(200, serde_json::json!({ "CallerInfo": info }).to_string())
}

/// `PUT /ISAPI/VideoIntercom/callSignal`.
pub(crate) fn put_signal(shared: &Shared, req: &Request, body: &[u8]) -> Response {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return refuse(shared, req, Refusal::content("badXmlContent", "the body is not JSON".into()));
    };
    let name = doc.pointer("/CallSignal/cmdType").and_then(|v| v.as_str()).unwrap_or("");
    let Some(cmd) = CMD_TYPES.iter().find(|(_, n)| *n == name).map(|(c, _)| *c) else {
        let what = format!("cmdType {:?} is not one of {}", xml::keep(name), CMD_TYPES.map(|(_, n)| n).join(", "));
        return refuse(shared, req, Refusal::content("badParameters", what));
    };
    match signal(shared, cmd, By::Client) {
        Ok(()) => ok(shared, req),
        Err(state) => {
            let what = format!("{} is not possible while the call is {}", cmd.as_str(), state.as_str());
            let refusal = Refusal {
                http: 403,
                code: 4,
                text: "Invalid Operation",
                sub: "invalidOperation",
                error_code: Some(INVALID_OPERATION),
                what,
            };
            refuse(shared, req, refusal)
        }
    }
}

/// `DELETE /ISAPI/VideoIntercom/ring`: OK whether or not it was ringing; JSON when asked
/// for, else a `ResponseStatus`, as any ISAPI path.
pub(crate) fn delete_ring(shared: &Shared, req: &Request) -> Response {
    stop_ring(shared, By::Client);
    if req.query_param("format") == Some("json") { ok(shared, req) } else { shared.status_xml(200, ResponseStatus::ok(&req.path)) }
}

/// Success in the firmware's shape.
fn ok(shared: &Shared, req: &Request) -> Response {
    let v = match shared.cfg.call_signal_style {
        CallSignalStyle::Number => {
            serde_json::json!({ "requestURL": req.path, "statusCode": 1, "statusString": "OK", "subStatusCode": "ok" })
        }
        CallSignalStyle::String => serde_json::json!({ "statusCode": "1", "statusString": "OK", "errorMsg": "ok", "errorCode": 1 }),
    };
    Response::json(200, v.to_string())
}

/// A refused `callSignal`.
struct Refusal {
    http: u16,
    code: u32,
    text: &'static str,
    sub: &'static str,
    /// Only invalidOperation's code is known (1073741830).
    error_code: Option<u32>,
    what: String,
}

impl Refusal {
    /// A body that is not a call signal: 400, statusCode 6.
    fn content(sub: &'static str, what: String) -> Refusal {
        Refusal { http: 400, code: 6, text: "Invalid Content", sub, error_code: None, what }
    }
}

/// An error in the firmware's shape (statusCode a string where success has one).
fn refuse(shared: &Shared, req: &Request, r: Refusal) -> Response {
    let mut v = match shared.cfg.call_signal_style {
        CallSignalStyle::Number => {
            serde_json::json!({ "requestURL": req.path, "statusCode": r.code, "statusString": r.text, "subStatusCode": r.sub, "errorMsg": r.sub })
        }
        CallSignalStyle::String => serde_json::json!({ "statusCode": r.code.to_string(), "statusString": r.text, "errorMsg": r.sub }),
    };
    if let Some(code) = r.error_code {
        v["errorCode"] = code.into();
    }
    v["description"] = r.what.into();
    Response::json(r.http, v.to_string())
}
