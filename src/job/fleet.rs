//! Several devices at once (`play`, `speak`, `status`, `close` with several cameras or a group):
//! each is prepared and run on its own, all in parallel, none stopping or delaying the others,
//! and their outcomes are combined into one, with one exit-code rule for every command.

use super::connect::{Connected, SimAs, connect_target, read_password_line};
use super::{Context, Event, Events, finish};
use crate::cli::Login;
use crate::config;
use crate::listen::Inlet;
use crate::outcome::{Ending, Outcome, exit};
use crate::session::{self, Clock, Media, Report, TalkOptions};
use futures_util::future::join_all;
use std::time::Duration;

/// One device named on the command line, ready or not.
pub struct Member {
    pub name: String,
    pub connected: anyhow::Result<Connected>,
}

/// Resolves the camera arguments (groups expanded, each device once) and prepares each one. A
/// bad name or config fails the command; a device that cannot be prepared (no password) fails
/// alone.
pub async fn connect_all(cameras: &[String], login: &Login, ctx: &Context) -> anyhow::Result<Vec<Member>> {
    let targets = config::resolve_all(cameras, ctx.config.as_deref())?;
    let stdin = if login.password_stdin { Some(read_password_line()?) } else { None };
    let mut members = Vec::with_capacity(targets.len());
    for target in targets {
        let name = target.name().to_string();
        let connected = match connect_target(target, login, stdin.as_deref(), ctx, SimAs::Camera).await {
            // Ctrl-C at one camera's password prompt stops the command, not only that camera.
            Err(e) if matches!(e.downcast_ref::<config::ConfigError>(), Some(config::ConfigError::Interrupted)) => return Err(e),
            other => other,
        };
        members.push(Member { connected, name });
    }
    Ok(members)
}

/// Runs `f` on every prepared member at once; a member that could not be prepared gets its
/// failure as its outcome (and `absent` is told, so nobody waits for it).
pub async fn each<F, Fut>(members: Vec<Member>, absent: impl Fn(), f: F) -> Vec<Outcome>
where
    F: Fn(Connected) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let (f, absent) = (&f, &absent);
    let runs = members.into_iter().map(|m| async move {
        match m.connected {
            Ok(c) => f(c).await,
            Err(e) => {
                absent();
                Outcome::failed(Some(m.name), &e)
            }
        }
    });
    join_all(runs).await
}

/// How a talk command runs each device's sessions.
pub struct Talk<'a> {
    pub clock: &'a Clock,
    /// Where the device's microphone goes, in a call with one device.
    pub listen: Option<&'a Inlet>,
    pub verb: &'static str,
    /// How a run that nobody stopped ends (`play`: the end of input).
    pub ending: Ending,
    /// Whether a user stop is the normal end (`speak`) or an interruption (`play`).
    pub stop_is_normal: bool,
    pub stall: Duration,
    /// Doorbells: stop a ring before talking (`--stop-ring`); without it a ring is only said.
    pub stop_ring: bool,
    pub events: Events,
}

impl Talk<'_> {
    /// One device's sessions from the shared clock: its channel negotiated, its sessions
    /// opened, fed and closed, its outcome. The clock hears when the device is out, so that a
    /// gathered start does not wait for it.
    pub async fn run(&self, c: Connected, mut opts: TalkOptions, ctx: &Context) -> Outcome {
        let Connected { device, name, sim, .. } = c;
        self.events.send(Event::Opening { device: name.clone() });
        let (on_open, events, label) = (opts.on_open.clone(), self.events.clone(), name.clone());
        opts.on_open = std::sync::Arc::new(move |channel, params| {
            events.send(Event::Playing { device: label.clone(), channel: channel.to_string(), codec: params });
            on_open(channel, params);
        });
        let (announce, events, label) = (opts.announce.clone(), self.events.clone(), name.clone());
        opts.announce = std::sync::Arc::new(move |message| {
            events.send(Event::Note { device: label.clone(), message: message.to_string() });
            announce(message);
        });
        let device = device.with_stall(self.stall);
        let mut report = Report::new(&name, self.ending.clone());
        // Each phase in a box of its own: nested inline, a device's future grew to 380 KB (each
        // level held its callee's state twice), about 100 KB of RSS per device of a page.
        let ready = match Box::pin(session::negotiate(&device, &name, &opts, &ctx.stop)).await {
            Err(ending) => {
                report = Report::new(&name, ending);
                None
            }
            Ok(neg) => match super::ring::before_talk(&device, &name, self.stop_ring, ctx).await {
                Ok(()) => Some(neg),
                // Not talking after all: a channel `--set-codec` switched is put back.
                Err(ending) => {
                    report = Report::new(&name, ending);
                    session::restore(&device, &neg, &opts, &mut report).await;
                    None
                }
            },
        };
        if let Some(mut neg) = ready {
            let media = Media { talk: Some(self.clock), listen: self.listen };
            Box::pin(session::talk(&device, &mut neg, &opts, media, &ctx.stop, &mut report)).await;
        }
        self.clock.absent();
        let outcome = finish(&report, self.verb, self.stop_is_normal, ctx, sim).await;
        self.events.send(Event::Ended { device: name, outcome: outcome.clone() });
        outcome
    }
}

/// One outcome for the whole command. One device: its own outcome, unchanged. Several: each
/// device's outcome in a `devices` array (JSON) or one line each (human), and the exit code
/// 0 when every device succeeded, the devices' code when they all failed the same way, and
/// otherwise [`exit::SOME_FAILED`].
pub fn combine(mut outcomes: Vec<Outcome>) -> Outcome {
    if outcomes.len() == 1 {
        return outcomes.remove(0);
    }
    let total = outcomes.len();
    let failed = outcomes.iter().filter(|o| o.exit_code != exit::OK).count();
    let first = outcomes.first().map(|o| o.exit_code).unwrap_or(exit::OK);
    let exit_code = match outcomes.iter().all(|o| o.exit_code == first) {
        true => first,
        false => exit::SOME_FAILED,
    };
    let ending = match failed {
        0 => outcomes.first().map(|o| o.ending.clone()).unwrap_or(Ending::Done),
        _ => Ending::SomeFailed { failed, total },
    };
    let names: Vec<String> = outcomes.iter().map(|o| o.device.clone().unwrap_or_default()).collect();
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| o.line.clone().unwrap_or_else(|| format!("{}: {}", o.device.as_deref().unwrap_or("?"), o.ending.describe())))
        .collect();
    let tables: Vec<String> = outcomes.iter().filter_map(|o| o.stdout.clone()).collect();
    let summary = format!("{total} devices: {} succeeded, {failed} failed", total - failed);
    let mut combined = Outcome::new(Some(names.join(", ")), ending).with_figures(&serde_json::json!({
        "devices": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>(),
        "devices_total": total,
        "devices_failed": failed,
    }));
    combined.exit_code = exit_code;
    combined.line = Some(format!("{}\nhiktalk: {summary}", lines.join("\nhiktalk: ")));
    combined.stdout = (!tables.is_empty()).then(|| tables.join("\n"));
    combined
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, ending: Ending) -> Outcome {
        Outcome::new(Some(name.into()), ending)
    }

    #[test]
    fn one_device_is_reported_as_itself() {
        let o = combine(vec![outcome("a", Ending::Busy { detail: "x".into() })]);
        assert_eq!((o.exit_code, o.device.as_deref()), (exit::BUSY, Some("a")));
        assert!(!o.to_json().as_object().unwrap().contains_key("devices"));
    }

    #[test]
    fn the_exit_code_rule() {
        let ok = || outcome("a", Ending::EndOfInput);
        let busy = || outcome("b", Ending::Busy { detail: "x".into() });
        let auth = || outcome("c", Ending::Auth { detail: "x".into(), locked: false });
        assert_eq!(combine(vec![ok(), ok()]).exit_code, exit::OK);
        assert_eq!(combine(vec![busy(), busy()]).exit_code, exit::BUSY);
        assert_eq!(combine(vec![ok(), busy()]).exit_code, exit::SOME_FAILED);
        assert_eq!(combine(vec![auth(), busy()]).exit_code, exit::SOME_FAILED);
        let json = combine(vec![ok(), busy(), auth()]).to_json();
        assert_eq!((json["reason"].as_str(), json["devices_failed"].as_u64()), (Some("some_failed"), Some(2)));
        assert_eq!(json["devices"].as_array().unwrap().len(), 3);
        assert_eq!(json["devices"][1]["reason"], "busy");
    }
}
