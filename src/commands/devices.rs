//! `hiktalk devices`: the microphones `speak --input` takes and the outputs `--output` takes.

use crate::audio::devices::{self, AudioDevice, Direction};
use crate::outcome::{Ending, Outcome};

/// Two tables (index, id, default config, description; `*` marks the defaults), or with
/// `--json` one object whose `devices` array has the same rows with their `direction`.
pub fn run() -> anyhow::Result<Outcome> {
    let (inputs, outputs) = (devices::list(Direction::Input)?, devices::list(Direction::Output)?);
    let rows: Vec<serde_json::Value> = [&inputs, &outputs]
        .into_iter()
        .flat_map(|list| {
            list.iter().enumerate().map(|(index, d)| {
                let mut row = serde_json::to_value(d).unwrap_or_default();
                row["index"] = index.into();
                row
            })
        })
        .collect();
    let mut outcome = Outcome::new(None, Ending::Done).with_figures(&serde_json::json!({ "devices": rows }));
    let columns = crate::output::stdout_columns();
    let (inputs, outputs) = (table("Inputs (speak --input)", &inputs, columns), table("Outputs (listen --output)", &outputs, columns));
    outcome.stdout = Some(format!("{inputs}\n{outputs}"));
    Ok(outcome)
}

/// One device per row, or on a terminal too narrow for the rows, one block per device (id,
/// config, then the description wrapped under them).
fn table(title: &str, devices: &[AudioDevice], columns: Option<usize>) -> String {
    if devices.is_empty() {
        let t = format!("{title}: none found; connect a device, or check that your user may use audio (e.g. the `audio` group).\n");
        return columns.map_or_else(|| t.clone(), |c| crate::output::fit(&t, c));
    }
    let id_width = devices.iter().map(|d| d.id.chars().count()).max().unwrap_or(0).max(2);
    let mut t = format!("{title}:\n  {:>3}  {:<id_width$}  {:<20}  DESCRIPTION\n", "#", "ID", "DEFAULT CONFIG");
    let mut blocks = format!("{title}:\n");
    for (index, d) in devices.iter().enumerate() {
        let mark = if d.is_default { '*' } else { ' ' };
        let config = format!("{} Hz {} {} ch", d.default_rate, d.default_format, d.channels);
        t.push_str(&format!("{mark} {index:>3}  {:<id_width$}  {config:<20}  {}\n", d.id, d.description));
        blocks.push_str(&format!("{mark} {index:>3}  {}\n       {config}\n       {}\n", d.id, d.description));
    }
    match columns {
        Some(c) if t.lines().any(|l| l.chars().count() > c) => crate::output::fit(&blocks, c),
        _ => t,
    }
}
