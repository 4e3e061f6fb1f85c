//! `hiktalk hangup`, `reject`, `wait-ring` and `unlock`: one doorbell request each, confirmed
//! from what the device says afterwards.

use super::{Connected, Context, SimAs, SimCall};
use crate::cli::{CallArgs, UnlockArgs, WaitRingArgs, WatchArgs};
use crate::isapi::intercom::{CallCmd, CallState};
use crate::isapi::{Device, IsapiError};
use crate::outcome::{Ending, Outcome};
use crate::watch::{self, WatchOptions};
use std::time::Duration;

/// When the simulated door station (`wait-ring sim`) rings: soon, but after the wait has begun.
const SIM_RING: Duration = Duration::from_secs(2);

/// How long a call state change may take to show in callStatus after a 200.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(3);
const CONFIRM_EVERY: Duration = Duration::from_millis(100);

/// The watcher's options from the command line.
pub fn watch_options(w: &WatchArgs) -> WatchOptions {
    WatchOptions {
        idle: Duration::from_secs_f64(w.heartbeat_timeout),
        poll: Duration::from_secs_f64(w.poll_interval),
        ..WatchOptions::default()
    }
}

/// Reads callStatus until it says `want` or `within` passes; the last state read.
pub async fn confirm(device: &Device, want: &CallState, within: Duration) -> Result<CallState, IsapiError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let state = device.call_state().await?;
        if &state == want || tokio::time::Instant::now() >= deadline {
            return Ok(state);
        }
        tokio::time::sleep(CONFIRM_EVERY).await;
    }
}

/// `hangup` (a call in progress) and `reject` (a ring).
pub async fn signal(args: CallArgs, cmd: CallCmd, ctx: &Context) -> anyhow::Result<Outcome> {
    let call = if cmd == CallCmd::HangUp { SimCall::OnCall } else { SimCall::Ringing };
    let c = super::connect_as(&args.camera, &args.login, ctx, SimAs::DoorStation(call)).await?;
    let result = send_signal(&c.device, cmd).await;
    finish(c, result).await
}

/// Sends `cmd` and confirms the doorbell went idle. The outcome's line says what moved.
async fn send_signal(device: &Device, cmd: CallCmd) -> Result<(String, serde_json::Value), Ending> {
    let isapi = |e: IsapiError| Ending::from_isapi(&e);
    let before = device.call_state().await.map_err(isapi)?;
    if let Err(e) = device.call_signal(cmd).await {
        if !e.is_invalid_operation() {
            return Err(Ending::from_isapi(&e));
        }
        let now = device.call_state().await.map(|s| s.to_string()).unwrap_or_else(|_| before.to_string());
        let hint = match (cmd, now.as_str()) {
            (CallCmd::HangUp, "ring") => "the doorbell is ringing, not in a call: `hiktalk reject` ends a ring",
            (CallCmd::Reject, "onCall") => "the call was answered: `hiktalk hangup` ends it",
            (_, "idle") => "there is no call or ring to end",
            _ => "the call is not in a state where this applies",
        };
        let status = match &e {
            IsapiError::Status { status: Some(s), .. } => s.summary(),
            other => other.to_string(),
        };
        return Err(Ending::Refused { detail: format!("the doorbell refused {}: {status}; call state {now}: {hint}", cmd.as_str()) });
    }
    let after = confirm(device, &CallState::Idle, CONFIRM_WITHIN).await.map_err(isapi)?;
    let figures = serde_json::json!({ "command": cmd.as_str(), "call_state_before": before, "call_state": after });
    if after != CallState::Idle {
        return Err(Ending::Refused {
            detail: format!(
                "the doorbell accepted {} but callStatus still says {after} after {} s (with an indoor station the call may be held there)",
                cmd.as_str(),
                CONFIRM_WITHIN.as_secs()
            ),
        });
    }
    Ok((format!("{} sent; call state {before} -> idle (confirmed)", cmd.as_str()), figures))
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
    let result = match c.device.open_door(door).await {
        Ok(d) => {
            let line = format!("door {door} opened; the device confirmed ({} via {})", d.status.summary(), d.api);
            Ok((line, serde_json::json!({ "door": door, "api": d.api, "status": d.status })))
        }
        // A 4xx, or a 2xx whose status says no (statusCode 4 invalidOperation): a refusal.
        Err(IsapiError::Status { http, status, .. })
            if (400..500).contains(&http) || (200..300).contains(&http) && status.as_ref().is_some_and(|s| !s.is_ok()) =>
        {
            Err(Ending::Refused {
                detail: format!(
                    "the device refused to open door {door} (HTTP {http}{}); check --door against the unit's doors",
                    status.map(|s| format!(": {}", s.summary())).unwrap_or_default()
                ),
            })
        }
        Err(e) => Err(Ending::from_isapi(&e)),
    };
    finish(c, result).await
}

/// `hiktalk wait-ring`: blocks until the next ring, then says who rings.
pub async fn wait_ring(args: WaitRingArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect_as(&args.camera, &args.login, ctx, SimAs::DoorStation(SimCall::RingsIn(SIM_RING))).await?;
    let opts = watch_options(&args.watch);
    let limit = args.wait_timeout.map(Duration::from_secs_f64);
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
