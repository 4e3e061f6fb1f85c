//! The alarms the device raises (a ring, a door's lock and contact, motion, line crossing):
//! what the alertStream sends and the event log names.

/// A door's event on the intercom's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoorEvent {
    Unlocked,
    Locked,
    ContactOpen,
    ContactClosed,
}

/// An alarm for the alertStream clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alert {
    Ring,
    Door { door: u32, what: DoorEvent },
    Motion,
    LineCrossing,
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
            Alert::Motion => "VMD",
            Alert::LineCrossing => "linedetection",
        }
    }

    pub(crate) fn door(self) -> Option<u32> {
        match self {
            Alert::Door { door, .. } => Some(door),
            _ => None,
        }
    }

    /// An intercom's `subEventType` (SDK tables), None for camera alarms.
    pub(crate) fn minor(self) -> Option<u32> {
        match self {
            Alert::Ring => Some(0x25),
            Alert::Door { what: DoorEvent::Unlocked, .. } => Some(0x15),
            Alert::Door { what: DoorEvent::Locked, .. } => Some(0x16),
            Alert::Door { what: DoorEvent::ContactOpen, .. } => Some(0x19),
            Alert::Door { what: DoorEvent::ContactClosed, .. } => Some(0x1a),
            Alert::Motion | Alert::LineCrossing => None,
        }
    }

    /// A camera's `eventType` and `eventDescription`, None for intercom events.
    pub(crate) fn camera(self) -> Option<(&'static str, &'static str)> {
        match self {
            Alert::Motion => Some(("VMD", "Motion alarm")),
            Alert::LineCrossing => Some(("linedetection", "linedetection alarm")),
            _ => None,
        }
    }
}
