//! Pacing drift over a long stream, in real time: how far each frame's send time strays from
//! the ideal schedule, and whether the error grows (it must not: the schedule is absolute).
//!
//!     cargo bench --bench pacing              # 60 s of 20 ms frames
//!     HIKTALK_BENCH_SECS=600 cargo bench --bench pacing

use hiktalk::audio::pacer::Pacer;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

fn main() {
    let secs: u64 = std::env::var("HIKTALK_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let frame = Duration::from_millis(20);
    let lead = Duration::from_millis(160);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let lateness = rt.block_on(async {
        let mut pacer = Pacer::new(frame, lead);
        let start = Instant::now();
        let frames = secs * 1000 / 20;
        let mut late = Vec::with_capacity(frames as usize);
        for n in 0..frames {
            let due = pacer.due();
            sleep_until(due).await;
            let ideal = (start + frame * n as u32).checked_sub(lead).unwrap_or(start).max(start);
            late.push(Instant::now().duration_since(ideal).as_secs_f64() * 1000.0);
            pacer.sent_one();
        }
        let wall = start.elapsed().as_secs_f64();
        println!("pacing: {frames} frames of 20 ms ({secs} s of audio) in {wall:.3} s of wall time");
        println!("pacing: max ahead of real time {:.1} ms (lead 160 ms)", pacer.max_ahead().as_secs_f64() * 1000.0);
        late
    });
    let tenth = lateness.len() / 10;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut sorted = lateness.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "pacing: send lateness vs schedule: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        mean(&lateness),
        sorted[sorted.len() * 99 / 100],
        sorted[sorted.len() - 1]
    );
    // Drift: does the lateness in the last tenth exceed the first tenth's?
    println!(
        "pacing: drift (mean lateness, last tenth minus first tenth): {:+.3} ms",
        mean(&lateness[lateness.len() - tenth..]) - mean(&lateness[..tenth])
    );
}
