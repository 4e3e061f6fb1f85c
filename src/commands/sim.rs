//! `hiktalk sim`: serve one simulated device until SIGINT/SIGTERM, then print the summary.
//! Lines on stdin act at the device (`ring`, `answer`, `hangup`, `unlock`, `motion`).

use super::Context;
use crate::cli::sim::SimArgs;
use crate::outcome::{Ending, Outcome};
use std::io::BufRead;

pub async fn run(args: SimArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let config: crate::sim::SimConfig = args.into();
    let (user, password) = (shell_word(&config.user), shell_word(&config.password));
    let handle = crate::sim::start(config).await.map_err(|e| Ending::Usage { detail: e.to_string() })?;
    // Tests and scripts read the address from this exact first line (on stderr with --json,
    // whose stdout carries only the final JSON object).
    let listening = format!("hiktalk-sim listening on http://{}", handle.addr());
    if ctx.out.json {
        crate::output::stderr(&listening)
    } else {
        crate::output::stdout(&listening)
    }
    // A test device's password is no secret: say it, and how to use it, so the first try works.
    ctx.out.note(&format!("it accepts user {user}, password {password} (a test device); for example:"));
    ctx.out.note(&format!("  echo {password} | hiktalk status http://{} --user {user} --password-stdin", handle.addr()));
    let mut lines = stdin_lines();
    let signal = loop {
        tokio::select! {
            signal = ctx.stop.wait() => break signal,
            Some(line) = lines.recv() => match handle.command(&line) {
                Ok(done) if done.is_empty() => {}
                Ok(done) => ctx.out.note(&format!("sim: {done}")),
                Err(why) => ctx.out.warn(&format!("sim: {why}")),
            },
        }
    };
    let summary = handle.shutdown().await;
    let mut outcome = Outcome::new(None, Ending::Done).with_figures(&serde_json::json!({ "summary": summary, "stopped_by": signal }));
    outcome.stdout = Some(summary.to_string());
    Ok(outcome)
}

/// `s` as one word for a POSIX shell.
fn shell_word(s: &str) -> String {
    match !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:/@%+=".contains(c)) {
        true => s.to_string(),
        false => format!("'{}'", s.replace('\'', "'\\''")),
    }
}

/// Stdin's lines, read on a thread of their own: a blocking read cannot be cancelled, and a
/// detached thread does not hold up the exit. At the end of stdin the channel closes and the
/// device serves on.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
