//! Door stations: the call (`callStatus`, `callerInfo`, `callSignal`, `DELETE ring`), the door
//! locks (`RemoteControl/door/<n>`, falling back to `remoteOpenDoor`) and the volumes (the
//! intercom's `AudioOut`, a camera channel's speaker and microphone volume).
//!
//! A 200 to a call signal does not prove the call moved: callers read [`Device::call_state`]
//! again. Devices without call control (old units answer "Can't locate the url") are
//! [`IsapiError::NotSupported`], never a guess.

use super::client::{Answer, Device};
use super::error::IsapiError;
use super::text::{clean, clean_json};
use super::xml::{self, ResponseStatus};
use serde::Serialize;

const CALL_STATUS: &str = "/ISAPI/VideoIntercom/callStatus?format=json";
const CALLER_INFO: &str = "/ISAPI/VideoIntercom/callerInfo?format=json";
const CALL_SIGNAL: &str = "/ISAPI/VideoIntercom/callSignal?format=json";
const RING: &str = "/ISAPI/VideoIntercom/ring";
const DOOR: &str = "/ISAPI/AccessControl/RemoteControl/door";
const DOOR_CAPS: &str = "/ISAPI/AccessControl/RemoteControl/door/capabilities";
const OPEN_DOOR: &str = "/ISAPI/VideoIntercom/remoteOpenDoor";
const AUDIO_OUT: &str = "/ISAPI/System/Audio/AudioOut/channels/1";
const AUDIO_OUT_CAPS: &str = "/ISAPI/System/Audio/AudioOut/capabilities";
/// The namespace door stations write (and the guide's door examples use).
const INTERCOM_NS: &str = "http://www.isapi.org/ver20/XMLSchema";

/// A doorbell's call state, as `callStatus` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    Idle,
    Ring,
    OnCall,
    /// A word this client does not know (cleaned).
    Other(String),
}

impl CallState {
    fn parse(s: &str) -> CallState {
        match s.trim() {
            "idle" => CallState::Idle,
            "ring" | "ringing" => CallState::Ring,
            "onCall" | "oncall" => CallState::OnCall,
            other => CallState::Other(clean(other)),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CallState::Idle => "idle",
            CallState::Ring => "ring",
            CallState::OnCall => "onCall",
            CallState::Other(s) => s,
        }
    }
}

impl std::fmt::Display for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CallState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A `callSignal` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallCmd {
    Answer,
    Reject,
    HangUp,
    Cancel,
}

impl CallCmd {
    pub fn as_str(self) -> &'static str {
        match self {
            CallCmd::Answer => "answer",
            CallCmd::Reject => "reject",
            CallCmd::HangUp => "hangUp",
            CallCmd::Cancel => "cancel",
        }
    }
}

/// How a door was opened: which API took the command, and what the device answered.
#[derive(Debug, Clone, Serialize)]
pub struct DoorOpened {
    pub door: u32,
    /// `RemoteControl/door` or `remoteOpenDoor`.
    pub api: &'static str,
    pub status: ResponseStatus,
}

/// A door station's doors and the commands its `RemoteControl/door` takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DoorCaps {
    /// The highest door number (`doorNo max`).
    pub doors: Option<u32>,
    pub commands: Vec<String>,
}

/// The volumes a device has, where it has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Volumes {
    /// The intercom's `AudioOut`: speaker `volume` and `talkVolume` (0-10 on a KV6124).
    pub audio_out: Option<AudioOut>,
    /// The talk channel's `speakerVolume` and `microphoneVolume` (0-100).
    pub speaker: Option<u32>,
    pub microphone: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AudioOut {
    pub volume: Option<u32>,
    pub talk_volume: Option<u32>,
    /// The range `AudioOutCap` states for them, when the device says.
    pub min: Option<u32>,
    pub max: Option<u32>,
}

/// Whether an answer means "this device has no such path" rather than a refusal.
fn missing(a: &Answer) -> bool {
    let body = a.body.trim();
    a.status == 404
        || a.status == 405
        || body.contains("Can't locate the url")
        || xml::parse_response_status(body).is_ok_and(|s| s.sub_status_code == "notSupport" || s.sub_status_code == "methodNotAllowed")
}

/// A JSON status document (`{"statusCode":1,"statusString":"OK",...}`, statusCode a number or
/// a string) as a `ResponseStatus`; None when `v` has no statusCode.
pub fn json_status(request_url: &str, v: &serde_json::Value) -> Option<ResponseStatus> {
    let code = v.get("statusCode")?;
    let code = code.as_u64().or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(clean);
    let error_code = v.get("errorCode").and_then(|x| x.as_u64().map(|n| n.to_string()).or_else(|| x.as_str().map(clean)));
    Some(ResponseStatus {
        request_url: clean(request_url),
        status_code: u32::try_from(code).ok(),
        status_string: text("statusString").unwrap_or_default(),
        sub_status_code: text("subStatusCode").unwrap_or_default(),
        error_code,
        error_msg: text("errorMsg"),
        description: text("description"),
    })
}

/// The status an answer carries, JSON or XML.
fn answer_status(path: &str, body: &str) -> Option<ResponseStatus> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| json_status(path, &v))
        .or_else(|| xml::parse_response_status(body).ok())
}

fn bare(path: &str) -> String {
    super::path::without_query(path).to_string()
}

impl Device {
    /// The doorbell's call state; [`IsapiError::NotSupported`] on devices without call control.
    pub async fn call_state(&self) -> Result<CallState, IsapiError> {
        let a = self.request_as(reqwest::Method::GET, CALL_STATUS, None, "application/json").await?;
        if missing(&a) {
            return Err(IsapiError::NotSupported { what: "call control (callStatus)", path: bare(CALL_STATUS), http: a.status });
        }
        if !(200..300).contains(&a.status) {
            return Err(Device::refuse("GET", &bare(CALL_STATUS), a));
        }
        let json = serde_json::from_str::<serde_json::Value>(&a.body).ok();
        let from_json = json.as_ref().and_then(|v| v.pointer("/CallStatus/status")?.as_str().map(CallState::parse));
        // Old firmware answers XML even when asked for JSON.
        let from_xml = || {
            let doc = roxmltree::Document::parse(&a.body).ok()?;
            doc.descendants().find(|n| n.tag_name().name() == "status").and_then(|n| n.text()).map(CallState::parse)
        };
        from_json.or_else(from_xml).ok_or_else(|| IsapiError::NotIsapi {
            path: bare(CALL_STATUS),
            http: a.status,
            detail: ": no CallStatus status in the answer".into(),
        })
    }

    /// A doorbell's call state as a word; `None` on devices without one (`status`, hang-up
    /// explanations).
    pub async fn call_status(&self) -> Result<Option<String>, IsapiError> {
        match self.call_state().await {
            Ok(s) => Ok(Some(s.as_str().to_string())),
            Err(IsapiError::NotSupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Who is calling (`CallerInfo`, cleaned), where the device says.
    pub async fn caller_info(&self) -> Result<Option<serde_json::Value>, IsapiError> {
        let a = self.request_as(reqwest::Method::GET, CALLER_INFO, None, "application/json").await?;
        if missing(&a) || !(200..300).contains(&a.status) {
            return Ok(None);
        }
        let v = serde_json::from_str::<serde_json::Value>(&a.body).ok();
        Ok(v.and_then(|v| v.get("CallerInfo").map(clean_json)))
    }

    /// Sends a `callSignal` command; Ok when the device says OK (either firmware's shape).
    pub async fn call_signal(&self, cmd: CallCmd) -> Result<ResponseStatus, IsapiError> {
        let body = serde_json::json!({ "CallSignal": { "cmdType": cmd.as_str() } }).to_string();
        let a = self.request_as(reqwest::Method::PUT, CALL_SIGNAL, Some(body), "application/json").await?;
        let path = bare(CALL_SIGNAL);
        if missing(&a) {
            return Err(IsapiError::NotSupported { what: "call control (callSignal)", path, http: a.status });
        }
        let status = answer_status(&path, &a.body);
        match status {
            Some(s) if (200..300).contains(&a.status) && s.is_ok() => Ok(s),
            // A 2xx with an empty or unreadable body: the state read afterwards tells.
            None if (200..300).contains(&a.status) => Ok(ResponseStatus::ok(&path)),
            status => Err(IsapiError::Status { method: "PUT".into(), path, http: a.status, status: status.map(Box::new) }),
        }
    }

    /// `DELETE /ISAPI/VideoIntercom/ring`: stops the door unit ringing.
    pub async fn stop_ring(&self) -> Result<(), IsapiError> {
        let a = self.request_as(reqwest::Method::DELETE, RING, None, "application/xml").await?;
        if missing(&a) {
            return Err(IsapiError::NotSupported { what: "a ring to stop (DELETE ring)", path: RING.into(), http: a.status });
        }
        match answer_status(RING, &a.body) {
            Some(s) if !s.is_ok() => {
                Err(IsapiError::Status { method: "DELETE".into(), path: RING.into(), http: a.status, status: Some(Box::new(s)) })
            }
            _ if (200..300).contains(&a.status) => Ok(()),
            s => Err(IsapiError::Status { method: "DELETE".into(), path: RING.into(), http: a.status, status: s.map(Box::new) }),
        }
    }

    /// Opens door `door` (1-based): `RemoteControl/door/<n>` with `cmd open`, or, on units
    /// without it (404, notSupport), `remoteOpenDoor` with `command unlock`. A refusal by the
    /// first API is final (the door command is sent once).
    pub async fn open_door(&self, door: u32) -> Result<DoorOpened, IsapiError> {
        let path = format!("{DOOR}/{door}");
        let body = format!(r#"<RemoteControlDoor version="2.0" xmlns="{INTERCOM_NS}"><cmd>open</cmd></RemoteControlDoor>"#);
        let a = self.request_as(reqwest::Method::PUT, &path, Some(body), "application/xml").await?;
        if !missing(&a) {
            return door_answer(door, "RemoteControl/door", &path, a);
        }
        let body = format!(
            r#"<RemoteOpenDoor version="2.0" xmlns="{INTERCOM_NS}"><gateWayIndex>{door}</gateWayIndex><command>unlock</command><controlSrc>hiktalk</controlSrc></RemoteOpenDoor>"#
        );
        let a = self.request_as(reqwest::Method::PUT, OPEN_DOOR, Some(body), "application/xml").await?;
        if missing(&a) {
            return Err(IsapiError::NotSupported {
                what: "door control (RemoteControl/door, remoteOpenDoor)",
                path: OPEN_DOOR.into(),
                http: a.status,
            });
        }
        door_answer(door, "remoteOpenDoor", OPEN_DOOR, a)
    }

    /// What `RemoteControl/door/capabilities` offers; None on units without that API (they
    /// may have `remoteOpenDoor`, which has no capabilities document).
    pub async fn door_capabilities(&self) -> Result<Option<DoorCaps>, IsapiError> {
        let a = self.request_as(reqwest::Method::GET, DOOR_CAPS, None, "application/xml").await?;
        if missing(&a) {
            return Ok(None);
        }
        if !(200..300).contains(&a.status) {
            return Err(Device::refuse("GET", DOOR_CAPS, a));
        }
        let doc = roxmltree::Document::parse(&a.body)
            .map_err(|e| Device::xml_error(DOOR_CAPS, &a.body, xml::XmlError::Malformed(e.to_string())))?;
        let find = |name: &str| doc.descendants().find(|n| n.tag_name().name() == name);
        let doors = find("doorNo").and_then(|n| n.attribute("max")).and_then(|s| s.trim().parse().ok());
        let commands = find("cmd")
            .and_then(|n| n.attribute("opt"))
            .map(|o| o.split(',').map(|c| clean(c.trim())).filter(|c| !c.is_empty()).take(16).collect())
            .unwrap_or_default();
        Ok(Some(DoorCaps { doors, commands }))
    }

    /// Every volume the device has: its `AudioOut` (intercoms) and the talk channel's.
    pub async fn volumes(&self, channel: &str) -> Result<Volumes, IsapiError> {
        let ch = self.channel(channel).await?;
        Ok(Volumes { audio_out: self.audio_out().await?, speaker: ch.speaker_volume, microphone: ch.microphone_volume })
    }

    /// The intercom's `AudioOut` volumes; None on devices without one.
    pub async fn audio_out(&self) -> Result<Option<AudioOut>, IsapiError> {
        let a = self.request_as(reqwest::Method::GET, AUDIO_OUT, None, "application/xml").await?;
        if missing(&a) {
            return Ok(None);
        }
        if !(200..300).contains(&a.status) {
            return Err(Device::refuse("GET", AUDIO_OUT, a));
        }
        let mut out = parse_audio_out(&a.body).map_err(|e| Device::xml_error(AUDIO_OUT, &a.body, e))?;
        // The range is a courtesy: the device checks what is set anyway.
        if let Ok(caps) = self.request_as(reqwest::Method::GET, AUDIO_OUT_CAPS, None, "application/xml").await
            && (200..300).contains(&caps.status)
            && let Ok(doc) = roxmltree::Document::parse(&caps.body)
            && let Some(v) = doc.descendants().find(|n| n.tag_name().name() == "volume")
        {
            out.min = v.attribute("min").and_then(|s| s.trim().parse().ok());
            out.max = v.attribute("max").and_then(|s| s.trim().parse().ok());
        }
        Ok(Some(out))
    }

    /// Sets the intercom's `AudioOut` volumes (those given), with the whole document.
    pub async fn set_audio_out(&self, volume: Option<u32>, talk_volume: Option<u32>) -> Result<(), IsapiError> {
        let mut s = format!(r#"<?xml version="1.0" encoding="UTF-8"?><AudioOut version="2.0" xmlns="{INTERCOM_NS}"><id>1</id>"#);
        s.push_str("<AudioOutVolumelist><AudioOutVlome><type>audioOutput</type>");
        if let Some(v) = volume {
            s.push_str(&format!("<volume>{v}</volume>"));
        }
        if let Some(v) = talk_volume {
            s.push_str(&format!("<talkVolume>{v}</talkVolume>"));
        }
        s.push_str("</AudioOutVlome></AudioOutVolumelist></AudioOut>");
        let a = self.put(AUDIO_OUT, Some(s)).await?;
        match xml::parse_response_status(&a.body) {
            Ok(st) if !st.is_ok() => {
                Err(IsapiError::Status { method: "PUT".into(), path: AUDIO_OUT.into(), http: a.status, status: Some(Box::new(st)) })
            }
            _ => Ok(()),
        }
    }

    /// Sets a camera channel's speaker and/or microphone volume (the whole channel is written).
    pub async fn set_channel_volumes(&self, channel: &str, speaker: Option<u32>, microphone: Option<u32>) -> Result<(), IsapiError> {
        let mut ch = self.channel(channel).await?;
        if speaker.is_some() {
            ch.speaker_volume = speaker;
        }
        if microphone.is_some() {
            ch.microphone_volume = microphone;
        }
        self.put_channel(&ch).await
    }
}

fn door_answer(door: u32, api: &'static str, path: &str, a: Answer) -> Result<DoorOpened, IsapiError> {
    let status = answer_status(path, &a.body);
    match status {
        Some(s) if (200..300).contains(&a.status) && s.is_ok() => Ok(DoorOpened { door, api, status: s }),
        None if (200..300).contains(&a.status) => Ok(DoorOpened { door, api, status: ResponseStatus::ok(path) }),
        status => Err(IsapiError::Status { method: "PUT".into(), path: path.into(), http: a.status, status: status.map(Box::new) }),
    }
}

/// The `audioOutput` entry of an `AudioOut` document (Hikvision's `AudioOutVlome`, or the
/// spelling corrected).
fn parse_audio_out(body: &str) -> Result<AudioOut, xml::XmlError> {
    let doc = roxmltree::Document::parse(body).map_err(|e| xml::XmlError::Malformed(clean(&e.to_string())))?;
    let root = doc.root_element();
    if root.tag_name().name() != "AudioOut" {
        return Err(xml::XmlError::UnexpectedRoot { expected: "AudioOut", found: clean(root.tag_name().name()) });
    }
    let entry = root
        .descendants()
        .filter(|n| matches!(n.tag_name().name(), "AudioOutVlome" | "AudioOutVolume"))
        .find(|n| n.children().find(|c| c.tag_name().name() == "type").and_then(|c| c.text()).is_none_or(|t| t.trim() == "audioOutput"))
        .ok_or(xml::XmlError::Missing("AudioOutVlome"))?;
    let num = |name: &str| {
        entry.children().find(|c| c.tag_name().name() == name).and_then(|c| c.text()).and_then(|t| t.trim().parse::<u32>().ok())
    };
    Ok(AudioOut { volume: num("volume"), talk_volume: num("talkVolume"), min: None, max: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_success_shapes_and_the_error_shape() {
        let ok =
            json_status("/x", &serde_json::json!({"requestURL":"/x","statusCode":1,"statusString":"OK","subStatusCode":"ok"})).unwrap();
        assert!(ok.is_ok());
        let ok = json_status("/x", &serde_json::json!({"statusCode":"1","statusString":"OK","errorMsg":"ok","errorCode":1})).unwrap();
        assert!(ok.is_ok());
        let err = serde_json::json!({"statusCode":4,"statusString":"Invalid Operation","subStatusCode":"invalidOperation","errorCode":1073741830});
        let st = json_status("/x", &err).unwrap();
        let e = IsapiError::Status { method: "PUT".into(), path: "/x".into(), http: 403, status: Some(Box::new(st)) };
        assert!(e.is_invalid_operation(), "{e}");
        let string_style = serde_json::json!({"statusCode":"4","statusString":"Invalid Operation","errorMsg":"invalidOperation"});
        let e = IsapiError::Status {
            method: "PUT".into(),
            path: "/x".into(),
            http: 403,
            status: json_status("/x", &string_style).map(Box::new),
        };
        assert!(e.is_invalid_operation());
        assert!(json_status("/x", &serde_json::json!({"CallStatus":{}})).is_none());
    }

    #[test]
    fn call_states_and_audio_out() {
        assert_eq!(CallState::parse("ring"), CallState::Ring);
        assert_eq!(CallState::parse("onCall"), CallState::OnCall);
        assert_eq!(CallState::parse("odd\u{1b}"), CallState::Other("odd\\u{1b}".into()));
        let doc = r#"<AudioOut xmlns="http://www.isapi.org/ver20/XMLSchema"><id>1</id><AudioOutVolumelist><AudioOutVlome><type>audioOutput</type><volume>3</volume><talkVolume>7</talkVolume></AudioOutVlome></AudioOutVolumelist></AudioOut>"#;
        let a = parse_audio_out(doc).unwrap();
        assert_eq!((a.volume, a.talk_volume), (Some(3), Some(7)));
        assert!(parse_audio_out("<ResponseStatus/>").is_err());
    }
}
