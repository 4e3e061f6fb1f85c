//! `hiktalk check`: does this device work with hiktalk, and what must the user do if not. A
//! short sequence of checks over the library's own client code (login, deviceInfo, channels,
//! one talk session, a second one with the microphone, the doorbell's call and doors, the event
//! stream), each with a verdict, what it means, what to do and its figures. Safe on a device
//! in use: one login attempt, every session opened is closed, every setting changed restored.
//!
//! `steps` runs the checks; this file holds the report and how it is written.

mod doorbell;
mod steps;

use crate::quirks::QuirkId;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

pub use steps::run;

/// One check's verdict. `skipped` and `pass` are both fine; `fail` makes the command exit 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Skipped,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One check: its name, verdict, meaning, what to do (when something can be done), figures.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub verdict: Verdict,
    pub meaning: String,
    pub advice: Option<String>,
    pub figures: serde_json::Value,
}

impl Check {
    pub fn new(name: &'static str, verdict: Verdict, meaning: impl Into<String>) -> Check {
        Check { name, verdict, meaning: meaning.into(), advice: None, figures: serde_json::Value::Object(Default::default()) }
    }

    pub fn pass(name: &'static str, meaning: impl Into<String>) -> Check {
        Check::new(name, Verdict::Pass, meaning)
    }

    pub fn warn(name: &'static str, meaning: impl Into<String>, advice: impl Into<String>) -> Check {
        Check::new(name, Verdict::Warn, meaning).advise(advice)
    }

    pub fn fail(name: &'static str, meaning: impl Into<String>, advice: impl Into<String>) -> Check {
        Check::new(name, Verdict::Fail, meaning).advise(advice)
    }

    pub fn skipped(name: &'static str, why: impl Into<String>) -> Check {
        Check::new(name, Verdict::Skipped, why)
    }

    pub fn advise(mut self, advice: impl Into<String>) -> Check {
        self.advice = Some(advice.into());
        self
    }

    pub fn with(mut self, figures: serde_json::Value) -> Check {
        self.figures = figures;
        self
    }

    /// The human line: `verdict  name: meaning; what to do`.
    pub fn line(&self) -> String {
        let mut s = format!("{:<8} {:<14} {}", self.verdict.word(), self.name, self.meaning);
        if let Some(a) = &self.advice {
            s.push_str(" -> ");
            s.push_str(a);
        }
        s
    }
}

/// What `check` found on one device.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub device: String,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub firmware_build: Option<String>,
    pub device_type: Option<String>,
    /// Known quirks: matched by model and firmware, or shown by the device's behaviour.
    pub quirks: Vec<QuirkId>,
    pub checks: Vec<Check>,
    /// Talk sessions the checks opened, and the closes the device confirmed.
    pub sessions_opened: u32,
    pub sessions_closed: u32,
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Report {
    pub(crate) fn new(device: &str) -> Report {
        Report {
            device: device.to_string(),
            model: None,
            firmware: None,
            firmware_build: None,
            device_type: None,
            quirks: Vec::new(),
            checks: Vec::new(),
            sessions_opened: 0,
            sessions_closed: 0,
            passed: 0,
            warnings: 0,
            failed: 0,
            skipped: 0,
        }
    }

    pub(crate) fn push(&mut self, check: Check) {
        match check.verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Warn => self.warnings += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Skipped => self.skipped += 1,
        }
        self.checks.push(check);
    }

    pub(crate) fn quirk(&mut self, id: QuirkId) {
        if !self.quirks.contains(&id) {
            self.quirks.push(id);
        }
    }

    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// One line per check.
    pub fn lines(&self) -> String {
        let mut s = format!("{}: {} {}\n", self.device, or_dash(&self.model), or_dash(&self.firmware));
        for c in &self.checks {
            s.push_str(&format!("  {}\n", c.line()));
        }
        s
    }

    /// The summary: how many checks passed, warned, failed, were skipped.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} checks: {} passed, {} warnings, {} failed, {} skipped",
            self.device,
            self.checks.len(),
            self.passed,
            self.warnings,
            self.failed,
            self.skipped
        )
    }

    /// The compatibility table's header (README's Compatibility section has the same).
    pub const MARKDOWN_HEADER: &'static str = "| model | firmware | type | talk | codec | listen | doorbell | events | quirks | result |\n\
                                              |---|---|---|---|---|---|---|---|---|---|";

    /// One row of the compatibility table. Device strings are escaped for a table cell.
    pub fn markdown_row(&self) -> String {
        let verdict = |name: &str| self.check(name).map_or("-", |c| c.verdict.word()).to_lowercase();
        // The codec the talk session used (after a switch the firmware wanted), else the channel's.
        let codec =
            ["talk", "channels"].iter().find_map(|n| self.check(n).and_then(|c| c.figures["codec"].as_str())).unwrap_or("-").to_string();
        let doorbell = match self.check("call_state").map(|c| c.verdict) {
            Some(Verdict::Skipped) | None => "-".to_string(),
            _ => verdict("call_state"),
        };
        let quirks: Vec<String> = self
            .quirks
            .iter()
            .map(|q| serde_json::to_value(q).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
            .collect();
        let result = if self.failed > 0 {
            "fails"
        } else if self.warnings > 0 {
            "works, with warnings"
        } else {
            "works"
        };
        let cells = [
            or_dash(&self.model),
            format!("{} {}", or_dash(&self.firmware), self.firmware_build.clone().unwrap_or_default()).trim().to_string(),
            or_dash(&self.device_type),
            verdict("talk"),
            codec,
            verdict("listen"),
            doorbell,
            verdict("events"),
            if quirks.is_empty() { "-".into() } else { quirks.join(", ") },
            result.into(),
        ];
        format!("| {} |", cells.map(|c| cell(&c)).join(" | "))
    }
}

fn or_dash(s: &Option<String>) -> String {
    s.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into())
}

/// A table cell: no pipe, no line break, bounded.
fn cell(s: &str) -> String {
    s.chars()
        .take(60)
        .map(|c| {
            if c == '|' {
                '/'
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// What the user asked of `check`.
#[derive(Clone)]
pub struct Options {
    /// The talk channel [default: the device's first].
    pub channel: Option<String>,
    /// Measure the idle hang-up (the device plays its "call ended" prompt once).
    pub idle: bool,
    /// How long the talk session's quiet tone lasts.
    pub tone: Duration,
    /// How long the microphone is read.
    pub listen: Duration,
    /// How long to wait for the event stream's first heartbeat.
    pub heartbeat: Duration,
    /// The longest idle hang-up measured before giving up.
    pub idle_limit: Duration,
    /// Says something to the user at once (the warning before `--idle`).
    pub announce: crate::session::Announce,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            channel: None,
            idle: false,
            tone: Duration::from_secs(2),
            listen: Duration::from_secs(1),
            heartbeat: Duration::from_secs(15),
            idle_limit: Duration::from_secs(60),
            announce: Arc::new(|m| crate::output::stderr(&format!("hiktalk: {m}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_escapes_device_strings_and_counts_verdicts() {
        let mut r = Report::new("cam");
        r.model = Some("DS|X\nY".into());
        r.push(Check::pass("talk", "ok"));
        r.push(Check::fail("listen", "no", "fix it"));
        r.push(Check::skipped("call_state", "not a doorbell"));
        let row = r.markdown_row();
        assert!(row.starts_with("| DS/X Y | - | - | pass | - | fail | - | - | - | fails |"), "{row}");
        assert_eq!((r.passed, r.failed, r.skipped), (1, 1, 1));
        assert!(r.lines().contains("FAIL     listen         no -> fix it"));
    }
}
