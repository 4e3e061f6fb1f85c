//! The simulated device's own XML: the documents it writes and the one it parses (a channel PUT).
//!
//! This is deliberately separate from the client's `isapi::xml`: if both sides shared one
//! writer and one parser, a mistake in it (a wrong element name, a missing namespace, bad
//! escaping) would pass both sides unnoticed. The shapes follow what devices send: an
//! `<?xml version="1.0" encoding="UTF-8"?>` prolog, `version` and `xmlns` on the root (and on
//! each `TwoWayAudioChannel` of a list), text escaped for `& < > "`. Like a device, the parser
//! matches elements by local name and ignores namespaces and elements it does not know.

use std::fmt::Display;
use std::ops::RangeInclusive;

/// The door station's speaker volumes (`AudioOut`, 0-10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AudioOut {
    pub volume: i64,
    pub talk_volume: i64,
}

/// Longest text value kept from a parsed document, in characters.
const MAX_TEXT_CHARS: usize = 256;

/// Bit rates (kbps) a channel's capabilities offer.
pub(crate) const BIT_RATE_OPTIONS: &str = "16,24,32,48,64";
/// Sampling rates (kHz) a channel's capabilities offer.
pub(crate) const SAMPLING_RATE_OPTIONS: &str = "8,16,32";
/// A boolean capability.
const BOOL_OPTIONS: &str = "true,false";
/// The one output type of a door station's `AudioOut`.
const AUDIO_OUTPUT: &str = "audioOutput";
/// The range of speaker and microphone volume.
const VOLUME_MIN: &str = "0";
const VOLUME_MAX: &str = "100";

/// Why a client's document was refused; the text goes into the 400's `description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("expected a <{expected}> document, got <{found}>")]
    UnexpectedRoot { expected: &'static str, found: String },
    #[error("<{0}> is missing")]
    Missing(&'static str),
}

/// The namespace the device writes its documents in (the profile picks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// `http://www.hikvision.com/ver20/XMLSchema`, version 2.0: IP cameras.
    Hikvision,
    /// `http://www.isapi.org/ver20/XMLSchema`, version 2.0: doorbells, newer firmware.
    Isapi,
    /// `http://www.isapi.com/ver20/XMLSchema`, version 2.0: the developer guide's examples.
    #[cfg_attr(not(test), expect(dead_code, reason = "no profile writes it yet; the writers are tested in it"))]
    IsapiCom,
    /// `urn:psialliance-org`, version 1.0: old units.
    Psia,
}

impl Namespace {
    #[cfg(test)]
    pub(crate) const ALL: [Namespace; 4] = [Namespace::Hikvision, Namespace::Isapi, Namespace::IsapiCom, Namespace::Psia];

    pub(crate) fn uri(self) -> &'static str {
        match self {
            Namespace::Hikvision => "http://www.hikvision.com/ver20/XMLSchema",
            Namespace::Isapi => "http://www.isapi.org/ver20/XMLSchema",
            Namespace::IsapiCom => "http://www.isapi.com/ver20/XMLSchema",
            Namespace::Psia => "urn:psialliance-org",
        }
    }

    pub(crate) fn version(self) -> &'static str {
        match self {
            Namespace::Psia => "1.0",
            Namespace::Hikvision | Namespace::Isapi | Namespace::IsapiCom => "2.0",
        }
    }
}

/// A talk channel as the device stores and reports it (`TwoWayAudioChannel`), and as a client
/// PUTs it (where every field but `id` may be absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Channel {
    pub id: String,
    /// True while a session is open.
    pub enabled: Option<bool>,
    /// `audioCompressionType` (e.g. `G.711ulaw`, `AAC`); empty when a PUT leaves it out.
    pub codec: String,
    /// `audioInboundCompressionType`, on firmware that has it: here, the microphone's codec
    /// (which direction devices mean by it is unconfirmed).
    pub inbound_codec: Option<String>,
    /// `audioBitRate` in kbps.
    pub bit_rate_kbps: Option<u32>,
    /// `audioSamplingRate` in kHz as written (8, 16, 32, 44.1).
    pub sampling_rate_khz: Option<f64>,
    /// Signed so that a negative value a client sends is refused, not taken for absent.
    pub speaker_volume: Option<i64>,
    pub microphone_volume: Option<i64>,
    pub noise_reduce: Option<bool>,
    pub audio_input_type: Option<String>,
    pub audio_output_type: Option<String>,
}

impl Channel {
    /// The sampling rate in Hz, when the channel states one.
    pub(crate) fn sample_rate_hz(&self) -> Option<u32> {
        self.sampling_rate_khz.map(|k| (k * 1000.0).round() as u32)
    }

    /// `GET .../channels/<id>`: one `TwoWayAudioChannel` document.
    pub(crate) fn to_xml(&self, ns: Namespace) -> String {
        let mut w = Writer::document();
        self.write(&mut w, ns, None);
        w.finish()
    }

    /// Writes the element; with `codec_options` it is the capabilities form, every
    /// negotiable element carrying its `opt` list or `min`/`max` range.
    fn write(&self, w: &mut Writer, ns: Namespace, codec_options: Option<&[&str]>) {
        let caps = codec_options.is_some();
        let opts = |list: &'static str| if caps { vec![("opt", list.to_string())] } else { Vec::new() };
        let range = || if caps { vec![("min", VOLUME_MIN.to_string()), ("max", VOLUME_MAX.to_string())] } else { Vec::new() };
        w.open("TwoWayAudioChannel", ns);
        w.field("id", Some(&self.id));
        w.field_with("enabled", &opts(BOOL_OPTIONS), self.enabled);
        let codec_attrs = codec_options.map(|o| vec![("opt", o.join(","))]).unwrap_or_default();
        w.field_with("audioCompressionType", &codec_attrs, Some(&self.codec));
        w.field_with("audioInboundCompressionType", &codec_attrs, self.inbound_codec.as_ref());
        w.field_with("audioBitRate", &opts(BIT_RATE_OPTIONS), self.bit_rate_kbps);
        w.field_with("audioSamplingRate", &opts(SAMPLING_RATE_OPTIONS), self.sampling_rate_khz.map(khz));
        w.field_with("speakerVolume", &range(), self.speaker_volume);
        w.field_with("microphoneVolume", &range(), self.microphone_volume);
        w.field_with("noisereduce", &opts(BOOL_OPTIONS), self.noise_reduce);
        w.field("audioInputType", self.audio_input_type.as_ref());
        w.field("audioOutputType", self.audio_output_type.as_ref());
        w.close("TwoWayAudioChannel");
    }
}

/// `GET .../channels`: a `TwoWayAudioChannelList` (each channel carries the namespace too).
pub(crate) fn channel_list_to_xml(channels: &[Channel], ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("TwoWayAudioChannelList", ns);
    for c in channels {
        c.write(&mut w, ns, None);
    }
    w.close("TwoWayAudioChannelList");
    w.finish()
}

/// `GET .../channels/<id>/capabilities`: the channel with what a PUT may choose: the codecs
/// in `opt` on `audioCompressionType`, bit and sampling rates and booleans in `opt`, the
/// volumes as `min`/`max`.
pub(crate) fn capabilities_to_xml(channel: &Channel, codec_options: &[&str], ns: Namespace) -> String {
    let mut w = Writer::document();
    channel.write(&mut w, ns, Some(codec_options));
    w.finish()
}

/// `callStatus` as old doorbell firmware answers it whatever was asked: XML; with `opt`, its
/// capabilities.
pub(crate) fn call_status_to_xml(status: &str, opt: Option<&str>, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("CallStatus", ns);
    let attrs: Vec<(&str, String)> = opt.map(|o| vec![("opt", o.to_string())]).unwrap_or_default();
    w.field_with("status", &attrs, Some(status));
    w.close("CallStatus");
    w.finish()
}

/// `GET .../RemoteControl/door/capabilities`: the door numbers and commands a PUT may use.
pub(crate) fn door_capabilities_to_xml(doors: u32, cmds: &str, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("RemoteControlDoor", ns);
    w.empty("doorNo", &[("min", "1".to_string()), ("max", doors.to_string())]);
    w.empty("cmd", &[("opt", cmds.to_string())]);
    w.close("RemoteControlDoor");
    w.finish()
}

/// `AudioOut` (`GET /ISAPI/System/Audio/AudioOut/channels/<id>`), with Hikvision's spelling
/// `AudioOutVlome`.
pub(crate) fn audio_out_to_xml(id: u32, v: AudioOut, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("AudioOut", ns);
    w.field("id", Some(id));
    write_volumes(&mut w, v, None);
    w.close("AudioOut");
    w.finish()
}

/// `AudioOutCap` (`GET /ISAPI/System/Audio/AudioOut/capabilities`): each volume with `min`,
/// `max` and `def`.
pub(crate) fn audio_out_capabilities_to_xml(v: AudioOut, range: RangeInclusive<i64>, def: AudioOut, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("AudioOutCap", ns);
    write_volumes(&mut w, v, Some((range, def)));
    w.close("AudioOutCap");
    w.finish()
}

fn write_volumes(w: &mut Writer, v: AudioOut, caps: Option<(RangeInclusive<i64>, AudioOut)>) {
    let attrs = |def: fn(AudioOut) -> i64| match &caps {
        Some((range, d)) => vec![("min", range.start().to_string()), ("max", range.end().to_string()), ("def", def(*d).to_string())],
        None => Vec::new(),
    };
    w.start("AudioOutVolumelist");
    w.start("AudioOutVlome");
    let type_attrs: Vec<(&str, String)> = if caps.is_some() { vec![("opt", AUDIO_OUTPUT.to_string())] } else { Vec::new() };
    w.field_with("type", &type_attrs, Some(AUDIO_OUTPUT));
    w.field_with("volume", &attrs(|a| a.volume), Some(v.volume));
    w.field_with("talkVolume", &attrs(|a| a.talk_volume), Some(v.talk_volume));
    w.close("AudioOutVlome");
    w.close("AudioOutVolumelist");
}

/// One `EventNotificationAlert`: an alertStream part on cameras.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventAlert {
    pub ip_address: String,
    pub port_no: u16,
    pub mac_address: String,
    pub channel_id: u32,
    /// An alarm input's number (IO alarms).
    pub input_port: Option<u32>,
    pub date_time: String,
    pub active_post_count: u32,
    pub event_type: String,
    pub event_state: String,
    pub event_description: String,
}

impl EventAlert {
    pub(crate) fn to_xml(&self, ns: Namespace) -> String {
        let mut w = Writer::document();
        w.open("EventNotificationAlert", ns);
        w.field("ipAddress", Some(&self.ip_address));
        w.field("portNo", Some(self.port_no));
        w.field("protocol", Some("HTTP"));
        w.field("macAddress", Some(&self.mac_address));
        w.field("channelID", Some(self.channel_id));
        w.field("inputIOPortID", self.input_port);
        w.field("dateTime", Some(&self.date_time));
        w.field("activePostCount", Some(self.active_post_count));
        w.field("eventType", Some(&self.event_type));
        w.field("eventState", Some(&self.event_state));
        w.field("eventDescription", Some(&self.event_description));
        w.close("EventNotificationAlert");
        w.finish()
    }
}

/// `EventNotification` (`GET /ISAPI/Event/triggers`): one trigger per event type, on video
/// channel 1 (IO alarms: input port 1), each notifying the surveillance center and recording.
pub(crate) fn triggers_to_xml(event_types: &[(&str, bool)], ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("EventNotification", ns);
    w.start("EventTriggerList");
    for &(event_type, io) in event_types {
        w.start("EventTrigger");
        w.field("id", Some(format!("{event_type}-1")));
        w.field("eventType", Some(event_type));
        w.field("eventDescription", Some(format!("{event_type} Event trigger Information")));
        w.field(if io { "inputIOPortID" } else { "videoInputChannelID" }, Some(1));
        w.start("EventTriggerNotificationList");
        for method in ["center", "record"] {
            w.start("EventTriggerNotification");
            w.field("id", Some(method));
            w.field("notificationMethod", Some(method));
            w.field("notificationRecurrence", Some("beginning"));
            w.close("EventTriggerNotification");
        }
        w.close("EventTriggerNotificationList");
        w.close("EventTrigger");
    }
    w.close("EventTriggerList");
    w.close("EventNotification");
    w.finish()
}

/// `MotionDetection` (`/ISAPI/System/Video/inputs/channels/1/motionDetection`): whether it is
/// on, and a grid covering the whole picture.
pub(crate) fn motion_detection_to_xml(enabled: bool, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("MotionDetection", ns);
    w.field("id", Some(1));
    w.field("enabled", Some(enabled));
    w.field("enableHighlight", Some(false));
    w.field("samplingInterval", Some(2));
    w.field("startTriggerTime", Some(500));
    w.field("endTriggerTime", Some(500));
    w.field("regionType", Some("grid"));
    w.start("Grid");
    w.field("rowGranularity", Some(18));
    w.field("columnGranularity", Some(22));
    w.close("Grid");
    w.start("MotionDetectionLayout");
    w.field("sensitivityLevel", Some(60));
    w.start("layout");
    w.field(
        "gridMap",
        Some("fffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffcfffffc"),
    );
    w.close("layout");
    w.close("MotionDetectionLayout");
    w.close("MotionDetection");
    w.finish()
}

/// The `enabled` of a `MotionDetection` PUT (the rest of the document is taken as it is).
pub(crate) fn parse_motion_detection(xml: &str) -> Result<bool, XmlError> {
    let doc = parse(xml)?;
    let r = root(&doc, "MotionDetection")?;
    boolean(r, "enabled").ok_or(XmlError::Missing("enabled"))
}

/// The answer to an open on firmware that hands out a session id.
pub(crate) fn session_to_xml(session_id: &str, ns: Namespace) -> String {
    let mut w = Writer::document();
    w.open("TwoWayAudioSession", ns);
    w.field("sessionId", Some(session_id));
    w.close("TwoWayAudioSession");
    w.finish()
}

/// `ResponseStatus`: the answer to a PUT and the body of most errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ResponseStatus {
    pub request_url: String,
    /// 1 OK, 2 Device Busy, 3 Device Error, 4 Invalid Operation, 5 Invalid XML Format,
    /// 6 Invalid XML Content, 7 Reboot Required.
    pub status_code: u32,
    pub status_string: String,
    pub sub_status_code: String,
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
    pub description: Option<String>,
}

impl ResponseStatus {
    pub(crate) fn ok(request_url: &str) -> Self {
        Self::new(request_url, 1, "OK", "ok")
    }

    pub(crate) fn new(request_url: &str, code: u32, status: &str, sub: &str) -> Self {
        ResponseStatus {
            request_url: request_url.to_string(),
            status_code: code,
            status_string: status.to_string(),
            sub_status_code: sub.to_string(),
            ..Default::default()
        }
    }

    pub(crate) fn to_xml(&self, ns: Namespace) -> String {
        let mut w = Writer::document();
        w.open("ResponseStatus", ns);
        w.field("requestURL", Some(&self.request_url));
        w.field("statusCode", Some(self.status_code));
        w.field("statusString", Some(&self.status_string));
        w.field("subStatusCode", Some(&self.sub_status_code));
        w.field("errorCode", self.error_code.as_ref());
        w.field("errorMsg", self.error_msg.as_ref());
        w.field("description", self.description.as_ref());
        w.close("ResponseStatus");
        w.finish()
    }
}

/// `userCheck`: the body of a 401, with the lockout state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UserCheck {
    pub status_value: Option<u32>,
    pub status_string: Option<String>,
    /// `lock` or `unlock`.
    pub lock_status: Option<String>,
    /// Seconds until the client's IP is unlocked.
    pub unlock_time: Option<u64>,
    pub retry_login_time: Option<u64>,
}

impl UserCheck {
    pub(crate) fn to_xml(&self, ns: Namespace) -> String {
        let mut w = Writer::document();
        w.open("userCheck", ns);
        w.field("statusValue", self.status_value);
        w.field("statusString", self.status_string.as_ref());
        w.field("lockStatus", self.lock_status.as_ref());
        w.field("unlockTime", self.unlock_time);
        w.field("retryLoginTime", self.retry_login_time);
        w.close("userCheck");
        w.finish()
    }
}

/// `DeviceInfo` (`GET /ISAPI/System/deviceInfo`), the fields the device reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeviceInfo {
    pub device_name: String,
    pub device_id: String,
    pub model: String,
    pub serial_number: String,
    pub mac_address: String,
    pub firmware_version: String,
    pub firmware_released_date: String,
    pub device_type: String,
}

impl DeviceInfo {
    pub(crate) fn to_xml(&self, ns: Namespace) -> String {
        let mut w = Writer::document();
        w.open("DeviceInfo", ns);
        w.field("deviceName", Some(&self.device_name));
        w.field("deviceID", Some(&self.device_id));
        w.field("model", Some(&self.model));
        w.field("serialNumber", Some(&self.serial_number));
        w.field("macAddress", Some(&self.mac_address));
        w.field("firmwareVersion", Some(&self.firmware_version));
        w.field("firmwareReleasedDate", Some(&self.firmware_released_date));
        w.field("deviceType", Some(&self.device_type));
        w.close("DeviceInfo");
        w.finish()
    }
}

/// Builds a document as one string, pretty-printed as cameras write it: the declaration, then
/// one element per line (CRLF), children indented by two spaces (line-based event clients find
/// a part by its lines). Every text and attribute value is escaped.
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn document() -> Writer {
        Writer { out: String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#), depth: 0 }
    }

    /// A new line at the current depth.
    fn line(&mut self) {
        self.out.push_str("\r\n");
        self.out.push_str(&"  ".repeat(self.depth));
    }

    /// An element that carries the namespace (`version` and `xmlns`).
    fn open(&mut self, name: &str, ns: Namespace) {
        self.line();
        self.out.push_str(&format!(r#"<{name} version="{}" xmlns="{}">"#, ns.version(), ns.uri()));
        self.depth += 1;
    }

    /// An element inside a document (no namespace of its own).
    fn start(&mut self, name: &str) {
        self.line();
        self.out.push_str(&format!("<{name}>"));
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line();
        self.out.push_str(&format!("</{name}>"));
    }

    /// `<name a="v" .../>`: a capability with nothing but attributes.
    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.line();
        self.out.push('<');
        self.out.push_str(name);
        for (attr, v) in attrs {
            self.out.push_str(&format!(r#" {attr}="{}""#, escape(v)));
        }
        self.out.push_str("/>");
    }

    /// `<name>value</name>`, nothing when the value is absent.
    fn field(&mut self, name: &str, value: Option<impl Display>) {
        self.field_with(name, &[], value);
    }

    /// `<name a="v" ...>value</name>`, nothing when the value is absent.
    fn field_with(&mut self, name: &str, attrs: &[(&str, String)], value: Option<impl Display>) {
        let Some(value) = value else { return };
        self.line();
        self.out.push('<');
        self.out.push_str(name);
        for (attr, v) in attrs {
            self.out.push_str(&format!(r#" {attr}="{}""#, escape(v)));
        }
        self.out.push('>');
        self.out.push_str(&escape(&value.to_string()));
        self.out.push_str(&format!("</{name}>"));
    }

    fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

/// A rate in kHz as devices write it: `8`, `16`, `44.1`.
fn khz(k: f64) -> String {
    if k.fract() == 0.0 { format!("{}", k as u64) } else { format!("{k}") }
}

/// Escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A client's text as the device keeps it: trimmed, bounded, control characters spelled out
/// (so an echo of it in an answer is still well-formed XML and one line in the event log).
pub(crate) fn keep(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.trim().chars().enumerate() {
        if n == MAX_TEXT_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The first child element named `name` (local name, any namespace).
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text(node: roxmltree::Node, name: &str) -> Option<String> {
    child(node, name).map(|c| keep(c.text().unwrap_or("")))
}

fn number<T: std::str::FromStr>(node: roxmltree::Node, name: &str) -> Option<T> {
    text(node, name)?.parse().ok()
}

fn boolean(node: roxmltree::Node, name: &str) -> Option<bool> {
    match text(node, name)?.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Parses the `TwoWayAudioChannel` a client PUTs. `id` is required; values that do not parse
/// count as absent, and the `opt`/`min`/`max` attributes of a capabilities document are ignored.
pub(crate) fn parse_channel(xml: &str) -> Result<Channel, XmlError> {
    let doc = parse(xml)?;
    let root = root(&doc, "TwoWayAudioChannel")?;
    Ok(Channel {
        id: text(root, "id").ok_or(XmlError::Missing("id"))?,
        enabled: boolean(root, "enabled"),
        codec: text(root, "audioCompressionType").unwrap_or_default(),
        inbound_codec: text(root, "audioInboundCompressionType").filter(|c| !c.is_empty()),
        bit_rate_kbps: number(root, "audioBitRate"),
        sampling_rate_khz: number(root, "audioSamplingRate"),
        speaker_volume: number(root, "speakerVolume"),
        microphone_volume: number(root, "microphoneVolume"),
        noise_reduce: boolean(root, "noisereduce"),
        audio_input_type: text(root, "audioInputType"),
        audio_output_type: text(root, "audioOutputType"),
    })
}

/// The root element of a client's document, checked to be `expected`.
fn root<'a, 'i>(doc: &'a roxmltree::Document<'i>, expected: &'static str) -> Result<roxmltree::Node<'a, 'i>, XmlError> {
    let root = doc.root_element();
    if root.tag_name().name() != expected {
        return Err(XmlError::UnexpectedRoot { expected, found: keep(root.tag_name().name()) });
    }
    Ok(root)
}

fn parse(xml: &str) -> Result<roxmltree::Document<'_>, XmlError> {
    roxmltree::Document::parse(xml).map_err(|e| XmlError::Malformed(e.to_string()))
}

/// The `cmd` of a `RemoteControlDoor` a client PUTs.
pub(crate) fn parse_remote_control_door(xml: &str) -> Result<String, XmlError> {
    let doc = parse(xml)?;
    text(root(&doc, "RemoteControlDoor")?, "cmd").ok_or(XmlError::Missing("cmd"))
}

/// The gateway (door) index, if given, and the `command` of a `RemoteOpenDoor`. The guide
/// spells the index `gateWayIndex`, the gateway ability `gatewayIndex`: both are read.
pub(crate) fn parse_remote_open_door(xml: &str) -> Result<(Option<String>, String), XmlError> {
    let doc = parse(xml)?;
    let root = root(&doc, "RemoteOpenDoor")?;
    let gateway = text(root, "gateWayIndex").or_else(|| text(root, "gatewayIndex"));
    Ok((gateway, text(root, "command").ok_or(XmlError::Missing("command"))?))
}

/// The volumes an `AudioOut` PUT asks for, as text (the device checks them): those of its
/// `audioOutput` entry (or an entry without a type).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AudioOutPut {
    pub volume: Option<String>,
    pub talk_volume: Option<String>,
}

pub(crate) fn parse_audio_out(xml: &str) -> Result<AudioOutPut, XmlError> {
    let doc = parse(xml)?;
    let root = root(&doc, "AudioOut")?;
    let entry = child(root, "AudioOutVolumelist").and_then(|list| {
        list.children()
            .filter(|c| c.is_element() && c.tag_name().name() == "AudioOutVlome")
            .find(|c| text(*c, "type").is_none_or(|t| t == AUDIO_OUTPUT))
    });
    Ok(entry.map(|e| AudioOutPut { volume: text(e, "volume"), talk_volume: text(e, "talkVolume") }).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera_channel() -> Channel {
        Channel {
            id: "1".into(),
            enabled: Some(false),
            codec: "G.711ulaw".into(),
            inbound_codec: None,
            bit_rate_kbps: Some(64),
            sampling_rate_khz: Some(8.0),
            speaker_volume: Some(100),
            microphone_volume: Some(100),
            noise_reduce: Some(true),
            audio_input_type: Some("MicIn".into()),
            audio_output_type: Some("Speaker".into()),
        }
    }

    #[test]
    fn documents_are_pretty_printed_one_element_a_line() {
        let xml = motion_detection_to_xml(true, Namespace::Hikvision);
        let lines: Vec<&str> = xml.split("\r\n").collect();
        assert_eq!(lines[1], r#"<MotionDetection version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">"#);
        assert_eq!(lines[3], "  <enabled>true</enabled>");
        assert!(lines.contains(&"    <rowGranularity>18</rowGranularity>"), "{xml}");
        assert_eq!(lines[lines.len() - 2], "</MotionDetection>");
        assert!(parse_motion_detection(&xml).unwrap());
        let put = r#"<ns0:MotionDetection xmlns:ns0="http://www.hikvision.com/ver20/XMLSchema"><ns0:enabled>false</ns0:enabled></ns0:MotionDetection>"#;
        assert!(!parse_motion_detection(put).unwrap(), "a prefixed document, as Python's ElementTree writes it");
    }

    /// The root element of `xml`, checked for the prolog and the namespace attributes.
    fn checked_root<'a>(doc: &'a roxmltree::Document<'a>, xml: &str, name: &str, ns: Namespace) -> roxmltree::Node<'a, 'a> {
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<"), "{xml}");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), name);
        assert_eq!(root.tag_name().namespace(), Some(ns.uri()));
        assert_eq!(root.attribute("version"), Some(ns.version()));
        root
    }

    fn child_names(node: roxmltree::Node) -> Vec<String> {
        node.children().filter(|c| c.is_element()).map(|c| c.tag_name().name().to_string()).collect()
    }

    #[test]
    fn channel_documents_round_trip_in_every_namespace() {
        let aac = Channel {
            enabled: Some(true),
            codec: "AAC".into(),
            bit_rate_kbps: Some(32),
            sampling_rate_khz: Some(16.0),
            ..camera_channel()
        };
        let odd = Channel { sampling_rate_khz: Some(44.1), audio_input_type: None, noise_reduce: None, ..aac.clone() };
        let inbound = Channel { inbound_codec: Some("G.711alaw".into()), ..camera_channel() };
        for ns in Namespace::ALL {
            for ch in [camera_channel(), aac.clone(), odd.clone(), inbound.clone()] {
                let xml = ch.to_xml(ns);
                let doc = roxmltree::Document::parse(&xml).unwrap();
                checked_root(&doc, &xml, "TwoWayAudioChannel", ns);
                assert_eq!(parse_channel(&xml).unwrap(), ch, "{xml}");
                let caps = capabilities_to_xml(&ch, &["G.711ulaw", "AAC"], ns);
                assert_eq!(parse_channel(&caps).unwrap(), ch, "capabilities read back as the channel: {caps}");
            }
        }
        assert_eq!(odd.sample_rate_hz(), Some(44100));
        assert!(odd.to_xml(Namespace::Hikvision).contains("<audioSamplingRate>44.1</audioSamplingRate>"));
        assert!(camera_channel().to_xml(Namespace::Hikvision).contains("<audioSamplingRate>8</audioSamplingRate>"));
    }

    #[test]
    fn channel_elements_come_in_device_order() {
        let xml = camera_channel().to_xml(Namespace::Hikvision);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            child_names(doc.root_element()),
            [
                "id",
                "enabled",
                "audioCompressionType",
                "audioBitRate",
                "audioSamplingRate",
                "speakerVolume",
                "microphoneVolume",
                "noisereduce",
                "audioInputType",
                "audioOutputType"
            ]
        );
        // The inbound codec, where set, follows audioCompressionType.
        let inbound = Channel { inbound_codec: Some("AAC".into()), ..camera_channel() }.to_xml(Namespace::Hikvision);
        let doc = roxmltree::Document::parse(&inbound).unwrap();
        assert_eq!(child_names(doc.root_element())[2..4], ["audioCompressionType", "audioInboundCompressionType"]);
        assert!(inbound.contains("<audioCompressionType>G.711ulaw</audioCompressionType>\r\n  <audioInboundCompressionType>AAC</"));
        let caps = capabilities_to_xml(
            &Channel { inbound_codec: Some("AAC".into()), ..camera_channel() },
            &["G.711ulaw", "AAC"],
            Namespace::Isapi,
        );
        assert!(caps.contains(r#"<audioInboundCompressionType opt="G.711ulaw,AAC">AAC</audioInboundCompressionType>"#), "{caps}");
        let bare = Channel { id: "2".into(), ..Default::default() };
        assert_eq!(
            bare.to_xml(Namespace::Isapi),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<TwoWayAudioChannel version=\"2.0\" xmlns=\"http://www.isapi.org/ver20/XMLSchema\">\r\n  <id>2</id>\r\n  <audioCompressionType></audioCompressionType>\r\n</TwoWayAudioChannel>\r\n"
        );
    }

    #[test]
    fn channel_list_carries_the_namespace_on_every_channel() {
        let two = [camera_channel(), Channel { id: "2".into(), ..camera_channel() }];
        for ns in Namespace::ALL {
            let xml = channel_list_to_xml(&two, ns);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let root = checked_root(&doc, &xml, "TwoWayAudioChannelList", ns);
            let channels: Vec<_> = root.children().filter(|c| c.is_element()).collect();
            assert_eq!(channels.len(), 2);
            for (c, want) in channels.iter().zip(&two) {
                assert_eq!(c.tag_name().name(), "TwoWayAudioChannel");
                assert_eq!(c.attribute("version"), Some(ns.version()));
                assert_eq!(c.tag_name().namespace(), Some(ns.uri()));
                assert!(xml[c.range()].starts_with(&format!(r#"<TwoWayAudioChannel version="{}" xmlns="{}">"#, ns.version(), ns.uri())));
                // Each channel element, on its own, is a document the parser reads back.
                let one = format!(r#"<?xml version="1.0" encoding="UTF-8"?>{}"#, &xml[c.range()]);
                assert_eq!(&parse_channel(&one).unwrap(), want);
            }
        }
        assert_eq!(
            channel_list_to_xml(&[], Namespace::Psia),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<TwoWayAudioChannelList version=\"1.0\" xmlns=\"urn:psialliance-org\">\r\n</TwoWayAudioChannelList>\r\n"
        );
    }

    #[test]
    fn capabilities_carry_the_opt_lists_and_ranges() {
        let codecs = ["G.711ulaw", "G.711alaw", "G.726", "AAC", "PCM"];
        let xml = capabilities_to_xml(&camera_channel(), &codecs, Namespace::Hikvision);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = checked_root(&doc, &xml, "TwoWayAudioChannel", Namespace::Hikvision);
        let attr = |name: &str, a: &str| child(root, name).and_then(|n| n.attribute(a)).map(str::to_string);
        assert_eq!(attr("audioCompressionType", "opt").as_deref(), Some("G.711ulaw,G.711alaw,G.726,AAC,PCM"));
        assert_eq!(attr("enabled", "opt").as_deref(), Some("true,false"));
        assert_eq!(attr("audioBitRate", "opt").as_deref(), Some("16,24,32,48,64"));
        assert_eq!(attr("audioSamplingRate", "opt").as_deref(), Some("8,16,32"));
        assert_eq!(attr("noisereduce", "opt").as_deref(), Some("true,false"));
        for volume in ["speakerVolume", "microphoneVolume"] {
            assert_eq!(attr(volume, "min").as_deref(), Some("0"));
            assert_eq!(attr(volume, "max").as_deref(), Some("100"));
        }
        assert_eq!(attr("audioInputType", "opt"), None);
        assert_eq!(child(root, "audioCompressionType").and_then(|n| n.text()), Some("G.711ulaw"));
        assert!(xml.contains(r#"<audioCompressionType opt="G.711ulaw,G.711alaw,G.726,AAC,PCM">G.711ulaw</audioCompressionType>"#));
        assert!(xml.contains(r#"<speakerVolume min="0" max="100">100</speakerVolume>"#));
        // The plain channel document has no attributes on its fields.
        let plain = camera_channel().to_xml(Namespace::Hikvision);
        assert!(!plain.contains("opt=") && !plain.contains("min="), "{plain}");
    }

    #[test]
    fn other_documents_have_the_device_shapes() {
        for ns in Namespace::ALL {
            let xml = session_to_xml("2ozk849ahx0xzbmvnj1ncnp3n53nn495", ns);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let root = checked_root(&doc, &xml, "TwoWayAudioSession", ns);
            assert_eq!(child(root, "sessionId").and_then(|n| n.text()), Some("2ozk849ahx0xzbmvnj1ncnp3n53nn495"));

            let mut rs = ResponseStatus::new("/ISAPI/System/TwoWayAudio/channels/1/open", 2, "Device Busy", "deviceBusy");
            rs.description = Some("busy".into());
            let xml = rs.to_xml(ns);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let root = checked_root(&doc, &xml, "ResponseStatus", ns);
            assert_eq!(child_names(root), ["requestURL", "statusCode", "statusString", "subStatusCode", "description"]);
            assert_eq!(child(root, "statusCode").and_then(|n| n.text()), Some("2"));

            let uc = UserCheck {
                status_value: Some(401),
                status_string: Some("Unauthorized".into()),
                lock_status: Some("lock".into()),
                unlock_time: Some(600),
                retry_login_time: Some(0),
            };
            let xml = uc.to_xml(ns);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let root = checked_root(&doc, &xml, "userCheck", ns);
            assert_eq!(child_names(root), ["statusValue", "statusString", "lockStatus", "unlockTime", "retryLoginTime"]);

            let info = DeviceInfo { model: "DS-2CD2386G2-IU".into(), ..Default::default() };
            let xml = info.to_xml(ns);
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let root = checked_root(&doc, &xml, "DeviceInfo", ns);
            assert_eq!(child(root, "model").and_then(|n| n.text()), Some("DS-2CD2386G2-IU"));
        }
        // An empty requestURL (real devices' close answer) is still written.
        assert!(ResponseStatus::ok("").to_xml(Namespace::Hikvision).contains("<requestURL></requestURL>\r\n  <statusCode>1</statusCode>"));
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e'f");
        let rs = ResponseStatus::new("/x?a=<b>&c=\"d\"", 4, "Invalid Operation", "badParameters");
        let xml = rs.to_xml(Namespace::Isapi);
        assert!(xml.contains("<requestURL>/x?a=&lt;b&gt;&amp;c=&quot;d&quot;</requestURL>"), "{xml}");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(child(doc.root_element(), "requestURL").and_then(|n| n.text()), Some("/x?a=<b>&c=\"d\""));

        let ch = Channel { id: "<1&2>".into(), codec: "G.711\"ulaw\"".into(), audio_output_type: Some("A & B".into()), ..camera_channel() };
        for ns in Namespace::ALL {
            assert_eq!(parse_channel(&ch.to_xml(ns)).unwrap(), ch);
        }
        let caps = capabilities_to_xml(&ch, &["a\"b", "<c>&"], Namespace::Hikvision);
        assert!(caps.contains(r#"opt="a&quot;b,&lt;c&gt;&amp;""#), "{caps}");
        let doc = roxmltree::Document::parse(&caps).unwrap();
        assert_eq!(child(doc.root_element(), "audioCompressionType").and_then(|n| n.attribute("opt")), Some("a\"b,<c>&"));
        assert_eq!(session_to_xml("a<b", Namespace::Psia).matches("a&lt;b").count(), 1);
    }

    #[test]
    fn parser_reads_what_clients_send() {
        // A minimal PUT, another namespace, unknown elements and whitespace: all like a device.
        let put = r#"<?xml version="1.0" encoding="UTF-8"?>
<TwoWayAudioChannel version="2.0" xmlns="http://www.isapi.com/ver20/XMLSchema">
  <id> 1 </id>
  <audioCompressionType>AAC</audioCompressionType>
  <vendorExtension><audioBitRate>999</audioBitRate></vendorExtension>
  <audioSamplingRate>16</audioSamplingRate>
  <noisereduce>FALSE</noisereduce>
  <speakerVolume>loud</speakerVolume>
</TwoWayAudioChannel>"#;
        let c = parse_channel(put).unwrap();
        assert_eq!(c.id, "1");
        assert_eq!(c.codec, "AAC");
        assert_eq!(c.bit_rate_kbps, None, "only direct children count");
        assert_eq!(c.sampling_rate_khz, Some(16.0));
        assert_eq!(c.noise_reduce, Some(false));
        assert_eq!(c.speaker_volume, None, "a value that does not parse is absent");
        // Prefixed namespaces and no namespace at all.
        let c = parse_channel(r#"<h:TwoWayAudioChannel xmlns:h="urn:x"><h:id>3</h:id><h:enabled>1</h:enabled></h:TwoWayAudioChannel>"#)
            .unwrap();
        assert_eq!((c.id.as_str(), c.enabled, c.codec.as_str()), ("3", Some(true), ""));
        // Control characters from a client are spelled out, never echoed raw.
        let c = parse_channel("<TwoWayAudioChannel><id>1</id><audioCompressionType>G&#10;X</audioCompressionType></TwoWayAudioChannel>")
            .unwrap();
        assert_eq!(c.codec, "G\\nX");
    }

    #[test]
    fn broken_or_wrong_documents_are_refused_with_the_device_messages() {
        let e = parse_channel("<TwoWayAudioChannel><id>1").unwrap_err();
        assert!(matches!(e, XmlError::Malformed(_)) && e.to_string().starts_with("malformed XML: "), "{e}");
        assert!(matches!(parse_channel(""), Err(XmlError::Malformed(_))));
        let e = parse_channel("<html><body>login</body></html>").unwrap_err();
        assert_eq!(e.to_string(), "expected a <TwoWayAudioChannel> document, got <html>");
        let e =
            parse_channel(r#"<TwoWayAudioChannel xmlns="urn:psialliance-org"><enabled>true</enabled></TwoWayAudioChannel>"#).unwrap_err();
        assert_eq!(e.to_string(), "<id> is missing");
    }
}
