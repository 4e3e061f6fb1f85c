//! The device microphone: `GET .../audioData` answered with a raw byte stream in the channel's
//! inbound codec, paced in real time from the answer's first byte, until the client leaves or
//! the session ends.
//!
//! What the microphone hears is the room's (`room`). How it is framed follows the profile (see
//! [`Profile::mic_framing`](super::profile::Profile::mic_framing)): a body until close, a huge
//! Content-Length, or chunked; AAC frames length-prefixed or bare ADTS.

use super::events::{EventKind, lock};
use super::http::{Next, Request};
use super::profile::{MicAac, MicFraming};
use super::room::Signal;
use super::session::{Attached, check_session, refuse};
use super::shared::Shared;
use super::state::EndReason;
use crate::codec::{self, Codec};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};

/// The doorbell's Content-Length on the GET: i32::MAX, a stream with no real end.
const DOORBELL_LENGTH: u64 = 2_147_483_647;

/// Keeps an encoder's output or turns it into bare ADTS frames.
fn strip_prefixes(wire: &[u8], out: &mut Vec<u8>) {
    let mut at = 0;
    while let Some(head) = wire.get(at..at + 4) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(frame) = wire.get(at + 4..at + 4 + len) else { break };
        out.extend_from_slice(frame);
        at += 4 + len;
    }
}

/// Serves `GET .../audioData`.
pub(crate) async fn serve(shared: &Arc<Shared>, stream: &mut TcpStream, peer: SocketAddr, req: &Request, channel: u32) -> Next {
    let checked = check_session(shared, req, channel, false);
    let params = lock(&shared.state).channel(channel).and_then(|c| c.mic_params());
    let encoder = params.ok_or("unknown_codec").and_then(|p| codec::encoder(p).map_err(|_| "codec_not_supported"));
    let (Attached { session_id, mut end, .. }, mut enc) = match (checked, encoder) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(reason), _) | (_, Err(reason)) => {
            let resp = refuse(shared, req, channel, reason);
            let _ = resp.write(stream).await;
            shared.log_request(peer, req, resp.status);
            return Next::Close;
        }
    };
    let params = enc.params();
    let rate = params.sample_rate;
    let frame = enc.frame_samples();
    let Ok(mut signal) = Signal::new(shared.mic_file.clone(), rate) else {
        let resp = refuse(shared, req, channel, "resampler_failed");
        let _ = resp.write(stream).await;
        shared.log_request(peer, req, resp.status);
        return Next::Close;
    };
    let bare = params.codec == Codec::Aac && shared.cfg.mic_aac == MicAac::Bare;
    let framing = shared.cfg.mic_framing.unwrap_or(shared.cfg.profile.mic_framing());
    let framing_header = match framing {
        MicFraming::UntilClose => String::new(),
        MicFraming::Length => format!("Content-Length: {DOORBELL_LENGTH}\r\n"),
        MicFraming::Chunked => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nServer: App-webs/\r\nContent-Type: {}\r\n{framing_header}Connection: close\r\n\r\n",
        shared.cfg.profile.mic_content_type()
    );
    let echo = shared.cfg.mic_echo.and_then(|e| Some((shared.echo_line(channel)?, e.delay.as_secs_f64(), e.gain())));
    let (mut rd, mut wr) = stream.split();
    let mut out = head.into_bytes();
    let mut pcm = vec![0f32; frame];
    let mut samples = vec![0i16; frame];
    let mut wire = Vec::new();
    let mut sink = [0u8; 1024];
    let mut body: u64 = 0;
    // Whether the stream is intact (no write cut short), so the chunked end may follow.
    let mut intact = true;
    let mut n: u64 = 0;
    let mut head_sent = false;
    // Frame n is due at start + n frames: an absolute schedule, so timing never drifts.
    let due =
        |start: Instant, n: u64| start + Duration::from_nanos((u128::from(n) * frame as u128 * 1_000_000_000 / u128::from(rate)) as u64);
    let first_byte_at = shared.log.now();
    let start = Instant::now();
    let reason = loop {
        if let Err(e) = signal.fill(&mut pcm) {
            shared.log.log(EventKind::DecodeError { channel, session_id: session_id.clone(), error: e });
            break "source_error".to_string();
        }
        if let Some((line, delay, gain)) = echo {
            let line = lock(line);
            let t0 = first_byte_at + (n * frame as u64) as f64 / f64::from(rate) - delay;
            for (i, s) in pcm.iter_mut().enumerate() {
                *s += gain * line.at(t0 + i as f64 / f64::from(rate));
            }
        }
        for (o, &s) in samples.iter_mut().zip(&pcm) {
            *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        }
        wire.clear();
        if enc.encode(&samples, &mut wire).is_err() {
            break "encoder_error".to_string();
        }
        if bare {
            let prefixed = std::mem::take(&mut wire);
            strip_prefixes(&prefixed, &mut wire);
        }
        let mut payload = &wire[..];
        let mut full = false;
        if framing == MicFraming::Length && body + payload.len() as u64 >= DOORBELL_LENGTH {
            payload = &payload[..(DOORBELL_LENGTH - body) as usize];
            full = true;
        }
        if !payload.is_empty() {
            if framing == MicFraming::Chunked {
                out.extend_from_slice(format!("{:x}\r\n", payload.len()).as_bytes());
                out.extend_from_slice(payload);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(payload);
            }
        }
        if !out.is_empty() {
            // A client that does not read blocks the write; the session's end still ends it. A
            // write cut short leaves a partial frame (or chunk): the stream is no longer intact.
            let mut started = false;
            let written = tokio::select! {
                biased;
                changed = end.changed() => Err(session_end(changed.is_ok().then(|| *end.borrow()).flatten())),
                _ = shared.shutting_down() => Err("shutdown".to_string()),
                w = async {
                    started = true;
                    wr.write_all(&out).await
                } => w.map_err(|_| "client_closed".to_string()),
            };
            if !head_sent {
                head_sent = true;
                shared.log_request(peer, req, if written.is_ok() { 200 } else { 0 });
                let codec = params.codec.isapi_name().to_string();
                shared.log.log(EventKind::MicStarted { channel, session_id: session_id.clone(), first_byte_at, codec });
            }
            if let Err(why) = written {
                intact = !started;
                break why;
            }
            body += payload.len() as u64;
            out.clear();
        }
        if full {
            break "content_length_reached".to_string();
        }
        // A listening client is in the call: the microphone stream keeps the session from idling.
        if let Some(s) = lock(&shared.state).session(channel, &session_id) {
            s.last_audio = Instant::now();
        }
        n += 1;
        tokio::select! {
            biased;
            changed = end.changed() => break session_end(changed.is_ok().then(|| *end.borrow()).flatten()),
            _ = shared.shutting_down() => break "shutdown".to_string(),
            r = rd.read(&mut sink) => if matches!(r, Ok(0) | Err(_)) {
                intact = false;
                break "client_closed".to_string();
            },
            _ = tokio::time::sleep_until(due(start, n)) => {}
        }
    };
    if !head_sent {
        // The source or the encoder failed before anything went out.
        shared.log_request(peer, req, 0);
        return Next::Close;
    }
    if framing == MicFraming::Chunked && intact {
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.write_all(b"0\r\n\r\n")).await;
    }
    let _ = stream.shutdown().await;
    shared.log.log(EventKind::MicEnded { channel, session_id, bytes: body, reason });
    Next::Close
}

/// The MicEnded reason for a session that ended under the stream.
fn session_end(why: Option<EndReason>) -> String {
    why.map_or("session_closed", |w| w.audio_reason()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_aac_drops_only_the_prefixes() {
        let mut wire = Vec::new();
        for f in [&b"\xFF\xF1abc"[..], b"\xFF\xF1de"] {
            wire.extend_from_slice(&(f.len() as u32).to_be_bytes());
            wire.extend_from_slice(f);
        }
        let mut out = Vec::new();
        strip_prefixes(&wire, &mut out);
        assert_eq!(out, b"\xFF\xF1abc\xFF\xF1de");
    }
}
