//! Records what the device's speaker would play: decodes the upload with the channel's codec,
//! keeps the PCM in memory for tests and optionally writes one WAV per session.

use crate::codec::{self, CodecParams, Decoder};
use std::path::{Path, PathBuf};

/// PCM kept in memory per session; a long-running simulator must not grow without bound.
/// The WAV file, when recording to disk, keeps everything.
const MAX_MEMORY_SECONDS: usize = 600;

/// A finished recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

pub(crate) struct Recorder {
    decoder: Option<Box<dyn Decoder>>,
    sample_rate: u32,
    samples: Vec<i16>,
    decoded: u64,
    wav: Option<(PathBuf, hound::WavWriter<std::io::BufWriter<std::fs::File>>)>,
    scratch: Vec<i16>,
}

impl Recorder {
    /// Returns the recorder and, when the codec cannot be decoded or the WAV cannot be
    /// created, why (the device keeps counting bytes either way).
    /// `params` is None when the channel's codec is not one hiktalk knows.
    pub(crate) fn new(params: Option<CodecParams>, dir: Option<&Path>, name: &str) -> (Recorder, Vec<String>) {
        let mut problems = Vec::new();
        let decoder = match params.map(codec::decoder) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                problems.push(e.to_string());
                None
            }
            None => {
                problems.push("the channel's codec is unknown".to_string());
                None
            }
        };
        let sample_rate = params.map_or(8000, |p| p.sample_rate);
        let wav = match (dir, &decoder) {
            (Some(dir), Some(_)) => {
                let path = dir.join(format!("{name}.wav"));
                let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
                match hound::WavWriter::create(&path, spec) {
                    Ok(w) => Some((path, w)),
                    Err(e) => {
                        problems.push(format!("cannot record to {}: {e}", path.display()));
                        None
                    }
                }
            }
            _ => None,
        };
        let rec = Recorder { decoder, sample_rate, samples: Vec::new(), decoded: 0, wav, scratch: Vec::new() };
        (rec, problems)
    }

    /// Decodes one piece of the upload; an error is reported once and decoding stops.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        let Some(dec) = self.decoder.as_mut() else { return Ok(()) };
        self.scratch.clear();
        if let Err(e) = dec.decode(data, &mut self.scratch) {
            self.decoder = None;
            return Err(e.to_string());
        }
        self.decoded += self.scratch.len() as u64;
        let room = (MAX_MEMORY_SECONDS * self.sample_rate as usize).saturating_sub(self.samples.len());
        self.samples.extend_from_slice(&self.scratch[..self.scratch.len().min(room)]);
        if let Some((_, w)) = self.wav.as_mut() {
            for &s in &self.scratch {
                if w.write_sample(s).is_err() {
                    // Disk trouble: stop writing the file, keep the device running.
                    self.wav = None;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Seconds of audio decoded so far.
    pub(crate) fn seconds(&self) -> f64 {
        self.decoded as f64 / self.sample_rate.max(1) as f64
    }

    /// Closes the WAV file; returns the in-memory recording and the file's path.
    pub(crate) fn finish(self) -> (Recording, Option<PathBuf>) {
        let path = self.wav.and_then(|(p, w)| w.finalize().ok().map(|_| p));
        (Recording { sample_rate: self.sample_rate, samples: self.samples }, path)
    }
}
