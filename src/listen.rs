//! What the device hears, out: decoded PCM from a session's microphone stream goes to one sink,
//! on a thread of its own (cpal streams are not `Send`, and files block): the speaker (cpal,
//! behind the jitter buffer of `audio::playback`), a WAV file whose header is kept valid as it
//! grows (a killed run leaves a readable file), WAV on stdout (a streaming header, as ffmpeg
//! writes to a pipe), or raw s16le. Audio is resampled to the sink's rate on the way, after the
//! echo of the user's voice is taken out (`--echo device`) and the door's noise (`--clean-listen`),
//! and while they speak, turned down (`--half-duplex`). What the speaker plays is also the local
//! echo canceller's reference (`--echo local`).

use crate::audio::echo::EchoCanceller;
use crate::audio::local_echo::RenderTap;
use crate::audio::playback::{Playback, PlaybackError, PlaybackStats};
use crate::audio::resample::Resampler;
use crate::outcome::Ending;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a WAV file's header is brought up to date with what was written.
const WAV_SYNC: Duration = Duration::from_millis(500);
/// Decoded pieces queued for the sink; a sink this far behind drops the newest.
const QUEUE: usize = 256;
/// `--half-duplex`: how far the device is turned down while the user speaks, and how fast
/// (down at once so the first word's echo is cut, back up gently).
const DUCK_DB: f32 = -30.0;
const DUCK_DOWN: Duration = Duration::from_millis(10);
const DUCK_UP: Duration = Duration::from_millis(150);

/// Where the device's audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// An output device (`None`: the default).
    Speaker(Option<String>),
    WavFile(PathBuf),
    WavStdout,
    /// Headerless s16le to a file, or stdout (`None`).
    Raw(Option<PathBuf>),
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Playback(#[from] PlaybackError),
    #[error("cannot write {path}: {source}; give a file in a directory you can write to")]
    File { path: PathBuf, source: std::io::Error },
    /// The sink's thread could not start or stopped before it was ready: not the user's input.
    #[error("the listener thread {0}")]
    Thread(String),
}

/// What the sink did, read while it runs.
#[derive(Debug, Default)]
pub struct ListenStats {
    /// Samples handed to the sink, at the device's rate.
    pub samples: AtomicU64,
    /// Peak of the last piece, dBFS as f32 bits.
    pub level: AtomicU32,
    /// Pieces dropped because the sink fell behind.
    pub dropped: AtomicU64,
    /// Why the sink stopped taking audio, once it has.
    ended: Mutex<Option<Ending>>,
}

/// Decoded audio from a device at its rate.
pub struct Heard {
    pub pcm: Vec<i16>,
    pub rate: u32,
}

/// The running sink. Its one [`Inlet`] is the only way audio comes in, so handing the inlet
/// back to [`Listener::finish`] is what lets the sink end.
pub struct Listener {
    thread: Option<std::thread::JoinHandle<()>>,
    pub stats: Arc<ListenStats>,
    /// The output's jitter-buffer figures, when the sink is a speaker.
    pub playback: Option<Arc<PlaybackStats>>,
    pub describe: String,
}

/// A session's way into the listener.
pub struct Inlet {
    tx: mpsc::Sender<Heard>,
    stats: Arc<ListenStats>,
}

impl Inlet {
    /// Hands decoded audio at `rate` to the sink; a sink that fell behind loses it (counted).
    /// Fails with why once the sink can take no more (a closed pipe, a full disk).
    pub fn send(&self, pcm: Vec<i16>, rate: u32) -> Result<(), Ending> {
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        let db = if peak > 0 { 20.0 * (f32::from(peak) / 32768.0).log10() } else { -120.0 };
        self.stats.level.store(db.to_bits(), Ordering::Relaxed);
        self.stats.samples.fetch_add(pcm.len() as u64, Ordering::Relaxed);
        match self.tx.try_send(Heard { pcm, rate }) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self
                .stats
                .ended
                .lock()
                .ok()
                .and_then(|e| e.clone())
                .unwrap_or_else(|| Ending::Internal { detail: "the listener thread stopped".into() })),
        }
    }
}

/// An inlet whose audio the caller takes itself, as it comes (the handset page's WebSocket):
/// the same bounded queue and counters as a sink's, without its thread.
pub fn tap() -> (Inlet, mpsc::Receiver<Heard>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    (Inlet { tx, stats: Arc::default() }, rx)
}

/// What a call does to the device's audio on its way out, besides resampling.
#[derive(Default)]
pub struct Shaping {
    /// While it is set (the user speaks), the device is turned down by [`DUCK_DB`].
    pub duck: Option<Arc<AtomicBool>>,
    /// Takes the user's voice (and with `--clean-listen`, the noise) out of the device's audio.
    pub echo: Option<EchoCanceller>,
    /// Where what the speaker plays goes as the local echo canceller's reference.
    pub tap: Option<RenderTap>,
}

impl Listener {
    /// Opens the sink on its own thread and returns once it is ready (or why it is not).
    pub async fn start(sink: Sink, shaping: Shaping) -> Result<(Listener, Inlet), ListenError> {
        let Shaping { duck, echo, tap } = shaping;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let stats = Arc::new(ListenStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("hiktalk-listen".into())
            .spawn(move || match Output::open(&sink, tap) {
                Ok(output) => {
                    let _ = ready_tx.send(Ok((output.describe(), output.playback())));
                    if let Err(ending) = run(output, rx, duck, echo)
                        && let Ok(mut slot) = thread_stats.ended.lock()
                    {
                        *slot = Some(ending);
                    }
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| ListenError::Thread(format!("could not start: {e}")))?;
        let (describe, playback) = ready_rx.await.map_err(|_| ListenError::Thread("stopped before starting".into()))??;
        let inlet = Inlet { tx, stats: stats.clone() };
        Ok((Listener { thread: Some(thread), stats, playback, describe }, inlet))
    }

    /// Lets the sink write what it holds and close (a WAV file gets its final header).
    pub async fn finish(mut self, inlet: Inlet) {
        drop(inlet);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Writes what comes until the session lets go, or until the sink can take no more: a reader
/// that closed the pipe ends the run as done (as `yes | head` does); other failures are errors.
fn run(mut output: Output, rx: mpsc::Receiver<Heard>, duck: Option<Arc<AtomicBool>>, echo: Option<EchoCanceller>) -> Result<(), Ending> {
    let written = write_all(&mut output, rx, duck, echo);
    // Whatever ended the writing, what was recorded is kept (a file gets its final header and
    // its name); a file that got no audio is removed and FILE is left as it was.
    let closed = output.close();
    written.and(closed)
}

fn write_all(
    output: &mut Output,
    mut rx: mpsc::Receiver<Heard>,
    duck: Option<Arc<AtomicBool>>,
    mut echo: Option<EchoCanceller>,
) -> Result<(), Ending> {
    let internal = |e: &dyn std::fmt::Display| Ending::Internal { detail: e.to_string() };
    let mut resampler: Option<(u32, Resampler)> = None;
    let mut scratch = Vec::new();
    let mut ducker = duck.map(|flag| Ducker { flag, gain: 1.0 });
    while let Some(Heard { pcm, rate }) = rx.blocking_recv() {
        let mut input: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        // The sink's rate follows the device's, not the canceller's.
        let target = output.rate().unwrap_or(rate);
        output.fix_rate(target);
        let mut rate = rate;
        if let Some(aec) = &mut echo {
            let mut cleaned = Vec::with_capacity(input.len() * 6);
            aec.process(&input, rate, &mut cleaned).map_err(|e| internal(&e))?;
            (input, rate) = (cleaned, crate::audio::echo::RATE);
        }
        let r = match &mut resampler {
            Some((from, r)) if *from == rate => r,
            slot => &mut slot.insert((rate, Resampler::live(rate, target).map_err(|e| internal(&e))?)).1,
        };
        scratch.clear();
        r.process(&input, &mut scratch).map_err(|e| internal(&e))?;
        if let Some(d) = &mut ducker {
            d.apply(&mut scratch, target);
        }
        if let Err(e) = output.write(&scratch) {
            return Err(match e.kind() {
                std::io::ErrorKind::BrokenPipe => Ending::Done,
                _ => Ending::Input { detail: format!("cannot write {}: {e}; check the disk and the path", output.describe()) },
            });
        }
    }
    Ok(())
}

/// Turns the device down while the user speaks (half duplex), with short ramps, not clicks.
struct Ducker {
    flag: Arc<AtomicBool>,
    gain: f32,
}

impl Ducker {
    fn apply(&mut self, samples: &mut [f32], rate: u32) {
        let (target, over) = if self.flag.load(Ordering::Relaxed) { (10f32.powf(DUCK_DB / 20.0), DUCK_DOWN) } else { (1.0, DUCK_UP) };
        let step = 1.0 / (over.as_secs_f32() * rate as f32);
        for s in samples {
            self.gain = if self.gain > target { (self.gain - step).max(target) } else { (self.gain + step).min(target) };
            *s *= self.gain;
        }
    }
}

/// A recording on its way to `path`: written to a temporary file beside it (same directory,
/// so the rename is atomic) and renamed into place when the recording ends with audio in it.
/// Nothing touches `path` before that: a run that fails (a wrong password, a busy channel, an
/// unreachable device) leaves yesterday's recording as it was. A killed run leaves the
/// temporary file, readable (its header is kept up to date).
struct Partial {
    temp: tempfile::TempPath,
    path: PathBuf,
}

impl Partial {
    /// Checks `path` can be written (not a directory, not read-only, its directory writable)
    /// and creates the temporary file beside it.
    fn create(path: &Path) -> Result<(std::fs::File, Partial), ListenError> {
        let fail = |source: std::io::Error| ListenError::File { path: path.to_path_buf(), source };
        if path.is_dir() {
            return Err(fail(std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory")));
        }
        if path.exists() {
            // Opened for writing without truncating: only to learn that it may be replaced.
            std::fs::OpenOptions::new().write(true).open(path).map_err(fail)?;
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".partial").tempfile_in(&dir).map_err(fail)?;
        let (file, temp) = temp.into_parts();
        Ok((file, Partial { temp, path: path.to_path_buf() }))
    }

    /// Renames the recording into place when it holds audio; removes it otherwise.
    fn end(self, recorded: bool) -> Result<(), Ending> {
        if !recorded {
            return Ok(());
        }
        let Partial { temp, path } = self;
        let kept = temp.to_path_buf();
        temp.persist(&path).map(|_| ()).map_err(|e| Ending::Input {
            detail: format!(
                "cannot rename the recording {} to {}: {}; the recording is kept there",
                kept.display(),
                path.display(),
                e.error
            ),
        })
    }
}

/// An open sink.
enum Output {
    Speaker(Playback),
    Wav {
        writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
        synced: Instant,
        partial: Partial,
    },
    /// A WAV stream or raw samples on a writer that cannot seek; the rate is fixed by the first
    /// audio (the header waits for it).
    Stream {
        out: Box<dyn Write + Send>,
        header: bool,
        rate: Option<u32>,
        /// Raw samples into a file (`-o FILE --raw`).
        partial: Option<Partial>,
    },
}

impl Output {
    fn open(sink: &Sink, tap: Option<RenderTap>) -> Result<Output, ListenError> {
        Ok(match sink {
            Sink::Speaker(device) => Output::Speaker(Playback::open(device.as_deref(), tap)?),
            Sink::WavFile(path) => {
                let (file, partial) = Partial::create(path)?;
                // The rate is set when the first audio comes (`fix_rate`); 8 kHz until then.
                let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
                let writer = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
                    .map_err(|e| ListenError::File { path: path.clone(), source: std::io::Error::other(e) })?;
                Output::Wav { writer, synced: Instant::now(), partial }
            }
            Sink::WavStdout => Output::Stream { out: Box::new(std::io::stdout()), header: true, rate: None, partial: None },
            Sink::Raw(Some(path)) => {
                let (file, partial) = Partial::create(path)?;
                Output::Stream { out: Box::new(std::io::BufWriter::new(file)), header: false, rate: None, partial: Some(partial) }
            }
            Sink::Raw(None) => Output::Stream { out: Box::new(std::io::stdout()), header: false, rate: None, partial: None },
        })
    }

    fn describe(&self) -> String {
        match self {
            Output::Speaker(p) => p.describe.clone(),
            Output::Wav { partial, .. } => partial.path.display().to_string(),
            Output::Stream { partial: Some(partial), .. } => format!("raw s16le in {}", partial.path.display()),
            Output::Stream { header: true, .. } => "WAV on standard output".into(),
            Output::Stream { header: false, .. } => "raw s16le".into(),
        }
    }

    fn playback(&self) -> Option<Arc<PlaybackStats>> {
        match self {
            Output::Speaker(p) => Some(p.stats.clone()),
            _ => None,
        }
    }

    /// The rate the sink needs, if it has one of its own.
    fn rate(&self) -> Option<u32> {
        match self {
            Output::Speaker(p) => Some(p.rate),
            Output::Wav { writer, .. } if writer.len() > 0 => Some(writer.spec().sample_rate),
            Output::Stream { rate, .. } => *rate,
            Output::Wav { .. } => None,
        }
    }

    /// Fixes the rate of a sink that takes the first audio's (before anything is written).
    fn fix_rate(&mut self, rate: u32) {
        match self {
            Output::Wav { writer, partial, .. } if writer.len() == 0 && writer.spec().sample_rate != rate => {
                let spec = hound::WavSpec { sample_rate: rate, ..writer.spec() };
                if let Ok(f) = std::fs::File::create(&partial.temp)
                    && let Ok(w) = hound::WavWriter::new(std::io::BufWriter::new(f), spec)
                {
                    *writer = w;
                }
            }
            Output::Stream { out, header, rate: slot @ None, .. } => {
                *slot = Some(rate);
                if *header {
                    let _ = out.write_all(&streaming_wav_header(rate));
                }
            }
            _ => {}
        }
    }

    fn write(&mut self, samples: &[f32]) -> std::io::Result<()> {
        match self {
            Output::Speaker(p) => {
                p.write(samples);
                Ok(())
            }
            Output::Wav { writer, synced, .. } => {
                for &s in samples {
                    writer.write_sample(to_i16(s)).map_err(std::io::Error::other)?;
                }
                if synced.elapsed() >= WAV_SYNC {
                    // Rewrites the header's sizes: a run killed now still leaves a valid file.
                    writer.flush().map_err(std::io::Error::other)?;
                    *synced = Instant::now();
                }
                Ok(())
            }
            Output::Stream { out, .. } => {
                let bytes: Vec<u8> = samples.iter().flat_map(|&s| to_i16(s).to_le_bytes()).collect();
                out.write_all(&bytes)?;
                out.flush()
            }
        }
    }

    /// Ends the output: a speaker drains, a file gets its final header and its name.
    fn close(self) -> Result<(), Ending> {
        match self {
            Output::Wav { writer, partial, .. } => {
                let recorded = writer.len() > 0;
                let _ = writer.finalize();
                partial.end(recorded)
            }
            Output::Stream { mut out, rate, partial, .. } => {
                let _ = out.flush();
                drop(out);
                partial.map_or(Ok(()), |p| p.end(rate.is_some()))
            }
            Output::Speaker(p) => {
                p.drain();
                Ok(())
            }
        }
    }
}

fn to_i16(x: f32) -> i16 {
    (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16
}

/// A mono 16-bit WAV header whose sizes say "until the end", for a writer that cannot seek back.
fn streaming_wav_header(rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wav_file_is_valid_while_it_grows_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heard.wav");
        let (listener, inlet) = Listener::start(Sink::WavFile(path.clone()), Shaping::default()).await.unwrap();
        for _ in 0..10 {
            inlet.send(vec![1000; 1600], 16000).unwrap();
        }
        listener.finish(inlet).await;
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!((r.spec().sample_rate, r.len()), (16000, 16000));
    }

    #[test]
    fn the_streaming_header_reads_as_wav() {
        let mut bytes = streaming_wav_header(8000);
        bytes.extend_from_slice(&[0; 16]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.wav");
        std::fs::write(&path, &bytes).unwrap();
        let mut src = crate::audio::decode::open(&crate::audio::decode::Input::Path(path), None).unwrap();
        assert_eq!(src.sample_rate(), 8000);
        assert_eq!(src.next_chunk().unwrap().unwrap().len(), 8);
    }
}
