//! WebRTC's audio processing module (AEC3 echo canceller, noise suppression, AGC2 gain control)
//! through `sonora`, a pure-Rust port of the current upstream module: no system library.
//!
//! One stream is cleaned ("capture"), optionally against another ("render", what went out and
//! may come back as echo). Both are taken at their own rates (the module converts inside) and
//! cut into its 10 ms frames here; a capture frame is processed as soon as it is whole, so the
//! output lags the input by less than a frame, and by nothing when the input comes in 10 ms
//! pieces (a microphone's periods).
//!
//! The module wants render and capture frames interleaved as they happen: its render buffer
//! takes at most 8 blocks (32 ms) of render ahead of capture before it decides the render is
//! "excess" and realigns, losing the echo path it learnt. Render comes in bursts (a device's
//! 40 ms chunks, a reference queued while the device's audio was on its way), so render frames
//! wait here with their times and are handed over just before the capture frame they precede.
//!
//! Why this module and not the old one (Debian's libwebrtc-audio-processing 0.3, AEC1): with a
//! known echo path (-6 dB, broadband) AEC3 removed 50-70 dB within the first second at 40, 150
//! and 400 ms and took 0.3-1.6 dB off the near voice in double-talk; AEC1 needed 15 s to find
//! 150 ms, got ~23 dB, and took 12-15 dB off the near voice while both spoke. AEC3 searches
//! delays up to about 500 ms; past that it gives up after a few seconds (see `echo.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What the module does to the capture stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Processing {
    /// Remove the render stream's echo.
    pub echo: bool,
    /// Noise suppression and adaptive gain (a quiet, noisy microphone).
    pub clean: bool,
}

/// The module's frame: 10 ms.
pub const FRAME: Duration = Duration::from_millis(10);

/// Render frames due at once past this many are dropped (the oldest): more would be excess
/// render to the module anyway, which then drops them itself and realigns.
const MAX_DUE: usize = 6;
/// Render frames kept waiting for capture at most (a capture stream that stalled).
const MAX_WAITING: usize = 200;

/// One module instance with its frame buffers.
pub struct Apm {
    module: Module,
    capture_frame: usize,
    render_frame: usize,
    /// Render samples waiting for a whole frame, and when the first of them was taken.
    render: Vec<f32>,
    render_at: Option<Instant>,
    /// Whole render frames waiting for their turn, with their times.
    waiting: VecDeque<(Instant, Vec<f32>)>,
    /// Capture samples waiting for a whole frame, and when the first of them was captured.
    capture: Vec<f32>,
    capture_at: Option<Instant>,
    out: Vec<f32>,
}

impl Apm {
    /// `capture_rate`: the cleaned stream's; `render_rate`: the reference's (unused without echo).
    pub fn new(capture_rate: u32, render_rate: u32, processing: Processing) -> Result<Apm, String> {
        let frame = |rate: u32| (rate / 100) as usize;
        if frame(capture_rate) == 0 || frame(render_rate) == 0 {
            return Err(format!("cannot process audio at {capture_rate} Hz against {render_rate} Hz"));
        }
        Ok(Apm {
            module: Module::new(capture_rate, render_rate, processing)?,
            capture_frame: frame(capture_rate),
            render_frame: frame(render_rate),
            render: Vec::new(),
            render_at: None,
            waiting: VecDeque::new(),
            capture: Vec::new(),
            capture_at: None,
            out: vec![0.0; frame(capture_rate)],
        })
    }

    /// The delay the caller knows of between a render sample handed over and its echo in the
    /// capture stream (the module clamps it to 0..=500 ms; AEC3 treats it as a hint only).
    pub fn set_delay_hint(&mut self, delay: Duration) {
        self.module.delay_hint(delay.as_millis().min(500) as i32);
    }

    /// Takes in reference samples, the first of them played (or sent) at `at`; each whole frame
    /// waits for the first capture frame from a later time.
    pub fn render(&mut self, samples: &[f32], at: Instant) {
        let start = *self.render_at.get_or_insert_with(|| at.checked_sub(frames(self.render.len(), self.render_frame)).unwrap_or(at));
        self.render.extend_from_slice(samples);
        let whole = self.render.len() / self.render_frame;
        for (k, frame) in self.render.chunks_exact(self.render_frame).enumerate() {
            if self.waiting.len() == MAX_WAITING {
                self.waiting.pop_front();
            }
            self.waiting.push_back((start + FRAME * k as u32, frame.to_vec()));
        }
        self.render.drain(..whole * self.render_frame);
        self.render_at = (!self.render.is_empty()).then(|| start + FRAME * whole as u32);
    }

    /// Cleans `samples`, the first of them captured at `at`, appending every whole frame's
    /// result to `out`, and returns when the first sample appended was captured; what is left of
    /// a frame waits for the next call ([`held`](Self::held) says how much).
    pub fn capture(&mut self, samples: &[f32], at: Instant, out: &mut Vec<f32>) -> Instant {
        let start = *self.capture_at.get_or_insert_with(|| at.checked_sub(frames(self.capture.len(), self.capture_frame)).unwrap_or(at));
        self.capture.extend_from_slice(samples);
        let whole = self.capture.len() / self.capture_frame;
        for k in 0..whole {
            let now = start + FRAME * k as u32;
            let due = self.waiting.iter().take_while(|(t, _)| *t <= now).count();
            self.waiting.drain(..due.saturating_sub(MAX_DUE));
            for _ in 0..due.min(MAX_DUE) {
                if let Some((_, frame)) = self.waiting.pop_front() {
                    self.module.render(&frame);
                }
            }
            let frame = &self.capture[k * self.capture_frame..(k + 1) * self.capture_frame];
            self.module.capture(frame, &mut self.out);
            out.extend_from_slice(&self.out);
        }
        self.capture.drain(..whole * self.capture_frame);
        self.capture_at = (!self.capture.is_empty()).then(|| start + FRAME * whole as u32);
        start
    }

    /// Capture samples held for the next frame.
    pub fn held(&self) -> usize {
        self.capture.len()
    }
}

/// How long `samples` samples last, in frames of `frame` samples (10 ms each).
fn frames(samples: usize, frame: usize) -> Duration {
    Duration::from_secs_f64(samples as f64 / frame as f64 * FRAME.as_secs_f64())
}

/// The module, when this build has it (the `echo-cancel` feature).
#[cfg(feature = "echo-cancel")]
struct Module(Box<sonora::AudioProcessing>);

#[cfg(feature = "echo-cancel")]
impl Module {
    fn new(capture_rate: u32, render_rate: u32, processing: Processing) -> Result<Module, String> {
        use sonora::config::{AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression};
        let config = sonora::Config {
            echo_canceller: processing.echo.then(EchoCanceller::default),
            high_pass_filter: processing.clean.then(HighPassFilter::default),
            noise_suppression: processing.clean.then(NoiseSuppression::default),
            gain_controller2: processing
                .clean
                .then(|| GainController2 { adaptive_digital: Some(AdaptiveDigital::default()), ..GainController2::default() }),
            ..sonora::Config::default()
        };
        let module = sonora::AudioProcessing::builder()
            .config(config)
            .capture_config(sonora::StreamConfig::new(capture_rate, 1))
            .render_config(sonora::StreamConfig::new(render_rate, 1))
            .build();
        Ok(Module(Box::new(module)))
    }

    fn delay_hint(&mut self, ms: i32) {
        // Out of range is clamped, which is what is wanted.
        let _ = self.0.set_stream_delay_ms(ms);
    }

    // A frame the module refuses is one frame left as it was, not a failed call.
    fn render(&mut self, frame: &[f32]) {
        let mut ignored = vec![0.0; frame.len()];
        let _ = self.0.process_render_f32(&[frame], &mut [&mut ignored]);
    }

    fn capture(&mut self, frame: &[f32], out: &mut [f32]) {
        if self.0.process_capture_f32(&[frame], &mut [out]).is_err() {
            out.copy_from_slice(frame);
        }
    }
}

#[cfg(not(feature = "echo-cancel"))]
enum Module {}

#[cfg(not(feature = "echo-cancel"))]
impl Module {
    fn new(_: u32, _: u32, _: Processing) -> Result<Module, String> {
        Err("this hiktalk was built without the echo-cancel feature (WebRTC audio processing); rebuild with it, or use --echo off".into())
    }

    fn delay_hint(&mut self, _: i32) {
        match *self {}
    }

    fn render(&mut self, _: &[f32]) {
        match *self {}
    }

    fn capture(&mut self, _: &[f32], _: &mut [f32]) {
        match *self {}
    }
}

#[cfg(all(test, feature = "echo-cancel"))]
mod tests {
    use super::*;

    /// Broadband noise as what went out, its echo `delay` later at -6 dB, and a 440 Hz "near
    /// voice" in the second half: the echo is far down once converged, the voice is not.
    fn erle_and_voice_loss(delay_ms: usize) -> (f64, f64) {
        const RATE: usize = 48_000;
        let mut apm = Apm::new(RATE as u32, RATE as u32, Processing { echo: true, clean: false }).unwrap();
        let mut seed = 1u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let secs = 8;
        let far: Vec<f32> = (0..RATE * secs).map(|_| 0.5 * noise()).collect();
        let voice = |t: usize| if t >= RATE * 6 { 0.25 * (2.0 * std::f32::consts::PI * 440.0 * t as f32 / RATE as f32).sin() } else { 0.0 };
        let delay = RATE * delay_ms / 1000;
        let (mut echo_in, mut echo_out, mut cleaned) = (0f64, 0f64, Vec::new());
        let t0 = Instant::now();
        for (k, chunk) in far.chunks(480).enumerate() {
            let at = t0 + FRAME * k as u32;
            apm.render(chunk, at);
            let start = k * 480;
            let echo: Vec<f32> = (start..start + chunk.len()).map(|t| if t >= delay { 0.5 * far[t - delay] } else { 0.0 }).collect();
            let mic: Vec<f32> = echo.iter().enumerate().map(|(i, e)| e + voice(start + i)).collect();
            let before = cleaned.len();
            apm.capture(&mic, at, &mut cleaned);
            if (RATE * 4..RATE * 6).contains(&start) {
                echo_in += echo.iter().map(|s| f64::from(s * s)).sum::<f64>();
                echo_out += cleaned[before..].iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
        }
        // The voice's 440 Hz component in the last second, against the voice alone.
        let tone = |x: &[f32], from: usize| {
            let (mut s, mut c) = (0f64, 0f64);
            for (i, v) in x.iter().enumerate() {
                let ph = 2.0 * std::f64::consts::PI * 440.0 * (from + i) as f64 / RATE as f64;
                s += f64::from(*v) * ph.sin();
                c += f64::from(*v) * ph.cos();
            }
            (s * s + c * c).sqrt()
        };
        let last = RATE * (secs - 1);
        let alone: Vec<f32> = (last..RATE * secs).map(voice).collect();
        (10.0 * (echo_in / echo_out).log10(), 20.0 * (tone(&cleaned[last..], last) / tone(&alone, last)).log10())
    }

    #[test]
    fn a_delayed_echo_is_removed_and_the_near_voice_kept() {
        for delay in [40, 150, 400] {
            let (erle, voice) = erle_and_voice_loss(delay);
            eprintln!("{delay} ms: echo reduced by {erle:.1} dB, near voice {voice:+.1} dB while both talk");
            assert!(erle >= 30.0, "{delay} ms: echo reduced by {erle:.1} dB");
            assert!(voice >= -3.0, "{delay} ms: near voice {voice:+.1} dB");
        }
    }

    /// Render that comes in bursts (a 200 ms backlog, then 40 ms chunks) is handed over in
    /// step with the capture frames it precedes: the echo is still found.
    #[test]
    fn render_in_bursts_is_interleaved_by_time() {
        const RATE: usize = 48_000;
        let mut apm = Apm::new(RATE as u32, RATE as u32, Processing { echo: true, clean: false }).unwrap();
        let mut seed = 3u32;
        let far: Vec<f32> = (0..RATE * 6)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                0.5 * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            })
            .collect();
        let delay = RATE * 150 / 1000;
        let t0 = Instant::now();
        let at = |i: usize| t0 + Duration::from_secs_f64(i as f64 / RATE as f64);
        let (mut cleaned, mut echo_in, mut echo_out) = (Vec::new(), 0f64, 0f64);
        let chunk = RATE * 40 / 1000;
        for (k, start) in (0..far.len()).step_by(chunk).enumerate() {
            // The reference runs 200 ms ahead of the capture calls, in 40 ms pieces.
            let ahead = (start + RATE / 5).min(far.len());
            if k == 0 {
                apm.render(&far[..ahead], at(0));
            } else if start + RATE / 5 < far.len() {
                apm.render(&far[ahead - chunk..ahead], at(ahead - chunk));
            }
            let echo: Vec<f32> = (start..start + chunk).map(|t| if t >= delay { 0.5 * far[t - delay] } else { 0.0 }).collect();
            let before = cleaned.len();
            apm.capture(&echo, at(start), &mut cleaned);
            if start >= RATE * 4 {
                echo_in += echo.iter().map(|s| f64::from(s * s)).sum::<f64>();
                echo_out += cleaned[before..].iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
        }
        let erle = 10.0 * (echo_in / echo_out).log10();
        assert!(erle >= 30.0, "echo reduced by {erle:.1} dB");
    }

    #[test]
    fn frames_are_processed_as_soon_as_they_are_whole() {
        let mut apm = Apm::new(44_100, 48_000, Processing { echo: true, clean: true }).unwrap();
        let (mut out, t0) = (Vec::new(), Instant::now());
        apm.capture(&[0.0; 400], t0, &mut out);
        assert_eq!((out.len(), apm.held()), (0, 400));
        let first = apm.capture(&[0.0; 482], t0 + Duration::from_micros(9070), &mut out);
        assert_eq!((out.len(), apm.held(), first), (882, 0, t0));
    }
}
