//! What the device received, upload by upload: the raw bytes as they came off the socket (the
//! device's truth, for an independent decoder), what a listener heard of them (`playout`), and
//! for convenience the simulator's own decode as a WAV. With a record directory, each upload
//! leaves `ch<N>-<session>-<upload>.<codec>` (raw) and `.wav` beside it.

use super::events::lock;
use super::playout::{Listened, Playout};
use super::room::EchoLine;
use crate::codec::{self, Codec, CodecParams, Decoder};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Decoded PCM kept in memory per upload; a long-running simulator must not grow without
/// bound. The files, when recording to disk, keep everything.
const MAX_MEMORY_SECONDS: usize = 600;
/// Raw bytes kept in memory per upload (10 minutes of 16 kHz PCM).
const MAX_MEMORY_BYTES: usize = 20 * 1024 * 1024;

/// One upload as the device received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub channel: u32,
    /// The device's id of the session the upload belonged to.
    pub session_id: String,
    /// The upload's number within its session, from 1.
    pub upload: u32,
    /// The channel's codec when the upload started (None when hiktalk knows no such codec).
    pub params: Option<CodecParams>,
    /// The bytes exactly as received (the first `MAX_MEMORY_BYTES`).
    pub raw: Vec<u8>,
    /// The simulator's own decode of them, at `sample_rate`.
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub listened: Listened,
    pub raw_path: Option<PathBuf>,
    pub wav_path: Option<PathBuf>,
}

impl Received {
    /// The audio it holds in memory, raw and decoded.
    pub fn memory_bytes(&self) -> usize {
        self.raw.len() + self.samples.len() * 2
    }
}

/// The raw file's extension for a codec: what `ffmpeg -f` calls it, where it has a name.
pub fn raw_extension(codec: Codec) -> &'static str {
    match codec {
        Codec::G711Ulaw => "ulaw",
        Codec::G711Alaw => "alaw",
        Codec::G726 => "g726",
        Codec::Pcm => "s16le",
        // Length-prefixed frames, as the wire carries them.
        Codec::Aac => "aac-lp",
        Codec::Opus => "opus-lp",
    }
}

pub(crate) struct Recorder<'a> {
    received: Received,
    /// Where the speaker's decoded audio goes for the microphone's echo, with the speaker's
    /// buffer in seconds (None when echo is off: no work on the upload path).
    echo: Option<(&'a Mutex<EchoLine>, f64)>,
    decoder: Option<Box<dyn Decoder>>,
    playout: Playout,
    raw_file: Option<std::io::BufWriter<std::fs::File>>,
    wav: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
    scratch: Vec<i16>,
}

impl<'a> Recorder<'a> {
    /// Returns the recorder and, when the codec cannot be decoded or a file cannot be created,
    /// why (the device keeps counting bytes either way).
    pub(crate) fn new(
        params: Option<CodecParams>,
        dir: Option<&Path>,
        (channel, session_id, upload): (u32, &str, u32),
        (buffer, answered): (Duration, Instant),
    ) -> (Recorder<'a>, Vec<String>) {
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
        let stem = format!("ch{channel}-{session_id}-{upload}");
        let (mut raw_path, mut wav_path, mut raw_file, mut wav) = (None, None, None, None);
        if let Some(dir) = dir {
            let path = dir.join(format!("{stem}.{}", params.map_or("raw", |p| raw_extension(p.codec))));
            match std::fs::File::create(&path) {
                Ok(f) => (raw_file, raw_path) = (Some(std::io::BufWriter::new(f)), Some(path)),
                Err(e) => problems.push(format!("cannot record to {}: {e}", path.display())),
            }
            if decoder.is_some() {
                let path = dir.join(format!("{stem}.wav"));
                let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
                match hound::WavWriter::create(&path, spec) {
                    Ok(w) => (wav, wav_path) = (Some(w), Some(path)),
                    Err(e) => problems.push(format!("cannot record to {}: {e}", path.display())),
                }
            }
        }
        let received = Received {
            channel,
            session_id: session_id.to_string(),
            upload,
            params,
            raw: Vec::new(),
            samples: Vec::new(),
            sample_rate,
            listened: Listened::default(),
            raw_path,
            wav_path,
        };
        let rec =
            Recorder { received, echo: None, decoder, playout: Playout::new(params, buffer, answered), raw_file, wav, scratch: Vec::new() };
        (rec, problems)
    }

    /// Also feeds what the speaker plays to the microphone's echo.
    pub(crate) fn echo_into(mut self, line: &'a Mutex<EchoLine>, buffer: Duration) -> Self {
        self.echo = Some((line, buffer.as_secs_f64()));
        self
    }

    /// Takes one read's bytes. `audible`: the device plays them; `accepted` and `since_start`
    /// as for `Playout::arrive`. A decode error is reported once and decoding stops.
    pub(crate) fn feed(&mut self, data: &[u8], audible: bool, accepted: Option<Instant>, since_start: f64) -> Result<(), String> {
        self.playout.arrive(Instant::now(), data, audible, accepted, since_start);
        let room = MAX_MEMORY_BYTES.saturating_sub(self.received.raw.len());
        self.received.raw.extend_from_slice(&data[..data.len().min(room)]);
        if let Some(f) = self.raw_file.as_mut()
            && f.write_all(data).is_err()
        {
            // Disk trouble: stop writing the file, keep the device running.
            self.raw_file = None;
        }
        let Some(dec) = self.decoder.as_mut() else { return Ok(()) };
        self.scratch.clear();
        if let Err(e) = dec.decode(data, &mut self.scratch) {
            self.decoder = None;
            return Err(e.to_string());
        }
        let r = &mut self.received;
        if let Some((line, buffer)) = self.echo.filter(|_| audible) {
            lock(line).push(since_start, r.sample_rate, &self.scratch, buffer);
        }
        let room = (MAX_MEMORY_SECONDS * r.sample_rate as usize).saturating_sub(r.samples.len());
        r.samples.extend_from_slice(&self.scratch[..self.scratch.len().min(room)]);
        if let Some(w) = self.wav.as_mut() {
            for &s in &self.scratch {
                if w.write_sample(s).is_err() {
                    self.wav = None;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Closes the files and returns what was received.
    pub(crate) fn finish(mut self) -> Received {
        if let Some(mut f) = self.raw_file.take() {
            let _ = f.flush();
        }
        if let Some(w) = self.wav.take()
            && w.finalize().is_err()
        {
            self.received.wav_path = None;
        }
        self.received.listened = self.playout.finish();
        self.received
    }
}
