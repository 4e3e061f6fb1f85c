//! TLS: a self-signed front for the simulator (as Hikvision devices ship), trust by pinned
//! SHA-256 fingerprint. The certificate is made at test time with rcgen (ring backend, already
//! this crate's TLS provider) rather than the openssl CLI, so the test needs no external tool and
//! the DER whose fingerprint is pinned is exactly the one served.

use crate::util::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// A TLS terminator in front of the simulator's plain TCP port. It records which of its own
/// connections to the simulator carried each handshake, so the test can tell that every request
/// the simulator logged arrived through TLS.
struct Front {
    addr: SocketAddr,
    fingerprint: String,
    handshakes: Arc<AtomicU64>,
    /// Counted when the front's side of a handshake has failed (after the client's, maybe).
    failed_handshakes: Arc<tokio::sync::watch::Sender<u64>>,
    /// Bytes of plaintext forwarded client -> simulator.
    upstream_bytes: Arc<AtomicU64>,
    /// Local addresses of the front's connections to the simulator (the `peer` the sim logs).
    upstream_peers: Arc<Mutex<HashSet<String>>>,
}

async fn front(target: SocketAddr) -> Front {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "hikvision.local".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der = cert.der().to_vec();
    let fingerprint = hiktalk::isapi::tls::fingerprint(&der);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(der)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let f = Front {
        addr: listener.local_addr().unwrap(),
        fingerprint,
        handshakes: Arc::default(),
        failed_handshakes: Arc::new(tokio::sync::watch::channel(0).0),
        upstream_bytes: Arc::default(),
        upstream_peers: Arc::default(),
    };
    let (hs, bad, bytes, peers) = (f.handshakes.clone(), f.failed_handshakes.clone(), f.upstream_bytes.clone(), f.upstream_peers.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, hs, bad, bytes, peers) = (acceptor.clone(), hs.clone(), bad.clone(), bytes.clone(), peers.clone());
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(s) => s,
                    Err(_) => {
                        bad.send_modify(|n| *n += 1);
                        return;
                    }
                };
                hs.fetch_add(1, Ordering::SeqCst);
                let up = TcpStream::connect(target).await.unwrap();
                peers.lock().unwrap().insert(up.local_addr().unwrap().to_string());
                let (mut cr, mut cw) = tokio::io::split(tls);
                let (mut ur, mut uw) = up.into_split();
                let to_sim = async {
                    let n = copy_counting(&mut cr, &mut uw, &bytes).await;
                    use tokio::io::AsyncWriteExt;
                    let _ = uw.shutdown().await;
                    n
                };
                let from_sim = async {
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    use tokio::io::AsyncWriteExt;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(to_sim, from_sim);
            });
        }
    });
    f
}

async fn copy_counting<R: tokio::io::AsyncRead + Unpin, W: tokio::io::AsyncWrite + Unpin>(r: &mut R, w: &mut W, n: &AtomicU64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 8192];
    while let Ok(k) = r.read(&mut buf).await {
        if k == 0 || w.write_all(&buf[..k]).await.is_err() {
            return;
        }
        n.fetch_add(k as u64, Ordering::SeqCst);
    }
}

async fn play(f: &Front, wav: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = hiktalk();
    cmd.arg("play").arg(wav).arg(format!("https://{}", f.addr)).args(extra);
    let (out, _) = run_to_end(cmd).await;
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_self_signed_certificate_carries_control_and_audio() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let f = front(sim.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 1.0, 8000, 1, 0.3);

    // Pinned, pasted the way people copy it from a browser (upper case with colons).
    let pasted: String =
        f.fingerprint.to_uppercase().as_bytes().chunks(2).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(":");
    let out = play(&f, &wav, &["--tls-fingerprint", &pasted]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ev = sim.events();
    let opened: Vec<String> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SessionOpened { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1, "{ev:#?}");
    assert_eq!(count(&ev, |e| matches!(e, EventKind::SessionClosed { by, .. } if by == "client")), 1, "{ev:#?}");
    let (samples, _) = crate::util::ffmpeg::heard(&sim, &opened[0]).await;
    assert!(samples.len() as f64 / 8000.0 > 0.8, "about a second of audio arrived: {} samples", samples.len());
    assert!(sine_snr_db(&samples, 8000, 440.0, 400) > 20.0, "the tone survived TLS");

    // Both paths went through the TLS front: every request the simulator saw (the reqwest
    // control requests and the raw audioData upload) came from one of the front's connections,
    // and the front forwarded at least the audio's ~8000 bytes of plaintext.
    let peers = f.upstream_peers.lock().unwrap().clone();
    let requests: Vec<(String, String)> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Request { peer, path, .. } => Some((peer.clone(), path.clone())),
            _ => None,
        })
        .collect();
    assert!(requests.iter().any(|(_, p)| p.ends_with("/channels")), "{requests:?}");
    assert!(requests.iter().any(|(_, p)| p.ends_with("/audioData")), "{requests:?}");
    for (peer, path) in &requests {
        assert!(peers.contains(peer), "{path} from {peer} did not come through TLS ({peers:?})");
    }
    assert!(f.handshakes.load(Ordering::SeqCst) >= 2, "control and upload are separate TLS connections");
    assert!(f.upstream_bytes.load(Ordering::SeqCst) >= 7000, "{}", f.upstream_bytes.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_or_changed_certificate_is_refused_and_says_how_to_pin_it() {
    let sim = sim::start(binary_sim_config()).await.unwrap();
    let f = front(sim.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 440.0, 0.5, 8000, 1, 0.3);

    let out = play(&f, &wav, &[]).await;
    let err = stderr(&out);
    eprintln!("unpinned: {err}");
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains(&f.fingerprint), "names the fingerprint the device presented: {err}");
    assert!(err.contains(&format!("--tls-fingerprint {}", f.fingerprint)), "{err}");
    assert!(err.contains("tls_fingerprint") && err.contains("--insecure"), "{err}");
    assert!(err.contains(&f.addr.to_string()), "names the device: {err}");
    assert!(!err.contains(PASSWORD) && !err.contains("response=\""), "{err}");
    assert!(!err.contains("error sending request"), "the verifier's sentence, not reqwest's wrapping: {err}");

    let wrong = "ab".repeat(32);
    let out = play(&f, &wav, &["--tls-fingerprint", &wrong]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    eprintln!("wrong pin: {err}");
    assert!(err.contains("mismatch") && err.contains(&f.fingerprint) && err.contains(&wrong), "{err}");

    // Nothing reached the device: no request got past the handshake.
    assert_eq!(f.handshakes.load(Ordering::SeqCst), 0);
    // The client exits once its own side fails; the front counts its side a moment later.
    let mut failed = f.failed_handshakes.subscribe();
    let counted = tokio::time::timeout(Duration::from_secs(5), failed.wait_for(|n| *n >= 2)).await;
    assert!(counted.is_ok_and(|r| r.is_ok()), "two refused handshakes: {}", *f.failed_handshakes.borrow());
    assert!(sim.events().iter().all(|e| !matches!(e.kind, EventKind::Request { .. })), "{:#?}", sim.events());

    // --insecure accepts any certificate (and still goes over TLS).
    let out = play(&f, &wav, &["--insecure"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(f.handshakes.load(Ordering::SeqCst) >= 2);
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::SessionOpened { .. })), 1);
    assert_eq!(count(&sim.events(), |e| matches!(e, EventKind::SessionClosed { .. })), 1);
    tokio::time::timeout(Duration::from_secs(5), sim.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_pin_and_stops_at_an_untrusted_certificate() {
    let sim = sim::start(SimConfig { heartbeat: Duration::from_secs(1), ..binary_sim_config() }).await.unwrap();
    let f = front(sim.addr()).await;
    let run = |extra: Vec<String>| {
        let mut cmd = hiktalk();
        cmd.args(["--json", "check"]).arg(format!("https://{}", f.addr)).args(extra);
        run_to_end(cmd)
    };
    let tls_verdict =
        |v: &serde_json::Value| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "tls").unwrap()["verdict"].clone();

    let (out, _) = run(vec![]).await;
    assert_eq!(out.status.code(), Some(15), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(tls_verdict(&v), "fail", "{v}");
    assert!(v["checks"].to_string().contains(&f.fingerprint), "says the fingerprint to pin: {v}");
    assert!(sim.events().iter().all(|e| !matches!(e.kind, EventKind::Request { .. })), "nothing got past the handshake");

    let (out, _) = run(vec!["--tls-fingerprint".into(), f.fingerprint.clone()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tls_verdict(&json(&out)), "pass");

    let (out, _) = run(vec!["--insecure".into()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(tls_verdict(&json(&out)), "warn");
    assert_eq!(leaks(&sim.events()), Vec::<String>::new());
}
