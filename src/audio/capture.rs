//! Live microphone capture through cpal.
//!
//! The cpal callback converts whatever the device delivers to mono f32 in a preallocated
//! scratch buffer and pushes it into a lock-free SPSC ring (rtrb), together with the capture
//! time of each callback in a second, smaller ring. The callback never blocks or allocates.
//! The consumer drains the ring with [`Capture::read`] on the thread that opened the capture;
//! the callback unparks that thread after each push, so [`Capture::wait`] returns as soon as
//! a period is in (no polling: a sound never waits for the consumer's next look).
//!
//! Overflow policy: an intercom wants the newest audio, so when the consumer falls behind by
//! more than [`MAX_BACKLOG`] the oldest audio is skipped at read time (an SPSC producer cannot
//! pop). Only if the consumer stops reading for longer than the whole ring ([`RING_SECONDS`])
//! does the producer have to drop what it cannot push. Both are counted in
//! [`Capture::dropped_samples`].

use super::devices::{self, Direction, Lookup};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, FromSample, Sample, SampleFormat, SupportedBufferSize, SupportedStreamConfig};

/// More than this much buffered audio at a read means the consumer stalled: skip the oldest.
pub const MAX_BACKLOG: Duration = Duration::from_millis(200);
/// Ring length; the producer only drops (newest) audio once the consumer is this far behind.
pub const RING_SECONDS: usize = 2;
/// Frames converted per pass through the scratch buffer; bigger callbacks are done in pieces.
const SCRATCH_FRAMES: usize = 4096;
/// Room for callback timestamps: a few hundred per second even with tiny periods.
const STAMP_SLOTS: usize = 4096;
/// Requested period: 10 ms keeps latency low and gives every device the same callback size.
const PERIOD: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no default audio input device; connect a microphone or pick one with --input (see `hiktalk devices`)")]
    NoDevice,
    #[error("input {0}")]
    Lookup(#[from] Lookup),
    #[error("input device {device} has no usable capture format: {reason}; try another device (see `hiktalk devices`)")]
    Unsupported { device: String, reason: String },
    #[error(
        "cannot open input device {device}: {reason}; check that it is connected and not held exclusively by another program, or pick another with --input (see `hiktalk devices`)"
    )]
    Unavailable { device: String, reason: String },
    #[error("capture from {device} failed: {reason}; try again or pick another device with --input (see `hiktalk devices`)")]
    Stream { device: String, reason: String },
    #[error("input device {device} went away (unplugged?); reconnect it or pick another with --input (see `hiktalk devices`)")]
    Disconnected { device: String },
}

/// Formats the callback knows how to convert.
fn convertible(format: SampleFormat) -> bool {
    use SampleFormat::*;
    matches!(format, I8 | I16 | I32 | U8 | U16 | U32 | F32 | F64)
}

/// The device's default config if usable, else the best supported one (48 kHz, then 44.1 kHz,
/// then the highest rate; float and wide integer formats first; mono or stereo first).
fn choose_config(device: &cpal::Device, name: &str) -> Result<SupportedStreamConfig, CaptureError> {
    if let Ok(config) = device.default_input_config()
        && convertible(config.sample_format())
        && config.channels() > 0
    {
        return Ok(config);
    }
    let ranges = device.supported_input_configs().map_err(|e| open_error(name, e))?;
    let rank = |f: SampleFormat| {
        [SampleFormat::F32, SampleFormat::I32, SampleFormat::I16, SampleFormat::F64].iter().position(|&x| x == f).unwrap_or(9)
    };
    ranges
        .filter(|r| convertible(r.sample_format()) && r.channels() > 0)
        .map(|r| {
            let rate = [48_000, 44_100].into_iter().find(|&hz| r.min_sample_rate() <= hz && hz <= r.max_sample_rate());
            let config = match rate {
                Some(hz) => r.with_sample_rate(hz),
                None => r.with_max_sample_rate(),
            };
            let key = (rate.is_none(), rate != Some(48_000), config.channels() > 2, rank(config.sample_format()));
            (key, config)
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, config)| config)
        .ok_or_else(|| CaptureError::Unsupported {
            device: name.to_owned(),
            reason: "it offers no integer or float sample format".to_owned(),
        })
}

/// A running capture stream; dropping it stops capture.
pub struct Capture {
    /// Only held: dropping it (first, by declaration order) stops the callback feeding `reader`.
    _stream: cpal::Stream,
    reader: Reader,
    error: Arc<Mutex<Option<CaptureError>>>,
    description: String,
}

impl Capture {
    /// `selector`: None = default input device; Some(id) = exact cpal id; Some(n) = index into
    /// [`list_input_devices`]; otherwise a unique substring of an id or description.
    pub fn open(selector: Option<&str>) -> Result<Capture, CaptureError> {
        // Failures come back as typed errors; alsa-lib's own account of them is only noise.
        let _quiet = devices::Quiet::new();
        let device = match selector {
            None => cpal::default_host().default_input_device().ok_or(CaptureError::NoDevice)?,
            Some(s) => devices::find(Direction::Input, s)?,
        };
        let name = device.id().map(|id| id.to_string()).unwrap_or_else(|_| devices::describe(&device));
        let config = choose_config(&device, &name)?;
        let (rate, channels, format) = (config.sample_rate(), config.channels(), config.sample_format());
        let mut stream_config = config.config();
        let period = (u64::from(rate) * PERIOD.as_millis() as u64 / 1000) as u32;
        if let SupportedBufferSize::Range { min, max } = config.buffer_size()
            && (*min..=*max).contains(&period)
        {
            stream_config.buffer_size = BufferSize::Fixed(period);
        }

        let error = Arc::new(Mutex::new(None));
        let build = |buffer_size| {
            let (writer, reader) = ring(rate);
            let on_error = {
                let (error, device) = (Arc::clone(&error), name.clone());
                move |e: cpal::Error| report_error(&error, &device, e)
            };
            let mut callback = Converter::new(writer, usize::from(channels), rate, std::thread::current());
            let config = cpal::StreamConfig { buffer_size, ..stream_config };
            device
                .build_input_stream_raw(config, format, move |data, info| callback.process(data, info), on_error, None)
                .map(|stream| (stream, reader))
        };
        // Some backends refuse an explicit period size they advertised; their own default is fine.
        let built = build(stream_config.buffer_size).or_else(|e| match stream_config.buffer_size {
            BufferSize::Fixed(_) => build(BufferSize::Default),
            BufferSize::Default => Err(e),
        });
        let (stream, reader) = built.map_err(|e| open_error(&name, e))?;
        stream.play().map_err(|e| open_error(&name, e))?;
        Ok(Capture { _stream: stream, reader, error, description: format!("{name} ({rate} Hz, {channels} ch, {format})") })
    }

    /// Rate of the mono samples [`read`](Self::read) returns (the device's rate).
    pub fn sample_rate(&self) -> u32 {
        self.reader.rate
    }

    /// Device and config, e.g. `alsa:default (48000 Hz, 2 ch, i16)`.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// Appends everything buffered (never blocks) to `out` as mono f32 in [-1, 1] and returns
    /// the capture time of the oldest sample appended, or None if nothing was buffered.
    pub fn read(&mut self, out: &mut Vec<f32>) -> Option<Instant> {
        self.reader.read(out)
    }

    /// Blocks the opening thread until the callback has pushed audio (maybe already before
    /// this call), or for at most `timeout`. May return early; [`read`](Self::read) tells.
    pub fn wait(&self, timeout: Duration) {
        std::thread::park_timeout(timeout);
    }

    /// Samples dropped so far because the consumer fell behind (see the module docs).
    pub fn dropped_samples(&self) -> u64 {
        self.reader.dropped.load(Ordering::Relaxed)
    }

    /// A device error reported since the last call (e.g. the device was unplugged).
    pub fn take_error(&mut self) -> Option<CaptureError> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").field("device", &self.description).finish_non_exhaustive()
    }
}

fn open_error(device: &str, e: cpal::Error) -> CaptureError {
    let (device, reason) = (device.to_owned(), e.to_string());
    match e.kind() {
        cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::InvalidInput => CaptureError::Unsupported { device, reason },
        _ => CaptureError::Unavailable { device, reason },
    }
}

fn runtime_error(device: &str, e: cpal::Error) -> CaptureError {
    let device = device.to_owned();
    match e.kind() {
        cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::StreamInvalidated => CaptureError::Disconnected { device },
        _ => CaptureError::Stream { device, reason: e.to_string() },
    }
}

/// Runs on cpal's error callback (not the audio callback), so taking a lock is fine.
fn report_error(slot: &Mutex<Option<CaptureError>>, device: &str, e: cpal::Error) {
    // Overruns are recovered by cpal and show up as a gap, not a failure.
    if matches!(e.kind(), cpal::ErrorKind::Xrun) {
        return;
    }
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    // Keep the first error: later ones are usually consequences of it.
    if slot.is_none() {
        *slot = Some(runtime_error(device, e));
    }
}

/// The audio-callback side: converts to mono into `scratch`, then hands it to the ring.
struct Converter {
    writer: Writer,
    scratch: Box<[f32]>,
    channels: usize,
    rate: u32,
    /// The consumer, woken after each push (an atomic and at most one futex wake: no lock).
    consumer: std::thread::Thread,
}

impl Converter {
    fn new(writer: Writer, channels: usize, rate: u32, consumer: std::thread::Thread) -> Self {
        Converter { writer, scratch: vec![0.0; SCRATCH_FRAMES].into_boxed_slice(), channels: channels.max(1), rate, consumer }
    }

    fn process(&mut self, data: &cpal::Data, info: &cpal::InputCallbackInfo) {
        let ts = info.timestamp();
        let now = Instant::now();
        // The first frame reached the device this long before the callback ran.
        let at = now.checked_sub(ts.callback.saturating_duration_since(ts.capture)).unwrap_or(now);
        match data.sample_format() {
            SampleFormat::I8 => self.convert::<i8>(data, at),
            SampleFormat::I16 => self.convert::<i16>(data, at),
            SampleFormat::I32 => self.convert::<i32>(data, at),
            SampleFormat::U8 => self.convert::<u8>(data, at),
            SampleFormat::U16 => self.convert::<u16>(data, at),
            SampleFormat::U32 => self.convert::<u32>(data, at),
            SampleFormat::F32 => self.convert::<f32>(data, at),
            SampleFormat::F64 => self.convert::<f64>(data, at),
            // choose_config only picks the formats above.
            _ => {}
        }
    }

    fn convert<T: cpal::SizedSample>(&mut self, data: &cpal::Data, at: Instant)
    where
        f32: FromSample<T>,
    {
        if let Some(samples) = data.as_slice::<T>() {
            self.push_interleaved(samples, at);
        }
    }

    fn push_interleaved<T: Sample>(&mut self, samples: &[T], mut at: Instant)
    where
        f32: FromSample<T>,
    {
        for block in samples.chunks(self.channels * self.scratch.len()) {
            let frames = downmix(block, self.channels, &mut self.scratch);
            self.writer.push(&self.scratch[..frames], at);
            at += Duration::from_nanos(frames as u64 * 1_000_000_000 / u64::from(self.rate));
        }
        self.consumer.unpark();
    }
}

/// Averages each interleaved frame of `input` into `out`; returns the number of frames.
fn downmix<T: Sample>(input: &[T], channels: usize, out: &mut [f32]) -> usize
where
    f32: FromSample<T>,
{
    let mut frames = 0;
    for (frame, slot) in input.chunks_exact(channels).zip(out.iter_mut()) {
        let sum: f32 = frame.iter().map(|&s| f32::from_sample(s)).sum();
        *slot = (sum / channels as f32).clamp(-1.0, 1.0);
        frames += 1;
    }
    frames
}

/// Capture time of the ring sample with stream index `index`.
#[derive(Clone, Copy, Debug)]
struct Stamp {
    index: u64,
    at: Instant,
}

fn ring(rate: u32) -> (Writer, Reader) {
    let (samples_tx, samples_rx) = rtrb::RingBuffer::new(rate as usize * RING_SECONDS);
    let (stamps_tx, stamps_rx) = rtrb::RingBuffer::new(STAMP_SLOTS);
    let dropped = Arc::new(AtomicU64::new(0));
    let writer = Writer { samples: samples_tx, stamps: stamps_tx, written: 0, dropped: Arc::clone(&dropped) };
    let max_backlog = (u64::from(rate) * MAX_BACKLOG.as_millis() as u64 / 1000) as usize;
    let reader = Reader { samples: samples_rx, stamps: stamps_rx, current: None, read: 0, rate, max_backlog, dropped };
    (writer, reader)
}

/// Producer half; real-time safe.
struct Writer {
    samples: rtrb::Producer<f32>,
    stamps: rtrb::Producer<Stamp>,
    /// Samples pushed so far: the stream index of the next one.
    written: u64,
    dropped: Arc<AtomicU64>,
}

impl Writer {
    fn push(&mut self, mono: &[f32], at: Instant) {
        if mono.is_empty() {
            return;
        }
        // A full stamp ring only costs precision: the reader extrapolates from the previous stamp.
        let _ = self.stamps.push(Stamp { index: self.written, at });
        let (pushed, refused) = self.samples.push_partial_slice(mono);
        self.written += pushed.len() as u64;
        if !refused.is_empty() {
            self.dropped.fetch_add(refused.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Consumer half.
struct Reader {
    samples: rtrb::Consumer<f32>,
    stamps: rtrb::Consumer<Stamp>,
    /// Latest stamp at or before `read`.
    current: Option<Stamp>,
    /// Samples consumed (read or skipped) so far: the stream index of the next one.
    read: u64,
    rate: u32,
    max_backlog: usize,
    dropped: Arc<AtomicU64>,
}

impl Reader {
    fn read(&mut self, out: &mut Vec<f32>) -> Option<Instant> {
        let available = self.samples.slots();
        if available == 0 {
            return None;
        }
        let skip = available.saturating_sub(self.max_backlog);
        let take = available - skip;
        // The chunk lengths were just counted as available, so these cannot fail.
        if let Ok(chunk) = self.samples.read_chunk(skip) {
            chunk.commit_all();
        }
        if skip > 0 {
            self.read += skip as u64;
            self.dropped.fetch_add(skip as u64, Ordering::Relaxed);
        }
        let oldest = self.time_of(self.read);
        if let Ok(chunk) = self.samples.read_chunk(take) {
            let (a, b) = chunk.as_slices();
            out.extend_from_slice(a);
            out.extend_from_slice(b);
            chunk.commit_all();
        }
        self.read += take as u64;
        oldest
    }

    fn time_of(&mut self, index: u64) -> Option<Instant> {
        while let Ok(next) = self.stamps.peek() {
            if next.index > index {
                break;
            }
            self.current = self.stamps.pop().ok();
        }
        let stamp = self.current?;
        let offset = (index - stamp.index) * 1_000_000_000 / u64::from(self.rate);
        Some(stamp.at + Duration::from_nanos(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Capture>();
    }

    #[test]
    fn downmix_averages_channels_and_scales_integers() {
        let mut out = [0.0f32; 4];
        let frames = downmix(&[i16::MAX, i16::MAX, i16::MIN, 0, 0, 0], 2, &mut out);
        assert_eq!(frames, 3);
        assert!((out[0] - 1.0).abs() < 1e-4);
        assert!((out[1] + 0.5).abs() < 1e-4);
        assert_eq!(out[2], 0.0);
        let frames = downmix(&[u8::MAX, 128u8], 1, &mut out);
        assert_eq!(frames, 2);
        assert!(out[0] > 0.99 && out[1].abs() < 1e-6);
    }

    #[test]
    fn converter_splits_callbacks_larger_than_scratch() {
        let (writer, mut reader) = ring(48_000);
        let mut conv = Converter::new(writer, 2, 48_000, std::thread::current());
        let input: Vec<f32> = (0..SCRATCH_FRAMES * 2 + 10).flat_map(|i| [i as f32 / 1e5, i as f32 / 1e5]).collect();
        let start = Instant::now();
        conv.push_interleaved(&input, start);
        let mut out = Vec::new();
        reader.max_backlog = usize::MAX;
        assert_eq!(reader.read(&mut out), Some(start));
        assert_eq!(out.len(), SCRATCH_FRAMES * 2 + 10);
        assert!(out.iter().enumerate().all(|(i, &s)| (s - i as f32 / 1e5).abs() < 1e-6));
    }

    #[test]
    fn a_push_wakes_the_consumer() {
        let (tx, rx) = std::sync::mpsc::channel();
        let consumer = std::thread::spawn(move || {
            let (writer, mut reader) = ring(48_000);
            tx.send(Converter::new(writer, 1, 48_000, std::thread::current())).unwrap();
            let start = Instant::now();
            let mut out = Vec::new();
            // Spurious wake-ups aside, only the push ends the wait (long before the timeout).
            while reader.read(&mut out).is_none() && start.elapsed() < Duration::from_secs(30) {
                std::thread::park_timeout(Duration::from_secs(30));
            }
            (start.elapsed(), out.len())
        });
        rx.recv().unwrap().push_interleaved(&[0.5f32; 480], Instant::now());
        let (waited, got) = consumer.join().unwrap();
        assert_eq!(got, 480);
        assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
    }

    #[test]
    fn read_reports_capture_time_of_oldest_returned_sample() {
        let (mut writer, mut reader) = ring(1000);
        let t0 = Instant::now();
        writer.push(&[0.1; 10], t0);
        writer.push(&[0.2; 10], t0 + Duration::from_millis(10));
        let mut out = Vec::new();
        assert_eq!(reader.read(&mut out), Some(t0));
        assert_eq!(out.len(), 20);
        assert_eq!(reader.read(&mut out), None);
        writer.push(&[0.3; 10], t0 + Duration::from_millis(20));
        assert_eq!(reader.read(&mut out), Some(t0 + Duration::from_millis(20)));
        assert_eq!(reader.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn overflow_drops_the_oldest_audio_and_counts_it() {
        // 1 kHz: MAX_BACKLOG (200 ms) is 200 samples.
        let (mut writer, mut reader) = ring(1000);
        let t0 = Instant::now();
        for block in 0..50u16 {
            let samples: Vec<f32> = (0..10).map(|i| f32::from(block * 10 + i)).collect();
            writer.push(&samples, t0 + Duration::from_millis(u64::from(block) * 10));
        }
        let mut out = Vec::new();
        let oldest = reader.read(&mut out);
        assert_eq!(out.len(), 200);
        assert_eq!(out[0], 300.0, "the newest 200 samples are kept");
        assert_eq!(out[199], 499.0);
        assert_eq!(reader.dropped.load(Ordering::Relaxed), 300);
        assert_eq!(oldest, Some(t0 + Duration::from_millis(300)));
    }

    #[test]
    fn full_ring_drops_at_the_producer_and_counts_it() {
        let (mut writer, mut reader) = ring(100);
        let capacity = 100 * RING_SECONDS;
        writer.push(&vec![0.5; capacity + 7], Instant::now());
        assert_eq!(reader.dropped.load(Ordering::Relaxed), 7);
        let mut out = Vec::new();
        reader.read(&mut out);
        assert_eq!(out.len(), 20, "then trimmed to MAX_BACKLOG (200 ms at 100 Hz)");
        assert_eq!(reader.dropped.load(Ordering::Relaxed), 7 + capacity as u64 - 20);
    }
}
