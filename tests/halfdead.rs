//! A half-dead connection: the device keeps the audioData socket open but stops reading it
//! (`freeze-after-bytes`). hiktalk must notice (its writes block past `--stall-timeout`),
//! report it as such with exit 7, close the session, and not wait forever.
//!
//! Detection time = time for the buffers between us and the device to fill + the stall
//! timeout. Those buffers are the client's send buffer (hiktalk asks for 16 KiB; Linux doubles
//! it and counts overhead) and the device's receive buffer. The simulator shrinks its receive
//! buffer for this fault (a loopback default of 128 KiB would hold 16 s of G.711), so the
//! fill time is roughly 40 KiB / byte rate: about 5 s at G.711's 8000 B/s, about 1.3 s at
//! 16 kHz PCM's 32000 B/s. Both are run (concurrently) and the times printed
//! (`cargo test --test tests halfdead -- --nocapture`). Measured on loopback: PCM 2.1 s, G.711 5.5 s
//! after the freeze. Without the simulator's small receive buffer, G.711 was not detected at
//! all within a 60 s file (the kernel took all of it), PCM after ~5 s.

use crate::util::*;
use hiktalk::codec::Codec;
use std::process::Stdio;
use std::time::{Duration, Instant};

async fn frozen(codec: Codec, bound: Duration) -> Duration {
    // A long idle timeout: a frozen device does not hang up either (the sim's idle clock would
    // otherwise end the session, since nothing is read any more).
    let config = SimConfig {
        codec: Some(codec),
        idle_timeout: Duration::from_secs(60),
        faults: vec!["freeze-after-bytes=4000".parse().unwrap()],
        ..binary_sim_config()
    };
    let sim = sim::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("long.wav"), 440.0, 30.0, 16000, 1, 0.3);
    let mut cmd = hiktalk();
    cmd.args(["play", "--stall-timeout", "1"]).arg(&wav).arg(url(&sim)).stdout(Stdio::null()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let froze = sim
        .wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault.starts_with("freeze")), Duration::from_secs(10))
        .await
        .expect("the device froze");
    let t = Instant::now();
    let out =
        tokio::time::timeout(bound + Duration::from_secs(5), wait_child(child)).await.expect("hiktalk hangs on a half-dead connection");
    let took = t.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{codec}: {err}");
    assert!(err.contains("the device stopped reading audio") && err.contains("half-dead"), "{codec}: {err}");
    assert!(err.contains(&sim.addr().to_string()), "names the device: {err}");
    assert!(took <= bound, "{codec}: detection took {took:?} after the freeze (bound {bound:?})");
    assert!(took >= Duration::from_secs(1), "{codec}: not before the 1 s stall timeout: {took:?}");
    // The session was closed, by id, although its upload socket is stuck.
    let ev = sim.events();
    assert_eq!(count(&ev, |e| matches!(e, EventKind::SessionOpened { .. })), 1, "play never reconnects");
    assert_eq!(count(&ev, |e| matches!(e, EventKind::SessionClosed { by, .. } if by == "client")), 1, "{ev:#?}");
    let _ = froze;
    eprintln!("half-dead {codec}: detected {took:.2?} after the device stopped reading (stall timeout 1 s)");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_stops_reading_is_detected_and_reported() {
    let (pcm, ulaw) = tokio::join!(frozen(Codec::Pcm, Duration::from_secs(5)), frozen(Codec::G711Ulaw, Duration::from_secs(10)));
    // More bytes per second fill the buffers sooner.
    assert!(pcm < ulaw, "PCM {pcm:?} vs G.711 {ulaw:?}");
}
