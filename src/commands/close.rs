//! `hiktalk close`: closes a talk session stuck on a channel (the manual fix for any client).

use super::fleet;
use super::{Connected, Context};
use crate::cli::CloseArgs;
use crate::isapi::{Device, IsapiError, xml::ResponseStatus};
use crate::outcome::{Ending, Outcome};
use serde::Serialize;

/// One channel's close, as the device answered it.
#[derive(Serialize)]
struct Closed {
    channel: String,
    /// Whether a session was open before, on devices that say (`enabled`).
    session_was_open: Option<bool>,
    /// The device answered the close with an OK status.
    confirmed: bool,
    status: Option<ResponseStatus>,
    /// Why the close is not confirmed.
    error: Option<String>,
}

pub async fn run(args: CloseArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let members = fleet::connect_all(&args.cameras, &args.login, ctx).await?;
    let names = args.cameras.iter().map(|c| crate::config::display_name(c)).collect::<Vec<_>>().join(" ");
    let _closing = ctx.stop.hold(format!("{names}: a session may still be open: `hiktalk close {names}` clears it"));
    Ok(fleet::combine(fleet::each(members, || {}, close_one).await))
}

/// Closes the sessions of one device.
async fn close_one(Connected { device, name, channel, sim, .. }: Connected) -> Outcome {
    let outcome = match close_all(&device, channel.as_deref()).await {
        Ok(closed) => {
            // The first channel whose close is not confirmed decides the exit code.
            let ending = closed.iter().find_map(|c| c.failure.clone()).unwrap_or(Ending::Done);
            let lines: Vec<String> = closed.iter().map(|c| format!("{name}: channel {}", c.describe())).collect();
            let mut outcome = Outcome::new(Some(name), ending)
                .with_figures(&serde_json::json!({ "channels": closed.iter().map(|c| &c.closed).collect::<Vec<_>>() }));
            outcome.line = Some(lines.join("\nhiktalk: "));
            outcome
        }
        Err(ending) => Outcome::new(Some(name), ending),
    };
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    outcome
}

struct ChannelClose {
    closed: Closed,
    failure: Option<Ending>,
}

impl ChannelClose {
    fn describe(&self) -> String {
        let c = &self.closed;
        let was = match c.session_was_open {
            Some(true) => "a session was open",
            Some(false) => "no session was open",
            None => "the device does not say whether a session was open",
        };
        match &self.failure {
            None => format!("{}: {was}; closed, confirmed by the device", c.channel),
            Some(ending) => format!("{}: {was}; {}", c.channel, ending.describe()),
        }
    }
}

/// Closes the named channel, or every talk channel, each within `--timeout`.
async fn close_all(device: &Device, channel: Option<&str>) -> Result<Vec<ChannelClose>, Ending> {
    let channels = device.channels().await.map_err(|e| Ending::from_isapi(&e))?;
    let targets: Vec<_> = channels.iter().filter(|c| channel.is_none_or(|id| c.id == id)).collect();
    if targets.is_empty() {
        return Err(Ending::Protocol { detail: format!("the device has no talk channel {:?}", channel.unwrap_or_default()) });
    }
    let deadline = device.timeouts.request;
    let mut done = Vec::new();
    for ch in targets {
        let answer = tokio::time::timeout(deadline, device.close(&ch.id, None))
            .await
            .unwrap_or_else(|_| Err(IsapiError::Timeout { step: "PUT close".into(), after: deadline }));
        let (status, failure) = match answer {
            Ok(status) if status.is_ok() => (Some(status), None),
            Ok(status) => {
                let detail = format!("the device refused the close: {}; the session may still be open", status.summary());
                (Some(status), Some(Ending::Protocol { detail }))
            }
            Err(e) => (None, Some(Ending::from_isapi(&e))),
        };
        let error = failure.as_ref().map(Ending::describe);
        done.push(ChannelClose {
            closed: Closed { channel: ch.id.clone(), session_was_open: ch.enabled, confirmed: failure.is_none(), status, error },
            failure,
        });
    }
    Ok(done)
}
