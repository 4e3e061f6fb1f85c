//! `hiktalk sim`: serve one simulated device (or `--devices N`) until SIGINT/SIGTERM, then
//! print the summary. Lines on stdin act at the devices (`ring`, `answer`, `hangup`, `unlock`,
//! `motion`; `3 ring` at device 3 only).

use super::Context;
use crate::cli::sim::SimArgs;
use crate::outcome::{Ending, Outcome};
use std::io::BufRead;

pub async fn run(args: SimArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let (count, variation) = (args.devices as usize, args.variation());
    let config: crate::sim::SimConfig = args.into();
    let (user, password) = (shell_word(&config.user), shell_word(&config.password));
    let many = crate::sim::start_many(&config, count, &variation).await.map_err(|e| Ending::Usage { detail: e.to_string() })?;
    // Tests and scripts read the address from this exact first line (on stderr with --json,
    // whose stdout carries only the final JSON object); several devices get a line each, in
    // order.
    for (index, (profile, handle)) in many.devices.iter().enumerate() {
        let listening = match count {
            1 => format!("hiktalk-sim listening on http://{}", handle.addr()),
            _ => format!("hiktalk-sim device {} ({profile}) listening on http://{}", index + 1, handle.addr()),
        };
        if ctx.out.json { crate::output::stderr(&listening) } else { crate::output::stdout(&listening) }
    }
    // A test device's password is no secret: say it, and how to use it, so the first try works.
    let first = many.devices.first().map(|(_, h)| h.addr()).expect("at least one device");
    let others = if variation.passwords.is_empty() { "" } else { " (but the devices given --device-password)" };
    ctx.out.note(&format!("it accepts user {user}, password {password}{others} (a test device); for example:"));
    ctx.out.note(&format!("  echo {password} | hiktalk status http://{first} --user {user} --password-stdin"));
    let mut lines = stdin_lines();
    let signal = loop {
        tokio::select! {
            signal = ctx.stop.wait() => break signal,
            Some(line) = lines.recv() => console(&many, &line, ctx),
        }
    };
    // One device keeps the one-device summary; several add theirs up.
    let (summary, text) = match count {
        1 => {
            let s = many.devices.into_iter().next().map(|(_, h)| h).expect("one device").shutdown().await;
            (serde_json::json!(s), s.to_string())
        }
        _ => {
            let s = many.shutdown().await;
            (serde_json::json!(s), s.to_string())
        }
    };
    let mut outcome = Outcome::new(None, Ending::Done).with_figures(&serde_json::json!({ "summary": summary, "stopped_by": signal }));
    outcome.stdout = Some(text);
    Ok(outcome)
}

/// A stdin line acts at every device, or with a leading number at that one (`3 ring`).
fn console(many: &crate::sim::Many, line: &str, ctx: &Context) {
    let (target, command) = match line.trim().split_once(' ') {
        Some((n, rest)) if n.parse::<usize>().is_ok() => (n.parse::<usize>().ok(), rest),
        _ => (None, line),
    };
    if let Some(n) = target
        && !(1..=many.devices.len()).contains(&n)
    {
        return ctx.out.warn(&format!("sim: there is no device {n}; devices are numbered 1 to {}", many.devices.len()));
    }
    for (index, (_, handle)) in many.devices.iter().enumerate() {
        if target.is_some_and(|n| n != index + 1) {
            continue;
        }
        let who = if many.devices.len() > 1 { format!("sim device {}", index + 1) } else { "sim".into() };
        match handle.command(command) {
            Ok(done) if done.is_empty() => {}
            Ok(done) => ctx.out.note(&format!("{who}: {done}")),
            Err(why) => ctx.out.warn(&format!("{who}: {why}")),
        }
    }
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
