//! The microphone as a source: cpal capture on its own thread (cpal streams are not `Send`),
//! gated by mute, push-to-talk and voice activity, sent as mono PCM stamped with its capture
//! time. It captures from the moment it opens; the clock discards what nobody is listening to.

use super::{Chunk, Pace, Source, SourceItem};
use crate::audio::capture::{Capture, CaptureError};
use crate::audio::echo::Reference;
use crate::audio::local_echo::MicProcessor;
use crate::outcome::Ending;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The thread wakes when a period is captured; without one it still looks this often, so a
/// stalled microphone and a clock that went away are noticed.
const WAIT: Duration = Duration::from_millis(50);
/// Speech between words dips below the VAD threshold; keep talking this long after a loud chunk.
const VAD_HANGOVER: Duration = Duration::from_millis(300);
/// A microphone that delivers nothing for this long has failed. Not every failure reaches
/// cpal's error callback (ALSA plugins and some drivers just stop delivering), and the clock
/// would otherwise bridge the gap with silence forever; shorter gaps are glitches.
const CAPTURE_STALL: Duration = Duration::from_secs(3);
/// Seconds of audio a live device may deliver beyond real time (buffered at the start, a
/// burst after a hiccup); more than this plus twice the time elapsed is no microphone.
const UNPACED_SLACK: f64 = 1.0;
/// Chunks (one per wake-up that found audio) queued for the clock before the newest are dropped.
const QUEUE: usize = 64;

/// Speech is louder than this (dBFS) unless `--vad` says otherwise.
pub const VOICE_DBFS: f32 = -45.0;

/// How the microphone tells that someone speaks: a chunk louder than `threshold` dBFS, and
/// the hangover after it. `gate`: send silence while nobody speaks (`--vad`); otherwise the
/// voice is only watched (`--half-duplex` ducks the speaker while someone speaks).
#[derive(Debug, Clone, Copy)]
pub struct Vad {
    pub threshold: f32,
    pub gate: bool,
}

/// The microphone's controls and levels, shared with the key reader and the level meter.
#[derive(Default)]
pub struct MicState {
    pub muted: AtomicBool,
    /// Push-to-talk: true while talking.
    pub talking: AtomicBool,
    /// Peak level of the last chunk, dBFS, as f32 bits.
    pub level: AtomicU32,
    pub talked_ms: AtomicU64,
    pub dropped_samples: AtomicU64,
    /// Whether the gate is open now (voice, not muted, talking): sessions can follow it.
    pub open: tokio::sync::watch::Sender<bool>,
    /// Someone speaks now (above the VAD threshold, not muted, talking): the speaker ducks.
    pub speaking: Arc<AtomicBool>,
}

impl MicState {
    /// Nothing captured yet: the level starts at the bottom, not at 0 dBFS (the zero bits).
    pub fn new(talking: bool) -> MicState {
        let state = MicState::default();
        state.level.store((-120f32).to_bits(), Ordering::Relaxed);
        state.talking.store(talking, Ordering::Relaxed);
        state
    }
}

/// An open microphone, capturing.
pub struct Microphone {
    pub describe: String,
    source: Source,
}

impl Microphone {
    /// Opens the input device (`None`: the default) and starts capturing. `vad`: how to tell
    /// speech from silence, if at all; `echo`: where what is sent goes as the device echo
    /// canceller's reference; `clean`: the local echo canceller (and noise, gain) first.
    pub async fn open(
        input: Option<String>,
        vad: Option<Vad>,
        state: Arc<MicState>,
        echo: Option<Reference>,
        clean: Option<MicProcessor>,
    ) -> Result<Microphone, CaptureError> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = mpsc::channel(QUEUE);
        let playout = echo.as_ref().map(Reference::playout);
        let spawned = std::thread::Builder::new().name("hiktalk-capture".into()).spawn(move || {
            let mut capture = match Capture::open(input.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            if ready_tx.send(Ok((capture.describe(), capture.sample_rate()))).is_err() {
                return;
            }
            capture_loop(&mut capture, vad, &state, &tx, echo.as_ref(), clean);
        });
        spawned.map_err(|e| CaptureError::Unavailable { device: "the microphone".into(), reason: e.to_string() })?;
        let (describe, rate) = ready_rx.await.map_err(|_| CaptureError::Stream {
            device: "the microphone".into(),
            reason: "the capture thread stopped before starting".into(),
        })??;
        Ok(Microphone { source: Source { rx, rate, pace: Pace::Live, duration: None, playout }, describe })
    }

    pub fn source(self) -> Source {
        self.source
    }
}

/// Drains the ring, gates (mute, push-to-talk, VAD) and hands chunks to the clock, until the
/// clock goes away or the device fails.
fn capture_loop(
    capture: &mut Capture,
    vad: Option<Vad>,
    state: &MicState,
    tx: &mpsc::Sender<SourceItem>,
    echo: Option<&Reference>,
    mut clean: Option<MicProcessor>,
) {
    let rate = f64::from(capture.sample_rate());
    let mut samples = Vec::new();
    let mut loud_until = Instant::now();
    let fail = |detail: String| {
        let _ = tx.blocking_send(SourceItem::Failed(Ending::Input { detail }));
    };
    // What was captured while the device was being set up is stale, and what the ring skipped
    // meanwhile is not a drop worth telling.
    let _ = capture.read(&mut samples);
    let dropped_before = capture.dropped_samples();
    let (started, mut read) = (Instant::now(), 0u64);
    let mut last_data = Instant::now();
    loop {
        if tx.is_closed() {
            return;
        }
        if let Some(e) = capture.take_error() {
            return fail(format!("the microphone failed: {e}"));
        }
        samples.clear();
        let Some(at) = capture.read(&mut samples) else {
            if last_data.elapsed() >= CAPTURE_STALL {
                return fail(format!(
                    "the microphone delivered no audio for {} s (unplugged or stalled?); check it, or pick another device with --input (see `hiktalk devices`)",
                    CAPTURE_STALL.as_secs()
                ));
            }
            capture.wait(WAIT);
            continue;
        };
        last_data = Instant::now();
        let dropped = capture.dropped_samples() - dropped_before;
        read += samples.len() as u64;
        // A device that is always ready (ALSA's `null`, a plain file) delivers seconds of
        // audio per millisecond: nobody speaks into it, and every figure would be absurd.
        let (delivered, wall) = ((read + dropped) as f64 / rate, started.elapsed().as_secs_f64());
        if delivered > UNPACED_SLACK + 2.0 * wall {
            return fail(format!(
                "{} delivers audio faster than real time ({delivered:.0} s of audio in {wall:.2} s): it is not a live microphone; pick one with --input (see `hiktalk devices`)",
                capture.describe()
            ));
        }
        state.dropped_samples.store(dropped, Ordering::Relaxed);
        let at = match &mut clean {
            Some(c) => c.process(&mut samples, at, capture.sample_rate()),
            None => at,
        };
        if samples.is_empty() {
            continue;
        }
        let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        let db = if peak > 0.0 { 20.0 * peak.log10() } else { -120.0 };
        state.level.store(db.to_bits(), Ordering::Relaxed);
        if vad.is_none_or(|v| db >= v.threshold) {
            loud_until = Instant::now() + VAD_HANGOVER;
        }
        let talking = !state.muted.load(Ordering::Relaxed) && state.talking.load(Ordering::Relaxed);
        let voice = talking && Instant::now() < loud_until;
        state.speaking.store(vad.is_some() && voice, Ordering::Relaxed);
        let open = if vad.is_some_and(|v| v.gate) { voice } else { talking };
        state.open.send_if_modified(|was| std::mem::replace(was, open) != open);
        if open {
            state.talked_ms.fetch_add((samples.len() as f64 * 1000.0 / rate) as u64, Ordering::Relaxed);
        } else {
            // Zeros through the same encoder: the camera hears silence, the stream stays continuous.
            samples.iter_mut().for_each(|s| *s = 0.0);
        }
        if let Some(reference) = echo {
            reference.send(&samples, capture.sample_rate(), at);
        }
        // A full queue means the clock stalled: the newest audio is dropped rather than queued.
        let _ = tx.try_send(SourceItem::Chunk(Chunk { samples: samples.clone(), captured: Some(at) }));
    }
}
