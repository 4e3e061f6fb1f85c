//! A fake microphone for tests: a real ALSA capture device, no sound card needed.
//!
//! ```ignore
//! use crate::util::tone::ToneSource;
//!
//! let source = ToneSource::start(440.0, -12.0)?;        // 440 Hz sine, peak -12 dBFS
//! let child = std::process::Command::new(env!("CARGO_BIN_EXE_hiktalk"))
//!     .args(["speak", "cam", "--input", &source.device_id()])
//!     .envs(source.env())                               // ALSA_CONFIG_PATH only
//!     .spawn()?;
//! source.set_tone(false);                               // silence from now on ...
//! source.set_tone(true);                                // ... and the tone again
//! source.set_level(-50.0);                              // quieter (peak dBFS)
//! source.set_paused(true);                               // the device delivers nothing
//! source.set_noise(true);                                // white noise at the level, not the sine
//! source.room(&speaker, Duration::from_millis(40), -6.0); // the microphone hears the speaker
//! // Stop the child (or drop the Capture) BEFORE dropping `source`.
//! ```
//!
//! In-process use (`Capture::open(Some(&source.device_id()))`) needs the variables from
//! `env()` set before anything touches ALSA, so keep such a test alone in its test binary.
//!
//! How it works, and why this way: a test-local ALSA config defines a `file` PCM over the
//! `null` PCM whose `infile` is a named pipe (FIFO) that a thread here writes in real time.
//! - A plain file as `infile` is exact but not paced (the `null` PCM is always ready, so
//!   cpal reads thousands of seconds per second), and after EOF it repeats stale data.
//! - With a FIFO, ALSA's read blocks until the writer supplies data, so capture is paced by
//!   this thread. But the `file` plugin does ONE read() per transfer and pads a short read
//!   with silence. So every write here is exactly one ALSA period (480 frames: `Capture`
//!   asks for 10 ms periods) and at most PIPE_BUF bytes (3,840 <= 4,096), which makes each
//!   write atomic: the pipe always holds whole periods and every read gets a full one.
//! - The writer opens the FIFO read-write, so neither side's open() blocks and the pipe
//!   never reports EOF or EPIPE while the source lives. The pipe is shrunk to one page (one
//!   period), and writes are non-blocking: with no reader the pipe fills and further periods
//!   are discarded, like a live microphone nobody listens to; with one, a period is captured
//!   as soon as it is written, so `onsets()` times are when the microphone heard the sound.
//! - PulseAudio (a null sink read through cpal's `pulseaudio` feature) also paces, but needs
//!   the pulseaudio daemon installed and started per test; this needs only libasound2.
//!
//! cpal picks the `null` PCM's preferred config: 48 kHz, stereo, f32; the writer produces
//! exactly that, and the tests check `Capture::describe()` so a different choice fails loudly.
//! Needs on Debian: libasound2-dev, pkg-config (to build) and libasound2-data (alsa.conf).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const RATE: u32 = 48_000;
pub const CHANNELS: usize = 2;
/// Frames per write: one ALSA period as `Capture` configures it (10 ms).
pub const PERIOD_FRAMES: usize = 480;
pub const PCM_NAME: &str = "hiktalk_test";
pub const DESCRIPTION: &str = "hiktalk test tone";
/// Also defined: a listed PCM on a sound card that does not exist, for open-error tests.
pub const BROKEN_DEVICE_ID: &str = "alsa:hiktalk_broken";
/// The system ALSA configuration that the test file is layered on.
pub const SYSTEM_ALSA_CONF: &str = "/usr/share/alsa/alsa.conf";

/// A running fake microphone; dropping it stops the writer and removes the files.
pub struct ToneSource {
    dir: tempfile::TempDir,
    tone_on: Arc<AtomicBool>,
    /// Peak amplitude (f64 bits).
    amplitude: Arc<AtomicU64>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    onsets: Arc<Mutex<Vec<Instant>>>,
    noise: Arc<AtomicBool>,
    room: Arc<Mutex<Option<Room>>>,
    writer: Option<JoinHandle<()>>,
}

/// A room: what the fake speaker played comes back into the microphone `delay` later, scaled.
struct Room {
    played: Arc<Mutex<super::speaker::Played>>,
    delay: usize,
    gain: f32,
    /// The next speaker sample the microphone hears.
    cursor: Option<usize>,
    /// Times the cursor jumped (a thread ran late): each changes the echo's path.
    jumps: Arc<AtomicU64>,
}

impl ToneSource {
    /// Starts feeding a sine of `freq_hz` with peak level `peak_dbfs` (same on both channels).
    pub fn start(freq_hz: f64, peak_dbfs: f64) -> io::Result<ToneSource> {
        if !Path::new(SYSTEM_ALSA_CONF).exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{SYSTEM_ALSA_CONF} missing: install libasound2-data")));
        }
        let dir = tempfile::tempdir()?;
        let fifo = dir.path().join("mic.fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        std::fs::write(
            dir.path().join("asound.conf"),
            format!(
                "pcm.{PCM_NAME} {{\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile \"{}\"\n  format \"raw\"\n  hint {{ show on; description \"{DESCRIPTION}\" }}\n}}\n\
                 pcm.{} {{\n  type hw\n  card 31\n  hint {{ show on; description \"hiktalk broken device\" }}\n}}\n",
                fifo.display(),
                BROKEN_DEVICE_ID.trim_start_matches("alsa:")
            ),
        )?;
        let pipe = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK).open(&fifo)?;
        // One page: the pipe holds one period, so a period written is read (captured) at once
        // and what the source wrote is what the microphone hears now, not 170 ms later.
        // SAFETY: fcntl on an fd we own; F_SETPIPE_SZ takes an int.
        unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&pipe), libc::F_SETPIPE_SZ, 4096) };
        let tone_on = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let amplitude = Arc::new(AtomicU64::new(dbfs_to_amplitude(peak_dbfs).to_bits()));
        let paused = Arc::new(AtomicBool::new(false));
        let onsets = Arc::new(Mutex::new(Vec::new()));
        let noise = Arc::new(AtomicBool::new(false));
        let room = Arc::new(Mutex::new(None));
        let writer = {
            let flags = Flags {
                tone_on: Arc::clone(&tone_on),
                amplitude: Arc::clone(&amplitude),
                paused: Arc::clone(&paused),
                stop: Arc::clone(&stop),
                onsets: Arc::clone(&onsets),
                noise: Arc::clone(&noise),
                room: Arc::clone(&room),
            };
            std::thread::spawn(move || write_tone(pipe, freq_hz, &flags))
        };
        Ok(ToneSource { dir, tone_on, amplitude, paused, stop, onsets, noise, room, writer: Some(writer) })
    }

    /// The cpal id to capture from (`--input` value).
    pub fn device_id(&self) -> String {
        format!("alsa:{PCM_NAME}")
    }

    /// Environment a process needs to see the device.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("ALSA_CONFIG_PATH".to_owned(), format!("{SYSTEM_ALSA_CONF}:{}", self.config_path().display()))]
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("asound.conf")
    }

    /// Tone on, or digital silence (zeros) from the next period on.
    pub fn set_tone(&self, on: bool) {
        self.tone_on.store(on, Ordering::Relaxed);
    }

    /// The tone's peak level from the next period on.
    pub fn set_level(&self, peak_dbfs: f64) {
        self.amplitude.store(dbfs_to_amplitude(peak_dbfs).to_bits(), Ordering::Relaxed);
    }

    /// When each tone onset (silence, then the tone from phase 0, at a random frame of its
    /// period) reached the microphone: the period's write time less the frames after the
    /// onset, for latency measured from outside (a real microphone's wait for a full period
    /// included).
    pub fn onsets(&self) -> Vec<Instant> {
        self.onsets.lock().unwrap().clone()
    }

    /// Paused: nothing is written, so the capture device delivers nothing at all (its read
    /// blocks), like a glitching or stalled microphone; the periods are lost, not delayed.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// White noise (uniform, the same peak) instead of the sine from the next period on: a
    /// broadband voice, which an echo canceller can place in time (a sine repeats every cycle).
    pub fn set_noise(&self, on: bool) {
        self.noise.store(on, Ordering::Relaxed);
    }

    /// From now on the microphone also hears what `speaker` plays, `delay` later (plus the
    /// speaker's own period or so), at `gain_db`: a laptop's speaker and microphone.
    pub fn room(&self, speaker: &super::speaker::SpeakerSink, delay: Duration, gain_db: f64) {
        let delay = (delay.as_secs_f64() * f64::from(RATE)) as usize;
        let gain = dbfs_to_amplitude(gain_db) as f32;
        *self.room.lock().unwrap() = Some(Room { played: speaker.shared(), delay, gain, cursor: None, jumps: Arc::default() });
    }

    /// How often the room's echo path jumped since `room()` (0 on a machine that kept up).
    pub fn room_jumps(&self) -> u64 {
        self.room.lock().unwrap().as_ref().map_or(0, |r| r.jumps.load(Ordering::Relaxed))
    }
}

impl Drop for ToneSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn dbfs_to_amplitude(dbfs: f64) -> f64 {
    10f64.powf(dbfs / 20.0)
}

struct Flags {
    tone_on: Arc<AtomicBool>,
    amplitude: Arc<AtomicU64>,
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    onsets: Arc<Mutex<Vec<Instant>>>,
    noise: Arc<AtomicBool>,
    room: Arc<Mutex<Option<Room>>>,
}

/// How far (in periods) the room's cursor may drift from "`delay` ago" before it jumps.
const RESYNC_PERIODS: usize = 20;

impl Room {
    /// The next period's worth of what the speaker played `delay` ago (silence before it
    /// started). The cursor starts once the speaker has played `delay`'s worth and then moves
    /// a period per period written, as sound does, and by the periods the writer skipped after
    /// a stall: the room keeps the sound card's time whatever the two pipes' threads' timing
    /// on a loaded machine. A reader running late (it takes the periods it missed at once
    /// later) has not yet recorded what the microphone should hear: that part is silent
    /// rather than the echo moving. The cursor jumps only when it is more than
    /// `RESYNC_PERIODS` from "`delay` ago" (a thread stalled for long).
    fn heard(&mut self, out: &mut [f32]) {
        let played = self.played.lock().unwrap();
        let now = played.samples.len().saturating_sub(self.delay);
        let cursor = match self.cursor {
            _ if now == 0 => None,
            Some(c) if c.abs_diff(now) <= RESYNC_PERIODS * PERIOD_FRAMES => Some(c),
            Some(_) => {
                self.jumps.fetch_add(1, Ordering::Relaxed);
                Some(now)
            }
            None => Some(now),
        };
        for (i, o) in out.iter_mut().enumerate() {
            *o = cursor.and_then(|c| played.samples.get(c + i)).map_or(0.0, |s| s * self.gain);
        }
        self.cursor = cursor.map(|c| c + out.len());
    }

    /// The writer skipped `periods` periods (it stalled): the sound went on meanwhile.
    fn skip(&mut self, periods: usize) {
        if let Some(c) = &mut self.cursor {
            *c += periods * PERIOD_FRAMES;
        }
    }
}

fn write_tone(mut pipe: std::fs::File, freq_hz: f64, flags: &Flags) {
    let Flags { tone_on, amplitude, paused, stop, onsets, noise, room } = flags;
    let mut heard = vec![0f32; PERIOD_FRAMES];
    let mut seed = 0x2545_f491u32;
    let period = Duration::from_nanos(PERIOD_FRAMES as u64 * 1_000_000_000 / u64::from(RATE));
    let mut buf = vec![0u8; PERIOD_FRAMES * CHANNELS * 4];
    let mut frame: u64 = 0;
    // The frame the tone last came on at: it starts from phase 0 there, a sharp onset.
    let mut on_since: Option<u64> = Some(0);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let on = tone_on.load(Ordering::Relaxed);
        let onset = on && on_since.is_none();
        // A real sound starts anywhere within a period, and the microphone delivers it only
        // when the period is full: an onset at a random frame of its period.
        let offset = if onset { rand::random_range(0..PERIOD_FRAMES as u64) } else { 0 };
        on_since = if on { on_since.or(Some(frame + offset)) } else { None };
        let amplitude = f64::from_bits(amplitude.load(Ordering::Relaxed));
        let noise = noise.load(Ordering::Relaxed);
        match room.lock().unwrap().as_mut() {
            Some(r) => r.heard(&mut heard),
            None => heard.fill(0.0),
        }
        for (i, out) in buf.chunks_exact_mut(CHANNELS * 4).enumerate() {
            let n = frame + i as u64;
            let sounding = on_since.is_some_and(|since| n >= since);
            let t = n.saturating_sub(on_since.unwrap_or(0)) as f64 / f64::from(RATE);
            let voice = match (sounding, noise) {
                (false, _) => 0.0,
                (true, false) => amplitude * (2.0 * std::f64::consts::PI * freq_hz * t).sin(),
                (true, true) => {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    amplitude * (f64::from(seed >> 8) / f64::from(1u32 << 23) - 1.0)
                }
            };
            let value = voice as f32 + heard[i];
            for sample in out.chunks_exact_mut(4) {
                sample.copy_from_slice(&value.to_le_bytes());
            }
        }
        frame += PERIOD_FRAMES as u64;
        let written = if paused.load(Ordering::Relaxed) { Ok(0) } else { pipe.write(&buf) };
        match written {
            // The period is captured as it is written: its frame `offset` reached the
            // microphone (PERIOD_FRAMES - offset) frames before now.
            Ok(n) if n > 0 && onset => {
                let before = Duration::from_nanos((PERIOD_FRAMES as u64 - offset) * 1_000_000_000 / u64::from(RATE));
                onsets.lock().unwrap().push(Instant::now() - before)
            }
            // A full pipe means nobody is reading: drop this period, as a live microphone would.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
        next += period;
        let now = Instant::now();
        match next.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            // Far behind (e.g. a stalled machine): restart the schedule instead of bursting.
            None if now - next > period * 10 => {
                if let Some(r) = room.lock().unwrap().as_mut() {
                    r.skip(((now - next).as_nanos() / period.as_nanos()) as usize);
                }
                next = now;
            }
            None => {}
        }
    }
}
