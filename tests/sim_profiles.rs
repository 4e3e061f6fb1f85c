//! Firmware profiles: what each one does differently on the same paths.

use crate::util::raw::*;
use hiktalk::isapi::xml;
use hiktalk::sim::{EventKind, Profile};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn with(profile: Profile) -> hiktalk::sim::SimConfig {
    let mut cfg = raw_sim_config();
    cfg.profile = profile;
    cfg
}

#[tokio::test]
async fn modern_camera() {
    let sim = start(with(Profile::Modern)).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", CHANNELS, "").await;
    assert!(r.body.contains(r#"xmlns="http://www.hikvision.com/ver20/XMLSchema""#));
    let sid = c.open().await.expect("open returns a sessionId");
    // Cameras hand one out but do not require it (go2rtc never sends it and works with most).
    let (mut a, r) = c.upload(&audio_uri(None)).await;
    assert_eq!(r.status, 200, "no sessionId needed");
    drop(a.write_all(&[0xFF; 160]).await);
    drop(a);
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let (_a, r) = c.upload(&audio_uri(Some(&sid))).await;
    assert_eq!(r.status, 200);
    // No doorbell endpoints on a camera.
    assert_eq!(c.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await.status, 404);
    let info = xml::parse_device_info(&c.request("GET", "/ISAPI/System/deviceInfo", "").await.body).unwrap();
    assert_eq!(info.model.as_deref(), Some("DS-2CD2386G2-IU"));
}

#[tokio::test]
async fn legacy_unit_has_no_session_id_and_psia_namespace() {
    let sim = start(with(Profile::Legacy)).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", CHANNELS, "").await;
    assert!(r.body.contains(r#"version="1.0" xmlns="urn:psialliance-org""#), "{}", r.body);
    let r = c.request("PUT", &format!("{CHANNELS}/1/open"), "").await;
    assert_eq!(r.status, 200);
    assert!(xml::parse_response_status(&r.body).unwrap().is_ok(), "open answers a plain ResponseStatus: {}", r.body);
    let opened = expect(&sim, "opened", |k| matches!(k, EventKind::SessionOpened { .. })).await;
    let EventKind::SessionOpened { session_id: None, id, .. } = opened else { panic!("{opened:?}") };
    // audioData without a sessionId works, and one that means nothing is ignored.
    let (mut a, r) = c.upload(&audio_uri(Some("whatever"))).await;
    assert_eq!(r.status, 200);
    a.write_all(&[0xFF; 320]).await.unwrap();
    drop(a);
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { bytes: 320, .. })).await;
    assert_eq!(sim.upload_of(&id).await.unwrap().samples.len(), 320);
    // A second open is refused with 401 on this firmware.
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1/open"), "").await.status, 401);
}

#[tokio::test]
async fn aac_only_refuses_open_until_the_channel_is_aac() {
    let sim = start(with(Profile::AacOnly)).await;
    let mut c = Client::new(&sim);
    let list = xml::parse_channel_list(&c.request("GET", CHANNELS, "").await.body).unwrap();
    assert_eq!(list[0].codec, "G.711ulaw", "lists G.711");
    let caps = xml::parse_channel(&c.request("GET", &format!("{CHANNELS}/1/capabilities"), "").await.body).unwrap();
    assert!(caps.codec_options.contains(&"AAC".to_string()));
    let r = c.request("PUT", &format!("{CHANNELS}/1/open"), "").await;
    assert_eq!(r.status, 403);
    assert_eq!(xml::parse_response_status(&r.body).unwrap().status_code, Some(4));
    expect(&sim, "refused", |k| matches!(k, EventKind::OpenRefused { reason, .. } if reason == "codec_not_aac")).await;
    // An unknown codec is refused; AAC is accepted.
    let bad = r#"<TwoWayAudioChannel><id>1</id><audioCompressionType>MP3</audioCompressionType></TwoWayAudioChannel>"#;
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), bad).await.status, 400);
    let aac = r#"<TwoWayAudioChannel version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><id>1</id><audioCompressionType>AAC</audioCompressionType><audioBitRate>64</audioBitRate><audioSamplingRate>16</audioSamplingRate></TwoWayAudioChannel>"#;
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), aac).await.status, 200);
    expect(&sim, "updated", |k| matches!(k, EventKind::ChannelUpdated { codec, .. } if codec == "AAC")).await;
    let ch = xml::parse_channel(&c.request("GET", &format!("{CHANNELS}/1"), "").await.body).unwrap();
    assert_eq!((ch.codec.as_str(), ch.bit_rate_kbps, ch.sample_rate_hz()), ("AAC", Some(64), Some(16000)));
    let sid = c.open().await.expect("opens once the channel is AAC");
    // Whatever the AAC decoder can or cannot do yet, bytes are counted.
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0, 0, 0, 4, 1, 2, 3, 4]).await.unwrap();
    drop(a);
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { bytes: 8, .. })).await;
}

#[tokio::test]
async fn doorbell_call_status_signal_and_ring_ending_talk() {
    let mut cfg = with(Profile::Doorbell);
    cfg.ring_duration = Duration::from_secs(30);
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", CHANNELS, "").await;
    assert!(r.body.contains("http://www.isapi.org/ver20/XMLSchema"));
    let status =
        |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["CallStatus"]["status"].as_str().unwrap().to_string();
    assert_eq!(status(&c.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await.body), "idle");

    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    expect(&sim, "started", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    sim.ring();
    expect(&sim, "ring", |k| matches!(k, EventKind::Ring { .. })).await;
    // The ring ends the talk session: the upload socket closes.
    read_to_end(&mut a).await;
    expect(&sim, "hangup", |k| matches!(k, EventKind::Hangup { reason, .. } if reason == "ring")).await;
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "ring")).await;
    assert_eq!(status(&c.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await.body), "ring");
    // While it rings, talk is accepted but not played: the device counts it as unheard.
    let ringing = c.open().await.expect("open while ringing");
    let (mut a, r) = c.upload(&audio_uri(Some(&ringing))).await;
    assert_eq!(r.status, 200);
    a.write_all(&[0xFF; 800]).await.unwrap();
    drop(a);
    let ended = expect(&sim, "unheard", |k| matches!(k, EventKind::AudioEnded { session_id, .. } if *session_id == ringing)).await;
    let EventKind::AudioEnded { listened, .. } = ended else { unreachable!() };
    assert_eq!((listened.audio_seconds, listened.unheard_seconds), (0.1, 0.1), "{listened:?}");
    assert_eq!(c.close().await.status, 403, "the doorbell requires the sessionId on close too");
    let r = c.request("PUT", &format!("{CHANNELS}/1/close?sessionId={ringing}"), "").await;
    assert_eq!(r.status, 200);

    let sig = |cmd: &str| format!(r#"{{"CallSignal":{{"cmdType":"{cmd}"}}}}"#);
    let r = c.request("PUT", "/ISAPI/VideoIntercom/callSignal?format=json", &sig("answer")).await;
    assert_eq!(r.status, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["statusCode"], 1);
    assert_eq!(status(&c.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await.body), "onCall");
    assert_eq!(c.request("PUT", "/ISAPI/VideoIntercom/callSignal?format=json", &sig("hangUp")).await.status, 200);
    expect(&sim, "hangUp", |k| matches!(k, EventKind::CallSignal { cmd, .. } if cmd == "hangUp")).await;
    assert_eq!(status(&c.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await.body), "idle");
    assert_eq!(c.request("PUT", "/ISAPI/VideoIntercom/callSignal?format=json", "{}").await.status, 400);
    c.open().await.expect("talk works again after the call");
}

#[tokio::test]
async fn doorbell_ring_after_flag_and_ring_timeout() {
    let mut cfg = with(Profile::Doorbell);
    cfg.ring_after = Some(Duration::from_millis(300));
    cfg.ring_duration = Duration::from_millis(300);
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    expect(&sim, "ring", |k| matches!(k, EventKind::Ring { .. })).await;
    expect(&sim, "ended by ring", |k| matches!(k, EventKind::SessionClosed { by, reason, .. } if by == "device" && reason == "ring")).await;
    expect(&sim, "back to idle", |k| matches!(k, EventKind::CallStatus { status, .. } if status == "idle")).await;
}
