//! Test helpers for the simulator: a raw-socket HTTP client with its own Digest (md-5),
//! independent of hiktalk's client code, and event waiting.

use hiktalk::sim::{Event, EventKind, SimConfig, SimHandle};
use md5::{Digest as _, Md5};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(5);
pub const CHANNELS: &str = "/ISAPI/System/TwoWayAudio/channels";

/// A config with short timers so tests run fast.
pub fn raw_sim_config() -> SimConfig {
    SimConfig {
        idle_timeout: Duration::from_secs(1),
        stale_expiry: Duration::from_secs(2),
        header_timeout: Duration::from_secs(2),
        ..SimConfig::default()
    }
}

pub async fn start(cfg: SimConfig) -> SimHandle {
    hiktalk::sim::start(cfg).await.expect("simulator starts")
}

/// Waits for an event or fails the test with the log so far.
pub async fn expect(sim: &SimHandle, what: &str, pred: impl Fn(&EventKind) -> bool) -> EventKind {
    match sim.wait_for(|e| pred(&e.kind), WAIT).await {
        Some(e) => e.kind,
        None => panic!("no {what} event; log:\n{}", dump(&sim.events())),
    }
}

pub fn dump(events: &[Event]) -> String {
    events.iter().map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>().join("\n")
}

pub fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `Digest a="b", c=d` -> map.
pub fn challenge_params(h: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let body = h.trim().strip_prefix("Digest").unwrap_or(h);
    for part in body.split(", ") {
        if let Some((k, v)) = part.trim().split_once('=') {
            out.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// Reads one response head (a 100 Continue, say) without a body.
pub async fn read_response_head(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16 * 1024 {
        if s.read(&mut byte).await.unwrap_or(0) == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Reads one response head and its Content-Length body. Errors if the connection closes first.
pub async fn read_response(s: &mut TcpStream) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("closed after {} bytes", buf.len())));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap_or("").split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let len: usize = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "body truncated"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Resp { status, headers, body: String::from_utf8_lossy(&body).to_string() })
}

/// A Digest client on raw sockets. Keeps the last nonce and counts nc like a real client.
pub struct Client {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub challenge: Option<HashMap<String, String>>,
    pub nc: u32,
}

impl Client {
    pub fn new(sim: &SimHandle) -> Client {
        Client::with(sim.addr(), "admin", "hiktalk-sim")
    }

    pub fn with(addr: SocketAddr, user: &str, password: &str) -> Client {
        Client { addr, user: user.into(), password: password.into(), challenge: None, nc: 0 }
    }

    /// The Authorization value for `method uri` with the next nc (None before any challenge).
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let c = self.challenge.as_ref()?;
        self.nc += 1;
        Some(self.authorization_with(method, uri, self.nc, c.clone()))
    }

    pub fn authorization_with(&self, method: &str, uri: &str, nc: u32, c: HashMap<String, String>) -> String {
        let (realm, nonce) = (&c["realm"], &c["nonce"]);
        let nc = format!("{nc:08x}");
        let cnonce = "0a4f113b";
        let ha1 = md5_hex(&format!("{}:{realm}:{}", self.user, self.password));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        format!(
            r#"Digest username="{}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5, response="{response}", opaque="", qop=auth, nc={nc}, cnonce="{cnonce}""#,
            self.user
        )
    }

    /// Sends one request on a fresh connection with whatever auth it has; no retry.
    pub async fn send(&mut self, method: &str, uri: &str, extra: &str, body: &str) -> std::io::Result<Resp> {
        let auth = self.authorization(method, uri).map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let mut s = TcpStream::connect(self.addr).await?;
        let req = format!(
            "{method} {uri} HTTP/1.1\r\nHost: {}\r\n{auth}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let r = read_response(&mut s).await?;
        self.learn(&r);
        Ok(r)
    }

    fn learn(&mut self, r: &Resp) {
        if r.status == 401
            && let Some(h) = r.headers_named("www-authenticate").into_iter().find(|h| h.starts_with("Digest"))
        {
            self.challenge = Some(challenge_params(h));
            self.nc = 0;
        }
    }

    /// A request that answers a 401 challenge once, like any Digest client.
    pub async fn request(&mut self, method: &str, uri: &str, body: &str) -> Resp {
        let r = self.send(method, uri, "", body).await.expect("request");
        if r.status == 401 && r.header("www-authenticate").is_some() {
            return self.send(method, uri, "", body).await.expect("request");
        }
        r
    }

    /// Opens channel 1 and returns the sessionId from the answer.
    pub async fn open(&mut self) -> Option<String> {
        let r = self.request("PUT", "/ISAPI/System/TwoWayAudio/channels/1/open", "").await;
        assert_eq!(r.status, 200, "open: {r:?}");
        hiktalk::isapi::xml::parse_session(&r.body).ok().flatten()
    }

    pub async fn close(&mut self) -> Resp {
        self.request("PUT", "/ISAPI/System/TwoWayAudio/channels/1/close", "").await
    }

    /// Starts an upload the way go2rtc does (Content-Length: 0, then raw bytes) and returns
    /// the socket after reading the device's immediate answer.
    pub async fn upload(&mut self, uri: &str) -> (TcpStream, Resp) {
        // Make sure we hold a challenge (a control request got one) before the upload.
        if self.challenge.is_none() {
            self.request("GET", "/ISAPI/System/TwoWayAudio/channels", "").await;
        }
        let auth = self.authorization("PUT", uri).unwrap();
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "PUT {uri} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/octet-stream\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
            self.addr
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let r = read_response(&mut s).await.expect("audioData answer");
        (s, r)
    }
}

pub fn audio_uri(session: Option<&str>) -> String {
    match session {
        Some(id) => format!("/ISAPI/System/TwoWayAudio/channels/1/audioData?sessionId={id}"),
        None => "/ISAPI/System/TwoWayAudio/channels/1/audioData".to_string(),
    }
}

/// Reads until EOF (or reset); returns what arrived.
pub async fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("socket still open after {WAIT:?}"),
        }
    }
}

/// Runs a blocking command (python3, curl) off the runtime.
pub async fn run_tool(cmd: &str, args: Vec<String>) -> std::process::Output {
    let cmd = cmd.to_string();
    tokio::task::spawn_blocking(move || std::process::Command::new(&cmd).args(&args).output().expect("command runs")).await.unwrap()
}
