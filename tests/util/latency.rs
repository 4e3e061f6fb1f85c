//! Latency measured from outside hiktalk: when a sound reached one end (a tone onset written
//! to the fake microphone, or a sample the simulated device wrote) against when it came out at
//! the other (the device's arrival log, or the fake speaker's reader). Shared by the tests and
//! the benchmarks.

use std::time::{Duration, Instant};

/// Where sounds start in `pcm`: the first sample above `threshold` after at least `quiet`
/// samples at or below it.
pub fn onsets(pcm: &[i16], threshold: i16, quiet: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut run = 0usize;
    for (i, s) in pcm.iter().enumerate() {
        if s.unsigned_abs() > threshold.unsigned_abs() {
            if run >= quiet {
                found.push(i);
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    found
}

/// When the device received byte `offset` of an upload: `arrivals` are (seconds since the first
/// audio byte, bytes) per read, the first audio byte came at `first_audio` (an instant).
pub fn arrival_of(offset: usize, first_audio: Instant, arrivals: &[(f64, usize)]) -> Option<Instant> {
    let mut total = 0usize;
    for &(t, n) in arrivals {
        total += n;
        if total > offset {
            return Some(first_audio + Duration::from_secs_f64(t));
        }
    }
    None
}

/// Milliseconds from each `sent` instant to its `heard` instant, pairing them in order.
pub fn delays_ms(sent: &[Instant], heard: &[Instant]) -> Vec<f64> {
    sent.iter().zip(heard).map(|(s, h)| h.saturating_duration_since(*s).as_secs_f64() * 1000.0).collect()
}

/// Mean and maximum.
pub fn mean_max(v: &[f64]) -> (f64, f64) {
    (v.iter().sum::<f64>() / v.len().max(1) as f64, v.iter().copied().fold(0.0, f64::max))
}
