//! The one place that writes to stdout and stderr: notes and warnings, data, and the outcome of
//! every command (one human line, or exactly one JSON object with `--json`). A closed stdout
//! (`hiktalk status cam | head -1`) ends the output quietly instead of panicking. While a
//! progress bar or meter is on the terminal, every line written to stderr goes around it.
//!
//! Passwords are kept out by construction: no message formats one (camera names are shown
//! without them, see `config::display_name`). As a last guard, the exact password values in
//! use ([`keep_secret`]) are masked in what is printed; nothing else is rewritten, so a
//! device's text that merely mentions `password=` is printed as the data it is, and a JSON
//! object is masked inside its strings, so it stays one valid object.

use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
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
    /// Progress bars and meters only on a terminal that can redraw a line, and not with
    /// --quiet or --json.
    pub fn interactive(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
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
            stdout_json(&outcome.to_json());
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

/// The passwords in use. Shorter ones are not masked: hiding every "123" in a line would
/// garble it and reveal the password by its holes.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
const MIN_MASKED: usize = 4;

/// Masks `secret` wherever it would be printed from now on.
pub fn keep_secret(secret: &str) {
    if secret.chars().count() >= MIN_MASKED {
        let mut secrets = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
        }
    }
}

/// `text` with every kept secret replaced by `***`.
fn mask(text: &str) -> String {
    let secrets = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    secrets.iter().fold(text.to_string(), |t, s| if t.contains(s.as_str()) { t.replace(s.as_str(), "***") } else { t })
}

/// `v` with the secrets masked inside its strings and keys.
fn mask_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(mask(s)),
        Value::Array(a) => Value::Array(a.iter().map(mask_json).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (mask(k), mask_json(x))).collect()),
        other => other.clone(),
    }
}

/// The columns of the terminal stdout is, if it is one: tables narrower than that keep their
/// columns, wider ones are laid out for it. A pipe gets the full table, always the same.
pub fn stdout_columns() -> Option<usize> {
    std::io::stdout().is_terminal().then(|| usize::from(console::Term::stdout().size().1))
}

/// `text` with each line wider than `columns` wrapped at words, its continuation indented to
/// the line's value column (after its first run of two spaces), else to the line's own indent
/// (two spaces for a line that has none).
pub fn fit(text: &str, columns: usize) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if console::measure_text_width(line) <= columns {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let value = line[lead..].find("  ").map(|at| at + lead + line[lead + at..].len() - line[lead + at..].trim_start().len());
        let indent = " ".repeat(value.filter(|&v| v < columns / 2).unwrap_or(if lead > 0 { lead } else { 2 }));
        for piece in textwrap::wrap(
            line,
            textwrap::Options::new(columns).subsequent_indent(&indent).word_splitter(textwrap::WordSplitter::NoHyphenation),
        ) {
            out.push_str(&piece);
            out.push('\n');
        }
    }
    out
}

/// One line of data on stdout; a closed pipe is not an error worth reporting.
pub fn stdout(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", mask(line));
    let _ = out.flush();
}

/// One JSON object as one line on stdout; false once stdout is closed (the reader has gone).
pub fn stdout_json(v: &serde_json::Value) -> bool {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", mask_json(v)).and_then(|()| out.flush()).is_ok()
}

/// One line on stderr.
pub fn stderr(line: &str) {
    let mut line = mask(line);
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

/// A level meter `[####      ]` of `width` cells for a peak in dBFS (-60 to 0), and the level
/// it shows (clamped at -60).
pub fn level_bar(dbfs: f32, width: usize) -> (String, f32) {
    let db = dbfs.max(-60.0);
    let filled = (((db + 60.0) / 60.0) * width as f32).round().clamp(0.0, width as f32) as usize;
    (format!("[{:<width$}]", "#".repeat(filled)), db)
}

/// A one-line meter (spinner and message) cut short of the terminal's edge, never wrapped: a
/// wrapped line stays behind when the meter is cleared. Shown until [`clear_live`].
pub fn live_meter() -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    show_live(live_bar(None).with_style(style))
}

/// Columns the live line leaves free at the terminal's right edge. A typed Ctrl-C is echoed by
/// the terminal as `^C` where the cursor is; after a line as wide as the terminal that echo
/// wraps to a new row, and the clear then erases that row instead of the line, which stays.
const ECHO_ROOM: u16 = 2;

/// Stderr's terminal, [`ECHO_ROOM`] columns narrower than it is: what the live line is laid
/// out in, so that even a `{wide_msg}` stops short of the edge.
#[derive(Debug)]
struct Narrowed(console::Term);

impl TermLike for Narrowed {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(ECHO_ROOM).max(1)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The columns a live line may use (the terminal's, less [`ECHO_ROOM`]).
pub fn live_width() -> usize {
    usize::from(Narrowed(console::Term::stderr()).width())
}

/// A bar of `len` steps (a spinner without), drawn on stderr's terminal within [`live_width`]
/// from its first drawing on (a drawing on another target would not be cleared by this one).
pub fn live_bar(len: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::term_like_with_hz(Box::new(Narrowed(console::Term::buffered_stderr())), 20);
    ProgressBar::with_draw_target(len, target)
}

/// Makes `bar` (from [`live_bar`]) the live line that stderr writes go around; returns it.
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
    fn only_the_exact_secret_is_masked_and_json_stays_valid() {
        super::keep_secret("Zq9-secret\"x");
        super::keep_secret("12");
        let line = "the doorbell refused reject: password= \"hunter\", caller 12; sent Zq9-secret\"x";
        assert_eq!(super::mask(line), "the doorbell refused reject: password= \"hunter\", caller 12; sent ***");
        let v = serde_json::json!({ "detail": line, "exit_code": 13 });
        let masked = super::mask_json(&v).to_string();
        let back: serde_json::Value = serde_json::from_str(&masked).unwrap();
        assert_eq!(back["exit_code"], 13);
        assert!(back["detail"].as_str().unwrap().ends_with("sent ***") && !masked.contains("Zq9"), "{masked}");
    }

    #[test]
    fn fit_wraps_long_lines_under_their_value_column() {
        let text = "model     DS-2CD2386G2-IU with a long name\nshort\nchannel 1 can speak G.711ulaw, G.711alaw\n";
        assert_eq!(
            super::fit(text, 26),
            "model     DS-2CD2386G2-IU\n          with a long name\nshort\nchannel 1 can speak\n  G.711ulaw, G.711alaw\n"
        );
    }

    #[test]
    fn the_level_bar_fills_with_the_level_and_keeps_its_width() {
        assert_eq!(super::level_bar(0.0, 4), ("[####]".to_string(), 0.0));
        assert_eq!(super::level_bar(-30.0, 4), ("[##  ]".to_string(), -30.0));
        assert_eq!(super::level_bar(-120.0, 4), ("[    ]".to_string(), -60.0));
    }
}
