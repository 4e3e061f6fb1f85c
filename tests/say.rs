//! `hiktalk say`: text to speech through play's path, judged from outside: what the simulated
//! devices recorded, decoded by ffmpeg, against `espeak-ng --stdout` of the same text (the
//! same engine run independently), by duration and by the shape of its energy over time.

use crate::util::ffmpeg::{ffmpeg_decode, heard, tool};
use crate::util::*;
use std::process::Command;

const TEXT: &str = "The parcel goes behind the blue gate, please.";

/// RMS of each 20 ms window.
fn envelope(pcm: &[i16], rate: u32) -> Vec<f64> {
    let window = rate as usize / 50;
    pcm.chunks(window).map(|w| (w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / w.len() as f64).sqrt()).collect()
}

/// Pearson correlation of two envelopes at the best lag within ±10 windows (200 ms), over
/// the windows they share.
fn best_correlation(a: &[f64], b: &[f64]) -> (f64, i64) {
    let corr = |lag: i64| {
        let pairs: Vec<(f64, f64)> =
            a.iter().enumerate().filter_map(|(i, &x)| b.get(usize::try_from(i as i64 + lag).ok()?).map(|&y| (x, y))).collect();
        let n = pairs.len() as f64;
        let (ma, mb) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
        let cov: f64 = pairs.iter().map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = pairs.iter().map(|(x, _)| (x - ma).powi(2)).sum();
        let vb: f64 = pairs.iter().map(|(_, y)| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt().max(1e-9)
    };
    (-10..=10).map(|lag| (corr(lag), lag)).fold((f64::MIN, 0), |best, c| if c.0 > best.0 { c } else { best })
}

/// espeak-ng's own rendering of `text`, decoded by ffmpeg at `rate`.
fn reference(text: &str, rate: u32) -> Vec<i16> {
    tool("espeak-ng", "espeak-ng");
    let wav = Command::new("espeak-ng").args(["--stdout", text]).output().unwrap().stdout;
    let dir = tempfile::tempdir().unwrap();
    ffmpeg_decode(dir.path(), &["-f", "wav"], &wav, rate)
}

/// Two cameras at once (a page), each hearing the same speech as espeak-ng makes on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_pages_speech_that_matches_espeak_by_duration_and_envelope() {
    let (a, b) = (sim::start(binary_sim_config()).await.unwrap(), sim::start(binary_sim_config()).await.unwrap());
    let mut cmd = hiktalk();
    cmd.args(["--json", "say", TEXT]).arg(url(&a)).arg(url(&b));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["devices_total"], 2);
    let expected = reference(TEXT, 8000);
    let other = reference("Nine hundred and ninety nine red balloons", 8000);
    let want = envelope(&expected, 8000);
    for sim in [&a, &b] {
        assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
        let (pcm, rate) = heard(sim, &last_session_id(sim)).await;
        assert_eq!(rate, 8000);
        let (got, want_secs) = (pcm.len() as f64 / 8000.0, expected.len() as f64 / 8000.0);
        assert!((got - want_secs).abs() <= 0.1, "recorded {got:.2} s, espeak-ng makes {want_secs:.2} s");
        let heard_env = envelope(&pcm, rate);
        let (r, lag) = best_correlation(&heard_env, &want);
        let (r_other, _) = best_correlation(&heard_env, &envelope(&other, 8000));
        println!(
            "say: {got:.2} s recorded vs {want_secs:.2} s; envelope correlation {r:.3} at {} ms (another text: {r_other:.3})",
            lag * 20
        );
        assert!(r >= 0.9, "the envelope does not follow espeak-ng's: r = {r:.3}");
        assert!(r_other < r - 0.3, "the check tells texts apart: {r_other:.3} vs {r:.3}");
    }
}

/// No espeak-ng on PATH: a clear error, exit 3, and no device touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_speech_engine_say_exits_3_before_any_request() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = hiktalk();
    cmd.env("PATH", empty.path()).args(["say", "hello"]).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no speech engine: espeak-ng is not installed"), "{}", stderr(&out));
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { .. })), 0);
    let mut cmd = hiktalk();
    cmd.args(["say", "hello", "--voice", "nosuchvoice"]).arg(url(&sim));
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("espeak-ng failed") && stderr(&out).contains("--voice"), "{}", stderr(&out));
}
