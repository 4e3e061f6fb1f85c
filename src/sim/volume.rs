//! Volumes: the door station's `AudioOut` (speaker `volume` and `talkVolume`, 0-10, set with
//! the whole `AudioOut` document, Hikvision's `AudioOutVlome` spelling included) and a
//! camera channel's `speakerVolume` / `microphoneVolume` (0-100, set with the whole channel).
//!
//! Like a device, the parser ignores elements it does not know: an `AudioOutVolume` (spelled
//! right) changes nothing and is answered OK. A value out of range, or not a number, refuses
//! the whole PUT (nothing changes) with badParameters.

use super::events::{EventKind, lock};
use super::http::{Request, Response};
use super::shared::Shared;
use super::xml::{self, AudioOut, ResponseStatus};
use std::ops::RangeInclusive;

/// A KV6124's `AudioOutCap`: `<volume min="0" max="10" def="5">`.
pub(crate) const AUDIO_OUT_RANGE: RangeInclusive<i64> = 0..=10;
pub(crate) const AUDIO_OUT_DEFAULT: AudioOut = AudioOut { volume: 5, talk_volume: 5 };
/// A camera channel's speaker and microphone volume.
pub(crate) const CHANNEL_RANGE: RangeInclusive<i64> = 0..=100;

/// The door station's one audio output.
const AUDIO_OUT_ID: u32 = 1;

/// Whether the firmware has `AudioOut` (door stations).
pub(crate) fn has_audio_out(shared: &Shared) -> bool {
    shared.cfg.profile.is_doorbell()
}

/// `GET /ISAPI/System/Audio/AudioOut/channels/<id>`; None: no such output.
pub(crate) fn get(shared: &Shared, id: u32) -> Option<Response> {
    (id == AUDIO_OUT_ID).then(|| Response::xml(200, xml::audio_out_to_xml(id, lock(&shared.state).audio_out, shared.ns)))
}

/// `GET /ISAPI/System/Audio/AudioOut/capabilities`.
pub(crate) fn capabilities(shared: &Shared) -> Response {
    let current = lock(&shared.state).audio_out;
    Response::xml(200, xml::audio_out_capabilities_to_xml(current, AUDIO_OUT_RANGE, AUDIO_OUT_DEFAULT, shared.ns))
}

/// `PUT /ISAPI/System/Audio/AudioOut/channels/<id>`; None: no such output.
pub(crate) fn put(shared: &Shared, req: &Request, id: u32, body: &[u8]) -> Option<Response> {
    if id != AUDIO_OUT_ID {
        return None;
    }
    let asked = match xml::parse_audio_out(&String::from_utf8_lossy(body)) {
        Ok(a) => a,
        Err(e) => {
            let mut rs = ResponseStatus::new(&req.path, 5, "Invalid XML Format", "badXmlContent");
            rs.description = Some(e.to_string());
            return Some(shared.status_xml(400, rs));
        }
    };
    let mut st = lock(&shared.state);
    let current = st.audio_out;
    let fields = [("volume", asked.volume, current.volume), ("talkVolume", asked.talk_volume, current.talk_volume)];
    let mut new = current;
    for (name, value, from) in fields {
        let Some(text) = value else { continue };
        let to = match check(name, &text, AUDIO_OUT_RANGE) {
            Ok(v) => v,
            Err((to, why)) => {
                if let Some(to) = to {
                    log(shared, "audioOut", id, name, from, to, false);
                }
                return Some(bad_parameters(shared, req, why));
            }
        };
        if name == "volume" {
            new.volume = to;
        } else {
            new.talk_volume = to;
        }
    }
    st.audio_out = new;
    for (name, from, to) in [("volume", current.volume, new.volume), ("talkVolume", current.talk_volume, new.talk_volume)] {
        if from != to {
            log(shared, "audioOut", id, name, from, to, true);
        }
    }
    Some(shared.status_xml(200, ResponseStatus::ok(&req.path)))
}

/// A camera channel PUT's volumes, checked before anything changes; Err: the refusal.
pub(crate) fn check_channel(
    shared: &Shared,
    req: &Request,
    channel: u32,
    asked: [(&str, Option<i64>, Option<i64>); 2],
) -> Result<(), Response> {
    for (name, value, from) in asked {
        if let Some(v) = value
            && !CHANNEL_RANGE.contains(&v)
        {
            log(shared, "channel", channel, name, from.unwrap_or(0), v, false);
            return Err(bad_parameters(
                shared,
                req,
                format!("{name} {v} is out of range {}-{}", CHANNEL_RANGE.start(), CHANNEL_RANGE.end()),
            ));
        }
    }
    Ok(())
}

/// Logs a channel volume that a PUT changed.
pub(crate) fn channel_changed(shared: &Shared, channel: u32, name: &str, from: Option<i64>, to: Option<i64>) {
    if let (Some(from), Some(to)) = (from, to)
        && from != to
    {
        log(shared, "channel", channel, name, from, to, true);
    }
}

/// A value as the device reads it: an integer in `range`; Err(the number asked, if one was;
/// why not).
fn check(name: &str, text: &str, range: RangeInclusive<i64>) -> Result<i64, (Option<i64>, String)> {
    let Ok(v) = text.trim().parse::<i64>() else {
        return Err((None, format!("{name} {text:?} is not a number")));
    };
    if range.contains(&v) { Ok(v) } else { Err((Some(v), format!("{name} {v} is out of range {}-{}", range.start(), range.end()))) }
}

fn bad_parameters(shared: &Shared, req: &Request, why: String) -> Response {
    let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
    rs.description = Some(why);
    shared.status_xml(400, rs)
}

fn log(shared: &Shared, target: &str, channel: u32, name: &str, from: i64, to: i64, accepted: bool) {
    shared.log.log(EventKind::Volume { target: target.into(), channel, name: name.into(), from, to, accepted });
}
