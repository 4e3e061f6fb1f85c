//! The audioData upload: one long-lived connection carrying raw encoded audio.
//!
//! Devices take `PUT .../audioData` with `Content-Length: 0`, answer 200 at once and then read
//! raw bytes from the socket outside HTTP framing until it closes (chunked encoding makes them
//! hang up). The exchange is `raw::exchange`; then the socket carries the audio. A reader task
//! keeps reading the socket so that a device hang-up (a close, sometimes after a ResponseStatus
//! body, or a reset) is noticed and explained while audio is still being written.

use super::client::Device;
use super::error::IsapiError;
use super::path::{self, Talk};
use super::raw::{Accepted, MAX_HEAD, Stream, exchange};
use super::xml::{self, ResponseStatus};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;

/// The kernel's send buffer holds about this much audio: a device that stops reading is noticed
/// within seconds, and when it reads again it does not get a burst of stale audio from the
/// kernel (the session drops what the clock delivered meanwhile instead).
const SEND_BUFFER_AUDIO: Duration = Duration::from_millis(100);
/// The send buffer's bounds, in bytes (the kernel has a floor of its own, about 4.5 KiB).
const SEND_BUFFER_MIN: u32 = 2048;
const SEND_BUFFER_MAX: u32 = 16 * 1024;

/// How the upload's request frames its body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Framing {
    /// `Content-Length: N`; devices read on past it (0 is what hiktalk sends).
    Length(u64),
    /// `Transfer-Encoding: chunked`, which devices refuse or play as noise.
    Chunked,
}

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
    /// Connects and starts the upload for `channel`. `bytes_per_second`: the stream's rate,
    /// which sizes the kernel's send buffer.
    pub async fn start(device: &Device, channel: &str, session_id: Option<&str>, bytes_per_second: u32) -> Result<Upload, IsapiError> {
        Upload::start_announcing(device, channel, session_id, bytes_per_second, Framing::Length(0)).await
    }

    /// [`Upload::start`] with another framing: a fixed `Content-Length` (a huge length, e.g. an
    /// hour of G.711, as some clients send) or chunked, which `check` tries. With `Chunked` the
    /// caller writes the chunk markers itself.
    pub async fn start_announcing(
        device: &Device,
        channel: &str,
        session_id: Option<&str>,
        bytes_per_second: u32,
        framing: Framing,
    ) -> Result<Upload, IsapiError> {
        let path = path::talk(channel, Talk::AudioData, session_id)?;
        let send_buffer = ((f64::from(bytes_per_second) * SEND_BUFFER_AUDIO.as_secs_f64()) as u32).clamp(SEND_BUFFER_MIN, SEND_BUFFER_MAX);
        let length = match framing {
            Framing::Length(length) => format!("Content-Length: {length}"),
            Framing::Chunked => "Transfer-Encoding: chunked".to_string(),
        };
        let extra = format!("Content-Type: application/octet-stream\r\n{length}\r\n");
        let Accepted { stream, head, mut rest } = exchange(device, "PUT", &path, &extra, Some(send_buffer)).await?;
        // The acceptance's own body (an OK ResponseStatus) is not a hang-up's words.
        let body = head.content_length.unwrap_or(0).min(MAX_HEAD);
        let here = body.min(rest.len());
        rest.drain(..here);
        let (reader, writer) = tokio::io::split(stream);
        let (tx, rx) = oneshot::channel();
        tokio::spawn(watch(reader, rest, body - here, tx));
        Ok(Upload { writer, ended: Some(rx), end: None, stall: device.timeouts.stall, bytes_sent: 0 })
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
        if self.end.is_none()
            && let Some(rx) = self.ended.as_mut()
        {
            match rx.try_recv() {
                Ok(end) => self.end = Some(end),
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => self.end = Some(UploadEnd::Reset { detail: "reader stopped".into() }),
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

    /// [`Upload::finish`], then waits (at most `within`) for the device to close its side, so
    /// that an upload started next on the session does not find this one still streaming.
    pub async fn finish_seen(mut self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            let _ = self.writer.shutdown().await;
            self.ended().await
        })
        .await;
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
}
