//! Real cpal capture from a fake ALSA microphone (see `util/tone.rs`): no sound card.
//! One test only: ALSA_CONFIG_PATH must be set before anything in this process touches ALSA.

// Its own test binary (see Cargo.toml); the tone source is shared with the main suite.
#[allow(dead_code)] // this binary uses part of the tone source only
#[path = "util/tone.rs"]
mod tone;
// The tone source's room hears a speaker (unused here, but the module names it).
#[allow(dead_code)]
#[path = "util/speaker.rs"]
mod speaker;

use std::time::{Duration, Instant};

use hiktalk::audio::capture::{Capture, CaptureError};
use hiktalk::audio::devices::{self, Direction};
use tone::{BROKEN_DEVICE_ID, DESCRIPTION, RATE, ToneSource};

const FREQ: f64 = 440.0;
const PEAK_DBFS: f64 = -12.0;

fn rms_dbfs(samples: &[f32]) -> f64 {
    let mean_square = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64;
    10.0 * mean_square.log10()
}

/// Frequency from upward zero crossings, interpolated between samples.
fn frequency(samples: &[f32], rate: u32) -> f64 {
    let crossings: Vec<f64> = samples
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + f64::from(-w[0] / (w[1] - w[0])))
        .collect();
    let (first, last) = (crossings[0], crossings[crossings.len() - 1]);
    (crossings.len() - 1) as f64 * f64::from(rate) / (last - first)
}

/// Reads for `span`, polling every 20 ms (slower than the microphone source's 5 ms).
fn capture_for(capture: &mut Capture, span: Duration) -> Vec<f32> {
    let mut out = Vec::new();
    let start = Instant::now();
    while start.elapsed() < span {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(oldest) = capture.read(&mut out) {
            // Ring + pipe latency stays bounded: the oldest returned sample is recent.
            assert!(oldest.elapsed() < Duration::from_millis(300), "oldest sample {:?} old", oldest.elapsed());
        }
    }
    out
}

#[test]
fn captures_a_paced_exact_tone_through_cpal() {
    let source = ToneSource::start(FREQ, PEAK_DBFS).expect("start the fake microphone");
    for (key, value) in source.env() {
        // SAFETY: the only test in this binary, run before any other thread touches the environment or ALSA.
        unsafe { std::env::set_var(key, value) };
    }

    let devices = devices::list(Direction::Input).expect("list devices");
    let listed = devices.iter().find(|d| d.id == source.device_id()).unwrap_or_else(|| panic!("{} not in {devices:?}", source.device_id()));
    assert_eq!(listed.description, DESCRIPTION);
    assert_eq!((listed.default_rate, listed.channels, listed.default_format.as_str()), (RATE, 2, "f32"));

    // Selecting by a unique part of the description finds the same device.
    let by_description = Capture::open(Some("TEST TONE")).expect("open by description");
    assert!(by_description.describe().starts_with("alsa:hiktalk_test "), "{}", by_description.describe());
    drop(by_description);

    // A device that cannot be opened is left out of the list and fails to open with a typed error.
    assert!(!devices.iter().any(|d| d.id == BROKEN_DEVICE_ID));
    match Capture::open(Some(BROKEN_DEVICE_ID)) {
        Err(CaptureError::Unavailable { device, .. }) => assert_eq!(device, BROKEN_DEVICE_ID),
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let mut capture = Capture::open(Some(&source.device_id())).expect("open by id");
    assert_eq!(capture.describe(), "alsa:hiktalk_test (48000 Hz, 2 ch, f32)");
    assert_eq!(capture.sample_rate(), RATE);
    // Drain what queued up in the pipe while nobody was reading.
    capture_for(&mut capture, Duration::from_millis(100));

    let start = Instant::now();
    let tone = capture_for(&mut capture, Duration::from_secs(1));
    let wall = start.elapsed().as_secs_f64();
    let seconds = tone.len() as f64 / f64::from(RATE);
    assert!((seconds - wall).abs() < 0.1, "paced: {seconds:.3} s of audio in {wall:.3} s");

    let expected = PEAK_DBFS - 10.0 * 2f64.log10(); // a sine's RMS is 3 dB under its peak
    let level = rms_dbfs(&tone);
    assert!((level - expected).abs() < 1.0, "level {level:.2} dBFS, expected {expected:.2}");
    let freq = frequency(&tone, RATE);
    assert!((freq - FREQ).abs() < 1.0, "frequency {freq:.2} Hz");
    // Exact, not just on average: every 10 ms block carries the tone (a short pipe read would
    // have been padded with silence).
    for (i, block) in tone.chunks_exact(480).enumerate() {
        assert!((rms_dbfs(block) - expected).abs() < 1.0, "block {i} at {:.2} dBFS", rms_dbfs(block));
    }

    source.set_tone(false);
    capture_for(&mut capture, Duration::from_millis(200));
    let silence = capture_for(&mut capture, Duration::from_millis(200));
    assert!(!silence.is_empty(), "silence still flows");
    assert!(silence.iter().all(|&s| s == 0.0), "tone switched off");

    assert_eq!(capture.dropped_samples(), 0);
    assert!(capture.take_error().is_none());
    drop(capture); // before the source: the reader would see EOF once the writer is gone
}
