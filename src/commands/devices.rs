//! `hiktalk devices`: the audio inputs `speak --input` accepts.

use crate::audio::capture::list_input_devices;

/// `println!` that ignores a closed stdout (`hiktalk devices | head -1`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Prints a table (index, id, description, default config; `*` marks the default device)
/// or, with `json`, one JSON object per line.
pub fn run(json: bool) -> anyhow::Result<()> {
    let devices = list_input_devices()?;
    if json {
        for (index, device) in devices.iter().enumerate() {
            let mut value = serde_json::to_value(device)?;
            value["index"] = index.into();
            out!("{value}");
        }
        return Ok(());
    }
    if devices.is_empty() {
        out!("No audio input devices found. Connect a microphone, or check that your user may use audio (e.g. the `audio` group).");
        return Ok(());
    }
    let id_width = devices.iter().map(|d| d.id.len()).max().unwrap_or(0).max(2);
    out!("  {:>3}  {:<id_width$}  {:<20}  DESCRIPTION", "#", "ID", "DEFAULT CONFIG");
    for (index, d) in devices.iter().enumerate() {
        let mark = if d.is_default { '*' } else { ' ' };
        let config = format!("{} Hz {} {} ch", d.default_rate, d.default_format, d.channels);
        out!("{mark} {index:>3}  {:<id_width$}  {config:<20}  {}", d.id, d.description);
    }
    out!("\nPass an index, an id or a unique part of a description to `hiktalk speak --input`.");
    Ok(())
}
