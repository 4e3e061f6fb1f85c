//! Streaming mono sample-rate conversion (rubato's synchronous FFT resampler). For files it is
//! time-aligned: the resampler's own delay is dropped, so a sound at time t in the input is at
//! time t in the output. Live audio keeps the delay in the stream instead: dropping it would
//! shift the output half a block early, so every block's last output frames would wait for the
//! next block (a whole block later) rather than a sound arriving half a block late.
//! `finish` flushes the tail so the output is as long as the input.

use super::decode::AudioError;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

/// Input frames per FFT block for files: long blocks, fewer FFTs.
const FILE_CHUNK: usize = 1024;
/// Blocks for live audio, where each block is a wait: 10 ms of input.
const LIVE_BLOCK_MS: u32 = 10;

pub struct Resampler {
    inner: Option<Fft<f32>>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    /// Output frames still to drop (the resampler's delay; none for live audio).
    skip: usize,
    aligned: bool,
    frames_in: u64,
    frames_out: u64,
}

fn resample_error(e: impl std::fmt::Display) -> AudioError {
    AudioError::Resample(e.to_string())
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz for files; a pass-through when they are equal.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        Self::with_chunk(from, to, FILE_CHUNK, true)
    }

    /// A converter for live audio (a microphone, a device's stream): 10 ms blocks, and each
    /// block's output is out as soon as the block is in; what a sound costs is the filter's
    /// delay (half a block), not a file block's 20-130 ms.
    pub fn live(from: u32, to: u32) -> Result<Self, AudioError> {
        Self::with_chunk(from, to, (from.div_ceil(1000 / LIVE_BLOCK_MS)).max(1) as usize, false)
    }

    fn with_chunk(from: u32, to: u32, chunk: usize, aligned: bool) -> Result<Self, AudioError> {
        if from == 0 || to == 0 {
            return Err(AudioError::Resample(format!("cannot convert {from} Hz to {to} Hz")));
        }
        let inner = if from == to {
            None
        } else {
            Some(Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input).map_err(resample_error)?)
        };
        let skip = if aligned { inner.as_ref().map_or(0, |r| r.output_delay()) } else { 0 };
        let scratch = vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(Resampler { inner, from, to, pending: Vec::new(), scratch, skip, aligned, frames_in: 0, frames_out: 0 })
    }

    /// Converts `input` (any length), appending whatever output is ready to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.frames_in += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.frames_out += input.len() as u64;
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        let mut at = 0;
        while self.pending.len() - at >= self.next_len() {
            let n = self.next_len();
            self.run(at, n, None, out)?;
            at += n;
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// Flushes the buffered input and the resampler's tail into `out`. The total output is then
    /// `input frames * to / from`, rounded down. The resampler can be reused afterwards.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        if self.inner.is_some() {
            let expected = (self.frames_in as u128 * u128::from(self.to) / u128::from(self.from)) as u64;
            let start = out.len();
            let before_finish = self.frames_out;
            let mut produced = self.frames_out;
            // Feed silence until the delayed tail has come out.
            while produced < expected {
                let n = self.next_len();
                let real = self.pending.len().min(n);
                self.pending.resize(n, 0.0);
                let before = out.len();
                self.run(0, n, Some(real), out)?;
                self.pending.clear();
                produced += (out.len() - before) as u64;
            }
            out.truncate(start + expected.saturating_sub(before_finish) as usize);
            if let Some(r) = self.inner.as_mut() {
                r.reset();
                self.skip = if self.aligned { r.output_delay() } else { 0 };
            }
        }
        self.pending.clear();
        self.frames_in = 0;
        self.frames_out = 0;
        Ok(())
    }

    fn next_len(&self) -> usize {
        self.inner.as_ref().map_or(1, |r| r.input_frames_next())
    }

    /// Runs one block from `pending[at..at + n]`; `partial` marks a final short block.
    fn run(&mut self, at: usize, n: usize, partial: Option<usize>, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(r) = self.inner.as_mut() else { return Ok(()) };
        let input = InterleavedSlice::new(&self.pending[at..at + n], 1, n).map_err(resample_error)?;
        let frames = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, 1, frames).map_err(resample_error)?;
        let indexing = partial.map(|p| Indexing { input_offset: 0, output_offset: 0, partial_len: Some(p), active_channels_mask: None });
        let (_, written) = r.process_into_buffer(&input, &mut output, indexing.as_ref()).map_err(resample_error)?;
        let dropped = self.skip.min(written);
        self.skip -= dropped;
        out.extend_from_slice(&self.scratch[dropped..written]);
        self.frames_out += (written - dropped) as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(from: u32, to: u32, input: &[f32], piece: usize) -> Vec<f32> {
        run_with(Resampler::new(from, to).unwrap(), input, piece)
    }

    fn run_with(mut r: Resampler, input: &[f32], piece: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            r.process(chunk, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn identity_passes_through() {
        let input: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        assert_eq!(run(16000, 16000, &input, 77), input);
    }

    #[test]
    fn click_stays_in_place_and_length_is_kept() {
        for (from, to) in [(48000, 8000), (44100, 16000), (22050, 16000), (8000, 48000), (16000, 8000)] {
            let len = from as usize * 3 / 2;
            let click_at = from as usize * 7 / 10; // 0.7 s
            let mut input = vec![0.0f32; len];
            input[click_at] = 1.0;
            for piece in [1, 333, 5000] {
                let out = run(from, to, &input, piece);
                let expected = len * to as usize / from as usize;
                assert_eq!(out.len(), expected, "{from}->{to} piece {piece}");
                let peak = (0..out.len()).max_by(|&a, &b| out[a].abs().total_cmp(&out[b].abs())).unwrap();
                let error_ms = (peak as f64 / f64::from(to) - 0.7).abs() * 1000.0;
                assert!(error_ms <= 1.0, "{from}->{to} piece {piece}: click moved {error_ms:.2} ms");
            }
        }
    }

    #[test]
    fn live_blocks_hold_nothing_back_and_delay_a_click_by_the_filter_alone() {
        for (from, to) in [(48000, 8000), (44100, 16000), (8000, 48000), (16000, 48000)] {
            let len = from as usize;
            let mut input = vec![0.0f32; len];
            input[from as usize / 2] = 1.0;
            let out = run_with(Resampler::live(from, to).unwrap(), &input, from as usize / 100);
            assert_eq!(out.len(), len * to as usize / from as usize, "{from}->{to}");
            let peak = (0..out.len()).max_by(|&a, &b| out[a].abs().total_cmp(&out[b].abs())).unwrap();
            let late_ms = (peak as f64 / f64::from(to) - 0.5) * 1000.0;
            assert!((0.0..=5.5).contains(&late_ms), "{from}->{to}: click {late_ms:.2} ms late");
            // Fed 10 ms at a time, each block's output is out with it (44.1 kHz: within a frame).
            let mut r = Resampler::live(from, to).unwrap();
            let mut out = Vec::new();
            for piece in input.chunks(from as usize / 100).take(10) {
                r.process(piece, &mut out).unwrap();
            }
            let held = (to as usize / 10).abs_diff(out.len());
            assert!(held <= 1, "{from}->{to}: {held} frames held back");
        }
    }

    #[test]
    fn tone_level_survives() {
        let input: Vec<f32> = (0..48000).map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48000.0).sin() * 0.5).collect();
        let out = run(48000, 8000, &input, 960);
        let rms = (out[1000..7000].iter().map(|x| x * x).sum::<f32>() / 6000.0).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.01, "rms {rms}");
    }
}
