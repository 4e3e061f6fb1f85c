//! The reconnect policy, the one place that decides whether a session is opened again: only
//! after a fault the user did not ask for, only for sessions that reconnect at all (`speak`,
//! `play --loop`), never after a stop, bounded in number (per fault streak, and per hour: a
//! device that hangs up every minute is not reconnected forever), with exponential backoff and
//! full jitter, never immediate.

use crate::outcome::Ending;
use rand::Rng;
use rand::rngs::StdRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A session that streamed this long was healthy: the next fault gets the full retry budget.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);
/// The longest wait between attempts.
const CAP: Duration = Duration::from_secs(30);
/// Reconnects allowed in any hour, whatever the sessions in between streamed.
pub const MAX_PER_HOUR: usize = 20;
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct Policy {
    /// Attempts allowed after a fault (`--retries`).
    max_retries: u32,
    /// The first delay's ceiling and the floor of every delay.
    base: Duration,
    used: u32,
    /// When the reconnects of the last hour happened.
    recent: VecDeque<Instant>,
    rng: StdRng,
}

impl Policy {
    pub fn new(max_retries: u32, base: Duration) -> Policy {
        Policy { max_retries, base, used: 0, recent: VecDeque::new(), rng: rand::SeedableRng::from_os_rng() }
    }

    /// After a session ended with `ending`: how long to wait before opening again, or `None`
    /// for never. `streamed` is the audio the session delivered before it ended.
    pub fn after(&mut self, ending: &Ending, reconnects: bool, stopped: bool, streamed: Duration) -> Option<Duration> {
        if !reconnects || stopped || !ending.is_transient() {
            return None;
        }
        if streamed >= HEALTHY_SESSION {
            self.used = 0;
        }
        let now = Instant::now();
        while self.recent.front().is_some_and(|&t| now.duration_since(t) >= HOUR) {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_PER_HOUR {
            return None;
        }
        let delay = self.next_delay()?;
        self.recent.push_back(now);
        Some(delay)
    }

    /// Attempts used since the budget was last restored.
    pub fn used(&self) -> u32 {
        self.used
    }

    /// Full jitter (uniform between `base` and `base * 2^(n+1)`, capped) spreads clients that
    /// lost the same device, from the first retry on; the `base` floor guarantees that no
    /// reconnect is ever immediate.
    fn next_delay(&mut self) -> Option<Duration> {
        if self.used >= self.max_retries {
            return None;
        }
        let ceiling = self.base.saturating_mul(2u32 << self.used.min(16)).min(CAP).max(self.base);
        self.used += 1;
        Some(Duration::from_secs_f64(self.rng.random_range(self.base.as_secs_f64()..=ceiling.as_secs_f64())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(500);

    fn reset() -> Ending {
        Ending::ConnectionReset { detail: "reset".into() }
    }

    #[test]
    fn delays_are_bounded_floored_and_growing_in_ceiling() {
        for _ in 0..200 {
            let mut p = Policy::new(8, BASE);
            let mut n = 0;
            while let Some(d) = p.after(&reset(), true, false, Duration::ZERO) {
                let ceiling = (0.5 * 2f64.powi(n + 1)).min(30.0);
                assert!(d >= BASE, "{d:?}");
                assert!(d.as_secs_f64() <= ceiling.max(0.5) + 1e-9, "{d:?} > {ceiling}");
                n += 1;
            }
            assert_eq!(n, 8);
        }
        assert_eq!(Policy::new(0, BASE).after(&reset(), true, false, Duration::ZERO), None);
    }

    #[test]
    fn the_first_retry_is_jittered_too() {
        let firsts: Vec<Duration> = (0..50).map(|_| Policy::new(3, BASE).after(&reset(), true, false, Duration::ZERO).unwrap()).collect();
        assert!(firsts.iter().all(|&d| d >= BASE && d <= BASE * 2), "{firsts:?}");
        let distinct: std::collections::BTreeSet<u128> = firsts.iter().map(|d| d.as_micros()).collect();
        assert!(distinct.len() > 40, "the first delays are not spread: {firsts:?}");
    }

    #[test]
    fn a_device_that_hangs_up_after_every_healthy_minute_is_not_reconnected_forever() {
        let mut p = Policy::new(3, BASE);
        let reconnects = (0..100)
            .take_while(|_| p.after(&Ending::hangup(None, false), true, false, HEALTHY_SESSION + Duration::from_secs(1)).is_some())
            .count();
        assert_eq!(reconnects, MAX_PER_HOUR);
    }

    #[test]
    fn only_unasked_faults_of_reconnecting_sessions_are_retried() {
        let mut p = Policy::new(3, BASE);
        assert_eq!(p.after(&reset(), false, false, Duration::ZERO), None, "play without --loop never reconnects");
        assert_eq!(p.after(&reset(), true, true, Duration::ZERO), None, "nothing reconnects after a stop");
        for no in [
            Ending::UserStop { signal: "SIGINT".into() },
            Ending::Auth { detail: "bad password".into(), locked: false },
            Ending::Busy { detail: "busy".into() },
            Ending::Codec { detail: "x".into() },
            Ending::EndOfInput,
            Ending::DeviceHangup { status: None, idle: false, call: Some("ring".into()) },
        ] {
            assert_eq!(p.after(&no, true, false, Duration::ZERO), None, "{no:?}");
        }
        assert_eq!(p.used(), 0);
        assert!(p.after(&Ending::hangup(None, true), true, false, Duration::ZERO).is_some());
        assert!(p.after(&Ending::Network { detail: "x".into() }, true, false, Duration::ZERO).is_some());
    }

    #[test]
    fn a_healthy_session_earns_its_attempts_back() {
        let mut p = Policy::new(2, BASE);
        assert!(p.after(&reset(), true, false, Duration::ZERO).is_some());
        assert!(p.after(&reset(), true, false, Duration::ZERO).is_some());
        assert_eq!(p.after(&reset(), true, false, Duration::from_secs(5)), None, "budget used up");
        let mut p = Policy::new(2, BASE);
        p.after(&reset(), true, false, Duration::ZERO);
        p.after(&reset(), true, false, Duration::ZERO);
        assert!(p.after(&reset(), true, false, HEALTHY_SESSION).is_some());
        assert_eq!(p.used(), 1);
    }
}
