//! `hiktalk hangup`, `reject`, `wait-ring` and `unlock`: one doorbell request each, confirmed
//! from what the device says afterwards.

use super::{Connected, Context, SimAs, SimCall};
use crate::cli::{CallArgs, UnlockArgs, WaitRingArgs, WatchArgs};
use crate::isapi::intercom::CallCmd;
use crate::job::door;
use crate::outcome::{Ending, Outcome};
use crate::watch::{self, WatchOptions};
use std::io::IsTerminal;
use std::time::Duration;

/// When the simulated door station (`wait-ring sim`) rings: soon, but after the wait has begun.
const SIM_RING: Duration = Duration::from_secs(2);

/// The watcher's options from the command line.
pub fn watch_options(w: &WatchArgs) -> WatchOptions {
    WatchOptions {
        idle: Duration::from_secs_f64(w.heartbeat_timeout),
        poll: Duration::from_secs_f64(w.poll_interval),
        ..WatchOptions::default()
    }
}

/// `hangup` (a call in progress) and `reject` (a ring).
pub async fn signal(args: CallArgs, cmd: CallCmd, ctx: &Context) -> anyhow::Result<Outcome> {
    let call = if cmd == CallCmd::HangUp { SimCall::OnCall } else { SimCall::Ringing };
    let c = super::connect_as(&args.camera, &args.login, ctx, SimAs::DoorStation(call)).await?;
    let undone = match cmd {
        CallCmd::Reject => format!("{n}: the doorbell may still ring: `hiktalk reject {n}` ends the ring", n = c.name),
        _ => format!("{n}: the call may still be up: `hiktalk hangup {n}` ends it", n = c.name),
    };
    let _sending = ctx.stop.hold(undone);
    let result = door::signal(&c.device, cmd).await;
    finish(c, result).await
}

/// One device's outcome from a one-shot result; the embedded simulator, if any, is stopped.
async fn finish(c: Connected, result: Result<(String, serde_json::Value), Ending>) -> anyhow::Result<Outcome> {
    let outcome = match result {
        Ok((line, figures)) => {
            let mut o = Outcome::new(Some(c.name.clone()), Ending::Done).with_figures(&figures);
            o.line = Some(format!("{}: {line}", c.name));
            o
        }
        Err(ending) => Outcome::new(Some(c.name.clone()), ending),
    };
    if let Some(sim) = c.sim {
        sim.shutdown().await;
    }
    Ok(outcome)
}

/// `hiktalk unlock`: opens the door and reports what the device answered.
pub async fn unlock(args: UnlockArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect_as(&args.camera, &args.login, ctx, SimAs::DoorStation(SimCall::Idle)).await?;
    let door = args.door;
    // A request cut short may still open the door: nothing closes it, so it is said.
    let _opening = ctx.stop.hold(format!("{}: door {door} may open anyway: the request was sent", c.name));
    let result = door::unlock(&c.device, door).await;
    finish(c, result).await
}

/// `hiktalk wait-ring`: blocks until the next ring, then says who rings.
pub async fn wait_ring(args: WaitRingArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect_as(&args.camera, &args.login, ctx, SimAs::DoorStation(SimCall::RingsIn(SIM_RING))).await?;
    let opts = watch_options(&args.watch);
    let limit = args.wait_timeout.map(Duration::from_secs_f64);
    // A script gets the ring on stdout and nothing else; a person at a terminal is told what
    // the silence means.
    if std::io::stderr().is_terminal() {
        let until = limit.map(|l| format!(" (at most {:.0} s)", l.as_secs_f64())).unwrap_or_default();
        ctx.out.note(&format!("{}: waiting for a ring{until}; Ctrl-C to stop", c.name));
    }
    let result = match watch::wait_ring(&c.device, &opts, &ctx.stop, limit).await {
        Ok(ring) => {
            let caller = c.device.caller_info().await.ok().flatten();
            let mut line = format!("ringing (seen on {}", ring.source);
            if let Some(t) = &ring.time {
                line.push_str(&format!(" at {t}"));
            }
            line.push(')');
            if let Some(who) = caller.as_ref().and_then(describe_caller) {
                line.push_str(&format!("; caller: {who}"));
            }
            Ok((line, serde_json::json!({ "ring": ring, "caller": caller })))
        }
        Err(ending) => Err(ending),
    };
    let mut outcome = finish(c, result).await?;
    // The ring is the command's data: on stdout, for scripts that read it.
    if outcome.exit_code == 0 {
        outcome.stdout = outcome.line.take();
    }
    Ok(outcome)
}

/// `building 1, floor 1, unit 1, device 1` from a `CallerInfo`.
pub fn describe_caller(info: &serde_json::Value) -> Option<String> {
    let parts: Vec<String> =
        [("buildingNo", "building"), ("floorNo", "floor"), ("zoneNo", "zone"), ("unitNo", "unit"), ("devNo", "device")]
            .iter()
            .filter_map(|(k, label)| {
                let v = info.get(*k)?;
                let v = v.as_i64().map(|n| n.to_string()).or_else(|| v.as_str().map(str::to_string))?;
                Some(format!("{label} {v}"))
            })
            .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}
