//! Home Assistant MQTT discovery: one retained config per entity under
//! `<prefix>/<component>/hiktalk_<camera>/<object>/config`, each with a `unique_id`, the
//! camera's device block, and two availability topics (hiktalk's, the camera's) that must both
//! say `online`.
//!
//! The keys each entity type requires, per Home Assistant's MQTT documentation
//! (https://www.home-assistant.io/integrations/<type>.mqtt/, checked 2026-12-03):
//! `event`: `state_topic`, `event_types` (the payload is JSON with `event_type`; its other
//! keys become attributes); `sensor`: `state_topic`; `button`: `command_topic` (sends
//! `payload_press`); `number`: `command_topic` (`min`/`max`/`step` optional, default 1-100);
//! `text`: `command_topic` (`max` length, default 255); `select`: `command_topic`, `options`.
//! `device` needs `identifiers` or `connections`, and only works with a `unique_id`
//! (https://www.home-assistant.io/integrations/mqtt/#discovery-messages).

use super::Camera;
use serde_json::{Value, json};

/// What hiktalk learnt about a camera when the MQTT front started, to offer only the entities
/// it has.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// It has call control (callStatus): answer, hang up, reject.
    pub doorbell: bool,
    /// Doors `unlock` can open (1..=doors).
    pub doors: u32,
    /// The volume `volume` sets (the talk volume on intercoms, else the speaker's): now, range.
    pub volume: Option<(u32, u32, u32)>,
    pub model: Option<String>,
    pub firmware: Option<String>,
}

/// The discovery topic and config of every entity of `cam`.
pub fn entities(prefix: &str, cam: &Camera, probe: &Probe, sounds: &[String]) -> Vec<(String, Value)> {
    let slug = &cam.slug;
    let mut device = json!({ "identifiers": [format!("hiktalk_{slug}")], "name": cam.name, "manufacturer": "Hikvision" });
    if let Some(m) = &probe.model {
        device["model"] = m.clone().into();
    }
    if let Some(f) = &probe.firmware {
        device["sw_version"] = f.clone().into();
    }
    let base = |component: &str, object: &str, name: &str| {
        json!({
            "name": name,
            "unique_id": format!("hiktalk_{slug}_{object}"),
            // `object_id` stopped working in Home Assistant 2026.4 (deprecated in 2025.10).
            "default_entity_id": format!("{component}.hiktalk_{slug}_{object}"),
            "device": device,
            "origin": { "name": "hiktalk", "sw_version": env!("CARGO_PKG_VERSION") },
            "availability": [{ "topic": cam.topics.status }, { "topic": cam.topics.availability }],
            "availability_mode": "all",
        })
    };
    let with = |mut v: Value, extra: Value| {
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    };
    let mut out = Vec::new();
    let mut add = |component: &str, object: &str, config: Value| {
        out.push((format!("{prefix}/{component}/hiktalk_{slug}/{object}/config"), config));
    };
    let command = |what: &str| cam.topics.command(what);
    if cam.watched && probe.doorbell {
        let ring = json!({ "state_topic": cam.topics.ring, "event_types": ["ring"], "device_class": "doorbell" });
        add("event", "ring", with(base("event", "ring", "Ring"), ring));
        let call = json!({ "state_topic": cam.topics.call_state, "icon": "mdi:phone-ring" });
        add("sensor", "call_state", with(base("sensor", "call_state", "Call state"), call));
    }
    if probe.doorbell {
        for (object, name) in [("answer", "Answer"), ("hangup", "Hang up"), ("reject", "Reject")] {
            add("button", object, with(base("button", object, name), json!({ "command_topic": command(object) })));
        }
    }
    for door in 1..=probe.doors {
        let object = format!("unlock_{door}");
        let name = if probe.doors == 1 { "Unlock".to_string() } else { format!("Unlock door {door}") };
        let press = json!({ "command_topic": command("unlock"), "payload_press": door.to_string(), "icon": "mdi:door-open" });
        add("button", &object, with(base("button", &object, &name), press));
    }
    add(
        "button",
        "stop",
        with(base("button", "stop", "Stop announcements"), json!({ "command_topic": command("stop"), "icon": "mdi:stop" })),
    );
    if let Some((_, min, max)) = probe.volume {
        let number = json!({
            "command_topic": command("volume"), "state_topic": cam.topics.volume,
            "min": min, "max": max, "step": 1, "mode": "slider", "icon": "mdi:volume-high",
        });
        add("number", "talk_volume", with(base("number", "talk_volume", "Talk volume"), number));
    }
    let say = json!({ "command_topic": command("say"), "max": super::command::MAX_TEXT, "mode": "text", "icon": "mdi:account-voice" });
    add("text", "say", with(base("text", "say", "Say"), say));
    if !sounds.is_empty() {
        let select = json!({ "command_topic": command("sound"), "options": sounds, "icon": "mdi:music" });
        add("select", "sound", with(base("select", "sound", "Play sound"), select));
    }
    let session =
        json!({ "state_topic": cam.topics.session, "json_attributes_topic": cam.topics.session_attributes, "icon": "mdi:bullhorn" });
    add("sensor", "session", with(base("sensor", "session", "Announcement"), session));
    out
}
