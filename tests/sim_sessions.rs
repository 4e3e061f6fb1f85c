//! Session lifecycle: one session per channel, the raw upload, idle hang-up, stale sessions,
//! and the reopen loop this project exists to prevent.

use crate::util::count;
use crate::util::raw::*;
use hiktalk::sim::{BusyStyle, EventKind, SimConfig};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn seed_failure_reopen_after_every_hangup_makes_repeated_call_ended_prompts() {
    // The bug hiktalk must never have: a client that, stopped by its API, keeps reopening.
    // Each session gets no audio, the device hangs up with "call ended", the client reopens.
    let mut cfg = raw_sim_config();
    cfg.idle_timeout = Duration::from_millis(500);
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    let mut sids = Vec::new();
    for _ in 0..3 {
        let sid = c.open().await;
        sids.push(sid.clone().unwrap());
        let (mut audio, r) = c.upload(&audio_uri(sid.as_deref())).await;
        assert_eq!(r.status, 200);
        // No audio is sent; the device hangs up and closes the socket, after a goodbye body.
        let tail = String::from_utf8_lossy(&read_to_end(&mut audio).await).to_string();
        assert!(tail.contains("<ResponseStatus") && tail.contains("call ended"), "{tail}");
        // ...and the client reopens at once.
    }
    let prompts = count(&sim.events(), |k| matches!(k, EventKind::Prompt { text, .. } if text == "call ended"));
    assert_eq!(prompts, 3, "{}", dump(&sim.events()));
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Hangup { reason, .. } if reason == "idle")), 3);
    for sid in sids {
        let ended = expect(&sim, "audio ended", move |k| matches!(k, EventKind::AudioEnded { session_id, .. } if *session_id == sid)).await;
        assert!(matches!(&ended, EventKind::AudioEnded { reason, bytes: 0, .. } if reason == "hangup_idle"), "{ended:?}");
    }
    let summary = sim.shutdown().await;
    assert_eq!((summary.sessions_opened, summary.prompts_played), (3, 3));
}

#[tokio::test]
async fn idle_hangup_without_an_upload_and_silence_keeps_a_session_alive() {
    let mut cfg = raw_sim_config();
    cfg.idle_timeout = Duration::from_millis(800);
    cfg.hangup_body = false;
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    // Opened, never uploaded: hung up all the same.
    c.open().await;
    expect(&sim, "closed by device", |k| matches!(k, EventKind::SessionClosed { by, reason, .. } if by == "device" && reason == "idle"))
        .await;
    expect(&sim, "prompt", |k| matches!(k, EventKind::Prompt { .. })).await;

    // Silence (0xFF mu-law) for twice the idle time keeps the session.
    let sid = c.open().await;
    let (mut audio, _) = c.upload(&audio_uri(sid.as_deref())).await;
    for _ in 0..80 {
        audio.write_all(&[0xFF; 160]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await; // real-time pacing
    }
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Prompt { .. })), 1, "silence counts as audio");
    // Stop sending: the device hangs up, with no body this time.
    let tail = read_to_end(&mut audio).await;
    assert!(tail.is_empty(), "{tail:?}");
    let ended = expect(&sim, "audio ended", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "hangup_idle")).await;
    assert!(matches!(ended, EventKind::AudioEnded { bytes: 12800, .. }), "{ended:?}");
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Prompt { .. })), 2);
}

#[tokio::test]
async fn stale_session_blocks_until_expiry_then_opens_again() {
    let mut cfg = raw_sim_config();
    cfg.stale_expiry = Duration::from_secs(1);
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut audio, _) = c.upload(&audio_uri(sid.as_deref())).await;
    audio.write_all(&[0xFF; 800]).await.unwrap();
    drop(audio); // the client vanishes without close
    expect(&sim, "client closed", |k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "client_closed")).await;
    let r = c.request("PUT", "/ISAPI/System/TwoWayAudio/channels/1/open", "").await;
    assert_eq!(r.status, 403, "the stale session still holds the channel");
    expect(&sim, "busy_stale", |k| matches!(k, EventKind::OpenRefused { reason, .. } if reason == "busy_stale")).await;
    let exp = expect(&sim, "expired", |k| matches!(k, EventKind::SessionExpired { .. })).await;
    assert!(matches!(exp, EventKind::SessionExpired { session_id, .. } if Some(session_id.clone()) == sid));
    // No idle hang-up for a stale session: expiry is what ended it.
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Prompt { .. })), 0);
    c.open().await;
}

#[tokio::test]
async fn close_then_open_clears_a_stale_session() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    c.open().await;
    assert_eq!(c.close().await.status, 200);
    assert_eq!(c.close().await.status, 200, "close is idempotent");
    c.open().await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::SessionClosed { by, .. } if by == "client")), 1);
}

async fn second_open_status(style: BusyStyle) -> (u16, Resp) {
    let mut cfg = raw_sim_config();
    cfg.busy_style = style;
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    c.open().await;
    let r = c.request("PUT", "/ISAPI/System/TwoWayAudio/channels/1/open", "").await;
    expect(&sim, "open refused", |k| matches!(k, EventKind::OpenRefused { reason, .. } if reason == "busy")).await;
    (r.status, r)
}

#[tokio::test]
async fn second_open_is_refused_in_each_firmware_style() {
    let (s, r) = second_open_status(BusyStyle::Forbidden).await;
    assert_eq!(s, 403);
    assert_eq!(hiktalk::isapi::xml::parse_response_status(&r.body).unwrap().status_code, Some(4));
    let (s, r) = second_open_status(BusyStyle::Busy).await;
    assert_eq!(s, 503);
    let rs = hiktalk::isapi::xml::parse_response_status(&r.body).unwrap();
    assert_eq!((rs.status_code, rs.status_string.as_str()), (Some(2), "Device Busy"));
    let (s, r) = second_open_status(BusyStyle::Unauthorized).await;
    assert_eq!(s, 401);
    assert!(r.header("www-authenticate").is_some());
}

#[tokio::test]
async fn audio_data_refusals() {
    let sim = start(SimConfig { require_session_id: Some(true), ..raw_sim_config() }).await;
    let mut c = Client::new(&sim);
    // No session.
    let (_s, r) = c.upload(&audio_uri(Some("nope"))).await;
    assert_eq!(r.status, 403);
    expect(&sim, "no_session", |k| matches!(k, EventKind::AudioRefused { reason, .. } if reason == "no_session")).await;
    let sid = c.open().await.unwrap();
    // Where the sessionId is required, a missing or wrong one is refused, on close too.
    let (_s, r) = c.upload(&audio_uri(None)).await;
    assert_eq!(r.status, 403);
    assert_eq!(hiktalk::isapi::xml::parse_response_status(&r.body).unwrap().sub_status_code, "invalidOperation");
    expect(&sim, "missing", |k| matches!(k, EventKind::AudioRefused { reason, .. } if reason == "missing_session_id")).await;
    let (_s, r) = c.upload(&audio_uri(Some("wrong"))).await;
    assert_eq!(r.status, 403);
    expect(&sim, "wrong", |k| matches!(k, EventKind::AudioRefused { reason, .. } if reason == "wrong_session_id")).await;
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1/close?sessionId=wrong"), "").await.status, 403);
    expect(&sim, "close wrong", |k| matches!(k, EventKind::CloseRefused { reason, .. } if reason == "wrong_session_id")).await;
    assert_eq!(c.close().await.status, 403);
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::SessionClosed { .. })), 0, "the session survived both");
    // One upload per session: a second PUT is refused.
    let (mut first, r) = c.upload(&audio_uri(Some(&sid))).await;
    assert_eq!(r.status, 200);
    first.write_all(&[0xFF; 160]).await.unwrap();
    let (_s, r) = c.upload(&audio_uri(Some(&sid))).await;
    assert_eq!(r.status, 403);
    expect(&sim, "already", |k| matches!(k, EventKind::AudioRefused { reason, .. } if reason == "already_streaming")).await;
}

#[tokio::test]
async fn chunked_upload_makes_the_device_close_the_connection() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let uri = audio_uri(sid.as_deref());
    let auth = c.authorization("PUT", &uri).unwrap();
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let req = format!("PUT {uri} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\na0\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(&[0xFF; 160]).await.unwrap();
    assert!(read_to_end(&mut s).await.is_empty(), "closed without an answer");
    expect(&sim, "chunked", |k| matches!(k, EventKind::BadRequest { reason, .. } if reason == "chunked")).await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::AudioStarted { .. })), 0);
}

#[tokio::test]
async fn huge_content_length_upload_streams_and_close_ends_it() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await.unwrap();
    let uri = audio_uri(Some(&sid));
    let auth = c.authorization("PUT", &uri).unwrap();
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let req = format!("PUT {uri} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 28800000\r\n\r\n");
    // The first audio bytes ride in the same packet as the headers.
    let mut first = req.into_bytes();
    first.extend_from_slice(&[0xFF; 400]);
    s.write_all(&first).await.unwrap();
    let r = read_response(&mut s).await.unwrap();
    assert_eq!(r.status, 200, "answered at once");
    s.write_all(&[0xFF; 400]).await.unwrap();
    expect(&sim, "started", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    // Close from the control connection ends the upload.
    let mut ctl = Client::new(&sim);
    assert_eq!(ctl.close().await.status, 200);
    let ended = expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    assert!(matches!(&ended, EventKind::AudioEnded { reason, bytes: 800, .. } if reason == "session_closed"), "{ended:?}");
    assert_eq!(sim.upload_of(&sid).await.unwrap().samples.len(), 800);
}

#[tokio::test]
async fn mic_stream_is_a_paced_tone_at_the_channel_codec() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await.unwrap();
    let uri = audio_uri(Some(&sid));
    let auth = c.authorization("GET", &uri).unwrap();
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(format!("GET {uri} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n").as_bytes()).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let start = std::time::Instant::now();
    use tokio::io::AsyncReadExt;
    while data.len() < 2000 {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        data.extend_from_slice(&buf[..n]);
    }
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&data[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("audio/basic"), "{head}");
    // 1600+ bytes of 8 kHz G.711 cannot arrive much faster than 0.2 s if paced.
    assert!(start.elapsed() >= Duration::from_millis(150), "{:?}", start.elapsed());
    let samples: Vec<i16> = data[head_end..].iter().map(|&b| audio_codec_algorithms::decode_ulaw(b)).collect();
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!((7000..=9000).contains(&peak), "tone peak {peak}");
    expect(&sim, "mic", |k| matches!(k, EventKind::MicStarted { .. })).await;
    drop(s);
    expect(&sim, "mic ended", |k| matches!(k, EventKind::MicEnded { reason, .. } if reason == "client_closed")).await;
}

#[tokio::test]
async fn channel_codec_change_to_alaw_is_what_the_recorder_decodes() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let put = r#"<TwoWayAudioChannel><id>1</id><audioCompressionType>G.711alaw</audioCompressionType></TwoWayAudioChannel>"#;
    assert_eq!(c.request("PUT", "/ISAPI/System/TwoWayAudio/channels/1", put).await.status, 200);
    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    // A-law silence is 0xD5; read as mu-law it would be a loud constant.
    a.write_all(&[0xD5; 400]).await.unwrap();
    drop(a);
    expect(&sim, "ended", |k| matches!(k, EventKind::AudioEnded { bytes: 400, .. })).await;
    let rec = sim.upload_of(&sid).await.unwrap().samples;
    assert_eq!(rec.len(), 400);
    assert!(rec.iter().all(|s| s.abs() <= 8), "{:?}", &rec[..8]);
}
