//! The door station's lock relays: `PUT /ISAPI/AccessControl/RemoteControl/door/<n>` with a
//! `RemoteControlDoor` (cmd open, close, alwaysOpen, resume), its capabilities, and the older
//! `PUT /ISAPI/VideoIntercom/remoteOpenDoor` with a `RemoteOpenDoor` (gateWayIndex, command).
//!
//! An open unlocks the door (alertStream: door unlocked, then the door contact opens as the
//! visitor walks in) and relocks it after `door_open_time` (contact closed, door locked);
//! alwaysOpen holds it open until resume or close.

use super::alarm::{Alert, DoorEvent};
use super::events::{EventKind, lock};
use super::http::{Request, Response};
use super::shared::Shared;
use super::state::{Door, Lock};
use super::xml::{self, ResponseStatus};
use std::sync::Arc;

/// A door command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmd {
    Open,
    Close,
    AlwaysOpen,
    Resume,
}

/// `RemoteControlDoor` cmd values, in the capabilities' order.
const CMDS: [(Cmd, &str); 4] = [(Cmd::Open, "open"), (Cmd::Close, "close"), (Cmd::AlwaysOpen, "alwaysOpen"), (Cmd::Resume, "resume")];

/// `RemoteOpenDoor` command values (the guide's `unlock`, and the gateway ability's
/// `open,normalOpen,resume`) and what they do.
const GATEWAY_COMMANDS: [(&str, Cmd); 6] = [
    ("unlock", Cmd::Open),
    ("open", Cmd::Open),
    ("normalOpen", Cmd::AlwaysOpen),
    ("resume", Cmd::Resume),
    ("lock", Cmd::Close),
    ("close", Cmd::Close),
];

impl Cmd {
    fn as_str(self) -> &'static str {
        CMDS.iter().find(|(c, _)| *c == self).map_or("", |(_, n)| n)
    }
}

/// Whether this firmware serves the `RemoteControl/door` paths.
pub(crate) fn has_remote_control(shared: &Shared) -> bool {
    shared.cfg.profile.is_doorbell() && shared.cfg.door_api.remote_control()
}

/// Whether this firmware serves `remoteOpenDoor`.
pub(crate) fn has_remote_open_door(shared: &Shared) -> bool {
    shared.cfg.profile.is_doorbell() && shared.cfg.door_api.remote_open_door()
}

/// `GET .../RemoteControl/door/capabilities`.
pub(crate) fn capabilities(shared: &Shared) -> Response {
    let doors = lock(&shared.state).doors.len() as u32;
    Response::xml(200, xml::door_capabilities_to_xml(doors, &CMDS.map(|(_, n)| n).join(","), shared.ns))
}

/// `PUT .../RemoteControl/door/<n>`.
pub(crate) fn remote_control(shared: &Arc<Shared>, req: &Request, door: u64, body: &[u8]) -> Response {
    let cmd = match xml::parse_remote_control_door(&String::from_utf8_lossy(body)) {
        Ok(cmd) => cmd,
        Err(e) => return bad_xml(shared, req, e),
    };
    let Some(c) = CMDS.iter().find(|(_, n)| *n == cmd).map(|(c, _)| *c) else {
        return refused(shared, req, door, &cmd, "remoteControl", format!("cmd {cmd:?} is not one of open, close, alwaysOpen, resume"));
    };
    answer(shared, req, door, c, "remoteControl")
}

/// `PUT /ISAPI/VideoIntercom/remoteOpenDoor`.
pub(crate) fn remote_open_door(shared: &Arc<Shared>, req: &Request, body: &[u8]) -> Response {
    let (gateway, command) = match xml::parse_remote_open_door(&String::from_utf8_lossy(body)) {
        Ok(v) => v,
        Err(e) => return bad_xml(shared, req, e),
    };
    // A missing index means the first gateway; one that is not a number fits no door.
    let door = gateway.map_or(Some(1), |g| g.parse::<u64>().ok()).unwrap_or(0);
    let Some(c) = GATEWAY_COMMANDS.iter().find(|(n, _)| *n == command).map(|(_, c)| *c) else {
        let known = GATEWAY_COMMANDS.map(|(n, _)| n).join(", ");
        return refused(shared, req, door, &command, "remoteOpenDoor", format!("command {command:?} is not one of {known}"));
    };
    answer(shared, req, door, c, "remoteOpenDoor")
}

fn answer(shared: &Arc<Shared>, req: &Request, door: u64, cmd: Cmd, api: &str) -> Response {
    match act(shared, door, cmd, api) {
        Ok(()) => shared.status_xml(200, ResponseStatus::ok(&req.path)),
        Err(why) => {
            let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
            rs.description = Some(why);
            shared.status_xml(400, rs)
        }
    }
}

fn refused(shared: &Shared, req: &Request, door: u64, cmd: &str, api: &str, why: String) -> Response {
    let door = u32::try_from(door).unwrap_or(u32::MAX);
    shared.log.log(EventKind::DoorAction { door, cmd: cmd.into(), api: api.into(), accepted: false, reason: Some(why.clone()) });
    let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
    rs.description = Some(why);
    shared.status_xml(400, rs)
}

fn bad_xml(shared: &Shared, req: &Request, e: xml::XmlError) -> Response {
    let mut rs = ResponseStatus::new(&req.path, 5, "Invalid XML Format", "badXmlContent");
    rs.description = Some(e.to_string());
    shared.status_xml(400, rs)
}

/// Carries out a door command (logged, accepted or not); Err says why it was refused.
pub(crate) fn act(shared: &Arc<Shared>, door: u64, cmd: Cmd, api: &str) -> Result<(), String> {
    let mut st = lock(&shared.state);
    let count = st.doors.len();
    let n = u32::try_from(door).unwrap_or(u32::MAX);
    let Some(d) = st.door(n) else {
        let why = format!("doorNo {door} is out of range 1-{count}");
        shared.log.log(EventKind::DoorAction {
            door: n,
            cmd: cmd.as_str().into(),
            api: api.into(),
            accepted: false,
            reason: Some(why.clone()),
        });
        return Err(why);
    };
    shared.log.log(EventKind::DoorAction { door: n, cmd: cmd.as_str().into(), api: api.into(), accepted: true, reason: None });
    d.generation += 1;
    let was = d.lock;
    let to = match (cmd, was) {
        // An open does not end a hold-open.
        (Cmd::Open, Lock::AlwaysOpen) => Lock::AlwaysOpen,
        (Cmd::Open, _) => Lock::Unlocked,
        (Cmd::AlwaysOpen, _) => Lock::AlwaysOpen,
        (Cmd::Close | Cmd::Resume, _) => Lock::Locked,
    };
    let mut alerts = Vec::new();
    if was != to {
        d.lock = to;
        shared.log.log(EventKind::DoorState { door: n, state: to.as_str().into() });
    }
    if was == Lock::Locked && to != Lock::Locked {
        alerts.push(DoorEvent::Unlocked);
    }
    if cmd == Cmd::Open && !d.contact_open {
        d.contact_open = true;
        alerts.push(DoorEvent::ContactOpen);
    }
    if to == Lock::Locked && was != Lock::Locked {
        alerts.extend(relock(d));
    }
    let generation = d.generation;
    drop(st);
    for what in alerts {
        shared.publish(Alert::Door { door: n, what });
    }
    if to == Lock::Unlocked {
        let shared = shared.clone();
        shared.rt.clone().spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(shared.cfg.door_open_time) => {}
                _ = shared.shutting_down() => return,
            }
            let mut st = lock(&shared.state);
            let Some(d) = st.door(n).filter(|d| d.generation == generation && d.lock == Lock::Unlocked) else { return };
            d.lock = Lock::Locked;
            let alerts = relock(d);
            shared.log.log(EventKind::DoorState { door: n, state: Lock::Locked.as_str().into() });
            drop(st);
            for what in alerts {
                shared.publish(Alert::Door { door: n, what });
            }
        });
    }
    Ok(())
}

/// A door that locks: the contact closes first (the door swung shut), then the lock.
fn relock(d: &mut Door) -> Vec<DoorEvent> {
    let mut alerts = Vec::new();
    if std::mem::take(&mut d.contact_open) {
        alerts.push(DoorEvent::ContactClosed);
    }
    alerts.push(DoorEvent::Locked);
    alerts
}
