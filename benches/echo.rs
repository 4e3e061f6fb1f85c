//! What the echo canceller costs: one minute of a call through WebRTC's module (AEC3), 48 kHz
//! microphone against 48 kHz output (`--echo local`), and the same with noise suppression and
//! gain (`--clean-mic`), timed on this thread's CPU clock.
//!
//!     cargo bench --bench echo

use hiktalk::audio::apm::{Apm, Processing};
use std::time::{Duration, Instant};

fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU seconds for a minute of audio: broadband noise out, its echo 150 ms later at -6 dB plus
/// a near voice in, 10 ms at a time as the capture thread hands it over.
fn minute(processing: Processing) -> f64 {
    const RATE: usize = 48_000;
    let mut apm = Apm::new(RATE as u32, RATE as u32, processing).unwrap();
    let mut seed = 1u32;
    let far: Vec<f32> = (0..RATE * 60)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            0.5 * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
        })
        .collect();
    let delay = RATE * 150 / 1000;
    let mic: Vec<f32> = (0..far.len())
        .map(|t| {
            let voice = 0.25 * (2.0 * std::f32::consts::PI * 440.0 * t as f32 / RATE as f32).sin() * ((t / RATE) % 2) as f32;
            voice + if t >= delay { 0.5 * far[t - delay] } else { 0.0 }
        })
        .collect();
    let (t0, mut out) = (Instant::now(), Vec::with_capacity(RATE * 60));
    let start = cpu_now();
    for (k, (f, m)) in far.chunks(480).zip(mic.chunks(480)).enumerate() {
        let at = t0 + Duration::from_millis(10 * k as u64);
        apm.render(f, at);
        apm.capture(m, at, &mut out);
    }
    (cpu_now() - start).as_secs_f64()
}

fn main() {
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"echo".contains(a.as_str())) {
        return;
    }
    let echo = minute(Processing { echo: true, clean: false });
    let both = minute(Processing { echo: true, clean: true });
    let clean = minute(Processing { echo: false, clean: true });
    println!(
        "echo canceller: {echo:.2} s CPU per minute of call ({:.1}% of a core); with noise suppression and gain {both:.2} s; those alone {clean:.2} s",
        echo / 60.0 * 100.0
    );
}
