//! `hiktalk events`: the device's alertStream (and, on doorbells, its call state) as one JSON
//! object per line on stdout until Ctrl-C. With `--json` the outcome follows as the last line.

use super::Context;
use super::doorbell::watch_options;
use crate::cli::EventsArgs;
use crate::outcome::{Ending, Outcome};
use crate::watch::{self, Flow, Seen};

pub async fn run(args: EventsArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect(&args.camera, &args.login, ctx).await?;
    let name = c.name.clone();
    let opts = watch_options(&args.watch);
    let (mut printed, mut reader_gone, mut opened) = (0u64, false, 0u32);
    let (ending, stats) = watch::watch(&c.device, &opts, &ctx.stop, |seen| {
        match seen {
            Seen::Event(e) => {
                if args.types.is_empty() || args.types.iter().any(|t| e.is_type(t)) {
                    if !crate::output::stdout_json(&serde_json::to_value(e).unwrap_or_default()) {
                        reader_gone = true;
                        return Flow::Done;
                    }
                    printed += 1;
                }
            }
            Seen::Connected => {
                opened += 1;
                if opened == 1 {
                    ctx.out.note(&format!("{name}: event stream open; Ctrl-C to stop"));
                } else {
                    ctx.out.note(&format!("{name}: event stream open again"));
                }
            }
            Seen::Reconnecting { why, delay } => {
                ctx.out.note(&format!("{name}: {why}; reconnecting in {:.1} s", delay.as_secs_f64()));
            }
            Seen::Note(n) => ctx.out.note(&format!("{name}: {n}")),
        }
        Flow::More
    })
    .await;
    if let Some(sim) = c.sim {
        sim.shutdown().await;
    }
    let mut outcome = Outcome::new(Some(name.clone()), ending.clone()).with_figures(&stats);
    outcome = outcome.with_figures(&serde_json::json!({ "events_printed": printed, "stdout_closed": reader_gone }));
    // Ctrl-C is how it ends; a reader that went away (`| head -1`) too.
    outcome.exit_code = ending.exit_code(true);
    let how = match &ending {
        Ending::Done if reader_gone => "stdout closed".to_string(),
        other => other.describe(),
    };
    outcome.line = Some(format!(
        "{name}: {printed} event{} printed; {} stream{} opened, {} reconnect{}; {how}",
        if printed == 1 { "" } else { "s" },
        stats.streams_opened,
        if stats.streams_opened == 1 { "" } else { "s" },
        stats.reconnects,
        if stats.reconnects == 1 { "" } else { "s" },
    ));
    Ok(outcome)
}
