//! Acoustic echo cancellation (`speak --echo-cancel`) by WebRTC's audio processing module (the
//! `webrtc-audio-processing` crate over Debian's libwebrtc-audio-processing).
//!
//! The echo it removes is the user's own voice coming back from the device: the device's
//! microphone hears the device's speaker. The reference ("render") is what the microphone
//! sends to the device; the signal cleaned ("capture") is what the device sends back. The
//! delay between them (network, the device's buffers, its speaker and microphone) is unknown
//! and differs per device, so the module estimates it (delay-agnostic mode, extended filter).

use super::decode::AudioError;
use super::resample::Resampler;

/// The module works at 48 kHz in 10 ms frames.
pub const RATE: u32 = 48_000;
const FRAME: usize = 480;
/// Reference chunks queued between the capture thread and the canceller; past this the
/// canceller is not keeping up and the newest reference is dropped (the filter re-converges).
const REFERENCE_QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error("the echo canceller could not start: {0}")]
    Start(String),
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// The microphone's side: hands over what is sent to the device, as mono samples at `rate`.
#[derive(Clone)]
pub struct Reference(std::sync::mpsc::SyncSender<(Vec<f32>, u32)>);

impl Reference {
    pub fn send(&self, samples: &[f32], rate: u32) {
        let _ = self.0.try_send((samples.to_vec(), rate));
    }
}

/// The listener's side: removes the reference's echo from the device's audio.
pub struct EchoCanceller {
    module: Module,
    reference: std::sync::mpsc::Receiver<(Vec<f32>, u32)>,
    /// Converters to [`RATE`], for the reference and for the device's audio.
    render_in: Option<(u32, Resampler)>,
    capture_in: Option<(u32, Resampler)>,
    /// Samples at [`RATE`] waiting for a whole frame: the reference, and the device's audio.
    render: Vec<f32>,
    capture: Vec<f32>,
}

impl EchoCanceller {
    pub fn new() -> Result<(EchoCanceller, Reference), EchoError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(REFERENCE_QUEUE);
        let canceller = EchoCanceller {
            module: Module::new()?,
            reference: rx,
            render_in: None,
            capture_in: None,
            render: Vec::new(),
            capture: Vec::new(),
        };
        Ok((canceller, Reference(tx)))
    }

    /// Cleans the device's audio (`samples` at `rate`) after taking in every reference that
    /// came meanwhile; appends the result, at [`RATE`], to `out`. Whole frames only: the output
    /// lags the input by less than a frame.
    pub fn process(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<(), EchoError> {
        while let Ok((chunk, rate)) = self.reference.try_recv() {
            to_rate(&mut self.render_in, rate, &chunk, &mut self.render)?;
        }
        let whole = self.render.len() / FRAME * FRAME;
        for frame in self.render[..whole].chunks_exact_mut(FRAME) {
            self.module.render(frame);
        }
        self.render.drain(..whole);
        to_rate(&mut self.capture_in, rate, samples, &mut self.capture)?;
        let whole = self.capture.len() / FRAME * FRAME;
        for frame in self.capture[..whole].chunks_exact_mut(FRAME) {
            self.module.capture(frame);
        }
        out.extend(self.capture.drain(..whole));
        Ok(())
    }
}

fn to_rate(slot: &mut Option<(u32, Resampler)>, rate: u32, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
    let r = match slot {
        Some((from, r)) if *from == rate => r,
        slot => &mut slot.insert((rate, Resampler::live(rate, RATE)?)).1,
    };
    r.process(input, out)
}

/// The WebRTC module, when this build has it (the `echo-cancel` feature).
#[cfg(feature = "echo-cancel")]
struct Module(webrtc_audio_processing::Processor);

#[cfg(feature = "echo-cancel")]
impl Module {
    fn new() -> Result<Module, EchoError> {
        use webrtc_audio_processing::*;
        let mut p = Processor::new(&InitializationConfig { num_capture_channels: 1, num_render_channels: 1, ..Default::default() })
            .map_err(|e| EchoError::Start(format!("{e:?}")))?;
        p.set_config(Config {
            echo_cancellation: Some(EchoCancellation {
                suppression_level: EchoCancellationSuppressionLevel::Moderate,
                enable_extended_filter: true,
                enable_delay_agnostic: true,
                stream_delay_ms: None,
            }),
            ..Config::default()
        });
        Ok(Module(p))
    }

    // A frame the module refuses is one frame left as it was, not a failed call.
    fn render(&mut self, frame: &mut [f32]) {
        let _ = self.0.process_render_frame(frame);
    }

    fn capture(&mut self, frame: &mut [f32]) {
        let _ = self.0.process_capture_frame(frame);
    }
}

#[cfg(not(feature = "echo-cancel"))]
enum Module {}

#[cfg(not(feature = "echo-cancel"))]
impl Module {
    fn new() -> Result<Module, EchoError> {
        Err(EchoError::Start("this hiktalk was built without the echo-cancel feature; rebuild with it, or use --half-duplex".into()))
    }

    fn render(&mut self, _: &mut [f32]) {
        match *self {}
    }

    fn capture(&mut self, _: &mut [f32]) {
        match *self {}
    }
}

#[cfg(all(test, feature = "echo-cancel"))]
mod tests {
    use super::*;

    /// Broadband noise as the user's voice, its echo 120 ms later at -6 dB: after the filter
    /// converges the echo is far down.
    #[test]
    fn a_delayed_echo_of_the_reference_is_removed() {
        let (mut aec, reference) = EchoCanceller::new().unwrap();
        let mut seed = 1u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let secs = 8;
        let voice: Vec<f32> = (0..RATE as usize * secs).map(|_| 0.3 * noise()).collect();
        let delay = RATE as usize * 120 / 1000;
        let (mut before, mut after) = (0f64, 0f64);
        for (i, chunk) in voice.chunks(FRAME * 2).enumerate() {
            reference.send(chunk, RATE);
            let start = i * FRAME * 2;
            let heard: Vec<f32> = (start..start + chunk.len()).map(|t| if t >= delay { 0.5 * voice[t - delay] } else { 0.0 }).collect();
            let late = start >= RATE as usize * (secs - 2);
            if late {
                before += heard.iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
            let mut cleaned = Vec::new();
            aec.process(&heard, RATE, &mut cleaned).unwrap();
            if late {
                after += cleaned.iter().map(|s| f64::from(s * s)).sum::<f64>();
            }
        }
        let erle = 10.0 * (before / after).log10();
        eprintln!("echo reduced by {erle:.1} dB");
        assert!(erle >= 20.0, "echo reduced by {erle:.1} dB");
    }
}
