//! `hiktalk close`: closes a talk session stuck on a channel (the manual fix for any client).

use super::{Connected, Output, connect, report_failure};
use crate::cli::CloseArgs;
use crate::isapi::{Device, IsapiError, xml::ResponseStatus};
use crate::session::{CLOSE_DEADLINE, Ending, ending::exit};
use serde_json::json;
use std::io::Write;
use std::path::Path;

pub async fn run(args: CloseArgs, config: Option<&Path>, out: Output) -> anyhow::Result<i32> {
    let Connected { device, name, channel, sim, .. } = connect(&args.camera, config, false, out).await?;
    let code = match close_all(&device, channel.as_deref()).await {
        Ok(done) => {
            for (id, enabled, status) in &done {
                let was = match enabled {
                    Some(true) => "a session was open",
                    Some(false) => "no session was open",
                    None => "the device does not say whether a session was open",
                };
                if out.json {
                    // A closed stdout (`| head`) must not panic as println! would.
                    let _ = writeln!(
                        std::io::stdout(),
                        "{}",
                        json!({"device": name, "channel": id, "session_was_open": enabled, "status": status})
                    );
                } else if !out.quiet {
                    eprintln!("hiktalk: {name} channel {id}: {was}; the close was answered {}", status.summary());
                }
            }
            exit::OK
        }
        Err(ending) => report_failure(&name, &ending, out),
    };
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(code)
}

/// Closes the named channel, or every talk channel; returns each one's prior state and answer.
async fn close_all(device: &Device, channel: Option<&str>) -> Result<Vec<(String, Option<bool>, ResponseStatus)>, Ending> {
    let channels = device.channels().await.map_err(|e| Ending::from_isapi(&e))?;
    let targets: Vec<_> = channels.iter().filter(|c| channel.is_none_or(|id| c.id == id)).collect();
    if targets.is_empty() {
        return Err(Ending::Protocol { detail: format!("the device has no talk channel {:?}", channel.unwrap_or_default()) });
    }
    let mut done = Vec::new();
    for ch in targets {
        let status = tokio::time::timeout(CLOSE_DEADLINE, device.close(&ch.id, None))
            .await
            .map_err(|_| IsapiError::Timeout { step: "PUT close".into(), after: CLOSE_DEADLINE })
            .and_then(|r| r)
            .map_err(|e| Ending::from_isapi(&e))?;
        done.push((ch.id.clone(), ch.enabled, status));
    }
    Ok(done)
}
