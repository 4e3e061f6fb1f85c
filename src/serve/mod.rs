//! `serve`: the configured cameras as an HTTP service. A router that reads as a table of
//! routes, its state in one [`App`], the native handlers in `native`, go2rtc's in `go2rtc`, and
//! the sessions of every front end in one [`registry::Registry`].

// A helper's error is the answer that refuses the request: sent at once, never stored.
#![allow(clippy::result_large_err)]

pub mod devices;
pub mod doorbell;
pub mod fetch;
pub mod go2rtc;
pub mod handset;
pub mod listen;
pub mod metrics;
pub mod mqtt;
pub mod native;
pub mod page;
pub mod registry;
pub mod tls;

use crate::cli::TalkArgs;
use crate::config::{self, Target};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::broadcast;

/// Everything the handlers share.
pub struct App {
    pub registry: Arc<Registry>,
    /// How every session talks (serve's own flags).
    pub talk: TalkArgs,
    /// The configured cameras (not groups): go2rtc's streams.
    pub cameras: Vec<String>,
    /// The configured groups.
    pub groups: Vec<String>,
    /// `Authorization: Bearer` wants this, when set.
    pub token: Option<String>,
    /// How long a DELETE waits for the devices to confirm their closes.
    pub close_within: Duration,
    /// The largest upload or fetched audio, in bytes.
    pub max_body: usize,
    /// Cameras given as URLs are reachable too (`--allow-urls`).
    pub allow_urls: bool,
    /// Room for `/api/events` clients; one more is refused.
    pub sse_clients: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// The devices a configured camera or group names, or with `--allow-urls` a camera URL
    /// (`http(s)://[user@]host[:port][/channel]`, as the command line takes it). Any other name
    /// (`sim`, a bare host, a path) is not reachable through the API: 404; a URL without
    /// `--allow-urls` is refused with 403.
    pub fn targets(&self, name: &str) -> Result<Vec<Target>, Response> {
        if !self.cameras.iter().chain(&self.groups).any(|c| c == name) {
            if !is_url(name) {
                return Err(native::not_found("camera", name));
            }
            if !self.allow_urls {
                let message =
                    "cameras given as URLs are reachable only when hiktalk serve runs with --allow-urls; name a configured camera";
                return Err(native::answer(403, serde_json::json!({ "reason": "url_not_allowed", "message": message })));
            }
        }
        config::resolve_all(&[name.to_string()], self.registry.config.as_deref())
            .map_err(|e| native::refusal(&config::display_name(name), crate::outcome::Ending::from_error(&e.into())))
    }

    /// The sessions not yet closed of every device `name` reaches.
    pub fn live(&self, name: &str) -> Result<Vec<Arc<registry::Session>>, Response> {
        Ok(self.targets(name)?.iter().flat_map(|t| self.registry.live(t.name())).collect())
    }
}

/// A camera URL: what `--allow-urls` lets through.
fn is_url(name: &str) -> bool {
    let lower = name.chars().take(8).collect::<String>().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Limits on what one client can make the service hold.
pub struct Limits {
    pub body: usize,
    pub requests: usize,
}

/// The routes.
pub fn router(app: Arc<App>, limits: Limits) -> Router {
    Router::new()
        .route("/api/cameras/{camera}/play", post(native::play))
        .route("/api/cameras/{camera}/sessions", delete(native::stop_camera))
        .route("/api/cameras/{camera}/answer", post(doorbell::answer))
        .route("/api/cameras/{camera}/hangup", post(doorbell::hangup))
        .route("/api/cameras/{camera}/reject", post(doorbell::reject))
        .route("/api/cameras/{camera}/unlock", post(doorbell::unlock))
        .route("/api/cameras/{camera}/volume", get(doorbell::volumes).put(doorbell::set_volume))
        .route("/api/sessions", get(native::sessions))
        .route("/api/sessions/{id}", get(native::session).delete(native::stop_session))
        .route("/api/streams", get(go2rtc::streams).post(go2rtc::play).delete(go2rtc::delete))
        .route("/api/ffmpeg", post(go2rtc::ffmpeg))
        .route("/api/events", get(events))
        .route("/metrics", get(metrics))
        .route("/api/handset", get(page::overview))
        .route("/api/cameras/{camera}/call", get(handset::call))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorized))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(page::index))
        .route("/handset.js", get(page::script))
        .route("/handset.css", get(page::style))
        .route("/worklet.js", get(page::worklet))
        .layer(DefaultBodyLimit::max(limits.body))
        .layer(tower::limit::ConcurrencyLimitLayer::new(limits.requests))
        .with_state(app)
}

/// With a token, every route but `/healthz` and the page's files wants `Authorization: Bearer
/// TOKEN` (a browser's WebSocket: the token as a subprotocol, see `handset`), compared in
/// constant time.
async fn authorized(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let headers = request.headers();
        let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        let given = bearer.map(|g| g.as_bytes().to_vec()).or_else(|| handset::subprotocol_token(headers));
        let ok = given.is_some_and(|g| bool::from(g.ct_eq(token.as_bytes())));
        if !ok {
            let body = serde_json::json!({ "reason": "unauthorized", "message": "this hiktalk serve wants Authorization: Bearer TOKEN (see --token-file)" });
            let mut r = native::answer(401, body);
            r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(request).await
}

/// `GET /api/events`: the session lifecycle as Server-Sent Events (`session`, one JSON object
/// per state change: queued, opening, playing, closing, closed with its outcome), and what the
/// watched cameras say (`device`: ring, call state, motion, the stream up or reconnecting).
async fn events(State(app): State<Arc<App>>) -> Response {
    let Ok(permit) = app.sse_clients.clone().try_acquire_owned() else {
        return native::answer(503, serde_json::json!({ "reason": "too_many_clients", "message": "too many /api/events clients" }));
    };
    let (rx, stop) = (app.registry.subscribe(), app.registry.process_stop());
    // The stream ends when the process stops, or the server would wait for it forever.
    let stream = futures_util::stream::unfold((rx, stop, permit), |(mut rx, stop, permit)| async move {
        loop {
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = stop.wait() => return None,
            };
            match received {
                Ok(v) => {
                    let event = Event::default().event(v.kind).data(v.data.to_string());
                    return Some((Ok::<_, std::convert::Infallible>(event), (rx, stop, permit)));
                }
                // A client that fell behind misses what it could not take, and goes on.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    // A first comment says the subscription is in place: what happens from here is sent.
    let hello = futures_util::stream::once(async { Ok(Event::default().comment("subscribed")) });
    Sse::new(futures_util::StreamExt::chain(hello, stream)).keep_alive(KeepAlive::default()).into_response()
}

/// `GET /metrics`
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.registry.metrics.encode()).into_response()
}
