//! The device's microphone: `GET .../audioData` on a connection of its own, read as a stream of
//! encoded audio. Devices answer 200 with one of several Content-Types (`audio/basic`,
//! `application/octet-stream`, the misspelled `application/octem-strem`: any is accepted) and a
//! body that runs until the connection closes, under a huge Content-Length, or chunked; the
//! chunk markers are taken off here, so what comes out is the codec's byte stream only.

use super::client::Device;
use super::error::IsapiError;
use super::path::{self, Talk};
use super::raw::{Accepted, Stream, exchange, net};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// A chunk size line longer than this, or a chunk bigger than `MAX_CHUNK`, is not audio.
const MAX_CHUNK_LINE: usize = 1024;
const MAX_CHUNK: usize = 1 << 20;

/// How the device stopped sending.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadEnd {
    /// The stream ended: the connection closed, or the announced body is complete.
    Closed,
    /// Nothing arrived for the stall deadline.
    Stalled { after: Duration },
    /// The connection failed, or the chunked framing is broken.
    Failed { detail: String },
}

/// The body's framing.
enum Body {
    UntilClose,
    Length(u64),
    /// Bytes left in the current chunk, or `None` before a size line.
    Chunked(Option<usize>),
}

pub struct Download {
    stream: Stream,
    body: Body,
    /// Read but not yet handed out (the head's tail, or framing being parsed).
    pending: Vec<u8>,
    stall: Duration,
    /// The answer's Content-Type, as the device spelled it.
    pub content_type: Option<String>,
    pub bytes_received: u64,
}

impl Download {
    /// Connects and asks for channel `channel`'s microphone.
    pub async fn start(device: &Device, channel: &str, session_id: Option<&str>) -> Result<Download, IsapiError> {
        let path = path::talk(channel, Talk::AudioData, session_id)?;
        Download::get(device, &path, device.timeouts.stall).await
    }

    /// Connects and asks for any endless body at `path` (a fixed path, e.g. the alertStream);
    /// `stall`: how long the body may stay silent before the stream counts as dead.
    pub async fn get(device: &Device, path: &str, stall: Duration) -> Result<Download, IsapiError> {
        let Accepted { stream, head, rest } = exchange(device, "GET", path, "", None).await?;
        let body = match (head.chunked, head.content_length) {
            (true, _) => Body::Chunked(None),
            (false, Some(n)) => Body::Length(n as u64),
            (false, None) => Body::UntilClose,
        };
        Ok(Download { stream, body, pending: rest, stall, content_type: head.content_type, bytes_received: 0 })
    }

    /// The next piece of audio (appended to `out`), or how the stream ended. Cancel-safe.
    pub async fn next(&mut self, out: &mut Vec<u8>) -> Result<(), DownloadEnd> {
        loop {
            let before = out.len();
            self.take(out)?;
            if out.len() > before {
                self.bytes_received += (out.len() - before) as u64;
                return Ok(());
            }
            if matches!(self.body, Body::Length(0)) {
                return Err(DownloadEnd::Closed);
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout(self.stall, self.stream.read(&mut chunk)).await {
                Err(_) => return Err(DownloadEnd::Stalled { after: self.stall }),
                Ok(Err(e)) => return Err(DownloadEnd::Failed { detail: net("reading the stream", &e).to_string() }),
                Ok(Ok(0)) => return Err(DownloadEnd::Closed),
                Ok(Ok(n)) => n,
            };
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }

    /// Moves the audio in `pending` to `out`, taking chunk framing off.
    fn take(&mut self, out: &mut Vec<u8>) -> Result<(), DownloadEnd> {
        match &mut self.body {
            Body::UntilClose => out.append(&mut self.pending),
            Body::Length(left) => {
                let n = (*left).min(self.pending.len() as u64) as usize;
                out.extend(self.pending.drain(..n));
                *left -= n as u64;
            }
            Body::Chunked(state) => loop {
                match state {
                    Some(0) => {
                        // The CRLF after a chunk's data.
                        if self.pending.len() < 2 {
                            return Ok(());
                        }
                        if &self.pending[..2] != b"\r\n" {
                            return Err(broken("no CRLF after a chunk"));
                        }
                        self.pending.drain(..2);
                        *state = None;
                    }
                    Some(left) => {
                        if self.pending.is_empty() {
                            return Ok(());
                        }
                        let n = (*left).min(self.pending.len());
                        out.extend(self.pending.drain(..n));
                        *left -= n;
                    }
                    None => {
                        let Some(eol) = self.pending.windows(2).position(|w| w == b"\r\n") else {
                            if self.pending.len() > MAX_CHUNK_LINE {
                                return Err(broken("a chunk size line is too long"));
                            }
                            return Ok(());
                        };
                        let line = String::from_utf8_lossy(&self.pending[..eol]).into_owned();
                        let size = line.split(';').next().unwrap_or("").trim();
                        let size = usize::from_str_radix(size, 16).map_err(|_| broken("a chunk size is not a number"))?;
                        if size > MAX_CHUNK {
                            return Err(broken("a chunk is larger than any audio frame"));
                        }
                        self.pending.drain(..eol + 2);
                        if size == 0 {
                            self.body = Body::Length(0);
                            return Ok(());
                        }
                        *state = Some(size);
                    }
                }
            },
        }
        Ok(())
    }
}

fn broken(what: &str) -> DownloadEnd {
    DownloadEnd::Failed { detail: format!("the stream's chunked framing is broken: {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(body: Body, pending: &[u8]) -> Download {
        let (a, _b) = tokio::io::duplex(64);
        Download {
            stream: Box::new(a),
            body,
            pending: pending.to_vec(),
            stall: Duration::from_secs(1),
            content_type: None,
            bytes_received: 0,
        }
    }

    #[test]
    fn chunk_markers_are_taken_off_in_any_split() {
        let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        for step in 1..wire.len() {
            let mut d = download(Body::Chunked(None), &[]);
            let mut out = Vec::new();
            for piece in wire.chunks(step) {
                d.pending.extend_from_slice(piece);
                d.take(&mut out).unwrap();
            }
            assert_eq!(out, b"hello world", "step {step}");
            assert!(matches!(d.body, Body::Length(0)));
        }
    }

    #[test]
    fn broken_chunking_and_lengths() {
        let mut out = Vec::new();
        assert!(download(Body::Chunked(None), b"zz\r\n").take(&mut out).is_err());
        assert!(download(Body::Chunked(None), b"3\r\nabcXY").take(&mut out).is_err());
        assert!(download(Body::Chunked(None), b"FFFFFFFF\r\n").take(&mut out).is_err());
        assert!(download(Body::Chunked(None), &[b'1'; 2000]).take(&mut out).is_err());
        let mut d = download(Body::Length(3), b"abcdef");
        out.clear();
        d.take(&mut out).unwrap();
        assert_eq!(out, b"abc");
    }
}
