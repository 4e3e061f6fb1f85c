//! The native API: plays, sessions and their closes, in JSON whose outcomes are `--json`'s.

use super::App;
use super::registry::{Audio, Queue, Refused, Session};
use crate::audio::decode::Input;
use crate::audio::speech::{self, Voice};
use crate::outcome::{Ending, Outcome, exit};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// A JSON answer.
pub fn answer(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

/// An outcome as its HTTP answer: the exit code's status, `--json`'s object.
pub fn outcome(o: &Outcome) -> Response {
    answer(exit::http_status(o.exit_code), o.to_json())
}

/// A failure before anything was started, for `camera`.
pub fn refusal(camera: &str, ending: Ending) -> Response {
    outcome(&Outcome::new(Some(camera.to_string()), ending))
}

#[derive(Deserialize)]
pub struct PlayQuery {
    #[serde(default)]
    wait: bool,
    queue: Option<String>,
}

/// The JSON form of a play: words to speak, or an http(s) URL to fetch and play.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speech {
    text: Option<String>,
    url: Option<String>,
    voice: Option<String>,
    volume_db: Option<f32>,
}

/// `POST /api/cameras/{camera|group}/play`: the body is the audio, or JSON with text to speak.
pub async fn play(
    State(app): State<Arc<App>>,
    Path(camera): Path<String>,
    Query(q): Query<PlayQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let queue = match q.queue.as_deref() {
        None | Some("wait") => Queue::Wait,
        Some("interrupt") => Queue::Interrupt,
        Some("reject") => Queue::Reject,
        Some(other) => return refusal(&camera, usage(format!("queue={other:?} is not one of wait, interrupt, reject"))),
    };
    let json_body = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/json"));
    let audio = match json_body {
        true => match serde_json::from_slice::<Speech>(&body) {
            Ok(s) => match spoken_audio(&app, s).await {
                Ok(a) => a,
                Err(e) => return refusal(&camera, e),
            },
            Err(e) => return refusal(&camera, usage(format!("the JSON body: {e}"))),
        },
        false if body.is_empty() => return refusal(&camera, usage("the body is empty: send the audio, or JSON with \"text\"".into())),
        false => Audio {
            // One copy, straight into what the decoder shares (the body goes when this returns).
            input: Input::Memory { what: "the uploaded audio".into(), bytes: Arc::from(&body[..]) },
            source: "upload".into(),
            talk: app.talk.clone(),
        },
    };
    start(&app, &camera, audio, queue, q.wait).await
}

/// Speech made off the async threads, before any device is touched.
pub async fn spoken_audio(app: &App, s: Speech) -> Result<Audio, Ending> {
    let mut talk = app.talk.clone();
    if let Some(db) = s.volume_db {
        if !crate::audio::shape::GAIN_DB.contains(&db) {
            return Err(usage(format!("volume_db {db} is outside {:?}", crate::audio::shape::GAIN_DB)));
        }
        talk.volume = db;
    }
    let (input, source) = match (s.text, s.url) {
        (Some(text), None) => {
            let voice = Voice { name: s.voice, rate: None };
            let input = tokio::task::spawn_blocking(move || speech::synthesize(&text, &voice))
                .await
                .map_err(|e| Ending::Internal { detail: format!("the speech engine's thread failed: {e}") })?
                .map_err(|e| Ending::from_error(&anyhow::Error::from(e)))?;
            (input, "text".to_string())
        }
        (None, Some(url)) => (super::fetch::fetch(&url, app.max_body).await?, crate::config::redact(&url)),
        _ => return Err(usage("give one of \"text\" or \"url\"".into())),
    };
    Ok(Audio { input, source, talk })
}

pub fn usage(detail: String) -> Ending {
    Ending::Usage { detail }
}

/// Starts `audio` on `camera` (a camera or a group): 202 with the session ids, or with `wait`
/// the outcome once playback ended.
pub async fn start(app: &App, camera: &str, audio: Audio, queue: Queue, wait: bool) -> Response {
    let sessions = match begin(app, camera, audio, queue).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if wait {
        let outcomes = futures_util::future::join_all(sessions.iter().map(|s| s.ended())).await;
        let mut o = crate::job::fleet::combine(outcomes);
        o.figures.insert("sessions".into(), ids(&sessions));
        return outcome(&o);
    }
    let location = sessions.first().map(|s| format!("/api/sessions/{}", s.id)).unwrap_or_default();
    let body = json!({ "sessions": ids(&sessions), "state": "queued" });
    (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(body)).into_response()
}

/// The sessions of a play, or the answer that refuses it.
pub async fn begin(app: &App, camera: &str, audio: Audio, queue: Queue) -> Result<Vec<Arc<Session>>, Response> {
    let targets = app.targets(camera)?;
    app.registry.play(targets, audio, queue).await.map_err(|r| match r {
        Refused::Busy(name) => {
            refusal(&name, Ending::Busy { detail: format!("{name} is playing an announcement and the play asked queue=reject") })
        }
        Refused::QueueFull(name) => answer(
            429,
            json!({ "reason": "queue_full", "device": name, "message": format!("{name} holds {} plays already; try again when one ended", super::registry::QUEUE_MAX) }),
        ),
        Refused::ShuttingDown => {
            answer(503, json!({ "reason": "shutting_down", "message": "hiktalk serve is closing its sessions to exit" }))
        }
    })
}

fn ids(sessions: &[Arc<Session>]) -> Value {
    sessions.iter().map(|s| Value::String(s.id.to_string())).collect()
}

/// `GET /api/sessions`
pub async fn sessions(State(app): State<Arc<App>>) -> Response {
    answer(200, json!({ "sessions": app.registry.all().iter().map(|s| s.to_json()).collect::<Vec<_>>() }))
}

/// `GET /api/sessions/{id}`
pub async fn session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.registry.get(&id) {
        Some(s) => answer(200, s.to_json()),
        None => not_found("session", &id),
    }
}

pub fn not_found(what: &str, name: &str) -> Response {
    let name: String = name.chars().take(64).collect();
    answer(404, json!({ "reason": "not_found", "message": format!("no {what} {name:?}") }))
}

/// `DELETE /api/sessions/{id}`: answered once the device confirmed the close (504 if not).
pub async fn stop_session(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let Some(s) = app.registry.get(&id) else { return not_found("session", &id) };
    s.stop();
    closed(&app, vec![s]).await
}

/// `DELETE /api/cameras/{camera}/sessions`: every session of the camera, each confirmed.
pub async fn stop_camera(State(app): State<Arc<App>>, Path(camera): Path<String>) -> Response {
    let live = match app.live(&camera) {
        Ok(l) => l,
        Err(r) => return r,
    };
    live.iter().for_each(|s| s.stop());
    closed(&app, live).await
}

/// Waits for `sessions` to be over: 200 with their outcomes when every close was confirmed,
/// else 504.
pub async fn closed(app: &App, sessions: Vec<Arc<Session>>) -> Response {
    let ended = futures_util::future::join_all(sessions.iter().map(|s| s.ended()));
    let outcomes = match tokio::time::timeout(app.close_within, ended).await {
        Ok(o) => o,
        Err(_) => {
            return answer(
                504,
                json!({ "reason": "close_unconfirmed", "message": "the devices did not confirm the close in time", "sessions": ids(&sessions) }),
            );
        }
    };
    let confirmed = outcomes.iter().all(close_confirmed);
    let body = json!({ "closed": confirmed, "sessions": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>() });
    answer(if confirmed { 200 } else { 504 }, body)
}

/// Whether the device confirmed the close of every session the outcome opened.
pub fn close_confirmed(o: &Outcome) -> bool {
    o.figures.get("close_error").is_none_or(Value::is_null)
}
