//! Pacing over a long stream, in real time, through the real clock (`session::clock`): a file
//! source, a G.711 track, one outlet. How far each frame's hand-over strays from its schedule,
//! whether the error grows (it must not: the schedule is absolute), and how far ahead of real
//! time the device is given audio.
//!
//!     cargo bench --bench pacing              # 60 s of 20 ms frames
//!     HIKTALK_BENCH_SECS=600 cargo bench --bench pacing

use hiktalk::codec::{Codec, CodecParams};
use hiktalk::feed::{Chunk, Feed, Pace, Source, SourceItem};
use hiktalk::session::Clock;
use hiktalk::session::clock::Delivery;
use std::time::Duration;
use tokio::time::Instant;

fn main() {
    let secs: u64 = std::env::var("HIKTALK_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let lead = Duration::from_millis(160);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (late, ahead) = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            for i in 0..secs * 10 {
                let samples = (0..800).map(|k| ((i * 800 + k) as f32 * 0.35).sin() * 0.25).collect();
                if tx.send(SourceItem::Chunk(Chunk { samples, captured: None })).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(SourceItem::End).await;
        });
        let source = Source { rx, rate: 8000, pace: Pace::File, duration: None, playout: None };
        let clock = Clock::start(Feed::new(source, 0.0), lead, Duration::ZERO);
        let mut outlet = clock.attach(CodecParams::new(Codec::G711Ulaw)).await.unwrap();
        let start = Instant::now();
        let (mut late, mut ahead) = (Vec::new(), Duration::ZERO);
        let mut first = None;
        while let Delivery::Frame(_, play_at) = outlet.recv().await {
            let now = Instant::now();
            let origin = *first.get_or_insert(play_at);
            let due = play_at.checked_sub(lead).unwrap_or(origin).max(origin);
            late.push(now.saturating_duration_since(due).as_secs_f64() * 1000.0);
            ahead = ahead.max((play_at + outlet.frame).saturating_duration_since(now));
        }
        println!("pacing: {} frames of 20 ms ({secs} s of audio) in {:.3} s of wall time", late.len(), start.elapsed().as_secs_f64());
        (late, ahead)
    });
    println!("pacing: max ahead of real time {:.1} ms (lead 160 ms + one 20 ms frame)", ahead.as_secs_f64() * 1000.0);
    let tenth = late.len() / 10;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let mut sorted = late.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "pacing: hand-over lateness vs schedule: mean {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        mean(&late),
        sorted[sorted.len() * 99 / 100],
        sorted[sorted.len() - 1]
    );
    // Drift: does the lateness in the last tenth exceed the first tenth's?
    println!(
        "pacing: drift (mean lateness, last tenth minus first tenth): {:+.3} ms",
        mean(&late[late.len() - tenth..]) - mean(&late[..tenth])
    );
}
