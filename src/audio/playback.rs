//! Sound out through cpal, behind a jitter buffer sized from what arrives: playback starts once
//! [`START`] of audio is queued, a buffer that runs dry (an underrun) makes the target grow by a
//! [`STEP`], and a long stretch without underruns lets it shrink again, dropping the excess, so
//! latency comes back down. The cpal callback never allocates: audio reaches it through a
//! lock-free ring (rtrb), and it reports through atomics. It blocks only for an output with no
//! clock of its own (ALSA's `null`, a plain file), which asks for samples as fast as they can be
//! made: once such an output is more than [`AHEAD`] ahead of real time, the callback sleeps
//! the excess, so hiktalk's clock paces it instead of a spinning thread.

use super::devices::{self, Direction, Lookup};
use super::local_echo::RenderTap;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, FromSample, Sample, SampleFormat, SupportedBufferSize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Audio queued before playback starts (and restarts after an underrun): two of a device's
/// 20 ms packets; a jittery device grows it on the first underrun.
pub const START: Duration = Duration::from_millis(40);
/// How much the target grows on an underrun, and how far it may shrink or grow.
pub const STEP: Duration = Duration::from_millis(20);
const MIN: Duration = Duration::from_millis(40);
const MAX: Duration = Duration::from_millis(300);
/// A stretch this long without an underrun lets the target shrink by half a step.
const CALM: Duration = Duration::from_secs(10);
/// The ring holds this much; more than that is dropped at the writer (counted as late).
const RING: Duration = Duration::from_secs(2);
/// Requested period: short, because every period is latency at the speaker.
const PERIOD: Duration = Duration::from_millis(10);
/// How far ahead of real time an output may take samples before it is taken for clockless and
/// paced: more than any sound card's buffer holds.
const AHEAD: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error(
        "no default audio output device; connect speakers or pick one with --output (see `hiktalk devices`), or write to a file with -o"
    )]
    NoDevice,
    #[error("output {0}")]
    Lookup(#[from] Lookup),
    #[error(
        "cannot play on {device}: {reason}; check that it is connected and free, or pick another with --output (see `hiktalk devices`)"
    )]
    Unavailable { device: String, reason: String },
}

/// What the output did, read while it plays.
#[derive(Debug, Default)]
pub struct PlaybackStats {
    /// Times the buffer ran dry while playing.
    pub underruns: AtomicU64,
    /// Samples that arrived with the ring full (far too late to matter), dropped.
    pub late_samples: AtomicU64,
    /// Samples dropped to bring a grown buffer back down.
    pub trimmed_samples: AtomicU64,
    /// The jitter buffer's current target, in ms.
    pub target_ms: AtomicU32,
    /// Peak of the last callback, dBFS as f32 bits.
    pub level: AtomicU32,
    /// The input has ended: running dry now is the end, not an underrun.
    draining: AtomicBool,
}

/// A playing output stream; dropping it stops playback.
pub struct Playback {
    /// Only held: dropping it stops the callback.
    _stream: cpal::Stream,
    writer: rtrb::Producer<f32>,
    /// The output's sample rate: what `write` takes.
    pub rate: u32,
    pub stats: Arc<PlaybackStats>,
    pub describe: String,
}

impl Playback {
    /// `selector`: None = the default output; else an id, index or part of a description.
    /// `tap`: where what is played goes as the local echo canceller's reference.
    pub fn open(selector: Option<&str>, tap: Option<RenderTap>) -> Result<Playback, PlaybackError> {
        let _quiet = devices::Quiet::new();
        let device = match selector {
            None => cpal::default_host().default_output_device().ok_or(PlaybackError::NoDevice)?,
            Some(s) => devices::find(Direction::Output, s)?,
        };
        let name = device.id().map(|id| id.to_string()).unwrap_or_else(|_| devices::describe(&device));
        let unavailable = |e: cpal::Error| PlaybackError::Unavailable { device: name.clone(), reason: e.to_string() };
        let config = device.default_output_config().map_err(unavailable)?;
        let (rate, channels, format) = (config.sample_rate(), config.channels(), config.sample_format());
        let mut stream_config = config.config();
        let period = (u64::from(rate) * PERIOD.as_millis() as u64 / 1000) as u32;
        if let SupportedBufferSize::Range { min, max } = config.buffer_size()
            && (*min..=*max).contains(&period)
        {
            stream_config.buffer_size = BufferSize::Fixed(period);
        }
        let stats = Arc::new(PlaybackStats::default());
        let (writer, reader) = rtrb::RingBuffer::new(samples(RING, rate));
        let jitter = Jitter::new(reader, usize::from(channels.max(1)), rate, stats.clone());
        let tap_rate = tap.as_ref().map(RenderTap::rate_handle);
        let stream = match format {
            SampleFormat::F32 => {
                device.build_output_stream(stream_config, callback::<f32>(jitter, tap, usize::from(channels)), |_| {}, None)
            }
            SampleFormat::I16 => {
                device.build_output_stream(stream_config, callback::<i16>(jitter, tap, usize::from(channels)), |_| {}, None)
            }
            SampleFormat::I32 => {
                device.build_output_stream(stream_config, callback::<i32>(jitter, tap, usize::from(channels)), |_| {}, None)
            }
            SampleFormat::U16 => {
                device.build_output_stream(stream_config, callback::<u16>(jitter, tap, usize::from(channels)), |_| {}, None)
            }
            other => {
                return Err(PlaybackError::Unavailable { device: name, reason: format!("its sample format {other} is not supported") });
            }
        }
        .map_err(unavailable)?;
        stream.play().map_err(unavailable)?;
        if let Some(t) = &tap_rate {
            t.opened(rate);
        }
        Ok(Playback { _stream: stream, writer, rate, stats, describe: format!("{name} ({rate} Hz, {channels} ch, {format})") })
    }

    /// Queues mono samples at `rate`; what does not fit is dropped and counted as late.
    pub fn write(&mut self, mono: &[f32]) {
        let (_, refused) = self.writer.push_partial_slice(mono);
        if !refused.is_empty() {
            self.stats.late_samples.fetch_add(refused.len() as u64, Ordering::Relaxed);
        }
    }

    /// Plays out what is queued (a short stream still held back by the cushion starts now),
    /// then returns; bounded by what the ring can hold.
    pub fn drain(self) {
        self.stats.draining.store(true, Ordering::Relaxed);
        let deadline = std::time::Instant::now() + RING + PERIOD * 4;
        while self.writer.buffer().capacity() - self.writer.slots() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(PERIOD);
        }
        // The last period reaches the device after the callback took it.
        std::thread::sleep(PERIOD * 2);
    }
}

/// The output callback: the jitter buffer fills the device's buffer, and the tap (if any) takes
/// what was written.
fn callback<T: Sample + FromSample<f32>>(
    mut jitter: Jitter,
    mut tap: Option<RenderTap>,
    channels: usize,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    f32: FromSample<T>,
{
    move |out, info| {
        jitter.fill(out);
        if let Some(t) = &mut tap {
            t.record(out, channels, info);
        }
    }
}

fn samples(d: Duration, rate: u32) -> usize {
    (d.as_secs_f64() * f64::from(rate)) as usize
}

/// The callback's side: the jitter buffer's rules.
struct Jitter {
    reader: rtrb::Consumer<f32>,
    channels: usize,
    playing: bool,
    target: usize,
    step: usize,
    min: usize,
    max: usize,
    calm: usize,
    /// Samples played since the last underrun or shrink.
    steady: usize,
    stats: Arc<PlaybackStats>,
    rate: u32,
    /// When the first callback ran, and frames taken since: how far ahead of real time the
    /// output is.
    clock: Option<(std::time::Instant, u64)>,
}

impl Jitter {
    fn new(reader: rtrb::Consumer<f32>, channels: usize, rate: u32, stats: Arc<PlaybackStats>) -> Jitter {
        let j = Jitter {
            reader,
            channels,
            playing: false,
            target: samples(START, rate),
            step: samples(STEP, rate),
            min: samples(MIN, rate),
            max: samples(MAX, rate),
            calm: samples(CALM, rate),
            steady: 0,
            stats,
            rate,
            clock: None,
        };
        j.publish_target();
        j
    }

    fn publish_target(&self) {
        self.stats.target_ms.store((self.target as u64 * 1000 / u64::from(self.rate)) as u32, Ordering::Relaxed);
    }

    /// Sleeps while the output is more than [`AHEAD`] ahead of real time (it has no clock).
    fn pace(&mut self, frames: usize) {
        let now = std::time::Instant::now();
        let (start, taken) = self.clock.get_or_insert((now, 0));
        *taken += frames as u64;
        let audio = Duration::from_secs_f64(*taken as f64 / f64::from(self.rate));
        let ahead = audio.saturating_sub(now - *start);
        if ahead > AHEAD {
            std::thread::sleep(ahead - AHEAD);
        }
    }

    fn fill<T: Sample + FromSample<f32>>(&mut self, out: &mut [T]) {
        let frames = out.len() / self.channels;
        self.pace(frames);
        let available = self.reader.slots();
        let draining = self.stats.draining.load(Ordering::Relaxed);
        if !self.playing {
            if available < self.target && !(draining && available > 0) {
                out.fill(T::EQUILIBRIUM);
                return;
            }
            self.playing = true;
        }
        // A long calm: lower the target, and drop what the buffer holds beyond it (latency).
        if self.steady >= self.calm {
            self.steady = 0;
            self.target = (self.target - self.step / 2).max(self.min);
            self.publish_target();
            let excess = available.saturating_sub(self.target + self.step);
            if excess > 0
                && let Ok(chunk) = self.reader.read_chunk(excess)
            {
                chunk.commit_all();
                self.stats.trimmed_samples.fetch_add(excess as u64, Ordering::Relaxed);
            }
        }
        let mut peak = 0f32;
        for (i, frame) in out.chunks_exact_mut(self.channels).enumerate() {
            let Ok(s) = self.reader.pop() else {
                // Dry: silence for the rest, and wait for a bigger cushion before playing again.
                out[i * self.channels..].fill(T::EQUILIBRIUM);
                self.playing = false;
                if draining {
                    break;
                }
                self.steady = 0;
                self.target = (self.target + self.step).min(self.max);
                self.publish_target();
                self.stats.underruns.fetch_add(1, Ordering::Relaxed);
                break;
            };
            peak = peak.max(s.abs());
            frame.fill(T::from_sample(s));
        }
        self.steady += frames;
        let db = if peak > 0.0 { 20.0 * peak.log10() } else { -120.0 };
        self.stats.level.store(db.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jitter(rate: u32) -> (rtrb::Producer<f32>, Jitter) {
        let (w, r) = rtrb::RingBuffer::new(rate as usize * 2);
        (w, Jitter::new(r, 2, rate, Arc::new(PlaybackStats::default())))
    }

    #[test]
    fn starts_after_the_cushion_and_grows_it_on_an_underrun() {
        let (mut w, mut j) = jitter(1000);
        let mut out = vec![1.0f32; 20];
        let _ = w.push_partial_slice(&[0.5; 30]);
        j.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0.0), "not before 40 ms are queued");
        let _ = w.push_partial_slice(&[0.5; 10]);
        j.fill(&mut out);
        assert!(out.iter().all(|&s| s == 0.5), "both channels get the mono sample");
        // 40 queued, 10 played per call; then only 5 more come: dry half-way.
        for _ in 0..3 {
            j.fill(&mut out);
        }
        let _ = w.push_partial_slice(&[0.5; 5]);
        j.fill(&mut out);
        assert_eq!(j.stats.underruns.load(Ordering::Relaxed), 1);
        assert!(out[..10].iter().all(|&s| s == 0.5) && out[10..].iter().all(|&s| s == 0.0), "{out:?}");
        assert_eq!(j.stats.target_ms.load(Ordering::Relaxed), 60);
    }

    #[test]
    fn a_long_calm_brings_the_target_and_the_latency_back_down() {
        let (mut w, mut j) = jitter(1000);
        j.target = 200;
        let mut out = vec![0f32; 20];
        let _ = w.push_partial_slice(&[0.1; 400]);
        j.fill(&mut out);
        j.steady = j.calm;
        j.fill(&mut out);
        assert_eq!(j.target, 190);
        assert!(j.stats.trimmed_samples.load(Ordering::Relaxed) > 0);
        assert!(j.reader.slots() <= j.target + j.step);
    }

    #[test]
    fn an_output_faster_than_real_time_is_held_to_it() {
        let (_w, mut j) = jitter(48_000);
        let mut out = vec![0f32; 2 * 480];
        let start = std::time::Instant::now();
        // Two seconds of 10 ms periods, asked for as fast as the loop can go (a `null` output).
        for _ in 0..200 {
            j.fill(&mut out);
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(2) - AHEAD, "2 s of audio taken in {took:?}");
    }
}
