//! Paging: one `play` or `speak` to many simulated devices at once, from one process. Judged at
//! the devices: who heard what, when the first audio came, and that every session opened was
//! closed; a failing device gets its own reason and never stops the others.

use crate::util::raw::Client;
use crate::util::tone::ToneSource;
use crate::util::*;
use hiktalk::sim::{Fault, Profile};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Devices of every profile, each its own simulator (own port, state and credentials).
async fn devices(n: usize, tweak: impl Fn(usize, &mut SimConfig)) -> Vec<SimHandle> {
    let profiles = [Profile::Modern, Profile::Doorbell, Profile::Legacy, Profile::Modern];
    let mut sims = Vec::new();
    for i in 0..n {
        let mut config = SimConfig { profile: profiles[i % profiles.len()], ..binary_sim_config() };
        tweak(i, &mut config);
        sims.push(sim::start(config).await.unwrap());
    }
    sims
}

/// When each device got its first audio byte.
fn first_audio(sim: &SimHandle) -> Option<Instant> {
    sim.events().iter().find_map(|e| match &e.kind {
        EventKind::AudioEnded { listened, .. } => listened.first_audio_at.map(|t| sim.origin() + Duration::from_secs_f64(t)),
        _ => None,
    })
}

fn spread_ms(times: &[Instant]) -> f64 {
    let (min, max) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    max.duration_since(*min).as_secs_f64() * 1000.0
}

const BUSY: usize = 3;
const LOCKED_OUT: usize = 7;
const HANGS_UP: usize = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_play_in_step_and_the_failures_are_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 1000.0, 3.0, 16000, 1, 0.5);
    let sims = devices(20, |i, c| match i {
        LOCKED_OUT => c.password = "another-password".into(),
        HANGS_UP => c.faults = vec!["hangup-after-bytes=8000".parse::<Fault>().unwrap()],
        _ => {}
    })
    .await;
    // Another client holds the busy device's channel.
    let mut other = Client::new(&sims[BUSY]);
    assert!(other.open().await.is_some());
    let mut cmd = hiktalk();
    cmd.args(["--json", "play"]).arg(&wav).args(sims.iter().map(url));
    let (out, wall) = run_to_end(cmd).await;
    let report = json(&out);
    assert_eq!(out.status.code(), Some(10), "some devices failed: {}", stderr(&out));
    assert_eq!((report["reason"].as_str(), report["devices_failed"].as_u64()), (Some("some_failed"), Some(3)), "{report}");
    let per_device = report["devices"].as_array().unwrap();
    assert_eq!(per_device.len(), 20);
    for (i, d) in per_device.iter().enumerate() {
        let expected = match i {
            BUSY => "busy",
            LOCKED_OUT => "auth",
            HANGS_UP => "device_hangup",
            _ => "end_of_input",
        };
        assert_eq!(d["reason"], expected, "device {i}: {d}");
        assert_eq!(d["device"].as_str(), Some(url(&sims[i]).as_str()));
    }
    assert!(wall < Duration::from_secs(6), "one failing device does not delay the others: {wall:?}");

    let mut starts = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        let events = sim.events();
        if i == BUSY {
            // The other client's idle session may time out with a prompt; hiktalk never opened one.
            assert_eq!(count(&events, opened), 1, "only the other client's session");
            continue;
        }
        assert!(leaks(&events).is_empty(), "device {i}: {:?}", leaks(&events));
        assert_eq!(count(&events, prompt), 0, "device {i}");
        if [LOCKED_OUT, HANGS_UP].contains(&i) {
            continue;
        }
        assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1), "device {i}");
        let id = last_session_id(sim);
        let l = sim.upload_of(&id).await.unwrap().listened;
        assert!((l.audio_seconds - 3.0).abs() < 0.05 && l.underruns == 0, "device {i} heard the whole file: {l:?}");
        starts.push(first_audio(sim).unwrap());
    }
    // The wrong password was tried once, never again; the busy device's other client still holds it.
    let bad = |e: &EventKind| matches!(e, EventKind::AuthFailed { reason, .. } if reason == "bad_password");
    assert_eq!(count(&sims[LOCKED_OUT].events(), bad), 1);
    assert_eq!(count(&sims[BUSY].events(), closed_by_client), 0, "another client's session is never closed");
    let spread = spread_ms(&starts);
    eprintln!("paging: 17 devices started within {spread:.1} ms of each other; wall {wall:?}");
    assert!(spread <= 50.0, "first audio spread {spread:.1} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_closes_every_session_once() {
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("long.wav"), 1000.0, 30.0, 8000, 1, 0.5);
    let sims = devices(8, |_, _| {}).await;
    let child = hiktalk()
        .args(["--json", "play"])
        .arg(&wav)
        .args(sims.iter().map(url))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for sim in &sims {
        sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("every device plays");
    }
    signal(&child, libc::SIGINT);
    let out = wait_child(child).await;
    let report = json(&out);
    assert_eq!(out.status.code(), Some(130), "every device was interrupted alike: {report}");
    assert_eq!(report["devices"].as_array().unwrap().len(), 8);
    for (i, sim) in sims.iter().enumerate() {
        let events = sim.events();
        assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1), "device {i}");
        assert!(leaks(&events).is_empty(), "device {i}: {:?}", leaks(&events));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speak_pages_the_microphone_to_several_devices() {
    let source = ToneSource::start(440.0, -12.0).expect("the fake microphone");
    let sims = devices(5, |_, _| {}).await;
    let child = hiktalk()
        .args(["--json", "speak", "--input", &source.device_id()])
        .args(sims.iter().map(url))
        .envs(source.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for sim in &sims {
        sim.wait_for(|e| matches!(e.kind, EventKind::AudioStarted { .. }), Duration::from_secs(10)).await.expect("every device hears");
    }
    let ended = sims[0].wait_for(|e| matches!(e.kind, EventKind::AudioEnded { .. }), Duration::from_millis(1500)).await;
    assert!(ended.is_none());
    signal(&child, libc::SIGTERM);
    let out = wait_child(child).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut starts = Vec::new();
    for (i, sim) in sims.iter().enumerate() {
        let events = sim.events();
        assert_eq!((count(&events, opened), count(&events, closed_by_client)), (1, 1), "device {i}");
        assert!(leaks(&events).is_empty(), "device {i}");
        let (pcm, rate) = crate::util::ffmpeg::heard(sim, &last_session_id(sim)).await;
        let snr = sine_snr_db(&pcm[rate as usize / 5..pcm.len() - rate as usize / 10], rate, 440.0, 0);
        assert!(snr >= 30.0, "device {i} heard the microphone: SNR {snr:.1} dB");
        starts.push(first_audio(sim).unwrap());
    }
    assert!(spread_ms(&starts) <= 50.0, "{:.1} ms", spread_ms(&starts));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_group_is_a_camera_for_status_and_close_asked_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    // Each device answers its channel list 1 s late: asked in parallel, three take about 1 s.
    let sims = devices(3, |_, c| c.faults = vec!["slow=channels:1000".parse::<Fault>().unwrap()]).await;
    let config = dir.path().join("config.toml");
    let members: Vec<String> = sims.iter().map(|s| format!("{:?}", url(s))).collect();
    std::fs::write(&config, format!("[groups.house]\ncameras = [{}]\n", members.join(", "))).unwrap();
    for command in ["status", "close"] {
        let mut cmd = hiktalk();
        cmd.args(["--json", "--config"]).arg(&config).args([command, "house"]);
        let (out, wall) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{command}: {}", stderr(&out));
        let report = json(&out);
        let names: Vec<&str> = report["devices"].as_array().unwrap().iter().map(|d| d["device"].as_str().unwrap()).collect();
        assert_eq!(names, sims.iter().map(url).collect::<Vec<_>>(), "{command}");
        assert!(wall < Duration::from_millis(2500), "{command}: asked in parallel, took {wall:?}");
    }
}

/// `hiktalk sim --devices`: one process, many devices, each with its own profile, faults and
/// password; the summary keeps each device's figures and the spread of their first audio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sim_process_serves_many_devices_and_sums_them_up() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("tone.wav"), 1000.0, 2.0, 16000, 1, 0.5);
    let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(["--json", "sim", "--devices", "8", "--profile-mix", "modern:3,doorbell:1"])
        .args(["--device-fault", "2:hangup-after-bytes=8000", "--device-password", "5:another-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // One line per device, in order, on stderr (stdout carries the JSON summary).
    let mut lines = std::io::BufReader::new(sim.stderr.take().unwrap()).lines();
    let mut urls = Vec::new();
    for n in 1..=8 {
        let line = lines.next().unwrap().unwrap();
        let profile = if n % 4 == 0 { "doorbell" } else { "modern" };
        let prefix = format!("hiktalk-sim device {n} ({profile}) listening on ");
        urls.push(line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line:?}")).to_string());
    }
    let mut cmd = hiktalk();
    cmd.args(["--json", "play"]).arg(&wav).args(&urls);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let report = json(&out);
    let reasons: Vec<&str> = report["devices"].as_array().unwrap().iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        ["end_of_input", "device_hangup", "end_of_input", "end_of_input", "auth", "end_of_input", "end_of_input", "end_of_input"]
    );
    signal(&sim, libc::SIGINT);
    let done = wait_child(sim).await;
    assert!(done.status.success(), "{}", stderr(&done));
    let summary = &json(&done)["summary"];
    let devices = summary["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 8);
    for (i, d) in devices.iter().enumerate() {
        assert_eq!(d["address"].as_str(), Some(urls[i].as_str()));
        let heard = d["audio_seconds"].as_f64().unwrap();
        match i + 1 {
            2 => assert!(heard < 1.5 && d["faults_fired"] == 1, "{d}"),
            5 => assert_eq!(d["sessions_opened"], 0, "{d}"),
            _ => assert!((heard - 2.0).abs() < 0.05 && d["underruns"] == 0, "{d}"),
        }
    }
    let total = &summary["total"];
    assert_eq!(total["sessions_opened"], 7, "{total}");
    assert_eq!(total["sessions_closed"], 7, "every session opened was closed: {total}");
    let spread = summary["first_audio_spread_ms"].as_f64().unwrap();
    assert!(spread <= 50.0, "first audio within {spread:.1} ms");
}
