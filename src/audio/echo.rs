//! The device's echo (`--echo device`): the user's own voice coming back from the device, its
//! microphone hearing its speaker. The reference ("render") is what the microphone sends to the
//! device; the signal cleaned ("capture") is what the device sends back, before the jitter
//! buffer. The same stage cleans the device's sound (`--clean-listen`: noise suppression and
//! gain, for a quiet, noisy outdoor unit).
//!
//! The delay between the two is everything from the microphone to the device and back: the
//! clock's lead, the device's playout buffer, its room, its microphone chunks, the network.
//! AEC3 searches up to about 500 ms; that holds the 50-400 ms echoes measured against the
//! simulator (README). `--echo-cancel` gave 2.6-4.4 dB outside for two reasons: the old module
//! (AEC1, delay-agnostic) found such delays slowly or not at all, and the reference reached it
//! in bursts (all that queued while the device's chunk was on its way), which AEC3 too takes
//! as excess render and realigns on; `Apm` now hands render over in step with capture.

use super::apm::{Apm, Processing};
use super::decode::AudioError;
use super::resample::Resampler;
use std::time::{Duration, Instant};

/// The device's audio and the reference both go to the module at 48 kHz (the device's rate may
/// change between sessions; one module serves the whole call).
pub const RATE: u32 = 48_000;
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

/// The microphone's side: hands over what is sent to the device, as mono samples at `rate`,
/// the first captured at `at`.
#[derive(Clone)]
pub struct Reference(std::sync::mpsc::SyncSender<(Vec<f32>, u32, Instant)>);

impl Reference {
    pub fn send(&self, samples: &[f32], rate: u32, at: Instant) {
        let _ = self.0.try_send((samples.to_vec(), rate, at));
    }
}

/// The listener's side: removes the reference's echo from the device's audio, and with
/// `clean`, its noise, and brings it to a steady level.
pub struct EchoCanceller {
    module: Apm,
    reference: Option<std::sync::mpsc::Receiver<(Vec<f32>, u32, Instant)>>,
    /// Converters to [`RATE`], for the reference and for the device's audio.
    render_in: Option<(u32, Resampler)>,
    capture_in: Option<(u32, Resampler)>,
    scratch: Vec<f32>,
}

impl EchoCanceller {
    /// With `processing.echo`, also the reference the microphone feeds.
    pub fn new(processing: Processing) -> Result<(EchoCanceller, Option<Reference>), EchoError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(REFERENCE_QUEUE);
        let (reference, tx) = match processing.echo {
            true => (Some(rx), Some(Reference(tx))),
            false => (None, None),
        };
        let canceller = EchoCanceller {
            module: Apm::new(RATE, RATE, processing).map_err(EchoError::Start)?,
            reference,
            render_in: None,
            capture_in: None,
            scratch: Vec::new(),
        };
        Ok((canceller, tx))
    }

    /// Cleans the device's audio (`samples` at `rate`, arrived just now) after taking in every
    /// reference that came meanwhile; appends the result, at [`RATE`], to `out`. Whole frames
    /// only: the output lags the input by less than a frame.
    pub fn process(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<(), EchoError> {
        if let Some(reference) = &self.reference {
            while let Ok((chunk, rate, at)) = reference.try_recv() {
                self.scratch.clear();
                to_rate(&mut self.render_in, rate, &chunk, &mut self.scratch)?;
                self.module.render(&self.scratch, at);
            }
        }
        // The piece covers the time up to its arrival.
        let now = Instant::now();
        let at = now.checked_sub(Duration::from_secs_f64(samples.len() as f64 / f64::from(rate.max(1)))).unwrap_or(now);
        self.scratch.clear();
        to_rate(&mut self.capture_in, rate, samples, &mut self.scratch)?;
        self.module.capture(&self.scratch, at, out);
        Ok(())
    }
}

fn to_rate(slot: &mut Option<(u32, Resampler)>, rate: u32, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
    if rate == RATE {
        out.extend_from_slice(input);
        return Ok(());
    }
    let r = match slot {
        Some((from, r)) if *from == rate => r,
        slot => &mut slot.insert((rate, Resampler::live(rate, RATE)?)).1,
    };
    r.process(input, out)
}
