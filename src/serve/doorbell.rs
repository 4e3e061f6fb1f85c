//! Doorbell and device routes: one request each to one configured camera, confirmed from what
//! the device says afterwards (the library's `job::door`, as `hangup`, `reject`, `unlock` and
//! `volume` use it; `answer` without its talk).

use super::App;
use super::native::{outcome, refusal, usage};
use crate::isapi::intercom::CallCmd;
use crate::job::Context;
use crate::job::connect::Connected;
use crate::job::door::{self, Level};
use crate::outcome::Ending;
use crate::output::Output;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

/// `POST /api/cameras/{camera}/answer`: picks up a ring (confirmed on a call; no audio is
/// sent: `hangup` ends it).
pub async fn answer(State(app): State<Arc<App>>, Path(camera): Path<String>) -> Response {
    one(&app, &camera, |c| async move { door::signal(&c.device, CallCmd::Answer).await }).await
}

/// `POST /api/cameras/{camera}/hangup`: ends the call in progress (confirmed idle).
pub async fn hangup(State(app): State<Arc<App>>, Path(camera): Path<String>) -> Response {
    one(&app, &camera, |c| async move { door::signal(&c.device, CallCmd::HangUp).await }).await
}

/// `POST /api/cameras/{camera}/reject`: declines a ring (confirmed idle).
pub async fn reject(State(app): State<Arc<App>>, Path(camera): Path<String>) -> Response {
    one(&app, &camera, |c| async move { door::signal(&c.device, CallCmd::Reject).await }).await
}

#[derive(Deserialize)]
pub struct DoorQuery {
    door: Option<u32>,
}

/// `POST /api/cameras/{camera}/unlock[?door=N]` (door 1 by default).
pub async fn unlock(State(app): State<Arc<App>>, Path(camera): Path<String>, Query(q): Query<DoorQuery>) -> Response {
    let n = q.door.unwrap_or(1);
    one(&app, &camera, |c| async move { door::unlock(&c.device, n).await }).await
}

#[derive(Deserialize)]
pub struct VolumeQuery {
    level: Option<u32>,
    #[serde(default)]
    mic: bool,
    #[serde(default)]
    speaker: bool,
}

/// `GET /api/cameras/{camera}/volume`: the device's volumes.
pub async fn volumes(State(app): State<Arc<App>>, Path(camera): Path<String>) -> Response {
    volume(&app, &camera, None).await
}

/// `PUT /api/cameras/{camera}/volume?level=N[&mic=true|&speaker=true]`: sets one, read back.
pub async fn set_volume(State(app): State<Arc<App>>, Path(camera): Path<String>, Query(q): Query<VolumeQuery>) -> Response {
    let Some(level) = q.level else { return refusal(&camera, usage("level= is the volume to set".into())) };
    volume(&app, &camera, Some(Level { level, mic: q.mic, speaker: q.speaker })).await
}

async fn volume(app: &App, camera: &str, set: Option<Level>) -> Response {
    one(app, camera, |c| async move {
        let (line, vols) = door::volume(&c.device, c.channel.as_deref(), set).await?;
        Ok((line.unwrap_or_else(|| "volumes read".into()), serde_json::json!({ "volumes": vols })))
    })
    .await
}

/// Runs `f` on the one device `camera` names; its outcome as the answer.
async fn one<F, Fut>(app: &App, camera: &str, f: F) -> Response
where
    F: FnOnce(Connected) -> Fut,
    Fut: Future<Output = Result<(String, serde_json::Value), Ending>>,
{
    if app.groups.iter().any(|g| g == camera) && !app.cameras.iter().any(|c| c == camera) {
        return refusal(camera, usage(format!("{camera} is a group: these requests go to one camera")));
    }
    let target = match app.targets(camera).map(|mut t| t.remove(0)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ctx = Context {
        config: app.registry.config.clone(),
        out: Output { quiet: true, json: false, verbose: false },
        stop: app.registry.process_stop().child(),
    };
    let o = door::on_target(target, &app.registry.login, &ctx, f).await;
    outcome(&o)
}
