//! `hiktalk check` against the simulator: each profile's expected report, faults and a device
//! answering nonsense as fails (never a panic), one login attempt with a wrong password, the
//! idle measurement, and 20 devices checked in parallel. After every run the simulated
//! device's log shows nothing left behind: every session opened was closed by hiktalk, and a
//! codec switched for the check was put back.

use crate::util::*;
use hiktalk::sim::{Fault, Profile, Variation};
use serde_json::Value;
use std::time::Duration;

/// Test timings: an idle hang-up after 2 s, a heartbeat every second.
fn config(profile: Profile) -> SimConfig {
    SimConfig { profile, heartbeat: Duration::from_secs(1), ..binary_sim_config() }
}

async fn check(args: &[&str]) -> (std::process::Output, Duration) {
    let mut cmd = hiktalk();
    cmd.arg("check").args(args);
    let (out, took) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    (out, took)
}

/// Check `name` in a device's report.
fn check_in<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks: {report}"))
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

/// The verdict of check `name` in a device's report.
fn verdict<'a>(report: &'a Value, name: &str) -> &'a str {
    check_in(report, name)["verdict"].as_str().unwrap_or_else(|| panic!("check {name} has no verdict: {report}"))
}

/// Nothing left behind at the device: no session hiktalk did not close, and every channel's
/// codec as it was (the last codec a channel was set to is the one it started with).
fn nothing_left(sim: &SimHandle) {
    let events = sim.events();
    assert_eq!(leaks(&events), Vec::<String>::new());
    let last_codec = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::ChannelUpdated { codec, .. } => Some(codec.clone()),
        _ => None,
    });
    assert!(last_codec.as_deref().is_none_or(|c| c == "G.711ulaw"), "codec left at {last_codec:?}");
}

fn bad_passwords(sim: &SimHandle) -> usize {
    count(&sim.events(), |e| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_gives_its_expected_report() {
    let sims = futures_util::future::join_all(Profile::ALL.map(|p| async move { (p, sim::start(config(p)).await.unwrap()) })).await;
    let runs = sims.iter().map(|(_, sim)| {
        let u = url(sim);
        async move { check(&["--json", &u]).await }
    });
    let outs = futures_util::future::join_all(runs).await;
    for ((profile, sim), (out, _)) in sims.iter().zip(outs) {
        assert_eq!(out.status.code(), Some(0), "{profile}: {}", String::from_utf8_lossy(&out.stdout));
        let r = json(&out);
        for always in [
            "reachable",
            "auth",
            "login",
            "device_info",
            "channels",
            "talk",
            "close",
            "channel_free",
            "listen",
            "session_id",
            "upload_styles",
            "events",
            "volumes",
            "left_behind",
        ] {
            assert_eq!(verdict(&r, always), "pass", "{profile} {always}: {r}");
        }
        // The simulated devices drop a chunked upload, as devices do; the other styles play.
        let styles = &check_in(&r, "upload_styles")["figures"];
        assert_eq!((styles["fixed_length"].as_bool(), styles["chunked"].as_bool()), (Some(true), Some(false)), "{profile}: {r}");
        assert_eq!(verdict(&r, "tls"), "skipped");
        assert_eq!(verdict(&r, "idle"), "skipped");
        let (call, doors, switch, quirks) = match profile {
            Profile::Modern => ("skipped", "skipped", "pass", vec![]),
            Profile::Legacy => ("skipped", "skipped", "pass", vec!["psia-namespace"]),
            Profile::AacOnly => ("skipped", "skipped", "warn", vec!["aac-only"]),
            Profile::Doorbell => ("pass", "pass", "pass", vec!["kv6113-door"]),
        };
        assert_eq!((verdict(&r, "call_state"), verdict(&r, "doors"), verdict(&r, "codec_switch")), (call, doors, switch), "{profile}: {r}");
        assert_eq!(r["quirks"], serde_json::json!(quirks), "{profile}");
        assert_eq!(verdict(&r, "quirks"), if quirks.is_empty() { "pass" } else { "warn" }, "{profile}");
        assert!(r["model"].as_str().is_some_and(|m| m.starts_with("DS-")) && r["firmware"].is_string(), "{profile}: {r}");
        let given = r["checks"].as_array().unwrap().iter().find(|c| c["name"] == "session_id").unwrap()["figures"]["given"].clone();
        assert_eq!(given, *profile != Profile::Legacy, "{profile}: {r}");
        // Two sessions (talk, then the second open), both closed by hiktalk; no prompt played.
        let s = sim.summary();
        assert_eq!((s.sessions_opened, r["sessions_opened"].as_u64()), (2, Some(2)), "{profile}");
        assert_eq!(count(&sim.events(), closed_by_client), 2, "{profile}");
        assert_eq!(s.prompts_played, 0, "{profile}");
        assert_eq!(bad_passwords(sim), 0, "{profile}");
        nothing_left(sim);
        if *profile == Profile::AacOnly {
            let codecs: Vec<String> = sim
                .events()
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::ChannelUpdated { codec, .. } => Some(codec.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(codecs, ["AAC", "G.711ulaw"], "switched once, restored once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_reaches_the_device_once_and_nothing_else_is_tried() {
    let sim = sim::start(SimConfig { password: "another-one".into(), ..config(Profile::Modern) }).await.unwrap();
    let (out, _) = check(&["--json", &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(15), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(verdict(&r, "login"), "fail", "{r}");
    assert_eq!(verdict(&r, "talk"), "skipped", "{r}");
    assert_eq!(r["reason"], "check_failed");
    assert_eq!(bad_passwords(&sim), 1, "the password must reach the device exactly once");
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::Request { .. })), 2, "the challenge and the one attempt");
    assert_eq!(sim.summary().sessions_opened, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_give_fails_and_leave_nothing_behind() {
    let cases: [(&str, &str, Profile); 13] = [
        ("close-keeps-channel", "channel_free", Profile::Modern),
        ("close-keeps-channel", "channel_free", Profile::AacOnly),
        ("no-heartbeat", "events", Profile::Modern),
        ("http500=open", "talk", Profile::Modern),
        ("malformed-xml=channels", "channels", Profile::Legacy),
        ("hangup-after-bytes=4000", "talk", Profile::Modern),
        ("http500=mic", "listen", Profile::Modern),
        ("stall=deviceinfo", "reachable", Profile::Modern),
        ("401-no-challenge", "login", Profile::Modern),
        ("http500=close", "left_behind", Profile::Modern),
        ("http500=callstatus", "call_state", Profile::Doorbell),
        ("malformed-xml=door", "doors", Profile::Doorbell),
        ("stall=alertstream", "events", Profile::Doorbell),
    ];
    let sims = futures_util::future::join_all(cases.map(|(fault, _, profile)| async move {
        let fault: Fault = fault.parse().unwrap();
        sim::start(SimConfig { faults: vec![fault], ..config(profile) }).await.unwrap()
    }))
    .await;
    let runs = sims.iter().map(|sim| {
        let u = url(sim);
        async move { check(&["--json", "--timeout", "2", &u]).await }
    });
    let outs = futures_util::future::join_all(runs).await;
    for (((fault, failing, profile), sim), (out, _)) in cases.iter().zip(&sims).zip(outs) {
        assert_eq!(out.status.code(), Some(15), "{fault} on {profile}: {}", stderr(&out));
        let r = json(&out);
        assert_eq!(verdict(&r, failing), "fail", "{fault} on {profile}: {r}");
        assert_eq!(bad_passwords(sim), 0, "{fault}");
        let events = sim.events();
        match *fault {
            "close-keeps-channel" => {
                // The device kept the session although it said OK to the close: hiktalk closed
                // it, says why the channel stays busy, and put the codec back.
                assert!(r["quirks"].as_array().unwrap().contains(&"close-keeps-channel".into()), "{r}");
                let closes = count(&events, |e| matches!(e, EventKind::Request { path, status: 200, .. } if path.ends_with("/close")));
                assert!(closes >= 1 && sim.summary().sessions_opened == 1, "{closes} closes: {r}");
                assert_eq!(verdict(&r, "left_behind"), "pass", "{r}");
                let last = events.iter().rev().find_map(|e| match &e.kind {
                    EventKind::ChannelUpdated { codec, .. } => Some(codec.clone()),
                    _ => None,
                });
                assert!(last.as_deref().is_none_or(|c| c == "G.711ulaw"), "{last:?}");
            }
            // The device refuses every close: the session stays, and the report says so.
            "http500=close" => assert_eq!(verdict(&r, "close"), "fail", "{r}"),
            _ => nothing_left(sim),
        }
    }
}

/// Every other fault the simulator has, on the modern camera: the check that meets it fails
/// (exit 15), or, where hiktalk rides it out, everything passes (exit 0); never a panic, and
/// nothing is left behind either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_fault_gives_its_report_and_leaves_nothing_behind() {
    let cases: [(&str, Option<&str>); 12] = [
        ("hangup-after-secs=1", Some("talk")),
        ("reset-after-bytes=4000", Some("talk")),
        ("reset-after-secs=1", Some("talk")),
        ("freeze-after-bytes=4000", Some("talk")),
        ("truncated-xml=channels", Some("channels")),
        ("slow=open:3000", Some("talk")),
        ("pause-after-bytes=4000:1000", None),
        ("slow=open:300", None),
        ("cut-mid-part", None),
        ("no-boundary", None),
        ("doubled-boundary", None),
        ("jpeg-part", None),
    ];
    let sims = futures_util::future::join_all(cases.map(|(fault, _)| async move {
        let fault: Fault = fault.parse().unwrap();
        sim::start(SimConfig { faults: vec![fault], ..config(Profile::Modern) }).await.unwrap()
    }))
    .await;
    let runs = sims.iter().map(|sim| {
        let u = url(sim);
        async move { check(&["--json", "--timeout", "2", &u]).await }
    });
    let outs = futures_util::future::join_all(runs).await;
    for (((fault, failing), sim), (out, _)) in cases.iter().zip(&sims).zip(outs) {
        let r = json(&out);
        let failed: Vec<&str> =
            r["checks"].as_array().unwrap().iter().filter(|c| c["verdict"] == "fail").filter_map(|c| c["name"].as_str()).collect();
        match failing {
            Some(check) => {
                assert_eq!(out.status.code(), Some(15), "{fault}: {r}");
                assert!(failed.contains(check), "{fault}: {check} should fail: {r}");
            }
            None => assert_eq!((out.status.code(), failed), (Some(0), vec![]), "{fault}: {r}"),
        }
        nothing_left(sim);
    }
}

/// A server that answers every request with 200 and a line of text.
async fn nonsense_device() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let body = "hello, this is not a camera \u{1b}[31m|";
                    let answer = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_answering_nonsense_gets_fails_not_a_panic() {
    let (addr, task) = nonsense_device().await;
    let (out, _) = check(&["--json", &format!("http://{addr}")]).await;
    assert_eq!(out.status.code(), Some(15), "{}", stderr(&out));
    let r = json(&out);
    for name in ["device_info", "channels", "events"] {
        assert_eq!(verdict(&r, name), "fail", "{name}: {r}");
    }
    assert_eq!(verdict(&r, "talk"), "skipped", "{r}");
    let (out, _) = check(&["--markdown", &format!("http://{addr}")]).await;
    let row = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(row.starts_with("| - | - | - | skipped |") && row.trim_end().ends_with("| fails |"), "{row}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_warns_then_measures_the_hang_up() {
    let sim = sim::start(config(Profile::Modern)).await.unwrap();
    let (out, _) = check(&["--json", "--idle", &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("it will play its \"call ended\" prompt once"), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(verdict(&r, "idle"), "pass", "{r}");
    let idle =
        r["checks"].as_array().unwrap().iter().find(|c| c["name"] == "idle").unwrap()["figures"]["idle_hangup_secs"].as_f64().unwrap();
    assert!((1.8..4.0).contains(&idle), "the simulator hangs up after 2 s: {idle}");
    let s = sim.summary();
    assert_eq!((s.sessions_opened, s.prompts_played), (3, 1), "{s:?}");
    nothing_left(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_table_is_what_check_says_of_each_profile() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains(hiktalk::check::Report::MARKDOWN_HEADER), "README's Compatibility table has check's header");
    let sims = futures_util::future::join_all(Profile::ALL.map(|p| async move { sim::start(config(p)).await.unwrap() })).await;
    let rows = futures_util::future::join_all(sims.iter().map(|sim| {
        let u = url(sim);
        async move { check(&["--markdown", &u]).await }
    }))
    .await;
    for (out, _) in rows {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let row = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        assert!(readme.lines().any(|l| l == row), "README lacks the row {row}");
    }
    // The human form: the device, one line per check with advice after the arrow, a summary.
    let aac_only = &sims[3];
    assert_eq!(Profile::ALL[3], Profile::AacOnly);
    let (out, _) = check(&[&url(aac_only)]).await;
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        lines.lines().any(|l| l.trim_start().starts_with("warn     codec_switch") && l.contains("-> set the talk codec to AAC")),
        "{lines}"
    );
    assert_eq!(lines.lines().count(), 21, "{lines}");
    assert!(stderr(&out).contains("20 checks: "), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doorbell_in_a_call_is_not_interrupted() {
    let sim = sim::start(config(Profile::Doorbell)).await.unwrap();
    sim.ring();
    assert!(sim.answer());
    let (out, _) = check(&["--json", &url(&sim)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!((verdict(&r, "talk"), verdict(&r, "call_state")), ("skipped", "pass"), "{r}");
    assert_eq!(sim.summary().sessions_opened, 0);
    assert_eq!(transitions(&sim).len(), 2, "ring and answer, nothing from check: {:?}", transitions(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_are_checked_in_parallel() {
    // What `hiktalk sim --devices 20` runs.
    let many = sim::start_many(&config(Profile::Modern), 20, &Variation::default()).await.unwrap();
    let urls: Vec<String> = many.devices.iter().map(|(_, d)| url(d)).collect();
    let mut args = vec!["--json"];
    args.extend(urls.iter().map(String::as_str));
    let (out, took) = check(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = json(&out);
    assert_eq!(r["devices_total"], 20);
    // Each device's first session opened before any device's last session closed: all were in
    // their checks at the same moment (sequentially, 20 checks take 20 times one).
    let at = |d: &SimHandle, pred: fn(&EventKind) -> bool, last: bool| {
        let times: Vec<f64> = d.events().iter().filter(|e| pred(&e.kind)).map(|e| e.t).collect();
        let t = if last { times.last() } else { times.first() };
        d.origin() + Duration::from_secs_f64(*t.expect("a session"))
    };
    let first_open = many.devices.iter().map(|(_, d)| at(d, opened, false)).max().unwrap();
    let last_close = many.devices.iter().map(|(_, d)| at(d, closed_by_client, true)).min().unwrap();
    assert!(first_open < last_close, "the checks did not overlap (took {took:?})");
    for (_, d) in &many.devices {
        nothing_left(d);
    }
    many.shutdown().await;
}
