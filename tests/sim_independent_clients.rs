//! The simulator accepts clients that are not hiktalk: a Python raw-socket replay of go2rtc's
//! sequence, curl --digest, and the `hiktalk sim` binary driven from outside.

use crate::util::count;
use crate::util::raw::*;
use hiktalk::sim::EventKind;
use std::io::{BufRead, BufReader};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_go2rtc_sequence_is_accepted_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = raw_sim_config();
    cfg.idle_timeout = Duration::from_secs(2);
    cfg.record_dir = Some(dir.path().join("rec"));
    let sim = start(cfg).await;
    let sent_path = dir.path().join("sent.ulaw");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sim_scripts/go2rtc_client.py");
    let out = run_tool(
        "python3",
        vec![
            script.into(),
            "127.0.0.1".into(),
            sim.addr().port().to_string(),
            "admin".into(),
            "hiktalk-sim".into(),
            "1".into(),
            sent_path.display().to_string(),
        ],
    )
    .await;
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for step in ["channels", "close_before", "open", "audio", "close"] {
        assert_eq!(report["statuses"][step], 200, "{step}: {report}");
    }
    let sid = report["session_id"].as_str().expect("modern profile returns a sessionId").to_string();
    assert_eq!(report["sent"], 8000);

    let ended = expect(&sim, "audio_ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let EventKind::AudioEnded { bytes, seconds, reason, wav, session_id, .. } = ended else { unreachable!() };
    assert_eq!(session_id, sid);
    assert_eq!(bytes, 8000);
    assert!((seconds - 1.0).abs() < 1e-9, "{seconds}");
    // The client closes its audio socket and then PUTs close; the device may see either first.
    assert!(reason == "client_closed" || reason == "session_closed", "{reason}");
    expect(&sim, "session_closed by client", |k| matches!(k, EventKind::SessionClosed { by, .. } if by == "client")).await;

    // What the speaker got is the 1 kHz tone Python encoded, within one mu-law step.
    let received = sim.upload_of(&sid).await.expect("recording kept");
    assert_eq!(received.sample_rate, 8000);
    let rec = received.samples;
    assert_eq!(rec.len(), 8000);
    for (i, &s) in rec.iter().enumerate() {
        let want = 8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 8000.0).sin();
        assert!((s as f64 - want).abs() <= 300.0, "sample {i}: {s} vs {want}");
    }
    let wav = wav.expect("wav written");
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(reader.into_samples::<i16>().map(|s| s.unwrap()).collect::<Vec<_>>(), rec);
    // No device hang-up happened: the client kept the session fed.
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Prompt { .. })), 0);
}

fn curl(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_digest_control_requests() {
    let sim = start(raw_sim_config()).await;
    let base = format!("http://{}/ISAPI", sim.addr());
    let common = ["-sS", "--digest", "-u", "admin:hiktalk-sim", "-w", "\n%{http_code}"];
    let call = |extra: Vec<&str>, url: String| {
        let mut a = curl(&common);
        a.extend(extra.into_iter().map(String::from));
        a.push(url);
        run_tool("curl", a)
    };
    let split = |o: std::process::Output| {
        assert!(o.status.success(), "curl: {}", String::from_utf8_lossy(&o.stderr));
        let s = String::from_utf8(o.stdout).unwrap();
        let (body, code) = s.rsplit_once('\n').unwrap();
        (code.parse::<u16>().unwrap(), body.to_string())
    };

    let (code, body) = split(call(vec![], format!("{base}/System/TwoWayAudio/channels")).await);
    assert_eq!(code, 200);
    let list = hiktalk::isapi::xml::parse_channel_list(&body).unwrap();
    assert_eq!(list[0].codec, "G.711ulaw");
    assert!(body.contains("http://www.hikvision.com/ver20/XMLSchema"));

    let (code, body) = split(call(vec![], format!("{base}/System/deviceInfo")).await);
    assert_eq!(code, 200);
    assert!(hiktalk::isapi::xml::parse_device_info(&body).unwrap().model.is_some());

    let (code, body) = split(call(vec![], format!("{base}/System/TwoWayAudio/channels/1/capabilities")).await);
    assert_eq!(code, 200);
    assert!(hiktalk::isapi::xml::parse_channel(&body).unwrap().codec_options.contains(&"G.711alaw".to_string()));
    assert!(body.contains(r#"<audioBitRate opt="16,24,32,48,64">"#) && body.contains(r#"<audioSamplingRate opt="8,16,32">"#), "{body}");

    let put = r#"<TwoWayAudioChannel><id>1</id><audioCompressionType>G.711alaw</audioCompressionType></TwoWayAudioChannel>"#;
    let (code, _) = split(
        call(
            vec!["-X", "PUT", "-H", "Content-Type: application/xml", "--data-binary", put],
            format!("{base}/System/TwoWayAudio/channels/1"),
        )
        .await,
    );
    assert_eq!(code, 200);
    expect(&sim, "channel_updated", |k| matches!(k, EventKind::ChannelUpdated { codec, .. } if codec == "G.711alaw")).await;

    let (code, body) = split(call(vec!["-X", "PUT"], format!("{base}/System/TwoWayAudio/channels/1/open")).await);
    assert_eq!(code, 200);
    let sid = hiktalk::isapi::xml::parse_session(&body).unwrap().unwrap();
    let (code, body) = split(call(vec![], format!("{base}/System/TwoWayAudio/channels/1")).await);
    assert_eq!(code, 200);
    assert_eq!(hiktalk::isapi::xml::parse_channel(&body).unwrap().enabled, Some(true), "enabled while a session is open");

    let (code, _) = split(call(vec!["-X", "PUT"], format!("{base}/System/TwoWayAudio/channels/1/close?sessionId={sid}")).await);
    assert_eq!(code, 200);
    // Idempotent.
    let (code, body) = split(call(vec!["-X", "PUT"], format!("{base}/System/TwoWayAudio/channels/1/close")).await);
    assert_eq!(code, 200);
    assert!(hiktalk::isapi::xml::parse_response_status(&body).unwrap().is_ok());
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::SessionClosed { by, .. } if by == "client")), 1);
    assert!(count(&sim.events(), |k| matches!(k, EventKind::AuthOk { .. })) >= 7);

    // A wrong password with curl is refused and counted.
    let o = run_tool(
        "curl",
        curl(&["-sS", "--digest", "-u", "admin:wrong", "-o", "/dev/null", "-w", "%{http_code}", &format!("{base}/System/deviceInfo")]),
    )
    .await;
    assert_eq!(String::from_utf8_lossy(&o.stdout), "401");
    expect(&sim, "bad_password", |k| matches!(k, EventKind::AuthFailed { reason, attempts: 1, .. } if reason == "bad_password")).await;
}

#[test]
fn sim_subcommand_prints_address_serves_and_summarises() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(["sim", "--listen", "127.0.0.1:0", "--idle-timeout", "0.3", "--events", "-"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("hiktalk-sim listening on http://").unwrap_or_else(|| panic!("first line: {first:?}")).to_string();

    let o = std::process::Command::new("curl")
        .args(["-sS", "--digest", "-u", "admin:hiktalk-sim", "-X", "PUT", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{addr}/ISAPI/System/TwoWayAudio/channels/1/open"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "200");
    // Events follow on stdout, one JSON object per line; the session gets no audio, so the
    // device hangs up with a prompt.
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "stdout ended before a prompt: {seen:?}");
        let event: hiktalk::sim::Event = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let done = matches!(event.kind, EventKind::Prompt { .. });
        seen.push(event);
        if done {
            break;
        }
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(rest.contains("sessions opened 1, closed 1"), "{rest}");
    assert!(rest.contains("prompts played 1"), "{rest}");
}

/// hik-isapi-audio (PyPI, pinned in .ci/deps): open without looking at the sessionId, a token
/// from /ISAPI/Security/token, an upload with `?token=` and no Digest, 160 bytes every 20 ms,
/// then close. Played to every profile; what each device heard is checked from its recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hik_isapi_audio_plays_a_file_where_its_sequence_can_work() {
    use hiktalk::sim::Profile;
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    assert!(std::path::Path::new(python).exists(), "hik-isapi-audio is not installed: run `sh .ci/deps test`");
    let dir = tempfile::tempdir().unwrap();
    // One second of a 1 kHz tone as mu-law bytes (encoded by sox, not by hiktalk).
    let file = dir.path().join("tone.ulaw");
    let sox = std::process::Command::new("sox")
        .args(["-n", "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw"])
        .arg(&file)
        .args(["synth", "1", "sine", "1000", "vol", "0.25"])
        .output()
        .expect("sox");
    assert!(sox.status.success(), "{}", String::from_utf8_lossy(&sox.stderr));
    const CLIENT: &str = "import asyncio, sys\nfrom hik_isapi_audio import HikCameraControl\n\
        cam = HikCameraControl('127.0.0.1', 'admin', 'hiktalk-sim', port=int(sys.argv[1]))\n\
        asyncio.run(cam.play_audio(sys.argv[2]))\n";
    for profile in Profile::ALL {
        let sim = start(hiktalk::sim::SimConfig { profile, ..raw_sim_config() }).await;
        let out = run_tool(python, vec!["-c".into(), CLIENT.into(), sim.addr().port().to_string(), file.display().to_string()]).await;
        assert!(out.status.success(), "{profile}: {}", String::from_utf8_lossy(&out.stderr));
        let ev = sim.events();
        let heard: f64 = sim.received().await.iter().map(|r| r.listened.audio_seconds - r.listened.unheard_seconds).sum();
        match profile {
            // A camera takes the token, needs no sessionId, and plays the whole file.
            Profile::Modern => {
                assert!(count(&ev, |k| matches!(k, EventKind::Token { used: true })) == 1, "{ev:#?}");
                assert!((heard - 1.0).abs() < 1e-9, "{profile}: {heard} s heard");
                let received = &sim.received().await[0];
                let (pcm, _) = crate::util::ffmpeg::decode_received(received);
                assert!(crate::util::sine_snr_db(&pcm, 8000, 1000.0, 800) > 30.0);
                assert!(count(&ev, |k| matches!(k, EventKind::SessionClosed { by, .. } if by == "client")) == 1);
            }
            // A doorbell requires the sessionId this client never sends: refused, unheard, and
            // its close without one is refused too (the device expires that session later).
            Profile::Doorbell => {
                assert!(count(&ev, |k| matches!(k, EventKind::AudioRefused { reason, .. } if reason == "missing_session_id")) == 1);
                assert!(count(&ev, |k| matches!(k, EventKind::CloseRefused { .. })) == 1);
                assert_eq!(heard, 0.0);
            }
            // Old firmware has no token endpoint, and the upload carries no Digest: refused.
            Profile::Legacy => {
                assert!(
                    ev.iter().any(|e| matches!(&e.kind, EventKind::Request { path, status: 404, .. } if path == "/ISAPI/Security/token"))
                );
                assert_eq!(heard, 0.0);
            }
            // The open is refused until the channel is AAC, and this client never switches it.
            Profile::AacOnly => {
                assert!(count(&ev, |k| matches!(k, EventKind::OpenRefused { reason, .. } if reason == "codec_not_aac")) == 1);
                assert_eq!(heard, 0.0);
            }
        }
    }
}

/// pyhik (PyPI, pinned in .ci/deps), the event client of Home Assistant's hikvision
/// integration, against `hiktalk sim`: it names the device from deviceInfo, tracks what
/// /ISAPI/Event/triggers lists, switches motion detection off and on, and sees the camera's
/// motion (typed on the sim's console) go on and off; a door station in XML rings as its
/// alarm input (`I/O`).
#[test]
fn pyhik_tracks_the_sims_motion_and_ring_as_a_cameras() {
    use std::io::Write;
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/venv/bin/python");
    assert!(std::path::Path::new(python).exists(), "pyhik is not installed: run `sh .ci/deps test`");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sim_scripts/pyhik_events.py");
    // The sim's flags, what is typed on its console, the sensors watched, the sensors tracked.
    type Case<'a> = (&'a [&'a str], &'a str, &'a [&'a str], &'a [&'a str]);
    let cases: [Case; 2] = [
        (&["--profile", "modern"], "motion\n", &["Motion"], &["Field Detection", "I/O", "Line Crossing", "Motion", "Tamper Detection"]),
        (&["--profile", "doorbell", "--alert-format", "xml"], "motion\nring\n", &["Motion", "I/O"], &["I/O", "Motion"]),
    ];
    for (args, typed, sensors, tracked) in cases {
        let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_hiktalk"))
            .args(["sim", "--listen", "127.0.0.1:0", "--alarm-duration", "1.5", "--heartbeat", "1"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut sim_out = BufReader::new(sim.stdout.take().unwrap());
        // A failed assertion must not leave the device running.
        struct Reap(u32);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = std::process::Command::new("kill").args(["-INT", &self.0.to_string()]).status();
            }
        }
        let _reap = Reap(sim.id());
        let mut first = String::new();
        sim_out.read_line(&mut first).unwrap();
        let port = first.trim().rsplit_once(':').map(|(_, p)| p.to_string()).unwrap_or_else(|| panic!("first line: {first:?}"));
        let mut client = std::process::Command::new(python)
            .args([script, &port, "admin", "hiktalk-sim"])
            .args(sensors)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines =
            BufReader::new(client.stdout.take().unwrap()).lines().map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap());
        let ready = lines.next().expect("pyhik's ready line");
        assert_eq!(ready["ready"], true, "{args:?}: {ready}");
        assert!(ready["name"].as_str().unwrap().starts_with("Simulated "), "{ready}");
        assert!(ready["id"].as_str().unwrap().len() > 10, "the deviceID names it: {ready}");
        assert_eq!(ready["type"], "CAM", "one video channel: a camera, not an NVR: {ready}");
        assert_eq!(ready["sensors"], serde_json::json!(tracked), "{args:?}: what the triggers list");
        assert_eq!((ready["motion_off"].as_bool(), ready["motion_on"].as_bool()), (Some(false), Some(true)), "{ready}");
        sim.stdin.as_mut().unwrap().write_all(typed.as_bytes()).unwrap();
        let mut changes: Vec<(String, bool)> = Vec::new();
        let done = loop {
            let line = lines.next().expect("pyhik's output ended before done");
            if let Some(done) = line["done"].as_bool() {
                break done;
            }
            changes.push((line["sensor"].as_str().unwrap().to_string(), line["on"].as_bool().unwrap()));
        };
        assert!(done, "{args:?}: every sensor on, then off: {changes:?}");
        for sensor in sensors {
            let seen: Vec<bool> = changes.iter().filter(|(s, _)| s == sensor).map(|(_, on)| *on).collect();
            assert_eq!(seen, [true, false], "{args:?}: {sensor}");
        }
        assert!(client.wait().unwrap().success());
        drop(_reap);
        assert!(sim.wait().unwrap().success());
    }
}
