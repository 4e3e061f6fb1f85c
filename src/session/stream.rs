//! One session's stream: whatever its outlet delivers goes on the upload at once, until the
//! source ends (then the device is given the time to play what it holds), the user stops, or
//! the device ends the upload. Generic over [`Uplink`] so the rules can be tested against a
//! scripted upload.

use super::Stop;
use super::clock::{Delivery, GRACE_FRAMES, Outlet};
use crate::isapi::{SendError, Upload, UploadEnd};
use crate::outcome::Ending;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// A frame whose play time is more than this many frames in the past is skipped: after the
/// device stopped reading for a while, sending what it should have played already would only
/// shift (and then overflow) its buffer. Live frames and silence may be up to the clock's grace
/// late by design.
const LATE_FRAMES: u32 = GRACE_FRAMES + 2;
/// A device hang-up after this long without audio from us is reported as an idle timeout
/// (devices wait 3-10 s; hiktalk itself never leaves a gap of more than a few frames).
const IDLE_HINT: Duration = Duration::from_secs(1);

/// Where a session's audio goes: the audioData upload, or a script in tests.
pub trait Uplink {
    /// Writes encoded audio; fails when the device ended the upload or stopped reading.
    fn send(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), SendError>>;
    /// Resolves when the device ends the upload. Cancel-safe.
    fn ended(&mut self) -> impl Future<Output = UploadEnd>;
}

impl Uplink for Upload {
    fn send(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), SendError>> {
        Upload::send(self, bytes)
    }
    fn ended(&mut self) -> impl Future<Output = UploadEnd> {
        Upload::ended(self)
    }
}

/// Counters a progress bar or level meter reads while the stream runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub audio_ms: AtomicU64,
    pub bytes: AtomicU64,
}

/// What one stream did.
#[derive(Debug, Default, Clone)]
pub struct Streamed {
    /// Audio handed to the device.
    pub audio: Duration,
    pub bytes: u64,
    /// Frames of silence that bridged gaps in the source.
    pub silence_frames: u64,
    /// Frames this device never got (it fell behind, or a live backlog was cut).
    pub dropped: u64,
    /// Frames' worth of time the device had nothing to play: audio that came after it had
    /// played all it was given (an underrun the device heard as a gap).
    pub late: u64,
    /// How far ahead of real time the device was given audio, at most.
    pub max_ahead: Duration,
    /// Capture-to-socket latency of live frames: count, sum, maximum.
    pub latency: (u64, Duration, Duration),
}

/// Streams until the end; returns why it ended.
pub async fn stream<U: Uplink>(
    uplink: &mut U,
    outlet: &mut Outlet,
    stop: &Stop,
    progress: Option<&Progress>,
    done: &mut Streamed,
) -> Ending {
    let mut last_sent = Instant::now();
    // When the device will have played everything written so far.
    let mut playing_until: Option<Instant> = None;
    // A delivery taken while gathering frames that is not a frame: handled next.
    let mut pending: Option<Delivery> = None;
    let mut frames = Vec::new();
    let mut bytes = Vec::new();
    loop {
        let delivery = match pending.take() {
            Some(d) => d,
            None => tokio::select! {
                biased;
                s = stop.wait() => return Ending::UserStop { signal: s.to_string() },
                end = uplink.ended() => return hangup(end, last_sent),
                d = outlet.recv() => d,
            },
        };
        match delivery {
            Delivery::Frame(frame, play_at) => frames.push((frame, play_at)),
            Delivery::End { played_out } => {
                // Let the device play what it holds before the close.
                return tokio::select! {
                    biased;
                    s = stop.wait() => Ending::UserStop { signal: s.to_string() },
                    end = uplink.ended() => hangup(end, last_sent),
                    _ = sleep_until(played_out) => Ending::EndOfInput,
                };
            }
            Delivery::Failed(e) => return e,
        }
        // Frames the clock handed over together go in one write: one system call, not one per
        // frame.
        while let Some(d) = outlet.try_recv() {
            match d {
                Delivery::Frame(frame, play_at) => frames.push((frame, play_at)),
                other => {
                    pending = Some(other);
                    break;
                }
            }
        }
        let written_at = Instant::now();
        let before = frames.len();
        frames.retain(|(_, play_at)| *play_at + outlet.frame * (LATE_FRAMES + 1) >= written_at);
        done.dropped += (before - frames.len()) as u64;
        let Some((_, last_play_at)) = frames.last() else { continue };
        let last_play_at = *last_play_at;
        bytes.clear();
        for (frame, _) in &frames {
            bytes.extend_from_slice(&frame.bytes);
        }
        let sent = tokio::select! {
            biased;
            s = stop.wait() => return Ending::UserStop { signal: s.to_string() },
            r = uplink.send(&bytes) => r,
        };
        match sent {
            Ok(()) => {
                let now = Instant::now();
                last_sent = now;
                done.audio += outlet.frame * frames.len() as u32;
                done.bytes += bytes.len() as u64;
                done.max_ahead = done.max_ahead.max((last_play_at + outlet.frame).saturating_duration_since(now));
                // A device plays what it got back to back from the first write on: a write that
                // comes after all that was played found it silent, for this many frames.
                let gap = playing_until.map_or(Duration::ZERO, |until| written_at.saturating_duration_since(until));
                done.late += gap.as_nanos().div_ceil(outlet.frame.as_nanos().max(1)) as u64;
                playing_until = Some(playing_until.unwrap_or(written_at).max(written_at) + outlet.frame * frames.len() as u32);
                for (frame, _) in &frames {
                    done.silence_frames += u64::from(frame.silence);
                    if let Some(at) = frame.captured {
                        let l = at.elapsed();
                        done.latency = (done.latency.0 + 1, done.latency.1 + l, done.latency.2.max(l));
                    }
                }
                if let Some(p) = progress {
                    p.audio_ms.fetch_add(outlet.frame.as_millis() as u64 * frames.len() as u64, Ordering::Relaxed);
                    p.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                frames.clear();
            }
            Err(SendError::Stalled { after }) => return Ending::stalled(after),
            Err(SendError::Ended(end)) => return hangup(end, last_sent),
        }
    }
}

/// What a device's end of the upload means: a hang-up (idle when it said so or we had been
/// quiet), or a reset.
fn hangup(end: UploadEnd, last_sent: Instant) -> Ending {
    match end {
        UploadEnd::Closed { status } => {
            let said_idle = status.as_ref().is_some_and(|s| {
                let words = format!("{} {} {:?} {:?}", s.status_string, s.sub_status_code, s.error_msg, s.description).to_ascii_lowercase();
                words.contains("idle") || words.contains("timeout")
            });
            Ending::hangup(status, said_idle || last_sent.elapsed() >= IDLE_HINT)
        }
        UploadEnd::Reset { detail } => Ending::ConnectionReset { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, CodecParams};
    use crate::feed::{Chunk, Feed, Pace, Source, SourceItem};
    use crate::session::clock::Clock;
    use tokio::sync::mpsc;

    /// An upload that records what it was sent and ends (or stalls) when told.
    #[derive(Default)]
    struct Script {
        sent: Vec<(Instant, usize)>,
        /// Ends the upload after this many writes.
        hang_up_after: Option<usize>,
        /// Every write blocks this long and then reports a stall.
        stall: Option<Duration>,
    }

    impl Uplink for Script {
        async fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
            if let Some(after) = self.stall {
                tokio::time::sleep(after).await;
                return Err(SendError::Stalled { after });
            }
            self.sent.push((Instant::now(), bytes.len()));
            Ok(())
        }
        async fn ended(&mut self) -> UploadEnd {
            match self.hang_up_after {
                Some(n) if self.sent.len() >= n => UploadEnd::Closed { status: None },
                _ => std::future::pending().await,
            }
        }
    }

    /// A clock over `secs` of a tone at 8 kHz, fed by a task (`gap`: the source pauses then).
    fn clock(secs: f64, pace: Pace, gap: Option<(f64, f64)>) -> Clock {
        batched_clock(secs, pace, gap, Duration::ZERO)
    }

    fn batched_clock(secs: f64, pace: Pace, gap: Option<(f64, f64)>, batch: Duration) -> Clock {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let chunks = (secs * 10.0) as usize;
            for i in 0..chunks {
                if gap.is_some_and(|(at, _)| (i as f64 / 10.0 - at).abs() < 1e-9) {
                    tokio::time::sleep(Duration::from_secs_f64(gap.unwrap().1)).await;
                }
                let samples = (0..800).map(|k| (((i * 800 + k) as f32) * 0.3).sin() * 0.3).collect();
                if tx.send(SourceItem::Chunk(Chunk { samples, captured: None })).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(SourceItem::End).await;
        });
        let lead = Duration::from_millis(100);
        Clock::start(Feed::new(Source { rx, rate: 8000, pace, duration: None, playout: None }, 0.0), lead, batch)
    }

    async fn run(script: &mut Script, clock: &Clock, stop: &Stop) -> (Ending, Streamed) {
        let mut outlet = clock.attach(CodecParams::new(Codec::G711Ulaw)).await.unwrap();
        let mut done = Streamed::default();
        let ending = stream(script, &mut outlet, stop, None, &mut done).await;
        (ending, done)
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_is_paced_and_drained_before_the_end() {
        let (mut script, stop) = (Script::default(), Stop::manual());
        let t0 = Instant::now();
        let (ending, done) = run(&mut script, &clock(2.0, Pace::File, None), &stop).await;
        assert!(matches!(ending, Ending::EndOfInput), "{ending:?}");
        // 100 frames of 160 bytes; the lead's frames, handed over at once, went in one write.
        assert_eq!(script.sent.iter().map(|s| s.1).sum::<usize>(), 100 * 160);
        assert!(script.sent.len() < 100 && script.sent[0].1 > 160, "{:?}", &script.sent[..3]);
        assert_eq!(done.audio, Duration::from_secs(2));
        // Never more than the lead plus a frame ahead; the end waits until it was all played.
        assert!(done.max_ahead <= Duration::from_millis(120), "{:?}", done.max_ahead);
        assert_eq!(done.late, 0, "the device never ran out of audio");
        let last = script.sent.last().unwrap().0 - t0;
        assert!(last >= Duration::from_millis(1880) && last <= Duration::from_millis(1890), "last frame at {last:?}");
        assert!(t0.elapsed() >= Duration::from_secs(2), "ended before the device played it all");
    }

    /// With a batch, the clock wakes for a due frame and also sends those due within the batch:
    /// one write per 60 ms (three 20 ms frames) instead of one per frame, never further ahead
    /// than the lead, the batch and a frame.
    #[tokio::test(start_paused = true)]
    async fn a_batch_sends_frames_together_within_its_bound() {
        let (mut script, stop) = (Script::default(), Stop::manual());
        let clock = batched_clock(2.0, Pace::File, None, Duration::from_millis(40));
        let (ending, done) = run(&mut script, &clock, &stop).await;
        assert!(matches!(ending, Ending::EndOfInput), "{ending:?}");
        assert_eq!(done.audio, Duration::from_secs(2));
        let writes = script.sent.len();
        assert!((30..=33).contains(&writes), "{writes} writes for 100 frames");
        assert!(script.sent[1..].iter().all(|s| s.1 == 3 * 160 || s == script.sent.last().unwrap()), "{:?}", script.sent);
        assert!(done.max_ahead <= Duration::from_millis(160), "{:?}", done.max_ahead);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pipe_that_pauses_gets_silence_from_the_schedule_not_a_gap() {
        let (mut script, stop) = (Script::default(), Stop::manual());
        // The pipe writes half a second, pauses 3 s, then writes the rest.
        let (ending, done) = run(&mut script, &clock(2.0, Pace::Pipe, Some((0.5, 3.0))), &stop).await;
        assert!(matches!(ending, Ending::EndOfInput), "{ending:?}");
        // The pause, less the half second already decoded, is bridged with silence after the grace.
        assert!((115..=128).contains(&done.silence_frames), "{} silence frames", done.silence_frames);
        assert_eq!(done.audio, Duration::from_secs(2) + Duration::from_millis(20) * done.silence_frames as u32, "{done:?}");
        // What a device would hear: one underrun of at most the grace when the pipe paused.
        let frame = Duration::from_millis(20);
        let (mut playing_until, mut underrun) = (script.sent[0].0, Duration::ZERO);
        for &(at, bytes) in &script.sent {
            underrun += at.saturating_duration_since(playing_until);
            playing_until = playing_until.max(at) + frame * (bytes / 160) as u32;
        }
        assert!(underrun <= frame * GRACE, "the device would have heard {underrun:?} of gaps");
        // That gap is counted, in frames.
        assert!(done.late > 0 && done.late <= u64::from(GRACE) + 1, "{} late frames", done.late);
    }

    const GRACE: u32 = super::super::clock::GRACE_FRAMES;

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_stream_and_a_hang_up_says_idle_only_after_quiet() {
        let stop = Stop::manual();
        let clock = clock(60.0, Pace::File, None);
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            s.trigger("SIGTERM");
        });
        let (ending, _) = run(&mut Script::default(), &clock, &stop).await;
        assert!(matches!(ending, Ending::UserStop { ref signal } if signal == "SIGTERM"), "{ending:?}");

        let mut script = Script { hang_up_after: Some(10), ..Script::default() };
        let (ending, _) = run(&mut script, &clock, &Stop::manual()).await;
        assert!(matches!(ending, Ending::DeviceHangup { idle: false, .. }), "{ending:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_device_ends_the_stream_as_stalled() {
        let mut script = Script { stall: Some(Duration::from_secs(5)), ..Script::default() };
        let (ending, _) = run(&mut script, &clock(60.0, Pace::File, None), &Stop::manual()).await;
        assert!(matches!(ending, Ending::Stalled { after_secs } if after_secs == 5.0), "{ending:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_failure_ends_the_stream_with_its_reason() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(SourceItem::Chunk(Chunk { samples: vec![0.1; 1600], captured: None })).await.unwrap();
        tx.send(SourceItem::Failed(Ending::Input { detail: "disk gone".into() })).await.unwrap();
        let clock = Clock::start(
            Feed::new(Source { rx, rate: 8000, pace: Pace::File, duration: None, playout: None }, 0.0),
            Duration::ZERO,
            Duration::ZERO,
        );
        let mut script = Script::default();
        let (ending, _) = run(&mut script, &clock, &Stop::manual()).await;
        assert!(matches!(ending, Ending::Input { ref detail } if detail == "disk gone"), "{ending:?}");
        assert_eq!(script.sent.len(), 10, "the audio before the failure is still sent");
    }
}
