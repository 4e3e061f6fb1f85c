//! The broker `serve --mqtt` keeps a connection to: its URL, the password (from where camera
//! passwords come from too: never the command line, never printed), and TLS for `mqtts://`
//! with rustls and the ring provider.

use crate::cli::serve::MqttArgs;
use crate::config::{ConfigError, redact};
use crate::output::Output;
use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls_platform_verifier::BuilderVerifierExt;
use std::sync::Arc;
use std::time::Duration;

/// The broker's password, when neither the URL nor a file gives one.
pub const PASSWORD_ENV: &str = "HIKTALK_MQTT_PASSWORD";
/// The largest packet taken from the broker. Commands are far smaller (see `command`); a
/// larger packet drops the connection (rumqttc's rule), so it is room for what others publish
/// under the subscribed topics, not a limit a command could meet.
const MAX_INCOMING: usize = 64 * 1024;
/// Discovery payloads are the largest hiktalk sends (a select of many sounds).
const MAX_OUTGOING: usize = 64 * 1024;

/// Where to connect, and how.
pub struct Broker {
    /// The URL as hiktalk shows it: no password.
    pub shown: String,
    pub options: MqttOptions,
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid { camera: "mqtt".into(), message: redact(&message) }
}

/// The broker from `serve`'s flags: the URL checked, the password gathered, TLS set up. The
/// last will says `offline` on `status` (retained) when the connection dies without a goodbye.
pub fn from_args(args: &MqttArgs, url: &str, status: &str, out: &Output) -> Result<Broker, ConfigError> {
    let shown = redact(url);
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid(format!("--mqtt {shown} is not a URL ({e}); write it like mqtt://user@192.168.1.10:1883")))?;
    let tls = match parsed.scheme() {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        other => return Err(invalid(format!("--mqtt {shown}: the scheme {other:?} is not mqtt or mqtts"))),
    };
    let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid(format!("--mqtt {shown} names no host")))?;
    let host = host.trim_matches(['[', ']']).to_string();
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(invalid(format!("--mqtt {shown}: only the scheme, user, host and port are read; leave out the path")));
    }
    let port = parsed.port().unwrap_or(if tls { 8883 } else { 1883 });
    let client_id: String = format!("hiktalk-{status}").chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(23).collect();
    let mut options = MqttOptions::new(client_id, host.clone(), port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_INCOMING, MAX_OUTGOING);
    options.set_last_will(rumqttc::LastWill::new(status, "offline", rumqttc::QoS::AtLeastOnce, true));
    let user = percent_decode(parsed.username());
    let password = match (parsed.password(), &args.mqtt_password_file) {
        (Some(p), _) => {
            out.warn("a password in the --mqtt URL is visible to other users of this machine; prefer HIKTALK_MQTT_PASSWORD or --mqtt-password-file");
            Some(percent_decode(p))
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("cannot read the MQTT password file {}: {e}", path.display())))?;
            Some(text.lines().next().unwrap_or_default().to_string())
        }
        (None, None) => std::env::var(PASSWORD_ENV).ok(),
    };
    if let Some(p) = &password {
        crate::output::keep_secret(p);
        if user.is_empty() {
            return Err(invalid(format!("--mqtt {shown}: a password is given but no user; write mqtt://USER@host")));
        }
    }
    if !user.is_empty() {
        options.set_credentials(user, password.unwrap_or_default());
    }
    if tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(args)?))));
    }
    Ok(Broker { shown: shown.trim_end_matches('/').to_string(), options })
}

/// rustls with ring: the broker's certificate checked against `--mqtt-ca`, else the system's
/// authorities.
fn tls_config(args: &MqttArgs) -> Result<rustls::ClientConfig, ConfigError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS for the broker: {e}")))?;
    let config = match &args.mqtt_ca {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| invalid(format!("cannot read --mqtt-ca {}: {e}", path.display())))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("--mqtt-ca {}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(invalid(format!("--mqtt-ca {} holds no certificate", path.display())));
            }
            builder.with_root_certificates(roots)
        }
        None => builder.with_platform_verifier().map_err(|e| invalid(format!("TLS for the broker: {e}")))?,
    };
    Ok(config.with_no_client_auth())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
