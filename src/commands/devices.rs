//! `hiktalk devices`: the audio inputs `speak --input` accepts.

use crate::audio::capture::list_input_devices;
use crate::outcome::{Ending, Outcome};

/// A table (index, id, default config, description; `*` marks the default device), or with
/// `--json` one object whose `devices` array has the same rows.
pub fn run() -> anyhow::Result<Outcome> {
    let devices = list_input_devices()?;
    let rows: Vec<serde_json::Value> = devices
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let mut row = serde_json::to_value(d).unwrap_or_default();
            row["index"] = index.into();
            row
        })
        .collect();
    let mut outcome = Outcome::new(None, Ending::Done).with_figures(&serde_json::json!({ "devices": rows }));
    outcome.stdout = Some(table(&devices));
    Ok(outcome)
}

fn table(devices: &[crate::audio::capture::InputDevice]) -> String {
    if devices.is_empty() {
        return "No audio input devices found. Connect a microphone, or check that your user may use audio (e.g. the `audio` group).\n"
            .into();
    }
    let id_width = devices.iter().map(|d| d.id.len()).max().unwrap_or(0).max(2);
    let mut t = format!("  {:>3}  {:<id_width$}  {:<20}  DESCRIPTION\n", "#", "ID", "DEFAULT CONFIG");
    for (index, d) in devices.iter().enumerate() {
        let mark = if d.is_default { '*' } else { ' ' };
        let config = format!("{} Hz {} {} ch", d.default_rate, d.default_format, d.channels);
        t.push_str(&format!("{mark} {index:>3}  {:<id_width$}  {config:<20}  {}\n", d.id, d.description));
    }
    t.push_str("\nPass an index, an id or a unique part of a description to `hiktalk speak --input`.\n");
    t
}
