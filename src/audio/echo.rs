//! The device's echo (`--echo device`): the user's own voice coming back from the device, its
//! microphone hearing its speaker. The reference ("render") is what the microphone sends to the
//! device; the signal cleaned ("capture") is what the device sends back, before the jitter
//! buffer. The same stage cleans the device's sound (`--clean-listen`: noise suppression and
//! gain, for a quiet, noisy outdoor unit).
//!
//! The reference is placed where the device plays it (its capture time plus what the clock
//! that paces it last said: the lead, silence stood in, frames dropped), so the delay left for
//! AEC3 to find is the device's own: its room, its microphone chunks, the way back. Placed at
//! its capture time, every change of the live lead moved the echo by a frame or more and AEC3
//! lost it for seconds (its estimate wandered 368-408 ms on a 400 ms room). AEC3 searches up
//! to about 500 ms; that holds the 50-400 ms echoes measured against the simulator (README),
//! and 480 ms (not 560). `--echo-cancel` gave 2.6-4.4 dB outside for two reasons: the old module
//! (AEC1, delay-agnostic) found such delays slowly or not at all, and the reference reached it
//! in bursts (all that queued while the device's chunk was on its way), which AEC3 too takes
//! as excess render and realigns on; `Apm` now hands render over in step with capture.

use super::apm::{Apm, Processing};
use super::decode::AudioError;
use super::resample::Resampler;
use super::sample_clock::SampleClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// Reference samples, their rate, and when the first was captured.
type Piece = (Vec<f32>, u32, Instant);

/// The microphone's side: hands over what is sent to the device, as mono samples at `rate`,
/// the first captured at `at`.
#[derive(Clone)]
pub struct Reference {
    tx: std::sync::mpsc::SyncSender<Piece>,
    playout: Arc<Playout>,
}

impl Reference {
    pub fn send(&self, samples: &[f32], rate: u32, at: Instant) {
        let _ = self.tx.try_send((samples.to_vec(), rate, at));
    }

    /// Where the clock that paces this audio says when it plays.
    pub fn playout(&self) -> Arc<Playout> {
        self.playout.clone()
    }
}

/// How long after its capture the microphone's audio plays at the device, as the clock that
/// paces it last said. It moves whenever the clock's live lead does (silence standing in for
/// late audio, frames dropped to give lead back), and with it the echo's path: the reference is
/// placed where the device plays it, so the canceller has only the device's own path to find.
#[derive(Default)]
pub struct Playout {
    /// Nanoseconds; 0 until the first frame went out.
    after_capture_ns: AtomicU64,
}

impl Playout {
    /// A frame captured at `captured` plays (its first sample) at `plays`.
    pub fn sent(&self, captured: Instant, plays: Instant) {
        let after = plays.saturating_duration_since(captured).as_nanos().min(u128::from(u64::MAX)) as u64;
        self.after_capture_ns.store(after.max(1), Ordering::Relaxed);
    }

    fn after_capture(&self) -> Duration {
        Duration::from_nanos(self.after_capture_ns.load(Ordering::Relaxed))
    }
}

/// The listener's side: removes the reference's echo from the device's audio, and with
/// `clean`, its noise, and brings it to a steady level.
pub struct EchoCanceller {
    module: Apm,
    reference: Option<(std::sync::mpsc::Receiver<Piece>, Arc<Playout>)>,
    /// Converters to [`RATE`], for the reference and for the device's audio.
    render_in: Option<(u32, Resampler)>,
    capture_in: Option<(u32, Resampler)>,
    /// When the device's audio was heard: its own clock, not each piece's arrival.
    heard: Option<SampleClock>,
    scratch: Vec<f32>,
}

impl EchoCanceller {
    /// With `processing.echo`, also the reference the microphone feeds.
    pub fn new(processing: Processing) -> Result<(EchoCanceller, Option<Reference>), EchoError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(REFERENCE_QUEUE);
        let playout = Arc::new(Playout::default());
        let (reference, tx) = match processing.echo {
            true => (Some((rx, playout.clone())), Some(Reference { tx, playout })),
            false => (None, None),
        };
        let canceller = EchoCanceller {
            module: Apm::new(RATE, RATE, processing).map_err(EchoError::Start)?,
            reference,
            render_in: None,
            capture_in: None,
            heard: None,
            scratch: Vec::new(),
        };
        Ok((canceller, tx))
    }

    /// Cleans the device's audio (`samples` at `rate`, arrived just now) after taking in every
    /// reference that came meanwhile; appends the result, at [`RATE`], to `out`. Whole frames
    /// only: the output lags the input by less than a frame.
    pub fn process(&mut self, samples: &[f32], rate: u32, out: &mut Vec<f32>) -> Result<(), EchoError> {
        if let Some((reference, playout)) = &self.reference {
            while let Ok((chunk, rate, at)) = reference.try_recv() {
                self.scratch.clear();
                to_rate(&mut self.render_in, rate, &chunk, &mut self.scratch)?;
                // Taken in after the clock sent it (the device's audio comes a round trip
                // later), so the clock's word on it is fresh.
                self.module.render(&self.scratch, at + playout.after_capture());
            }
        }
        // The piece ends about when it arrived; a piece that arrived late (a burst after this
        // process or the network stalled) keeps its place in the device's stream, or the
        // reference it is matched against would be dropped as excess and the echo's path lost.
        let heard = match &mut self.heard {
            Some(c) if c.rate() == rate.max(1) => c,
            slot => slot.insert(SampleClock::new(rate)),
        };
        let at = heard.place(samples.len(), Instant::now());
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
