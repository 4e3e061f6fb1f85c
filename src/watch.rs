//! Watching a device: its alertStream and, on doorbells, its call state polled from
//! `callStatus`, merged into one sequence of typed events (`events`, `wait-ring`, `answer
//! --wait`).
//!
//! The stream is reopened after every fault (cut, silent past the heartbeat deadline,
//! unreadable, refused) with exponential backoff and jitter (between half and all of a ceiling
//! that doubles per failure, so the wait grows for sure and clients do not move in step), never
//! at once, and never after the user's stop or a rejected password. The backoff starts afresh
//! only after a stream that stayed open [`HEALTHY`] and delivered a part. Many door stations
//! send no call events at all, so a change of `callStatus` is an event too (`callStatus`), and
//! a ring seen there is a `ring` unless the stream reported the same ring (within
//! [`SAME_RING`]); a ring seen first on the stream suppresses the polled one the same way: one
//! ring event per ring.

use crate::isapi::alert::{AlertStream, Event, Item};
use crate::isapi::intercom::CallState;
use crate::isapi::{Device, IsapiError};
use crate::outcome::Ending;
use crate::session::Stop;
use rand::Rng;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Two sightings of a ring this close together are the same ring.
pub const SAME_RING: Duration = Duration::from_secs(3);
/// The longest wait between two attempts to open the stream.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// A stream that stayed open this long and delivered a part was healthy: the backoff starts
/// afresh after it. A stream that sends a part and closes at once is a failure like any other,
/// or a device doing that would be reopened every `backoff_base`, forever.
const HEALTHY: Duration = Duration::from_secs(30);
/// Unreadable parts are said once, then counted, and the count said at most this often.
const NOTE_EVERY: Duration = Duration::from_secs(5);
/// A stream whose last this many parts were all unreadable carries no events: it is dropped
/// and reopened with backoff like any unreadable stream, rather than parsed at whatever rate
/// the device can send it.
const UNREADABLE_IN_A_ROW: u32 = 100;

#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// A stream silent this long (no heartbeat, no part) is dead.
    pub idle: Duration,
    /// How often `callStatus` is read.
    pub poll: Duration,
    /// The first reconnect delay's floor; doubles per failure up to 30 s.
    pub backoff_base: Duration,
    /// Read the alertStream (off: callStatus only).
    pub stream: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { idle: Duration::from_secs(60), poll: Duration::from_secs(1), backoff_base: Duration::from_secs(1), stream: true }
    }
}

/// What the watcher tells its consumer.
#[derive(Debug)]
pub enum Seen {
    Event(Box<Event>),
    /// The alertStream is open (again).
    Connected,
    /// The stream ended; the next attempt comes after `delay`.
    Reconnecting {
        why: String,
        delay: Duration,
    },
    /// Something worth saying once (polling unavailable, an unreadable part).
    Note(String),
}

/// Whether the consumer wants more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    More,
    Done,
}

/// Counts for the outcome.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub events: u64,
    pub heartbeats: u64,
    pub streams_opened: u32,
    pub reconnects: u32,
    pub rings_merged: u32,
}

/// Watches until the consumer is done, the user stops, or nothing can be watched. The ending:
/// `Done`, `UserStop`, or why neither the stream nor callStatus can be read.
pub async fn watch(device: &Device, opts: &WatchOptions, stop: &Stop, mut on: impl FnMut(&Seen) -> Flow) -> (Ending, Stats) {
    let (tx, mut rx) = mpsc::channel::<Seen>(64);
    let mut stats = Stats::default();
    let heartbeats = std::sync::atomic::AtomicU64::new(0);
    let stream_tx = tx.clone();
    let stream = async { if opts.stream { stream_loop(device, opts, stream_tx, &heartbeats).await } else { std::future::pending().await } };
    let poll = poll_loop(device, opts, tx.clone());
    drop(tx);
    tokio::pin!(stream, poll);
    let (mut stream_end, mut poll_end): (Option<Ending>, Option<Ending>) = (None, None);
    let mut last_ring: Option<(Instant, &'static str)> = None;
    let ending = loop {
        // Neither can go on: the call state's reason, unless it only says there is none.
        if let (Some(s), Some(p)) = (&stream_end, &poll_end) {
            break if matches!(p, Ending::Unsupported { .. }) { s.clone() } else { p.clone() };
        }
        tokio::select! {
            biased;
            s = stop.wait() => break Ending::UserStop { signal: s.to_string() },
            Some(seen) = rx.recv() => {
                if let Seen::Event(e) = &seen {
                    if e.kind == "ring" && e.current {
                        let now = Instant::now();
                        match last_ring {
                            Some((at, source)) if source != e.source && now - at < SAME_RING => {
                                stats.rings_merged += 1;
                                continue;
                            }
                            _ => last_ring = Some((now, e.source)),
                        }
                    }
                    stats.events += 1;
                }
                match &seen {
                    Seen::Connected => stats.streams_opened += 1,
                    Seen::Reconnecting { .. } => stats.reconnects += 1,
                    _ => {}
                }
                if on(&seen) == Flow::Done {
                    break Ending::Done;
                }
            }
            e = &mut stream, if stream_end.is_none() => {
                if !matches!(e, Ending::Unsupported { .. }) {
                    break e;
                }
                on(&Seen::Note(format!("{}; watching the call state only", e.describe())));
                stream_end = Some(e);
            }
            e = &mut poll, if poll_end.is_none() => {
                if matches!(e, Ending::Auth { .. }) {
                    break e;
                }
                if !opts.stream {
                    break e;
                }
                if !matches!(e, Ending::Unsupported { .. }) && stream_end.is_none() {
                    on(&Seen::Note(format!("{}; watching the event stream only", e.describe())));
                }
                poll_end = Some(e);
            }
        }
    };
    stats.heartbeats = heartbeats.load(std::sync::atomic::Ordering::Relaxed);
    (ending, stats)
}

/// Waits for the next current ring; `timeout`: give up after it ([`Ending::TimedOut`]).
pub async fn wait_ring(device: &Device, opts: &WatchOptions, stop: &Stop, timeout: Option<Duration>) -> Result<Event, Ending> {
    let mut ring = None;
    let watching = watch(device, opts, stop, |seen| match seen {
        Seen::Event(e) if e.kind == "ring" && e.current => {
            ring = Some((**e).clone());
            Flow::Done
        }
        Seen::Note(n) => {
            crate::output::stderr(&format!("hiktalk: {n}"));
            Flow::More
        }
        _ => Flow::More,
    });
    let ending = match timeout {
        Some(t) => match tokio::time::timeout(t, watching).await {
            Ok((ending, _)) => ending,
            Err(_) => Ending::TimedOut { waited_secs: t.as_secs_f64() },
        },
        None => watching.await.0,
    };
    ring.ok_or(ending)
}

/// The alertStream, reopened after faults. Returns only when it cannot go on: the device has
/// no stream, or refuses the credentials.
async fn stream_loop(device: &Device, opts: &WatchOptions, tx: mpsc::Sender<Seen>, heartbeats: &std::sync::atomic::AtomicU64) -> Ending {
    let mut failures: u32 = 0;
    let mut rng: rand::rngs::StdRng = rand::SeedableRng::from_os_rng();
    let mut unreadable = Unreadable::default();
    loop {
        let why = match AlertStream::open(device, opts.idle).await {
            Err(e) if e.is_auth() || matches!(e, IsapiError::NotSupported { .. } | IsapiError::Redirect { .. }) => {
                return Ending::from_isapi(&e);
            }
            Err(e) => e.to_string(),
            Ok(mut s) => {
                let _ = tx.send(Seen::Connected).await;
                let opened = Instant::now();
                let mut delivered = false;
                let mut in_a_row = 0;
                let end = loop {
                    let item = s.next().await;
                    in_a_row = if matches!(item, Ok(Item::Unreadable(_))) { in_a_row + 1 } else { 0 };
                    match item {
                        Ok(Item::Event(e)) => {
                            delivered = true;
                            let _ = tx.send(Seen::Event(Box::new(e))).await;
                        }
                        Ok(Item::Heartbeat) => {
                            delivered = true;
                            heartbeats.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Ok(Item::Skipped) => delivered = true,
                        Ok(Item::Unreadable(why)) => {
                            if let Some(note) = unreadable.seen(why) {
                                let _ = tx.send(Seen::Note(note)).await;
                            }
                            if in_a_row == UNREADABLE_IN_A_ROW {
                                break format!("the event stream is unreadable: its last {UNREADABLE_IN_A_ROW} parts could not be read");
                            }
                        }
                        Err(end) => break end.to_string(),
                    }
                };
                if let Some(note) = unreadable.flush() {
                    let _ = tx.send(Seen::Note(note)).await;
                }
                if delivered && opened.elapsed() >= HEALTHY {
                    failures = 0;
                }
                end
            }
        };
        let ceiling = opts.backoff_base.saturating_mul(1u32 << failures.min(16)).min(BACKOFF_CAP).max(opts.backoff_base);
        let floor = (ceiling / 2).max(opts.backoff_base);
        let delay = Duration::from_secs_f64(rng.random_range(floor.as_secs_f64()..=ceiling.as_secs_f64()));
        failures = failures.saturating_add(1);
        let _ = tx.send(Seen::Reconnecting { why, delay }).await;
        tokio::time::sleep(delay).await;
    }
}

/// Unreadable parts: the first said at once, the rest counted and said at most every
/// [`NOTE_EVERY`] (a device can send thousands a second), and when a stream ends.
#[derive(Default)]
struct Unreadable {
    said_at: Option<Instant>,
    pending: u64,
    last: String,
}

impl Unreadable {
    fn seen(&mut self, why: String) -> Option<String> {
        match self.said_at {
            None => {
                self.said_at = Some(Instant::now());
                Some(format!("skipped a part of the event stream: {why}"))
            }
            Some(at) => {
                self.pending += 1;
                self.last = why;
                (at.elapsed() >= NOTE_EVERY).then(|| {
                    self.said_at = Some(Instant::now());
                    self.flush().unwrap_or_default()
                })
            }
        }
    }

    /// What is counted and not said yet.
    fn flush(&mut self) -> Option<String> {
        let n = std::mem::take(&mut self.pending);
        (n > 0).then(|| {
            format!("skipped {n} more unreadable part{} of the event stream (the last: {})", if n == 1 { "" } else { "s" }, self.last)
        })
    }
}

/// `callStatus`, read every `poll`: each change is an event, and a new ring a `ring`. Returns
/// when the device has no call control, refuses the credentials, or answers unreadably.
async fn poll_loop(device: &Device, opts: &WatchOptions, tx: mpsc::Sender<Seen>) -> Ending {
    let mut last: Option<CallState> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(opts.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let state = match device.call_state().await {
            Ok(s) => s,
            // What will not pass by itself (auth, no call control, an answer hiktalk cannot
            // read) ends the polling; network faults and 5xx are tried again.
            Err(e) if !e.is_transient() => return Ending::from_isapi(&e),
            Err(e) => {
                if !failing {
                    failing = true;
                    let _ = tx.send(Seen::Note(format!("reading the call state failed: {e}; trying again"))).await;
                }
                continue;
            }
        };
        failing = false;
        if let Some(prev) = last.replace(state.clone())
            && prev != state
        {
            let time = now_utc();
            let fields = serde_json::json!({ "status": state.as_str(), "previous": prev.as_str() });
            let event = |kind: &str| Event {
                kind: kind.into(),
                state: Some(state.as_str().to_string()),
                channel: None,
                time: Some(time.clone()),
                source: "callStatus",
                door: None,
                current: true,
                fields: fields.clone(),
            };
            let _ = tx.send(Seen::Event(Box::new(event("callStatus")))).await;
            if state == CallState::Ring {
                let _ = tx.send(Seen::Event(Box::new(event("ring")))).await;
            }
        }
    }
}

/// Now, as `2024-05-01T10:00:00Z`.
fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
