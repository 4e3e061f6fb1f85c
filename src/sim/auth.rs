//! Digest authentication as Hikvision devices do it (MD5, qop=auth), with lockout per client
//! address and user name: 7 failed attempts for admin, 5 for other users (older firmware), unless
//! configured otherwise.
//!
//! Computed here with md-5 directly, independent of the client's digest_auth crate, so the
//! simulator checks the client rather than agreeing with it by construction.

use md5::{Digest as _, Md5};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nonces kept at most; the oldest go first (a flood of unauthenticated requests must not grow
/// memory without bound).
const MAX_NONCES: usize = 4096;

/// Why a request was not authenticated; `as_str` is the event's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    NoCredentials,
    BadDigest,
    UnknownUser,
    BadPassword,
    StaleNonce,
    NcReplay,
    Locked,
}

impl AuthFailure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthFailure::NoCredentials => "no_credentials",
            AuthFailure::BadDigest => "bad_digest",
            AuthFailure::UnknownUser => "unknown_user",
            AuthFailure::BadPassword => "bad_password",
            AuthFailure::StaleNonce => "stale_nonce",
            AuthFailure::NcReplay => "nc_replay",
            AuthFailure::Locked => "locked",
        }
    }

    /// Only guesses at credentials count toward lockout.
    fn counts(self) -> bool {
        matches!(self, AuthFailure::UnknownUser | AuthFailure::BadPassword)
    }
}

/// The outcome of checking one request.
pub(crate) enum Verdict {
    Ok {
        user: String,
    },
    Failed {
        failure: AuthFailure,
        /// Failures counted for this IP and user so far.
        attempts: u32,
        /// Attempts left before the lock (the JSON userCheck's `retryTimes`).
        left: u32,
        /// Seconds left of a lock, when the IP is (or just became) locked.
        locked_for: Option<u64>,
        /// The IP became locked by this attempt.
        newly_locked: bool,
    },
}

struct NonceState {
    issued: Instant,
    seen_nc: HashSet<u32>,
}

#[derive(Default)]
struct Strikes {
    count: u32,
    locked_until: Option<Instant>,
}

pub(crate) struct Auth {
    user: String,
    password: String,
    realm: String,
    nonce_lifetime: Duration,
    /// Failed attempts before a lock; `None`: 7 for admin, 5 for other users.
    lockout_attempts: Option<u32>,
    lockout_duration: Duration,
    nonces: HashMap<String, NonceState>,
    strikes: HashMap<(IpAddr, String), Strikes>,
}

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits `Digest a="b", c=d` into pairs; quoted values may contain commas.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_ascii_lowercase();
        rest = &rest[eq + 1..];
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_string();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.insert(key, value);
    }
    out
}

impl Auth {
    pub(crate) fn new(
        user: &str,
        password: &str,
        realm: &str,
        nonce_lifetime: Duration,
        lockout_attempts: Option<u32>,
        lockout_duration: Duration,
    ) -> Auth {
        Auth {
            user: user.to_string(),
            password: password.to_string(),
            realm: realm.to_string(),
            nonce_lifetime,
            lockout_attempts,
            lockout_duration,
            nonces: HashMap::new(),
            strikes: HashMap::new(),
        }
    }

    /// A fresh `WWW-Authenticate: Digest ...` value in the shape real devices send.
    pub(crate) fn challenge(&mut self, stale: bool) -> String {
        let now = Instant::now();
        let lifetime = self.nonce_lifetime;
        self.nonces.retain(|_, n| now.duration_since(n.issued) < lifetime);
        if self.nonces.len() >= MAX_NONCES
            && let Some(oldest) = self.nonces.iter().min_by_key(|(_, n)| n.issued).map(|(k, _)| k.clone())
        {
            self.nonces.remove(&oldest);
        }
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let nonce = format!("{:032x}:{ms}", rand::random::<u128>());
        self.nonces.insert(nonce.clone(), NonceState { issued: now, seen_nc: HashSet::new() });
        format!(
            r#"Digest realm="{}", domain="::", qop="auth", nonce="{nonce}", opaque="", algorithm="MD5", stale="{}""#,
            self.realm,
            if stale { "TRUE" } else { "FALSE" }
        )
    }

    /// Failed attempts allowed for `user` before a lock.
    fn threshold(&self, user: &str) -> u32 {
        self.lockout_attempts.unwrap_or(if user == "admin" { 7 } else { 5 }).max(1)
    }

    /// Seconds left of the lock on `user` from `ip`, if locked.
    fn locked_for(&mut self, key: &(IpAddr, String)) -> Option<u64> {
        let s = self.strikes.get_mut(key)?;
        let until = s.locked_until?;
        let now = Instant::now();
        if now >= until {
            *s = Strikes::default();
            return None;
        }
        Some((until - now).as_secs_f64().ceil() as u64)
    }

    /// Checks an `Authorization` header for a request `method uri` from `ip`.
    pub(crate) fn verify(&mut self, ip: IpAddr, method: &str, uri: &str, header: Option<&str>) -> Verdict {
        let user =
            header.and_then(|h| parse_params(h.trim().split_once(' ').map_or("", |(_, r)| r)).remove("username")).unwrap_or_default();
        let threshold = self.threshold(&user);
        let key = (ip, user);
        if let Some(locked) = self.locked_for(&key) {
            let attempts = self.strikes.get(&key).map_or(0, |s| s.count);
            return Verdict::Failed { failure: AuthFailure::Locked, attempts, left: 0, locked_for: Some(locked), newly_locked: false };
        }
        match self.check(method, uri, header) {
            Ok(user) => {
                self.strikes.remove(&key);
                Verdict::Ok { user }
            }
            Err(failure) => {
                let lockout = self.lockout_duration;
                let strikes = self.strikes.entry(key).or_default();
                let mut newly_locked = false;
                if failure.counts() {
                    strikes.count += 1;
                    if strikes.count >= threshold {
                        strikes.locked_until = Some(Instant::now() + lockout);
                        newly_locked = true;
                    }
                }
                let attempts = strikes.count;
                let locked_for = if newly_locked { Some(lockout.as_secs()) } else { None };
                Verdict::Failed { failure, attempts, left: threshold.saturating_sub(attempts), locked_for, newly_locked }
            }
        }
    }

    fn check(&mut self, method: &str, uri: &str, header: Option<&str>) -> Result<String, AuthFailure> {
        let header = header.ok_or(AuthFailure::NoCredentials)?.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        // Basic is ignored, as on ISAPI devices.
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(AuthFailure::NoCredentials);
        }
        let p = parse_params(rest);
        let field = |k: &str| p.get(k).map(String::as_str).ok_or(AuthFailure::BadDigest);
        let (username, realm, nonce, duri, response) =
            (field("username")?, field("realm")?, field("nonce")?, field("uri")?, field("response")?);
        let (qop, nc, cnonce) = (field("qop")?, field("nc")?, field("cnonce")?);
        let algorithm_ok = p.get("algorithm").is_none_or(|a| a.eq_ignore_ascii_case("md5"));
        // The digest uri must name this request (clients send the path with its query).
        let uri_ok = duri == uri || uri.split('?').next() == Some(duri);
        if qop != "auth" || realm != self.realm || !algorithm_ok || !uri_ok {
            return Err(AuthFailure::BadDigest);
        }
        let nc_value = u32::from_str_radix(nc, 16).map_err(|_| AuthFailure::BadDigest)?;
        if username != self.user {
            return Err(AuthFailure::UnknownUser);
        }
        let ha1 = md5_hex(&format!("{username}:{realm}:{}", self.password));
        let ha2 = md5_hex(&format!("{method}:{duri}"));
        let expected = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"));
        if !expected.eq_ignore_ascii_case(response) {
            return Err(AuthFailure::BadPassword);
        }
        // The password is right; now the nonce must be live and this nc unused. An unknown
        // nonce (expired and pruned, or from before a restart) is stale, like an expired one.
        let lifetime = self.nonce_lifetime;
        let Some(state) = self.nonces.get_mut(nonce).filter(|n| n.issued.elapsed() < lifetime) else {
            return Err(AuthFailure::StaleNonce);
        };
        // Out-of-order nc is fine: a client may run a control request and the upload at once.
        if !state.seen_nc.insert(nc_value) {
            return Err(AuthFailure::NcReplay);
        }
        Ok(username.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(auth: &mut Auth, user: &str, pass: &str, nc: &str, uri: &str) -> (String, String) {
        let ch = auth.challenge(false);
        let p = parse_params(ch.trim_start_matches("Digest "));
        let nonce = p["nonce"].clone();
        let ha1 = md5_hex(&format!("{user}:{}:{pass}", p["realm"]));
        let ha2 = md5_hex(&format!("GET:{uri}"));
        let resp = md5_hex(&format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"));
        let h = format!(
            r#"Digest username="{user}", realm="{}", nonce="{nonce}", uri="{uri}", response="{resp}", qop=auth, nc={nc}, cnonce="abc""#,
            p["realm"]
        );
        (h, nonce)
    }

    fn failure(v: Verdict) -> Option<AuthFailure> {
        match v {
            Verdict::Ok { .. } => None,
            Verdict::Failed { failure, .. } => Some(failure),
        }
    }

    #[test]
    fn rfc2617_reference_vector() {
        // RFC 2617 section 3.5 example.
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let r = md5_hex(&format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"));
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn verifies_and_rejects() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut a = Auth::new("admin", "pw", "r", Duration::from_secs(60), Some(3), Duration::from_secs(10));
        let (h, _) = answer(&mut a, "admin", "pw", "00000001", "/x");
        assert!(failure(a.verify(ip, "GET", "/x", Some(&h))).is_none());
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::NcReplay));
        assert_eq!(failure(a.verify(ip, "GET", "/y", Some(&h))), Some(AuthFailure::BadDigest));
        assert_eq!(failure(a.verify(ip, "GET", "/x", None)), Some(AuthFailure::NoCredentials));
        let (h, _) = answer(&mut a, "admin", "nope", "00000001", "/x");
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::BadPassword));
        let (h, _) = answer(&mut a, "root", "pw", "00000001", "/x");
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::UnknownUser));
        // Strikes count per user: root's does not bring admin closer to the lock.
        let (h, _) = answer(&mut a, "admin", "nope", "00000001", "/x");
        assert!(matches!(a.verify(ip, "GET", "/x", Some(&h)), Verdict::Failed { newly_locked: false, attempts: 2, left: 1, .. }));
        let (h, _) = answer(&mut a, "admin", "nope", "00000001", "/x");
        assert!(matches!(a.verify(ip, "GET", "/x", Some(&h)), Verdict::Failed { newly_locked: true, attempts: 3, left: 0, .. }));
        let (h, _) = answer(&mut a, "admin", "pw", "00000001", "/x");
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::Locked));
    }

    #[test]
    fn admin_gets_seven_attempts_and_other_users_five() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut a = Auth::new("operator", "pw", "r", Duration::from_secs(60), None, Duration::from_secs(10));
        let locked_after = |a: &mut Auth, user: &str| {
            (1..=10)
                .find(|_| {
                    let (h, _) = answer(a, user, "wrong", "00000001", "/x");
                    matches!(a.verify(ip, "GET", "/x", Some(&h)), Verdict::Failed { newly_locked: true, .. })
                })
                .unwrap()
        };
        assert_eq!(locked_after(&mut a, "admin"), 7);
        assert_eq!(locked_after(&mut a, "operator"), 5);
    }

    #[test]
    fn expired_nonce_is_stale_only_with_the_right_password() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut a = Auth::new("admin", "pw", "r", Duration::ZERO, None, Duration::from_secs(10));
        let (h, _) = answer(&mut a, "admin", "pw", "00000001", "/x");
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::StaleNonce));
        let (h, _) = answer(&mut a, "admin", "bad", "00000001", "/x");
        assert_eq!(failure(a.verify(ip, "GET", "/x", Some(&h))), Some(AuthFailure::BadPassword));
    }
}
