//! The checks that read and never act: a doorbell's call state and doors, the volumes, and the
//! event stream's heartbeat. No call signal and no door command is sent: either would act on a
//! device in use.

use super::{Check, Options};
use crate::isapi::alert::{AlertStream, Item};
use crate::isapi::xml::DeviceInfo;
use crate::isapi::{Device, IsapiError};
use crate::quirks::{self, QuirkId};
use serde_json::json;
use tokio::time::Instant;

/// Whether the device calls itself a door station or intercom.
fn is_intercom(info: Option<&DeviceInfo>) -> bool {
    let kind = info.and_then(|i| i.device_type.as_deref()).unwrap_or("").to_ascii_lowercase();
    ["intercom", "vis", "station", "door"].iter().any(|k| kind.contains(k))
}

/// The call state, the doors and the volumes.
pub async fn call_and_doors(device: &Device, info: Option<&DeviceInfo>, found: &mut Vec<QuirkId>) -> Vec<Check> {
    let intercom = is_intercom(info);
    let mut checks = Vec::new();
    let call = device.call_state().await;
    checks.push(match &call {
        Ok(state) => Check::pass(
            "call_state",
            format!("call state {state}; callStatus and callSignal exist (no signal sent: it would act on a call)"),
        )
        .with(json!({ "call_state": state.as_str() })),
        Err(IsapiError::NotSupported { .. }) if intercom => {
            found.push(QuirkId::NoCallControl);
            let q = quirks::get(QuirkId::NoCallControl);
            Check::warn("call_state", format!("this door station {}; {}", q.symptom, q.behaviour), q.advice)
        }
        Err(IsapiError::NotSupported { .. }) => Check::skipped("call_state", "not a doorbell (no callStatus)"),
        Err(e) => Check::fail("call_state", e.to_string(), "`hiktalk status -v` shows the request; ring detection will not work"),
    });
    let doorbell = intercom || call.is_ok();
    checks.push(if !doorbell {
        Check::skipped("doors", "not a door station")
    } else {
        match device.door_capabilities().await {
            Ok(Some(caps)) => Check::pass(
                "doors",
                format!(
                    "{} door{} by RemoteControl/door ({})",
                    caps.doors.map_or("some".to_string(), |d| d.to_string()),
                    if caps.doors == Some(1) { "" } else { "s" },
                    caps.commands.join(", ")
                ),
            )
            .with(json!({ "api": "remoteControl", "doors": caps.doors, "commands": caps.commands })),
            Ok(None) => Check::warn(
                "doors",
                "no RemoteControl/door: `hiktalk unlock` falls back to remoteOpenDoor (not tried: it would open the door)",
                "try `hiktalk unlock` while someone watches the door",
            )
            .with(json!({ "api": "remoteOpenDoor?" })),
            Err(e) => Check::fail("doors", e.to_string(), "`hiktalk unlock` may not work on this unit"),
        }
    });
    checks.push(volumes(device, &channel_of(device).await).await);
    checks
}

async fn channel_of(device: &Device) -> String {
    device.channels().await.ok().and_then(|l| l.first().map(|c| c.id.clone())).unwrap_or_else(|| "1".into())
}

async fn volumes(device: &Device, channel: &str) -> Check {
    let swapped = quirks::get(QuirkId::SwappedVolumes).advice;
    match device.volumes(channel).await {
        Ok(v) => {
            let mut said = Vec::new();
            if let Some(a) = &v.audio_out {
                let n = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
                said.push(format!("talk {} and speaker {} (AudioOut)", n(a.talk_volume), n(a.volume)));
            }
            if v.speaker.is_some() || v.microphone.is_some() {
                let n = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
                said.push(format!("channel speaker {} and microphone {}", n(v.speaker), n(v.microphone)));
            }
            if said.is_empty() {
                Check::skipped("volumes", "the device states no volume")
            } else {
                Check::pass("volumes", said.join("; ")).advise(format!("some firmware swaps the two: {swapped}"))
            }
            .with(json!({ "volumes": v }))
        }
        Err(e) => Check::fail("volumes", e.to_string(), "`hiktalk volume` will not work on this unit"),
    }
}

/// The event stream: a heartbeat within `opts.heartbeat` (events before it count as life too,
/// but a heartbeat is what clients time the stream by).
pub async fn events(device: &Device, opts: &Options) -> Check {
    let started = Instant::now();
    let waited = async {
        let mut stream = AlertStream::open(device, opts.heartbeat).await.map_err(Err)?;
        let mut events = 0u32;
        loop {
            match stream.next().await {
                Ok(Item::Heartbeat) => return Ok(events),
                Ok(Item::Event(_)) => events += 1,
                Ok(Item::Skipped | Item::Unreadable(_)) => {}
                Err(end) => return Err(Ok(end)),
            }
        }
    };
    let advice = "`hiktalk events` and `wait-ring` reconnect such a stream, but may miss events; check the device's network path";
    match tokio::time::timeout(opts.heartbeat, waited).await {
        Ok(Ok(events)) => Check::pass("events", format!("alertStream heartbeat after {:.1} s", started.elapsed().as_secs_f64()))
            .with(json!({ "heartbeat_after_secs": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0, "events_before": events })),
        Ok(Err(Err(IsapiError::NotSupported { .. }))) => Check::skipped("events", "the device has no alertStream"),
        Ok(Err(Err(e))) => Check::fail("events", format!("the event stream did not open: {e}"), advice),
        Ok(Err(Ok(end))) => Check::fail("events", end.to_string(), advice),
        Err(_) => Check::fail("events", format!("no heartbeat within {:.0} s", opts.heartbeat.as_secs_f64()), advice),
    }
}
