//! The raw HTTP/1.1 exchanges for audioData, on connections of their own: one request head,
//! one answer head read with httparse, then the socket is the caller's (devices take and give
//! raw audio outside HTTP framing, which reqwest cannot do). Digest, redirects and refusals are
//! handled here once, for the upload and the download alike; `--timeout` bounds each answer as a
//! whole, however slowly the device sends it.

use super::client::{Device, chain};
use super::error::IsapiError;
use super::path;
use super::text::clean;
use super::xml;
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub(crate) type Stream = Box<dyn Io>;

/// The largest response head (and refusal body) read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// An accepted answer: its head, and the bytes that followed it in the same reads.
pub(crate) struct Accepted {
    pub stream: Stream,
    pub head: Head,
    pub rest: Vec<u8>,
}

/// Sends `method path` (no body; `Content-Length: 0`) with `extra` header lines on a fresh
/// connection and reads the answer, answering one Digest challenge. Only a 2xx comes back; a
/// refusal is the error it means. `send_buffer` sizes the kernel's send buffer.
pub(crate) async fn exchange(
    device: &Device,
    method: &str,
    path: &str,
    extra: &str,
    send_buffer: Option<u32>,
) -> Result<Accepted, IsapiError> {
    let step = format!("{method} {}", path::without_query(path));
    let mut stale_seen = false;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let mut stream =
            connect(device, send_buffer).await.inspect_err(|e| device.trace(method, path, started, &format!("failed: {e}")))?;
        let auth = device.digest.authorization(&device.creds, method, path);
        // No `Expect: 100-continue`: devices answer at once and then read or write raw audio.
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}Connection: keep-alive\r\n", device.endpoint.authority());
        if let Some(a) = &auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        head.push_str("\r\n");
        let answer = async {
            stream.write_all(head.as_bytes()).await.map_err(|e| net(&step, &e))?;
            let (resp, mut rest) = read_head(&mut stream, &step).await?;
            // A refusal's body explains it (userCheck, ResponseStatus); an acceptance's body
            // belongs to the caller.
            if !(200..300).contains(&resp.status) {
                let body_len = resp.content_length.unwrap_or(0).min(MAX_HEAD);
                while rest.len() < body_len {
                    let mut more = [0u8; 4096];
                    let n = stream.read(&mut more).await.map_err(|e| net(&step, &e))?;
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&more[..n]);
                }
            }
            Ok::<_, IsapiError>((resp, rest))
        };
        let (resp, mut rest) = match timed(device.timeouts.request, &step, answer).await.and_then(|r| r) {
            Ok(answer) => answer,
            Err(e) => {
                device.trace(method, path, started, &format!("failed: {e}"));
                return Err(e);
            }
        };
        device.trace(method, path, started, &resp.status.to_string());
        let without_query = path::without_query(path).to_string();
        match resp.status {
            200..=299 => return Ok(Accepted { stream, head: resp, rest }),
            300..=399 => {
                let location = resp.location.unwrap_or_default();
                return Err(IsapiError::Redirect { method: method.into(), path: without_query, http: resp.status, location });
            }
            status => {
                let body: Vec<u8> = rest.drain(..resp.content_length.unwrap_or(0).min(rest.len())).collect();
                let body = String::from_utf8_lossy(&body);
                if status == 401 {
                    let check = xml::parse_user_check(&body).map(Box::new);
                    if check.as_ref().is_some_and(|c| c.is_locked()) {
                        return Err(IsapiError::Locked { check });
                    }
                    let challenges = resp.challenges.iter().map(Vec::as_slice);
                    device.digest.answer_401(challenges, auth.is_some(), &mut stale_seen, &device.creds.user, check)?;
                    continue;
                }
                let status_doc = xml::parse_response_status(&body).ok().map(Box::new);
                return Err(IsapiError::Status { method: method.into(), path: without_query, http: status, status: status_doc });
            }
        }
    }
    Err(IsapiError::NotIsapi { path: path.to_string(), http: 401, detail: ": the Digest challenge kept changing".into() })
}

async fn connect(device: &Device, send_buffer: Option<u32>) -> Result<Stream, IsapiError> {
    let addr = device.endpoint.authority();
    let t = device.timeouts.connect;
    let addrs: Vec<_> = timed(t, "resolving the device address", tokio::net::lookup_host(addr.clone()))
        .await?
        .map_err(|e| IsapiError::Connect { addr: addr.clone(), detail: e.to_string() })?
        .collect();
    let mut last = format!("{addr} resolved to no address");
    for sa in addrs {
        let sock = if sa.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
        let sock = sock.map_err(|e| IsapiError::Connect { addr: addr.clone(), detail: e.to_string() })?;
        if let Some(size) = send_buffer {
            let _ = sock.set_send_buffer_size(size);
        }
        match tokio::time::timeout(t, sock.connect(sa)).await {
            Err(_) => return Err(IsapiError::Timeout { step: format!("connecting to {addr}"), after: t }),
            Ok(Err(e)) => last = e.to_string(),
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                if !device.endpoint.https {
                    return Ok(Box::new(tcp));
                }
                let name = ServerName::try_from(device.endpoint.host.clone())
                    .map_err(|e| IsapiError::Tls { addr: addr.clone(), detail: e.to_string() })?;
                let tls = tokio_rustls::TlsConnector::from(device.tls.clone());
                let s = timed(t, "TLS handshake", tls.connect(name, tcp))
                    .await?
                    .map_err(|e| IsapiError::Tls { addr: addr.clone(), detail: super::tls::handshake_detail(chain(&e)) })?;
                return Ok(Box::new(s));
            }
        }
    }
    Err(IsapiError::Connect { addr, detail: last })
}

pub(crate) async fn timed<F: std::future::Future>(after: Duration, step: &str, f: F) -> Result<F::Output, IsapiError> {
    tokio::time::timeout(after, f).await.map_err(|_| IsapiError::Timeout { step: step.to_string(), after })
}

pub(crate) fn net(step: &str, e: &std::io::Error) -> IsapiError {
    IsapiError::Network { step: step.to_string(), detail: e.to_string() }
}

pub(crate) struct Head {
    pub status: u16,
    pub content_length: Option<usize>,
    /// `WWW-Authenticate` values as sent (bytes: see `auth`).
    pub challenges: Vec<Vec<u8>>,
    pub location: Option<String>,
    /// `Content-Type`, cleaned (device text).
    pub content_type: Option<String>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

/// Reads a response head; returns it and whatever bytes followed it.
async fn read_head(stream: &mut Stream, step: &str) -> Result<(Head, Vec<u8>), IsapiError> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await.map_err(|e| net(step, &e))?;
        if n == 0 {
            // Devices close the connection on request forms they refuse (e.g. chunked uploads).
            return Err(IsapiError::Network {
                step: step.to_string(),
                detail: "the device closed the connection without answering".into(),
            });
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, used)) = parse_head(&buf, step)? {
            return Ok((head, buf.split_off(used)));
        }
        if buf.len() > MAX_HEAD {
            return Err(IsapiError::NotIsapi { path: step.to_string(), http: 0, detail: ": response head too large".into() });
        }
    }
}

/// `step`: the request it answers (`GET /ISAPI/Event/notification/alertStream`), for errors.
fn parse_head(buf: &[u8], step: &str) -> Result<Option<(Head, usize)>, IsapiError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(used)) => {
            let value = |h: &httparse::Header| String::from_utf8_lossy(h.value).trim().to_string();
            let head = Head {
                status: resp.code.unwrap_or(0),
                content_length: resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| value(h).parse().ok()),
                challenges: resp
                    .headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("www-authenticate"))
                    .map(|h| h.value.to_vec())
                    .collect(),
                location: resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case("location")).map(|h| clean(&value(h))),
                content_type: resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case("content-type")).map(|h| clean(&value(h))),
                chunked: resp
                    .headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding") && value(h).to_ascii_lowercase().contains("chunked")),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(IsapiError::NotIsapi { path: step.to_string(), http: 0, detail: format!(": unreadable HTTP answer ({e})") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_with_all_challenges() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"n\"\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc";
        let (head, used) = parse_head(raw, "GET /x").unwrap().unwrap();
        assert_eq!(head.status, 401);
        assert_eq!(head.content_length, Some(3));
        assert_eq!(head.challenges.len(), 2);
        assert_eq!(&raw[used..], b"abc");
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n", "GET /x").unwrap().is_none());
        let Err(e) = parse_head(b"\x00\x01garbage\r\n\r\n", "GET /ISAPI/Event/notification/alertStream") else { panic!() };
        assert!(e.to_string().starts_with("GET /ISAPI/Event/notification/alertStream did not answer"), "{e}");
        let (head, _) =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Type: application/octem-strem\r\nTransfer-Encoding: chunked\r\n\r\n", "GET /x")
                .unwrap()
                .unwrap();
        assert_eq!((head.content_type.as_deref(), head.chunked), (Some("application/octem-strem"), true));
    }
}
