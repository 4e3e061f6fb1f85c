//! What one stream costs, start-up included: `hiktalk play` of a 44.1 kHz stereo WAV to one
//! `hiktalk sim`, against the shell user's pipeline to another (`ffmpeg -re -i FILE -ar 8000
//! -ac 1 -f mulaw - | python3 benches/upload.py ...`). CPU time and peak RSS come from the
//! kernel (wait4's rusage: of the play process; of the pipeline's shell, which waits for both
//! of its programs); that the device heard it all without a gap, from the device's figures.
//!
//!     cargo bench --bench stream
//!     HIKTALK_BENCH_SECS=60 HIKTALK_BENCH_RUNS=5 cargo bench --bench stream
//!     HIKTALK_BENCH_BIN=target/small/hiktalk cargo bench --bench stream   # another build

#[allow(dead_code, reason = "each bench uses its part of the helpers")]
mod measure;

use measure::{Cost, PASSWORD, Sims, env_or, play_command, run_measured, tone_file};
use std::process::{Command, Stdio};

/// The device's verdict: seconds heard, underruns, overflow.
fn heard(summary: &serde_json::Value) -> String {
    format!(
        "{:.1} s heard, {} underruns, {:.0} ms overflow",
        summary["audio_seconds"].as_f64().unwrap_or(f64::NAN),
        summary["underruns"],
        summary["overflow_ms"].as_f64().unwrap_or(f64::NAN)
    )
}

fn line(what: &str, code: i32, cost: &Cost, device: &str) {
    println!(
        "{what:<9} exit {code}: CPU {:.3} s ({:.2}% of a core), peak RSS {:.1} MB, {} voluntary switches; device: {device}",
        cost.cpu.as_secs_f64(),
        cost.core_percent(),
        cost.max_rss_mb,
        cost.voluntary_switches
    );
}

fn play(wav: &std::path::Path) -> Cost {
    let sim = Sims::start(1);
    let (code, cost) = run_measured(&mut play_command(wav, &sim.urls));
    let (summary, _) = sim.stop();
    line("hiktalk", code, &cost, &heard(&summary));
    cost
}

fn pipeline(wav: &std::path::Path) -> Option<Cost> {
    let sim = Sims::start(1);
    let url = sim.urls[0].trim_start_matches("http://admin@").to_string();
    let (host, port) = url.split_once(':').unwrap();
    let uploader = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/upload.py");
    let script = format!(
        "ffmpeg -hide_banner -loglevel error -nostdin -re -i '{}' -ar 8000 -ac 1 -f mulaw - | python3 {uploader} {host} {port} admin {PASSWORD}",
        wav.display()
    );
    let (code, cost) = run_measured(Command::new("sh").args(["-c", &script]).stdin(Stdio::null()));
    let (summary, _) = sim.stop();
    line("pipeline", code, &cost, &heard(&summary));
    (code == 0).then_some(cost)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of benches runs nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: u32 = env_or("HIKTALK_BENCH_SECS", "20").parse().expect("HIKTALK_BENCH_SECS");
    let runs: usize = env_or("HIKTALK_BENCH_RUNS", "3").parse().expect("HIKTALK_BENCH_RUNS");
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("stream.wav");
    tone_file(&wav, secs);
    println!("{secs} s of 44.1 kHz stereo WAV to one device as G.711 (8 kHz), {runs} runs each:");
    let ours: Vec<Cost> = (0..runs).map(|_| play(&wav)).collect();
    let theirs: Vec<Cost> = (0..runs).filter_map(|_| pipeline(&wav)).collect();
    let cpu = median(ours.iter().map(|c| c.cpu.as_secs_f64()).collect());
    let rss = median(ours.iter().map(|c| c.max_rss_mb).collect());
    print!("median: hiktalk {cpu:.3} s of CPU, {rss:.1} MB peak RSS");
    if !theirs.is_empty() {
        let pipe = median(theirs.iter().map(|c| c.cpu.as_secs_f64()).collect());
        print!("; the pipeline {pipe:.3} s of CPU ({:.1}x hiktalk)", pipe / cpu);
    }
    println!();
}
