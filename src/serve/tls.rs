//! `serve --tls`: the certificate it serves, the user's (`--tls-cert`, `--tls-key`) or a
//! self-signed one made on first use and kept in the data directory, so that a phone that was
//! told to trust it once keeps trusting it. Its SHA-256 fingerprint is what the user compares
//! on the phone.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// What `--tls` serves.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the leaf certificate's DER, as browsers show it (`AB:CD:...`).
    pub fingerprint: String,
    /// Where the certificate is, and whether it was made now.
    pub describe: String,
}

/// Why `--tls` cannot serve: the message says which file and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// The certificate in `cert` and `key`, or (both `None`) the kept self-signed one, made now if
/// there is none yet (for `listen`'s address besides localhost).
pub fn load(cert: Option<&Path>, key: Option<&Path>, listen: IpAddr) -> Result<Tls, TlsError> {
    let (cert, key, made) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf(), false),
        _ => {
            let dir = crate::config::data_dir()
                .ok_or_else(|| TlsError("no data directory (set HOME or XDG_DATA_HOME), and no --tls-cert".into()))?;
            let (cert, key) = (dir.join("serve-cert.pem"), dir.join("serve-key.pem"));
            let made = !cert.exists() && !key.exists();
            if made {
                self_signed(&dir, &cert, &key, listen)?;
            }
            (cert, key, made)
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| TlsError(format!("cannot read the certificate {}: {e}", cert.display())))?;
    let leaf = chain.first().ok_or_else(|| TlsError(format!("{} holds no PEM certificate", cert.display())))?;
    let fingerprint = colons(&crate::isapi::tls::fingerprint(leaf));
    let private = PrivateKeyDer::from_pem_file(&key).map_err(|e| TlsError(format!("cannot read the key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
        .map_err(|e| TlsError(format!("{} and {} do not make a certificate to serve: {e}", cert.display(), key.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let describe = format!("{}{}", cert.display(), if made { " (self-signed, made now)" } else { "" });
    Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(config)), fingerprint, describe })
}

/// Makes the self-signed certificate: the key written first, readable by the user only, and
/// each file created new (an existing one is never replaced).
fn self_signed(dir: &Path, cert: &Path, key: &Path, listen: IpAddr) -> Result<(), TlsError> {
    let fail = |path: &Path, e: &dyn std::fmt::Display| TlsError(format!("cannot write {}: {e}", path.display()));
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    if !listen.is_unspecified() && !listen.is_loopback() {
        names.push(listen.to_string());
    }
    let pair = rcgen::KeyPair::generate().map_err(|e| TlsError(format!("cannot make a key: {e}")))?;
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| TlsError(format!("cannot make a certificate: {e}")))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "hiktalk serve");
    let made = params.self_signed(&pair).map_err(|e| TlsError(format!("cannot make a certificate: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
    write_new(key, pair.serialize_pem().as_bytes(), 0o600).map_err(|e| fail(key, &e))?;
    write_new(cert, made.pem().as_bytes(), 0o644).map_err(|e| fail(cert, &e))?;
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` and links it into place only if `path`
/// does not exist: a file that is there is kept, and a failed write leaves nothing.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist_noclobber(path).map(drop).map_err(|e| e.error)
}

/// `abcd...` as `AB:CD:...`.
fn colons(hex: &str) -> String {
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..upper.len()).step_by(2).filter_map(|i| upper.get(i..i + 2)).collect();
    pairs.join(":")
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_read_as_browsers_show_them() {
        assert_eq!(super::colons("0a1bff"), "0A:1B:FF");
    }
}
