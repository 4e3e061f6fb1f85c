//! The shared clock: one task that pulls frames from the feed on one schedule and hands each
//! frame to every session of its track at the same moment. Sessions attach an [`Outlet`] when
//! their upload starts and write what arrives at once; the pacing is all here.
//!
//! Frame n of a track is due at `start + n * frame - lead` (an absolute schedule: a late
//! wake-up never shifts later frames). When the source has no audio for a due frame:
//! - a file is waited for (its decoder is ahead of real time; a stall is only a delay);
//! - a pipe is waited for until the device has played everything sent plus [`GRACE_FRAMES`],
//!   then the slot is filled with silence from the track's own encoder, so the device never
//!   hangs up for lack of audio;
//! - a microphone is waited for until the device is two frames from running dry, then the slot is
//!   filled with silence: the device never starves (a live source has the no-gap guarantee a
//!   file has).
//!
//! A live source is just in time: each frame leaves as its audio completes, so the device would
//! hold almost nothing and any jitter would be a gap. When a live lane (re)starts it first sends
//! `lead` of silence, the cushion the device then keeps. The cushion adapts to the jitter seen:
//! audio that comes after silence stood in for it grows the lead by what came late (up to
//! [`LIVE_LEAD_MAX`]) and goes out at once, so the next stall of that size is absorbed; beyond
//! that it is dropped, so a stall never adds latency for the rest of the call (each stall
//! would otherwise leave the late audio queued behind the silence). [`LIVE_CALM`] without a
//! late frame gives a frame of the lead back (one frame of audio is dropped for it).
//!
//! A live backlog beyond [`LIVE_BACKLOG`] is dropped, oldest first (a capture clock a little
//! fast must not build up latency). An outlet holds at most what the schedule may hand over at
//! once (the lead, the grace, two frames of jitter): a session whose device stopped reading
//! loses the oldest frames rather than bursting them later.
//! Several devices start together: `gather` holds every lane until the expected sessions have
//! attached (or are known not to come), or for a bounded wait; then all lanes start on the same
//! tick, and a late session joins at the current position.
//! While no session is attached, a file or pipe waits where it is (a reconnecting device hears
//! the rest); a microphone keeps flowing and nobody hears it.

use crate::audio::pacer::Pacer;
use crate::codec::CodecParams;
use crate::feed::{Feed, Frame, Next, Pace, TrackId};
use crate::outcome::Ending;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

/// How many frames late a pipe or microphone may be before its slot is filled with silence.
pub const GRACE_FRAMES: u32 = 3;
/// The most live audio queued ahead of the clock before the oldest is dropped.
pub const LIVE_BACKLOG: Duration = Duration::from_millis(60);
/// The most a live lane's lead grows to absorb a jittery source (at least two frames more
/// than it starts with).
pub const LIVE_LEAD_MAX: Duration = Duration::from_millis(120);
/// How many frames before a device runs dry a microphone's missing slot is filled with silence
/// (a clock woken a little late must still be in time), at most half the lead.
const LIVE_FILL_FRAMES: u32 = 2;
/// A microphone delivers its audio in periods this long (`audio::capture`): a frame longer
/// than that completes a frame less a period after its first sample, and the lead covers it.
const LIVE_PERIOD: Duration = Duration::from_millis(10);
/// A live lane's lead shrinks by a frame after this long without late audio (from the most
/// back to 40 ms in 16 s; a source that stalls more often keeps its cushion).
pub const LIVE_CALM: Duration = Duration::from_secs(2);
/// How far ahead of the schedule a file or pipe is decoded and shaped.
const AHEAD: Duration = Duration::from_secs(2);

/// What an outlet delivers.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A frame, and when the device should start playing it.
    Frame(Arc<Frame>, Instant),
    /// The source ended; the device will have played everything at `played_out`.
    End {
        played_out: Instant,
    },
    Failed(Ending),
}

/// A handle on the running clock.
#[derive(Clone)]
pub struct Clock {
    control: mpsc::UnboundedSender<Control>,
}

enum Control {
    /// Build the track for these params (its encoder), without listening yet.
    Prepare {
        params: CodecParams,
        reply: oneshot::Sender<Result<(), Ending>>,
    },
    Attach {
        params: CodecParams,
        reply: oneshot::Sender<Result<Outlet, Ending>>,
    },
    /// Hold the start until `expected` sessions are in, or for `wait`.
    Gather {
        expected: usize,
        wait: Duration,
    },
    /// One of the expected sessions will not come (or has come and gone).
    Absent,
}

/// Sessions being waited for before anything is sent, so that every device starts together.
struct Gathering {
    expected: usize,
    /// Sessions attached, and those that will not come.
    arrived: usize,
    deadline: Instant,
}

impl Clock {
    /// Starts the clock over `feed`; frames run `lead` ahead of real time, and up to `batch`
    /// more: once awake for a due frame, the clock also sends those due within `batch`, so it
    /// wakes once per batch, not once per frame (each wake-up costs more than the frame).
    pub fn start(feed: Feed, lead: Duration, batch: Duration) -> Clock {
        let (control, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(feed, Pacing { lead, batch }, rx));
        Clock { control }
    }

    /// Holds the start until `expected` sessions have attached (or been reported absent), for
    /// at most `wait`: several devices then get their first frames at the same moment. After
    /// that, a late session joins at the current position.
    pub fn gather(&self, expected: usize, wait: Duration) {
        let _ = self.control.send(Control::Gather { expected, wait });
    }

    /// One of the sessions `gather` waits for will not come.
    pub fn absent(&self) {
        let _ = self.control.send(Control::Absent);
    }

    /// Builds the track for `params` (once per stream), so that a codec that cannot be
    /// encoded is known before a session is opened.
    pub async fn prepare(&self, params: CodecParams) -> Result<(), Ending> {
        let (reply, rx) = oneshot::channel();
        self.control.send(Control::Prepare { params, reply }).map_err(|_| clock_gone())?;
        rx.await.map_err(|_| clock_gone())?
    }

    /// Starts receiving the frames of `params` (its track is built on first use). Dropping the
    /// outlet detaches it.
    pub async fn attach(&self, params: CodecParams) -> Result<Outlet, Ending> {
        let (reply, rx) = oneshot::channel();
        self.control.send(Control::Attach { params, reply }).map_err(|_| clock_gone())?;
        rx.await.map_err(|_| clock_gone())?
    }
}

fn clock_gone() -> Ending {
    Ending::Internal { detail: "the audio clock stopped".into() }
}

/// One session's end of the clock: a short queue of deliveries.
pub struct Outlet {
    shared: Arc<Shared>,
    /// Duration of one frame.
    pub frame: Duration,
}

struct Shared {
    queue: Mutex<VecDeque<Delivery>>,
    ready: Notify,
    capacity: usize,
    /// Frames this outlet's session never got (it fell behind, or a live backlog was cut).
    dropped: AtomicU64,
    detached: AtomicBool,
}

impl Outlet {
    /// The next delivery. Cancel-safe.
    pub async fn recv(&mut self) -> Delivery {
        loop {
            let notified = self.shared.ready.notified();
            if let Some(d) = lock(&self.shared.queue).pop_front() {
                return d;
            }
            notified.await;
        }
    }

    /// The next delivery if one is waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        lock(&self.shared.queue).pop_front()
    }

    /// Frames dropped for this session so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        self.shared.detached.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    fn deliver(&self, d: Delivery) {
        let mut q = lock(&self.queue);
        // Ends are never dropped; frames make room for them and for newer frames.
        while q.len() >= self.capacity && matches!(q.front(), Some(Delivery::Frame(..))) {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        q.push_back(d);
        drop(q);
        self.ready.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A track being paced, and the sessions it feeds.
struct Lane {
    id: TrackId,
    pacer: Pacer,
    frame: Duration,
    outlets: Vec<Arc<Shared>>,
    /// The schedule is running (it stops while nobody listens).
    running: bool,
    /// Silence frames still to send before a live lane's audio (the device's cushion).
    prefill: u32,
    /// The lead now (a live lane's adapts to its source's jitter), the least and the most.
    lead: Duration,
    base: Duration,
    most: Duration,
    /// Silence frames sent for live audio that had not come (it may still come, late).
    stood_in: u64,
    /// Frames of audio to drop to give back lead, and when lead was last grown or given back.
    trim: u64,
    calm_since: Instant,
    done: bool,
}

/// The lanes of a running clock. If the clock task ends abnormally (a panic), every session
/// still listening is told, instead of waiting forever for a frame.
struct Lanes(Vec<Lane>);

impl Drop for Lanes {
    fn drop(&mut self) {
        for lane in self.0.iter().filter(|l| !l.done) {
            for o in &lane.outlets {
                o.deliver(Delivery::Failed(clock_gone()));
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Pacing {
    lead: Duration,
    batch: Duration,
}

async fn run(mut feed: Feed, pacing: Pacing, mut control: mpsc::UnboundedReceiver<Control>) {
    let lead = pacing.lead;
    let pace = feed.pace();
    let mut lanes = Lanes(Vec::new());
    let lanes = &mut lanes.0;
    let mut gathering: Option<Gathering> = None;
    loop {
        for lane in lanes.iter_mut() {
            lane.outlets.retain(|o| !o.detached.load(Ordering::Relaxed));
        }
        let listening = lanes.iter().any(|l| !l.outlets.is_empty() && !l.done);
        let now = Instant::now();
        let mut wake: Option<Instant> = None;
        let held = match &gathering {
            Some(g) if g.arrived < g.expected && now < g.deadline => {
                wake = Some(g.deadline);
                true
            }
            _ => {
                gathering = None;
                false
            }
        };
        for lane in lanes.iter_mut() {
            if lane.outlets.is_empty() || lane.done || held {
                // A lane nobody hears skips ahead with the source (others may be listening);
                // when nobody at all listens, or the start is held, a file or pipe waits.
                if (listening && !held) || pace == Pace::Live {
                    feed.drop_backlog(lane.id, Duration::ZERO);
                }
                lane.running = false;
                continue;
            }
            if !lane.running {
                // (Re)start from the track's position: the first `lead` goes out at once.
                lane.pacer.resume();
                lane.running = true;
                if pace == Pace::Live {
                    lane.prefill = (lane.lead.as_secs_f64() / lane.frame.as_secs_f64()).ceil() as u32;
                    (lane.stood_in, lane.calm_since) = (0, now);
                }
            }
            if pace == Pace::Live {
                let dropped = adapt_live(&mut feed, lane, now) + feed.drop_backlog(lane.id, LIVE_BACKLOG + lane.frame);
                for o in &lane.outlets {
                    o.dropped.fetch_add(dropped, Ordering::Relaxed);
                }
            }
            if let Some(at) = pump(&mut feed, lane, pace, now, pacing.batch) {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        // Read the source while some lane is short of audio; a live source always (a microphone
        // nobody hears is drained and dropped above, not left to overflow).
        let hungry =
            !feed.finished() && (pace == Pace::Live || lanes.iter().any(|l| l.running && !l.done && feed.buffered(l.id) < AHEAD + lead));
        let far = now + Duration::from_secs(3600);
        tokio::select! {
            biased;
            control = control.recv() => match control {
                Some(Control::Prepare { params, reply }) => {
                    let _ = reply.send(feed.track(params).map(drop));
                }
                Some(Control::Attach { params, reply }) => {
                    let _ = reply.send(attach(&mut feed, lanes, pacing, params));
                    if let Some(g) = &mut gathering {
                        g.arrived += 1;
                    }
                }
                Some(Control::Gather { expected, wait }) => {
                    gathering = Some(Gathering { expected, arrived: 0, deadline: Instant::now() + wait });
                }
                Some(Control::Absent) => {
                    if let Some(g) = &mut gathering {
                        g.arrived += 1;
                    }
                }
                None => return,
            },
            item = feed.recv(), if hungry => {
                if let Some(item) = item {
                    feed.push(item);
                    // Decoding ahead must not hold up the sessions sharing this thread: the
                    // frames just handed over go out before the next chunk is worked on.
                    tokio::task::yield_now().await;
                }
            }
            _ = sleep_until(wake.unwrap_or(far)), if wake.is_some() => {}
        }
    }
}

/// Sends every frame of `lane` that is due (or due within `batch`); returns when it next needs
/// attention (a frame's due time, or the moment a late source's slot becomes silence), or
/// `None` when it waits for the source alone.
fn pump(feed: &mut Feed, lane: &mut Lane, pace: Pace, now: Instant, batch: Duration) -> Option<Instant> {
    loop {
        let due = lane.pacer.due();
        if now + batch < due {
            return Some(due);
        }
        let next = if lane.prefill > 0 {
            lane.prefill -= 1;
            feed.silence(lane.id)
        } else {
            feed.next_frame(lane.id)
        };
        let next = match next {
            Next::Wait if pace == Pace::File => return None,
            Next::Wait => {
                // A microphone's slot is filled before the device runs dry; a pipe may pause,
                // so it gets the grace first.
                let played_out = lane.pacer.played_out();
                let starved = match pace {
                    Pace::Live => played_out.checked_sub((lane.frame * LIVE_FILL_FRAMES).min(lane.base / 2)).unwrap_or(played_out),
                    _ => played_out + lane.frame * GRACE_FRAMES,
                };
                if now < starved {
                    return Some(starved);
                }
                lane.stood_in += u64::from(pace == Pace::Live);
                feed.silence(lane.id)
            }
            other => other,
        };
        match next {
            Next::Frame(frame) => {
                let plays = lane.pacer.played_out();
                // Where this frame's audio plays: the device echo canceller's reference goes there.
                if let (Some(playout), Some(captured), false) = (feed.playout(), frame.captured, frame.silence) {
                    playout.sent(captured, plays.into_std());
                }
                let d = Delivery::Frame(Arc::new(frame), plays);
                for o in &lane.outlets {
                    o.deliver(d.clone());
                }
                lane.pacer.sent_one();
            }
            Next::Wait => return None,
            Next::End => {
                for o in &lane.outlets {
                    o.deliver(Delivery::End { played_out: lane.pacer.played_out() });
                }
                lane.done = true;
                return None;
            }
            Next::Failed(e) => {
                for o in &lane.outlets {
                    o.deliver(Delivery::Failed(e.clone()));
                }
                lane.done = true;
                return None;
            }
        }
    }
}

/// A live lane's lead follows its source: audio that silence stood in for and that came after
/// all grows the lead (it goes out now, as cushion) or, beyond [`LIVE_LEAD_MAX`], is dropped;
/// a calm spell gives a frame of lead back. Returns the frames dropped.
fn adapt_live(feed: &mut Feed, lane: &mut Lane, now: Instant) -> u64 {
    let queued = (feed.buffered(lane.id).as_secs_f64() / lane.frame.as_secs_f64()) as u64;
    let mut dropped = 0;
    if lane.stood_in > 0 && queued > 0 {
        let late = lane.stood_in.min(queued);
        let room = (lane.most.saturating_sub(lane.lead).as_secs_f64() / lane.frame.as_secs_f64()) as u64;
        let grow = late.min(room);
        lane.lead += lane.frame * grow as u32;
        dropped += feed.drop_frames(lane.id, late - grow);
        (lane.stood_in, lane.trim, lane.calm_since) = (0, 0, now);
    } else if lane.stood_in == 0 && lane.lead > lane.base && now >= lane.calm_since + LIVE_CALM {
        lane.lead -= lane.frame;
        (lane.trim, lane.calm_since) = (lane.trim + 1, now);
    }
    if lane.trim > 0 && queued > 0 {
        let n = feed.drop_frames(lane.id, lane.trim.min(queued));
        lane.trim -= n;
        dropped += n;
    }
    lane.pacer.set_lead(lane.lead);
    dropped
}

fn attach(feed: &mut Feed, lanes: &mut Vec<Lane>, pacing: Pacing, params: CodecParams) -> Result<Outlet, Ending> {
    let Pacing { lead, batch } = pacing;
    let id = feed.track(params)?;
    let frame = feed.frame_duration(id);
    // A live lane's frames complete a frame less a period after their first sample, and its
    // lead may grow; an outlet holds what the largest may hand over at once.
    let (base, most) = match feed.pace() {
        Pace::Live => {
            let base = lead + frame.saturating_sub(LIVE_PERIOD);
            (base, LIVE_LEAD_MAX.max(base + frame * 2))
        }
        _ => (lead, lead),
    };
    let lane = match lanes.iter().position(|l| l.id == id) {
        Some(i) => &mut lanes[i],
        None => {
            lanes.push(Lane {
                id,
                pacer: Pacer::new(frame, base),
                frame,
                outlets: Vec::new(),
                running: false,
                prefill: 0,
                lead: base,
                base,
                most,
                stood_in: 0,
                trim: 0,
                calm_since: Instant::now(),
                done: false,
            });
            lanes.last_mut().expect("just pushed")
        }
    };
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        ready: Notify::new(),
        // What the schedule may hand over at once: the lead and a batch, plus the grace a late
        // pipe or microphone was given before silence filled in, plus two for scheduling jitter.
        capacity: ((most + batch).as_secs_f64() / frame.as_secs_f64()).ceil() as usize + GRACE_FRAMES as usize + 2,
        dropped: AtomicU64::new(0),
        detached: AtomicBool::new(false),
    });
    if lane.done {
        // The source already ended for this track: nothing more will come.
        shared.deliver(Delivery::End { played_out: Instant::now() });
    }
    lane.outlets.push(shared.clone());
    Ok(Outlet { shared, frame })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::feed::{Chunk, Source, SourceItem};
    use tokio::time::timeout;

    async fn clock_over_a_second_of_file() -> (Clock, mpsc::Sender<SourceItem>) {
        let (tx, rx) = mpsc::channel(4);
        tx.send(SourceItem::Chunk(Chunk { samples: vec![0.1; 8000], captured: None })).await.unwrap();
        let source = Source { rx, rate: 8000, pace: Pace::File, duration: None, playout: None };
        (Clock::start(Feed::new(source, 0.0), Duration::from_millis(100), Duration::ZERO), tx)
    }

    fn played_out(d: Delivery) -> Instant {
        match d {
            Delivery::Frame(_, at) => at,
            other => panic!("not a frame: {other:?}"),
        }
    }

    /// A microphone (16 kHz PCM, 10 ms chunks, chunk k carrying the value k) that stalls for
    /// 100 ms and then delivers the stalled audio at once, as a capture ring does when its
    /// reader was held up. What each session is handed: frames before their play time (the
    /// device never runs dry), chunk k's frame within a frame of chunk k's arrival once the
    /// burst is out (no latency kept from the stall), and the cushion back to the lead later.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_microphone_costs_neither_a_gap_nor_lasting_latency() {
        const MS: u64 = 10;
        // Long enough for the lead to come back from its most.
        const CHUNKS: u64 = 100 + (LIVE_LEAD_MAX.as_millis() as u64 / MS + 1) * LIVE_CALM.as_millis() as u64 / MS;
        let (tx, rx) = mpsc::channel(64);
        let source = Source { rx, rate: 16000, pace: Pace::Live, duration: None, playout: None };
        let clock = Clock::start(Feed::new(source, 0.0), Duration::from_millis(40), Duration::ZERO);
        let mut outlet = clock.attach(CodecParams::new(Codec::Pcm)).await.unwrap();
        let t0 = Instant::now();
        tokio::spawn(async move {
            let chunk = |k: u64| vec![k as f32 / 32767.0; 160];
            for k in 0..CHUNKS {
                if (50..60).contains(&k) {
                    continue;
                }
                sleep_until(t0 + Duration::from_millis(MS * k)).await;
                let samples = if k == 60 { (50..=60).flat_map(chunk).collect() } else { chunk(k) };
                tx.send(SourceItem::Chunk(Chunk { samples, captured: None })).await.unwrap();
            }
        });
        let mut worst_late = Duration::ZERO;
        let cushion = loop {
            let Delivery::Frame(frame, play_at) = outlet.recv().await else { panic!("only frames") };
            let now = Instant::now();
            assert!(play_at >= now, "handed over {:?} after the device ran dry", now - play_at);
            if frame.silence {
                continue;
            }
            let k = u64::from(u16::from_le_bytes([frame.bytes[0], frame.bytes[1]]));
            if k > 60 {
                worst_late = worst_late.max(now - (t0 + Duration::from_millis(MS * k)));
            }
            if k == CHUNKS - 1 {
                break play_at - now;
            }
        };
        assert!(worst_late <= Duration::from_millis(MS), "audio after the stall waited {worst_late:?}");
        assert!(cushion <= Duration::from_millis(40 + MS), "the cushion stayed at {cushion:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gathered_sessions_start_on_the_same_tick() {
        let (clock, _tx) = clock_over_a_second_of_file().await;
        clock.gather(2, Duration::from_secs(2));
        let params = CodecParams::new(Codec::G711Ulaw);
        let mut a = clock.attach(params).await.unwrap();
        assert!(timeout(Duration::from_millis(500), a.recv()).await.is_err(), "held until the second session comes");
        let mut b = clock.attach(params).await.unwrap();
        let (first_a, first_b) = (played_out(a.recv().await), played_out(b.recv().await));
        assert_eq!(first_a, first_b);
        // A third, late session joins where the others are, not at the start.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut c = clock.attach(params).await.unwrap();
        assert!(played_out(c.recv().await) > first_a + Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_is_bounded_and_absent_sessions_are_not_waited_for() {
        let (clock, _tx) = clock_over_a_second_of_file().await;
        let start = Instant::now();
        clock.gather(3, Duration::from_secs(2));
        let params = CodecParams::new(Codec::G711Ulaw);
        let mut a = clock.attach(params).await.unwrap();
        a.recv().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2), "started at the deadline");

        let (clock, _tx) = clock_over_a_second_of_file().await;
        let start = Instant::now();
        clock.gather(2, Duration::from_secs(2));
        let mut a = clock.attach(params).await.unwrap();
        clock.absent();
        a.recv().await;
        assert!(start.elapsed() < Duration::from_millis(50), "the other will not come: {:?}", start.elapsed());
    }
}
