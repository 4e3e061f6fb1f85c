//! Control requests (channel list, open, close, channel PUT, device info) over reqwest with
//! Digest auth. The audio upload has its own connection (see `upload`).

use super::auth::{Credentials, DigestState};
use super::error::IsapiError;
use super::path::{self, CHANNELS, Talk};
use super::text::clean;
use super::tls::{Trust, client_config};
use super::xml::{self, Channel, DeviceInfo, Namespace, ResponseStatus};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use std::sync::Arc;
use std::time::Duration;

/// The most a control answer may carry. ISAPI XML and JSON answers are a few KiB; a device
/// streaming an endless body must not make hiktalk buffer it.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Where a device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    /// `host:port` for a socket connect.
    pub fn authority(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }
}

/// Deadlines for each network step.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
    /// How long a write to the audio socket may block before the device is declared dead.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(5), request: Duration::from_secs(10), stall: Duration::from_secs(5) }
    }
}

/// One device: its address, credentials and the Digest state its requests share.
pub struct Device {
    pub endpoint: Endpoint,
    pub creds: Credentials,
    /// Which certificates the device may present (https).
    pub trust: Trust,
    pub timeouts: Timeouts,
    pub(crate) digest: Arc<DigestState>,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    http: reqwest::Client,
    namespace: std::sync::Mutex<Namespace>,
    /// `-v`: each request and its status go to stderr.
    trace: bool,
}

/// A request's outcome once auth is settled.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Device {
    pub fn new(endpoint: Endpoint, creds: Credentials, trust: Trust, timeouts: Timeouts) -> Result<Device, IsapiError> {
        let tls = client_config(trust.clone());
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .tls_backend_preconfigured(tls.clone())
            // ISAPI never redirects; a 3xx is reported, not followed (see `IsapiError::Redirect`).
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| IsapiError::Connect { addr: endpoint.authority(), detail: chain(&e) })?;
        Ok(Device {
            endpoint,
            creds,
            trust,
            timeouts,
            digest: Arc::new(DigestState::default()),
            tls: Arc::new(tls),
            http,
            namespace: std::sync::Mutex::new(Namespace::Hikvision),
            trace: false,
        })
    }

    /// Another handle on the same device (the same connection pool and Digest state), for
    /// requests made while a session owns the first (call control during a call).
    pub fn share(&self) -> Device {
        Device {
            endpoint: self.endpoint.clone(),
            creds: self.creds.clone(),
            trust: self.trust.clone(),
            timeouts: self.timeouts,
            digest: self.digest.clone(),
            tls: self.tls.clone(),
            http: self.http.clone(),
            namespace: std::sync::Mutex::new(*self.namespace.lock().unwrap_or_else(|p| p.into_inner())),
            trace: self.trace,
        }
    }

    /// The same device, telling each request and its status on stderr when `on`.
    pub fn traced(mut self, on: bool) -> Device {
        self.trace = on;
        self
    }

    /// With `-v`: one line per request: its method, its path with the query's values hidden
    /// (a token or session id is nobody's business in a bug report), what came back and when.
    /// Never a header, so never the Authorization.
    pub(crate) fn trace(&self, method: &str, path: &str, started: std::time::Instant, answer: &str) {
        if !self.trace {
            return;
        }
        let (bare, query) = path.split_once('?').unwrap_or((path, ""));
        let names: Vec<String> =
            query.split('&').filter(|q| !q.is_empty()).map(|q| format!("{}=…", q.split('=').next().unwrap_or(q))).collect();
        let query = if names.is_empty() { String::new() } else { format!("?{}", names.join("&")) };
        let ms = started.elapsed().as_millis();
        crate::output::stderr(&format!("hiktalk: {method} {}{bare}{query} -> {answer} ({ms} ms)", self.endpoint.base_url()));
    }

    /// The same device with another stall deadline for the audio upload.
    pub fn with_stall(mut self, stall: Duration) -> Device {
        self.timeouts.stall = stall;
        self
    }

    /// Sends one request with an XML body (if any), answering a Digest challenge once.
    async fn request(&self, method: reqwest::Method, path: &str, body: Option<String>) -> Result<Answer, IsapiError> {
        self.request_as(method, path, body, "application/xml").await
    }

    /// Sends one request with a body of `content_type`, answering a Digest challenge once. A
    /// second 401 is final.
    pub(super) async fn request_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        content_type: &str,
    ) -> Result<Answer, IsapiError> {
        let url = format!("{}{}", self.endpoint.base_url(), path);
        let step = format!("{method} {}", path::without_query(path));
        let mut stale_seen = false;
        for _ in 0..3 {
            let mut req = self.http.request(method.clone(), &url);
            let auth = self.digest.authorization(&self.creds, method.as_str(), path);
            if let Some(a) = &auth {
                req = req.header(AUTHORIZATION, a);
            }
            req = match &body {
                Some(b) => req.header(CONTENT_TYPE, content_type).body(b.clone()),
                // Devices expect an explicit zero length on bodiless PUTs (open, close).
                None if method == reqwest::Method::PUT => req.header(reqwest::header::CONTENT_LENGTH, "0"),
                None => req,
            };
            let started = std::time::Instant::now();
            let mut resp = match req.send().await {
                Ok(resp) => resp,
                Err(e) => {
                    let e = self.classify(&e, &step);
                    self.trace(method.as_str(), path, started, &format!("failed: {e}"));
                    return Err(e);
                }
            };
            let status = resp.status().as_u16();
            self.trace(method.as_str(), path, started, &status.to_string());
            if (300..400).contains(&status) {
                let location = resp.headers().get(LOCATION).map(|v| clean(&String::from_utf8_lossy(v.as_bytes()))).unwrap_or_default();
                return Err(IsapiError::Redirect {
                    method: method.to_string(),
                    path: path::without_query(path).into(),
                    http: status,
                    location,
                });
            }
            // As bytes: a challenge may carry a realm in any language (see `auth`).
            let challenges: Vec<Vec<u8>> = resp.headers().get_all(WWW_AUTHENTICATE).iter().map(|v| v.as_bytes().to_vec()).collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(&e, &step))? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(IsapiError::TooLarge { path: path::without_query(path).into(), limit: MAX_BODY });
                }
                body.extend_from_slice(&chunk);
            }
            if super::text::too_dense(&body) {
                return Err(IsapiError::TooDense { path: path::without_query(path).into(), limit: super::text::MAX_NODES });
            }
            let text = String::from_utf8_lossy(&body).into_owned();
            if status != 401 {
                return Ok(Answer { status, body: text });
            }
            let check = xml::parse_user_check(&text).map(Box::new);
            if check.as_ref().is_some_and(|c| c.is_locked()) {
                return Err(IsapiError::Locked { check });
            }
            self.digest.answer_401(challenges.iter().map(Vec::as_slice), auth.is_some(), &mut stale_seen, &self.creds.user, check)?;
        }
        // Three stale nonces in a row: the device is not keeping its own challenges.
        Err(IsapiError::NotIsapi { path: path.to_string(), http: 401, detail: ": the Digest challenge kept changing".into() })
    }

    fn classify(&self, e: &reqwest::Error, step: &str) -> IsapiError {
        let detail = chain(e);
        if e.is_timeout() {
            IsapiError::Timeout {
                step: step.to_string(),
                after: if e.is_connect() { self.timeouts.connect } else { self.timeouts.request },
            }
        } else if detail.contains("certificate") {
            IsapiError::Tls { addr: self.endpoint.authority(), detail: super::tls::handshake_detail(detail) }
        } else if e.is_connect() {
            IsapiError::Connect { addr: self.endpoint.authority(), detail: root_cause(e) }
        } else {
            IsapiError::Network { step: step.to_string(), detail: root_cause(e) }
        }
    }

    /// Turns a non-2xx answer into the error it means.
    pub(super) fn refuse(method: &str, path: &str, a: Answer) -> IsapiError {
        match xml::parse_response_status(&a.body) {
            Ok(status) => IsapiError::Status { method: method.into(), path: path.into(), http: a.status, status: Some(Box::new(status)) },
            Err(_) if a.status == 404 || looks_like_html(&a.body) => {
                IsapiError::NotIsapi { path: path.into(), http: a.status, detail: excerpt(&a.body) }
            }
            Err(_) => IsapiError::Status { method: method.into(), path: path.into(), http: a.status, status: None },
        }
    }

    pub(super) async fn get_xml(&self, path: &str) -> Result<String, IsapiError> {
        let a = self.request(reqwest::Method::GET, path, None).await?;
        if !(200..300).contains(&a.status) {
            return Err(Self::refuse("GET", path, a));
        }
        self.learn_namespace(&a.body);
        Ok(a.body)
    }

    pub(super) async fn put(&self, path: &str, body: Option<String>) -> Result<Answer, IsapiError> {
        let a = self.request(reqwest::Method::PUT, path, body).await?;
        if (200..300).contains(&a.status) { Ok(a) } else { Err(Self::refuse("PUT", path, a)) }
    }

    fn learn_namespace(&self, body: &str) {
        let ns =
            [Namespace::Isapi, Namespace::IsapiCom, Namespace::Psia, Namespace::Hikvision].into_iter().find(|ns| body.contains(ns.uri()));
        if let Some(ns) = ns {
            *self.namespace.lock().unwrap_or_else(|p| p.into_inner()) = ns;
        }
    }

    pub(super) fn xml_error(path: &str, body: &str, source: xml::XmlError) -> IsapiError {
        if looks_like_html(body) || matches!(source, xml::XmlError::Malformed(_)) && !body.trim_start().starts_with('<') {
            IsapiError::NotIsapi { path: path.into(), http: 200, detail: excerpt(body) }
        } else {
            IsapiError::Xml { path: path.into(), source }
        }
    }

    /// The talk channels.
    pub async fn channels(&self) -> Result<Vec<Channel>, IsapiError> {
        let body = self.get_xml(CHANNELS).await?;
        xml::parse_channel_list(&body).map_err(|e| Self::xml_error(CHANNELS, &body, e))
    }

    /// One channel's current settings.
    pub async fn channel(&self, id: &str) -> Result<Channel, IsapiError> {
        let path = path::talk(id, Talk::Channel, None)?;
        let body = self.get_xml(&path).await?;
        xml::parse_channel(&body).map_err(|e| Self::xml_error(&path, &body, e))
    }

    /// One channel with the choices the device allows (`opt` attributes).
    pub async fn capabilities(&self, id: &str) -> Result<Channel, IsapiError> {
        let path = path::talk(id, Talk::Capabilities, None)?;
        let body = self.get_xml(&path).await?;
        xml::parse_channel(&body).map_err(|e| Self::xml_error(&path, &body, e))
    }

    /// Writes a channel's settings.
    pub async fn put_channel(&self, channel: &Channel) -> Result<(), IsapiError> {
        let path = path::talk(&channel.id, Talk::Channel, None)?;
        let ns = *self.namespace.lock().unwrap_or_else(|p| p.into_inner());
        self.put(&path, Some(channel.to_xml(ns))).await.map(drop)
    }

    /// Opens a talk session; the device's sessionId when it gives one.
    pub async fn open(&self, id: &str) -> Result<Option<String>, IsapiError> {
        let path = path::talk(id, Talk::Open, None)?;
        let a = self.put(&path, None).await?;
        if a.body.trim().is_empty() {
            return Ok(None);
        }
        // Some firmware answers open with a ResponseStatus instead of a session document.
        match xml::parse_session(&a.body) {
            Ok(id) => Ok(id),
            Err(xml::XmlError::UnexpectedRoot { found, .. }) if found == "ResponseStatus" => Ok(None),
            Err(e) => Err(Self::xml_error(&path, &a.body, e)),
        }
    }

    /// Closes the talk session; idempotent on the device. Returns the device's confirmation.
    pub async fn close(&self, id: &str, session_id: Option<&str>) -> Result<ResponseStatus, IsapiError> {
        let path = path::talk(id, Talk::Close, session_id)?;
        let a = self.put(&path, None).await?;
        Ok(xml::parse_response_status(&a.body).unwrap_or_else(|_| ResponseStatus::ok(&path)))
    }

    /// The authentication schemes the device has offered in its challenges so far.
    pub fn auth_schemes(&self) -> Vec<String> {
        self.digest.schemes()
    }

    /// Whether the device hands out tokens (`GET /ISAPI/Security/token`, recent firmware);
    /// false where the path does not exist. The token itself is not kept.
    pub async fn offers_token(&self) -> Result<bool, IsapiError> {
        let path = "/ISAPI/Security/token?format=json";
        let a = self.request(reqwest::Method::GET, path, None).await?;
        match a.status {
            200..300 => Ok(serde_json::from_str::<serde_json::Value>(&a.body).is_ok_and(|v| v["Token"]["value"].is_string())),
            404 | 405 => Ok(false),
            _ => Err(Self::refuse("GET", path::without_query(path), a)),
        }
    }

    /// Model and firmware.
    pub async fn device_info(&self) -> Result<DeviceInfo, IsapiError> {
        let path = "/ISAPI/System/deviceInfo";
        let body = self.get_xml(path).await?;
        xml::parse_device_info(&body).map_err(|e| Self::xml_error(path, &body, e))
    }
}

pub(super) fn looks_like_html(body: &str) -> bool {
    let head = body.trim_start().get(..64.min(body.trim_start().len())).unwrap_or("").to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}

fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        ", empty body".into()
    } else {
        let cut: String = flat.chars().take(80).collect();
        format!(", body starts {cut:?}")
    }
}

/// The innermost cause of an error: for a refused or reset connection, the OS's own words
/// ("Connection refused (os error 111)") without reqwest's and hyper's wrapping around them.
pub(crate) fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

/// The error and its causes on one line (reqwest hides the useful part in `source()`).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_format_ipv6() {
        let e = Endpoint { https: false, host: "::1".into(), port: 8080 };
        assert_eq!(e.base_url(), "http://[::1]:8080");
        assert_eq!(e.authority(), "[::1]:8080");
    }
}
