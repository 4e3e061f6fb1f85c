//! Known firmware quirks as data: one table, keyed by model and firmware patterns, each entry
//! with what the device does, what hiktalk does about it and what the user can do. `check`
//! reports the entries a device matches (and the ones it shows by behaving so); the ordinary
//! commands take their advice from here when they meet the same behaviour.

use glob::{MatchOptions, Pattern};
use serde::Serialize;

/// A quirk's stable name (also its name in `check --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuirkId {
    AacOnly,
    PsiaNamespace,
    NoCallControl,
    NoCallEvents,
    SwappedVolumes,
    Kv6113Door,
    CloseKeepsChannel,
}

/// One known quirk.
#[derive(Debug, Serialize)]
pub struct Quirk {
    pub id: QuirkId,
    /// Model patterns (`*` and `?`, case-insensitive); empty: no model is known, the quirk is
    /// only recognised by how the device behaves.
    pub models: &'static [&'static str],
    /// Firmware version patterns; empty: every firmware of the models.
    pub firmware: &'static [&'static str],
    /// What the device does.
    pub symptom: &'static str,
    /// What hiktalk does about it.
    pub behaviour: &'static str,
    /// What the user can do.
    pub advice: &'static str,
}

/// The table (sources: PROTOCOL.md's device reports).
pub static QUIRKS: &[Quirk] = &[
    Quirk {
        id: QuirkId::AacOnly,
        models: &["DS-2CD1383G2*"],
        firmware: &["V5.8.*"],
        symptom: "lists G.711 but refuses to open a talk session (HTTP 403) unless the channel is set to AAC",
        behaviour: "hiktalk switches the channel to AAC for the session and restores it afterwards",
        advice: "set the talk codec to AAC in the web UI (Configuration > Audio) to skip the switch, or upgrade the firmware",
    },
    Quirk {
        id: QuirkId::PsiaNamespace,
        models: &["DS-2CD2032*"],
        firmware: &["V5.3.*", "V5.2.*"],
        symptom: "writes its documents in the old PSIA namespace (urn:psialliance-org) and gives no sessionId",
        behaviour: "hiktalk reads documents by element name, writes back in the device's namespace, and sends no sessionId",
        advice: "nothing needed; upgrade the firmware if other ISAPI clients fail on it",
    },
    Quirk {
        id: QuirkId::NoCallControl,
        models: &["DS-KB6003*"],
        firmware: &[],
        symptom: "has no call control: callStatus and callSignal answer \"Can't locate the url\"",
        behaviour: "hiktalk treats the unit as having no call state: answer, hangup and reject exit 8, talk is sent without checking for a ring",
        advice: "talk works with `hiktalk speak`; answer calls on the indoor station or the app",
    },
    Quirk {
        id: QuirkId::NoCallEvents,
        models: &["DS-KV8113*", "DS-KD8003*"],
        firmware: &["V3.7.*"],
        symptom: "sends no call events on alertStream (with an indoor station, callStatus may stay idle)",
        behaviour: "hiktalk reads callStatus every second besides the alertStream",
        advice: "ring detection may still miss calls answered on the indoor station; upgrade the firmware",
    },
    Quirk {
        id: QuirkId::SwappedVolumes,
        models: &[],
        firmware: &[],
        symptom: "keeps the speaker and microphone volumes under each other's tags",
        behaviour: "hiktalk writes the tags as named",
        advice: "if `hiktalk volume LEVEL` changes the microphone, use `--mic` for the speaker (and the other way round)",
    },
    Quirk {
        id: QuirkId::Kv6113Door,
        models: &["DS-KV6113*"],
        firmware: &[],
        symptom: "releases its lock for `alwaysOpen` then `resume` rather than for `open`",
        behaviour: "hiktalk unlock sends `open` (RemoteControl/door), which this unit may acknowledge without releasing",
        advice: "if the lock stays shut, open it from the indoor station or the app; report the firmware so the sequence can be applied",
    },
    Quirk {
        id: QuirkId::CloseKeepsChannel,
        models: &[],
        firmware: &[],
        symptom: "confirms a close but keeps the talk channel busy until the session expires (60-90 s)",
        behaviour: "hiktalk closes every session explicitly and never reopens at once",
        advice: "upgrade the firmware; until then leave a minute or more between sessions, or reboot the device to free the channel",
    },
];

/// The entry for `id`.
pub fn get(id: QuirkId) -> &'static Quirk {
    QUIRKS.iter().find(|q| q.id == id).unwrap_or(&QUIRKS[0])
}

impl Quirk {
    /// Whether a device reporting `model` and `firmware` is one this quirk is known on.
    pub fn matches(&self, model: &str, firmware: &str) -> bool {
        let opts = MatchOptions { case_sensitive: false, require_literal_separator: false, require_literal_leading_dot: false };
        let any = |patterns: &[&str], s: &str| patterns.iter().any(|p| Pattern::new(p).is_ok_and(|p| p.matches_with(s.trim(), opts)));
        any(self.models, model) && (self.firmware.is_empty() || any(self.firmware, firmware))
    }
}

/// The quirks known on `model` with `firmware`.
pub fn known(model: &str, firmware: &str) -> Vec<&'static Quirk> {
    QUIRKS.iter().filter(|q| q.matches(model, firmware)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_one_entry() {
        for q in QUIRKS {
            assert_eq!(QUIRKS.iter().filter(|o| o.id == q.id).count(), 1, "{:?}", q.id);
            assert!(std::ptr::eq(get(q.id), q));
            for p in q.models.iter().chain(q.firmware) {
                assert!(Pattern::new(p).is_ok(), "{p}");
            }
        }
    }

    #[test]
    fn models_and_firmware_are_matched_by_pattern() {
        let ids = |m, f| known(m, f).iter().map(|q| q.id).collect::<Vec<_>>();
        assert_eq!(ids("DS-2CD1383G2-LIU", "V5.8.41"), [QuirkId::AacOnly]);
        assert_eq!(ids("ds-2cd1383g2-liu", "V5.8.41"), [QuirkId::AacOnly]);
        assert!(ids("DS-2CD1383G2-LIU", "V5.9.0").is_empty());
        assert_eq!(ids("DS-KV6113-WPE1(C)", "V2.2.65"), [QuirkId::Kv6113Door]);
        assert_eq!(ids("DS-KB6003-WIP", "V1.0"), [QuirkId::NoCallControl]);
        assert!(ids("DS-2CD2386G2-IU", "V5.7.15").is_empty());
        // Quirks without a known model are never matched by name.
        assert!(!get(QuirkId::CloseKeepsChannel).matches("", ""));
    }
}
