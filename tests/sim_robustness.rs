//! Bad input never takes the device down: garbage, huge headers, slowloris, random bytes.

use crate::util::raw::*;
use hiktalk::sim::EventKind;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHANNELS: &str = "/ISAPI/System/TwoWayAudio/channels";

async fn still_serves(sim: &hiktalk::sim::SimHandle) {
    let mut c = Client::new(sim);
    assert_eq!(c.request("GET", CHANNELS, "").await.status, 200);
}

async fn answer_status(s: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(WAIT, s.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).split(' ').nth(1).and_then(|c| c.parse().ok())
}

#[tokio::test]
async fn garbage_gets_400() {
    let sim = start(raw_sim_config()).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n").await.unwrap();
    assert_eq!(answer_status(&mut s).await, Some(400));
    expect(&sim, "bad request", |k| matches!(k, EventKind::BadRequest { reason, .. } if reason.starts_with("malformed"))).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"GET /ISAPI/System/TwoWayAudio/channels HTTP/1.1\r\nContent-Length: banana\r\n\r\n").await.unwrap();
    assert_eq!(answer_status(&mut s).await, Some(400));
    still_serves(&sim).await;
}

#[tokio::test]
async fn huge_headers_get_431() {
    let sim = start(raw_sim_config()).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    // The device may close before all of it is written; that is fine.
    let _ = s.write_all(big.as_bytes()).await;
    assert_eq!(answer_status(&mut s).await, Some(431));
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    let many: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let _ = s.write_all(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).await;
    assert_eq!(answer_status(&mut s).await, Some(431));
    expect(&sim, "too large", |k| matches!(k, EventKind::BadRequest { reason, .. } if reason == "headers_too_large")).await;
    // A body bigger than any control document is refused too.
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"PUT /ISAPI/System/TwoWayAudio/channels/1 HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").await.unwrap();
    assert_eq!(answer_status(&mut s).await, Some(413));
    still_serves(&sim).await;
}

#[tokio::test]
async fn slowloris_is_cut_off_at_the_header_deadline() {
    let mut cfg = raw_sim_config();
    cfg.header_timeout = Duration::from_millis(300);
    let sim = start(cfg).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(b"GET /ISAPI/System/TwoWayAudio/channels HTTP/1.1\r\n").await.unwrap();
    // Dribble a byte at a time, well past the deadline.
    let t = std::time::Instant::now();
    for _ in 0..20 {
        if s.write_all(b"X").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    expect(&sim, "timeout", |k| matches!(k, EventKind::BadRequest { reason, .. } if reason == "header_timeout")).await;
    assert!(t.elapsed() < Duration::from_secs(2));
    still_serves(&sim).await;
}

#[tokio::test]
async fn random_bytes_and_abrupt_disconnects_never_crash_it() {
    let sim = start(raw_sim_config()).await;
    // A fixed xorshift sequence: reproducible without a seed file.
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let prefixes: [&[u8]; 4] =
        [b"", b"GET ", b"PUT /ISAPI/System/TwoWayAudio/channels/1/audioData HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nAuthorization: Digest "];
    for i in 0..120 {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        let mut data = prefixes[i % prefixes.len()].to_vec();
        let len = (next() % 600) as usize;
        data.extend((0..len).map(|_| next() as u8));
        if i % 3 == 0 {
            data.extend_from_slice(b"\r\n\r\n");
        }
        let _ = s.write_all(&data).await;
        // Half the time, hang up without reading the answer.
        if i % 2 == 0 {
            let mut buf = [0u8; 256];
            let _ = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
        }
    }
    // Odd Digest headers on a real path.
    for h in ["Digest", "Digest ,,,=,\"", "Digest username=\"admin\", nc=zz, qop=auth", "Digest username=\"admin\", realm=\"\u{1F600}\""] {
        let mut c = Client::new(&sim);
        let r = c.send("GET", CHANNELS, &format!("Authorization: {h}\r\n"), "").await.unwrap();
        assert_eq!(r.status, 401);
    }
    still_serves(&sim).await;
    let summary = sim.shutdown().await;
    assert_eq!(summary.sessions_opened, 0);
}

#[tokio::test]
async fn shutdown_ends_uploads_and_logs_them() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let sid = c.open().await;
    let (mut a, _) = c.upload(&audio_uri(sid.as_deref())).await;
    a.write_all(&[0xFF; 160]).await.unwrap();
    expect(&sim, "started", |k| matches!(k, EventKind::AudioStarted { .. })).await;
    let events = {
        let mut rx = sim.subscribe();
        let summary = sim.shutdown().await;
        assert_eq!(summary.sessions_closed, 1);
        let mut v = Vec::new();
        while let Ok(e) = rx.try_recv() {
            v.push(e.kind);
        }
        v
    };
    assert!(events.iter().any(|k| matches!(k, EventKind::AudioEnded { reason, .. } if reason == "shutdown")), "{events:?}");
    assert!(read_to_end(&mut a).await.is_empty());
}
