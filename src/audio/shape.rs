//! Mono f32 at the source rate in, i16 at a codec's rate out: resample, apply the gain with a
//! peak limiter, round and saturate. A feed has one shaper per distinct codec rate, shared by
//! every encoder at that rate.

use super::decode::AudioError;
use super::resample::Resampler;
use std::ops::RangeInclusive;

/// The gain `--volume` accepts, in dB (the one place this range is stated).
pub const GAIN_DB: RangeInclusive<f32> = -60.0..=30.0;
/// Limiter ceiling, -1 dBFS: leaves headroom for codecs that overshoot (AAC, Opus).
const CEILING: f32 = 0.891;
/// Gain recovery after a peak, in seconds (fast enough not to pump on speech).
const RELEASE_S: f32 = 0.05;

pub struct Shaper {
    resampler: Resampler,
    gain: f32,
    /// Current limiter gain (1 = not limiting); drops at once on a peak, recovers over RELEASE_S.
    envelope: f32,
    release: f32,
    resampled: Vec<f32>,
}

impl Shaper {
    /// A shaper from `input_rate` to `output_rate` with `gain_db` applied; `live` converts in
    /// short blocks (see [`Resampler::live`]).
    pub fn new(input_rate: u32, output_rate: u32, gain_db: f32, live: bool) -> Result<Self, AudioError> {
        if !GAIN_DB.contains(&gain_db) {
            return Err(AudioError::BadGain { gain: gain_db, min: *GAIN_DB.start(), max: *GAIN_DB.end() });
        }
        Ok(Shaper {
            resampler: if live { Resampler::live(input_rate, output_rate)? } else { Resampler::new(input_rate, output_rate)? },
            gain: 10f32.powf(gain_db / 20.0),
            envelope: 1.0,
            release: 1.0 - (-1.0 / (RELEASE_S * output_rate as f32)).exp(),
            resampled: Vec::new(),
        })
    }

    /// Converts `samples`, appending the shaped output that is ready to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<i16>) -> Result<(), AudioError> {
        let mut resampled = std::mem::take(&mut self.resampled);
        resampled.clear();
        let result = self.resampler.process(samples, &mut resampled);
        self.level(&resampled, out);
        self.resampled = resampled;
        result
    }

    /// Flushes the resampler's tail: the output is then as long as the input.
    pub fn finish(&mut self, out: &mut Vec<i16>) -> Result<(), AudioError> {
        let mut tail = Vec::new();
        self.resampler.finish(&mut tail)?;
        self.level(&tail, out);
        Ok(())
    }

    fn level(&mut self, samples: &[f32], out: &mut Vec<i16>) {
        out.reserve(samples.len());
        for &x in samples {
            let x = if x.is_finite() { x * self.gain } else { 0.0 };
            let level = x.abs();
            if level * self.envelope > CEILING {
                self.envelope = CEILING / level;
            }
            let y = x * self.envelope;
            self.envelope += (1.0 - self.envelope) * self.release;
            out.push(to_i16(y));
        }
    }
}

/// Rounds to the nearest step and saturates, so full scale never wraps.
fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_rounds_and_saturates() {
        assert_eq!(to_i16(0.0), 0);
        assert_eq!(to_i16(1.5 / 32767.0), 2);
        assert_eq!(to_i16(-1.5 / 32767.0), -2);
        assert_eq!(to_i16(2.0), 32767);
        assert_eq!(to_i16(-2.0), -32768);
    }

    #[test]
    fn limiter_keeps_loud_input_below_full_scale() {
        let mut s = Shaper::new(16000, 16000, 12.0, false).unwrap();
        let loud: Vec<f32> = (0..16000).map(|i| (i as f32 * 0.2).sin() * 0.9).collect();
        let mut out = Vec::new();
        s.push(&loud, &mut out).unwrap();
        s.finish(&mut out).unwrap();
        let max = out.iter().map(|v| v.unsigned_abs()).max().unwrap();
        // +12 dB on 0.9 would be 3.6 times full scale: limited to the ceiling, not wrapped.
        assert!(max <= (CEILING * 32767.0) as u16 + 1 && max >= (CEILING * 32767.0) as u16 - 200, "max {max}");
        assert!(matches!(Shaper::new(16000, 8000, f32::NAN, false), Err(AudioError::BadGain { .. })));
        assert!(matches!(Shaper::new(16000, 8000, 31.0, false), Err(AudioError::BadGain { .. })));
    }

    #[test]
    fn output_covers_the_input_at_the_new_rate() {
        let mut s = Shaper::new(48000, 8000, 0.0, true).unwrap();
        let mut out = Vec::new();
        for chunk in vec![0.1f32; 48480].chunks(1000) {
            s.push(chunk, &mut out).unwrap();
        }
        s.finish(&mut out).unwrap();
        assert_eq!(out.len(), 8080);
    }
}
