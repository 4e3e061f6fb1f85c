//! Audio file and stdin sources, decoded and downmixed to mono f32 in chunks.
//!
//! WAV goes through `hound` (it reads from a plain `Read`, so a piped WAV with a bogus
//! streaming size, as `espeak-ng --stdout` writes, works); MP3, FLAC, Ogg Vorbis and WAV
//! encodings hound lacks go through `symphonia`. Raw PCM needs its format stated.

use crate::codec::CodecError;
use audio_codec_algorithms::{decode_alaw, decode_ulaw};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;

/// Frames per chunk handed out by `next_chunk` (about 0.1 s at 44.1 kHz).
const CHUNK_FRAMES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot open {what}: {source}; check the path and its permissions")]
    Open { what: String, source: io::Error },
    #[error("reading {what} failed: {source}; give an audio file (WAV, MP3, FLAC, Ogg Vorbis), or - for stdin")]
    Read { what: String, source: io::Error },
    #[error("{what}: {reason}; convert it first, e.g. `ffmpeg -i INPUT -ac 1 out.wav`, or give --raw-format for headerless PCM")]
    Unsupported { what: String, reason: String },
    #[error("{what} is {format} audio with its own header, and --raw-format is only for headerless samples; drop --raw-format")]
    HasHeader { what: String, format: &'static str },
    #[error("{what} is damaged: {reason}; check the file or re-export it")]
    Corrupt { what: String, reason: String },
    #[error("{what} contains no audio; check that the file (or the program feeding stdin) produced sound")]
    Empty { what: String },
    #[error("resampling failed: {0}")]
    Resample(String),
    #[error("gain {gain} dB is out of range; use {min} to +{max} dB")]
    BadGain { gain: f32, min: f32, max: f32 },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Where audio comes from: a file, standard input (`-`), or bytes hiktalk made (`say`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
    /// An audio file already in memory, and what to call it.
    Memory {
        what: String,
        bytes: Arc<[u8]>,
    },
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        if s == "-" { Input::Stdin } else { Input::Path(PathBuf::from(s)) }
    }
}

impl FromStr for Input {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Input::from(s))
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Path(p) => write!(f, "{}", p.display()),
            Input::Stdin => f.write_str("standard input"),
            Input::Memory { what, .. } => f.write_str(what),
        }
    }
}

/// Sample encodings accepted for headerless input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawSample {
    S16Le,
    S16Be,
    U8,
    F32Le,
    MuLaw,
    ALaw,
}

impl RawSample {
    const NAMES: [(&'static str, RawSample); 6] = [
        ("s16le", RawSample::S16Le),
        ("s16be", RawSample::S16Be),
        ("u8", RawSample::U8),
        ("f32le", RawSample::F32Le),
        ("mulaw", RawSample::MuLaw),
        ("alaw", RawSample::ALaw),
    ];

    fn bytes(self) -> usize {
        match self {
            RawSample::S16Le | RawSample::S16Be => 2,
            RawSample::F32Le => 4,
            RawSample::U8 | RawSample::MuLaw | RawSample::ALaw => 1,
        }
    }

    fn name(self) -> &'static str {
        RawSample::NAMES.iter().find(|(_, s)| *s == self).map_or("?", |(n, _)| n)
    }

    fn to_f32(self, b: &[u8]) -> f32 {
        match self {
            RawSample::S16Le => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
            RawSample::S16Be => f32::from(i16::from_be_bytes([b[0], b[1]])) / 32768.0,
            RawSample::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            RawSample::F32Le => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            RawSample::MuLaw => f32::from(decode_ulaw(b[0])) / 32768.0,
            RawSample::ALaw => f32::from(decode_alaw(b[0])) / 32768.0,
        }
    }
}

/// Headerless PCM layout, written `SAMPLE:RATE[:CHANNELS]`, e.g. `s16le:16000:1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFormat {
    pub sample: RawSample,
    pub rate: u32,
    pub channels: u16,
}

impl FromStr for RawFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "raw format {s:?} should look like s16le:16000:1 (SAMPLE:RATE[:CHANNELS]); SAMPLE is one of {}",
                RawSample::NAMES.map(|(n, _)| n).join(", ")
            )
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        let (sample, rate, channels) = match parts.as_slice() {
            [s, r] => (*s, *r, "1"),
            [s, r, c] => (*s, *r, *c),
            _ => return Err(usage()),
        };
        let sample = RawSample::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(sample)).map(|(_, v)| *v).ok_or_else(usage)?;
        let rate: u32 = rate.parse().map_err(|_| usage())?;
        let channels: u16 = channels.parse().map_err(|_| usage())?;
        if !(1000..=384_000).contains(&rate) || !(1..=32).contains(&channels) {
            return Err(format!("{}: rate must be 1000..384000 Hz and channels 1..32", usage()));
        }
        Ok(RawFormat { sample, rate, channels })
    }
}

impl fmt::Display for RawFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.sample.name(), self.rate, self.channels)
    }
}

/// A decoded audio stream.
pub trait Source: Send {
    fn sample_rate(&self) -> u32;
    /// Channels before downmixing (for display).
    fn channels_in(&self) -> u16;
    /// Length, when the container states it up front.
    fn duration(&self) -> Option<Duration>;
    /// One line for the user, e.g. "WAV, 44100 Hz, 2 ch, 16-bit".
    fn describe(&self) -> String;
    /// Next chunk of mono f32 samples in [-1, 1] (channels averaged); `Ok(None)` at the end.
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError>;
}

/// Opens `input`; `raw` says how to read headerless PCM (otherwise the format is detected).
pub fn open(input: &Input, raw: Option<RawFormat>) -> Result<Box<dyn Source>, AudioError> {
    let what = input.to_string();
    let inner: Box<dyn Source> = match input {
        Input::Path(path) => open_file(path, &what, raw)?,
        Input::Stdin => open_stream(BufReader::with_capacity(1 << 16, io::stdin()), &what, raw)?,
        Input::Memory { bytes, .. } => open_stream(Cursor::new(bytes.clone()), &what, raw)?,
    };
    Ok(Box::new(NonEmpty { inner, what, produced: false }))
}

/// A stream read once from its start, its format told by its first bytes.
fn open_stream<R: Read + Send + Sync + 'static>(mut stream: R, what: &str, raw: Option<RawFormat>) -> Result<Box<dyn Source>, AudioError> {
    let head = read_head(&mut stream, what)?;
    if head.is_empty() {
        return Err(AudioError::Empty { what: what.to_string() });
    }
    Ok(match raw {
        Some(format) => {
            headerless(&head, what)?;
            let reader = Cursor::new(head).chain(stream);
            Box::new(RawSource { what: what.to_string(), reader, format, total: None, carry: Vec::new() })
        }
        None if is_wav(&head) => {
            let (header, align) = wav_header(&mut stream, head, what)?;
            Box::new(WavSource::new(Cursor::new(header).chain(stream), what, false, align)?)
        }
        None => {
            let stream = ReadOnlySource::new(Cursor::new(head).chain(stream));
            Box::new(SymphoniaSource::new(Box::new(stream), &Hint::new(), what)?)
        }
    })
}

fn open_file(path: &Path, what: &str, raw: Option<RawFormat>) -> Result<Box<dyn Source>, AudioError> {
    let open = || File::open(path).map_err(|source| AudioError::Open { what: what.to_string(), source });
    let file = open()?;
    // Only a regular file has a length; a FIFO or a character device reports 0 while data flows.
    let len = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    let mut reader = BufReader::new(file);
    let head = read_head(&mut reader, what)?;
    if head.is_empty() {
        return Err(AudioError::Empty { what: what.to_string() });
    }
    if let Some(format) = raw {
        headerless(&head, what)?;
        let frame = (format.sample.bytes() * usize::from(format.channels)) as u64;
        let total = len.map(|l| l / frame);
        if total == Some(0) {
            return Err(AudioError::Empty { what: what.to_string() });
        }
        let reader = Cursor::new(head).chain(reader);
        return Ok(Box::new(RawSource { what: what.to_string(), reader, format, total, carry: Vec::new() }));
    }
    if is_wav(&head) {
        let (header, align) = wav_header(&mut reader, head, what)?;
        match WavSource::new(Cursor::new(header).chain(reader), what, true, align) {
            // hound reads integer and 32-bit float PCM; symphonia also knows ADPCM, G.711 and
            // 64-bit float WAV.
            Err(AudioError::Unsupported { .. }) => {}
            other => return other.map(|s| Box::new(s) as Box<dyn Source>),
        }
    }
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    Ok(Box::new(SymphoniaSource::new(Box::new(open()?), &hint, what)?))
}

/// The first bytes, for format detection (fewer only at end of input).
fn read_head(r: &mut impl Read, what: &str) -> Result<Vec<u8>, AudioError> {
    let mut head = Vec::with_capacity(12);
    r.take(12).read_to_end(&mut head).map_err(|source| AudioError::Read { what: what.to_string(), source })?;
    Ok(head)
}

/// Refuses `--raw-format` for an input that starts with a header of a format hiktalk reads by
/// itself: its header would be played as samples (a 3 s WAV tone became 16 s of noise).
fn headerless(head: &[u8], what: &str) -> Result<(), AudioError> {
    let format = match head {
        _ if is_wav(head) => "WAV",
        [b'f', b'L', b'a', b'C', ..] => "FLAC",
        [b'O', b'g', b'g', b'S', ..] => "Ogg",
        [b'I', b'D', b'3', ..] => "MP3",
        _ => return Ok(()),
    };
    Err(AudioError::HasHeader { what: what.to_string(), format })
}

fn is_wav(head: &[u8]) -> bool {
    head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE"
}

/// Largest header (all chunks before `data`) read ahead; real ones are a few hundred bytes.
const MAX_WAV_HEADER: usize = 1 << 20;

/// Reads a WAV header up to the start of the sample data (`head` holds its first 12 bytes) and
/// makes a streaming writer's placeholder data size acceptable to hound. ffmpeg writing to a
/// pipe puts 0xFFFFFFFF there, which is not a whole number of frames, and hound rejects it; it
/// becomes the largest whole number of frames, and the real end is end of input.
/// Also returns the format's block align (bytes per frame), when the header has one.
fn wav_header(r: &mut impl Read, mut header: Vec<u8>, what: &str) -> Result<(Vec<u8>, Option<u32>), AudioError> {
    let corrupt = |reason: &str| AudioError::Corrupt { what: what.to_string(), reason: reason.to_string() };
    let mut block_align = None;
    loop {
        let at = header.len();
        let mut chunk = [0u8; 8];
        r.read_exact(&mut chunk).map_err(|_| corrupt("the WAV header is cut short"))?;
        header.extend_from_slice(&chunk);
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        if &chunk[..4] == b"data" {
            if let Some(align) = block_align.filter(|&a: &u32| a > 0 && size % a != 0 && size >= 0x7FFF_0000) {
                header[at + 4..at + 8].copy_from_slice(&(size - size % align).to_le_bytes());
            }
            return Ok((header, block_align));
        }
        // Chunks are padded to an even length.
        let body = size as usize + (size as usize & 1);
        if header.len() + body > MAX_WAV_HEADER {
            return Err(corrupt("no audio data found in the first megabyte"));
        }
        let start = header.len();
        header.resize(start + body, 0);
        r.read_exact(&mut header[start..]).map_err(|_| corrupt("the WAV header is cut short"))?;
        if &chunk[..4] == b"fmt " && body >= 14 {
            block_align = Some(u32::from(u16::from_le_bytes([header[start + 12], header[start + 13]])));
        }
    }
}

/// Averages interleaved frames into mono.
fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() * scale).collect()
}

/// Turns "ended with nothing" into `AudioError::Empty` for every kind of source.
struct NonEmpty {
    inner: Box<dyn Source>,
    what: String,
    produced: bool,
}

impl Source for NonEmpty {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn channels_in(&self) -> u16 {
        self.inner.channels_in()
    }
    fn duration(&self) -> Option<Duration> {
        self.inner.duration()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        let chunk = self.inner.next_chunk()?;
        match &chunk {
            Some(_) => self.produced = true,
            None if !self.produced => return Err(AudioError::Empty { what: self.what.clone() }),
            None => {}
        }
        Ok(chunk)
    }
}

/// Notes when the reader behind hound hits end of input: hound reports a short read as a
/// generic I/O error, and a short read is how a streamed or cut-off WAV ends.
struct EofWatch<R> {
    inner: R,
    hit: Arc<AtomicBool>,
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.hit.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

struct WavSource<R: Read> {
    what: String,
    /// Positioned in the sample data once hound has read the header.
    data: BufReader<EofWatch<R>>,
    spec: hound::WavSpec,
    /// Sample bytes left in the data chunk (`None`: a streamed header, until end of input):
    /// chunks after the data (LIST, id3) are not audio.
    left: Option<u64>,
    duration: Option<Duration>,
    done: bool,
    buf: Vec<u8>,
}

fn hound_error(e: hound::Error, what: &str, eof: bool) -> AudioError {
    let what = what.to_string();
    match e {
        hound::Error::IoError(_) if eof => AudioError::Corrupt { what, reason: "the WAV header is cut short".into() },
        hound::Error::IoError(source) => AudioError::Read { what, source },
        hound::Error::Unsupported => AudioError::Unsupported { what, reason: "this WAV encoding is not supported".into() },
        hound::Error::FormatError(m) => AudioError::Corrupt { what, reason: m.to_string() },
        other => AudioError::Corrupt { what, reason: other.to_string() },
    }
}

impl<R: Read + Send> WavSource<R> {
    /// `block_align`: bytes per frame, from the header.
    fn new(stream: R, what: &str, sized: bool, block_align: Option<u32>) -> Result<Self, AudioError> {
        let eof = Arc::new(AtomicBool::new(false));
        let watched = BufReader::with_capacity(1 << 16, EofWatch { inner: stream, hit: eof.clone() });
        let reader = hound::WavReader::new(watched).map_err(|e| hound_error(e, what, eof.load(Ordering::Relaxed)))?;
        let spec = reader.spec();
        // Samples that fill their bytes; others (12 bits in 16, 24 in 32) go to symphonia.
        let full = block_align == Some(u32::from(spec.channels) * u32::from(spec.bits_per_sample / 8));
        let supported = full
            && match spec.sample_format {
                hound::SampleFormat::Int => matches!(spec.bits_per_sample, 8 | 16 | 24 | 32),
                hound::SampleFormat::Float => spec.bits_per_sample == 32,
            };
        if !supported || spec.channels == 0 || spec.sample_rate == 0 {
            return Err(AudioError::Unsupported {
                what: what.to_string(),
                reason: format!("{}-bit {:?} WAV with {} channels", spec.bits_per_sample, spec.sample_format, spec.channels),
            });
        }
        // Streaming writers (espeak-ng --stdout, ffmpeg to a pipe) put a huge placeholder size
        // in the header; the real end is end of input.
        let data_bytes = u64::from(reader.len()) * u64::from(spec.bits_per_sample / 8);
        let placeholder = data_bytes >= 0x7FFF_0000;
        if sized && data_bytes == 0 {
            return Err(AudioError::Empty { what: what.to_string() });
        }
        let duration = (!placeholder).then(|| Duration::from_secs_f64(f64::from(reader.duration()) / f64::from(spec.sample_rate)));
        // hound reads a sample per call through the reader: the samples are read here in bulk
        // instead (most of `play`'s decoding time went to that), the header stays hound's.
        let data = reader.into_inner();
        Ok(WavSource {
            what: what.to_string(),
            data,
            spec,
            left: (!placeholder).then_some(data_bytes),
            duration,
            done: false,
            buf: Vec::new(),
        })
    }

    /// Up to `want` interleaved samples; fewer at the end of the data (a cut-off file plays
    /// what arrived; a partial sample at the very end is dropped).
    fn read_interleaved(&mut self, want: usize) -> Result<Vec<f32>, AudioError> {
        let width = usize::from(self.spec.bits_per_sample / 8);
        let mut len = want * width;
        if let Some(left) = self.left {
            len = len.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        self.buf.resize(len, 0);
        let mut filled = 0;
        while filled < len {
            match self.data.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(AudioError::Read { what: self.what.clone(), source }),
            }
        }
        if let Some(left) = &mut self.left {
            *left -= filled as u64;
        }
        if filled < want * width {
            self.done = true;
        }
        let bytes = &self.buf[..filled / width * width];
        let float = self.spec.sample_format == hound::SampleFormat::Float;
        Ok(match width {
            1 => bytes.iter().map(|&b| (f32::from(b) - 128.0) / 128.0).collect(),
            2 => bytes.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect(),
            3 => bytes.chunks_exact(3).map(|b| (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0).collect(),
            _ if float => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            _ => bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0).collect(),
        })
    }
}

impl<R: Read + Send> Source for WavSource<R> {
    fn sample_rate(&self) -> u32 {
        self.spec.sample_rate
    }
    fn channels_in(&self) -> u16 {
        self.spec.channels
    }
    fn duration(&self) -> Option<Duration> {
        self.duration
    }
    fn describe(&self) -> String {
        let kind = if self.spec.sample_format == hound::SampleFormat::Float { " float" } else { "" };
        format!("WAV, {} Hz, {} ch, {}-bit{kind}", self.spec.sample_rate, self.spec.channels, self.spec.bits_per_sample)
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        if self.done {
            return Ok(None);
        }
        let channels = usize::from(self.spec.channels);
        let mut samples = self.read_interleaved(CHUNK_FRAMES * channels)?;
        samples.truncate(samples.len() / channels * channels);
        Ok((!samples.is_empty()).then(|| downmix(&samples, channels)))
    }
}

struct RawSource<R: Read> {
    what: String,
    reader: R,
    format: RawFormat,
    /// Frames in a file; unknown on a pipe.
    total: Option<u64>,
    /// Bytes of a frame split across reads.
    carry: Vec<u8>,
}

impl<R: Read + Send> Source for RawSource<R> {
    fn sample_rate(&self) -> u32 {
        self.format.rate
    }
    fn channels_in(&self) -> u16 {
        self.format.channels
    }
    fn duration(&self) -> Option<Duration> {
        self.total.map(|t| Duration::from_secs_f64(t as f64 / f64::from(self.format.rate)))
    }
    fn describe(&self) -> String {
        format!("raw {}, {} Hz, {} ch", self.format.sample.name(), self.format.rate, self.format.channels)
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        let width = self.format.sample.bytes();
        let channels = usize::from(self.format.channels);
        let frame = channels * width;
        // Return whatever whole frames have arrived: a live pipe must not wait for a full chunk.
        let mut buf = vec![0u8; CHUNK_FRAMES * frame];
        loop {
            let n = match self.reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(AudioError::Read { what: self.what.clone(), source }),
            };
            // A trailing partial frame at the end of input is dropped.
            if n == 0 {
                return Ok(None);
            }
            self.carry.extend_from_slice(&buf[..n]);
            let whole = self.carry.len() / frame * frame;
            if whole > 0 {
                let samples: Vec<f32> =
                    self.carry.drain(..whole).as_slice().chunks_exact(width).map(|b| self.format.sample.to_f32(b)).collect();
                return Ok(Some(downmix(&samples, channels)));
            }
        }
    }
}

struct SymphoniaSource {
    what: String,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track: u32,
    rate: u32,
    channels: u16,
    duration: Option<Duration>,
    description: String,
    scratch: Vec<f32>,
}

/// Consecutive undecodable packets tolerated before giving up (a few glitches are normal in
/// MP3s cut from streams; hundreds mean garbage).
const MAX_BAD_PACKETS: usize = 100;

fn sym_error(e: SymError, what: &str) -> AudioError {
    let what = what.to_string();
    match e {
        SymError::IoError(source) => AudioError::Read { what, source },
        SymError::Unsupported(m) => AudioError::Unsupported { what, reason: format!("unsupported or unrecognised format ({m})") },
        SymError::DecodeError(m) => AudioError::Corrupt { what, reason: m.to_string() },
        other => AudioError::Corrupt { what, reason: other.to_string() },
    }
}

impl SymphoniaSource {
    fn new(source: Box<dyn MediaSource>, hint: &Hint, what: &str) -> Result<Self, AudioError> {
        let mss = MediaSourceStream::new(source, Default::default());
        let format = symphonia::default::get_probe().probe(hint, mss, FormatOptions::default(), MetadataOptions::default()).map_err(
            |e| match e {
                SymError::IoError(source) if source.kind() != io::ErrorKind::UnexpectedEof => {
                    AudioError::Read { what: what.to_string(), source }
                }
                _ => AudioError::Unsupported { what: what.to_string(), reason: "not a recognised audio format".into() },
            },
        )?;
        let unsupported = |reason: &str| AudioError::Unsupported { what: what.to_string(), reason: reason.to_string() };
        let track = format.default_track(TrackType::Audio).ok_or_else(|| unsupported("no audio track"))?;
        let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or_else(|| unsupported("no audio track"))?;
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|_| unsupported("its audio codec is not supported"))?;
        let rate = params.sample_rate.filter(|&r| r > 0).ok_or_else(|| unsupported("no sample rate"))?;
        let channels = params.channels.as_ref().map_or(1, |c| c.count()) as u16;
        if track.num_frames == Some(0) {
            return Err(AudioError::Empty { what: what.to_string() });
        }
        let duration = track.num_frames.map(|n| Duration::from_secs_f64(n as f64 / f64::from(rate)));
        let description = format!("{}, {} Hz, {} ch", decoder.codec_info().short_name.to_ascii_uppercase(), rate, channels);
        let track = track.id;
        Ok(SymphoniaSource { what: what.to_string(), format, decoder, track, rate, channels, duration, description, scratch: Vec::new() })
    }
}

impl Source for SymphoniaSource {
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn channels_in(&self) -> u16 {
        self.channels
    }
    fn duration(&self) -> Option<Duration> {
        self.duration
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
    fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        let mut bad = 0;
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) | Err(SymError::ResetRequired) => return Ok(None),
                // Truncated files end mid-packet: play what decoded.
                Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(sym_error(e, &self.what)),
            };
            if packet.track_id != self.track {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    let channels = buf.num_planes().max(1);
                    if buf.frames() == 0 {
                        continue;
                    }
                    self.scratch.resize(buf.samples_interleaved(), 0.0);
                    buf.copy_to_slice_interleaved(&mut self.scratch);
                    return Ok(Some(downmix(&self.scratch, channels)));
                }
                Err(SymError::DecodeError(m)) => {
                    bad += 1;
                    if bad > MAX_BAD_PACKETS {
                        return Err(AudioError::Corrupt { what: self.what.clone(), reason: m.to_string() });
                    }
                }
                Err(e) => return Err(sym_error(e, &self.what)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_wav(path: &Path, spec: hound::WavSpec, frames: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..frames {
            let v = (i as f32 * 0.05).sin() * 0.5;
            for _ in 0..spec.channels {
                match spec.sample_format {
                    hound::SampleFormat::Float => w.write_sample(v).unwrap(),
                    hound::SampleFormat::Int => {
                        let max = ((1i64 << (spec.bits_per_sample - 1)) - 1) as f32;
                        w.write_sample((v * max) as i32).unwrap()
                    }
                }
            }
        }
        w.finalize().unwrap();
    }

    fn read_all(src: &mut dyn Source) -> Result<Vec<f32>, AudioError> {
        let mut all = Vec::new();
        while let Some(chunk) = src.next_chunk()? {
            all.extend(chunk);
        }
        Ok(all)
    }

    #[test]
    fn raw_format_parses_and_explains() {
        let f: RawFormat = "s16le:16000:1".parse().unwrap();
        assert_eq!(f, RawFormat { sample: RawSample::S16Le, rate: 16000, channels: 1 });
        assert_eq!("MULAW:8000".parse::<RawFormat>().unwrap().channels, 1);
        assert_eq!(f.to_string(), "s16le:16000:1");
        let err = "s16:16000".parse::<RawFormat>().unwrap_err();
        assert!(err.contains("s16le:16000:1") && err.contains("alaw"), "{err}");
        assert!("s16le:abc:1".parse::<RawFormat>().is_err());
        assert!("s16le:16000:0".parse::<RawFormat>().is_err());
        assert_eq!(Input::from("-"), Input::Stdin);
    }

    #[test]
    fn wav_widths_and_channels() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, fmt, ch) in [
            (8, hound::SampleFormat::Int, 1),
            (16, hound::SampleFormat::Int, 2),
            (24, hound::SampleFormat::Int, 1),
            (32, hound::SampleFormat::Int, 3),
            (32, hound::SampleFormat::Float, 2),
        ] {
            let path = dir.path().join(format!("t{bits}{ch}.wav"));
            let spec = hound::WavSpec { channels: ch, sample_rate: 22050, bits_per_sample: bits, sample_format: fmt };
            write_wav(&path, spec, 10_000);
            let mut src = open(&Input::Path(path), None).unwrap();
            assert_eq!((src.sample_rate(), src.channels_in()), (22050, ch));
            assert!(src.describe().starts_with("WAV, 22050 Hz"), "{}", src.describe());
            let d = src.duration().unwrap().as_secs_f64();
            assert!((d - 10_000.0 / 22050.0).abs() < 1e-6);
            let all = read_all(src.as_mut()).unwrap();
            assert_eq!(all.len(), 10_000);
            let expect = (100.0f32 * 0.05).sin() * 0.5;
            assert!((all[100] - expect).abs() < 0.015, "{bits}-bit: {} vs {expect}", all[100]);
        }
    }

    /// Chunks after the sample data (tags editors append) are not played.
    #[test]
    fn a_chunk_after_the_data_is_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tagged.wav");
        let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        write_wav(&path, spec, 1000);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"LIST\x0c\0\0\0INFOISFT\0\0\0\0").unwrap();
        let mut src = open(&Input::Path(path), None).unwrap();
        assert_eq!(read_all(src.as_mut()).unwrap().len(), 1000);
    }

    #[test]
    fn raw_file_and_empty_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("a.raw");
        let bytes: Vec<u8> = [1000i16, -1000, 2000, -2000].iter().flat_map(|s| s.to_be_bytes()).collect();
        std::fs::write(&raw, &bytes).unwrap();
        let fmt = RawFormat { sample: RawSample::S16Be, rate: 8000, channels: 2 };
        let mut src = open(&Input::Path(raw.clone()), Some(fmt)).unwrap();
        assert_eq!(read_all(src.as_mut()).unwrap(), vec![0.0, 0.0]);

        let empty = dir.path().join("empty.wav");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(open(&Input::Path(empty.clone()), None), Err(AudioError::Empty { .. })));
        assert!(matches!(open(&Input::Path(empty), Some(fmt)), Err(AudioError::Empty { .. })));
        // A file with a header is not raw: refused, not played as noise.
        let wav = dir.path().join("tone.wav");
        write_wav(
            &wav,
            hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int },
            800,
        );
        let err = open(&Input::Path(wav.clone()), Some(fmt)).err().expect("refused");
        assert!(matches!(err, AudioError::HasHeader { format: "WAV", .. }), "{err}");
        assert!(err.to_string().contains("drop --raw-format"), "{err}");
        let bytes: Arc<[u8]> = std::fs::read(&wav).unwrap().into();
        let memory = Input::Memory { what: "stdin".into(), bytes };
        assert!(matches!(open(&memory, Some(fmt)), Err(AudioError::HasHeader { .. })));
        let silent = dir.path().join("zero.wav");
        write_wav(
            &silent,
            hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int },
            0,
        );
        assert!(matches!(open(&Input::Path(silent), None), Err(AudioError::Empty { .. })));
        assert!(matches!(open(&Input::Path(dir.path().join("missing.wav")), None), Err(AudioError::Open { .. })));
    }

    #[test]
    fn streamed_wav_with_placeholder_sizes() {
        // As ffmpeg writes to a pipe: RIFF and data sizes 0xFFFFFFFF, a LIST chunk in between.
        let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0".to_vec();
        wav.extend_from_slice(b"LIST\x06\0\0\0INFOxydata\xff\xff\xff\xff");
        for s in [0i16, 16384, -16384, 8192] {
            wav.extend_from_slice(&s.to_le_bytes());
        }
        wav.push(0x12); // half a sample: the cut-off end
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe.wav");
        std::fs::write(&path, &wav).unwrap();
        let mut src = open(&Input::Path(path), None).unwrap();
        assert_eq!(src.duration(), None);
        assert_eq!(read_all(src.as_mut()).unwrap(), vec![0.0, 0.5, -0.5, 0.25]);

        let truncated = dir.path().join("cut.wav");
        std::fs::write(&truncated, &wav[..30]).unwrap();
        assert!(matches!(open(&Input::Path(truncated), None), Err(AudioError::Corrupt { .. })));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.wav");
        write_wav(
            &good,
            hound::WavSpec { channels: 2, sample_rate: 16000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int },
            4000,
        );
        let bytes = std::fs::read(&good).unwrap();
        let mut seed = 0x9E37_79B9u32;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for case in 0..60 {
            let mut data = match case % 3 {
                0 => bytes[..(rand() as usize % bytes.len())].to_vec(),
                1 => (0..rand() % 5000).map(|_| rand() as u8).collect(),
                _ => {
                    let mut d = bytes.clone();
                    for _ in 0..8 {
                        let i = rand() as usize % 60.min(d.len());
                        d[i] = rand() as u8;
                    }
                    d
                }
            };
            if case == 1 {
                data = b"ID3\x04\0\0\0\0\0\x10garbage".to_vec();
            }
            let path = dir.path().join(format!("f{case}.mp3"));
            std::fs::File::create(&path).unwrap().write_all(&data).unwrap();
            if let Ok(mut src) = open(&Input::Path(path), None) {
                let _ = read_all(src.as_mut());
            }
        }
    }
}
