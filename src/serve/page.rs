//! The handset page at `/`: plain HTML, CSS and JavaScript in `page/`, embedded at build time
//! (no build step, nothing from elsewhere), served without the token (they hold no data; the
//! page asks for the token and sends it with every API request), and `GET /api/handset`, what
//! the page needs to draw itself.

use super::App;
use super::native::answer;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/handset.js");
const STYLE: &str = include_str!("page/handset.css");
const WORKLET: &str = include_str!("page/worklet.js");

/// Scripts and styles from this origin only, and connections back to it (the API, the call's
/// WebSocket): nothing a device or a client wrote can bring code in.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn file(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

pub async fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

pub async fn script() -> Response {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}

pub async fn worklet() -> Response {
    file(WORKLET, "text/javascript; charset=utf-8")
}

/// `GET /api/handset`: the cameras (with whether they are watched: doorbells that ring on the
/// page), the groups, and the sessions live now; `/api/events` says what changes.
pub async fn overview(State(app): State<Arc<App>>) -> Response {
    let config = app.registry.config.as_deref();
    let cameras: Vec<_> = app
        .cameras
        .iter()
        .map(|name| {
            let watched = matches!(crate::config::resolve(name, config), Ok(crate::config::Target::Camera(c)) if c.events);
            serde_json::json!({ "name": name, "watched": watched })
        })
        .collect();
    let live: Vec<_> = app.registry.all().iter().filter(|s| s.is_live()).map(|s| s.to_json()).collect();
    answer(200, serde_json::json!({ "cameras": cameras, "groups": app.groups, "sessions": live }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_stays_small() {
        let total = super::INDEX.len() + super::SCRIPT.len() + super::STYLE.len() + super::WORKLET.len();
        assert!(total < 60 * 1024, "the handset page is {total} bytes");
    }
}
