//! `hiktalk sim`: serve one simulated device until SIGINT/SIGTERM, then print the summary.

use super::Context;
use crate::cli::sim::SimArgs;
use crate::outcome::{Ending, Outcome};

pub async fn run(args: SimArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let config: crate::sim::SimConfig = args.into();
    let handle = crate::sim::start(config).await.map_err(|e| Ending::Usage { detail: e.to_string() })?;
    // Tests and scripts read the address from this exact first line (on stderr with --json,
    // whose stdout carries only the final JSON object).
    let listening = format!("hiktalk-sim listening on http://{}", handle.addr());
    if ctx.out.json {
        crate::output::stderr(&listening)
    } else {
        crate::output::stdout(&listening)
    }
    let signal = ctx.stop.wait().await;
    let summary = handle.shutdown().await;
    let mut outcome = Outcome::new(None, Ending::Done).with_figures(&serde_json::json!({ "summary": summary, "stopped_by": signal }));
    outcome.stdout = Some(summary.to_string());
    Ok(outcome)
}
