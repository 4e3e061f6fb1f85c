//! The simulated device as devices are, in the details public clients depend on: tokens for the
//! upload, busy answers in every known shape, the lockout counter in the JSON userCheck, channel
//! PUTs checked against the capabilities, `Expect: 100-continue` in both modes, and what a
//! listener hears (underruns, lead, overflow, arrival times) measured on the device side.

use crate::util::count;
use crate::util::raw::*;
use hiktalk::sim::{BusyStyle, EventKind, Expect, Profile, SimConfig};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_token_stands_in_for_digest_on_the_upload_only() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", "/ISAPI/Security/token?format=json", "").await;
    assert_eq!(r.status, 200);
    let token = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["Token"]["value"].as_str().unwrap().to_string();
    c.open().await.unwrap();
    // No Authorization header at all, as hik-isapi-audio sends it.
    let mut anon = Client::with(sim.addr(), "admin", "wrong");
    let (_s, r) = anon.upload(&format!("{CHANNELS}/1/audioData?token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    expect(&sim, "token used", |k| matches!(k, EventKind::Token { used: true })).await;
    // A made-up token, or the token on a control request, is not a login.
    let (_s, r) = anon.upload(&format!("{CHANNELS}/1/audioData?token=0000")).await;
    assert_eq!(r.status, 401);
    assert_eq!(anon.send("GET", &format!("{CHANNELS}?token={token}"), "", "").await.unwrap().status, 401);
    // Old units have no token endpoint.
    let legacy = start(SimConfig { profile: Profile::Legacy, ..raw_sim_config() }).await;
    assert_eq!(Client::new(&legacy).request("GET", "/ISAPI/Security/token?format=json", "").await.status, 404);
}

#[tokio::test]
async fn busy_answers_in_every_shape_seen() {
    for (style, http, sub) in [
        (BusyStyle::InProgress, 403, "twoWayAudioInProgressPleaseWait"),
        (BusyStyle::Unavailable, 503, "serviceUnavailable"),
        (BusyStyle::Busy, 503, "deviceBusy"),
    ] {
        let sim = start(SimConfig { busy_style: style, ..raw_sim_config() }).await;
        let mut c = Client::new(&sim);
        c.open().await.unwrap();
        let r = c.request("PUT", &format!("{CHANNELS}/1/open"), "").await;
        assert_eq!(r.status, http, "{style}");
        let st = hiktalk::isapi::xml::parse_response_status(&r.body).unwrap();
        assert_eq!(st.sub_status_code, sub, "{style}");
        if style == BusyStyle::InProgress {
            assert_eq!((st.status_code, st.error_code.as_deref()), (Some(4), Some("0x40002068")));
        }
    }
}

#[tokio::test]
async fn a_json_request_gets_the_attempts_left_in_its_user_check() {
    let sim = start(raw_sim_config()).await;
    let mut bad = Client::with(sim.addr(), "admin", "wrong");
    let r = bad.request("GET", "/ISAPI/VideoIntercom/callStatus?format=json", "").await;
    assert_eq!(r.status, 401);
    let check = hiktalk::isapi::xml::parse_user_check(&r.body).expect("a userCheck");
    assert_eq!(check.retry_times, Some(6), "admin has 7 attempts: {}", r.body);
}

#[tokio::test]
async fn a_channel_put_must_choose_from_what_the_capabilities_offer() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let put = |rate: &str, bits: &str| {
        format!(
            "<TwoWayAudioChannel><id>1</id><audioCompressionType>G.726</audioCompressionType><audioSamplingRate>{rate}</audioSamplingRate><audioBitRate>{bits}</audioBitRate></TwoWayAudioChannel>"
        )
    };
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), &put("8", "40")).await.status, 400, "40 kbit/s is not offered");
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), &put("44.1", "16")).await.status, 400, "44.1 kHz is not offered");
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), &put("8", "24")).await.status, 200);
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::ChannelUpdated { .. })), 1);
}

/// `Expect: 100-continue` on the upload: by default the device answers 200 at once (what it
/// does with any upload), and a client that waits for 100 Continue sends nothing; in `continue`
/// mode it gets its 100 and the announced body is played.
#[tokio::test]
async fn expect_continue_in_both_modes() {
    for mode in [Expect::Ignore, Expect::Continue] {
        let sim = start(SimConfig { expect: mode, ..raw_sim_config() }).await;
        let mut c = Client::new(&sim);
        let sid = c.open().await.unwrap();
        let uri = audio_uri(Some(&sid));
        let auth = c.authorization("PUT", &uri).unwrap();
        let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        let head =
            format!("PUT {uri} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 1600\r\nExpect: 100-continue\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let first = read_response_head(&mut s).await;
        match mode {
            Expect::Ignore => assert!(first.starts_with("HTTP/1.1 200"), "{first}"),
            Expect::Continue => {
                assert!(first.starts_with("HTTP/1.1 100 Continue"), "{first}");
                s.write_all(&[0xFF; 1600]).await.unwrap();
                let r = read_response(&mut s).await.unwrap();
                assert_eq!(r.status, 200);
                let ended = expect(&sim, "body", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "body_complete")).await;
                assert!(matches!(ended, EventKind::AudioEnded { bytes: 1600, .. }), "{ended:?}");
            }
        }
        expect(&sim, "expect logged", |k| matches!(k, EventKind::ExpectContinue { .. })).await;
    }
}

/// The device's own measure of a paced upload (160 ms at once, then 20 ms every 20 ms) and of a
/// burst far beyond its buffer.
#[tokio::test]
async fn the_device_measures_underruns_lead_and_overflow() {
    let sim = start(SimConfig { buffer: Duration::from_millis(500), ..raw_sim_config() }).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0xFF; 1280]).await.unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.tick().await;
    for _ in 0..25 {
        tick.tick().await;
        a.write_all(&[0xFF; 160]).await.unwrap();
    }
    // Then a second of audio at once: half of it cannot fit the 500 ms buffer.
    a.write_all(&[0xFF; 8000]).await.unwrap();
    drop(a);
    let ended = expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let EventKind::AudioEnded { listened: l, .. } = ended else { unreachable!() };
    assert_eq!(l.underruns, 0, "{l:?}");
    assert!((l.audio_seconds - 1.66).abs() < 1e-9, "{l:?}");
    assert!(l.overflow_ms > 400.0 && l.overflow_ms < 700.0, "{l:?}");
    assert!((l.max_lead_ms - 500.0).abs() < 1e-6, "{l:?}");
    assert!(l.first_audio_after_accept_ms.is_some());
    let received = sim.upload_of(&last_session(&sim)).await.unwrap();
    assert!(received.listened.arrivals.len() >= 20, "{:?}", received.listened.arrivals.len());
    assert_eq!(received.raw.len(), 1280 + 25 * 160 + 8000);
}

fn last_session(sim: &hiktalk::sim::SimHandle) -> String {
    sim.events()
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::SessionOpened { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap()
}
