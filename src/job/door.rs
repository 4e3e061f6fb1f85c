//! Doorbell and device requests that are one request each, confirmed from what the device
//! says afterwards: end a call or a ring, open a door, set a volume (the shell's `hangup`,
//! `reject`, `unlock`, `volume`, and `serve`'s doorbell routes).

use crate::isapi::intercom::{CallCmd, CallState, Volumes};
use crate::isapi::{Device, IsapiError};
use crate::outcome::{Ending, Outcome};
use std::time::Duration;

/// How long a call state change may take to show in callStatus after a 200.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(3);
const CONFIRM_EVERY: Duration = Duration::from_millis(100);

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

/// Sends `cmd` and confirms the doorbell went idle (on a call, for `answer`). The outcome's
/// line says what moved.
pub async fn signal(device: &Device, cmd: CallCmd) -> Result<(String, serde_json::Value), Ending> {
    let want = if cmd == CallCmd::Answer { CallState::OnCall } else { CallState::Idle };
    let isapi = |e: IsapiError| Ending::from_isapi(&e);
    let before = device.call_state().await.map_err(isapi)?;
    if let Err(e) = device.call_signal(cmd).await {
        if !e.is_invalid_operation() {
            return Err(Ending::from_isapi(&e));
        }
        let now = device.call_state().await.map(|s| s.to_string()).unwrap_or_else(|_| before.to_string());
        let hint = match (cmd, now.as_str()) {
            (CallCmd::Answer, _) => "only a ringing doorbell can be answered",
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
    let after = confirm(device, &want, CONFIRM_WITHIN).await.map_err(isapi)?;
    let figures = serde_json::json!({ "command": cmd.as_str(), "call_state_before": before, "call_state": after });
    if after != want {
        return Err(Ending::Refused {
            detail: format!(
                "the doorbell accepted {} but callStatus still says {after} after {} s (with an indoor station the call may be held there)",
                cmd.as_str(),
                CONFIRM_WITHIN.as_secs()
            ),
        });
    }
    Ok((format!("{} sent; call state {before} -> {want} (confirmed)", cmd.as_str()), figures))
}

/// Opens `door` and says what the device answered.
pub async fn unlock(device: &Device, door: u32) -> Result<(String, serde_json::Value), Ending> {
    match device.open_door(door).await {
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
    }
}

/// A volume to set: the talk (or speaker) volume, the speaker's with `speaker`, the
/// microphone's with `mic`.
#[derive(Debug, Clone, Copy)]
pub struct Level {
    pub level: u32,
    pub mic: bool,
    pub speaker: bool,
}

/// The device's volumes, after setting `set` (read back) if given; with a set, the line that
/// says what moved.
pub async fn volume(device: &Device, channel: Option<&str>, set: Option<Level>) -> Result<(Option<String>, Volumes), Ending> {
    let isapi = |e: IsapiError| Ending::from_isapi(&e);
    let channel = match channel {
        Some(c) => c.to_string(),
        None => device
            .channels()
            .await
            .map_err(isapi)?
            .first()
            .map(|c| c.id.clone())
            .ok_or_else(|| Ending::Protocol { detail: "the device lists no talk channel".into() })?,
    };
    let before = device.volumes(&channel).await.map_err(isapi)?;
    let Some(args) = set else {
        return Ok((None, before));
    };
    let level = args.level;
    let intercom = before.audio_out.is_some();
    let (what, old) = if args.mic {
        ("microphone volume", before.microphone)
    } else if intercom && args.speaker {
        ("speaker volume", before.audio_out.and_then(|a| a.volume))
    } else if intercom {
        ("talk volume", before.audio_out.and_then(|a| a.talk_volume))
    } else {
        ("speaker volume", before.speaker)
    };
    if old.is_none() {
        return Err(Ending::Unsupported { detail: format!("the device has no {what} to set") });
    }
    let set = if args.mic {
        device.set_channel_volumes(&channel, None, Some(level)).await
    } else if intercom && args.speaker {
        device.set_audio_out(Some(level), None).await
    } else if intercom {
        device.set_audio_out(None, Some(level)).await
    } else {
        device.set_channel_volumes(&channel, Some(level), None).await
    };
    if let Err(e) = set {
        return Err(match &e {
            IsapiError::Status { http, status, .. } if (400..500).contains(http) => {
                let range =
                    before.audio_out.filter(|_| intercom && !args.mic).and_then(|a| Some(format!("; its range is {}-{}", a.min?, a.max?)));
                Ending::Refused {
                    detail: format!(
                        "the device refused {what} {level} (HTTP {http}{}){}",
                        status.as_ref().map(|s| format!(": {}", s.summary())).unwrap_or_default(),
                        range.unwrap_or_default()
                    ),
                }
            }
            _ => Ending::from_isapi(&e),
        });
    }
    let after = device.volumes(&channel).await.map_err(isapi)?;
    let now = if args.mic {
        after.microphone
    } else if intercom && args.speaker {
        after.audio_out.and_then(|a| a.volume)
    } else if intercom {
        after.audio_out.and_then(|a| a.talk_volume)
    } else {
        after.speaker
    };
    if now != Some(level) {
        return Err(Ending::Refused {
            detail: format!("the device accepted {what} {level} but reads back {}", now.map_or("nothing".into(), |v| v.to_string())),
        });
    }
    let old = old.map_or("-".into(), |v| v.to_string());
    Ok((Some(format!("{what} {old} -> {level} (read back)")), after))
}

/// Runs one of these requests on a resolved camera, from connecting to its outcome (`serve`'s
/// doorbell routes and its MQTT commands: the same outcome `--json` prints for the shell's).
pub async fn on_target<F, Fut>(target: crate::config::Target, login: &crate::cli::Login, ctx: &super::Context, f: F) -> Outcome
where
    F: FnOnce(super::Connected) -> Fut,
    Fut: Future<Output = Result<(String, serde_json::Value), Ending>>,
{
    let name = target.name().to_string();
    let connected = match super::connect::connect_target(target, login, None, ctx, super::SimAs::Camera).await {
        Ok(c) => c,
        Err(e) => return Outcome::failed(Some(name), &e),
    };
    match f(connected).await {
        Ok((line, figures)) => {
            let mut o = Outcome::new(Some(name), Ending::Done).with_figures(&figures);
            o.line = Some(line);
            o
        }
        Err(ending) => Outcome::new(Some(name), ending),
    }
}

/// The end of an answered call (`answer`, the handset): sends hangUp if the doorbell is still in
/// the call, and reads the state until idle. Ok: (sent hangUp, the state confirmed).
pub async fn hang_up(control: &Device) -> Result<(bool, CallState), String> {
    let state = control.call_state().await.map_err(|e| format!("reading the call state failed: {e}"))?;
    let sent = state == CallState::OnCall;
    if sent && let Err(e) = control.call_signal(CallCmd::HangUp).await {
        // Already over (the far side was quicker): not an error.
        if !e.is_invalid_operation() {
            return Err(format!("hangUp failed: {e}"));
        }
    }
    match confirm(control, &CallState::Idle, CONFIRM_WITHIN).await {
        Ok(CallState::Ring) if !sent => Ok((false, CallState::Ring)),
        Ok(s) if s == CallState::Idle => Ok((sent, s)),
        Ok(s) => Err(format!("after hangUp the doorbell still reports {s}")),
        Err(e) => Err(format!("reading the call state failed: {e}")),
    }
}
