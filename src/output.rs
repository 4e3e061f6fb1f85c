//! The one place that writes to stdout and stderr: notes and warnings, data, and the outcome of
//! every command (one human line, or exactly one JSON object with `--json`). A closed stdout
//! (`hiktalk status cam | head -1`) ends the output quietly instead of panicking, and every line
//! passes through `config::redact`, so no message can show a password.

use crate::config::redact;
use crate::outcome::Outcome;
use std::io::{IsTerminal, Write};

/// How the process reports: quiet, JSON, progress on a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub quiet: bool,
    pub json: bool,
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
    let _ = writeln!(std::io::stderr().lock(), "{}", redact(line));
}
