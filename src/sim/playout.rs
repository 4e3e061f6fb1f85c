//! What a listener at the device's speaker hears of an upload, measured on the device side and
//! independently of the client: the speaker starts with the first audio byte and drains a
//! buffer at the codec's real rate. Audio arriving while the buffer is empty was a gap the
//! listener heard (an underrun); audio beyond the buffer's size is lost (an overflow), as a real
//! speaker would lose it. Every chunk's arrival time is kept, for jitter and bursts.
//!
//! Durations come from the wire format itself (bytes per sample, or the length-prefixed frames
//! of AAC and Opus counted and sized from their own headers), not from a decoder.

use crate::codec::{Codec, CodecParams};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::time::Instant;

/// The figures of one upload, as the device measured them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listened {
    /// Audio received, by the wire format's own count.
    pub audio_seconds: f64,
    /// Audio that arrived while the doorbell rang, which the device does not play.
    pub unheard_seconds: f64,
    /// Times the speaker ran dry before more audio came, and for how long in all.
    pub underruns: u32,
    pub underrun_ms: f64,
    /// The most audio the device held ahead of what it was playing (its speaker starts at the
    /// first arrival, so a first read that comes late, on a loaded machine, adds to it).
    pub max_lead_ms: f64,
    /// The most audio received beyond real time counted from the moment the upload's answer
    /// went out: how far the client's schedule ran ahead. A client cannot start its clock
    /// before it has the answer, so this holds whenever the first read happens.
    pub max_lead_after_answer_ms: f64,
    /// Audio lost because it arrived beyond the device's buffer.
    pub overflow_ms: f64,
    /// From the TCP accept of the client's first request to the first audio byte.
    pub first_audio_after_accept_ms: Option<f64>,
    /// Seconds since the simulator started at which the first audio byte arrived.
    pub first_audio_at: Option<f64>,
    /// Every read that brought audio: seconds since the first audio byte, and its size.
    #[serde(skip)]
    pub arrivals: Vec<(f64, usize)>,
}

/// Counts the audio in a byte stream of one codec.
enum Framing {
    /// A fixed number of bits per sample (G.711, G.726, PCM).
    Bits { bits: u32, rate: u32, carry_bits: u64 },
    /// 4-byte big-endian length prefixes, each frame sized by `frame_samples`.
    Prefixed { codec: Codec, rate: u32, pending: Vec<u8> },
}

impl Framing {
    fn new(params: CodecParams) -> Framing {
        let rate = params.sample_rate;
        match params.codec {
            Codec::G711Ulaw | Codec::G711Alaw => Framing::Bits { bits: 8, rate, carry_bits: 0 },
            Codec::G726 => Framing::Bits { bits: params.bitrate.unwrap_or(32_000) / rate.max(1), rate, carry_bits: 0 },
            Codec::Pcm => Framing::Bits { bits: 16, rate, carry_bits: 0 },
            Codec::Aac | Codec::Opus => Framing::Prefixed { codec: params.codec, rate, pending: Vec::new() },
        }
    }

    /// Seconds of audio completed by `bytes`.
    fn seconds(&mut self, bytes: &[u8]) -> f64 {
        match self {
            Framing::Bits { bits, rate, carry_bits } => {
                let total = *carry_bits + bytes.len() as u64 * 8;
                let samples = total / u64::from((*bits).max(1));
                *carry_bits = total % u64::from((*bits).max(1));
                samples as f64 / f64::from(*rate)
            }
            Framing::Prefixed { codec, rate, pending } => {
                pending.extend_from_slice(bytes);
                let mut samples = 0u64;
                let mut at = 0;
                while pending.len() - at >= 4 {
                    let len = u32::from_be_bytes([pending[at], pending[at + 1], pending[at + 2], pending[at + 3]]) as usize;
                    if pending.len() - at - 4 < len {
                        break;
                    }
                    let frame = &pending[at + 4..at + 4 + len];
                    samples += frame_samples(*codec, frame, *rate);
                    at += 4 + len;
                }
                pending.drain(..at);
                samples as f64 / f64::from(*rate)
            }
        }
    }
}

/// Samples in one AAC (ADTS) or Opus frame, from its own header.
fn frame_samples(codec: Codec, frame: &[u8], rate: u32) -> u64 {
    match codec {
        // ADTS: the number of raw data blocks is in the header's 7th byte; 1024 samples each.
        Codec::Aac => frame.get(6).map_or(0, |b| u64::from(b & 0x03) + 1) * 1024,
        // Opus: the TOC byte gives the frame duration and the frame count (RFC 6716, 3.1).
        Codec::Opus => {
            let Some(&toc) = frame.first() else { return 0 };
            let config = toc >> 3;
            let tenths_ms: u64 = match config {
                0..=11 => [100, 200, 400, 600][usize::from(config % 4)],
                12..=15 => [100, 200][usize::from(config % 2)],
                _ => [25, 50, 100, 200][usize::from(config % 4)],
            };
            let frames = match toc & 0x03 {
                0 => 1,
                1 | 2 => 2,
                _ => frame.get(1).map_or(0, |c| u64::from(c & 0x3F)),
            };
            frames * tenths_ms * u64::from(rate) / 10_000
        }
        _ => 0,
    }
}

/// The speaker's buffer during one upload.
pub(crate) struct Playout {
    framing: Option<Framing>,
    limit: f64,
    /// Seconds queued at `last`.
    queued: f64,
    first: Option<Instant>,
    last: Instant,
    /// When the upload's answer was written.
    answered: Instant,
    listened: Listened,
}

impl Playout {
    /// `params`: the channel's codec, when the device knows it; `buffer`: the speaker's buffer;
    /// `answered`: when the upload's answer went out (taken before it was written).
    pub(crate) fn new(params: Option<CodecParams>, buffer: Duration, answered: Instant) -> Playout {
        Playout {
            framing: params.map(Framing::new),
            limit: buffer.as_secs_f64(),
            queued: 0.0,
            first: None,
            last: Instant::now(),
            answered,
            listened: Listened::default(),
        }
    }

    /// Audio arrived now. `audible`: the device plays it (not while a doorbell rings).
    /// `accepted`: when the client's first connection was accepted; `since_start`: the
    /// simulator's clock, for cross-device comparisons.
    pub(crate) fn arrive(&mut self, now: Instant, bytes: &[u8], audible: bool, accepted: Option<Instant>, since_start: f64) {
        let Some(framing) = self.framing.as_mut() else { return };
        let seconds = framing.seconds(bytes);
        let first = *self.first.get_or_insert_with(|| {
            self.listened.first_audio_after_accept_ms = accepted.map(|a| now.saturating_duration_since(a).as_secs_f64() * 1000.0);
            self.listened.first_audio_at = Some(since_start);
            self.last = now;
            now
        });
        self.listened.arrivals.push((now.duration_since(first).as_secs_f64(), bytes.len()));
        self.listened.audio_seconds += seconds;
        let since_answer = now.saturating_duration_since(self.answered).as_secs_f64();
        let ahead = (self.listened.audio_seconds - since_answer) * 1000.0;
        self.listened.max_lead_after_answer_ms = self.listened.max_lead_after_answer_ms.max(ahead);
        if !audible {
            self.listened.unheard_seconds += seconds;
            return;
        }
        // Drain what played since the last arrival; running dry before now was a gap heard.
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        if elapsed > self.queued && seconds > 0.0 && self.listened.audio_seconds > seconds {
            self.listened.underruns += 1;
            self.listened.underrun_ms += (elapsed - self.queued) * 1000.0;
        }
        self.queued = (self.queued - elapsed).max(0.0) + seconds;
        if self.queued > self.limit {
            self.listened.overflow_ms += (self.queued - self.limit) * 1000.0;
            self.queued = self.limit;
        }
        self.listened.max_lead_ms = self.listened.max_lead_ms.max(self.queued * 1000.0);
    }

    pub(crate) fn finish(self) -> Listened {
        self.listened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g711() -> Option<CodecParams> {
        Some(CodecParams { codec: Codec::G711Ulaw, sample_rate: 8000, bitrate: None })
    }

    #[test]
    fn a_paced_stream_with_a_lead_never_runs_dry() {
        let t0 = Instant::now();
        // The answer went out 40 ms before the first read.
        let mut p = Playout::new(g711(), Duration::from_secs(1), t0 - Duration::from_millis(40));
        // 160 ms at once, then one 20 ms frame every 20 ms.
        p.arrive(t0, &[0xFF; 1280], true, None, 0.0);
        for n in 1..100u32 {
            p.arrive(t0 + Duration::from_millis(20) * n, &[0xFF; 160], true, None, 0.0);
        }
        let l = p.finish();
        assert_eq!((l.underruns, l.overflow_ms), (0, 0.0));
        assert!((l.audio_seconds - 2.14).abs() < 1e-9);
        assert!((l.max_lead_ms - 160.0).abs() < 1e-6, "{}", l.max_lead_ms);
        assert!((l.max_lead_after_answer_ms - 120.0).abs() < 1e-6, "{}", l.max_lead_after_answer_ms);
        assert_eq!(l.arrivals.len(), 100);
    }

    #[test]
    fn gaps_are_underruns_and_bursts_overflow() {
        let t0 = Instant::now();
        let mut p = Playout::new(g711(), Duration::from_secs(1), t0);
        p.arrive(t0, &[0xFF; 800], true, None, 0.0); // 100 ms
        p.arrive(t0 + Duration::from_millis(300), &[0xFF; 8000 * 2], true, None, 0.0); // 200 ms gap, then 2 s at once
        let l = p.finish();
        assert_eq!(l.underruns, 1);
        assert!((l.underrun_ms - 200.0).abs() < 1e-6, "{}", l.underrun_ms);
        assert!((l.overflow_ms - 1000.0).abs() < 1e-6, "{}", l.overflow_ms);
        assert!((l.max_lead_ms - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn framed_codecs_are_counted_from_their_own_headers() {
        // Two AAC ADTS frames (one raw data block each) behind length prefixes, split anywhere.
        let adts = [0xFF, 0xF1, 0x60, 0x40, 0x10, 0x1F, 0xFC, 0xAA, 0xBB];
        let mut wire = Vec::new();
        for _ in 0..2 {
            wire.extend_from_slice(&(adts.len() as u32).to_be_bytes());
            wire.extend_from_slice(&adts);
        }
        let mut f = Framing::new(CodecParams { codec: Codec::Aac, sample_rate: 16000, bitrate: None });
        let (a, b) = wire.split_at(7);
        assert_eq!(f.seconds(a) + f.seconds(b), 2.0 * 1024.0 / 16000.0);
        // An Opus packet with config 9 (SILK wide-band, 20 ms), one frame.
        let mut f = Framing::new(CodecParams { codec: Codec::Opus, sample_rate: 16000, bitrate: None });
        let mut wire = 3u32.to_be_bytes().to_vec();
        wire.extend_from_slice(&[9 << 3, 1, 2]);
        assert!((f.seconds(&wire) - 0.02).abs() < 1e-9);
        let mut g726 = Framing::new(CodecParams { codec: Codec::G726, sample_rate: 8000, bitrate: Some(16_000) });
        assert!((g726.seconds(&[0; 4000]) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn audio_while_ringing_is_received_but_not_heard() {
        let t0 = Instant::now();
        let mut p = Playout::new(g711(), Duration::from_secs(1), t0);
        p.arrive(t0, &[0xFF; 8000], false, None, 0.0);
        let l = p.finish();
        assert_eq!((l.audio_seconds, l.unheard_seconds, l.max_lead_ms), (1.0, 1.0, 0.0));
    }
}
