//! `GET /ISAPI/Event/notification/alertStream`: a response that never ends, a
//! `multipart/mixed` body of one part per alarm.
//!
//! XML (cameras): `boundary=hikboundary`, each part an `EventNotificationAlert` (the profile's
//! namespace, pretty-printed: line-based clients need it). JSON (door stations): parts split on
//! `--MIME_boundary`, a ring or door event as an `AccessControllerEvent` (major 5; minor 0x25
//! doorbell ringing, 0x15 door unlocked, 0x16 locked, 0x19 / 0x1a door contact open / closed),
//! `currentEvent` true (false would be replayed history). A door station switched to XML
//! (`alert_format`) sends its ring as alarm input 1 (`IO`) and no door events. Every part
//! carries its Content-Type and Content-Length.
//!
//! A heartbeat (`videoloss`, `inactive`) goes out every `heartbeat` on an absolute schedule
//! from the answer: clients take 40-60 s without a part for a dead stream. Detections (VMD,
//! linedetection, fielddetection, tamperdetection, IO: the profile's) come on cue
//! (`event_every`, the console, `SimHandle::detect`): `active` with `activePostCount` 1, 2, ...
//! about every second while they last, then one `inactive` (see `Shared::detect`). At most
//! `MAX_STREAMS` streams are open at once; more are refused with 503 Device Busy, so a client
//! reconnecting in a loop cannot exhaust the device. The alertStream faults (`no-heartbeat`,
//! `cut-mid-part`, `oversized-part`, `no-boundary`, `doubled-boundary`, `jpeg-part`) are picked
//! per stream when it opens.

use super::alarm::{Alert, AlertFormat, Detection};
use super::config::MIN_PERIOD;
use super::events::{EventKind, lock};
use super::faults::{AlertFault, Fault};
use super::http::{Next, Request};
use super::profile::MAC_ADDRESS;
use super::shared::Shared;
use super::xml::{EventAlert, ResponseStatus};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio::time::{Duration, Instant};

/// alertStream clients served at once.
pub const MAX_STREAMS: usize = 8;
/// A client that reads nothing for this long is dropped (its socket buffers are full).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Under `oversized-part`, how far a part runs past its Content-Length.
const OVERSIZE: usize = 24;
/// The picture a door station sends with an event (`jpeg-part`): an 8x8 grey JPEG.
const SNAPSHOT: &[u8] = include_bytes!("data/snapshot.jpg");
const HEARTBEAT: (&str, &str, &str) = ("videoloss", "inactive", "videoloss alarm");
/// The intercom's event type and its description.
const ACCESS_CONTROLLER: (&str, &str) = ("AccessControllerEvent", "Access Controller Event");
/// `majorEventType` of the events below: 5, "event".
const MAJOR_EVENT: u32 = 5;

/// `--event-every`: each of the profile's detections in turn.
pub(crate) fn schedule(shared: &Arc<Shared>) {
    let Some(every) = shared.cfg.event_every else { return };
    let every = every.max(MIN_PERIOD);
    let shared = shared.clone();
    tokio::spawn(async move {
        let start = Instant::now();
        let kinds = shared.cfg.profile.detections();
        for n in 1u32.. {
            tokio::select! {
                _ = tokio::time::sleep_until(start + every * n) => {
                    // Motion switched off is not detected; the schedule goes on.
                    let _ = shared.detect(kinds[(n as usize - 1) % kinds.len()]);
                }
                _ = shared.shutting_down() => return,
            }
        }
    });
}

/// One open stream's place among `MAX_STREAMS`; given back on drop.
struct Slot<'a>(&'a Shared);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut open = lock(&self.0.alert_streams);
        *open = open.saturating_sub(1);
    }
}

/// What a stream does wrong, picked when it opens.
#[derive(Default)]
struct Faults {
    silent: bool,
    cut: bool,
    oversized: bool,
    no_boundary: bool,
    doubled: bool,
    jpeg: bool,
}

impl Faults {
    fn pick(shared: &Shared) -> Faults {
        let has = |which: AlertFault| shared.fire(|f| matches!(f, Fault::Alert { fault, .. } if *fault == which)).is_some();
        Faults {
            silent: has(AlertFault::NoHeartbeat),
            cut: has(AlertFault::CutMidPart),
            oversized: has(AlertFault::OversizedPart),
            no_boundary: has(AlertFault::NoBoundary),
            doubled: has(AlertFault::DoubledBoundary),
            jpeg: has(AlertFault::JpegPart),
        }
    }
}

/// Serves one alertStream until the client leaves, a fault cuts it, or the device stops.
pub(crate) async fn serve(shared: &Arc<Shared>, stream: &mut TcpStream, peer: SocketAddr, req: &Request) -> Next {
    let open = {
        let mut open = lock(&shared.alert_streams);
        if *open >= MAX_STREAMS {
            None
        } else {
            *open += 1;
            Some(*open)
        }
    };
    let Some(open) = open else {
        shared.log.log(EventKind::AlertStreamRefused { peer: peer.to_string(), open: MAX_STREAMS });
        let resp = shared.status_xml(503, ResponseStatus::new(&req.path, 2, "Device Busy", "deviceBusy")).closing();
        let _ = resp.write(stream).await;
        shared.log_request(peer, req, resp.status);
        return Next::Close;
    };
    let _slot = Slot(shared);
    let id = shared.alert_stream_ids.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = Faults::pick(shared);
    let format = shared.alert_format();
    let boundary = format.boundary();
    let content_type = if faults.no_boundary { "multipart/mixed".to_string() } else { format!("multipart/mixed; boundary={boundary}") };
    let head =
        format!("HTTP/1.1 200 OK\r\nServer: App-webs/\r\nMIME-Version: 1.0\r\nConnection: close\r\nContent-Type: {content_type}\r\n\r\n");
    // Subscribe before the answer goes out, so nothing published after it is missed.
    let mut rx = (!faults.silent).then(|| shared.alerts.subscribe());
    let (mut rd, mut wr) = stream.split();
    let written = tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(head.as_bytes())).await;
    shared.log_request(peer, req, if matches!(written, Ok(Ok(()))) { 200 } else { 0 });
    if !matches!(written, Ok(Ok(()))) {
        return Next::Close;
    }
    shared.log.log(EventKind::AlertStreamOpened { peer: peer.to_string(), stream: id, open });

    let period = shared.cfg.heartbeat.max(MIN_PERIOD);
    let start = Instant::now();
    let mut beats: u32 = 1;
    let mut parts: u64 = 0;
    let mut sink = [0u8; 1024];
    let reason = 'stream: loop {
        let due = start + period * beats;
        let alert = tokio::select! {
            biased;
            _ = shared.shutting_down() => break "shutdown",
            r = rd.read(&mut sink) => match r {
                Ok(0) | Err(_) => break "client_closed",
                // Whatever a client sends on the stream is ignored.
                Ok(_) => continue,
            },
            _ = tokio::time::sleep_until(due), if !faults.silent => {
                beats += 1;
                None
            }
            a = next(&mut rx) => match a {
                Ok(a) => Some(a),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break "shutdown",
            },
        };
        // A part the format has no shape for (a door event in XML) is not sent.
        let Some(body) = body(shared, format, alert) else { continue };
        let mut out = vec![part(&faults, boundary, format.content_type(), body.as_bytes())];
        if alert.is_some() && faults.jpeg {
            out.push(part(&Faults { oversized: false, ..faults }, boundary, "image/jpeg", SNAPSHOT));
        }
        for bytes in out {
            if faults.cut && parts == 1 {
                // Half a part, then the socket closes, as a device that reboots mid-write.
                let _ = tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes[..bytes.len() / 2])).await;
                break 'stream "fault";
            }
            match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes)).await {
                Ok(Ok(())) => parts += 1,
                Ok(Err(_)) => break 'stream "client_closed",
                Err(_) => break 'stream "write_timeout",
            }
        }
    };
    let _ = stream.shutdown().await;
    shared.log.log(EventKind::AlertStreamClosed { peer: peer.to_string(), stream: id, parts, reason: reason.into() });
    Next::Close
}

/// The next alarm; never, for a silent stream.
async fn next(rx: &mut Option<broadcast::Receiver<Alert>>) -> Result<Alert, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One part: boundary line, headers, body, CRLF.
fn part(faults: &Faults, boundary: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let line = format!("--{boundary}\r\n");
    let mut out = line.clone().into_bytes();
    if faults.doubled {
        out.extend_from_slice(line.as_bytes());
    }
    let declared = if faults.oversized { body.len().saturating_sub(OVERSIZE) } else { body.len() };
    out.extend_from_slice(format!("Content-Type: {content_type}\r\nContent-Length: {declared}\r\n\r\n").as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    out
}

/// A part's body: the alarm, or (None) a heartbeat, in `format`; None when the format has no
/// shape for it.
fn body(shared: &Shared, format: AlertFormat, alert: Option<Alert>) -> Option<String> {
    let profile = shared.cfg.profile;
    let (event_type, event_state, description) = match alert {
        None => HEARTBEAT,
        Some(Alert::Detected { what, .. }) => (what.event_type(), alert.map_or("active", Alert::state), what.description()),
        Some(_) if format == AlertFormat::Xml => return None,
        Some(_) => (ACCESS_CONTROLLER.0, "active", ACCESS_CONTROLLER.1),
    };
    let active_post_count = alert.map_or(profile.heartbeat_post_count(), Alert::count);
    let date_time = date_time(SystemTime::now());
    if format == AlertFormat::Xml {
        let doc = EventAlert {
            ip_address: shared.addr.ip().to_string(),
            port_no: shared.addr.port(),
            mac_address: MAC_ADDRESS.into(),
            channel_id: 1,
            input_port: matches!(alert, Some(Alert::Detected { what: Detection::Io, .. })).then_some(1),
            date_time,
            active_post_count,
            event_type: event_type.into(),
            event_state: event_state.into(),
            event_description: description.into(),
        };
        return Some(doc.to_xml(shared.ns));
    }
    let access = alert.and_then(|a| {
        let minor = a.minor()?;
        let serial = shared.alert_serial.fetch_add(1, Ordering::Relaxed) + 1;
        Some(AccessControllerEvent {
            device_name: "Door Station",
            major_event_type: MAJOR_EVENT,
            sub_event_type: minor,
            door_no: a.door(),
            serial_no: serial,
            current_event: true,
            front_serial_no: serial - 1,
            label: "",
        })
    });
    let doc = JsonAlert {
        ip_address: shared.addr.ip().to_string(),
        port_no: shared.addr.port(),
        protocol: "HTTP",
        mac_address: MAC_ADDRESS,
        channel_id: 1,
        date_time,
        active_post_count,
        event_type,
        event_state,
        event_description: description,
        access_controller_event: access,
    };
    Some(pretty(&doc))
}

/// An intercom's part, fields in the devices' order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonAlert<'a> {
    ip_address: String,
    port_no: u16,
    protocol: &'a str,
    mac_address: &'a str,
    #[serde(rename = "channelID")]
    channel_id: u32,
    date_time: String,
    active_post_count: u32,
    event_type: &'a str,
    event_state: &'a str,
    event_description: &'a str,
    #[serde(rename = "AccessControllerEvent", skip_serializing_if = "Option::is_none")]
    access_controller_event: Option<AccessControllerEvent<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessControllerEvent<'a> {
    device_name: &'a str,
    major_event_type: u32,
    sub_event_type: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    door_no: Option<u32>,
    serial_no: u64,
    current_event: bool,
    front_serial_no: u64,
    label: &'a str,
}

/// JSON as intercoms write it: one field a line, tab-indented.
fn pretty(v: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"\t"));
    // Serializing plain structs into memory cannot fail.
    let _ = v.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// `2024-05-01T10:00:00+00:00`: the device's clock, in UTC, as devices write it.
fn date_time(now: SystemTime) -> String {
    humantime::format_rfc3339_seconds(now).to_string().replace('Z', "+00:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        let at = |s: u64| date_time(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00+00:00");
        assert_eq!(at(1_714_557_600), "2024-05-01T10:00:00+00:00");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59+00:00");
    }

    #[test]
    fn parts_frame_their_faults() {
        let plain = part(&Faults::default(), "b", "application/json", b"{}");
        assert_eq!(plain, b"--b\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}\r\n");
        let body = [b'x'; 40];
        let odd = part(&Faults { doubled: true, oversized: true, ..Faults::default() }, "b", "t", &body);
        let text = String::from_utf8_lossy(&odd);
        assert!(text.starts_with("--b\r\n--b\r\nContent-Type: t\r\nContent-Length: 16\r\n\r\n"), "{text}");
        assert!(SNAPSHOT.starts_with(&[0xFF, 0xD8]) && SNAPSHOT.ends_with(&[0xFF, 0xD9]), "a JPEG");
    }
}
