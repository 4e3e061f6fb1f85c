//! TLS for devices with self-signed certificates: trust is a pinned SHA-256 fingerprint.
//!
//! Hikvision devices ship self-signed certificates, so CA validation would reject every one of
//! them. Instead a certificate is accepted when its fingerprint matches the configured one (or
//! with `--insecure`), and a rejection names the fingerprint the device presented so the user can
//! pin it after checking it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// How the device's certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// Only a certificate with this SHA-256 fingerprint (lowercase hex, no separators).
    Pinned(String),
    /// Any certificate (`--insecure`).
    Any,
    /// Nothing is trusted yet: the handshake fails and reports the fingerprint seen.
    #[default]
    Unpinned,
}

impl Trust {
    /// Normalises a fingerprint as people paste it (`AB:CD:...`, spaces, `sha256:` prefix).
    pub fn pinned(fingerprint: &str) -> Result<Trust, String> {
        let hex: String = fingerprint
            .trim()
            .trim_start_matches("sha256:")
            .chars()
            .filter(|c| !matches!(c, ':' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Trust::Pinned(hex))
        } else {
            Err(format!("{fingerprint:?} is not a SHA-256 fingerprint (64 hex digits)"))
        }
    }
}

/// A handshake failure's text, cut to the verifier's own sentence when there is one: it names
/// the fingerprint and what to do, while the layers around it (reqwest's "error sending
/// request for url (...): client error (Connect)", rustls' "unexpected error") add nothing.
pub(crate) fn handshake_detail(chain: String) -> String {
    ["untrusted certificate", "certificate fingerprint mismatch"]
        .iter()
        .find_map(|marker| chain.find(marker).map(|i| chain[i..].to_string()))
        .unwrap_or(chain)
}

/// Lowercase hex SHA-256 of a DER certificate.
pub fn fingerprint(cert: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, cert).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        match &self.trust {
            Trust::Any => Ok(ServerCertVerified::assertion()),
            Trust::Pinned(want) if *want == seen => Ok(ServerCertVerified::assertion()),
            Trust::Pinned(want) => Err(rustls::Error::General(format!(
                "certificate fingerprint mismatch: the device presented sha256 {seen}, but sha256 {want} is pinned; if the device's \
                 certificate was replaced (a reset or firmware upgrade does that), check it and pin the new one with \
                 --tls-fingerprint {seen} (or tls_fingerprint in the config)"
            ))),
            Trust::Unpinned => Err(rustls::Error::General(format!(
                "untrusted certificate: the device presented sha256 {seen}; after checking that this is the device's certificate, \
                 pin it with --tls-fingerprint {seen} (or tls_fingerprint = \"{seen}\" in the config), or accept any \
                 certificate with --insecure"
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls client configuration (ring provider) that trusts per `trust`.
pub fn client_config(trust: Trust) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { trust, provider }))
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised() {
        let colon = "AB:".repeat(31) + "AB";
        assert_eq!(Trust::pinned(&colon), Ok(Trust::Pinned("ab".repeat(32))));
        assert!(Trust::pinned("abc").is_err());
        assert_eq!(fingerprint(b"x").len(), 64);
    }
}
