//! The alarms the device raises (a ring, a door's lock and contact, a camera's detections):
//! what the alertStream sends and the event log names, and the alertStream's two formats.

use std::fmt;
use std::str::FromStr;

/// A door's event on the intercom's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoorEvent {
    Unlocked,
    Locked,
    ContactOpen,
    ContactClosed,
}

/// What a camera (or a door station's camera) detects: a condition that lasts, reported
/// `active` with a count about every second while it lasts, then once `inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detection {
    Motion,
    LineCrossing,
    Intrusion,
    Tamper,
    /// Alarm input 1 (on an XML door station, its call button).
    Io,
}

impl Detection {
    pub const ALL: [Detection; 5] = [Detection::Motion, Detection::LineCrossing, Detection::Intrusion, Detection::Tamper, Detection::Io];

    /// Its `eventType`, as cameras write it (clients compare it lower-cased).
    pub fn event_type(self) -> &'static str {
        match self {
            Detection::Motion => "VMD",
            Detection::LineCrossing => "linedetection",
            Detection::Intrusion => "fielddetection",
            Detection::Tamper => "tamperdetection",
            Detection::Io => "IO",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Detection::Motion => "Motion alarm",
            Detection::LineCrossing => "linedetection alarm",
            Detection::Intrusion => "fielddetection alarm",
            Detection::Tamper => "Tamper alarm",
            Detection::Io => "IO alarm",
        }
    }

    /// Its word on the sim's console.
    pub fn command(self) -> &'static str {
        match self {
            Detection::Motion => "motion",
            Detection::LineCrossing => "line",
            Detection::Intrusion => "field",
            Detection::Tamper => "tamper",
            Detection::Io => "io",
        }
    }
}

/// An alarm for the alertStream clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alert {
    Ring,
    Door {
        door: u32,
        what: DoorEvent,
    },
    /// A detection's part: `active` with `count` (1, 2, ...) while it lasts, then one part
    /// not active carrying the last count.
    Detected {
        what: Detection,
        active: bool,
        count: u32,
    },
}

impl Alert {
    /// Its name in the event log.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Alert::Ring => "ring",
            Alert::Door { what: DoorEvent::Unlocked, .. } => "doorUnlocked",
            Alert::Door { what: DoorEvent::Locked, .. } => "doorLocked",
            Alert::Door { what: DoorEvent::ContactOpen, .. } => "doorContactOpen",
            Alert::Door { what: DoorEvent::ContactClosed, .. } => "doorContactClosed",
            Alert::Detected { what, .. } => what.event_type(),
        }
    }

    /// `active` or `inactive`; intercom events are always active (they happen, they do not last).
    pub(crate) fn state(self) -> &'static str {
        match self {
            Alert::Detected { active: false, .. } => "inactive",
            _ => "active",
        }
    }

    /// Its `activePostCount`.
    pub(crate) fn count(self) -> u32 {
        match self {
            Alert::Detected { count, .. } => count,
            _ => 1,
        }
    }

    pub(crate) fn door(self) -> Option<u32> {
        match self {
            Alert::Door { door, .. } => Some(door),
            _ => None,
        }
    }

    /// An intercom's `subEventType` (SDK tables), None for detections.
    pub(crate) fn minor(self) -> Option<u32> {
        match self {
            Alert::Ring => Some(0x25),
            Alert::Door { what: DoorEvent::Unlocked, .. } => Some(0x15),
            Alert::Door { what: DoorEvent::Locked, .. } => Some(0x16),
            Alert::Door { what: DoorEvent::ContactOpen, .. } => Some(0x19),
            Alert::Door { what: DoorEvent::ContactClosed, .. } => Some(0x1a),
            Alert::Detected { .. } => None,
        }
    }
}

/// How the alertStream's parts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// `EventNotificationAlert` XML, `boundary=hikboundary` (cameras).
    Xml,
    /// JSON, parts split on `--MIME_boundary` (intercoms).
    Json,
}

impl AlertFormat {
    pub(crate) fn boundary(self) -> &'static str {
        match self {
            AlertFormat::Xml => "hikboundary",
            AlertFormat::Json => "MIME_boundary",
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            AlertFormat::Xml => "application/xml; charset=\"UTF-8\"",
            AlertFormat::Json => "application/json; charset=\"UTF-8\"",
        }
    }
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlertFormat::Xml => "xml",
            AlertFormat::Json => "json",
        })
    }
}

impl FromStr for AlertFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xml" => Ok(AlertFormat::Xml),
            "json" => Ok(AlertFormat::Json),
            _ => Err(format!("unknown alertStream format {s:?}; expected xml or json")),
        }
    }
}
