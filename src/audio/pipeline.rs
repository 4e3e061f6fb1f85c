//! Mono f32 at the source rate in, wire frames out: resample, gain with a peak limiter,
//! f32 -> i16, frame, encode.

use super::decode::AudioError;
use super::resample::Resampler;
use crate::codec::{CodecParams, Encoder};
use std::time::Duration;

/// Limiter ceiling, -1 dBFS: leaves headroom for codecs that overshoot (AAC, Opus).
const CEILING: f32 = 0.891;
/// Gain recovery after a peak, in seconds (fast enough not to pump on speech).
const RELEASE_S: f32 = 0.05;

pub struct Pipeline {
    encoder: Box<dyn Encoder>,
    resampler: Resampler,
    gain: f32,
    /// Current limiter gain (1 = not limiting); drops at once on a peak, recovers over RELEASE_S.
    envelope: f32,
    release: f32,
    resampled: Vec<f32>,
    frame: Vec<i16>,
    frame_samples: usize,
    /// Frames of real audio encoded, and encode calls that produced output (an encoder may hold
    /// back its first frames).
    frames_in: u64,
    frames_out: u64,
    clipped: u64,
    peak: f32,
}

impl Pipeline {
    /// One frame of codec silence from a separate encoder, for gaps in a live input.
    pub fn keepalive_frame(params: CodecParams) -> Result<Vec<u8>, AudioError> {
        let mut pipeline = Pipeline::new(params.sample_rate, crate::codec::encoder(params)?, 0.0)?;
        let mut frames = Vec::new();
        // Encoders with a start-up delay (AAC) emit nothing for the first frames.
        for _ in 0..8 {
            pipeline.silence(&mut frames)?;
        }
        Ok(frames.into_iter().rev().find(|f| !f.is_empty()).unwrap_or_default())
    }

    /// A pipeline from `input_rate` mono audio into `encoder`, with `gain_db` applied.
    pub fn new(input_rate: u32, encoder: Box<dyn Encoder>, gain_db: f32) -> Result<Self, AudioError> {
        if !(-60.0..=40.0).contains(&gain_db) {
            return Err(AudioError::BadGain(gain_db));
        }
        let rate = encoder.params().sample_rate;
        let frame_samples = encoder.frame_samples();
        Ok(Pipeline {
            resampler: Resampler::new(input_rate, rate)?,
            gain: 10f32.powf(gain_db / 20.0),
            envelope: 1.0,
            release: 1.0 - (-1.0 / (RELEASE_S * rate as f32)).exp(),
            resampled: Vec::new(),
            frame: Vec::with_capacity(frame_samples),
            frame_samples,
            encoder,
            frames_in: 0,
            frames_out: 0,
            clipped: 0,
            peak: 0.0,
        })
    }

    pub fn params(&self) -> CodecParams {
        self.encoder.params()
    }

    pub fn frame_duration(&self) -> Duration {
        crate::codec::frame_duration(self.encoder.as_ref())
    }

    /// Mono f32 at the input rate in; complete encoded frames out, one `Vec` per frame (for AAC,
    /// whatever the encoder emitted for that frame, empty during its start-up delay).
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Vec<u8>>) -> Result<(), AudioError> {
        let mut resampled = std::mem::take(&mut self.resampled);
        resampled.clear();
        self.resampler.process(samples, &mut resampled)?;
        let result = self.feed(&resampled, out);
        self.resampled = resampled;
        result
    }

    /// Flushes the resampler, pads the last partial frame with silence, then adds silence
    /// frames until the encoder's delayed tail is out.
    pub fn finish(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), AudioError> {
        let mut tail = Vec::new();
        self.resampler.finish(&mut tail)?;
        self.feed(&tail, out)?;
        if !self.frame.is_empty() {
            self.frame.resize(self.frame_samples, 0);
            self.encode_frame(out)?;
        }
        let extra = self.encoder.delay().div_ceil(self.frame_samples) as u64;
        let target = self.frames_in + extra;
        // Bounded: an encoder that never emits must not loop forever.
        for _ in 0..extra + 8 {
            if self.frames_out >= target {
                break;
            }
            self.silence(out)?;
        }
        Ok(())
    }

    /// One frame of codec silence through the same stateful encoder, for keepalive.
    pub fn silence(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), AudioError> {
        let zeros = vec![0i16; self.frame_samples];
        let mut bytes = Vec::new();
        self.encoder.encode(&zeros, &mut bytes)?;
        self.frames_out += u64::from(!bytes.is_empty());
        out.push(bytes);
        Ok(())
    }

    /// Samples the limiter had to turn down.
    pub fn clipped(&self) -> u64 {
        self.clipped
    }

    /// Peak level of the last pushed chunk after gain, in dBFS (-inf for digital silence).
    pub fn peak_dbfs(&self) -> f32 {
        20.0 * self.peak.log10()
    }

    fn feed(&mut self, samples: &[f32], out: &mut Vec<Vec<u8>>) -> Result<(), AudioError> {
        let mut peak = 0.0f32;
        for &x in samples {
            let x = if x.is_finite() { x * self.gain } else { 0.0 };
            let level = x.abs();
            if level * self.envelope > CEILING {
                self.envelope = CEILING / level;
                self.clipped += 1;
            }
            let y = x * self.envelope;
            self.envelope += (1.0 - self.envelope) * self.release;
            peak = peak.max(y.abs());
            self.frame.push(to_i16(y));
            if self.frame.len() == self.frame_samples {
                self.encode_frame(out)?;
            }
        }
        if !samples.is_empty() {
            self.peak = peak;
        }
        Ok(())
    }

    fn encode_frame(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), AudioError> {
        let mut bytes = Vec::new();
        self.encoder.encode(&self.frame, &mut bytes)?;
        self.frame.clear();
        self.frames_in += 1;
        self.frames_out += u64::from(!bytes.is_empty());
        out.push(bytes);
        Ok(())
    }
}

/// Rounds to the nearest step and saturates, so full scale never wraps.
fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{self, Codec, CodecParams};

    fn pipeline(codec: Codec, rate: u32, gain_db: f32) -> Pipeline {
        Pipeline::new(rate, codec::encoder(CodecParams::new(codec)).unwrap(), gain_db).unwrap()
    }

    #[test]
    fn conversion_rounds_and_saturates() {
        assert_eq!(to_i16(0.0), 0);
        assert_eq!(to_i16(1.5 / 32767.0), 2);
        assert_eq!(to_i16(-1.5 / 32767.0), -2);
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(-2.0), -32768);
    }

    #[test]
    fn frames_cover_the_input_and_tail_is_padded() {
        let mut p = pipeline(Codec::G711Ulaw, 48000, 0.0);
        assert_eq!(p.frame_duration(), Duration::from_millis(20));
        let mut out = Vec::new();
        // 1.01 s at 48 kHz -> 8080 samples at 8 kHz -> 50.5 frames -> 51 after padding.
        for chunk in vec![0.1f32; 48480].chunks(1000) {
            p.push(chunk, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        assert_eq!(out.len(), 51);
        assert!(out.iter().all(|f| f.len() == 160));
        p.silence(&mut out).unwrap();
        assert_eq!(out.last().unwrap(), &vec![0xFF; 160]);
    }

    #[test]
    fn limiter_keeps_loud_input_below_full_scale() {
        let mut p = pipeline(Codec::Pcm, 16000, 12.0);
        let loud: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.2).sin() * 0.9).collect();
        let mut out = Vec::new();
        p.push(&loud, &mut out).unwrap();
        p.finish(&mut out).unwrap();
        assert!(p.clipped() > 0);
        let max = out.concat().chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs()).max().unwrap();
        assert!(max <= (CEILING * 32767.0) as u16 + 1, "max {max}");
        assert!(p.peak_dbfs() <= -0.9);
        let quiet = pipeline(Codec::Pcm, 16000, 0.0);
        assert_eq!(quiet.clipped(), 0);
        let enc = codec::encoder(CodecParams::new(Codec::Pcm)).unwrap();
        assert!(matches!(Pipeline::new(16000, enc, f32::NAN), Err(AudioError::BadGain(_))));
    }

    #[test]
    fn the_last_moments_of_input_reach_the_wire_for_every_codec() {
        // Silence, then a 10 ms burst at the very end: only a complete flush (resampler tail,
        // partial frame, codec delay) gets it to the decoder.
        let mut input = vec![0.0f32; 48000];
        for (i, x) in input[47520..].iter_mut().enumerate() {
            *x = (i as f32 * std::f32::consts::TAU * 1000.0 / 48000.0).sin() * 0.5;
        }
        for c in Codec::ALL {
            let params = CodecParams::new(c);
            let mut p = Pipeline::new(48000, codec::encoder(params).unwrap(), 0.0).unwrap();
            let mut out = Vec::new();
            p.push(&input, &mut out).unwrap();
            p.finish(&mut out).unwrap();
            let mut pcm = Vec::new();
            codec::decoder(params).unwrap().decode(&out.concat(), &mut pcm).unwrap();
            let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak > 8000, "{c}: the final burst is missing (peak {peak})");
        }
    }
}
