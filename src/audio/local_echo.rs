//! The room's echo (`--echo local`): on a laptop or a desk speakerphone the microphone hears
//! what the speaker plays, and the visitor hears their own voice back. WebRTC's module in its
//! native orientation removes it: the reference ("render") is what hiktalk's output callback
//! hands to the sound card, after resampling and the jitter buffer, at the output's own clock;
//! the signal cleaned ("capture") is the microphone, before anything else sees it (the level
//! meter, the voice gate, the encoder). The same stage cleans the microphone (`--clean-mic`:
//! noise suppression and gain, for a quiet laptop microphone).
//!
//! The reference crosses threads through a lock-free ring written by the cpal callback (which
//! must not block or allocate) and read by the capture thread, which feeds everything played so
//! far to the module before each piece of microphone audio: the echo always comes after its
//! reference. The output and input latencies that cpal reports are the module's delay hint.

use super::apm::{Apm, Processing};
use super::echo::EchoError;
use super::sample_clock::SampleClock;
use cpal::{FromSample, Sample};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the ring holds: more than the capture thread can fall behind (it drains every few ms)
/// and less than the module's memory; when full the callback drops what does not fit.
const RING: Duration = Duration::from_secs(1);
/// The largest output rate the ring is sized for.
const MAX_RATE: u32 = 192_000;

/// What the output tells the capture side.
struct Shared {
    /// The output's rate once it is open (0 before).
    rate: AtomicU32,
    /// The last callback's output latency (callback to playback), in microseconds.
    latency_us: AtomicU32,
    /// Samples the callbacks handed to the card in all, and when the last callback ran (ns
    /// after `base`): when a sample read from the ring went out.
    written: AtomicU64,
    written_at_ns: AtomicU64,
    base: Instant,
}

/// The output callback's side: records what is played.
pub struct RenderTap {
    ring: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    /// When what the callbacks hand over plays, by the output's sample clock: a late callback
    /// (a loaded machine) does not move the reference's times, so the canceller's alignment
    /// holds; taken from each callback's own time, they jumped with every late one.
    clock: SampleClock,
}

/// Says when the output is open, from outside the callback the tap moves into.
pub struct TapRate(Arc<Shared>);

impl TapRate {
    /// The output plays at `rate`: the capture side can start.
    pub fn opened(&self, rate: u32) {
        self.0.rate.store(rate, Ordering::Relaxed);
    }
}

impl RenderTap {
    pub fn rate_handle(&self) -> TapRate {
        TapRate(self.shared.clone())
    }

    /// Called by the output callback with what it just wrote (`channels` interleaved): the
    /// first channel is the reference. Never blocks or allocates.
    pub fn record<T: Sample>(&mut self, out: &[T], channels: usize, info: &cpal::OutputCallbackInfo)
    where
        f32: FromSample<T>,
    {
        let ts = info.timestamp();
        let latency = ts.playback.saturating_duration_since(ts.callback);
        let shared = &self.shared;
        shared.latency_us.store(latency.as_micros().min(u128::from(u32::MAX)) as u32, Ordering::Relaxed);
        let mut pushed = 0;
        for frame in out.chunks_exact(channels.max(1)) {
            if self.ring.push(f32::from_sample(frame[0])).is_err() {
                break;
            }
            pushed += 1;
        }
        let now = Instant::now();
        // Before the output says its rate (its first callbacks), the callback's own time.
        let written_at = match shared.rate.load(Ordering::Relaxed) {
            0 => now,
            rate => {
                if self.clock.rate() != rate {
                    self.clock.reset(rate);
                }
                self.clock.place(pushed as usize, now + Duration::from_secs_f64(pushed as f64 / f64::from(rate)))
            }
        };
        let written_at = written_at.saturating_duration_since(shared.base).as_nanos() as u64;
        shared.written_at_ns.store(written_at, Ordering::Relaxed);
        shared.written.fetch_add(pushed, Ordering::Relaxed);
    }
}

/// The microphone's side: cleans what it captures.
pub struct MicProcessor {
    processing: Processing,
    /// The reference, with `--echo local`.
    render: Option<(rtrb::Consumer<f32>, Arc<Shared>)>,
    module: Option<Apm>,
    /// Reference samples read from the ring so far.
    read: u64,
    cleaned: Vec<f32>,
}

impl MicProcessor {
    /// A processor doing `processing`, and with `processing.echo`, the tap its reference comes
    /// from (for the output). Nothing to do: `None`. Fails when this build has no module.
    pub fn new(processing: Processing) -> Result<Option<(MicProcessor, Option<RenderTap>)>, EchoError> {
        if processing == Processing::default() {
            return Ok(None);
        }
        // The real one starts once the rates are known; this says now if none can.
        Apm::new(48_000, 48_000, processing).map_err(EchoError::Start)?;
        let (render, tap) = match processing.echo {
            true => {
                let (tx, rx) = rtrb::RingBuffer::new((RING.as_secs_f64() * f64::from(MAX_RATE)) as usize);
                let shared = Arc::new(Shared {
                    rate: AtomicU32::new(0),
                    latency_us: AtomicU32::new(0),
                    written: AtomicU64::new(0),
                    written_at_ns: AtomicU64::new(0),
                    base: Instant::now(),
                });
                (Some((rx, shared.clone())), Some(RenderTap { ring: tx, shared, clock: SampleClock::new(48_000) }))
            }
            false => (None, None),
        };
        Ok(Some((MicProcessor { processing, render, module: None, read: 0, cleaned: Vec::new() }, tap)))
    }

    /// Cleans `samples` (captured from `at` on, at `rate`), in place, returning when the first
    /// sample now in `samples` was captured: a partial frame waits for the next call, so the
    /// output may start with the end of the last call's audio, or be empty. Until the output is
    /// open (the reference's rate is known), the microphone passes as it is.
    pub fn process(&mut self, samples: &mut Vec<f32>, at: Instant, rate: u32) -> Instant {
        let render_rate = match &self.render {
            Some((_, shared)) => shared.rate.load(Ordering::Relaxed),
            None => rate,
        };
        if self.module.is_none() && render_rate > 0 {
            // A module that cannot start is a microphone left as it is, not a failed call.
            self.module = Apm::new(rate, render_rate, self.processing).ok();
        }
        let Some(module) = &mut self.module else {
            if let Some((ring, _)) = &mut self.render {
                // Played before the module existed: nothing to match it with.
                let n = ring.slots();
                let _ = ring.read_chunk(n).map(|c| c.commit_all());
                self.read += n as u64;
            }
            return at;
        };
        if let Some((ring, shared)) = &mut self.render {
            let n = ring.slots();
            if let Ok(chunk) = ring.read_chunk(n) {
                // The newest sample read went to the card in the last callback, or one before it.
                let (written, written_at) = (shared.written.load(Ordering::Relaxed), shared.written_at_ns.load(Ordering::Relaxed));
                let unread = written.saturating_sub(self.read) as f64;
                let first = shared.base + Duration::from_nanos(written_at);
                let first = first.checked_sub(Duration::from_secs_f64(unread / f64::from(render_rate))).unwrap_or(first);
                let (a, b) = chunk.as_slices();
                module.render(a, first);
                module.render(b, first + Duration::from_secs_f64(a.len() as f64 / f64::from(render_rate)));
                chunk.commit_all();
                self.read += n as u64;
            }
            // Output latency, plus how long ago the oldest of these samples hit the microphone.
            let output = Duration::from_micros(u64::from(shared.latency_us.load(Ordering::Relaxed)));
            module.set_delay_hint(output + at.elapsed());
        }
        self.cleaned.clear();
        let first = module.capture(samples, at, &mut self.cleaned);
        std::mem::swap(samples, &mut self.cleaned);
        first
    }
}
