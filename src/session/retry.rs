//! Reconnect policy: bounded attempts, exponential backoff with full jitter, never immediate.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    /// Attempts allowed after the first session (`--retries`).
    pub max_retries: u32,
    /// The first delay's ceiling and the floor of every delay.
    pub base: Duration,
    pub cap: Duration,
    used: u32,
}

impl Backoff {
    pub fn new(max_retries: u32) -> Self {
        Backoff { max_retries, base: Duration::from_millis(500), cap: Duration::from_secs(30), used: 0 }
    }

    /// The delay before the next attempt, or `None` when the attempts are used up.
    ///
    /// Full jitter (uniform up to `base * 2^n`, capped) spreads clients that lost the same
    /// device; the `base` floor guarantees that no reconnect is ever immediate.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Option<Duration> {
        if self.used >= self.max_retries {
            return None;
        }
        let ceiling = self.base.saturating_mul(1u32 << self.used.min(16)).min(self.cap);
        self.used += 1;
        let ceiling = ceiling.max(self.base);
        Some(Duration::from_secs_f64(rng.random_range(self.base.as_secs_f64()..=ceiling.as_secs_f64())))
    }

    pub fn used(&self) -> u32 {
        self.used
    }

    /// A session that ran well earns its attempts back.
    pub fn reset(&mut self) {
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_are_bounded_floored_and_growing_in_ceiling() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut b = Backoff::new(8);
            let mut n = 0;
            while let Some(d) = b.next_delay(&mut rng) {
                let ceiling = (0.5 * 2f64.powi(n)).min(30.0);
                assert!(d >= Duration::from_millis(500), "{d:?}");
                assert!(d.as_secs_f64() <= ceiling.max(0.5) + 1e-9, "{d:?} > {ceiling}");
                n += 1;
            }
            assert_eq!(n, 8);
        }
        assert_eq!(Backoff::new(0).next_delay(&mut rng), None);
    }
}
