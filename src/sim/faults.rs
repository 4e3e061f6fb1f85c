//! Fault injection: the ways devices and networks misbehave, each limitable in count.
//!
//! Spec syntax (one `--fault` per fault): `NAME[=VALUE][,times=N]`, where `times` limits how
//! often it fires (default: every time), so a client's bounded retry can be tested.
//!
//! | spec | effect |
//! |---|---|
//! | `hangup-after-bytes=N` | device hangs up an audio upload after N bytes |
//! | `hangup-after-secs=S` | device hangs up an audio upload S seconds after it started |
//! | `reset-after-bytes=N` | TCP reset of the upload after N bytes (session left open) |
//! | `reset-after-secs=S` | TCP reset of the upload after S seconds (session left open) |
//! | `pause-after-bytes=N:MS` | after N bytes, stop reading the upload for MS milliseconds, then read on (a device that stalls and recovers) |
//! | `freeze-after-bytes=N` | after N bytes, stop reading the upload but keep the socket and session open (a half-dead connection) |
//! | `stall=EP` | read the request, never answer |
//! | `slow=EP:MS` | answer after MS milliseconds |
//! | `malformed-xml=EP` | answer 200 with a broken XML body |
//! | `truncated-xml=EP` | send half the body under the full Content-Length, then close |
//! | `http500=EP` | answer 500 with a Device Error ResponseStatus |
//! | `401-no-challenge[=EP]` | answer 401 without any WWW-Authenticate header |
//! | `no-heartbeat` | an alertStream stays open and silent: no heartbeat, no event |
//! | `cut-mid-part` | an alertStream's second part stops halfway and the socket closes |
//! | `oversized-part` | alertStream parts run past their Content-Length |
//! | `no-boundary` | an alertStream's `multipart/mixed` has no boundary parameter (DS-KV6124) |
//! | `doubled-boundary` | every alertStream boundary line comes twice |
//! | `jpeg-part` | an `image/jpeg` part follows each alertStream event |
//! | `close-keeps-channel` | a close of an open session is answered OK, but the session stays (busy) until it expires as stale |
//!
//! `times` counts alertStream connections for the alertStream faults.
//!
//! EP (endpoint): any, channels, channel, capabilities, open, close, audio (audioData PUT),
//! mic (audioData GET), deviceinfo, callstatus, callsignal, door, audioout, alertstream.

use super::http::Response;
use std::fmt;
use std::str::FromStr;

/// Which request a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Any,
    Channels,
    Channel,
    Capabilities,
    Open,
    Close,
    Audio,
    Mic,
    DeviceInfo,
    CallStatus,
    CallSignal,
    /// Both door APIs and the door capabilities.
    Door,
    /// `/ISAPI/System/Audio/AudioOut/...`.
    AudioOut,
    AlertStream,
}

const ENDPOINTS: [(Endpoint, &str); 14] = [
    (Endpoint::Any, "any"),
    (Endpoint::Channels, "channels"),
    (Endpoint::Channel, "channel"),
    (Endpoint::Capabilities, "capabilities"),
    (Endpoint::Open, "open"),
    (Endpoint::Close, "close"),
    (Endpoint::Audio, "audio"),
    (Endpoint::Mic, "mic"),
    (Endpoint::DeviceInfo, "deviceinfo"),
    (Endpoint::CallStatus, "callstatus"),
    (Endpoint::CallSignal, "callsignal"),
    (Endpoint::Door, "door"),
    (Endpoint::AudioOut, "audioout"),
    (Endpoint::AlertStream, "alertstream"),
];

/// The ways an alertStream misbehaves in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFault {
    /// The stream stays open and says nothing (clients must time it out).
    NoHeartbeat,
    /// The second part stops halfway, then the socket closes.
    CutMidPart,
    /// Parts run past their Content-Length.
    OversizedPart,
    /// `multipart/mixed` without a boundary parameter: parts by Content-Length.
    NoBoundary,
    /// Every boundary line twice.
    DoubledBoundary,
    /// An `image/jpeg` part after each event.
    JpegPart,
}

const ALERT_FAULTS: [(AlertFault, &str); 6] = [
    (AlertFault::NoHeartbeat, "no-heartbeat"),
    (AlertFault::CutMidPart, "cut-mid-part"),
    (AlertFault::OversizedPart, "oversized-part"),
    (AlertFault::NoBoundary, "no-boundary"),
    (AlertFault::DoubledBoundary, "doubled-boundary"),
    (AlertFault::JpegPart, "jpeg-part"),
];

impl fmt::Display for AlertFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ALERT_FAULTS.iter().find(|(a, _)| a == self).map_or("", |(_, n)| n))
    }
}

impl Endpoint {
    /// Whether a fault aimed at `self` applies to a request for `actual`.
    pub fn covers(self, actual: Endpoint) -> bool {
        self == Endpoint::Any || self == actual
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ENDPOINTS.iter().find(|(e, _)| e == self).map(|(_, n)| *n).unwrap_or("any");
        f.write_str(name)
    }
}

impl FromStr for Endpoint {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ENDPOINTS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(e, _)| *e)
            .ok_or_else(|| FaultParseError(format!("unknown endpoint {s:?}; expected one of: {}", ENDPOINTS.map(|(_, n)| n).join(", "))))
    }
}

/// One injected fault. `times`: how many times it fires before the device behaves (None: always).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    HangupAfterBytes {
        bytes: u64,
        times: Option<u32>,
    },
    HangupAfterSecs {
        secs: f64,
        times: Option<u32>,
    },
    ResetAfterBytes {
        bytes: u64,
        times: Option<u32>,
    },
    ResetAfterSecs {
        secs: f64,
        times: Option<u32>,
    },
    FreezeAfterBytes {
        bytes: u64,
        times: Option<u32>,
    },
    PauseAfterBytes {
        bytes: u64,
        ms: u64,
        times: Option<u32>,
    },
    Stall {
        at: Endpoint,
        times: Option<u32>,
    },
    Slow {
        at: Endpoint,
        ms: u64,
        times: Option<u32>,
    },
    MalformedXml {
        at: Endpoint,
        times: Option<u32>,
    },
    TruncatedXml {
        at: Endpoint,
        times: Option<u32>,
    },
    Http500 {
        at: Endpoint,
        times: Option<u32>,
    },
    Unauthorized401NoChallenge {
        at: Endpoint,
        times: Option<u32>,
    },
    Alert {
        fault: AlertFault,
        times: Option<u32>,
    },
    /// Firmware whose close does not free the channel: OK, and the session stays until its
    /// stale expiry.
    CloseKeepsChannel {
        times: Option<u32>,
    },
}

impl Fault {
    pub fn times(&self) -> Option<u32> {
        match self {
            Fault::HangupAfterBytes { times, .. }
            | Fault::HangupAfterSecs { times, .. }
            | Fault::ResetAfterBytes { times, .. }
            | Fault::ResetAfterSecs { times, .. }
            | Fault::FreezeAfterBytes { times, .. }
            | Fault::PauseAfterBytes { times, .. }
            | Fault::Stall { times, .. }
            | Fault::Slow { times, .. }
            | Fault::MalformedXml { times, .. }
            | Fault::TruncatedXml { times, .. }
            | Fault::Http500 { times, .. }
            | Fault::Unauthorized401NoChallenge { times, .. }
            | Fault::Alert { times, .. }
            | Fault::CloseKeepsChannel { times } => *times,
        }
    }

    /// The endpoint a request-level fault applies to; None for audio-stream faults.
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Fault::Stall { at, .. }
            | Fault::Slow { at, .. }
            | Fault::MalformedXml { at, .. }
            | Fault::TruncatedXml { at, .. }
            | Fault::Http500 { at, .. }
            | Fault::Unauthorized401NoChallenge { at, .. } => Some(*at),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::HangupAfterBytes { bytes, .. } => write!(f, "hangup-after-bytes={bytes}")?,
            Fault::HangupAfterSecs { secs, .. } => write!(f, "hangup-after-secs={secs}")?,
            Fault::ResetAfterBytes { bytes, .. } => write!(f, "reset-after-bytes={bytes}")?,
            Fault::ResetAfterSecs { secs, .. } => write!(f, "reset-after-secs={secs}")?,
            Fault::FreezeAfterBytes { bytes, .. } => write!(f, "freeze-after-bytes={bytes}")?,
            Fault::PauseAfterBytes { bytes, ms, .. } => write!(f, "pause-after-bytes={bytes}:{ms}")?,
            Fault::Stall { at, .. } => write!(f, "stall={at}")?,
            Fault::Slow { at, ms, .. } => write!(f, "slow={at}:{ms}")?,
            Fault::MalformedXml { at, .. } => write!(f, "malformed-xml={at}")?,
            Fault::TruncatedXml { at, .. } => write!(f, "truncated-xml={at}")?,
            Fault::Http500 { at, .. } => write!(f, "http500={at}")?,
            Fault::Unauthorized401NoChallenge { at, .. } => write!(f, "401-no-challenge={at}")?,
            Fault::Alert { fault, .. } => write!(f, "{fault}")?,
            Fault::CloseKeepsChannel { .. } => write!(f, "close-keeps-channel")?,
        }
        if let Some(n) = self.times() {
            write!(f, ",times={n}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad fault spec: {0}")]
pub struct FaultParseError(String);

fn num<T: FromStr>(name: &str, v: Option<&str>) -> Result<T, FaultParseError> {
    let v = v.ok_or_else(|| FaultParseError(format!("{name} needs a value ({name}=N)")))?;
    v.trim().parse().map_err(|_| FaultParseError(format!("{name}: {v:?} is not a valid number")))
}

fn secs(name: &str, v: Option<&str>) -> Result<f64, FaultParseError> {
    let s: f64 = num(name, v)?;
    if s.is_finite() && s >= 0.0 { Ok(s) } else { Err(FaultParseError(format!("{name}: seconds must be >= 0"))) }
}

fn endpoint(name: &str, v: Option<&str>) -> Result<Endpoint, FaultParseError> {
    v.ok_or_else(|| FaultParseError(format!("{name} needs an endpoint ({name}=open, ...)")))?.parse()
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(',');
        let head = parts.next().unwrap_or("").trim();
        let mut times = None;
        for opt in parts {
            match opt.trim().split_once('=') {
                Some(("times", n)) => {
                    let n: u32 = num("times", Some(n))?;
                    if n == 0 {
                        return Err(FaultParseError("times must be at least 1".into()));
                    }
                    times = Some(n);
                }
                _ => return Err(FaultParseError(format!("unknown option {opt:?} (only times=N)"))),
            }
        }
        let (name, value) = match head.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (head, None),
        };
        Ok(match name {
            "hangup-after-bytes" => Fault::HangupAfterBytes { bytes: num(name, value)?, times },
            "hangup-after-secs" => Fault::HangupAfterSecs { secs: secs(name, value)?, times },
            "reset-after-bytes" => Fault::ResetAfterBytes { bytes: num(name, value)?, times },
            "reset-after-secs" => Fault::ResetAfterSecs { secs: secs(name, value)?, times },
            "freeze-after-bytes" => Fault::FreezeAfterBytes { bytes: num(name, value)?, times },
            "pause-after-bytes" => {
                let usage = || FaultParseError("pause-after-bytes needs N:MS (pause-after-bytes=8000:2000)".into());
                let (bytes, ms) = value.and_then(|v| v.split_once(':')).ok_or_else(usage)?;
                Fault::PauseAfterBytes { bytes: num(name, Some(bytes))?, ms: num(name, Some(ms))?, times }
            }
            "stall" => Fault::Stall { at: endpoint(name, value)?, times },
            "slow" => {
                let v = value.ok_or_else(|| FaultParseError("slow needs EP:MS (slow=open:1500)".into()))?;
                let (at, ms) = v.split_once(':').ok_or_else(|| FaultParseError("slow needs EP:MS (slow=open:1500)".into()))?;
                Fault::Slow { at: at.parse()?, ms: num("slow", Some(ms))?, times }
            }
            "malformed-xml" => Fault::MalformedXml { at: endpoint(name, value)?, times },
            "truncated-xml" => Fault::TruncatedXml { at: endpoint(name, value)?, times },
            "http500" => Fault::Http500 { at: endpoint(name, value)?, times },
            "401-no-challenge" => {
                Fault::Unauthorized401NoChallenge { at: value.map(str::parse).transpose()?.unwrap_or(Endpoint::Any), times }
            }
            "close-keeps-channel" if value.is_none() => Fault::CloseKeepsChannel { times },
            _ => match ALERT_FAULTS.iter().find(|(_, n)| *n == name) {
                Some((fault, _)) if value.is_none() => Fault::Alert { fault: *fault, times },
                Some(_) => return Err(FaultParseError(format!("{name} takes no value"))),
                None => {
                    return Err(FaultParseError(format!(
                        "unknown fault {name:?}; expected hangup-after-bytes, hangup-after-secs, reset-after-bytes, reset-after-secs, freeze-after-bytes, pause-after-bytes, stall, slow, malformed-xml, truncated-xml, http500, 401-no-challenge, close-keeps-channel, {}",
                        ALERT_FAULTS.map(|(_, n)| n).join(", ")
                    )));
                }
            },
        })
    }
}

/// The configured faults with how often each has fired.
pub(crate) struct FaultSet {
    faults: Vec<(Fault, u32)>,
}

impl FaultSet {
    pub(crate) fn new(faults: Vec<Fault>) -> FaultSet {
        FaultSet { faults: faults.into_iter().map(|f| (f, 0)).collect() }
    }

    /// The first fault that `pick` selects and that still has firings left, without firing it.
    pub(crate) fn peek(&self, pick: impl Fn(&Fault) -> bool) -> Option<Fault> {
        self.faults.iter().find(|(f, fired)| pick(f) && f.times().is_none_or(|n| *fired < n)).map(|(f, _)| f.clone())
    }

    /// Takes one firing of the first fault that `pick` selects and still has firings left.
    pub(crate) fn take(&mut self, pick: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let (fault, fired) = self.faults.iter_mut().find(|(f, fired)| pick(f) && f.times().is_none_or(|n| *fired < n))?;
        *fired += 1;
        Some(fault.clone())
    }
}

/// Applies a malformed/truncated-XML fault to an answer.
pub(crate) fn corrupt(mut resp: Response, fault: &Fault) -> Response {
    match fault {
        Fault::TruncatedXml { .. } => {
            // Announce the whole body, send half, hang up.
            resp.content_length = Some(resp.body.len());
            resp.body.truncate(resp.body.len() / 2);
            resp.closing()
        }
        _ => {
            // Drop the closing root tag and leave an unterminated element: framing stays right.
            let cut = resp.body.iter().rposition(|&b| b == b'<').unwrap_or(0);
            resp.body.truncate(cut);
            resp.body.extend_from_slice(b"<statusCode>1</statusString><");
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        for s in [
            "hangup-after-bytes=16000",
            "hangup-after-secs=1.5",
            "reset-after-bytes=100,times=2",
            "reset-after-secs=2",
            "freeze-after-bytes=8000,times=1",
            "stall=open",
            "slow=open:1500",
            "malformed-xml=channels",
            "truncated-xml=open,times=1",
            "http500=open",
            "401-no-challenge=any",
            "no-heartbeat",
            "cut-mid-part,times=1",
            "oversized-part",
            "no-boundary",
            "doubled-boundary",
            "jpeg-part,times=2",
            "stall=alertstream",
            "http500=door",
            "close-keeps-channel,times=1",
        ] {
            assert_eq!(s.parse::<Fault>().unwrap().to_string(), s);
        }
        assert_eq!("401-no-challenge".parse::<Fault>().unwrap(), Fault::Unauthorized401NoChallenge { at: Endpoint::Any, times: None });
        for bad in [
            "",
            "stall",
            "stall=nowhere",
            "slow=open",
            "hangup-after-bytes=x",
            "http500=open,times=0",
            "http500=open,n=1",
            "explode",
            "no-heartbeat=1",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn times_limits_firing() {
        let mut set = FaultSet::new(vec!["http500=open,times=2".parse().unwrap()]);
        let open = |f: &Fault| f.endpoint().is_some_and(|e| e.covers(Endpoint::Open));
        assert!(set.take(open).is_some());
        assert!(set.take(open).is_some());
        assert!(set.take(open).is_none());
    }
}
