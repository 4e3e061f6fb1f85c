//! ISAPI XML documents for two-way audio, parsed by local element name.
//!
//! Devices disagree on namespaces (hikvision.com, isapi.org, isapi.com, psialliance) and add
//! unknown elements freely, so parsing ignores namespaces and unknown children. The one document
//! the client writes is a channel (for a channel PUT). Every text value read from a document
//! goes through `text::clean` (bounded, control characters escaped). The simulator has writers
//! and parsers of its own (`sim::xml`), so that a mistake made on both sides cannot pass.

use super::text::clean;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("expected a <{expected}> document, got <{found}>")]
    UnexpectedRoot { expected: &'static str, found: String },
    #[error("<{0}> is missing")]
    Missing(&'static str),
}

/// The namespace a device writes its documents in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Namespace {
    /// `http://www.hikvision.com/ver20/XMLSchema`: most cameras.
    Hikvision,
    /// `http://www.isapi.org/ver20/XMLSchema`: doorbells and newer firmware.
    Isapi,
    /// `http://www.isapi.com/ver20/XMLSchema`: the developer guide's examples.
    IsapiCom,
    /// `urn:psialliance-org`, version 1.0: old units.
    Psia,
}

impl Namespace {
    pub fn uri(self) -> &'static str {
        match self {
            Namespace::Hikvision => "http://www.hikvision.com/ver20/XMLSchema",
            Namespace::Isapi => "http://www.isapi.org/ver20/XMLSchema",
            Namespace::IsapiCom => "http://www.isapi.com/ver20/XMLSchema",
            Namespace::Psia => "urn:psialliance-org",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Namespace::Psia => "1.0",
            _ => "2.0",
        }
    }

    fn attrs(self) -> String {
        format!(r#"version="{}" xmlns="{}""#, self.version(), self.uri())
    }
}

/// One talk channel (`TwoWayAudioChannel`). Optional fields are absent on some firmware.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Channel {
    pub id: String,
    /// True while a session is open, on devices that report it.
    pub enabled: Option<bool>,
    /// `audioCompressionType`, verbatim (e.g. `G.711ulaw`, `AAC`).
    pub codec: String,
    /// Choices from a capabilities document's `opt` attributes; empty elsewhere.
    pub codec_options: Vec<String>,
    pub bit_rate_options: Vec<u32>,
    pub sampling_rate_options: Vec<f64>,
    /// `audioBitRate` in kbps.
    pub bit_rate_kbps: Option<u32>,
    /// `audioSamplingRate` in kHz as written (e.g. 8, 16, 32; 44.1 exists).
    pub sampling_rate_khz: Option<f64>,
    pub speaker_volume: Option<u32>,
    pub microphone_volume: Option<u32>,
    pub noise_reduce: Option<bool>,
    pub audio_input_type: Option<String>,
    pub audio_output_type: Option<String>,
    /// `audioInboundCompressionType`, where the device states one: taken as the codec of its
    /// microphone stream (which direction it names is unconfirmed).
    pub inbound_codec: Option<String>,
}

impl Channel {
    /// Sampling rate in Hz, when the channel states one.
    pub fn sample_rate_hz(&self) -> Option<u32> {
        self.sampling_rate_khz.map(|k| (k * 1000.0).round() as u32)
    }

    /// The channel as a `TwoWayAudioChannel` document in namespace `ns`.
    pub fn to_xml(&self, ns: Namespace) -> String {
        let mut s = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        s.push_str(&self.element(ns));
        s
    }

    fn element(&self, ns: Namespace) -> String {
        let mut s = format!("<TwoWayAudioChannel {}>", ns.attrs());
        push(&mut s, "id", Some(escape(&self.id)));
        push(&mut s, "enabled", self.enabled.map(|b| b.to_string()));
        push(&mut s, "audioCompressionType", Some(escape(&self.codec)));
        push(&mut s, "audioBitRate", self.bit_rate_kbps.map(|v| v.to_string()));
        push(&mut s, "audioSamplingRate", self.sampling_rate_khz.map(fmt_khz));
        push(&mut s, "speakerVolume", self.speaker_volume.map(|v| v.to_string()));
        push(&mut s, "microphoneVolume", self.microphone_volume.map(|v| v.to_string()));
        push(&mut s, "noisereduce", self.noise_reduce.map(|b| b.to_string()));
        push(&mut s, "audioInputType", self.audio_input_type.as_deref().map(escape));
        push(&mut s, "audioOutputType", self.audio_output_type.as_deref().map(escape));
        s.push_str("</TwoWayAudioChannel>");
        s
    }
}

fn fmt_khz(k: f64) -> String {
    if k.fract() == 0.0 { format!("{}", k as u64) } else { format!("{k}") }
}

fn push(s: &mut String, name: &str, value: Option<String>) {
    if let Some(v) = value {
        s.push_str(&format!("<{name}>{v}</{name}>"));
    }
}

/// Escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `ResponseStatus`: the device's answer to a PUT, and the body of most errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseStatus {
    pub request_url: String,
    /// 1 OK, 2 Device Busy, 3 Device Error, 4 Invalid Operation, 5 Invalid XML Format,
    /// 6 Invalid XML Content, 7 Reboot Required.
    pub status_code: Option<u32>,
    pub status_string: String,
    pub sub_status_code: String,
    pub error_code: Option<String>,
    pub error_msg: Option<String>,
    pub description: Option<String>,
}

impl ResponseStatus {
    pub fn ok(request_url: &str) -> Self {
        Self::new(request_url, 1, "OK", "ok")
    }

    pub fn new(request_url: &str, code: u32, status: &str, sub: &str) -> Self {
        ResponseStatus {
            request_url: request_url.to_string(),
            status_code: Some(code),
            status_string: status.to_string(),
            sub_status_code: sub.to_string(),
            ..Default::default()
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status_code == Some(1)
    }

    /// One human phrase: `Device Busy (statusCode 2, subStatusCode serviceUnavailable)`.
    pub fn summary(&self) -> String {
        let mut s = if self.status_string.is_empty() { "no statusString".to_string() } else { self.status_string.clone() };
        let mut parts = Vec::new();
        if let Some(c) = self.status_code {
            parts.push(format!("statusCode {c}"));
        }
        if !self.sub_status_code.is_empty() {
            parts.push(format!("subStatusCode {}", self.sub_status_code));
        }
        // Firmware often repeats the subStatusCode (or the statusString) as its message.
        if let Some(m) = self.error_msg.as_deref().or(self.description.as_deref())
            && !m.eq_ignore_ascii_case(&self.sub_status_code)
            && !m.eq_ignore_ascii_case(&self.status_string)
        {
            parts.push(m.to_string());
        }
        if !parts.is_empty() {
            s.push_str(&format!(" ({})", parts.join(", ")));
        }
        s
    }
}

/// The body of a 401 (`userCheck`), XML or JSON; it carries the lockout state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UserCheck {
    pub status_value: Option<u32>,
    pub status_string: Option<String>,
    /// `lock` or `unlock`.
    pub lock_status: Option<String>,
    /// Seconds until the account (or this client's IP) is unlocked.
    pub unlock_time: Option<u64>,
    pub retry_login_time: Option<u64>,
    /// Attempts left before a lock (JSON form only).
    pub retry_times: Option<u32>,
}

impl UserCheck {
    pub fn is_locked(&self) -> bool {
        self.lock_status.as_deref() == Some("lock")
    }
}

/// `DeviceInfo` from `/ISAPI/System/deviceInfo`, the fields a user recognises.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceInfo {
    pub device_name: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub firmware_released_date: Option<String>,
    pub device_type: Option<String>,
}

fn parse(text: &str) -> Result<roxmltree::Document<'_>, XmlError> {
    roxmltree::Document::parse(text).map_err(|e| XmlError::Malformed(e.to_string()))
}

fn root<'a, 'i>(doc: &'a roxmltree::Document<'i>, expected: &'static str) -> Result<roxmltree::Node<'a, 'i>, XmlError> {
    let r = doc.root_element();
    if r.tag_name().name() == expected { Ok(r) } else { Err(XmlError::UnexpectedRoot { expected, found: clean(r.tag_name().name()) }) }
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text(node: roxmltree::Node, name: &str) -> Option<String> {
    child(node, name).map(|c| clean(c.text().unwrap_or("").trim()))
}

fn number<T: std::str::FromStr>(node: roxmltree::Node, name: &str) -> Option<T> {
    text(node, name).and_then(|t| t.parse().ok())
}

/// The numbers in an element's `opt` attribute (`opt="16,24,32"`).
fn options<T: std::str::FromStr>(node: roxmltree::Node, name: &str) -> Vec<T> {
    child(node, name)
        .and_then(|n| n.attribute("opt"))
        .map(|o| o.split(',').take(64).filter_map(|v| v.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn boolean(node: roxmltree::Node, name: &str) -> Option<bool> {
    text(node, name).and_then(|t| match t.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    })
}

fn channel_from(node: roxmltree::Node) -> Result<Channel, XmlError> {
    let codec_node = child(node, "audioCompressionType");
    Ok(Channel {
        id: text(node, "id").ok_or(XmlError::Missing("id"))?,
        enabled: boolean(node, "enabled"),
        codec: codec_node.map(|n| clean(n.text().unwrap_or("").trim())).unwrap_or_default(),
        codec_options: codec_node
            .and_then(|n| n.attribute("opt"))
            .map(|o| o.split(',').map(|s| clean(s.trim())).filter(|s| !s.is_empty()).take(64).collect())
            .unwrap_or_default(),
        bit_rate_kbps: number(node, "audioBitRate"),
        bit_rate_options: options(node, "audioBitRate"),
        sampling_rate_options: options(node, "audioSamplingRate"),
        sampling_rate_khz: number(node, "audioSamplingRate"),
        speaker_volume: number(node, "speakerVolume"),
        microphone_volume: number(node, "microphoneVolume"),
        noise_reduce: boolean(node, "noisereduce"),
        audio_input_type: text(node, "audioInputType"),
        inbound_codec: text(node, "audioInboundCompressionType"),
        audio_output_type: text(node, "audioOutputType"),
    })
}

/// Parses a `TwoWayAudioChannelList`.
pub fn parse_channel_list(xml: &str) -> Result<Vec<Channel>, XmlError> {
    let doc = parse(xml)?;
    let r = root(&doc, "TwoWayAudioChannelList")?;
    r.children().filter(|c| c.is_element() && c.tag_name().name() == "TwoWayAudioChannel").map(channel_from).collect()
}

/// Parses one `TwoWayAudioChannel` (a channel GET or its capabilities).
pub fn parse_channel(xml: &str) -> Result<Channel, XmlError> {
    let doc = parse(xml)?;
    channel_from(root(&doc, "TwoWayAudioChannel")?)
}

/// Parses a `TwoWayAudioSession`; `None` when the device gives no sessionId.
pub fn parse_session(xml: &str) -> Result<Option<String>, XmlError> {
    let doc = parse(xml)?;
    let r = root(&doc, "TwoWayAudioSession")?;
    Ok(text(r, "sessionId").filter(|s| !s.is_empty()))
}

/// Parses a `ResponseStatus`.
pub fn parse_response_status(xml: &str) -> Result<ResponseStatus, XmlError> {
    let doc = parse(xml)?;
    let r = root(&doc, "ResponseStatus")?;
    Ok(ResponseStatus {
        request_url: text(r, "requestURL").unwrap_or_default(),
        status_code: number(r, "statusCode"),
        status_string: text(r, "statusString").unwrap_or_default(),
        sub_status_code: text(r, "subStatusCode").unwrap_or_default(),
        error_code: text(r, "errorCode"),
        error_msg: text(r, "errorMsg"),
        description: text(r, "description"),
    })
}

/// Parses a `userCheck` body in its XML form or the JSON form (`{"userCheck":{...}}`).
pub fn parse_user_check(body: &str) -> Option<UserCheck> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed).ok()?;
        let u = v.get("userCheck").unwrap_or(&v);
        let num = |k: &str| u.get(k).and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()));
        let string = |k: &str| u.get(k).and_then(|x| x.as_str()).map(clean);
        return Some(UserCheck {
            status_value: num("statusValue").map(|v| v as u32),
            status_string: string("statusString"),
            lock_status: string("lockStatus"),
            unlock_time: num("unlockTime"),
            retry_login_time: num("retryLoginTime"),
            retry_times: num("retryTimes").map(|v| v as u32),
        });
    }
    let doc = parse(body).ok()?;
    let r = root(&doc, "userCheck").ok()?;
    Some(UserCheck {
        status_value: number(r, "statusValue"),
        status_string: text(r, "statusString"),
        lock_status: text(r, "lockStatus"),
        unlock_time: number(r, "unlockTime"),
        retry_login_time: number(r, "retryLoginTime"),
        retry_times: number(r, "retryTimes"),
    })
}

/// Parses `DeviceInfo`.
pub fn parse_device_info(xml: &str) -> Result<DeviceInfo, XmlError> {
    let doc = parse(xml)?;
    let r = root(&doc, "DeviceInfo")?;
    Ok(DeviceInfo {
        device_name: text(r, "deviceName"),
        model: text(r, "model"),
        serial_number: text(r, "serialNumber"),
        firmware_version: text(r, "firmwareVersion"),
        firmware_released_date: text(r, "firmwareReleasedDate"),
        device_type: text(r, "deviceType"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_camera_channel_list() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<TwoWayAudioChannelList version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<TwoWayAudioChannel version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<id>1</id><enabled>false</enabled><audioCompressionType>G.711ulaw</audioCompressionType>
<speakerVolume>100</speakerVolume><noisereduce>true</noisereduce><audioInputType>MicIn</audioInputType>
</TwoWayAudioChannel></TwoWayAudioChannelList>"#;
        let list = parse_channel_list(xml).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, "1");
        assert_eq!(list[0].enabled, Some(false));
        assert_eq!(list[0].codec, "G.711ulaw");
        assert_eq!(list[0].speaker_volume, Some(100));
        assert_eq!(list[0].sample_rate_hz(), None);
    }

    #[test]
    fn parses_the_real_doorbell_session_and_close_answer() {
        let s = r#"<TwoWayAudioSession version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<sessionId>2ozk849ahx0xzbmvnj1ncnp3n53nn495</sessionId></TwoWayAudioSession>"#;
        assert_eq!(parse_session(s).unwrap().as_deref(), Some("2ozk849ahx0xzbmvnj1ncnp3n53nn495"));
        let r = r#"<ResponseStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<requestURL></requestURL><statusCode>1</statusCode><statusString>OK</statusString>
<subStatusCode>ok</subStatusCode></ResponseStatus>"#;
        let st = parse_response_status(r).unwrap();
        assert!(st.is_ok());
        assert_eq!(st.request_url, "");
    }

    #[test]
    fn the_channel_put_round_trips_in_every_namespace() {
        let ch = Channel {
            id: "1".into(),
            enabled: Some(true),
            codec: "AAC".into(),
            bit_rate_kbps: Some(32),
            sampling_rate_khz: Some(16.0),
            speaker_volume: Some(80),
            ..Default::default()
        };
        for ns in [Namespace::Hikvision, Namespace::Isapi, Namespace::IsapiCom, Namespace::Psia] {
            let doc = ch.to_xml(ns);
            assert!(doc.contains(ns.uri()), "{doc}");
            assert_eq!(parse_channel(&doc).unwrap(), ch);
        }
        assert_eq!(ch.sample_rate_hz(), Some(16000));
    }

    #[test]
    fn capabilities_options_are_read() {
        let caps = r#"<TwoWayAudioChannel><id>1</id><audioCompressionType opt="G.711ulaw,AAC">G.711ulaw</audioCompressionType>
<audioBitRate opt="16,32,64">64</audioBitRate><audioSamplingRate opt="8,16,32">8</audioSamplingRate></TwoWayAudioChannel>"#;
        let c = parse_channel(caps).unwrap();
        assert_eq!(c.codec_options, ["G.711ulaw", "AAC"]);
        assert_eq!(c.bit_rate_options, [16, 32, 64]);
        assert_eq!(c.sampling_rate_options, [8.0, 16.0, 32.0]);
    }

    #[test]
    fn user_check_in_both_forms() {
        let x = "<userCheck><statusValue>401</statusValue><statusString>Unauthorized</statusString>\
                 <lockStatus>lock</lockStatus><unlockTime>210</unlockTime><retryLoginTime>0</retryLoginTime></userCheck>";
        let u = parse_user_check(x).unwrap();
        assert!(u.is_locked());
        assert_eq!(u.unlock_time, Some(210));
        let j = r#"{"userCheck":{"statusValue":401,"statusString":"Unauthorized","lockStatus":"unlock","retryTimes":3}}"#;
        let u = parse_user_check(j).unwrap();
        assert!(!u.is_locked());
        assert_eq!(u.retry_times, Some(3));
        assert!(parse_user_check("<html>nope</html>").is_none());
    }

    #[test]
    fn device_text_is_cleaned_when_parsed() {
        let x = "<DeviceInfo><model>DS&#13;&#10;X</model></DeviceInfo>";
        assert_eq!(parse_device_info(x).unwrap().model.as_deref(), Some("DS\\r\\nX"));
        let c = parse_channel("<TwoWayAudioChannel><id>1&#13;&#10;X-Injected: yes</id></TwoWayAudioChannel>").unwrap();
        assert_eq!(c.id, "1\\r\\nX-Injected: yes");
    }

    #[test]
    fn wrong_or_broken_documents_are_errors() {
        assert!(matches!(parse_channel_list("<html><body>login</body></html>"), Err(XmlError::UnexpectedRoot { .. })));
        assert!(matches!(parse_session("<TwoWayAudioSession><sessionId>1"), Err(XmlError::Malformed(_))));
        assert_eq!(parse_session("<TwoWayAudioSession/>").unwrap(), None);
    }
}
