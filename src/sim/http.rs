//! Just enough HTTP/1.1 for a device: bounded header reads, Content-Length bodies, and
//! answers written by hand so the audioData socket can keep being read after the answer.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Requests with bigger headers get 431 and the connection is closed.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Control requests carry small XML/JSON documents; anything bigger gets 413.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("connection closed")]
    Closed,
    #[error("headers not complete before the deadline")]
    Timeout,
    #[error("headers larger than {MAX_HEADER_BYTES} bytes")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a connection does after a request.
pub(crate) enum Next {
    KeepAlive,
    Close,
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A query parameter's raw value (sessionIds are plain tokens; nothing to decode).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub(crate) fn content_length(&self) -> Result<usize, HttpError> {
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v.trim().parse().map_err(|_| HttpError::Malformed(format!("bad Content-Length {v:?}"))),
        }
    }

    pub(crate) fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    pub(crate) fn wants_close(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Reads one request head. `buf` holds bytes already read on this connection; on success the
/// head is drained from it and what follows (body, or raw audio) stays. `Ok(None)`: the client
/// closed cleanly between requests.
pub(crate) async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Result<Option<Request>, HttpError> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let method = req.method.unwrap_or("").to_string();
                    let target = req.path.unwrap_or("").to_string();
                    let (path, query) = match target.split_once('?') {
                        Some((p, q)) => (p.to_string(), q.to_string()),
                        None => (target.clone(), String::new()),
                    };
                    let headers = req.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
                    buf.drain(..len);
                    return Ok(Some(Request { method, target, path, query, headers }));
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooLarge),
                Err(e) => return Err(HttpError::Malformed(e.to_string())),
            }
            if buf.len() > MAX_HEADER_BYTES {
                return Err(HttpError::TooLarge);
            }
        }
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(HttpError::Timeout),
            Ok(r) => r?,
        };
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(HttpError::Closed) };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads exactly `len` body bytes (some may already be in `buf`) before `deadline`.
pub(crate) async fn read_body(stream: &mut TcpStream, buf: &mut Vec<u8>, len: usize, deadline: Instant) -> Result<Vec<u8>, HttpError> {
    while buf.len() < len {
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(HttpError::Timeout),
            Ok(r) => r?,
        };
        if n == 0 {
            return Err(HttpError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf.drain(..len).collect())
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// One answer. `content_length` differs from the body's length only for a truncation fault.
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub content_length: Option<usize>,
    pub close: bool,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, headers: Vec::new(), body: body.into(), content_length: None, close: false }
    }

    pub(crate) fn xml(status: u16, body: String) -> Response {
        Response::new(status, "application/xml; charset=\"UTF-8\"", body)
    }

    pub(crate) fn json(status: u16, body: String) -> Response {
        Response::new(status, "application/json; charset=\"UTF-8\"", body)
    }

    pub(crate) fn header(mut self, name: &str, value: String) -> Response {
        self.headers.push((name.to_string(), value));
        self
    }

    pub(crate) fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    pub(crate) fn head(&self) -> String {
        let mut s = format!("HTTP/1.1 {} {}\r\n", self.status, reason_phrase(self.status));
        s.push_str("Server: App-webs/\r\n");
        s.push_str(&format!("Content-Type: {}\r\n", self.content_type));
        s.push_str(&format!("Content-Length: {}\r\n", self.content_length.unwrap_or(self.body.len())));
        s.push_str(if self.close { "Connection: close\r\n" } else { "Connection: keep-alive\r\n" });
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s
    }

    pub(crate) async fn write(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut out = self.head().into_bytes();
        out.extend_from_slice(&self.body);
        stream.write_all(&out).await?;
        stream.flush().await
    }
}
