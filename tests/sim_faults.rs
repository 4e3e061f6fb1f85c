//! Fault injection: each fault's observable behaviour, and `times=N` limiting it.

use crate::util::count;
use crate::util::raw::*;
use hiktalk::isapi::xml;
use hiktalk::sim::{EventKind, Fault, SimConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHANNELS: &str = "/ISAPI/System/TwoWayAudio/channels";

fn with(faults: &[&str]) -> SimConfig {
    let mut cfg = raw_sim_config();
    cfg.faults = faults.iter().map(|f| f.parse::<Fault>().unwrap()).collect();
    cfg
}

fn fired(spec: &'static str) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::FaultFired { fault } if fault == spec)
}

#[tokio::test]
async fn hangup_after_bytes() {
    let sim = start(with(&["hangup-after-bytes=800"])).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 1000]).await.unwrap();
    let tail = String::from_utf8_lossy(&read_to_end(&mut a).await).to_string();
    assert!(tail.contains("call ended: fault"), "{tail}");
    expect(&sim, "fired", fired("hangup-after-bytes=800")).await;
    expect(&sim, "closed", |k| matches!(k, EventKind::SessionClosed { by, reason, .. } if by == "device" && reason == "fault")).await;
    let ended = expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    assert!(matches!(&ended, EventKind::AudioEnded { reason, bytes, .. } if reason == "fault" && *bytes >= 800), "{ended:?}");
    // No prompt: that belongs to the idle hang-up.
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Prompt { .. })), 0);
}

#[tokio::test]
async fn hangup_after_secs_fires_once_with_times() {
    let sim = start(with(&["hangup-after-secs=0.2,times=1"])).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    read_to_end(&mut a).await;
    expect(&sim, "fired", fired("hangup-after-secs=0.2,times=1")).await;
    // The second session is not hung up early: the idle hang-up (1 s) ends it instead.
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    read_to_end(&mut a).await;
    expect(&sim, "idle", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "hangup_idle")).await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::FaultFired { .. })), 1);
}

async fn expect_reset(a: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, a.read(&mut buf)).await.expect("socket ends") {
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
                return;
            }
            Ok(0) => panic!("clean close instead of a reset"),
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn reset_after_bytes_leaves_the_session_open() {
    let sim = start(with(&["reset-after-bytes=320"])).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 400]).await.unwrap();
    expect_reset(&mut a).await;
    expect(&sim, "fired", fired("reset-after-bytes=320")).await;
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "fault")).await;
    // A network drop leaves the session behind (stale): the channel is busy.
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1/open"), "").await.status, 403);
}

#[tokio::test]
async fn reset_after_secs() {
    let sim = start(with(&["reset-after-secs=0.2"])).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    expect_reset(&mut a).await;
    expect(&sim, "fired", fired("reset-after-secs=0.2")).await;
}

#[tokio::test]
async fn stall_never_answers_then_behaves() {
    let sim = start(with(&["stall=open,times=1"])).await;
    let mut c = Client::new(&sim);
    c.request("GET", CHANNELS, "").await;
    let r = tokio::time::timeout(Duration::from_millis(500), c.send("PUT", &format!("{CHANNELS}/1/open"), "", "")).await;
    assert!(r.is_err(), "stalled request must not be answered: {r:?}");
    expect(&sim, "fired", fired("stall=open,times=1")).await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::SessionOpened { .. })), 0);
    c.open().await;
}

#[tokio::test]
async fn slow_answer() {
    let sim = start(with(&["slow=channels:400"])).await;
    let mut c = Client::new(&sim);
    let t = std::time::Instant::now();
    let r = c.request("GET", CHANNELS, "").await;
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(400), "{:?}", t.elapsed());
    expect(&sim, "fired", fired("slow=channels:400")).await;
}

#[tokio::test]
async fn malformed_xml() {
    let sim = start(with(&["malformed-xml=channels,times=1"])).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", CHANNELS, "").await;
    assert_eq!(r.status, 200);
    assert!(matches!(xml::parse_channel_list(&r.body), Err(xml::XmlError::Malformed(_))), "{}", r.body);
    assert!(xml::parse_channel_list(&c.request("GET", CHANNELS, "").await.body).is_ok(), "fires once");
}

#[tokio::test]
async fn truncated_xml_on_open_leaves_a_session_the_client_cannot_name() {
    let sim = start(with(&["truncated-xml=open"])).await;
    let mut c = Client::new(&sim);
    c.request("GET", CHANNELS, "").await;
    let r = c.send("PUT", &format!("{CHANNELS}/1/open"), "", "").await;
    let err = r.expect_err("body shorter than Content-Length");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    expect(&sim, "fired", fired("truncated-xml=open")).await;
    expect(&sim, "opened", |k| matches!(k, EventKind::SessionOpened { .. })).await;
}

#[tokio::test]
async fn http500_then_recovers() {
    let sim = start(with(&["http500=open,times=2"])).await;
    let mut c = Client::new(&sim);
    for _ in 0..2 {
        let r = c.request("PUT", &format!("{CHANNELS}/1/open"), "").await;
        assert_eq!(r.status, 500);
        assert_eq!(xml::parse_response_status(&r.body).unwrap().status_code, Some(3));
    }
    c.open().await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::FaultFired { .. })), 2);
}

#[tokio::test]
async fn unauthorized_without_challenge() {
    let sim = start(with(&["401-no-challenge,times=1"])).await;
    let mut c = Client::new(&sim);
    let r = c.send("GET", CHANNELS, "", "").await.unwrap();
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_none(), "{:?}", r.headers);
    expect(&sim, "fired", fired("401-no-challenge=any,times=1")).await;
    assert_eq!(c.request("GET", CHANNELS, "").await.status, 200);
}
