//! HTTP Digest (RFC 7616, MD5, qop=auth) state shared by the control requests and the upload.
//!
//! The challenge from the first 401 is kept and reused with an increasing nonce count, so each
//! later request costs one round trip instead of two. Only a `stale=true` answer refreshes it
//! silently; any other 401 to a request that carried credentials is a rejected password.

use digest_auth::{AuthContext, HttpMethod, WwwAuthenticateHeader};
use std::sync::Mutex;

/// A user name and password. The password never appears in Debug output.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: String,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { user: user.into(), password: password.into() }
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
    /// A new or stale challenge: send the request again with credentials.
    Retry,
    /// The credentials that were sent are wrong.
    Rejected,
    /// A 401 with no Digest challenge at all.
    Missing,
}

#[derive(Default)]
pub struct DigestState {
    challenge: Mutex<Option<WwwAuthenticateHeader>>,
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

    /// Digests a 401's `WWW-Authenticate` values. `sent_credentials` says whether the rejected
    /// request carried an Authorization header.
    pub fn on_unauthorized<'a>(&self, www_authenticate: impl IntoIterator<Item = &'a str>, sent_credentials: bool) -> Challenge {
        let digest = www_authenticate
            .into_iter()
            // Compared as bytes: a device's header may have a multi-byte character anywhere.
            .filter(|v| v.trim_start().as_bytes().get(..6).is_some_and(|p| p.eq_ignore_ascii_case(b"digest")))
            .find_map(|v| digest_auth::parse(v).ok());
        let Some(new) = digest else {
            return Challenge::Missing;
        };
        let stale = new.stale;
        *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(new);
        if sent_credentials && !stale { Challenge::Rejected } else { Challenge::Retry }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"Digest realm="IP Camera(C1234)", domain="::", qop="auth", nonce="4e5449794f4441334e5459364e6d4e6b:1732550000000", opaque="", algorithm="MD5", stale="FALSE""#;

    #[test]
    fn the_real_challenge_shape_is_accepted_and_nc_counts_up() {
        let st = DigestState::default();
        let creds = Credentials::new("admin", "pw");
        assert_eq!(st.authorization(&creds, "GET", "/x"), None);
        assert_eq!(st.on_unauthorized(["Basic realm=\"x\"", REAL], false), Challenge::Retry);
        let a = st.authorization(&creds, "GET", "/ISAPI/System/TwoWayAudio/channels").unwrap();
        let b = st.authorization(&creds, "PUT", "/x").unwrap();
        assert!(a.contains("nc=00000001") && b.contains("nc=00000002"), "{a}\n{b}");
        assert!(!a.contains("pw"));
        assert!(!format!("{creds:?}").contains("pw"));
    }

    #[test]
    fn a_second_401_is_a_rejection_unless_stale() {
        let st = DigestState::default();
        assert_eq!(st.on_unauthorized([REAL], true), Challenge::Rejected);
        let stale = REAL.replace("stale=\"FALSE\"", "stale=\"TRUE\"");
        assert_eq!(st.on_unauthorized([stale.as_str()], true), Challenge::Retry);
        assert_eq!(st.on_unauthorized(["Basic realm=\"x\""], true), Challenge::Missing);
        assert_eq!(st.on_unauthorized([], false), Challenge::Missing);
        // A multi-byte character across byte 6 is just not a Digest challenge.
        assert_eq!(st.on_unauthorized(["Digesé realm=\"x\"", "Dïgest", "é"], false), Challenge::Missing);
    }
}
