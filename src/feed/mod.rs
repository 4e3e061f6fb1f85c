//! Audio in, encoded frames out. A source (a file or stdin decoded on its own thread, or the
//! microphone captured on its own) sends mono PCM; the [`Feed`] shapes it once per codec rate
//! (resample, gain, limiter) and encodes it once per distinct codec, rate and bitrate: one
//! [`Track`] per encoding, however many devices receive it. Silence that bridges a gap in the
//! source comes from the track's own encoder, so stateful codecs (G.726, AAC, Opus) stay in step.
//!
//! When frames are due is not decided here: `session::clock` pulls them on one schedule.

pub mod file;
pub mod mic;

use crate::audio::decode::AudioError;
use crate::audio::echo::Playout;
use crate::audio::shape::Shaper;
use crate::codec::{self, CodecParams, Encoder};
use crate::outcome::Ending;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A piece of mono PCM from a source, and when its first sample was captured (live sources).
pub struct Chunk {
    pub samples: Vec<f32>,
    pub captured: Option<Instant>,
}

/// What a source thread sends. A source ends with `End` or `Failed`; a channel that closes
/// without either means the thread died.
pub enum SourceItem {
    Chunk(Chunk),
    End,
    Failed(Ending),
}

/// How a source behaves in time, which decides what the clock does when it falls behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// A file: decoded faster than real time. The clock waits for it; nothing is dropped.
    File,
    /// A pipe (stdin): may pause. A gap is bridged with silence; nothing is dropped.
    Pipe,
    /// A live capture: the source is the clock. A gap is bridged with silence; a backlog (a
    /// capture clock a little faster than ours) is dropped, oldest first.
    Live,
}

/// A running source: its PCM and what it is.
pub struct Source {
    pub rx: mpsc::Receiver<SourceItem>,
    /// Sample rate of the PCM.
    pub rate: u32,
    pub pace: Pace,
    /// Length, when the source knows it up front.
    pub duration: Option<Duration>,
    /// Told when the audio plays at the device (the device echo canceller's reference).
    pub playout: Option<Arc<Playout>>,
}

/// One encoded frame, shared by every session its track feeds.
#[derive(Debug)]
pub struct Frame {
    /// Exactly the bytes for the audioData socket (empty during an encoder's start-up delay).
    pub bytes: Vec<u8>,
    /// When its first sample was captured (live sources).
    pub captured: Option<Instant>,
    /// Silence bridging a gap in the source.
    pub silence: bool,
}

/// What a track has next.
pub enum Next {
    Frame(Frame),
    /// Not enough PCM yet.
    Wait,
    /// The source ended and the last frame (and the encoder's tail) is out.
    End,
    Failed(Ending),
}

/// Which track of a feed (an index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackId(usize);

/// One encoding of the feed.
struct Track {
    params: CodecParams,
    encoder: Box<dyn Encoder>,
    frame_samples: usize,
    /// Shaped PCM waiting to be framed.
    pcm: VecDeque<i16>,
    /// Samples (at the track's rate) taken from `pcm` so far, dropped ones included.
    position: u64,
    /// Frames encoded from real audio, and encode calls that produced bytes (an encoder may
    /// hold back its first frames).
    frames_in: u64,
    frames_out: u64,
    /// Encode calls left to flush the encoder's delay once the source has ended.
    tail: Option<u64>,
    /// Where on the source's timeline (in source samples) this track's position 0 is.
    origin: u64,
}

/// A source shaped and encoded for every codec that asks for it.
pub struct Feed {
    source: Source,
    gain_db: f32,
    /// One shaper per output rate, with the tracks it feeds.
    shapers: Vec<(u32, Shaper, Vec<usize>)>,
    tracks: Vec<Track>,
    /// Source samples received so far.
    received: u64,
    /// Capture times of source positions (live sources), for latency stamps.
    stamps: VecDeque<(u64, Instant)>,
    /// The source is done: `Ok` at its end, `Err` when it failed.
    finished: Option<Result<(), Ending>>,
    scratch: Vec<i16>,
}

/// Capture stamps kept (a few seconds of chunks).
const MAX_STAMPS: usize = 1024;

impl Feed {
    pub fn new(source: Source, gain_db: f32) -> Feed {
        Feed {
            source,
            gain_db,
            shapers: Vec::new(),
            tracks: Vec::new(),
            received: 0,
            stamps: VecDeque::new(),
            finished: None,
            scratch: Vec::new(),
        }
    }

    pub fn pace(&self) -> Pace {
        self.source.pace
    }

    /// Who wants to know when the source's audio plays at the device.
    pub fn playout(&self) -> Option<&Playout> {
        self.source.playout.as_deref()
    }

    /// The track for `params`, built on first use (so the encoder is built once per stream).
    /// A new track starts at the source's current position.
    pub fn track(&mut self, params: CodecParams) -> Result<TrackId, Ending> {
        if let Some(i) = self.tracks.iter().position(|t| t.params == params) {
            return Ok(TrackId(i));
        }
        let encoder =
            codec::encoder(params).map_err(|e| Ending::Codec { detail: format!("{e}; choose another with --codec or --set-codec") })?;
        let index = self.tracks.len();
        let live = self.source.pace == Pace::Live;
        let shaper = match self.shapers.iter().position(|(rate, ..)| *rate == params.sample_rate) {
            Some(s) => s,
            None => {
                let shaper = Shaper::new(self.source.rate, params.sample_rate, self.gain_db, live)
                    .map_err(|e| Ending::Input { detail: e.to_string() })?;
                self.shapers.push((params.sample_rate, shaper, Vec::new()));
                self.shapers.len() - 1
            }
        };
        self.shapers[shaper].2.push(index);
        self.tracks.push(Track {
            params,
            frame_samples: if live { encoder.live_frame_samples() } else { encoder.frame_samples() },
            encoder,
            pcm: VecDeque::new(),
            position: 0,
            frames_in: 0,
            frames_out: 0,
            tail: None,
            origin: self.received,
        });
        Ok(TrackId(index))
    }

    /// Duration of one frame of `id`.
    pub fn frame_duration(&self, id: TrackId) -> Duration {
        let t = &self.tracks[id.0];
        Duration::from_secs_f64(t.frame_samples as f64 / f64::from(t.params.sample_rate))
    }

    /// The next item from the source; `None` once it has finished (or died).
    pub async fn recv(&mut self) -> Option<SourceItem> {
        if self.finished.is_some() {
            return None;
        }
        Some(self.source.rx.recv().await.unwrap_or_else(source_died))
    }

    pub fn finished(&self) -> bool {
        self.finished.is_some()
    }

    /// Takes one source item: its PCM goes through every shaper into every track.
    pub fn push(&mut self, item: SourceItem) {
        match item {
            SourceItem::Chunk(chunk) => {
                if let Some(at) = chunk.captured {
                    self.stamps.push_back((self.received, at));
                    if self.stamps.len() > MAX_STAMPS {
                        self.stamps.pop_front();
                    }
                }
                self.received += chunk.samples.len() as u64;
                if let Err(e) = self.shape(|s, out| s.push(&chunk.samples, out)) {
                    self.finished = Some(Err(Ending::Input { detail: e.to_string() }));
                }
            }
            SourceItem::End => {
                let flushed = self.shape(|s, out| s.finish(out));
                self.finished = Some(flushed.map_err(|e| Ending::Input { detail: e.to_string() }));
            }
            SourceItem::Failed(e) => self.finished = Some(Err(e)),
        }
    }

    fn shape(&mut self, mut f: impl FnMut(&mut Shaper, &mut Vec<i16>) -> Result<(), AudioError>) -> Result<(), AudioError> {
        let mut out = std::mem::take(&mut self.scratch);
        let mut result = Ok(());
        for (_, shaper, tracks) in &mut self.shapers {
            out.clear();
            result = result.and(f(shaper, &mut out));
            for &t in tracks.iter() {
                self.tracks[t].pcm.extend(out.iter().copied());
            }
        }
        self.scratch = out;
        result
    }

    /// Audio of `id` shaped but not yet framed.
    pub fn buffered(&self, id: TrackId) -> Duration {
        let t = &self.tracks[id.0];
        Duration::from_secs_f64(t.pcm.len() as f64 / f64::from(t.params.sample_rate))
    }

    /// Drops the oldest PCM of `id` beyond `keep` (a live backlog, or a track nobody hears);
    /// returns how many frames' worth went.
    pub fn drop_backlog(&mut self, id: TrackId, keep: Duration) -> u64 {
        let t = &mut self.tracks[id.0];
        let keep = (keep.as_secs_f64() * f64::from(t.params.sample_rate)) as usize;
        let excess = t.pcm.len().saturating_sub(keep);
        let frames = excess / t.frame_samples;
        let drop = frames * t.frame_samples;
        t.pcm.drain(..drop);
        t.position += drop as u64;
        frames as u64
    }

    /// Drops up to `frames` of the oldest whole frames of `id`; returns how many went.
    pub fn drop_frames(&mut self, id: TrackId, frames: u64) -> u64 {
        let t = &mut self.tracks[id.0];
        let frames = frames.min((t.pcm.len() / t.frame_samples) as u64);
        let drop = frames as usize * t.frame_samples;
        t.pcm.drain(..drop);
        t.position += drop as u64;
        frames
    }

    /// The next frame of `id`, if its audio is there. At the end of the source: the last
    /// partial frame padded with silence, then silence until the encoder's delayed tail is out.
    pub fn next_frame(&mut self, id: TrackId) -> Next {
        let captured = self.stamp(id);
        let t = &mut self.tracks[id.0];
        if t.pcm.len() >= t.frame_samples {
            let pcm: Vec<i16> = t.pcm.drain(..t.frame_samples).collect();
            t.frames_in += 1;
            return t.encode(&pcm, captured, false);
        }
        match &self.finished {
            None => Next::Wait,
            Some(Err(e)) => Next::Failed(e.clone()),
            Some(Ok(())) => {
                if !t.pcm.is_empty() {
                    let mut pcm: Vec<i16> = t.pcm.drain(..).collect();
                    pcm.resize(t.frame_samples, 0);
                    t.frames_in += 1;
                    return t.encode(&pcm, captured, false);
                }
                let tail = *t.tail.get_or_insert_with(|| {
                    // Bounded: an encoder that never emits must not keep the stream alive.
                    t.encoder.delay().div_ceil(t.frame_samples) as u64 + 8
                });
                let target = t.frames_in + t.encoder.delay().div_ceil(t.frame_samples) as u64;
                if tail == 0 || t.frames_out >= target {
                    return Next::End;
                }
                t.tail = Some(tail - 1);
                t.encode(&vec![0; t.frame_samples], None, true)
            }
        }
    }

    /// One frame of silence through `id`'s own encoder, for a gap in the source.
    pub fn silence(&mut self, id: TrackId) -> Next {
        let t = &mut self.tracks[id.0];
        t.encode(&vec![0; t.frame_samples], None, true)
    }

    /// Capture time of the next sample `id` frames, from the source's stamps.
    fn stamp(&self, id: TrackId) -> Option<Instant> {
        let t = &self.tracks[id.0];
        let at = t.origin + t.position * u64::from(self.source.rate) / u64::from(t.params.sample_rate);
        let i = self.stamps.partition_point(|&(pos, _)| pos <= at).checked_sub(1)?;
        let (pos, when) = self.stamps[i];
        Some(when + Duration::from_secs_f64((at - pos) as f64 / f64::from(self.source.rate)))
    }
}

impl Track {
    fn encode(&mut self, pcm: &[i16], captured: Option<Instant>, silence: bool) -> Next {
        let mut bytes = Vec::new();
        if let Err(e) = self.encoder.encode(pcm, &mut bytes) {
            return Next::Failed(Ending::Codec { detail: e.to_string() });
        }
        // Silence bridges a gap; it takes nothing from the source's timeline.
        if !silence {
            self.position += pcm.len() as u64;
        }
        self.frames_out += u64::from(!bytes.is_empty());
        Next::Frame(Frame { bytes, captured, silence })
    }
}

fn source_died() -> SourceItem {
    let detail = match crate::outcome::take_panic() {
        Some(panic) => format!("the audio input stopped unexpectedly: {panic}"),
        None => "the audio input stopped unexpectedly".to_string(),
    };
    SourceItem::Failed(Ending::Internal { detail })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;

    fn feed(pace: Pace, rate: u32) -> (Feed, mpsc::Sender<SourceItem>) {
        let (tx, rx) = mpsc::channel(64);
        (Feed::new(Source { rx, rate, pace, duration: None, playout: None }, 0.0), tx)
    }

    fn drain(feed: &mut Feed, id: TrackId) -> (Vec<Frame>, bool) {
        let mut frames = Vec::new();
        loop {
            match feed.next_frame(id) {
                Next::Frame(f) => frames.push(f),
                Next::Wait => return (frames, false),
                Next::End => return (frames, true),
                Next::Failed(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn frames_cover_the_input_and_the_tail_is_padded() {
        let (mut feed, _tx) = feed(Pace::File, 48000);
        let id = feed.track(CodecParams::new(Codec::G711Ulaw)).unwrap();
        assert_eq!(feed.frame_duration(id), Duration::from_millis(20));
        // 1.01 s at 48 kHz -> 8080 samples at 8 kHz -> 50.5 frames -> 51 after padding.
        for chunk in vec![0.1f32; 48480].chunks(1000) {
            feed.push(SourceItem::Chunk(Chunk { samples: chunk.to_vec(), captured: None }));
        }
        let (frames, ended) = drain(&mut feed, id);
        assert!(!ended && frames.len() >= 49);
        feed.push(SourceItem::End);
        let (rest, ended) = drain(&mut feed, id);
        assert!(ended);
        assert_eq!(frames.len() + rest.len(), 51);
        assert!(frames.iter().chain(&rest).all(|f| f.bytes.len() == 160));
        assert_eq!(feed.silence(id).frame().bytes, vec![0xFF; 160]);
    }

    #[test]
    fn one_track_per_encoding_and_one_shaper_per_rate() {
        let (mut feed, _tx) = feed(Pace::File, 48000);
        let a = feed.track(CodecParams::new(Codec::G711Ulaw)).unwrap();
        let b = feed.track(CodecParams::new(Codec::G711Alaw)).unwrap();
        assert_eq!(feed.track(CodecParams::new(Codec::G711Ulaw)).unwrap(), a);
        assert_ne!(a, b);
        assert_eq!(feed.shapers.len(), 1);
        feed.push(SourceItem::Chunk(Chunk { samples: vec![0.2; 9600], captured: None }));
        assert_eq!(feed.buffered(a), feed.buffered(b));
    }

    #[test]
    fn the_last_moments_of_input_reach_the_wire_for_every_codec() {
        // Silence, then a 10 ms burst at the very end: only a complete flush (resampler tail,
        // partial frame, codec delay) gets it to the decoder.
        let mut input = vec![0.0f32; 48000];
        for (i, x) in input[47520..].iter_mut().enumerate() {
            *x = (i as f32 * std::f32::consts::TAU * 1000.0 / 48000.0).sin() * 0.5;
        }
        for c in Codec::ALL {
            let params = CodecParams::new(c);
            let (mut feed, _tx) = feed(Pace::File, 48000);
            let id = feed.track(params).unwrap();
            feed.push(SourceItem::Chunk(Chunk { samples: input.clone(), captured: None }));
            feed.push(SourceItem::End);
            let (frames, ended) = drain(&mut feed, id);
            assert!(ended, "{c}");
            let wire: Vec<u8> = frames.iter().flat_map(|f| f.bytes.clone()).collect();
            let mut pcm = Vec::new();
            codec::decoder(params).unwrap().decode(&wire, &mut pcm).unwrap();
            let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(peak > 8000, "{c}: the final burst is missing (peak {peak})");
        }
    }

    #[test]
    fn a_live_backlog_is_dropped_oldest_first_and_stamps_follow() {
        let (mut feed, _tx) = feed(Pace::Live, 8000);
        let id = feed.track(CodecParams::new(Codec::G711Ulaw)).unwrap();
        let t0 = Instant::now();
        for i in 0..10u32 {
            let samples = vec![i as f32 / 100.0; 160];
            feed.push(SourceItem::Chunk(Chunk { samples, captured: Some(t0 + Duration::from_millis(u64::from(i) * 20)) }));
        }
        // 200 ms queued in 10 ms frames (live G.711), 60 ms kept.
        assert_eq!(feed.frame_duration(id), Duration::from_millis(10));
        assert_eq!(feed.drop_backlog(id, Duration::from_millis(60)), 14);
        let Next::Frame(f) = feed.next_frame(id) else { panic!("a frame") };
        assert_eq!(f.captured, Some(t0 + Duration::from_millis(140)), "the frame after the dropped ones");
    }

    #[test]
    fn a_source_that_dies_is_an_internal_error() {
        let (mut feed, tx) = feed(Pace::File, 8000);
        let id = feed.track(CodecParams::new(Codec::G711Ulaw)).unwrap();
        drop(tx);
        let item = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(feed.recv()).unwrap();
        feed.push(item);
        assert!(matches!(feed.next_frame(id), Next::Failed(Ending::Internal { .. })));
    }

    impl Next {
        fn frame(self) -> Frame {
            match self {
                Next::Frame(f) => f,
                _ => panic!("not a frame"),
            }
        }
    }
}
