//! `GET /ISAPI/Event/notification/alertStream`: a `multipart/mixed` body that never ends, one
//! part per alarm, read into typed [`Event`]s.
//!
//! Every variant PROTOCOL.md lists is read: a boundary in the Content-Type or none (the parts
//! are then read by their Content-Length, and a `--boundary` line, if the device writes one
//! anyway, is learnt), doubled boundary lines, blank lines between parts, XML
//! (`EventNotificationAlert`, any namespace) and JSON (intercom) parts, `image/jpeg` parts
//! (skipped), and a part whose body runs past its Content-Length (read up to the next boundary).
//! A part larger than [`MAX_PART`], or bytes that are neither a boundary nor a part, are an
//! error: the caller drops the stream and reconnects. What is unread never exceeds
//! `MAX_PART` plus one read (consumed bytes are dropped once they are half the buffer), and
//! every device string in an event is cleaned and bounded.

use super::client::Device;
use super::download::{Download, DownloadEnd};
use super::error::IsapiError;
use super::text::{MAX_JSON_DEPTH, MAX_JSON_ENTRIES, clean, clean_json};
use serde::Serialize;
use std::time::Duration;

pub const PATH: &str = "/ISAPI/Event/notification/alertStream";
/// The largest part kept. Event parts are 1-2 KiB; a door station's snapshot tens of KiB.
pub const MAX_PART: usize = 512 * 1024;
/// The largest header block of one part, and the longest boundary line.
const MAX_HEADERS: usize = 8 * 1024;

/// Why the bytes cannot be read as parts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PartError {
    #[error("a part of {size} bytes or more, larger than the {} KiB allowed", MAX_PART / 1024)]
    TooLarge { size: usize },
    #[error("bytes that are neither a boundary nor a part ({0})")]
    Garbage(String),
}

/// One part: its Content-Type (cleaned) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A multipart reader: bytes in ([`Multipart::push`]), whole parts out ([`Multipart::next`]).
///
/// Each search remembers how far it got, so bytes are scanned once (plus a delimiter's length
/// of overlap) however the stream is cut into packets, and consumed parts move a cursor rather
/// than the buffer: the CPU a stream costs grows with its bytes, not with their square.
#[derive(Debug)]
pub struct Multipart {
    /// `--` and the boundary, once known.
    delimiter: Option<Vec<u8>>,
    buf: Vec<u8>,
    /// Where the unread bytes start in `buf`.
    start: usize,
    /// How far (from `start`) each pending search has looked without finding its target.
    scanned: Scanned,
}

#[derive(Debug, Default, Clone, Copy)]
struct Scanned {
    eol: usize,
    headers: usize,
    /// In the body of the part at `start`.
    body: usize,
    resync: usize,
}

impl Multipart {
    /// A reader for an answer with this Content-Type (its `boundary` parameter, if any).
    pub fn new(content_type: Option<&str>) -> Multipart {
        let boundary = content_type.and_then(|ct| {
            ct.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_string())
            })
        });
        let delimiter = boundary.filter(|b| !b.is_empty() && b.len() <= 200).map(|b| {
            // Some devices write the parameter with the dashes of the line already in it.
            let b = b.strip_prefix("--").unwrap_or(&b).to_string();
            format!("--{b}").into_bytes()
        });
        Multipart { delimiter, buf: Vec::new(), start: 0, scanned: Scanned::default() }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        // Consumed bytes are dropped once they are most of the buffer (amortised O(1) a byte).
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held, waiting for the rest of a part.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Consumes `n` bytes; every search starts afresh on what follows.
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.scanned = Scanned::default();
    }

    /// The next whole part, `None` until one is complete.
    pub fn next_part(&mut self) -> Result<Option<Part>, PartError> {
        loop {
            // Blank lines between parts.
            let blank = self.unread().iter().take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t')).count();
            if blank > 0 {
                self.consume(blank);
            }
            let buf = self.unread();
            if buf.is_empty() {
                return Ok(None);
            }
            if buf.starts_with(b"--") || (buf.len() < 2 && buf[0] == b'-') {
                // A boundary line (once, twice, or the closing one): learnt if the header had none.
                let (len, window) = (buf.len(), buf.len().min(MAX_HEADERS + 1));
                let from = self.scanned.eol.min(window);
                let Some(eol) = buf[from..window].iter().position(|&b| b == b'\n').map(|p| from + p) else {
                    self.scanned.eol = window;
                    return if len > MAX_HEADERS { Err(garbage("a boundary line without an end")) } else { Ok(None) };
                };
                if self.delimiter.is_none() {
                    let line = trim_line(&buf[..eol]);
                    let line = line.strip_suffix(b"--").filter(|l| l.len() > 2).unwrap_or(line);
                    self.delimiter = Some(line.to_vec());
                }
                self.consume(eol + 1);
                continue;
            }
            match self.part() {
                // Junk between parts (the tail of a part larger than announced): skip to the
                // next boundary, when there is one to find.
                Err(PartError::Garbage(_)) if self.delimiter.is_some() => {
                    if !self.resync()? {
                        return Ok(None);
                    }
                }
                other => return other,
            }
        }
    }

    /// Drops bytes up to the next delimiter line; false: none yet.
    fn resync(&mut self) -> Result<bool, PartError> {
        let Some(d) = self.delimiter.as_deref() else { return Ok(false) };
        let buf = &self.buf[self.start..];
        match find_delimiter(buf, d, self.scanned.resync) {
            Ok(end) => {
                self.consume(end);
                Ok(true)
            }
            Err(_) if buf.len() > MAX_PART => Err(PartError::TooLarge { size: buf.len() }),
            Err(scanned) => {
                self.scanned.resync = scanned;
                Ok(false)
            }
        }
    }

    /// A part starting at the head of the buffer: headers, then the body.
    fn part(&mut self) -> Result<Option<Part>, PartError> {
        let buf = &self.buf[self.start..];
        // Headers end within MAX_HEADERS or never: only that much is ever searched.
        let window = &buf[..buf.len().min(MAX_HEADERS + 4)];
        let Some((header_end, body_start)) = find_headers_end(window, self.scanned.headers) else {
            self.scanned.headers = window.len();
            return if buf.len() > MAX_HEADERS { Err(garbage("a part's headers do not end")) } else { Ok(None) };
        };
        let headers = String::from_utf8_lossy(&buf[..header_end]).into_owned();
        let mut content_type = String::new();
        let mut length = None;
        for line in headers.lines() {
            let Some((name, value)) = line.split_once(':') else {
                return Err(garbage(&format!("a header line {:?}", clean(line))));
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = clean(value.trim()),
                "content-length" => length = value.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
        if let Some(n) = length
            && n > MAX_PART
        {
            return Err(PartError::TooLarge { size: n });
        }
        let body = &buf[body_start..];
        let end = match (self.delimiter.as_deref(), length) {
            (Some(_), Some(n)) if body.len() < n => None,
            // The declared length, unless bytes other than a line end or the boundary follow it.
            (Some(d), Some(n)) if fits(&body[n..], d) => Some(n),
            // The length is wrong (a part larger than announced) or absent: the next boundary.
            (Some(d), _) => match find_delimiter(body, d, self.scanned.body) {
                Ok(end) => Some(end),
                Err(scanned) => {
                    self.scanned.body = scanned;
                    None
                }
            },
            (None, Some(n)) => (body.len() >= n).then_some(n),
            (None, None) => return Err(garbage("a part with neither a boundary nor a Content-Length")),
        };
        let Some(end) = end else {
            if body.len() > MAX_PART {
                return Err(PartError::TooLarge { size: body.len() });
            }
            return Ok(None);
        };
        let part = Part { content_type, body: body[..end].to_vec() };
        self.consume(body_start + end);
        Ok(Some(part))
    }
}

fn garbage(what: &str) -> PartError {
    PartError::Garbage(what.to_string())
}

fn trim_line(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |p| p + 1);
    &line[..end]
}

/// Where a part's headers end and its body starts (CRLF CRLF, or bare LF LF), searching from
/// `from` (with 3 bytes of overlap, for an end split across reads).
fn find_headers_end(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let from = from.saturating_sub(3);
    let crlf = buf[from..].windows(4).position(|w| w == b"\r\n\r\n").map(|p| (from + p, from + p + 4));
    let lf = buf[from..].windows(2).position(|w| w == b"\n\n").map(|p| (from + p, from + p + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Whether what follows a body of the declared length fits it: nothing yet, a line end, or the
/// delimiter (or its start). Anything else means the part is larger than announced.
fn fits(rest: &[u8], delimiter: &[u8]) -> bool {
    let n = rest.len().min(delimiter.len());
    rest.is_empty() || matches!(rest[0], b'\r' | b'\n') || rest[..n] == delimiter[..n]
}

/// The end of a body that runs until the next delimiter line (CRLF or LF before it), searching
/// from `from`; or how far a later search may skip (all but a delimiter's length of overlap).
fn find_delimiter(body: &[u8], delimiter: &[u8], from: usize) -> Result<usize, usize> {
    let mut from = from.min(body.len());
    while let Some(p) = memchr_window(&body[from..], delimiter) {
        let at = from + p;
        if at == 0 || body[at - 1] == b'\n' {
            let mut end = at;
            if end > 0 && body[end - 1] == b'\n' {
                end -= 1;
            }
            if end > 0 && body[end - 1] == b'\r' {
                end -= 1;
            }
            return Ok(end);
        }
        from = at + 1;
    }
    Err(body.len().saturating_sub(delimiter.len()).max(from.min(body.len())))
}

/// The first occurrence of `needle` in `hay` (its first byte found fast, then compared).
fn memchr_window(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut at = 0;
    while at + needle.len() <= hay.len() {
        let p = hay[at..=hay.len() - needle.len()].iter().position(|&b| b == first)?;
        if hay[at + p..].starts_with(needle) {
            return Some(at + p);
        }
        at += p + 1;
    }
    None
}

/// One alarm, as `hiktalk events` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// `ring`, `doorUnlocked`, `doorLocked`, `doorOpen`, `doorClosed` for the intercom codes
    /// hiktalk knows, `callStatus` for a call state change, else the device's eventType.
    #[serde(rename = "type")]
    pub kind: String,
    /// eventState (`active`, `inactive`), or the new call state.
    pub state: Option<String>,
    /// The video channel (`channelID`, `dynChannelID`) as a number, whichever way the device
    /// wrote it (XML text `"1"`, JSON `1`); null when it names none.
    pub channel: Option<u32>,
    /// When, in UTC: RFC 3339 ending in `Z` from every source (a device's `+02:00` is converted).
    /// Null when the device gives no time or none with an offset (its text stays in `fields`).
    pub time: Option<String>,
    /// `alertStream` or `callStatus` (polled).
    pub source: &'static str,
    /// The door a door event is about; null on every other event.
    pub door: Option<u64>,
    /// False for history the device replays (`currentEvent: false`).
    pub current: bool,
    /// Everything the device said, as data (cleaned, bounded).
    pub fields: serde_json::Value,
}

impl Event {
    /// The device's own eventType (cleaned), if any.
    pub fn event_type(&self) -> Option<&str> {
        self.fields.get("eventType").and_then(|v| v.as_str())
    }

    /// `videoloss` + `inactive`: the stream's heartbeat.
    pub fn is_heartbeat(&self) -> bool {
        self.event_type().is_some_and(|t| t.eq_ignore_ascii_case("videoloss")) && self.state.as_deref() == Some("inactive")
    }

    /// Whether `--type NAME` picks it: its type or the device's eventType, any case.
    pub fn is_type(&self, name: &str) -> bool {
        self.kind.eq_ignore_ascii_case(name) || self.event_type().is_some_and(|t| t.eq_ignore_ascii_case(name))
    }
}

/// A part as an event; `None` for parts that carry none (pictures, empty bodies).
pub fn decode(part: &Part) -> Result<Option<Event>, String> {
    let ct = part.content_type.to_ascii_lowercase();
    let text = String::from_utf8_lossy(&part.body);
    let trimmed = text.trim();
    if ct.starts_with("image/") || trimmed.is_empty() {
        return Ok(None);
    }
    if super::text::too_dense(trimmed.as_bytes()) {
        return Err(format!("a part with more than {} elements or values", super::text::MAX_NODES));
    }
    let fields = if trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| format!("a JSON part that does not parse: {e}"))?;
        clean_json(&v)
    } else if trimmed.starts_with('<') {
        let doc = roxmltree::Document::parse(trimmed).map_err(|e| format!("an XML part that does not parse: {}", clean(&e.to_string())))?;
        xml_to_json(doc.root_element(), 0)
    } else {
        return Ok(None);
    };
    Ok(Some(from_fields(fields)))
}

fn from_fields(fields: serde_json::Value) -> Event {
    let s = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let event_type = s("eventType").unwrap_or_default();
    let access = fields.get("AccessControllerEvent");
    let num = |k: &str| access.and_then(|a| a.get(k)).and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
    let (major, minor) = (num("majorEventType"), num("subEventType"));
    let kind = match (major, minor) {
        (Some(5), Some(0x25)) | (Some(3), Some(1024)) => "ring".to_string(),
        (Some(5), Some(0x15)) => "doorUnlocked".into(),
        (Some(5), Some(0x16)) => "doorLocked".into(),
        (Some(5), Some(0x19)) => "doorOpen".into(),
        (Some(5), Some(0x1a)) => "doorClosed".into(),
        _ if event_type.is_empty() => "unknown".into(),
        _ => event_type.clone(),
    };
    let current = access.and_then(|a| a.get("currentEvent")).and_then(|v| v.as_bool()).unwrap_or(true);
    let channel = ["channelID", "dynChannelID"]
        .iter()
        .filter_map(|k| fields.get(*k))
        .find_map(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).and_then(|n| u32::try_from(n).ok()));
    let time = s("dateTime").as_deref().and_then(utc);
    Event { kind, state: s("eventState"), channel, time, source: "alertStream", door: num("doorNo"), current, fields }
}

/// A device's RFC 3339 time with an offset (`2024-05-01T10:00:00+02:00`, `...Z`) as UTC
/// (`2024-05-01T08:00:00Z`); `None` without an offset (a local time in an unknown zone).
fn utc(device: &str) -> Option<String> {
    let t = device.trim();
    let (base, offset_secs) = if let Some(b) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        (b, 0i64)
    } else {
        // `+HH:MM` or `-HH:MM` at the end (ASCII only, so these byte offsets are characters).
        let cut = t.len().checked_sub(6).filter(|&c| t.is_char_boundary(c))?;
        let (b, off) = t.split_at(cut);
        let sign = match off.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = off[1..].split_once(':')?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        (b, sign * (h * 3600 + m * 60))
    };
    let local = humantime::parse_rfc3339_weak(base).ok()?;
    let shifted = if offset_secs >= 0 {
        local.checked_sub(std::time::Duration::from_secs(offset_secs as u64))?
    } else {
        local.checked_add(std::time::Duration::from_secs(offset_secs.unsigned_abs()))?
    };
    Some(humantime::format_rfc3339_seconds(shifted).to_string())
}

/// An XML element as JSON: leaf elements as (cleaned) text, others as objects; repeated names
/// become arrays. Bounded like `clean_json`.
fn xml_to_json(node: roxmltree::Node, depth: usize) -> serde_json::Value {
    use serde_json::{Map, Value};
    if depth >= MAX_JSON_DEPTH {
        return Value::Null;
    }
    let children: Vec<_> = node.children().filter(|c| c.is_element()).take(MAX_JSON_ENTRIES).collect();
    if children.is_empty() {
        return Value::String(clean(node.text().unwrap_or("").trim()));
    }
    let mut map = Map::new();
    for c in children {
        let key = clean(c.tag_name().name());
        let v = xml_to_json(c, depth + 1);
        match map.get_mut(&key) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => *old = Value::Array(vec![old.take(), v]),
            None => {
                map.insert(key, v);
            }
        }
    }
    Value::Object(map)
}

/// What came off the stream.
#[derive(Debug)]
pub enum Item {
    Event(Event),
    /// A heartbeat: the stream is alive.
    Heartbeat,
    /// A part without an event (a picture).
    Skipped,
    /// A part that does not parse (said, then skipped: the stream goes on).
    Unreadable(String),
}

/// A read shorter than this that completes no part is followed by a [`GATHER`] pause. Real
/// devices write a part at once (a whole TCP segment or more).
const SMALL_READ: usize = 512;
const GATHER: Duration = Duration::from_millis(20);

/// An open alertStream.
pub struct AlertStream {
    download: Download,
    parts: Multipart,
    chunk: Vec<u8>,
    idle: Duration,
    /// When the last whole part (a heartbeat, an event, a picture) arrived: bytes that never
    /// make a part (one junk byte a second) are not a sign of life.
    last_part: tokio::time::Instant,
    /// The last read was small and completed no part (see [`SMALL_READ`]).
    gather: bool,
}

impl AlertStream {
    /// Connects; `idle`: how long the stream may stay silent (no heartbeat, no part) before it
    /// counts as dead. A device without the stream is [`IsapiError::NotSupported`].
    pub async fn open(device: &Device, idle: Duration) -> Result<AlertStream, IsapiError> {
        let download = match Download::get(device, PATH, idle).await {
            Err(IsapiError::Status { http: 404 | 405, .. }) => {
                return Err(IsapiError::NotSupported { what: "event stream (alertStream)", path: PATH.into(), http: 404 });
            }
            other => other?,
        };
        let parts = Multipart::new(download.content_type.as_deref());
        Ok(AlertStream { download, parts, chunk: Vec::new(), idle, last_part: tokio::time::Instant::now(), gather: false })
    }

    /// The next item, or why the stream ended (cut, silent too long, unreadable). Cancel-safe.
    pub async fn next(&mut self) -> Result<Item, StreamEnd> {
        loop {
            if let Some(part) = self.parts.next_part().map_err(StreamEnd::Parts)? {
                let item = match decode(&part) {
                    Ok(Some(e)) if e.is_heartbeat() => Item::Heartbeat,
                    Ok(Some(e)) => Item::Event(e),
                    Ok(None) => Item::Skipped,
                    Err(why) => Item::Unreadable(why),
                };
                if !matches!(item, Item::Unreadable(_)) {
                    self.last_part = tokio::time::Instant::now();
                }
                self.gather = false;
                return Ok(item);
            }
            // The last read was a small piece that completed no part: the rest of the part is
            // let gather before the next read, so a device sending a few bytes per packet costs
            // at most 1 / GATHER reads a second, not one per packet (each read has a fixed cost).
            if self.gather {
                tokio::time::sleep(GATHER).await;
            } else {
                // A read's parts are parsed between awaits that may all be ready at once (a
                // flood): yielding here lets the caller see a stop within one read's work.
                tokio::task::yield_now().await;
            }
            self.chunk.clear();
            let deadline = self.last_part + self.idle;
            let read = match tokio::time::timeout_at(deadline, self.download.next(&mut self.chunk)).await {
                Ok(read) => read,
                Err(_) => return Err(StreamEnd::Silent { after: self.idle }),
            };
            match read {
                Ok(()) => {
                    self.parts.push(&self.chunk);
                    self.gather = self.chunk.len() < SMALL_READ;
                }
                Err(DownloadEnd::Closed) if self.parts.buffered() > 0 => return Err(StreamEnd::Cut),
                Err(DownloadEnd::Closed) => return Err(StreamEnd::Closed),
                Err(DownloadEnd::Stalled { after }) => return Err(StreamEnd::Silent { after }),
                Err(DownloadEnd::Failed { detail }) => return Err(StreamEnd::Failed(detail)),
            }
        }
    }
}

/// How an alertStream ended.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamEnd {
    #[error("the device closed the event stream")]
    Closed,
    #[error("the event stream was cut in the middle of a part")]
    Cut,
    #[error("no heartbeat or event (a whole part) for {:.1} s", after.as_secs_f64())]
    Silent { after: Duration },
    #[error("the event stream failed: {0}")]
    Failed(String),
    #[error("the event stream is unreadable: {0}")]
    Parts(PartError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml_part(kind: &str, state: &str) -> Vec<u8> {
        format!(
            r#"<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><ipAddress>10.0.0.2</ipAddress><channelID>1</channelID><dateTime>2024-05-01T10:00:00+02:00</dateTime><activePostCount>1</activePostCount><eventType>{kind}</eventType><eventState>{state}</eventState><eventDescription>x</eventDescription></EventNotificationAlert>"#
        )
        .into_bytes()
    }

    const RING: &str = r#"{"ipAddress":"10.0.0.3","channelID":1,"dateTime":"2024-05-01T10:00:00+02:00","activePostCount":1,"eventType":"AccessControllerEvent","eventState":"active","AccessControllerEvent":{"majorEventType":5,"subEventType":37,"currentEvent":true}}"#;

    fn framed(boundary: &str, ct: &str, body: &[u8], declared: Option<usize>, doubled: bool) -> Vec<u8> {
        let mut out = format!("--{boundary}\r\n").into_bytes();
        if doubled {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        if let Some(n) = declared {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Feeds `wire` in pieces of every size and collects the parts.
    fn parts_in_any_split(content_type: Option<&str>, wire: &[u8]) -> Vec<Part> {
        let mut first: Option<Vec<Part>> = None;
        for step in [1, 2, 3, 7, 64, wire.len().max(1)] {
            let mut m = Multipart::new(content_type);
            let mut got = Vec::new();
            for piece in wire.chunks(step) {
                m.push(piece);
                while let Some(p) = m.next_part().unwrap() {
                    got.push(p);
                }
            }
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "step {step}"),
            }
        }
        first.unwrap()
    }

    #[test]
    fn every_framing_variant_gives_the_same_parts() {
        let beat = xml_part("videoloss", "inactive");
        let vmd = xml_part("VMD", "active");
        let ct = r#"application/xml; charset="UTF-8""#;
        let plain =
            [framed("hikboundary", ct, &beat, Some(beat.len()), false), framed("hikboundary", ct, &vmd, Some(vmd.len()), false)].concat();
        let doubled =
            [framed("hikboundary", ct, &beat, Some(beat.len()), true), framed("hikboundary", ct, &vmd, Some(vmd.len()), true)].concat();
        let no_length = [framed("hikboundary", ct, &beat, None, false), framed("hikboundary", ct, &vmd, None, false)].concat();
        let with_blank_lines = [b"\r\n\r\n".to_vec(), plain.clone(), b"\r\n".to_vec()].concat();
        for (name, header, wire) in [
            ("plain", Some("multipart/mixed; boundary=hikboundary"), &plain),
            ("quoted", Some("multipart/mixed; boundary=\"hikboundary\""), &plain),
            ("no boundary parameter", Some("multipart/mixed"), &plain),
            ("no content type", None, &plain),
            ("doubled", Some("multipart/mixed; boundary=hikboundary"), &doubled),
            ("doubled, learnt", Some("multipart/mixed"), &doubled),
            ("no length", Some("multipart/mixed; boundary=hikboundary"), &no_length),
            ("blank lines", Some("multipart/mixed; boundary=hikboundary"), &with_blank_lines),
        ] {
            let parts = parts_in_any_split(header, wire);
            // The second part completes only when the third boundary (or more bytes) comes for
            // framings read by boundary; add one to be sure.
            let mut m = Multipart::new(header);
            m.push(wire);
            m.push(b"--hikboundary\r\n");
            let mut all = Vec::new();
            while let Some(p) = m.next_part().unwrap() {
                all.push(p);
            }
            assert!(!parts.is_empty(), "{name}");
            assert_eq!(all.len(), 2, "{name}: {all:?}");
            assert_eq!(all[0].body, beat, "{name}");
            assert_eq!(all[1].body, vmd, "{name}");
            assert!(decode(&all[0]).unwrap().unwrap().is_heartbeat(), "{name}");
            let e = decode(&all[1]).unwrap().unwrap();
            assert_eq!((e.kind.as_str(), e.state.as_deref(), e.time.as_deref()), ("VMD", Some("active"), Some("2024-05-01T08:00:00Z")));
            assert_eq!(e.channel, Some(1));
        }
    }

    #[test]
    fn a_part_larger_than_announced_is_read_to_the_next_boundary() {
        let beat = xml_part("videoloss", "inactive");
        let vmd = xml_part("VMD", "active");
        let ct = "application/xml";
        let wire = [
            framed("hikboundary", ct, &beat, Some(beat.len() - 24), false),
            framed("hikboundary", ct, &vmd, Some(vmd.len() - 24), false),
            b"--hikboundary\r\n".to_vec(),
        ]
        .concat();
        let mut m = Multipart::new(Some("multipart/mixed; boundary=hikboundary"));
        m.push(&wire);
        let (a, b) = (m.next_part().unwrap().unwrap(), m.next_part().unwrap().unwrap());
        assert_eq!((a.body, b.body), (beat.clone(), vmd.clone()));
        // Arriving a byte at a time, the length is trusted until the tail shows up: that part is
        // cut (it fails to decode, and is skipped), the tail is skipped, the next part is whole.
        let mut m = Multipart::new(Some("multipart/mixed; boundary=hikboundary"));
        let mut got = Vec::new();
        for b in &wire {
            m.push(std::slice::from_ref(b));
            while let Some(p) = m.next_part().unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(decode(&got[0]).is_err());
        assert!(decode(&got[1]).is_err() || got[1].body == vmd);
    }

    #[test]
    fn parts_without_any_boundary_are_read_by_length() {
        let body = RING.as_bytes();
        let one = format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
        let wire = [one.as_bytes(), body, b"\r\n", one.as_bytes(), body].concat();
        let parts = parts_in_any_split(Some("multipart/mixed"), &wire);
        assert_eq!(parts.len(), 2);
        let e = decode(&parts[0]).unwrap().unwrap();
        assert_eq!((e.kind.as_str(), e.current, e.channel), ("ring", true, Some(1)));
    }

    #[test]
    fn pictures_are_skipped_and_nothing_grows_without_bound() {
        let jpeg = [0xFFu8, 0xD8, 0x00, 0x2D, 0x2D, 0xFF, 0xD9];
        let wire = [
            framed("MIME_boundary", "image/jpeg", &jpeg, Some(jpeg.len()), false),
            framed("MIME_boundary", "application/json", RING.as_bytes(), Some(RING.len()), false),
        ]
        .concat();
        let mut m = Multipart::new(Some("multipart/mixed; boundary=MIME_boundary"));
        m.push(&wire);
        m.push(b"--MIME_boundary\r\n");
        let p = m.next_part().unwrap().unwrap();
        assert_eq!(p.body, jpeg);
        assert!(decode(&p).unwrap().is_none());
        assert_eq!(decode(&m.next_part().unwrap().unwrap()).unwrap().unwrap().kind, "ring");

        // A part announcing more than the limit, or running past it, is refused.
        let mut m = Multipart::new(Some("multipart/mixed; boundary=b"));
        m.push(format!("--b\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", MAX_PART + 1).as_bytes());
        assert!(matches!(m.next_part(), Err(PartError::TooLarge { .. })));
        let mut m = Multipart::new(Some("multipart/mixed; boundary=b"));
        m.push(b"--b\r\nContent-Type: application/json\r\n\r\n");
        let mut err = None;
        for _ in 0..(MAX_PART / 4096 + 2) {
            m.push(&[b'x'; 4096]);
            if let Err(e) = m.next_part() {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(PartError::TooLarge { .. })), "{err:?}");
        assert!(m.buffered() <= MAX_PART + 4096 + 64);
        // Headers that never end, and junk.
        let mut m = Multipart::new(Some("multipart/mixed"));
        m.push(&[b'a'; MAX_HEADERS + 10]);
        assert!(m.next_part().is_err());
        let mut m = Multipart::new(Some("multipart/mixed"));
        m.push(b"junk without a colon\r\n\r\n");
        assert!(matches!(m.next_part(), Err(PartError::Garbage(_))));
    }

    #[test]
    fn every_field_has_one_type_and_one_format_whatever_the_source() {
        let xml = decode(&Part { content_type: "application/xml".into(), body: xml_part("VMD", "active") }).unwrap().unwrap();
        let json = decode(&Part { content_type: "application/json".into(), body: RING.as_bytes().to_vec() }).unwrap().unwrap();
        for e in [&xml, &json] {
            let v = serde_json::to_value(e).unwrap();
            assert_eq!(v["channel"], 1, "{v}");
            assert_eq!(v["time"], "2024-05-01T08:00:00Z", "{v}");
            assert!(v.get("door").is_some_and(|d| d.is_null()), "{v}");
        }
        assert_eq!(utc("2024-05-01T10:00:00Z").as_deref(), Some("2024-05-01T10:00:00Z"));
        assert_eq!(utc("2024-05-01T10:00:00+00:00").as_deref(), Some("2024-05-01T10:00:00Z"));
        assert_eq!(utc("2024-05-01T01:30:00-05:30").as_deref(), Some("2024-05-01T07:00:00Z"));
        assert_eq!(utc("2024-05-01T10:00:00.250+01:00").as_deref(), Some("2024-05-01T09:00:00Z"));
        for bad in ["2024-05-01T10:00:00", "yesterday", "", "2024-05-01T10:00:00+99:00", "é+01:00", "2024-05-01T10:00:00+0é:00"] {
            assert_eq!(utc(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn device_strings_in_events_are_data() {
        let hostile = format!(
            r#"{{"eventType":"AccessControllerEvent\u001b[2J","eventState":"active","dateTime":"{}","AccessControllerEvent":{{"majorEventType":5,"subEventType":21,"doorNo":2,"currentEvent":false,"name":"é\r\n"}}}}"#,
            "9".repeat(10_000)
        );
        let e = decode(&Part { content_type: "application/json".into(), body: hostile.into_bytes() }).unwrap().unwrap();
        assert_eq!((e.kind.as_str(), e.door, e.current), ("doorUnlocked", Some(2), false));
        let line = serde_json::to_string(&e).unwrap();
        assert!(!line.contains('\u{1b}') && line.len() < 2_000, "{line}");
        assert_eq!(e.fields["AccessControllerEvent"]["name"], "é\\r\\n");
        assert!(decode(&Part { content_type: "application/json".into(), body: b"{broken".to_vec() }).is_err());
    }
}
