//! The room around the device: what its microphone picks up. A 440 Hz tone, or a file
//! (`--mic`) looped, plus (`--mic-echo`) what the device's own speaker played on that channel a
//! moment earlier.

use crate::audio::decode::{self, Input};
use crate::audio::resample::Resampler;
use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// 440 Hz at about -12 dBFS: easy to recognise in a client's recording.
const TONE_HZ: f64 = 440.0;
const TONE_AMPLITUDE: f32 = 8000.0 / 32768.0;
/// A microphone file is kept in memory up to this long; the loop is its first 10 minutes.
const MAX_FILE_SECONDS: usize = 600;
/// Speaker audio kept for the echo: enough for any plausible room delay.
const ECHO_KEEP_SECONDS: f64 = 4.0;
/// The device hears its own speaker: what it played comes back on the microphone `delay`
/// later, scaled by `gain_db`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MicEcho {
    pub delay: Duration,
    pub gain_db: f64,
}

impl MicEcho {
    pub const DEFAULT_GAIN_DB: f64 = -6.0;

    pub(crate) fn gain(&self) -> f32 {
        10f64.powf(self.gain_db / 20.0) as f32
    }
}

impl fmt::Display for MicEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.delay.as_millis(), self.gain_db)
    }
}

impl FromStr for MicEcho {
    type Err = String;
    /// `MS[:DB]`, e.g. `120:-6`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "mic echo {s:?} should look like MS[:DB], e.g. 120:-6 (delay in ms, under {ECHO_KEEP_SECONDS} s; gain in dB, at most 0)"
            )
        };
        let (ms, db) = match s.trim().split_once(':') {
            Some((ms, db)) => (ms, Some(db)),
            None => (s.trim(), None),
        };
        let ms: u64 = ms.trim().parse().map_err(|_| usage())?;
        let gain_db = match db {
            Some(db) => db.trim().parse::<f64>().map_err(|_| usage())?,
            None => MicEcho::DEFAULT_GAIN_DB,
        };
        // A louder echo than the sound is no room; the delay must fit the kept speaker audio.
        if !gain_db.is_finite() || gain_db > 0.0 || ms as f64 / 1000.0 >= ECHO_KEEP_SECONDS {
            return Err(usage());
        }
        Ok(MicEcho { delay: Duration::from_millis(ms), gain_db })
    }
}

/// A microphone file decoded once at start: mono, at its own rate.
pub(crate) struct MicFile {
    rate: u32,
    samples: Vec<f32>,
}

/// Decodes the whole file (its first `MAX_FILE_SECONDS`); an error says why in words.
pub(crate) async fn load(path: PathBuf) -> Result<MicFile, String> {
    tokio::task::spawn_blocking(move || -> Result<MicFile, String> {
        let mut src = decode::open(&Input::Path(path.clone()), None).map_err(|e| e.to_string())?;
        let rate = src.sample_rate();
        let limit = MAX_FILE_SECONDS * rate as usize;
        let mut samples = Vec::new();
        while samples.len() < limit {
            let Some(chunk) = src.next_chunk().map_err(|e| e.to_string())? else { break };
            samples.extend_from_slice(&chunk[..chunk.len().min(limit - samples.len())]);
        }
        if rate == 0 || samples.is_empty() {
            return Err(format!("{} contains no audio", path.display()));
        }
        Ok(MicFile { rate, samples })
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What the microphone picks up besides the echo, one frame at a time.
pub(crate) enum Signal {
    Tone {
        n: u64,
        rate: f64,
    },
    /// The file, looped through a streaming resampler so the loop point is seamless.
    File {
        file: Arc<MicFile>,
        at: usize,
        resampler: Box<Resampler>,
        ready: Vec<f32>,
    },
}

impl Signal {
    pub(crate) fn new(file: Option<Arc<MicFile>>, rate: u32) -> Result<Signal, String> {
        Ok(match file {
            None => Signal::Tone { n: 0, rate: f64::from(rate) },
            Some(file) => {
                let resampler = Box::new(Resampler::new(file.rate, rate).map_err(|e| e.to_string())?);
                Signal::File { file, at: 0, resampler, ready: Vec::new() }
            }
        })
    }

    pub(crate) fn fill(&mut self, out: &mut [f32]) -> Result<(), String> {
        match self {
            Signal::Tone { n, rate } => {
                for s in out.iter_mut() {
                    *s = TONE_AMPLITUDE * (2.0 * std::f64::consts::PI * TONE_HZ * *n as f64 / *rate).sin() as f32;
                    *n += 1;
                }
            }
            Signal::File { file, at, resampler, ready } => {
                const BLOCK: usize = 1024;
                while ready.len() < out.len() {
                    let end = (*at + BLOCK).min(file.samples.len());
                    resampler.process(&file.samples[*at..end], ready).map_err(|e| e.to_string())?;
                    *at = if end == file.samples.len() { 0 } else { end };
                }
                out.copy_from_slice(&ready[..out.len()]);
                ready.drain(..out.len());
            }
        }
        Ok(())
    }
}

/// What a channel's speaker played lately, on the simulator's clock, for the echo: a gapless
/// timeline (silence where nothing played) of at most `ECHO_KEEP_SECONDS`.
#[derive(Default)]
pub(crate) struct EchoLine {
    rate: u32,
    /// Simulator-clock time of `samples[0]`.
    start: f64,
    samples: VecDeque<f32>,
}

impl EchoLine {
    fn end(&self) -> f64 {
        self.start + self.samples.len() as f64 / f64::from(self.rate.max(1))
    }

    /// Decoded speaker audio that arrived at `at`. The speaker plays it once what came before
    /// has played, and loses what lies beyond its buffer (`max_lead` seconds), as `Playout` counts.
    pub(crate) fn push(&mut self, at: f64, rate: u32, pcm: &[i16], max_lead: f64) {
        if pcm.is_empty() || rate == 0 {
            return;
        }
        if self.rate != rate || at > self.end() + ECHO_KEEP_SECONDS {
            *self = EchoLine { rate, start: at, samples: VecDeque::new() };
        }
        let r = f64::from(rate);
        let end = self.end();
        if at > end {
            let gap = ((at - end) * r).round() as usize;
            self.samples.extend(std::iter::repeat_n(0.0, gap));
        }
        let room = (((at + max_lead - self.end()) * r).max(0.0)) as usize;
        self.samples.extend(pcm[..pcm.len().min(room)].iter().map(|&s| f32::from(s) / 32768.0));
        let keep = (ECHO_KEEP_SECONDS * r) as usize;
        if self.samples.len() > keep {
            let drop = self.samples.len() - keep;
            self.samples.drain(..drop);
            self.start += drop as f64 / r;
        }
    }

    /// What the speaker played at simulator time `t`, interpolated linearly: when the
    /// microphone runs at another rate than the upload (another codec), this is the
    /// resampling. Crude, but an echo through a room is no hi-fi path either.
    pub(crate) fn at(&self, t: f64) -> f32 {
        let x = (t - self.start) * f64::from(self.rate);
        if x < 0.0 || self.samples.is_empty() {
            return 0.0;
        }
        let i = x.floor() as usize;
        let frac = (x - i as f64) as f32;
        match (self.samples.get(i), self.samples.get(i + 1)) {
            (Some(&a), Some(&b)) => a + (b - a) * frac,
            (Some(&a), None) => a * (1.0 - frac),
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_parses_and_prints() {
        assert_eq!("120:-6".parse::<MicEcho>(), Ok(MicEcho { delay: Duration::from_millis(120), gain_db: -6.0 }));
        assert_eq!("100".parse::<MicEcho>(), Ok(MicEcho { delay: Duration::from_millis(100), gain_db: MicEcho::DEFAULT_GAIN_DB }));
        assert_eq!("100:0".parse::<MicEcho>().map(|e| e.gain()), Ok(1.0));
        for bad in ["", "x", "100:+3", "100:loud", "-5", "9000"] {
            assert!(bad.parse::<MicEcho>().is_err(), "{bad}");
        }
    }

    #[test]
    fn echo_line_plays_in_order_and_reads_by_time() {
        let mut line = EchoLine::default();
        let pcm: Vec<i16> = (0..800).map(|i| i as i16).collect();
        line.push(10.0, 8000, &pcm, 1.0);
        // A second chunk arriving early queues behind the first (the speaker is busy).
        line.push(10.05, 8000, &pcm, 1.0);
        assert_eq!(line.samples.len(), 1600);
        assert!((line.at(10.0 + 400.0 / 8000.0) - 400.0 / 32768.0).abs() < 1e-6);
        assert!((line.at(10.0 + 1200.5 / 8000.0) - 400.5 / 32768.0).abs() < 1e-6, "interpolated");
        assert_eq!(line.at(9.99), 0.0);
        assert_eq!(line.at(12.0), 0.0);
        // A gap is silence; beyond the speaker's buffer audio is lost.
        line.push(11.0, 8000, &pcm, 1.0);
        assert_eq!(line.at(10.5), 0.0);
        assert!((line.at(11.0 + 1.0 / 8000.0) - 1.0 / 32768.0).abs() < 1e-6);
        let before = line.samples.len();
        line.push(11.0, 8000, &vec![1; 16000], 1.0);
        assert_eq!(line.samples.len() - before, 8000 - 800);
        // Long runs keep only the last seconds.
        for k in 0..100 {
            line.push(12.0 + k as f64 * 0.1, 8000, &pcm, 1.0);
        }
        assert_eq!(line.samples.len(), (ECHO_KEEP_SECONDS * 8000.0) as usize);
        assert!((line.end() - 22.0).abs() < 1e-6, "{}", line.end());
    }
}
