//! A simulated Hikvision device speaking ISAPI two-way audio on loopback.
//!
//! It is the ground truth for hiktalk's tests and the embedded `sim` camera. It is modelled on
//! what public clients (go2rtc, Scrypted, Home Assistant integrations), their issue threads and
//! Hikvision's ISAPI guide document of real devices (paths, Digest challenge shape, lockout, the
//! raw audioData upload, one session per channel, idle hang-up, firmware differences), not on
//! what hiktalk sends.
//! Everything observable is logged as [`Event`]s; tests wait on them with [`SimHandle::wait_for`].
//!
//! Profiles ([`Profile`]):
//! - `modern`: hikvision.com namespace; open returns a `TwoWayAudioSession`; audioData needs
//!   `?sessionId=` (missing or wrong: 403 invalidOperation); a busy open gets 403.
//! - `doorbell`: isapi.org namespace, a door station (DS-KV6113):
//!   - the call (`call`): `GET /ISAPI/VideoIntercom/callStatus` (JSON, or XML with
//!     `call_status_xml`) and its capabilities, `callerInfo`, `PUT callSignal` (answer,
//!     reject, hangUp, cancel, bellTimeout, deviceOnCall; one that does not fit the state gets
//!     403 invalidOperation; success and errors in `call_signal_style`), `DELETE
//!     /ISAPI/VideoIntercom/ring`. idle -> ring (a visitor: [`SimHandle::ring`], `ring_after`,
//!     `ring_every`, `ring_at`, stdin) -> onCall (answer) -> idle (hangUp); a ring that nobody
//!     answers goes back to idle after `ring_duration` (bellTimeout). A ring ends active talk;
//!     talk while ringing is taken but not played. Without `call_control` these paths answer
//!     404 "Can't locate the url" (DS-KB6003), and rings still happen.
//!   - doors (`door`): `PUT /ISAPI/AccessControl/RemoteControl/door/<n>` (RemoteControlDoor:
//!     open, close, alwaysOpen, resume) and its capabilities, or `PUT
//!     /ISAPI/VideoIntercom/remoteOpenDoor` (`door_api`); `doors` doors, an opened one relocks
//!     after `door_open_time`.
//!   - volume (`volume`): `GET/PUT /ISAPI/System/Audio/AudioOut/channels/1` (`AudioOutVlome`:
//!     volume, talkVolume 0-10) and `AudioOut/capabilities`.
//! - `legacy`: PSIA namespace; open answers a plain `ResponseStatus` (no sessionId) and
//!   audioData ignores any sessionId; a busy open gets 401.
//! - `aac-only`: lists G.711ulaw, open answers 403 until a channel PUT sets AAC.
//!
//! Every profile: a channel PUT may set `speakerVolume` / `microphoneVolume` (0-100, checked),
//! and `GET /ISAPI/Event/notification/alertStream` is a never-ending `multipart/mixed` of
//! alarms (`alert`): XML `EventNotificationAlert`s on cameras (`boundary=hikboundary`), JSON
//! `AccessControllerEvent`s on the door station (`--MIME_boundary`; ring, door unlocked and
//! locked, door contact), switchable with `alert_format` (`--alert-format`; a door station in
//! XML sends its ring as alarm input 1, `IO`, and no door events: unconfirmed on hardware, and
//! what lets a camera-event client see a ring). A heartbeat every `heartbeat`, at most
//! [`MAX_ALERT_STREAMS`] at once, and the alertStream faults ([`AlertFault`]) to break clients'
//! parsers with. Every XML answer and part is pretty-printed (one element per CRLF line), as
//! cameras write them: line-based event clients depend on it.
//!
//! What event integrations (pyhik, Home Assistant's hikvision) read before they listen
//! (`event_config`; `--no-event-config` makes the two paths 404, as units without them):
//! - `GET /ISAPI/System/deviceInfo` with `deviceName`, `deviceID` (UUID-like), `model`,
//!   `serialNumber` (model + build date + serial), `macAddress`, firmware, `deviceType`
//!   (`IPCamera`; `DoorStation` on the door station).
//! - `GET /ISAPI/Event/triggers`: one `EventTrigger` per detection the profile has
//!   ([`Detection`], [`Profile::detections`]: VMD, linedetection, fielddetection,
//!   tamperdetection, IO on cameras; VMD, tamperdetection, IO on legacy; VMD and IO on the door
//!   station) and videoloss, each on video channel 1 (IO: input port 1) notifying `center` and
//!   `record`.
//! - `GET/PUT /ISAPI/System/Video/inputs/channels/1/motionDetection`: `MotionDetection` with
//!   `enabled` (and a grid layout); a PUT's `enabled` persists in the device's state (logged as
//!   `motion_detection`), and with motion detection off no VMD is raised.
//! - Detections come on cue (`event_every` cycles through the profile's; the console's
//!   `motion`, `line`, `field`, `tamper`, `io`; [`SimHandle::detect`]) and last
//!   `alarm_duration`: `eventState` `active` with `activePostCount` 1, 2, ... about every
//!   second, then one `inactive` (a new detection meanwhile extends it).
//!
//! Recordings: finished uploads are kept in memory for tests and the summary, the newest up to
//! `keep_audio_bytes` of audio (`--keep-audio`, default 64 MB; at most 64 uploads, the newest
//! always); `--record-dir` keeps every upload on disk. [`SimHandle::received`] reads them once
//! no upload is still being received.
//! Local control (what a visitor or the resident does): [`SimHandle::command`], which
//! `hiktalk sim` feeds with its stdin's lines.
//!
//! The upload: `PUT .../audioData` is answered 200 at once, then raw bytes are read until the
//! socket closes (session left open: stale, expires after `stale_expiry`), the client PUTs
//! close, or the device hangs up (idle, fault, ring). Chunked uploads are dropped.
//!
//! The microphone: `GET .../audioData` on an open session (beside an upload on the same
//! session: full duplex) is answered 200 with a raw stream, paced in real time on an absolute
//! schedule from the answer's first byte (logged as `first_byte_at` in `MicStarted`), until the
//! client leaves or the session ends. A streaming microphone keeps the session from idling.
//! - What it hears: a 440 Hz tone at about -12 dBFS, or `mic` (`--mic FILE`: any format
//!   hiktalk reads, decoded at start, its first 10 minutes looped); plus, with `mic_echo`
//!   (`--mic-echo MS[:DB]`), what the channel's speaker played MS milliseconds earlier at DB
//!   (default -6 dB): a device hears its own speaker.
//! - Its codec: the channel's `audioInboundCompressionType` when set (`inbound_codec`,
//!   `--inbound-codec`, sets it on every channel), else `audioCompressionType`; G.711 and G.726
//!   at 8 kHz, others at the channel's `audioSamplingRate`. AAC is length-prefixed ADTS, or bare
//!   ADTS with `mic_aac` (`--mic-aac bare`).
//! - Its HTTP framing, by profile unless `mic_framing` (`--mic-framing`) says otherwise:
//!   modern and aac-only `audio/basic`, body until close; doorbell `application/octem-strem`
//!   (sic, as a DS-KV6124 sends it) with `Content-Length: 2147483647`; legacy
//!   `application/octet-stream`, chunked (one chunk per codec frame).
//!
//! # Layers
//! Read from the bottom up: a module imports only from its own layer or the ones below (never
//! back up, never in a circle), and the behaviours not from each other. This file only declares
//! and re-exports.
//! 1. Wire formats and records, no device state: `http` (HTTP/1.1 framing), `xml` (the
//!    device's documents), `auth` (Digest and lockout), `alarm` (the alarms it raises),
//!    `room` (what its microphone picks up), `playout` (what a listener hears of an upload),
//!    `events` (the log), `faults`, `profile` (firmware differences), `recorder` (uploads as
//!    received), `config` ([`SimConfig`]).
//! 2. The device's state: `state` (channels, sessions, call, doors, under one mutex), `shared`
//!    (state, log, auth, faults, the alarm bus and shutdown, held by every task), `session`
//!    (the checks an audioData request passes, the idle and stale watchdog).
//! 3. Behaviours, each on layers 1-2 only: `talk` (open, upload, close), `mic` (the
//!    microphone stream), `call` (the doorbell's call and its rings), `door`, `volume`, `alert`
//!    (the alertStream).
//! 4. The front: `server` (accept, route, authenticate, fault) and `console` (local control).
//! 5. `handle` ([`SimHandle`], [`start`]) and `many` (several devices in one process).

mod alarm;
mod alert;
mod auth;
mod call;
mod config;
mod console;
mod door;
mod events;
mod faults;
mod handle;
mod http;
mod many;
mod mic;
mod playout;
mod profile;
mod recorder;
mod room;
mod server;
mod session;
mod shared;
mod state;
mod talk;
mod volume;
mod xml;

pub use alarm::{AlertFormat, Detection};
pub use alert::MAX_STREAMS as MAX_ALERT_STREAMS;
pub use config::{Expect, KEEP_AUDIO_BYTES, SimConfig};
pub use console::COMMANDS;
pub use events::{Event, EventKind, Summary};
pub use faults::{AlertFault, Endpoint, Fault, FaultParseError};
pub use handle::{SimHandle, start};
pub use many::{DeviceSummary, ForDevice, Many, ManySummary, ProfileMix, Variation, start as start_many};
pub use playout::Listened;
pub use profile::{BusyStyle, CallSignalStyle, DoorApi, MicAac, MicFraming, ParseNameError, Profile};
pub use recorder::{Received, raw_extension};
pub use room::MicEcho;
pub use server::StartError;
