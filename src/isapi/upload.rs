//! The audioData upload: one long-lived connection carrying raw encoded audio.
//!
//! Devices take `PUT .../audioData` with `Content-Length: 0`, answer 200 at once and then read
//! raw bytes from the socket outside HTTP framing until it closes (chunked encoding makes them
//! hang up). reqwest cannot write after the response, so this is a small HTTP/1.1 exchange of
//! its own: write the request head, read the response with httparse, then stream. A reader task
//! keeps reading the socket so that a device hang-up (a close, sometimes after a ResponseStatus
//! body, or a reset) is noticed and explained while audio is still being written.

use super::auth::Challenge;
use super::client::{Device, chain};
use super::error::IsapiError;
use super::path::{self, Talk};
use super::text::clean;
use super::xml::{self, ResponseStatus};
use rustls::pki_types::ServerName;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Stream = Box<dyn Io>;

/// The kernel's send buffer holds about this much audio: a device that stops reading is noticed
/// within seconds, and when it reads again it does not get a burst of stale audio from the
/// kernel (the session drops what the clock delivered meanwhile instead).
const SEND_BUFFER_AUDIO: Duration = Duration::from_millis(100);
/// The send buffer's bounds, in bytes (the kernel has a floor of its own, about 4.5 KiB).
const SEND_BUFFER_MIN: u32 = 2048;
const SEND_BUFFER_MAX: u32 = 16 * 1024;
const MAX_HEAD: usize = 16 * 1024;

/// How the device ended the upload.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadEnd {
    /// The device closed the socket, with the ResponseStatus it sent first, if any.
    Closed { status: Option<ResponseStatus> },
    /// The connection was reset or failed.
    Reset { detail: String },
}

/// Why a write failed.
#[derive(Debug)]
pub enum SendError {
    /// The device stopped reading for longer than the stall deadline.
    Stalled { after: Duration },
    /// The device ended the upload.
    Ended(UploadEnd),
}

pub struct Upload {
    writer: WriteHalf<Stream>,
    ended: Option<oneshot::Receiver<UploadEnd>>,
    end: Option<UploadEnd>,
    stall: Duration,
    pub bytes_sent: u64,
}

impl Upload {
    /// Connects and starts the upload for `channel`, answering one Digest challenge if needed.
    /// `--timeout` bounds each answer as a whole, however slowly the device sends it.
    /// `bytes_per_second`: the stream's rate, which sizes the kernel's send buffer.
    pub async fn start(device: &Device, channel: &str, session_id: Option<&str>, bytes_per_second: u32) -> Result<Upload, IsapiError> {
        let path = path::talk(channel, Talk::AudioData, session_id)?;
        let step = "PUT audioData";
        let send_buffer = ((f64::from(bytes_per_second) * SEND_BUFFER_AUDIO.as_secs_f64()) as u32).clamp(SEND_BUFFER_MIN, SEND_BUFFER_MAX);
        for _ in 0..3 {
            let mut stream = connect(device, send_buffer).await?;
            let auth = device.digest.authorization(&device.creds, "PUT", &path);
            // No `Expect: 100-continue`: devices answer at once and then read raw audio.
            let mut head = format!(
                "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 0\r\nConnection: keep-alive\r\n",
                device.endpoint.authority()
            );
            if let Some(a) = &auth {
                head.push_str(&format!("Authorization: {a}\r\n"));
            }
            head.push_str("\r\n");
            let answer = async {
                stream.write_all(head.as_bytes()).await.map_err(|e| net(step, &e))?;
                let (resp, mut rest) = read_head(&mut stream).await?;
                // A refusal's body explains it (userCheck, ResponseStatus); an acceptance's body,
                // if any, is read by the watcher along with whatever the device says later.
                if !(200..300).contains(&resp.status) {
                    let body_len = resp.content_length.unwrap_or(0).min(MAX_HEAD);
                    while rest.len() < body_len {
                        let mut more = [0u8; 4096];
                        let n = stream.read(&mut more).await.map_err(|e| net(step, &e))?;
                        if n == 0 {
                            break;
                        }
                        rest.extend_from_slice(&more[..n]);
                    }
                }
                Ok::<_, IsapiError>((resp, rest))
            };
            let (resp, mut rest) = timed(device.timeouts.request, step, answer).await??;
            match resp.status {
                200..=299 => {
                    // The acceptance's own body (an OK ResponseStatus) is not a hang-up's words.
                    let body = resp.content_length.unwrap_or(0).min(MAX_HEAD);
                    let here = body.min(rest.len());
                    rest.drain(..here);
                    let (reader, writer) = tokio::io::split(stream);
                    let (tx, rx) = oneshot::channel();
                    tokio::spawn(watch(reader, rest, body - here, tx));
                    return Ok(Upload { writer, ended: Some(rx), end: None, stall: device.timeouts.stall, bytes_sent: 0 });
                }
                300..=399 => {
                    let location = resp.location.unwrap_or_default();
                    return Err(IsapiError::Redirect {
                        method: "PUT".into(),
                        path: path::without_query(&path).into(),
                        http: resp.status,
                        location,
                    });
                }
                status => {
                    let body: Vec<u8> = rest.drain(..resp.content_length.unwrap_or(0).min(rest.len())).collect();
                    let body = String::from_utf8_lossy(&body);
                    if status == 401 {
                        let check = xml::parse_user_check(&body).map(Box::new);
                        if check.as_ref().is_some_and(|c| c.is_locked()) {
                            return Err(IsapiError::Locked { check });
                        }
                        match device.digest.on_unauthorized(resp.challenges.iter().map(String::as_str), auth.is_some()) {
                            Challenge::Retry => continue,
                            Challenge::Rejected => return Err(IsapiError::AuthRejected { user: device.creds.user.clone(), check }),
                            Challenge::Missing => return Err(IsapiError::NoChallenge { check }),
                        }
                    }
                    return Err(IsapiError::Status {
                        method: "PUT".into(),
                        path: path::without_query(&path).into(),
                        http: status,
                        status: xml::parse_response_status(&body).ok().map(Box::new),
                    });
                }
            }
        }
        Err(IsapiError::NotIsapi { path, http: 401, detail: ": the Digest challenge kept changing".into() })
    }

    /// Writes encoded audio. Fails when the device has ended the upload or stopped reading.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if let Some(end) = self.poll_end() {
            return Err(SendError::Ended(end));
        }
        match tokio::time::timeout(self.stall, self.writer.write_all(bytes)).await {
            Err(_) => Err(SendError::Stalled { after: self.stall }),
            Ok(Ok(())) => {
                self.bytes_sent += bytes.len() as u64;
                Ok(())
            }
            // A failed write means the device is gone; its reader knows how it went, except that
            // a reset is reported to whichever call comes first: when the write took it, the
            // reader sees only the end of the stream, and a bare end would read as a hang-up.
            Ok(Err(e)) => {
                let end = match self.wait_end(Some(e.to_string())).await {
                    UploadEnd::Closed { status: None } if e.kind() == std::io::ErrorKind::ConnectionReset => {
                        UploadEnd::Reset { detail: e.to_string() }
                    }
                    end => end,
                };
                self.end = Some(end.clone());
                Err(SendError::Ended(end))
            }
        }
    }

    /// Resolves when the device ends the upload. Cancel-safe: use it in `select!`.
    pub async fn ended(&mut self) -> UploadEnd {
        self.wait_end(None).await
    }

    fn poll_end(&mut self) -> Option<UploadEnd> {
        if self.end.is_none() {
            if let Some(rx) = self.ended.as_mut() {
                match rx.try_recv() {
                    Ok(end) => self.end = Some(end),
                    Err(oneshot::error::TryRecvError::Empty) => {}
                    Err(oneshot::error::TryRecvError::Closed) => self.end = Some(UploadEnd::Reset { detail: "reader stopped".into() }),
                }
            }
        }
        self.end.clone()
    }

    async fn wait_end(&mut self, write_error: Option<String>) -> UploadEnd {
        if let Some(end) = self.poll_end() {
            return end;
        }
        let end = match self.ended.as_mut() {
            // After a write error the reader reports within moments; don't wait forever on it.
            Some(rx) if write_error.is_some() => match tokio::time::timeout(Duration::from_secs(1), rx).await {
                Ok(Ok(end)) => end,
                _ => UploadEnd::Reset { detail: write_error.unwrap_or_default() },
            },
            Some(rx) => rx.await.unwrap_or(UploadEnd::Reset { detail: "reader stopped".into() }),
            None => std::future::pending().await,
        };
        self.end = Some(end.clone());
        end
    }

    /// Ends the upload from our side (the device then sees EOF).
    pub async fn finish(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.writer.shutdown()).await;
    }
}

async fn connect(device: &Device, send_buffer: u32) -> Result<Stream, IsapiError> {
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
        let _ = sock.set_send_buffer_size(send_buffer);
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

async fn timed<F: std::future::Future>(after: Duration, step: &str, f: F) -> Result<F::Output, IsapiError> {
    tokio::time::timeout(after, f).await.map_err(|_| IsapiError::Timeout { step: step.to_string(), after })
}

fn net(step: &str, e: &std::io::Error) -> IsapiError {
    IsapiError::Network { step: step.to_string(), detail: e.to_string() }
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    challenges: Vec<String>,
    location: Option<String>,
}

/// Reads a response head; returns it and whatever bytes followed it.
async fn read_head(stream: &mut Stream) -> Result<(Head, Vec<u8>), IsapiError> {
    let step = "PUT audioData";
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await.map_err(|e| net(step, &e))?;
        if n == 0 {
            // Devices close the connection on request forms they refuse (e.g. chunked uploads).
            return Err(IsapiError::Network { step: step.into(), detail: "the device closed the connection without answering".into() });
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, used)) = parse_head(&buf)? {
            return Ok((head, buf.split_off(used)));
        }
        if buf.len() > MAX_HEAD {
            return Err(IsapiError::NotIsapi { path: "audioData".into(), http: 0, detail: ": response head too large".into() });
        }
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, IsapiError> {
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
                challenges: resp.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("www-authenticate")).map(value).collect(),
                location: resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case("location")).map(|h| clean(&value(h))),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(IsapiError::NotIsapi { path: "audioData".into(), http: 0, detail: format!(": unreadable HTTP answer ({e})") }),
    }
}

/// Reads the socket until the device closes it and reports what it said on the way out,
/// after `skip` more bytes of the acceptance's body.
async fn watch(mut reader: ReadHalf<Stream>, mut said: Vec<u8>, mut skip: usize, tx: oneshot::Sender<UploadEnd>) {
    let mut chunk = [0u8; 4096];
    let end = loop {
        match reader.read(&mut chunk).await {
            Ok(0) => break UploadEnd::Closed { status: last_status(&said) },
            Ok(n) => {
                let skipped = skip.min(n);
                skip -= skipped;
                // Keep only the tail: the final words are what explain a hang-up.
                said.extend_from_slice(&chunk[skipped..n]);
                if said.len() > 2 * MAX_HEAD {
                    said.drain(..said.len() - MAX_HEAD);
                }
            }
            Err(e) => {
                break match last_status(&said) {
                    Some(status) => UploadEnd::Closed { status: Some(status) },
                    None => UploadEnd::Reset { detail: e.to_string() },
                };
            }
        }
    };
    let _ = tx.send(end);
}

/// The last ResponseStatus in what the device sent (bare, or as the body of a response).
fn last_status(said: &[u8]) -> Option<ResponseStatus> {
    let text = String::from_utf8_lossy(said);
    let start = text.rfind("<ResponseStatus")?;
    let from = text[..start].rfind("<?xml").filter(|&x| text[x..start].trim_end().ends_with("?>")).unwrap_or(start);
    let end = text[start..].find("</ResponseStatus>")? + start + "</ResponseStatus>".len();
    xml::parse_response_status(&text[from..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hangup_status_is_found_after_an_http_head() {
        let said = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n<?xml version=\"1.0\" encoding=\"UTF-8\"?><ResponseStatus><statusCode>4</statusCode><statusString>Invalid Operation</statusString><subStatusCode>sessionTimeout</subStatusCode></ResponseStatus>";
        let st = last_status(said).unwrap();
        assert_eq!(st.status_code, Some(4));
        assert_eq!(st.sub_status_code, "sessionTimeout");
        assert_eq!(last_status(b"garbage"), None);
        assert_eq!(last_status(b"<ResponseStatus><statusCode>1"), None);
    }

    #[test]
    fn heads_parse_with_all_challenges() {
        let raw = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"n\"\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc";
        let (head, used) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 401);
        assert_eq!(head.content_length, Some(3));
        assert_eq!(head.challenges.len(), 2);
        assert_eq!(&raw[used..], b"abc");
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert!(parse_head(b"\x00\x01garbage\r\n\r\n").is_err());
    }
}
