//! Audio named by an http(s) URL (a play's `"url"`, go2rtc's `ffmpeg:http://...` and `live=`):
//! fetched whole before any device is touched, bounded in size and time.

use crate::audio::decode::Input;
use crate::outcome::Ending;
use rustls_platform_verifier::BuilderVerifierExt;
use std::sync::Arc;
use std::time::Duration;

/// The whole fetch, redirects included.
const WITHIN: Duration = Duration::from_secs(30);
const REDIRECTS: usize = 3;

/// The audio at `url`, at most `limit` bytes.
pub async fn fetch(url: &str, limit: usize) -> Result<Input, Ending> {
    let shown: String = crate::config::redact(url).chars().take(200).collect();
    let refused = |why: String| Ending::Input { detail: format!("the audio URL {shown}: {why}") };
    let parsed = reqwest::Url::parse(url).map_err(|e| Ending::Usage { detail: format!("the audio URL {shown} is not a URL: {e}") })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Ending::Usage { detail: format!("the audio URL {shown}: only http and https are fetched") });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| Ending::Internal { detail: format!("TLS for the audio URL: {e}") })?
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .timeout(WITHIN)
        .redirect(reqwest::redirect::Policy::limited(REDIRECTS))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| Ending::Internal { detail: format!("the HTTP client for the audio URL: {e}") })?;
    let mut response = client.get(parsed).send().await.map_err(|e| refused(format!("cannot fetch it: {}", e.without_url())))?;
    if !response.status().is_success() {
        return Err(refused(format!("the server answered {}", response.status())));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| refused(format!("the download failed: {}", e.without_url())))? {
        if bytes.len() + chunk.len() > limit {
            return Err(refused(format!("larger than {limit} bytes (--max-body)")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Input::Memory { what: shown.clone(), bytes: bytes.into() })
}
