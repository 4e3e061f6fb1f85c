//! One watcher per camera with `events = true`: its alertStream and call state (the `watch`
//! module, which reopens the stream with backoff) go onto the event bus as `device` events,
//! and the stream's health into the metrics.

use super::registry::Registry;
use crate::config::Target;
use crate::job::connect::connect_target;
use crate::job::{Context, SimAs};
use crate::outcome::{Ending, Outcome};
use crate::output::Output;
use crate::watch::{self, Flow, Seen, WatchOptions};
use std::sync::Arc;

/// Starts the watchers of the cameras among `targets` that ask for one; each ends with the
/// process's stop, or when its device cannot be watched (said on the bus).
pub fn spawn(registry: &Arc<Registry>, targets: Vec<Target>) {
    for target in targets.into_iter().filter(|t| matches!(t, Target::Camera(c) if c.events)) {
        tokio::spawn(run(registry.clone(), target));
    }
}

async fn run(registry: Arc<Registry>, target: Target) {
    let name = target.name().to_string();
    let ctx = Context {
        config: registry.config.clone(),
        out: Output { quiet: true, json: false, verbose: false },
        stop: registry.process_stop().child(),
    };
    let publish = |kind: &str, mut data: serde_json::Value| {
        data["camera"] = name.clone().into();
        data["type"] = data.get("type").cloned().unwrap_or_else(|| kind.into());
        registry.publish_device(data);
    };
    let ending = match connect_target(target, &registry.login, None, &ctx, SimAs::Camera).await {
        Err(e) => Outcome::failed(Some(name.clone()), &e).ending,
        Ok(c) => {
            let (ending, _) = watch::watch(&c.device, &WatchOptions::default(), &ctx.stop, |seen| {
                match seen {
                    Seen::Event(e) => publish("event", serde_json::to_value(e).unwrap_or_default()),
                    Seen::Connected => {
                        registry.metrics.stream_up(&name, true);
                        publish("connected", serde_json::json!({}));
                    }
                    Seen::Reconnecting { why, delay } => {
                        registry.metrics.stream_reconnecting(&name);
                        publish("reconnecting", serde_json::json!({ "why": why, "delay_secs": delay.as_secs_f64() }));
                    }
                    Seen::Note(n) => publish("note", serde_json::json!({ "message": n })),
                }
                Flow::More
            })
            .await;
            ending
        }
    };
    registry.metrics.stream_up(&name, false);
    registry.metrics.login(&name, &ending);
    // A rejected password is not tried again (devices lock accounts): the watcher ends, saying so.
    if !matches!(ending, Ending::UserStop { .. }) {
        let o = Outcome::new(Some(name.clone()), ending).to_json();
        publish("watch_ended", serde_json::json!({ "reason": o["reason"], "message": o["message"] }));
    }
}
