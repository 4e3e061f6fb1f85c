//! When a stream's samples happened, from when pieces of it were seen. A stream that comes in
//! real time (a device's microphone over the network) is late now and then (a loaded machine
//! reads the socket late, then finds several pieces at once); dating each piece by its arrival
//! would move the stream in time at every such burst, and an echo canceller matching it against
//! a reference loses the echo's path each time. The stream's own clock does not move: sample n
//! happened at origin + n / rate, where the origin is the earliest placement seen over the last
//! [`WINDOW`] (late pieces never pull it; the clock's drift and a permanent shift are followed
//! within the window), and a piece later than [`DISCONTINUITY`] starts a new timeline (the
//! stream stopped and started again).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a placement counts: longer than any burst of lateness, short enough to follow a
/// stream that really moved (it then sounds that much later for good).
const WINDOW: Duration = Duration::from_secs(2);
/// A piece this much later than the stream's clock says is a new start, not lateness.
const DISCONTINUITY: Duration = Duration::from_secs(1);
/// Placements kept at most: made once, so that placing never allocates (a sound card's
/// callback may use it); past it the oldest go first, which only shortens the window.
const MAX_ORIGINS: usize = 512;

pub struct SampleClock {
    rate: u32,
    /// Samples placed so far.
    samples: u64,
    /// (when seen, origin it implied), oldest first, origins increasing: the window's minimum
    /// is the front.
    origins: VecDeque<(Instant, Instant)>,
}

impl SampleClock {
    pub fn new(rate: u32) -> SampleClock {
        SampleClock { rate: rate.max(1), samples: 0, origins: VecDeque::with_capacity(MAX_ORIGINS) }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Starts again at `rate`, keeping its room (no allocation).
    pub fn reset(&mut self, rate: u32) {
        (self.rate, self.samples) = (rate.max(1), 0);
        self.origins.clear();
    }

    /// `n` more samples, the last of them complete at `seen`: when the first of them happened.
    pub fn place(&mut self, n: usize, seen: Instant) -> Instant {
        let before = self.span(self.samples);
        self.samples += n as u64;
        let implied = seen.checked_sub(self.span(self.samples)).unwrap_or(seen);
        let late = self.origins.front().map(|&(_, origin)| implied.saturating_duration_since(origin));
        if late.is_some_and(|l| l > DISCONTINUITY) {
            self.origins.clear();
        }
        while self.origins.back().is_some_and(|&(_, origin)| origin >= implied) {
            self.origins.pop_back();
        }
        if self.origins.len() == MAX_ORIGINS {
            self.origins.pop_front();
        }
        self.origins.push_back((seen, implied));
        while self.origins.front().is_some_and(|&(at, _)| seen.saturating_duration_since(at) > WINDOW) {
            self.origins.pop_front();
        }
        let origin = self.origins.front().map_or(implied, |&(_, origin)| origin);
        origin + before
    }

    fn span(&self, samples: u64) -> Duration {
        Duration::from_secs_f64(samples as f64 / f64::from(self.rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_burst_after_a_stall_keeps_the_streams_time() {
        let (t0, mut clock) = (Instant::now(), SampleClock::new(8000));
        // 40 ms pieces on time...
        for k in 0..10u32 {
            assert_eq!(clock.place(320, t0 + 40 * MS * (k + 1)), t0 + 40 * MS * k);
        }
        // ... then 200 ms late: five arrive at once, each still dated by the stream.
        for k in 10..15u32 {
            assert_eq!(clock.place(320, t0 + 600 * MS), t0 + 40 * MS * k);
        }
        assert_eq!(clock.place(320, t0 + 640 * MS), t0 + 600 * MS);
    }

    #[test]
    fn a_stream_that_moved_is_followed_within_the_window_and_a_restart_at_once() {
        let (t0, mut clock) = (Instant::now(), SampleClock::new(1000));
        let mut at = t0;
        for _ in 0..100 {
            at += 10 * MS;
            clock.place(10, at);
        }
        // From here on every piece comes 100 ms later than before (the stream lost 100 ms).
        at += 100 * MS;
        let mut first = Instant::now();
        for _ in 0..300 {
            at += 10 * MS;
            first = clock.place(10, at);
        }
        assert_eq!(first, at - 10 * MS, "followed after the window");
        // A 5 s gap: a new timeline at once.
        at += 5000 * MS;
        assert_eq!(clock.place(10, at + 10 * MS), at);
    }
}
