//! A fake speaker for tests: a real ALSA playback device, no sound card needed. The mirror of
//! `tone.rs`: a `file` PCM over the `null` PCM whose output file is a named pipe that a thread
//! here drains in real time (one 10 ms period per 10 ms), so cpal's playback is paced by the
//! reader as by a sound card, and everything played is kept with the time it was read.
//!
//! The pipe is shrunk to one page, so what the reader sees left cpal's callback at most a
//! period or so earlier.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const RATE: u32 = 48_000;
const CHANNELS: usize = 2;
const PERIOD_FRAMES: usize = 480;
pub const PCM_NAME: &str = "hiktalk_speaker";
pub const DESCRIPTION: &str = "hiktalk test speaker";

/// What was played: mono samples (the left channel) and when the reader took each period.
#[derive(Default)]
pub struct Played {
    pub samples: Vec<f32>,
    /// (index of the period's first sample, when it was read).
    pub periods: Vec<(usize, Instant)>,
    /// Periods at which the reader found less than a period waiting (the output ran late).
    pub short: usize,
}

impl Played {
    /// When sample `i` was played (the reader's clock, interpolated within its period).
    pub fn at(&self, i: usize) -> Instant {
        let k = self.periods.partition_point(|(at, _)| *at <= i).saturating_sub(1);
        let (at, when) = self.periods[k];
        when + Duration::from_secs_f64((i - at) as f64 / f64::from(RATE))
    }

    /// The left channel as i16.
    pub fn pcm(&self) -> Vec<i16> {
        self.samples.iter().map(|&v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16).collect()
    }
}

/// A running fake speaker; dropping it stops the reader and removes the files.
pub struct SpeakerSink {
    dir: tempfile::TempDir,
    played: Arc<Mutex<Played>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl SpeakerSink {
    pub fn start() -> io::Result<SpeakerSink> {
        let dir = tempfile::tempdir()?;
        let fifo = dir.path().join("speaker.fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).map_err(io::Error::other)?;
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
            return Err(io::Error::last_os_error());
        }
        std::fs::write(
            dir.path().join("asound.conf"),
            format!(
                "pcm.{PCM_NAME} {{\n  type file\n  slave.pcm \"null\"\n  file \"{}\"\n  format \"raw\"\n  hint {{ show on; description \"{DESCRIPTION}\" }}\n}}\n",
                fifo.display()
            ),
        )?;
        // Read-write so that neither side's open blocks and the pipe never reports EOF.
        let pipe = OpenOptions::new().read(true).write(true).custom_flags(libc::O_NONBLOCK).open(&fifo)?;
        // SAFETY: fcntl on an fd we own; F_SETPIPE_SZ takes an int.
        unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
        let played = Arc::new(Mutex::new(Played::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (played, stop) = (played.clone(), stop.clone());
            std::thread::spawn(move || read_paced(pipe, &played, &stop))
        };
        Ok(SpeakerSink { dir, played, stop, reader: Some(reader) })
    }

    /// The cpal id to play to (`--output` value).
    pub fn device_id(&self) -> String {
        format!("alsa:{PCM_NAME}")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("asound.conf")
    }

    /// Environment a process needs to see the speaker, and also the microphone `tone` if given.
    pub fn env(&self, tone: Option<&super::tone::ToneSource>) -> Vec<(String, String)> {
        let mut path = format!("{}:{}", super::tone::SYSTEM_ALSA_CONF, self.config_path().display());
        if let Some(t) = tone {
            path = format!("{path}:{}", t.config_path().display());
        }
        vec![("ALSA_CONFIG_PATH".to_owned(), path)]
    }

    /// What is played, shared with another thread (the fake microphone's room).
    pub fn shared(&self) -> Arc<Mutex<Played>> {
        self.played.clone()
    }

    /// Everything played so far.
    pub fn played(&self) -> std::sync::MutexGuard<'_, Played> {
        self.played.lock().unwrap()
    }
}

impl Drop for SpeakerSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// How far behind a late reader catches up.
const CARD_BUFFER: Duration = Duration::from_millis(500);

fn read_paced(mut pipe: std::fs::File, played: &Mutex<Played>, stop: &AtomicBool) {
    let period = Duration::from_nanos(PERIOD_FRAMES as u64 * 1_000_000_000 / u64::from(RATE));
    let bytes = PERIOD_FRAMES * CHANNELS * 4;
    let mut buf = vec![0u8; bytes];
    let mut carry = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // One period's worth a period: what a sound card would take.
        let mut want = bytes - carry.len().min(bytes);
        while want > 0 {
            match pipe.read(&mut buf[..want]) {
                Ok(n) if n > 0 => {
                    carry.extend_from_slice(&buf[..n]);
                    want -= n;
                }
                _ => break,
            }
        }
        let whole = carry.len() / (CHANNELS * 4) * (CHANNELS * 4);
        if want > 0 {
            let mut p = played.lock().unwrap();
            // Before the first sample and after the last, nothing is playing.
            if !p.samples.is_empty() {
                p.short += 1;
            }
        }
        if whole > 0 {
            let mut p = played.lock().unwrap();
            let at = p.samples.len();
            p.periods.push((at, Instant::now()));
            for frame in carry[..whole].chunks_exact(CHANNELS * 4) {
                p.samples.push(f32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]));
            }
            carry.drain(..whole);
        }
        // A sound card's pointer keeps moving: a reader woken late (a loaded machine) takes the
        // periods it missed at once, up to the card's buffer, instead of shifting everything
        // after it later (which would read as latency hiktalk never added).
        next += period;
        match next.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None if Instant::now() - next > CARD_BUFFER => next = Instant::now(),
            None => {}
        }
    }
}
