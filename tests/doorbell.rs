//! The doorbell commands against the simulated door station: `answer` (a message or the
//! microphone; every way a call ends), `hangup`, `reject`, `wait-ring`, `unlock`, `events`
//! (every alertStream fault), `volume`, and `speak`/`play` on a ringing unit. Each asserts what
//! the device saw afterwards: the call idle, hangUp sent once, the door command seen once, the
//! session closed, nothing leaked. Waits are on the simulator's event log, never on sleeps.

use crate::util::tone::ToneSource;
use crate::util::*;
use hiktalk::sim::{DoorApi, Fault, Profile};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn doorbell() -> SimConfig {
    SimConfig { profile: Profile::Doorbell, ..binary_sim_config() }
}

async fn start(cfg: SimConfig) -> SimHandle {
    sim::start(cfg).await.expect("the simulator starts")
}

async fn run(args: &[&str]) -> Output {
    let mut cmd = hiktalk();
    cmd.args(args);
    let (out, _) = run_to_end(cmd).await;
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn spawn(args: &[&str]) -> Child {
    let mut cmd = hiktalk();
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("start hiktalk")
}

async fn expect(sim: &SimHandle, what: &str, pred: impl Fn(&EventKind) -> bool) -> EventKind {
    match sim.wait_for(|e| pred(&e.kind), WAIT).await {
        Some(e) => e.kind,
        None => panic!("no {what}; log: {:#?}", sim.events()),
    }
}

fn signals(sim: &SimHandle, cmd: &str) -> usize {
    count(&sim.events(), |e| matches!(e, EventKind::CallSignal { cmd: c, .. } if c == cmd))
}

fn call_idle(sim: &SimHandle) -> bool {
    transitions(sim).last().is_some_and(|(_, to, _, _)| to == "idle")
}

fn message(dir: &std::path::Path, secs: f64) -> String {
    tone_wav(&dir.join(format!("msg-{secs}.wav")), 440.0, secs, 8000, 1, 0.3).to_string_lossy().into_owned()
}

/// hiktalk is polling callStatus (its baseline is read) and its alertStream is open.
async fn watching(sim: &SimHandle) {
    expect(sim, "a callStatus read", |k| matches!(k, EventKind::Request { path, status: 200, .. } if path.ends_with("callStatus"))).await;
    expect(sim, "the alertStream", |k| matches!(k, EventKind::AlertStreamOpened { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_plays_a_message_then_hangs_up_and_confirms_idle() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(doorbell()).await;
    sim.ring();
    let out = run(&["--json", "answer", &url(&sim), "--play", &message(dir.path(), 1.0)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["reason"], "end_of_input", "{v}");
    assert_eq!((v["call"]["hung_up"].as_bool(), v["call"]["call_state"].as_str()), (Some(true), Some("idle")), "{v}");
    assert_eq!((v["sessions_opened"].as_u64(), v["closes_confirmed"].as_u64()), (Some(1), Some(1)), "{v}");
    assert_eq!(
        transitions(&sim),
        [step("idle", "ring", "ring", "local"), step("ring", "onCall", "answer", "client"), step("onCall", "idle", "hangUp", "client")]
    );
    assert_eq!((signals(&sim, "answer"), signals(&sim, "hangUp")), (1, 1));
    let ended = expect(&sim, "the upload's end", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let EventKind::AudioEnded { listened, .. } = ended else { unreachable!() };
    assert!(listened.audio_seconds > 0.9 && listened.unheard_seconds == 0.0, "heard in the call, not under the ring: {listened:?}");
    assert!(leaks(&sim.events()).is_empty(), "{:?}", leaks(&sim.events()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_without_a_ring_says_not_ringing_or_waits_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(dir.path(), 0.5);
    let sim = start(doorbell()).await;
    let u = url(&sim);
    let out = run(&["--json", "answer", &u, "--play", &msg]).await;
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["reason"].as_str(), v["call_state"].as_str()), (Some("not_ringing"), Some("idle")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("--wait"), "{v}");
    let out = run(&["answer", &u, "--play", &msg, "--wait", "0.3"]).await;
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    assert!(stderr(&out).contains("no ring within 0.3 s"), "{}", stderr(&out));
    assert_eq!(count(&sim.events(), opened), 0, "nothing answered, nothing opened");

    let sim = start(doorbell()).await;
    let child = spawn(&["--json", "answer", &url(&sim), "--play", &msg, "--wait", "20", "--poll-interval", "0.1"]);
    watching(&sim).await;
    sim.ring();
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["call"]["ring"]["type"], "ring", "{v}");
    assert_eq!(signals(&sim, "answer"), 1, "one ring answered once (seen on the stream and in callStatus)");
    assert!(call_idle(&sim) && leaks(&sim.events()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stop_signal_during_a_call_closes_the_session_and_hangs_up_once() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(dir.path(), 20.0);
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let sim = start(doorbell()).await;
        sim.ring();
        let child = spawn(&["--json", "answer", &url(&sim), "--play", &msg]);
        expect(&sim, "audio", |k| matches!(k, EventKind::AudioStarted { .. })).await;
        signal(&child, sig);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!((v["reason"].as_str(), v["signal"].as_str()), (Some("user_stop"), Some(name)), "{v}");
        assert_eq!(v["call"]["hung_up"], true, "{v}");
        assert_eq!(signals(&sim, "hangUp"), 1, "{name}");
        assert!(call_idle(&sim), "{name}: {:?}", transitions(&sim));
        let events = sim.events();
        assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1), "{name}");
        assert!(leaks(&events).is_empty(), "{name}: {:?}", leaks(&events));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_side_hanging_up_ends_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(doorbell()).await;
    sim.ring();
    let child = spawn(&["--json", "answer", &url(&sim), "--play", &message(dir.path(), 20.0), "--poll-interval", "0.1"]);
    expect(&sim, "audio", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    assert!(sim.hang_up(), "the indoor station hangs up");
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["reason"].as_str(), v["call"]["ended_by"].as_str()), (Some("call_ended"), Some("device")), "{v}");
    assert!(v.get("signal").is_none(), "{v}");
    assert_eq!(signals(&sim, "hangUp"), 0, "nothing left to hang up");
    let events = sim.events();
    assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1));
    assert!(leaks(&events).is_empty(), "{:?}", leaks(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_talks_with_the_microphone_as_speak_does() {
    let source = ToneSource::start(440.0, -12.0).expect("the fake microphone");
    let sim = start(doorbell()).await;
    sim.ring();
    let mut cmd = hiktalk();
    cmd.args(["--json", "answer", &url(&sim), "--no-listen", "--input", &source.device_id()]).envs(source.env());
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    expect(&sim, "audio", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["reason"].as_str(), v["call"]["hung_up"].as_bool()), (Some("user_stop"), Some(true)), "{v}");
    assert!(v.get("capture_samples_dropped").is_some(), "speak's figures: {v}");
    assert!(call_idle(&sim) && leaks(&sim.events()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_answer_and_a_device_without_call_control() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(dir.path(), 0.5);
    // The indoor station answers while hiktalk's answer is on its way: invalidOperation.
    let slow: Fault = "slow=callsignal:500,times=1".parse().unwrap();
    let sim = start(SimConfig { faults: vec![slow], ..doorbell() }).await;
    sim.ring();
    let child = spawn(&["--json", "answer", &url(&sim), "--play", &msg]);
    expect(&sim, "the slow answer", |k| matches!(k, EventKind::FaultFired { .. })).await;
    assert!(sim.answer());
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(13), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["reason"], "refused", "{v}");
    assert!(v["message"].as_str().unwrap().contains("answered elsewhere"), "{v}");
    assert_eq!(count(&sim.events(), opened), 0);

    // An old unit: callStatus (and everything else of the call) answers 404.
    let sim = start(SimConfig { call_control: false, ..doorbell() }).await;
    sim.ring();
    let u = url(&sim);
    for args in [vec!["answer", "--play", msg.as_str()], vec!["hangup"], vec!["reject"]] {
        let mut all = vec!["--json"];
        all.extend(args.iter().copied());
        all.push(&u);
        let out = run(&all).await;
        assert_eq!(out.status.code(), Some(8), "{args:?}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["reason"], "unsupported", "{v}");
        assert!(v["message"].as_str().unwrap().contains("call control"), "{v}");
    }
    assert_eq!(count(&sim.events(), opened), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_and_reject_confirm_from_call_status() {
    let sim = start(doorbell()).await;
    let u = url(&sim);
    sim.ring();
    let out = run(&["hangup", &u]).await;
    assert_eq!(out.status.code(), Some(13), "{}", stderr(&out));
    assert!(stderr(&out).contains("`hiktalk reject` ends a ring"), "{}", stderr(&out));
    let out = run(&["--json", "reject", &u]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["call_state_before"].as_str(), v["call_state"].as_str()), (Some("ring"), Some("idle")), "{v}");
    let out = run(&["--json", "reject", &u]).await;
    assert_eq!(out.status.code(), Some(13), "{}", stderr(&out));
    assert!(json(&out)["message"].as_str().unwrap().contains("invalidOperation"), "{}", json(&out));
    sim.ring();
    assert!(sim.answer());
    let out = run(&["hangup", &u]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("onCall -> idle (confirmed)"), "{}", stderr(&out));
    assert_eq!(
        transitions(&sim),
        [
            step("idle", "ring", "ring", "local"),
            step("ring", "idle", "reject", "client"),
            step("idle", "ring", "ring", "local"),
            step("ring", "onCall", "answer", "local"),
            step("onCall", "idle", "hangUp", "client")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ring_says_who_rings_and_times_out() {
    let quiet = start(doorbell()).await;
    let out = run(&["--json", "wait-ring", &url(&quiet), "--timeout", "0.3"]).await;
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    assert_eq!(json(&out)["reason"], "timed_out");

    let sim = start(doorbell()).await;
    let u = url(&sim);

    let child = spawn(&["--json", "wait-ring", &u]);
    watching(&sim).await;
    sim.ring();
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!((v["ring"]["type"].as_str(), v["ring"]["source"].as_str()), (Some("ring"), Some("alertStream")), "{v}");
    assert_eq!(v["caller"]["buildingNo"], 1, "{v}");
    // Human: the ring and the caller on stdout.
    sim.hang_up();
    let child = spawn(&["wait-ring", &u]);
    expect(&sim, "a second stream", |k| matches!(k, EventKind::AlertStreamOpened { stream: 2, .. })).await;
    sim.ring();
    let out = wait_child(child).await;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("ringing") && said.contains("building 1, floor 1"), "{said}");

    // No call control: the ring still comes on the stream. Every stop signal interrupts a wait
    // (130).
    let sim = start(SimConfig { call_control: false, ..doorbell() }).await;
    let child = spawn(&["wait-ring", &url(&sim)]);
    expect(&sim, "the alertStream", |k| matches!(k, EventKind::AlertStreamOpened { .. })).await;
    sim.ring();
    assert_eq!(wait_child(child).await.status.code(), Some(0));
    for (n, sig) in [(2, libc::SIGINT), (3, libc::SIGTERM), (4, libc::SIGHUP)] {
        let child = spawn(&["wait-ring", &url(&sim)]);
        expect(&sim, "another stream", |k| matches!(k, EventKind::AlertStreamOpened { stream, .. } if *stream == n)).await;
        wait_for_signal_handlers(&child).await;
        signal(&child, sig);
        assert_eq!(wait_child(child).await.status.code(), Some(130), "signal {sig}");
    }
    let opened = sim.events().iter().filter(|e| matches!(e.kind, EventKind::AlertStreamOpened { .. })).count();
    assert_eq!(opened, 4, "one stream per wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_opens_a_door_once_by_either_api_and_reports_refusals() {
    let actions = |sim: &SimHandle| -> Vec<(u32, String, bool)> {
        sim.events()
            .into_iter()
            .filter_map(|e| match e.kind {
                EventKind::DoorAction { door, api, accepted, .. } => Some((door, api, accepted)),
                _ => None,
            })
            .collect()
    };
    let sim = start(SimConfig { doors: 2, ..doorbell() }).await;
    let out = run(&["--json", "unlock", &url(&sim), "--door", "2"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(
        (v["door"].as_u64(), v["api"].as_str(), v["status"]["status_code"].as_u64()),
        (Some(2), Some("RemoteControl/door"), Some(1)),
        "{v}"
    );
    let out = run(&["unlock", &url(&sim), "--door", "3"]).await;
    assert_eq!(out.status.code(), Some(13), "{}", stderr(&out));
    assert!(stderr(&out).contains("doorNo 3 is out of range 1-2"), "{}", stderr(&out));
    assert_eq!(
        actions(&sim),
        [(2, "remoteControl".into(), true), (3, "remoteControl".into(), false)],
        "each command once, no fallback after a refusal"
    );

    let sim = start(SimConfig { door_api: DoorApi::RemoteOpenDoor, ..doorbell() }).await;
    let out = run(&["--json", "unlock", &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["api"], "remoteOpenDoor");
    assert_eq!(actions(&sim), [(1, "remoteOpenDoor".into(), true)]);

    let cam = start(binary_sim_config()).await;
    let out = run(&["unlock", &url(&cam)]).await;
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(stderr(&out).contains("no door control"), "{}", stderr(&out));
}

/// Lines hiktalk prints on stdout, as they come.
fn stdout_lines(child: &mut Child) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use std::io::BufRead;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Every event, whatever its source, has each field in one type and one format: `channel` a
/// number or null, `time` UTC ending in `Z`, `door` a number or null (never missing).
fn one_format(v: &serde_json::Value) {
    assert!(v["channel"].is_u64() || v["channel"].is_null(), "{v}");
    let time = v["time"].as_str().unwrap_or_else(|| panic!("a time: {v}"));
    assert!(time.ends_with('Z') && humantime::parse_rfc3339(time).is_ok(), "{v}");
    assert!(v.get("door").is_some_and(|d| d.is_u64() || d.is_null()), "{v}");
}

async fn line_where(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    loop {
        let line = tokio::time::timeout(WAIT, lines.recv()).await.expect("a line in time").expect("stdout open");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if pred(&v) {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_prints_json_lines_filtered_and_stops_without_a_reconnect() {
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let sim =
            start(SimConfig { heartbeat: Duration::from_millis(100), door_open_time: Duration::from_millis(100), ..doorbell() }).await;
        let mut child = spawn(&["--json", "events", &url(&sim), "--type", "ring,doorLocked,callStatus", "--poll-interval", "0.1"]);
        let mut lines = stdout_lines(&mut child);
        watching(&sim).await;
        sim.ring();
        let ring = line_where(&mut lines, |v| v["type"] == "ring").await;
        assert_eq!(
            (ring["source"].as_str(), ring["state"].as_str(), ring["channel"].as_i64()),
            (Some("alertStream"), Some("active"), Some(1)),
            "{ring}"
        );
        assert_eq!(ring["fields"]["AccessControllerEvent"]["subEventType"], 0x25, "{ring}");
        let call = line_where(&mut lines, |v| v["type"] == "callStatus").await;
        assert_eq!((call["state"].as_str(), call["fields"]["previous"].as_str()), (Some("ring"), Some("idle")), "{call}");
        assert!(sim.open_door(1));
        let locked = line_where(&mut lines, |v| v["type"] != "callStatus").await;
        assert_eq!((locked["type"].as_str(), locked["door"].as_u64()), (Some("doorLocked"), Some(1)), "only the types asked for: {locked}");
        for event in [&ring, &call, &locked] {
            one_format(event);
        }
        wait_for_signal_handlers(&child).await;
        signal(&child, sig);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let mut rest: Vec<String> = Vec::new();
        // Until the reader sees the pipe's end: the last line may still be on its way.
        while let Some(l) = lines.recv().await {
            rest.push(l);
        }
        let outcome: serde_json::Value = serde_json::from_str(rest.last().expect("the outcome line")).unwrap();
        assert_eq!((outcome["reason"].as_str(), outcome["signal"].as_str()), (Some("user_stop"), Some(name)), "{outcome}");
        assert_eq!((outcome["reconnects"].as_u64(), outcome["rings_merged"].as_u64()), (Some(0), Some(1)), "{outcome}");
        assert!(outcome["heartbeats"].as_u64().unwrap() >= 1, "{outcome}");
        expect(&sim, "the stream's close", |k| matches!(k, EventKind::AlertStreamClosed { reason, .. } if reason == "client_closed")).await;
        assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::AlertStreamOpened { .. })), 1, "{name}: no reconnect after the stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_every_alert_stream_fault() {
    // (fault, whether the stream is reopened)
    let cases = [
        ("no-heartbeat,times=1", true),
        ("cut-mid-part,times=1", true),
        ("oversized-part", false),
        ("no-boundary", false),
        ("doubled-boundary", false),
        ("jpeg-part", false),
    ];
    for (fault, reconnects) in cases {
        let cfg = SimConfig { heartbeat: Duration::from_millis(100), faults: vec![fault.parse().unwrap()], ..doorbell() };
        let sim = start(cfg).await;
        let mut child = spawn(&["--json", "events", &url(&sim), "--heartbeat-timeout", "0.5", "--type", "ring"]);
        let mut lines = stdout_lines(&mut child);
        let stream = if reconnects { 2 } else { 1 };
        expect(&sim, "the stream that works", |k| matches!(k, EventKind::AlertStreamOpened { stream: s, .. } if *s == stream)).await;
        sim.ring();
        let ring = line_where(&mut lines, |v| v["type"] == "ring").await;
        assert_eq!(ring["fields"]["AccessControllerEvent"]["subEventType"], 0x25, "{fault}: {ring}");
        wait_for_signal_handlers(&child).await;
        signal(&child, libc::SIGINT);
        let out = wait_child(child).await;
        assert_eq!(out.status.code(), Some(0), "{fault}: {}", stderr(&out));
        let mut rest = Vec::new();
        // Until the reader sees the pipe's end: the last line may still be on its way.
        while let Some(l) = lines.recv().await {
            rest.push(l);
        }
        let outcome: serde_json::Value = serde_json::from_str(rest.last().expect("the outcome line")).unwrap();
        assert_eq!(outcome["reconnects"].as_u64(), Some(u64::from(reconnects)), "{fault}: {outcome} {}", stderr(&out));
        assert_eq!(outcome["events_printed"], 1, "{fault}: one ring, printed once: {outcome}");
        if reconnects {
            assert!(stderr(&out).contains("reconnecting in"), "{fault}: {}", stderr(&out));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_shows_and_sets_what_each_device_has() {
    let sim = start(doorbell()).await;
    let u = url(&sim);
    let out = run(&["volume", &u]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("talk volume     5 (0-10)") && table.contains("mic volume      100"), "{table}");
    assert_eq!(run(&["volume", &u, "7"]).await.status.code(), Some(0));
    assert_eq!(run(&["volume", &u, "--speaker", "3"]).await.status.code(), Some(0));
    let out = run(&["--json", "volume", &u, "11"]).await;
    assert_eq!(out.status.code(), Some(13), "{}", stderr(&out));
    assert!(json(&out)["message"].as_str().unwrap().contains("range is 0-10"), "{}", json(&out));
    assert_eq!(run(&["volume", &u, "--mic", "40"]).await.status.code(), Some(0));
    let out = run(&["--json", "status", &u]).await;
    let v = json(&out);
    assert_eq!((v["audio_out"]["talk_volume"].as_u64(), v["audio_out"]["volume"].as_u64()), (Some(7), Some(3)), "{v}");
    assert_eq!(v["call_status"], "idle");
    let cam = start(binary_sim_config()).await;
    let out = run(&["--json", "volume", &url(&cam), "30"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["volumes"]["speaker"], 30);
    let changes: Vec<(String, i64, i64, bool)> = sim
        .events()
        .into_iter()
        .chain(cam.events())
        .filter_map(|e| match e.kind {
            EventKind::Volume { name, from, to, accepted, .. } => Some((name, from, to, accepted)),
            _ => None,
        })
        .collect();
    let want = [
        ("talkVolume", 5, 7, true),
        ("volume", 5, 3, true),
        ("talkVolume", 7, 11, false),
        ("microphoneVolume", 100, 40, true),
        ("speakerVolume", 100, 30, true),
    ];
    assert_eq!(changes, want.map(|(n, f, t, a)| (n.to_string(), f, t, a)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_on_a_ringing_doorbell_says_so_or_stops_the_ring() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(dir.path(), 0.5);
    let sim = start(doorbell()).await;
    sim.ring();
    // Without --stop-ring nothing is sent (the unit would take it and play none of it): said,
    // and exit 14, the channel's codec put back.
    let out = run(&["--json", "play", "--set-codec", "alaw", &msg, &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(14), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["reason"], "ringing", "{v}");
    assert!(v["message"].as_str().unwrap().contains("--stop-ring") && v["codec_restored"] == "G.711ulaw", "{v}");
    assert_eq!(count(&sim.events(), opened), 0, "no session: {:#?}", sim.events());

    let sim = start(doorbell()).await;
    sim.ring();
    let out = run(&["play", "--stop-ring", &msg, &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("stopped the ring"), "{}", stderr(&out));
    assert_eq!(transitions(&sim), [step("idle", "ring", "ring", "local"), step("ring", "idle", "deleteRing", "client")]);
    let ended = expect(&sim, "the upload's end", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let EventKind::AudioEnded { listened, .. } = ended else { unreachable!() };
    assert_eq!(listened.unheard_seconds, 0.0, "{listened:?}");
    assert!(leaks(&sim.events()).is_empty());
}

/// No microphone, no speaker, no readable message: `answer` says so before it picks up, and the
/// visitor's ring is left ringing (no callSignal at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_checks_everything_local_before_it_picks_up() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wav").to_string_lossy().into_owned();
    let source = ToneSource::start(440.0, -12.0).expect("the fake microphone");
    let sim = start(doorbell()).await;
    sim.ring();
    let mic = source.device_id();
    let cases: [(Vec<&str>, bool); 3] = [
        (vec!["--input", "no-such-microphone"], false),
        (vec!["--input", &mic, "--output", "no-such-speaker"], true),
        (vec!["--play", &missing], false),
    ];
    for (args, with_mic) in cases {
        let mut cmd = hiktalk();
        cmd.arg("answer").arg(url(&sim)).args(&args);
        if with_mic {
            cmd.envs(source.env());
        }
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::CallSignal { .. })), 0, "{args:?}: not answered");
    }
    assert_eq!(transitions(&sim), [step("idle", "ring", "ring", "local")], "still ringing");
}

/// A second Ctrl-C during `answer --play`'s slow close exits at once and says what is left on
/// the door station (the call, the session) and the command that clears each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_in_a_call_says_what_is_left_and_how_to_clear_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimConfig { faults: vec!["slow=close:10000".parse().unwrap()], ..doorbell() }).await;
    sim.ring();
    let u = url(&sim);
    let child = spawn(&["answer", &u, "--play", &message(dir.path(), 20.0)]);
    expect(&sim, "audio", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    signal(&child, libc::SIGINT);
    expect(&sim, "the close", |k| matches!(k, EventKind::FaultFired { fault } if fault.starts_with("slow=close"))).await;
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("SIGINT again"), "{err}");
    assert!(err.contains(&format!("`hiktalk hangup {u}`")), "the call: {err}");
    assert!(err.contains(&format!("`hiktalk close {u} --channel 1`")), "the session: {err}");
}

/// `sim` is a door station for the doorbell commands, in the state each acts on: each works
/// with no device at all, and `wait-ring sim` rings by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doorbell_commands_work_with_the_built_in_sim() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message(dir.path(), 0.5);
    let runs: [(&[&str], &str); 5] = [
        (&["unlock", "sim"], "door 1 opened"),
        (&["hangup", "sim"], "hangUp sent"),
        (&["reject", "sim"], "reject sent"),
        (&["wait-ring", "sim", "--timeout", "10"], "ringing"),
        (&["answer", "sim", "--play", &msg], "hung up"),
    ];
    for (args, says) in runs {
        let mut cmd = hiktalk();
        cmd.args(args);
        let (out, took) = tokio::time::timeout(Duration::from_secs(20), run_to_end(cmd)).await.expect("ends");
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{args:?} after {took:?}: {all}");
        assert!(all.contains("simulated door station") && all.contains(says), "{args:?}: {all}");
    }
}

/// A stop while `unlock` or `hangup` waits for the device's answer: exit 130 at once, and the
/// message says what the request may still do and the command that clears it (#20 items 2-3,
/// for every command); the JSON has it as `left`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_during_a_door_or_call_request_says_what_may_be_left() {
    for (args, fault, says) in [
        (&["unlock"][..], "slow=door:8000", "door 1 may open anyway: the request was sent"),
        (&["hangup"], "slow=callsignal:8000", "the call may still be up: `hiktalk hangup "),
        (&["--json", "unlock"], "slow=door:8000", "door 1 may open anyway"),
    ] {
        let sim = start(SimConfig { faults: vec![fault.parse().unwrap()], ..doorbell() }).await;
        sim.ring();
        sim.answer();
        let mut cmd = hiktalk();
        cmd.args(args).arg(url(&sim)).stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        wait_for_signal_handlers(&child).await;
        expect(&sim, "the slow request", |k| matches!(k, EventKind::FaultFired { fault: f } if f.starts_with(fault))).await;
        signal(&child, libc::SIGINT);
        let out = tokio::time::timeout(Duration::from_secs(5), wait_child(child)).await.expect("exits at once");
        assert_eq!(out.status.code(), Some(130), "{args:?}: {}", stderr(&out));
        if args[0] == "--json" {
            let v = json(&out);
            assert!(v["left"][0].as_str().unwrap().contains(says), "{v}");
        } else {
            assert!(stderr(&out).contains(&format!("stopped by SIGINT before the device answered; {}", url(&sim))), "{}", stderr(&out));
            assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        }
    }
}
