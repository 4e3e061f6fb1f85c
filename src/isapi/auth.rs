//! HTTP Digest (RFC 7616, qop=auth) state shared by the control requests and the upload.
//!
//! The challenge from the first 401 is kept and reused with an increasing nonce count, so each
//! later request costs one round trip instead of two. A `stale=true` answer refreshes it once;
//! a second stale answer in a row, or any other 401 to a request that carried credentials, is a
//! refused login (a device that calls every nonce stale would otherwise get a login attempt per
//! request, forever: a lockout risk).
//!
//! The challenge is parsed here, not by digest_auth: its parser indexes the header by character
//! count as if it were a byte offset (a panic on a multi-byte realm) and refuses non-ASCII
//! realms, and a device's challenge is data that must be bounded and checked before any of it
//! goes back into a request line (a CR LF in a nonce would forge a header). digest_auth still
//! computes the response from the parsed fields; the realm is hashed as its UTF-8 bytes.

use super::error::IsapiError;
use super::xml::UserCheck;
use digest_auth::{Algorithm, AuthContext, Charset, HttpMethod, Qop, WwwAuthenticateHeader};
use std::sync::Mutex;

/// The longest `WWW-Authenticate` value read, and the most parameters in it. A real
/// challenge is about 200 bytes with 7 parameters.
const MAX_CHALLENGE: usize = 4096;
const MAX_PARAMS: usize = 32;

/// A user name and password. The password never appears in Debug output.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl Credentials {
    /// The password is also handed to `output`, which masks it should it ever be printed.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        let password = password.into();
        crate::output::keep_secret(&password);
        Credentials { user: user.into(), password }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("user", &self.user).field("password", &"<hidden>").finish()
    }
}

/// What a 401 means for the request that got it.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    /// A new challenge: send the request again with credentials.
    Retry,
    /// The device says the nonce the credentials were sent with is stale.
    Stale,
    /// The credentials that were sent are wrong.
    Rejected,
    /// A 401 with no Digest challenge at all.
    Missing,
    /// A Digest challenge hiktalk cannot answer (why, already safe to print).
    Unusable(String),
}

#[derive(Default)]
pub struct DigestState {
    challenge: Mutex<Option<WwwAuthenticateHeader>>,
    /// The schemes the device's challenges named (Digest, Basic, ...), as `check` reports them.
    schemes: Mutex<Vec<String>>,
}

impl DigestState {
    /// The `Authorization` value for a request, if a challenge is known.
    pub fn authorization(&self, creds: &Credentials, method: &str, uri: &str) -> Option<String> {
        let mut guard = self.challenge.lock().unwrap_or_else(|p| p.into_inner());
        let challenge = guard.as_mut()?;
        let ctx = AuthContext::new_with_method(
            creds.user.as_str(),
            creds.password.as_str(),
            uri,
            None::<&[u8]>,
            HttpMethod(method.to_string().into()),
        );
        challenge.respond(&ctx).ok().map(|a| a.to_header_string())
    }

    /// Digests a 401's `WWW-Authenticate` values (raw header bytes). `sent_credentials` says
    /// whether the rejected request carried an Authorization header.
    pub fn on_unauthorized<'a>(&self, www_authenticate: impl IntoIterator<Item = &'a [u8]>, sent_credentials: bool) -> Challenge {
        let mut unusable = None;
        let mut digest = None;
        for value in www_authenticate {
            self.note_schemes(value);
            match parse_challenge(value) {
                Ok(c) => {
                    digest = Some(c);
                    break;
                }
                Err(BadChallenge::NotDigest) => {}
                Err(BadChallenge::Unusable(why)) => unusable = unusable.or(Some(why)),
            }
        }
        let Some(new) = digest else {
            return unusable.map_or(Challenge::Missing, |why| Challenge::Unusable(why.to_string()));
        };
        let stale = new.stale;
        *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
        match (sent_credentials, stale) {
            (false, _) => Challenge::Retry,
            (true, true) => Challenge::Stale,
            (true, false) => Challenge::Rejected,
        }
    }

    /// The authentication schemes the device's challenges have offered so far.
    pub fn schemes(&self) -> Vec<String> {
        self.schemes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Remembers the scheme names in one `WWW-Authenticate` value (one value may carry
    /// several: `Digest realm=.., Basic realm=..`): a word right after the start or a comma,
    /// followed by a space. Only short ASCII words, so nothing a device sends is kept whole.
    fn note_schemes(&self, value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        let mut schemes = self.schemes.lock().unwrap_or_else(|p| p.into_inner());
        for piece in text.split(',') {
            let word = piece.trim_start();
            let Some((name, _)) = word.split_once(' ') else { continue };
            if (1..=16).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphabetic()) && !name.contains('=') {
                let name = name.to_string();
                if !schemes.iter().any(|s| s.eq_ignore_ascii_case(&name)) && schemes.len() < 8 {
                    schemes.push(name);
                }
            }
        }
    }

    /// What a 401 means for a request loop: `Ok` to send the request again, or the error it
    /// ends with. `stale_seen` carries over the loop's attempts: one stale nonce is refreshed,
    /// a second one in a row is a refused login.
    pub(crate) fn answer_401<'a>(
        &self,
        www_authenticate: impl IntoIterator<Item = &'a [u8]>,
        sent_credentials: bool,
        stale_seen: &mut bool,
        user: &str,
        check: Option<Box<UserCheck>>,
    ) -> Result<(), IsapiError> {
        match self.on_unauthorized(www_authenticate, sent_credentials) {
            Challenge::Retry => Ok(()),
            Challenge::Stale if !*stale_seen => {
                *stale_seen = true;
                Ok(())
            }
            Challenge::Stale => Err(IsapiError::StaleAgain { user: user.to_string() }),
            Challenge::Rejected => Err(IsapiError::AuthRejected { user: user.to_string(), check }),
            Challenge::Missing => Err(IsapiError::NoChallenge { check }),
            Challenge::Unusable(why) => Err(IsapiError::BadChallenge { why }),
        }
    }
}

/// Why a `WWW-Authenticate` value gives no usable challenge.
#[derive(Debug, PartialEq, Eq)]
enum BadChallenge {
    /// Another scheme (Basic, Bearer): not for us, not an error.
    NotDigest,
    /// A Digest challenge that breaks the grammar or cannot be answered.
    Unusable(&'static str),
}

/// A Digest challenge (RFC 7235 §2.1 auth-params, RFC 7616 §3.3 parameters), checked and
/// bounded: parameters are `token = token | quoted-string`, each at most once; unknown
/// parameters are ignored; a second scheme after a comma ends the challenge. `realm`, `nonce`
/// and `opaque` are echoed back in the Authorization header, so they must be UTF-8 without
/// control characters.
fn parse_challenge(raw: &[u8]) -> Result<WwwAuthenticateHeader, BadChallenge> {
    use BadChallenge::{NotDigest, Unusable};
    let raw = trim_ows(raw);
    let scheme_end = raw.iter().position(|&b| !is_tchar(b)).unwrap_or(raw.len());
    if !raw[..scheme_end].eq_ignore_ascii_case(b"digest") {
        return Err(NotDigest);
    }
    if raw.len() > MAX_CHALLENGE {
        return Err(Unusable("it is longer than 4 KiB"));
    }
    let params = auth_params(&raw[scheme_end..])?;
    let mut realm = None;
    let mut nonce = None;
    let mut opaque = None;
    let (mut stale, mut userhash) = (false, false);
    let mut algorithm = Algorithm::default();
    let mut qop = None;
    let mut charset = Charset::ASCII;
    for (name, value) in &params {
        let text = || -> Result<String, BadChallenge> {
            if value.iter().any(|&b| b < 0x20 || b == 0x7f) {
                return Err(Unusable("a parameter holds control characters"));
            }
            String::from_utf8(value.clone()).map_err(|_| Unusable("a parameter is not UTF-8 text"))
        };
        match name.to_ascii_lowercase().as_slice() {
            b"realm" => realm = Some(text()?),
            b"nonce" => nonce = Some(text()?),
            b"opaque" => opaque = Some(text()?),
            b"stale" => stale = value.eq_ignore_ascii_case(b"true"),
            b"userhash" => userhash = value.eq_ignore_ascii_case(b"true"),
            b"charset" => charset = if value.eq_ignore_ascii_case(b"utf-8") { Charset::UTF8 } else { Charset::ASCII },
            b"algorithm" => {
                let known = ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"];
                let name = known.iter().find(|k| value.eq_ignore_ascii_case(k.as_bytes())).ok_or(Unusable("an unknown algorithm"))?;
                algorithm = name.parse().map_err(|_| Unusable("an unknown algorithm"))?;
            }
            b"qop" => {
                let offered: Vec<Qop> = value
                    .split(|&b| b == b',')
                    .filter_map(|q| match trim_ows(q) {
                        q if q.eq_ignore_ascii_case(b"auth") => Some(Qop::AUTH),
                        q if q.eq_ignore_ascii_case(b"auth-int") => Some(Qop::AUTH_INT),
                        _ => None,
                    })
                    .collect();
                if offered.is_empty() {
                    return Err(Unusable("it offers no qop hiktalk knows (auth, auth-int)"));
                }
                qop = Some(offered);
            }
            _ => {}
        }
    }
    let realm = realm.ok_or(Unusable("it has no realm"))?;
    let nonce = nonce.filter(|n| !n.is_empty()).ok_or(Unusable("it has no nonce"))?;
    Ok(WwwAuthenticateHeader { domain: None, realm, nonce, opaque, stale, algorithm, qop, userhash, charset, nc: 0 })
}

/// One `name=value`, as bytes.
type Param = (Vec<u8>, Vec<u8>);

/// The `name=value` pairs after the scheme, values unquoted (`\x` is `x`).
fn auth_params(mut rest: &[u8]) -> Result<Vec<Param>, BadChallenge> {
    use BadChallenge::Unusable;
    let mut params: Vec<Param> = Vec::new();
    loop {
        rest = skip(rest, |b| b == b',' || is_ows(b));
        if rest.is_empty() {
            return Ok(params);
        }
        let name_end = rest.iter().position(|&b| !is_tchar(b)).unwrap_or(rest.len());
        if name_end == 0 {
            return Err(Unusable("it breaks the header grammar"));
        }
        let name = rest[..name_end].to_vec();
        rest = skip(&rest[name_end..], is_ows);
        if rest.first() != Some(&b'=') {
            // `, Basic realm=...`: the next challenge in the same header line.
            if !params.is_empty() {
                return Ok(params);
            }
            return Err(Unusable("it breaks the header grammar"));
        }
        rest = skip(&rest[1..], is_ows);
        let value = if rest.first() == Some(&b'"') {
            let mut v = Vec::new();
            let mut i = 1;
            loop {
                match rest.get(i) {
                    None => return Err(Unusable("a quoted value does not end")),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        v.push(*rest.get(i + 1).ok_or(Unusable("a quoted value does not end"))?);
                        i += 2;
                    }
                    Some(&b) => {
                        v.push(b);
                        i += 1;
                    }
                }
            }
            rest = &rest[i + 1..];
            v
        } else {
            let end = rest.iter().position(|&b| !is_tchar(b)).unwrap_or(rest.len());
            let v = rest[..end].to_vec();
            rest = &rest[end..];
            v
        };
        // After a value: the end, or a comma.
        let after = skip(rest, is_ows);
        if !after.is_empty() && after[0] != b',' {
            return Err(Unusable("it breaks the header grammar"));
        }
        if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(Unusable("a parameter is given twice"));
        }
        if params.len() == MAX_PARAMS {
            return Err(Unusable("it has more than 32 parameters"));
        }
        params.push((name, value));
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip(s: &[u8], f: impl Fn(u8) -> bool) -> &[u8] {
    &s[s.iter().position(|&b| !f(b)).unwrap_or(s.len())..]
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let s = skip(s, is_ows);
    &s[..s.iter().rposition(|&b| !is_ows(b)).map_or(0, |p| p + 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"Digest realm="IP Camera(C1234)", domain="::", qop="auth", nonce="4e5449794f4441334e5459364e6d4e6b:1732550000000", opaque="", algorithm="MD5", stale="FALSE""#;

    fn parse(s: &str) -> Result<WwwAuthenticateHeader, BadChallenge> {
        parse_challenge(s.as_bytes())
    }

    #[test]
    fn the_real_challenge_shape_is_accepted_and_nc_counts_up() {
        let st = DigestState::default();
        let creds = Credentials::new("admin", "pw");
        assert_eq!(st.authorization(&creds, "GET", "/x"), None);
        assert_eq!(st.on_unauthorized([&b"Basic realm=\"x\""[..], REAL.as_bytes()], false), Challenge::Retry);
        let a = st.authorization(&creds, "GET", "/ISAPI/System/TwoWayAudio/channels").unwrap();
        let b = st.authorization(&creds, "PUT", "/x").unwrap();
        assert!(a.contains("nc=00000001") && b.contains("nc=00000002"), "{a}\n{b}");
        assert!(a.contains(r#"realm="IP Camera(C1234)""#) && a.contains("qop=auth"), "{a}");
        assert!(!a.contains("pw"));
        assert!(!format!("{creds:?}").contains("pw"));
    }

    #[test]
    fn a_second_401_is_a_rejection_and_a_second_stale_too() {
        let st = DigestState::default();
        assert_eq!(st.on_unauthorized([REAL.as_bytes()], true), Challenge::Rejected);
        let stale = REAL.replace("stale=\"FALSE\"", "stale=\"TRUE\"");
        assert_eq!(st.on_unauthorized([stale.as_bytes()], true), Challenge::Stale);
        let mut seen = false;
        assert!(st.answer_401([stale.as_bytes()], true, &mut seen, "admin", None).is_ok());
        let again = st.answer_401([stale.as_bytes()], true, &mut seen, "admin", None).unwrap_err();
        assert!(again.is_auth() && again.to_string().contains("stale"), "{again}");
        assert_eq!(st.on_unauthorized([&b"Basic realm=\"x\""[..]], true), Challenge::Missing);
        assert_eq!(st.on_unauthorized([], false), Challenge::Missing);
        // A multi-byte character across byte 6 is just not a Digest challenge.
        assert_eq!(st.on_unauthorized(["Digesé realm=\"x\"".as_bytes(), "Dïgest".as_bytes(), "é".as_bytes()], false), Challenge::Missing);
    }

    #[test]
    fn realms_in_any_language_are_hashed_as_their_bytes() {
        // RFC 7616 §3.4.1 with qop=auth: response = H(H(user:realm:pw):nonce:nc:cnonce:qop:H(method:uri)).
        let c = parse("Digest realm=\"Türklingel \u{202e}\", nonce=\"abc\", qop=\"auth\"").unwrap();
        assert_eq!(c.realm, "Türklingel \u{202e}");
        let mut c2 = c.clone();
        let mut ctx = AuthContext::new_with_method("admin", "pw", "/x", None::<&[u8]>, HttpMethod::GET);
        ctx.set_custom_cnonce("0a4f113b");
        let a = c2.respond(&ctx).unwrap();
        let md5 = |s: &[u8]| format!("{:x}", <md5::Md5 as md5::Digest>::digest(s));
        let ha1 = md5("admin:Türklingel \u{202e}:pw".as_bytes());
        let ha2 = md5(b"GET:/x");
        assert_eq!(a.response, md5(format!("{ha1}:abc:00000001:0a4f113b:auth:{ha2}").as_bytes()));
    }

    #[test]
    fn the_grammar_is_followed() {
        let c =
            parse(r#"digest  nonce = "a\"b,c" ,realm="r, with comma", algorithm=md5-SESS, qop="auth-int, auth", unknown="x", stale=true"#)
                .unwrap();
        assert_eq!((c.nonce.as_str(), c.realm.as_str(), c.stale), ("a\"b,c", "r, with comma", true));
        assert!(c.algorithm.sess);
        assert_eq!(c.qop, Some(vec![Qop::AUTH_INT, Qop::AUTH]));
        // A second scheme in the same line ends the first.
        assert_eq!(parse(r#"Digest realm="r", nonce="n", Basic realm="b""#).unwrap().realm, "r");
        for (bad, why) in [
            (r#"Digest realm="r", realm="s", nonce="n""#, "twice"),
            (r#"Digest realm="r", nonce="n"#, "does not end"),
            (r#"Digest nonce="n""#, "no realm"),
            (r#"Digest realm="r", nonce="""#, "no nonce"),
            (r#"Digest realm="r", nonce="n", algorithm=SHA-1"#, "algorithm"),
            (r#"Digest realm="r", nonce="n", qop="magic""#, "qop"),
            (r#"Digest realm="r" nonce="n""#, "grammar"),
            ("Digest realm=\"a\r\nX-Injected: 1\", nonce=\"n\"", "control"),
            ("Digest =x", "grammar"),
        ] {
            match parse(bad) {
                Err(BadChallenge::Unusable(w)) => assert!(w.contains(why), "{bad:?}: {w}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(parse_challenge(b"Digest realm=\"T\xfcr\", nonce=\"n\""), Err(BadChallenge::Unusable("a parameter is not UTF-8 text")));
        let huge = format!("Digest realm=\"{}\", nonce=\"n\"", "x".repeat(10_000));
        assert_eq!(parse(&huge), Err(BadChallenge::Unusable("it is longer than 4 KiB")));
        assert_eq!(parse("Basic realm=\"x\""), Err(BadChallenge::NotDigest));
        assert_eq!(parse("Digestive realm=\"x\""), Err(BadChallenge::NotDigest));
    }

    /// Generated challenges (a small xorshift, so the run is the same every time): half built
    /// from the grammar (known, unknown and repeated parameters, quoted values with escapes,
    /// commas, multi-byte characters, invalid UTF-8, control bytes, long runs) and then maybe
    /// cut or spliced, half glued from random pieces. The parser must never panic, must bound
    /// what it keeps, and whatever it accepts must answer without a control byte in the header.
    #[test]
    fn fuzzed_challenges_never_panic_and_accepted_ones_are_safe() {
        let pieces: [&[u8]; 24] = [
            b"Digest ",
            b"digest",
            b"realm=",
            b"nonce=",
            b"qop=",
            b"opaque=",
            b"stale=",
            b"algorithm=",
            b"\"",
            b"\\",
            b",",
            b" ",
            b"=",
            b"auth",
            b"MD5",
            b"TRUE",
            "\u{202e}".as_bytes(),
            "\u{e9}".as_bytes(),
            b"\xff\xfe",
            b"\xe2\x80",
            b"\r\n",
            b"\0",
            b"abc",
            b"Basic ",
        ];
        let names: [&[u8]; 9] = [b"realm", b"nonce", b"realm", b"nonce", b"qop", b"opaque", b"stale", b"algorithm", b"x-unknown"];
        let values: [&[u8]; 12] = [
            b"abc",
            b"auth",
            b"auth, auth-int",
            b"MD5",
            b"true",
            b",",
            b"\\\"",
            "T\u{fc}rklingel".as_bytes(),
            "\u{202e}".as_bytes(),
            b"\xff",
            b"\r\n",
            b" ",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut v = Vec::new();
            if round % 2 == 0 {
                v.extend_from_slice(if next(2) == 0 { b"Digest " } else { b"digest  " });
                for i in 0..(1 + next(7)) {
                    if i > 0 {
                        v.extend_from_slice([&b", "[..], b",", b" , "][next(3)]);
                    }
                    v.extend_from_slice(names[if i < 2 { i } else { next(names.len()) }]);
                    v.push(b'=');
                    let quoted = next(4) != 0;
                    if quoted {
                        v.push(b'"');
                    }
                    for _ in 0..(1 + next(3)) {
                        let piece = if quoted { values[next(values.len())] } else { values[next(5)] };
                        let times = if next(100) == 0 { 2000 } else { 1 };
                        (0..times).for_each(|_| v.extend_from_slice(piece));
                    }
                    if quoted {
                        v.push(b'"');
                    }
                }
                match next(6) {
                    0 => v.truncate(next(v.len() + 1)),
                    1 => {
                        let at = next(v.len() + 1);
                        v.splice(at..at, pieces[next(pieces.len())].iter().copied());
                    }
                    _ => {}
                }
            } else {
                for _ in 0..next(24) {
                    v.extend_from_slice(pieces[next(pieces.len())]);
                }
            }
            if let Ok(mut c) = parse_challenge(&v) {
                accepted += 1;
                assert!(c.realm.len() <= MAX_CHALLENGE && c.nonce.len() <= MAX_CHALLENGE);
                let ctx = AuthContext::new_with_method("admin", "pw", "/x", None::<&[u8]>, HttpMethod::GET);
                let header = c.respond(&ctx).unwrap().to_header_string();
                assert!(!header.bytes().any(|b| b < 0x20 || b == 0x7f), "{header:?} from {v:?}");
            }
            let st = DigestState::default();
            let _ = st.on_unauthorized([v.as_slice()], round % 3 == 0);
        }
        assert!(accepted > 100, "the generator should produce valid challenges too: {accepted}");
    }
}
