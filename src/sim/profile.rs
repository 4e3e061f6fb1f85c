//! Firmware profiles: the ways real devices differ on the same ISAPI paths, and the finer
//! variations between firmwares (how a busy open is refused, how callSignal answers, which door
//! API there is, how the microphone stream is framed).

use super::alarm::{AlertFormat, Detection};
use super::xml::{DeviceInfo, Namespace};
use crate::codec::Codec;
use std::fmt;
use std::str::FromStr;

/// Which kind of device to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// IP camera, hikvision.com ver20 namespace, sessionId required on audioData.
    #[default]
    Modern,
    /// Video intercom, isapi.org namespace, callStatus/callSignal, a ring ends talk.
    Doorbell,
    /// Old unit, PSIA namespace, open returns no sessionId and audioData ignores it.
    Legacy,
    /// Lists G.711 but refuses open (403) until the channel is PUT to AAC.
    AacOnly,
}

impl Profile {
    pub const ALL: [Profile; 4] = [Profile::Modern, Profile::Doorbell, Profile::Legacy, Profile::AacOnly];

    /// The namespace the profile's firmware writes its documents in.
    pub(crate) fn namespace(self) -> Namespace {
        match self {
            Profile::Modern | Profile::AacOnly => Namespace::Hikvision,
            Profile::Doorbell => Namespace::Isapi,
            Profile::Legacy => Namespace::Psia,
        }
    }

    /// Whether open returns a sessionId and audioData requires it.
    pub fn uses_session_id(self) -> bool {
        self != Profile::Legacy
    }

    /// Whether the firmware hands out tokens (`/ISAPI/Security/token`); older units answer 404.
    pub fn has_token(self) -> bool {
        self != Profile::Legacy
    }

    pub fn is_doorbell(self) -> bool {
        self == Profile::Doorbell
    }

    /// How a second open on a busy channel is refused, unless configured otherwise.
    pub fn default_busy_style(self) -> BusyStyle {
        match self {
            Profile::Modern | Profile::AacOnly => BusyStyle::Forbidden,
            Profile::Doorbell => BusyStyle::Busy,
            Profile::Legacy => BusyStyle::Unauthorized,
        }
    }

    /// The codec a talk channel starts with; every profile lists G.711 mu-law first.
    pub fn initial_codec(self) -> Codec {
        Codec::G711Ulaw
    }

    /// The `opt` list of the channel's capabilities (what a channel PUT may choose).
    pub fn codec_options(self) -> Vec<Codec> {
        match self {
            Profile::Modern => vec![Codec::G711Ulaw, Codec::G711Alaw, Codec::G726, Codec::Aac, Codec::Pcm],
            Profile::Doorbell | Profile::AacOnly => vec![Codec::G711Ulaw, Codec::G711Alaw, Codec::Aac],
            Profile::Legacy => vec![Codec::G711Ulaw, Codec::G711Alaw],
        }
    }

    /// The Content-Type of the microphone stream (audioData GET): the guide's `audio/basic` on
    /// cameras, the misspelling a DS-KV6124 doorbell (firmware 3.9.0) sends, octet-stream on
    /// old units.
    pub(crate) fn mic_content_type(self) -> &'static str {
        match self {
            Profile::Modern | Profile::AacOnly => "audio/basic",
            Profile::Doorbell => "application/octem-strem",
            Profile::Legacy => "application/octet-stream",
        }
    }

    /// How the microphone stream is framed: a body until close on cameras, a huge
    /// Content-Length on doorbells, chunked on old units. Which device does which is
    /// unconfirmed; a client must take all three.
    pub fn mic_framing(self) -> MicFraming {
        match self {
            Profile::Modern | Profile::AacOnly => MicFraming::UntilClose,
            Profile::Doorbell => MicFraming::Length,
            Profile::Legacy => MicFraming::Chunked,
        }
    }

    /// How the alertStream is written unless configured otherwise: XML on cameras, JSON on
    /// intercoms.
    pub fn alert_format(self) -> AlertFormat {
        match self {
            Profile::Doorbell => AlertFormat::Json,
            _ => AlertFormat::Xml,
        }
    }

    /// What the device detects, each listed in `/ISAPI/Event/triggers` as notifying the
    /// surveillance center: a camera's motion, line crossing, intrusion, tamper and alarm
    /// input; an old camera has no smart events; a door station has motion and its input.
    pub fn detections(self) -> &'static [Detection] {
        match self {
            Profile::Modern | Profile::AacOnly => &Detection::ALL,
            Profile::Legacy => &[Detection::Motion, Detection::Tamper, Detection::Io],
            Profile::Doorbell => &[Detection::Motion, Detection::Io],
        }
    }

    /// A heartbeat's `activePostCount`: 0 on cameras, 1 on a KV6124.
    pub(crate) fn heartbeat_post_count(self) -> u32 {
        u32::from(self.is_doorbell())
    }

    /// The Digest realm, shaped like the ones devices send.
    pub fn realm(self) -> &'static str {
        match self {
            Profile::Doorbell => "DS-KV6113 (SIM)",
            _ => "IP Camera(SIM01)",
        }
    }

    /// The `/ISAPI/System/deviceInfo` answer. Models and versions are those of the devices the
    /// public reports behind each profile came from; the serial number marks it as simulated.
    pub(crate) fn device_info(self) -> DeviceInfo {
        let (model, firmware, date, kind, n) = match self {
            Profile::Modern => ("DS-2CD2386G2-IU", "V5.7.15", "build 230425", "IPCamera", 1),
            Profile::Doorbell => ("DS-KV6113-WPE1(C)", "V2.2.65", "build 231218", "DoorStation", 2),
            Profile::Legacy => ("DS-2CD2032-I", "V5.3.0", "build 150513", "IPCamera", 3),
            Profile::AacOnly => ("DS-2CD1383G2-LIU", "V5.8.41", "build 240112", "IPCamera", 4),
        };
        // Model, production date and serial, as devices write it; the serial marks it simulated.
        let serial = format!("{}{}AAWRSIM{n:08}", model.split('(').next().unwrap_or(model), &date[date.len() - 6..]);
        DeviceInfo {
            device_name: format!("Simulated {self}"),
            device_id: format!("48494b54-414c-4b53-494d-0000000000{n:02}"),
            model: model.to_string(),
            serial_number: serial,
            mac_address: MAC_ADDRESS.to_string(),
            firmware_version: firmware.to_string(),
            firmware_released_date: date.to_string(),
            device_type: kind.to_string(),
        }
    }
}

/// The device's MAC address, in deviceInfo and every alertStream part (Hikvision's OUI; the
/// rest marks it simulated).
pub(crate) const MAC_ADDRESS: &str = "44:19:b6:51:4d:01";

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Modern => "modern",
            Profile::Doorbell => "doorbell",
            Profile::Legacy => "legacy",
            Profile::AacOnly => "aac-only",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of: {expected}")]
pub struct ParseNameError {
    what: &'static str,
    value: String,
    expected: &'static str,
}

impl FromStr for Profile {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL.into_iter().find(|p| p.to_string().eq_ignore_ascii_case(s.trim())).ok_or_else(|| ParseNameError {
            what: "profile",
            value: s.to_string(),
            expected: "modern, doorbell, legacy, aac-only",
        })
    }
}

/// How a device refuses a second open while a session is active (all three are seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusyStyle {
    /// Whatever the profile's firmware does (modern/aac-only 403, doorbell 503, legacy 401).
    #[default]
    ProfileDefault,
    /// 401 with a fresh Digest challenge and a userCheck body (auth counters untouched).
    Unauthorized,
    /// 403 with ResponseStatus statusCode 4 Invalid Operation.
    Forbidden,
    /// 503 with ResponseStatus statusCode 2 Device Busy.
    Busy,
    /// 503 with statusCode 2 and subStatusCode serviceUnavailable.
    Unavailable,
    /// 403 with statusCode 4 and subStatusCode twoWayAudioInProgressPleaseWait (errorCode
    /// 0x40002068, "Two-Way audio in progress...Please Wait.").
    InProgress,
}

impl BusyStyle {
    /// The concrete style for `profile` (resolves `ProfileDefault`).
    pub fn resolve(self, profile: Profile) -> BusyStyle {
        match self {
            BusyStyle::ProfileDefault => profile.default_busy_style(),
            other => other,
        }
    }
}

impl fmt::Display for BusyStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BusyStyle::ProfileDefault => "profile",
            BusyStyle::Unauthorized => "401",
            BusyStyle::Forbidden => "403",
            BusyStyle::Busy => "503",
            BusyStyle::Unavailable => "unavailable",
            BusyStyle::InProgress => "in-progress",
        })
    }
}

impl FromStr for BusyStyle {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "profile" | "default" => Ok(BusyStyle::ProfileDefault),
            "401" | "unauthorized" => Ok(BusyStyle::Unauthorized),
            "403" | "forbidden" => Ok(BusyStyle::Forbidden),
            "503" | "busy" => Ok(BusyStyle::Busy),
            "unavailable" => Ok(BusyStyle::Unavailable),
            "in-progress" => Ok(BusyStyle::InProgress),
            _ => Err(ParseNameError {
                what: "busy style",
                value: s.to_string(),
                expected: "profile, 401, 403, 503, unavailable, in-progress",
            }),
        }
    }
}

/// How a firmware shapes a successful `callSignal` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallSignalStyle {
    /// `{"requestURL":..,"statusCode":1,"statusString":"OK","subStatusCode":"ok"}`
    #[default]
    Number,
    /// `{"statusCode":"1","statusString":"OK","errorMsg":"ok","errorCode":1}` (some firmware).
    String,
}

impl fmt::Display for CallSignalStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallSignalStyle::Number => "number",
            CallSignalStyle::String => "string",
        })
    }
}

impl FromStr for CallSignalStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "number" => Ok(CallSignalStyle::Number),
            "string" => Ok(CallSignalStyle::String),
            _ => Err(format!("unknown call-signal style {s:?}; expected number or string")),
        }
    }
}

/// Which door API the firmware has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoorApi {
    /// `PUT /ISAPI/AccessControl/RemoteControl/door/<n>` (most door stations).
    #[default]
    RemoteControl,
    /// Only `PUT /ISAPI/VideoIntercom/remoteOpenDoor` (older units).
    RemoteOpenDoor,
    Both,
}

impl DoorApi {
    pub(crate) fn remote_control(self) -> bool {
        self != DoorApi::RemoteOpenDoor
    }

    pub(crate) fn remote_open_door(self) -> bool {
        self != DoorApi::RemoteControl
    }
}

impl fmt::Display for DoorApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DoorApi::RemoteControl => "remote-control",
            DoorApi::RemoteOpenDoor => "remote-open-door",
            DoorApi::Both => "both",
        })
    }
}

impl FromStr for DoorApi {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "remote-control" => Ok(DoorApi::RemoteControl),
            "remote-open-door" => Ok(DoorApi::RemoteOpenDoor),
            "both" => Ok(DoorApi::Both),
            _ => Err(format!("unknown door API {s:?}; expected remote-control, remote-open-door or both")),
        }
    }
}

/// How the GET answer's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicFraming {
    /// No Content-Length: the body runs until the device closes.
    UntilClose,
    /// `Content-Length: 2147483647`, as a DS-KV6124 doorbell sends it.
    Length,
    /// `Transfer-Encoding: chunked`, one chunk per codec frame.
    Chunked,
}

impl MicFraming {
    const NAMES: [(&'static str, MicFraming); 3] =
        [("until-close", MicFraming::UntilClose), ("length", MicFraming::Length), ("chunked", MicFraming::Chunked)];
}

impl fmt::Display for MicFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES.iter().find(|(_, v)| v == self).map_or("?", |(n, _)| n))
    }
}

impl FromStr for MicFraming {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("unknown mic framing {s:?}; expected until-close, length or chunked"))
    }
}

/// How AAC frames go on the microphone stream (unconfirmed on real devices: both are served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MicAac {
    /// Each ADTS frame after its length as 4 bytes big-endian, as uploads carry them.
    #[default]
    Prefixed,
    /// Plain ADTS frames, back to back.
    Bare,
}

impl fmt::Display for MicAac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MicAac::Prefixed => "prefixed",
            MicAac::Bare => "bare",
        })
    }
}

impl FromStr for MicAac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prefixed" => Ok(MicAac::Prefixed),
            "bare" => Ok(MicAac::Bare),
            _ => Err(format!("unknown AAC framing {s:?}; expected prefixed or bare")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
        }
        assert!("camera".parse::<Profile>().is_err());
        for b in [
            BusyStyle::ProfileDefault,
            BusyStyle::Unauthorized,
            BusyStyle::Forbidden,
            BusyStyle::Busy,
            BusyStyle::Unavailable,
            BusyStyle::InProgress,
        ] {
            assert_eq!(b.to_string().parse::<BusyStyle>(), Ok(b));
        }
    }

    #[test]
    fn flags_parse_and_print() {
        for f in [MicFraming::UntilClose, MicFraming::Length, MicFraming::Chunked] {
            assert_eq!(f.to_string().parse::<MicFraming>(), Ok(f));
        }
        for a in [MicAac::Prefixed, MicAac::Bare] {
            assert_eq!(a.to_string().parse::<MicAac>(), Ok(a));
        }
        assert!("lengthy".parse::<MicFraming>().is_err());
    }
}
