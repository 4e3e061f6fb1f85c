//! `hiktalk check`: the library's checks on every named device at once, each device's report
//! as its lines (or its compatibility-table row), and one exit code.

use super::fleet;
use super::{Connected, Context};
use crate::check::{self, Options, Report};
use crate::cli::CheckArgs;
use crate::outcome::{Ending, Outcome, exit};

pub async fn run(args: CheckArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let members = fleet::connect_all(&args.cameras, &args.login, ctx).await?;
    let opts = Options { idle: args.idle, ..Options::default() };
    let outcomes = fleet::each(members, || {}, |c| check_one(c, &opts, args.markdown, ctx)).await;
    // Devices whose checks failed and devices that passed: the check's own code, not "some
    // devices failed", unless a device failed otherwise.
    let only_checks = outcomes.iter().all(|o| [exit::OK, exit::CHECK_FAILED].contains(&o.exit_code));
    let any_failed = outcomes.iter().any(|o| o.exit_code == exit::CHECK_FAILED);
    let mut outcome = fleet::combine(outcomes);
    if only_checks && any_failed {
        outcome.exit_code = exit::CHECK_FAILED;
    }
    Ok(outcome)
}

async fn check_one(Connected { device, name, channel, sim, .. }: Connected, opts: &Options, markdown: bool, ctx: &Context) -> Outcome {
    let opts = Options { channel, ..opts.clone() };
    let report = check::run(&device, &name, &opts, &ctx.stop).await;
    let outcome = outcome_of(&report, markdown);
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    outcome
}

fn outcome_of(report: &Report, markdown: bool) -> Outcome {
    let ending = match report.failed {
        0 => Ending::Done,
        failed => Ending::CheckFailed { failed, total: report.checks.len() },
    };
    let mut outcome = Outcome::new(Some(report.device.clone()), ending).with_figures(report);
    outcome.stdout = Some(if markdown { report.markdown_row() } else { report.lines() });
    outcome.line = Some(report.summary());
    outcome
}
