//! The one place that writes to stdout and stderr: notes and warnings, data, and the outcome of
//! every command (one human line, or exactly one JSON object with `--json`). A closed stdout
//! (`hiktalk status cam | head -1`) ends the output quietly instead of panicking, and every line
//! passes through `config::redact`, so no message can show a password. While a progress bar or
//! meter is on the terminal, every line written to stderr goes around it.

use crate::config::redact;
use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// The line a progress bar or meter redraws in place, while one is shown. A line written
/// past it would be glued to its end and left behind when it is cleared; so the bar is
/// cleared, the line written, and the bar drawn again below it.
static LIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How the process reports: quiet, JSON, progress on a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub quiet: bool,
    pub json: bool,
    /// `-v`: each request to a device and its status on stderr.
    pub verbose: bool,
}

impl Output {
    /// Progress bars and meters only on a terminal, and not with --quiet or --json.
    pub fn interactive(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }

    /// A status line on stderr unless --quiet.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            stderr(&format!("hiktalk: {msg}"));
        }
    }

    /// Something the user should know even with --quiet.
    pub fn warn(&self, msg: &str) {
        stderr(&format!("hiktalk: warning: {msg}"));
    }

    /// Prints how a command ended and returns its exit code.
    pub fn report(&self, outcome: &Outcome) -> i32 {
        if self.json {
            stdout(&outcome.to_json().to_string());
            return outcome.exit_code;
        }
        if let Some(data) = &outcome.stdout {
            stdout(data.trim_end_matches('\n'));
        }
        let failed = outcome.exit_code != 0;
        let line = match (&outcome.line, &outcome.device) {
            (Some(line), _) => Some(line.clone()),
            (None, Some(device)) if failed => Some(format!("{device}: {}", outcome.ending.describe())),
            (None, None) if failed => Some(outcome.ending.describe()),
            (None, _) => None,
        };
        if let Some(line) = line
            && (failed || !self.quiet)
        {
            stderr(&format!("hiktalk: {line}"));
        }
        outcome.exit_code
    }
}

/// One line of data on stdout; a closed pipe is not an error worth reporting.
pub fn stdout(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", redact(line));
    let _ = out.flush();
}

/// One line of data on stdout; false once stdout is closed (the reader has gone).
pub fn stdout_line(line: &str) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", redact(line)).and_then(|()| out.flush()).is_ok()
}

/// One line on stderr.
pub fn stderr(line: &str) {
    let mut line = redact(line);
    // A terminal in raw mode (speak's keys, the password prompt) does not return the carriage
    // at a line feed: without one, each line would start where the last one ended.
    if crossterm::terminal::is_raw_mode_enabled().unwrap_or(false) {
        line = line.replace('\n', "\r\n") + "\r";
    }
    let write = || {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    };
    // Cloned out of the lock: a write never holds it while the bar draws.
    let live = LIVE.lock().unwrap_or_else(|p| p.into_inner()).clone();
    match live {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// A one-line meter (spinner and message) cut at the terminal's edge, never wrapped: a
/// wrapped line stays behind when the meter is cleared. Shown until [`clear_live`].
/// A level meter `[####      ]` of `width` cells for a peak in dBFS (-60 to 0), and the level
/// it shows (clamped at -60).
pub fn level_bar(dbfs: f32, width: usize) -> (String, f32) {
    let db = dbfs.max(-60.0);
    let filled = (((db + 60.0) / 60.0) * width as f32).round().clamp(0.0, width as f32) as usize;
    (format!("[{:<width$}]", "#".repeat(filled)), db)
}

pub fn live_meter() -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    show_live(ProgressBar::new_spinner().with_style(style))
}

/// Makes `bar` the live line that stderr writes go around; returns it.
pub fn show_live(bar: ProgressBar) -> ProgressBar {
    *LIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
    bar
}

/// Clears the live line from the terminal, for good.
pub fn clear_live() {
    if let Some(bar) = LIVE.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_level_bar_fills_with_the_level_and_keeps_its_width() {
        assert_eq!(super::level_bar(0.0, 4), ("[####]".to_string(), 0.0));
        assert_eq!(super::level_bar(-30.0, 4), ("[##  ]".to_string(), -30.0));
        assert_eq!(super::level_bar(-120.0, 4), ("[    ]".to_string(), -60.0));
    }
}
