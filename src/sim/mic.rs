//! The device microphone: `GET .../audioData` answered with a raw byte stream in the channel's
//! inbound codec, paced in real time from the answer's first byte, until the client leaves or
//! the session ends.
//!
//! What the microphone hears: a 440 Hz tone, or a file (`--mic`) looped, plus (`--mic-echo`)
//! what the device's own speaker played on that channel a moment earlier. How it is framed
//! follows the profile (see [`super::Profile::mic_framing`]): a body until close, a huge
//! Content-Length, or chunked; AAC frames length-prefixed or bare ADTS.

use super::audio::{Attached, check_session, refuse};
use super::events::{EventKind, lock};
use super::http::{Next, Request};
use super::shared::Shared;
use crate::audio::decode::{self, Input};
use crate::audio::resample::Resampler;
use crate::codec::{self, Codec};
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};

/// 440 Hz at about -12 dBFS: easy to recognise in a client's recording.
const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f32 = 8000.0 / 32768.0;
/// A microphone file is kept in memory up to this long; the loop is its first 10 minutes.
const MAX_FILE_SECONDS: usize = 600;
/// Speaker audio kept for the echo: enough for any plausible room delay.
const ECHO_KEEP_SECONDS: f64 = 4.0;
/// The doorbell's Content-Length on the GET: i32::MAX, a stream with no real end.
const DOORBELL_LENGTH: u64 = 2_147_483_647;

/// How the GET answer's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicFraming {
    /// No Content-Length: the body runs until the device closes.
    UntilClose,
    /// `Content-Length: 2147483647`, as a DS-KV6124 doorbell sends it.
    Length,
    /// `Transfer-Encoding: chunked`, one chunk per codec frame.
    Chunked,
}

impl MicFraming {
    const NAMES: [(&'static str, MicFraming); 3] =
        [("until-close", MicFraming::UntilClose), ("length", MicFraming::Length), ("chunked", MicFraming::Chunked)];
}

impl fmt::Display for MicFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES.iter().find(|(_, v)| v == self).map_or("?", |(n, _)| n))
    }
}

impl FromStr for MicFraming {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("unknown mic framing {s:?}; expected until-close, length or chunked"))
    }
}

/// How AAC frames go on the microphone stream (unconfirmed on real devices: both are served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MicAac {
    /// Each ADTS frame after its length as 4 bytes big-endian, as uploads carry them.
    #[default]
    Prefixed,
    /// Plain ADTS frames, back to back.
    Bare,
}

impl fmt::Display for MicAac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MicAac::Prefixed => "prefixed",
            MicAac::Bare => "bare",
        })
    }
}

impl FromStr for MicAac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "prefixed" => Ok(MicAac::Prefixed),
            "bare" => Ok(MicAac::Bare),
            _ => Err(format!("unknown AAC framing {s:?}; expected prefixed or bare")),
        }
    }
}

/// The device hears its own speaker: what it played comes back on the microphone `delay`
/// later, scaled by `gain_db`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicEcho {
    pub delay: Duration,
    pub gain_db: f64,
}

impl MicEcho {
    pub const DEFAULT_GAIN_DB: f64 = -6.0;

    fn gain(&self) -> f32 {
        10f64.powf(self.gain_db / 20.0) as f32
    }
}

impl fmt::Display for MicEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.delay.as_millis(), self.gain_db)
    }
}

impl FromStr for MicEcho {
    type Err = String;
    /// `MS[:DB]`, e.g. `120:-6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "mic echo {s:?} should look like MS[:DB], e.g. 120:-6 (delay in ms, under {ECHO_KEEP_SECONDS} s; gain in dB, at most 0)"
            )
        };
        let (ms, db) = match s.trim().split_once(':') {
            Some((ms, db)) => (ms, Some(db)),
            None => (s.trim(), None),
        };
        let ms: u64 = ms.trim().parse().map_err(|_| usage())?;
        let gain_db = match db {
            Some(db) => db.trim().parse::<f64>().map_err(|_| usage())?,
            None => MicEcho::DEFAULT_GAIN_DB,
        };
        // A louder echo than the sound is no room; the delay must fit the kept speaker audio.
        if !gain_db.is_finite() || gain_db > 0.0 || ms as f64 / 1000.0 >= ECHO_KEEP_SECONDS {
            return Err(usage());
        }
        Ok(MicEcho { delay: Duration::from_millis(ms), gain_db })
    }
}

/// A microphone file decoded once at start: mono, at its own rate.
pub(crate) struct MicFile {
    rate: u32,
    samples: Vec<f32>,
}

/// Decodes the whole file (its first `MAX_FILE_SECONDS`); an error says why in words.
pub(crate) async fn load(path: PathBuf) -> Result<MicFile, String> {
    tokio::task::spawn_blocking(move || -> Result<MicFile, String> {
        let mut src = decode::open(&Input::Path(path.clone()), None).map_err(|e| e.to_string())?;
        let rate = src.sample_rate();
        let limit = MAX_FILE_SECONDS * rate as usize;
        let mut samples = Vec::new();
        while samples.len() < limit {
            let Some(chunk) = src.next_chunk().map_err(|e| e.to_string())? else { break };
            samples.extend_from_slice(&chunk[..chunk.len().min(limit - samples.len())]);
        }
        if rate == 0 || samples.is_empty() {
            return Err(format!("{} contains no audio", path.display()));
        }
        Ok(MicFile { rate, samples })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What the microphone picks up besides the echo, one frame at a time.
enum Signal {
    Tone {
        n: u64,
        rate: f64,
    },
    /// The file, looped through a streaming resampler so the loop point is seamless.
    File {
        file: Arc<MicFile>,
        at: usize,
        resampler: Box<Resampler>,
        ready: Vec<f32>,
    },
}

impl Signal {
    fn new(file: Option<Arc<MicFile>>, rate: u32) -> Result<Signal, String> {
        Ok(match file {
            None => Signal::Tone { n: 0, rate: f64::from(rate) },
            Some(file) => {
                let resampler = Box::new(Resampler::new(file.rate, rate).map_err(|e| e.to_string())?);
                Signal::File { file, at: 0, resampler, ready: Vec::new() }
            }
        })
    }

    fn fill(&mut self, out: &mut [f32]) -> Result<(), String> {
        match self {
            Signal::Tone { n, rate } => {
                for s in out.iter_mut() {
                    *s = TONE_AMPLITUDE * (2.0 * std::f64::consts::PI * TONE_HZ * *n as f64 / *rate).sin() as f32;
                    *n += 1;
                }
            }
            Signal::File { file, at, resampler, ready } => {
                const BLOCK: usize = 1024;
                while ready.len() < out.len() {
                    let end = (*at + BLOCK).min(file.samples.len());
                    resampler.process(&file.samples[*at..end], ready).map_err(|e| e.to_string())?;
                    *at = if end == file.samples.len() { 0 } else { end };
                }
                out.copy_from_slice(&ready[..out.len()]);
                ready.drain(..out.len());
            }
        }
        Ok(())
    }
}

/// What a channel's speaker played lately, on the simulator's clock, for the echo: a gapless
/// timeline (silence where nothing played) of at most `ECHO_KEEP_SECONDS`.
#[derive(Default)]
pub(crate) struct EchoLine {
    rate: u32,
    /// Simulator-clock time of `samples[0]`.
    start: f64,
    samples: VecDeque<f32>,
}

impl EchoLine {
    fn end(&self) -> f64 {
        self.start + self.samples.len() as f64 / f64::from(self.rate.max(1))
    }

    /// Decoded speaker audio that arrived at `at`. The speaker plays it once what came before
    /// has played, and loses what lies beyond its buffer (`max_lead` seconds), as `Playout` counts.
    pub(crate) fn push(&mut self, at: f64, rate: u32, pcm: &[i16], max_lead: f64) {
        if pcm.is_empty() || rate == 0 {
            return;
        }
        if self.rate != rate || at > self.end() + ECHO_KEEP_SECONDS {
            *self = EchoLine { rate, start: at, samples: VecDeque::new() };
        }
        let r = f64::from(rate);
        let end = self.end();
        if at > end {
            let gap = ((at - end) * r).round() as usize;
            self.samples.extend(std::iter::repeat_n(0.0, gap));
        }
        let room = (((at + max_lead - self.end()) * r).max(0.0)) as usize;
        self.samples.extend(pcm[..pcm.len().min(room)].iter().map(|&s| f32::from(s) / 32768.0));
        let keep = (ECHO_KEEP_SECONDS * r) as usize;
        if self.samples.len() > keep {
            let drop = self.samples.len() - keep;
            self.samples.drain(..drop);
            self.start += drop as f64 / r;
        }
    }

    /// What the speaker played at simulator time `t`, interpolated linearly: when the
    /// microphone runs at another rate than the upload (another codec), this is the
    /// resampling. Crude, but an echo through a room is no hi-fi path either.
    fn at(&self, t: f64) -> f32 {
        let x = (t - self.start) * f64::from(self.rate);
        if x < 0.0 || self.samples.is_empty() {
            return 0.0;
        }
        let i = x.floor() as usize;
        let frac = (x - i as f64) as f32;
        match (self.samples.get(i), self.samples.get(i + 1)) {
            (Some(&a), Some(&b)) => a + (b - a) * frac,
            (Some(&a), None) => a * (1.0 - frac),
            _ => 0.0,
        }
    }
}

/// The speaker's recent audio on `channel`, when echo is on.
pub(crate) fn echo_line(shared: &Shared, channel: u32) -> Option<&Mutex<EchoLine>> {
    shared.echo.get((channel as usize).checked_sub(1)?)
}

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
    let echo = shared.cfg.mic_echo.and_then(|e| Some((echo_line(shared, channel)?, e.delay.as_secs_f64(), e.gain())));
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
fn session_end(why: Option<super::state::EndReason>) -> String {
    why.map_or("session_closed", |w| w.audio_reason()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_print() {
        for f in [MicFraming::UntilClose, MicFraming::Length, MicFraming::Chunked] {
            assert_eq!(f.to_string().parse::<MicFraming>(), Ok(f));
        }
        for a in [MicAac::Prefixed, MicAac::Bare] {
            assert_eq!(a.to_string().parse::<MicAac>(), Ok(a));
        }
        assert_eq!("120:-6".parse::<MicEcho>(), Ok(MicEcho { delay: Duration::from_millis(120), gain_db: -6.0 }));
        assert_eq!("100".parse::<MicEcho>(), Ok(MicEcho { delay: Duration::from_millis(100), gain_db: MicEcho::DEFAULT_GAIN_DB }));
        assert_eq!("100:0".parse::<MicEcho>().map(|e| e.gain()), Ok(1.0));
        for bad in ["", "x", "100:+3", "100:loud", "-5", "9000"] {
            assert!(bad.parse::<MicEcho>().is_err(), "{bad}");
        }
        assert!("lengthy".parse::<MicFraming>().is_err());
    }

    #[test]
    fn echo_line_plays_in_order_and_reads_by_time() {
        let mut line = EchoLine::default();
        let pcm: Vec<i16> = (0..800).map(|i| i as i16).collect();
        line.push(10.0, 8000, &pcm, 1.0);
        // A second chunk arriving early queues behind the first (the speaker is busy).
        line.push(10.05, 8000, &pcm, 1.0);
        assert_eq!(line.samples.len(), 1600);
        assert!((line.at(10.0 + 400.0 / 8000.0) - 400.0 / 32768.0).abs() < 1e-6);
        assert!((line.at(10.0 + 1200.5 / 8000.0) - 400.5 / 32768.0).abs() < 1e-6, "interpolated");
        assert_eq!(line.at(9.99), 0.0);
        assert_eq!(line.at(12.0), 0.0);
        // A gap is silence; beyond the speaker's buffer audio is lost.
        line.push(11.0, 8000, &pcm, 1.0);
        assert_eq!(line.at(10.5), 0.0);
        assert!((line.at(11.0 + 1.0 / 8000.0) - 1.0 / 32768.0).abs() < 1e-6);
        let before = line.samples.len();
        line.push(11.0, 8000, &vec![1; 16000], 1.0);
        assert_eq!(line.samples.len() - before, 8000 - 800);
        // Long runs keep only the last seconds.
        for k in 0..100 {
            line.push(12.0 + k as f64 * 0.1, 8000, &pcm, 1.0);
        }
        assert_eq!(line.samples.len(), (ECHO_KEEP_SECONDS * 8000.0) as usize);
        assert!((line.end() - 22.0).abs() < 1e-6, "{}", line.end());
    }

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
