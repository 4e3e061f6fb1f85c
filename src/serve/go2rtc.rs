//! The go2rtc-compatible subset, translated into the native handlers: the calls automations
//! send to go2rtc today, with go2rtc's shapes, except that stopping stops (a confirmed close,
//! after which nothing reconnects).

use super::App;
use super::native::{self, answer, not_found, usage};
use super::registry::{Audio, Queue};
use crate::audio::decode::Input;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct StreamQuery {
    dst: Option<String>,
    src: Option<String>,
}

/// `POST /api/streams?dst=CAM&src=ffmpeg:SOURCE#audio=..#input=..`: plays SOURCE (a file on
/// this machine or an http(s) URL) on CAM, answering with the stream once audio goes out; `src=` (empty) stops.
pub async fn play(State(app): State<Arc<App>>, Query(q): Query<StreamQuery>) -> Response {
    let Some(dst) = q.dst.filter(|d| !d.is_empty()) else { return native::refusal("", usage("dst= names the camera".into())) };
    let src = q.src.unwrap_or_default();
    if src.is_empty() {
        return stop(&app, &dst).await;
    }
    // The `#audio=`, `#input=` options (sent as %23) say how go2rtc's ffmpeg should read it;
    // hiktalk decodes what it is given and encodes what the channel speaks.
    let Some(source) = src.strip_prefix("ffmpeg:").map(|s| s.split('#').next().unwrap_or_default()) else {
        return native::refusal(&dst, usage(format!("src={:?}: only ffmpeg:FILE sources play here", clip(&src))));
    };
    match file(&app, &dst, source).await {
        Ok(audio) => started(&app, &dst, audio).await.unwrap_or_else(|| stream_answer(&app, &dst)),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct FfmpegQuery {
    dst: Option<String>,
    file: Option<String>,
    live: Option<String>,
    text: Option<String>,
    voice: Option<String>,
}

/// `POST /api/ffmpeg?dst=CAM&file=PATH|URL`, `&live=URL` or `&text=WORDS[&voice=NAME]`: 200 with
/// an empty body once audio goes out.
pub async fn ffmpeg(State(app): State<Arc<App>>, Query(q): Query<FfmpegQuery>) -> Response {
    let Some(dst) = q.dst.filter(|d| !d.is_empty()) else { return native::refusal("", usage("dst= names the camera".into())) };
    let audio = match (q.file.or(q.live), q.text) {
        (Some(path), None) => file(&app, &dst, &path).await,
        (None, Some(text)) => {
            let speech = json!({ "text": text, "voice": q.voice });
            match serde_json::from_value(speech) {
                Ok(s) => native::spoken_audio(&app, s).await.map_err(|e| native::refusal(&dst, e)),
                Err(e) => Err(native::refusal(&dst, usage(e.to_string()))),
            }
        }
        _ => Err(native::refusal(&dst, usage("give one of file=, live= or text=".into()))),
    };
    match audio {
        Ok(audio) => started(&app, &dst, audio).await.unwrap_or_else(|| axum::http::StatusCode::OK.into_response()),
        Err(r) => r,
    }
}

/// `DELETE /api/streams?src=CAM`: stops what plays on CAM (confirmed); the camera stays
/// configured.
pub async fn delete(State(app): State<Arc<App>>, Query(q): Query<StreamQuery>) -> Response {
    match q.src.filter(|s| !s.is_empty()) {
        Some(src) => stop(&app, &src).await,
        None => native::refusal("", usage("src= names the camera".into())),
    }
}

/// `GET /api/streams` (every camera) and `GET /api/streams?src=CAM` (one): go2rtc's shape, with
/// what plays as the producer.
pub async fn streams(State(app): State<Arc<App>>, Query(q): Query<StreamQuery>) -> Response {
    match q.src {
        Some(src) if app.cameras.contains(&src) => answer(200, stream(&app, &src)),
        Some(src) => not_found("stream", &src),
        None => {
            let all: HashMap<&String, Value> = app.cameras.iter().map(|c| (c, stream(&app, c))).collect();
            answer(200, json!(all))
        }
    }
}

fn stream_answer(app: &App, camera: &str) -> Response {
    answer(200, stream(app, camera))
}

/// One stream: the announcement playing (or queued) on the camera as its producer.
fn stream(app: &App, camera: &str) -> Value {
    let producers: Vec<Value> = app.registry.live(camera).iter().map(|s| json!({ "url": s.source })).collect();
    json!({ "producers": producers, "consumers": [] })
}

/// Starts `audio` on `camera` and waits until audio goes out: `None` then, else the failure's
/// answer (a play that ended without sending anything).
async fn started(app: &App, camera: &str, audio: Audio) -> Option<Response> {
    let sessions = match native::begin(app, camera, audio, Queue::Wait).await {
        Ok(s) => s,
        Err(r) => return Some(r),
    };
    futures_util::future::join_all(sessions.iter().map(|s| s.started())).await;
    for s in &sessions {
        if !s.is_live() {
            let o = s.ended().await;
            if o.exit_code != 0 {
                return Some(native::outcome(&o));
            }
        }
    }
    None
}

async fn stop(app: &App, camera: &str) -> Response {
    let live = match app.live(camera) {
        Ok(l) => l,
        Err(r) => return r,
    };
    live.iter().for_each(|s| s.stop());
    native::closed(app, live).await
}

/// A file on this machine, or an http(s) URL fetched whole, as a play's audio.
async fn file(app: &App, camera: &str, path: &str) -> Result<Audio, Response> {
    if path.starts_with("http://") || path.starts_with("https://") {
        let input = super::fetch::fetch(path, app.max_body).await.map_err(|e| native::refusal(camera, e))?;
        return Ok(Audio { input, source: format!("ffmpeg:{}", crate::config::redact(path)), talk: app.talk.clone() });
    }
    Ok(Audio { input: Input::Path(path.into()), source: format!("ffmpeg:{path}"), talk: app.talk.clone() })
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}
