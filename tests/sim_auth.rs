//! Digest authentication and lockout as devices do them.

use crate::util::count;
use crate::util::raw::*;
use hiktalk::sim::EventKind;
use std::time::Duration;

#[tokio::test]
async fn challenge_has_the_real_shape() {
    let mut cfg = raw_sim_config();
    cfg.basic_challenge = true;
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    let r = c.send("GET", CHANNELS, "", "").await.unwrap();
    assert_eq!(r.status, 401);
    let auth = r.headers_named("www-authenticate");
    assert_eq!(auth.len(), 2, "{auth:?}");
    let digest = auth[0];
    for part in [r#"domain="::""#, r#"qop="auth""#, r#"opaque="""#, r#"algorithm="MD5""#, r#"stale="FALSE""#] {
        assert!(digest.contains(part), "{part} missing in {digest}");
    }
    let nonce = &challenge_params(digest)["nonce"];
    let (hex, ms) = nonce.split_once(':').expect("nonce is <hex>:<ms>");
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()) && ms.parse::<u64>().is_ok(), "{nonce}");
    assert!(auth[1].starts_with("Basic "));
    let uc = hiktalk::isapi::xml::parse_user_check(&r.body).unwrap();
    assert_eq!(uc.status_value, Some(401));
    assert!(!uc.is_locked());
    expect(&sim, "no_credentials", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "no_credentials")).await;
    // Basic credentials are ignored, as on ISAPI devices.
    let mut raw = Client::new(&sim);
    let r = raw.send("GET", CHANNELS, "Authorization: Basic YWRtaW46aGlrdGFsay1zaW0=\r\n", "").await.unwrap();
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn lockout_after_n_bad_attempts_even_for_the_right_password() {
    let mut cfg = raw_sim_config();
    cfg.lockout_attempts = Some(3);
    cfg.lockout_duration = Duration::from_secs(600);
    let sim = start(cfg).await;
    let mut bad = Client::with(sim.addr(), "admin", "guess");
    for attempt in 1..=3u32 {
        let r = bad.request("GET", CHANNELS, "").await;
        assert_eq!(r.status, 401);
        expect(
            &sim,
            "bad_password",
            move |k| matches!(k, EventKind::AuthFailed { reason, attempts, .. } if reason == "bad_password" && *attempts == attempt),
        )
        .await;
    }
    let locked = expect(&sim, "locked", |k| matches!(k, EventKind::Locked { .. })).await;
    assert!(matches!(locked, EventKind::Locked { seconds: 600, .. }));

    let mut good = Client::new(&sim);
    let r = good.request("GET", CHANNELS, "").await;
    assert_eq!(r.status, 401, "a locked IP is refused even with the right password");
    let uc = hiktalk::isapi::xml::parse_user_check(&r.body).expect("userCheck body");
    assert!(uc.is_locked());
    let left = uc.unlock_time.unwrap();
    assert!(left > 590 && left <= 600, "{left}");
    expect(&sim, "locked failure", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "locked")).await;
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::AuthOk { .. })), 0);
}

#[tokio::test]
async fn lock_expires() {
    let mut cfg = raw_sim_config();
    cfg.lockout_attempts = Some(1);
    cfg.lockout_duration = Duration::from_millis(300);
    let sim = start(cfg).await;
    let mut bad = Client::with(sim.addr(), "admin", "x");
    bad.request("GET", CHANNELS, "").await;
    expect(&sim, "bad_password", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "bad_password")).await;
    expect(&sim, "locked", |k| matches!(k, EventKind::Locked { .. })).await;
    let mut good = Client::new(&sim);
    assert_eq!(good.request("GET", CHANNELS, "").await.status, 401);
    // Waiting out the lock is the behaviour under test; there is no event for time passing.
    tokio::time::sleep(Duration::from_millis(400)).await;
    good.challenge = None;
    assert_eq!(good.request("GET", CHANNELS, "").await.status, 200);
}

#[tokio::test]
async fn expired_nonce_gets_stale_true_and_does_not_count() {
    let mut cfg = raw_sim_config();
    cfg.nonce_lifetime = Duration::from_millis(200);
    cfg.lockout_attempts = Some(1);
    let sim = start(cfg).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("GET", CHANNELS, "").await.status, 200);
    // Let the nonce age past its lifetime.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c.send("GET", CHANNELS, "", "").await.unwrap();
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains(r#"stale="TRUE""#));
    expect(&sim, "stale_nonce", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "stale_nonce")).await;
    // The fresh nonce works, and the stale answer did not lock the client out.
    assert_eq!(c.send("GET", CHANNELS, "", "").await.unwrap().status, 200);
    assert_eq!(count(&sim.events(), |k| matches!(k, EventKind::Locked { .. })), 0);
}

#[tokio::test]
async fn reused_nc_is_a_replay_but_out_of_order_nc_is_fine() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("GET", CHANNELS, "").await.status, 200); // nc=1
    let ch = c.challenge.clone().unwrap();
    // nc 3 before nc 2: a control request and an upload sharing one nonce.
    for nc in [3, 2] {
        let h = c.authorization_with("GET", CHANNELS, nc, ch.clone());
        let mut raw = Client::with(sim.addr(), "admin", "hiktalk-sim");
        let r = raw.send("GET", CHANNELS, &format!("Authorization: {h}\r\n"), "").await.unwrap();
        assert_eq!(r.status, 200, "nc={nc}");
    }
    let h = c.authorization_with("GET", CHANNELS, 2, ch);
    let mut raw = Client::with(sim.addr(), "admin", "hiktalk-sim");
    let r = raw.send("GET", CHANNELS, &format!("Authorization: {h}\r\n"), "").await.unwrap();
    assert_eq!(r.status, 401);
    expect(&sim, "nc_replay", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "nc_replay")).await;
}

#[tokio::test]
async fn digest_for_another_uri_is_rejected() {
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    c.request("GET", CHANNELS, "").await;
    let h = c.authorization("GET", "/ISAPI/System/deviceInfo").unwrap();
    let mut raw = Client::new(&sim);
    let r = raw.send("GET", CHANNELS, &format!("Authorization: {h}\r\n"), "").await.unwrap();
    assert_eq!(r.status, 401);
    expect(&sim, "bad_digest", |k| matches!(k, EventKind::AuthFailed { reason, .. } if reason == "bad_digest")).await;
}
