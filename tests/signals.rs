//! SIGINT, SIGTERM and SIGHUP at every phase of `hiktalk play`: exit 130 within a bound, every
//! session the device opened is closed, nothing is opened after the stop. The phase x signal
//! matrix runs concurrently, one simulator and one hiktalk per case.

use crate::util::*;
use hiktalk::sim::Fault;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What tells the test that hiktalk is in the phase.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// The simulator fired a fault (a stalled or slow request has arrived).
    Fault(&'static str),
    /// The upload has started.
    Audio,
    /// hiktalk said this on stderr.
    Says(&'static str),
}

#[derive(Clone, Copy, Debug)]
struct Phase {
    name: &'static str,
    faults: &'static [&'static str],
    extra: &'static [&'static str],
    trigger: Trigger,
    /// The open is in flight at the signal: the device may grant it afterwards, and then that
    /// session must be closed.
    open_in_flight: bool,
    /// The most time from the signal to the exit.
    bound: Duration,
}

const PHASES: [Phase; 6] = [
    Phase {
        name: "channel list (stalled)",
        faults: &["stall=channels"],
        extra: &[],
        trigger: Trigger::Fault("stall=channels"),
        open_in_flight: false,
        bound: Duration::from_secs(2),
    },
    Phase {
        name: "channel list (slow)",
        faults: &["slow=channels:3000"],
        extra: &[],
        trigger: Trigger::Fault("slow=channels:3000"),
        open_in_flight: false,
        bound: Duration::from_secs(2),
    },
    // The open answers 3 s after it arrived: hiktalk waits for it (up to --timeout, 4 s)
    // so that it can close the session the device grants after the signal.
    Phase {
        name: "open (slow)",
        faults: &["slow=open:3000"],
        extra: &[],
        trigger: Trigger::Fault("slow=open:3000"),
        open_in_flight: true,
        bound: Duration::from_secs(5),
    },
    // No answer at all: after --timeout (4 s) hiktalk closes blind.
    Phase {
        name: "open (stalled)",
        faults: &["stall=open"],
        extra: &[],
        trigger: Trigger::Fault("stall=open"),
        open_in_flight: true,
        bound: Duration::from_secs(6),
    },
    Phase { name: "streaming", faults: &[], extra: &[], trigger: Trigger::Audio, open_in_flight: false, bound: Duration::from_secs(2) },
    // The close takes 2 s: the exit waits for it, within --timeout (4 s).
    Phase {
        name: "closing (slow close)",
        faults: &["slow=close:2000"],
        extra: &[],
        trigger: Trigger::Audio,
        open_in_flight: false,
        bound: Duration::from_secs(4),
    },
];

const BACKOFF: Phase = Phase {
    name: "backoff wait",
    faults: &["reset-after-bytes=2000,times=1"],
    extra: &["--loop"],
    trigger: Trigger::Says("reconnecting in"),
    open_in_flight: false,
    bound: Duration::from_secs(2),
};

const SIGNALS: [(i32, &str); 3] = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")];

/// Spawns `play` with stderr read line by line; returns the child, a receiver that fires when
/// `says` appears, and the whole stderr once the process ends.
fn spawn(
    sim: &SimHandle,
    wav: &std::path::Path,
    phase: &Phase,
    says: Option<&'static str>,
) -> (std::process::Child, tokio::sync::oneshot::Receiver<()>, std::thread::JoinHandle<String>) {
    let mut cmd = hiktalk();
    // --timeout bounds the close (and an open in flight at the stop): 4 s, as the bounds assume;
    // longer than the slow open's 3 s, so that the open is answered before hiktalk gives up.
    cmd.arg("play").arg(wav).arg(url(sim)).args(["--timeout", "4"]).args(phase.extra).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if says.is_some_and(|s| line.contains(s))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (child, rx, reader)
}

async fn exit_status(mut child: std::process::Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap()
}

/// One case: returns a failure description, or None.
async fn case(phase: Phase, sig: (i32, &'static str), wav: Arc<std::path::PathBuf>) -> Option<String> {
    let faults: Vec<Fault> = phase.faults.iter().map(|f| f.parse().unwrap()).collect();
    let sim = sim::start(SimConfig { faults, ..binary_sim_config() }).await.unwrap();
    let says = match phase.trigger {
        Trigger::Says(s) => Some(s),
        _ => None,
    };
    let (child, said, reader) = spawn(&sim, &wav, &phase, says);
    let label = format!("{} / {}", phase.name, sig.1);
    let fire_at = match phase.trigger {
        Trigger::Fault(f) => {
            sim.wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault == f), Duration::from_secs(15)).await.map(|e| e.t)
        }
        Trigger::Audio => sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(15)).await.map(|e| e.t),
        Trigger::Says(_) => tokio::time::timeout(Duration::from_secs(15), said)
            .await
            .ok()
            .and_then(Result::ok)
            .map(|()| sim.events().last().map_or(0.0, |e| e.t)),
    };
    let Some(signalled_at) = fire_at else {
        signal(&child, libc::SIGKILL);
        return Some(format!("{label}: the phase never came: {:#?}", sim.events()));
    };
    let t = Instant::now();
    signal(&child, sig.0);
    let status = exit_status(child).await;
    let took = t.elapsed();
    let err = tokio::task::spawn_blocking(move || reader.join().unwrap()).await.unwrap();
    if phase.open_in_flight {
        // A slow device grants the open only when its answer goes out (3 s after it arrived),
        // possibly after hiktalk has gone: wait for that before counting, or a leaked session
        // would not be seen yet.
        let open = |e: &hiktalk::sim::Event| matches!(&e.kind, EventKind::Request { path, .. } if path.ends_with("/open"));
        sim.wait_for(open, Duration::from_secs(4)).await;
    }
    let ev = sim.events();
    let opened = count(&ev, |e| matches!(e, EventKind::SessionOpened { .. }));
    let late_opens = ev.iter().filter(|e| e.t > signalled_at && matches!(e.kind, EventKind::SessionOpened { .. })).count();
    let mut problems = Vec::new();
    if status.code() != Some(130) {
        problems.push(format!("exit {status:?}, not 130"));
    }
    if took > phase.bound {
        problems.push(format!("took {took:?} after the signal (bound {:?})", phase.bound));
    }
    if !leaks(&ev).is_empty() {
        problems.push(format!("sessions left open: {:?}", leaks(&ev)));
    }
    if opened > 1 {
        problems.push(format!("{opened} sessions opened: play never reconnects after a stop"));
    }
    // Only an open already in flight at the signal may be granted after it.
    if late_opens > usize::from(phase.open_in_flight) {
        problems.push(format!("{late_opens} sessions opened after the signal"));
    }
    if !err.contains(&format!("stopped by {}", sig.1)) || err.contains("panicked") {
        problems.push("stderr does not say what stopped it".into());
    }
    if phase.open_in_flight && phase.faults[0].starts_with("slow") && opened != 1 {
        problems.push("the open in flight was granted by the device but not seen".into());
    }
    (!problems.is_empty()).then(|| format!("{label}: {}\nstderr: {err}events: {ev:#?}", problems.join("; ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_at_every_phase_closes_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let wav = Arc::new(tone_wav(&dir.path().join("long.wav"), 440.0, 20.0, 8000, 1, 0.3));
    let mut set = tokio::task::JoinSet::new();
    for phase in PHASES.iter().chain([&BACKOFF]) {
        for sig in SIGNALS {
            set.spawn(case(*phase, sig, wav.clone()));
        }
    }
    let mut failures = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Some(f) = r.unwrap() {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), (PHASES.len() + 1) * 3, failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_during_a_slow_close_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("long.wav"), 440.0, 20.0, 8000, 1, 0.3);
    let sim = sim::start(SimConfig { faults: vec!["slow=close:10000".parse().unwrap()], ..binary_sim_config() }).await.unwrap();
    let phase = Phase { name: "second", faults: &[], extra: &[], trigger: Trigger::Audio, open_in_flight: false, bound: Duration::ZERO };
    let (child, _, reader) = spawn(&sim, &wav, &phase, None);
    sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("streaming");
    let t = Instant::now();
    signal(&child, libc::SIGINT);
    // The close has reached the device (which will take 10 s to answer).
    sim.wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault.starts_with("slow=close")), Duration::from_secs(5))
        .await
        .expect("the close request");
    let second = Instant::now();
    signal(&child, libc::SIGINT);
    let status = exit_status(child).await;
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(second.elapsed() < Duration::from_secs(1), "the second SIGINT took {:?}", second.elapsed());
    assert!(t.elapsed() < Duration::from_secs(3), "the close deadline was not waited out: {:?}", t.elapsed());
    assert!(err.contains("SIGINT again"), "{err}");
}

/// A second SIGINT while the device takes its time to answer the open: the session it may
/// still open is said, with the command that closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_during_a_slow_open_says_the_session_may_open() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("long.wav"), 440.0, 20.0, 8000, 1, 0.3);
    let sim = sim::start(SimConfig { faults: vec!["slow=open:10000".parse().unwrap()], ..binary_sim_config() }).await.unwrap();
    let phase = Phase { name: "second", faults: &[], extra: &[], trigger: Trigger::Audio, open_in_flight: false, bound: Duration::ZERO };
    let (child, _, reader) = spawn(&sim, &wav, &phase, None);
    sim.wait_for(|e| matches!(&e.kind, EventKind::FaultFired { fault } if fault.starts_with("slow=open")), Duration::from_secs(10))
        .await
        .expect("the open request");
    signal(&child, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, libc::SIGINT);
    let status = exit_status(child).await;
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("SIGINT again") && err.contains("may stay open"), "{err}");
    assert!(err.contains(&format!("`hiktalk close {} --channel 1`", url(&sim))), "{err}");
}
