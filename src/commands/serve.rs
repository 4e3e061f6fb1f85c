//! `hiktalk serve`: the configured cameras over HTTP until SIGTERM/SIGINT, which close every
//! session (each confirmed) before the exit.

use super::Context;
use crate::cli::serve::ServeArgs;
use crate::config::{self, ConfigError};
use crate::outcome::{Ending, Outcome};
use crate::serve::registry::Registry;
use crate::serve::{App, Limits, router};
use std::sync::Arc;
use std::time::Duration;

/// `/api/events` clients served at once.
const SSE_CLIENTS: usize = 16;

pub async fn run(args: ServeArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let invalid = |message: String| ConfigError::Invalid { camera: "serve".into(), message };
    let token = match &args.token_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read the token file {}: {e}", path.display())))?;
            let token = text.lines().next().unwrap_or_default().trim().to_string();
            if token.len() < 16 {
                return Err(invalid(format!("the token in {} is shorter than 16 characters", path.display())).into());
            }
            Some(token)
        }
    };
    if !args.listen.ip().is_loopback() && token.is_none() {
        return Err(invalid(format!(
            "--listen {} is reachable from other machines, and without a token anyone there could drive the cameras; give --token-file",
            args.listen
        ))
        .into());
    }
    let (mut cameras, mut groups) = config::configured(ctx.config.as_deref())?;
    if cameras.is_empty() {
        return Err(invalid("the config file names no cameras: serve reaches only configured cameras".into()).into());
    }
    cameras.sort();
    groups.sort();
    let resolved: Vec<_> = cameras.iter().filter_map(|c| config::resolve(c, ctx.config.as_deref()).ok()).collect();
    let mqtt = crate::serve::mqtt::setup(&args.mqtt, resolved.clone(), &ctx.out)?;
    let tls = match args.tls {
        true => Some(
            crate::serve::tls::load(args.tls_cert.as_deref(), args.tls_key.as_deref(), args.listen.ip())
                .map_err(|e| invalid(e.to_string()))?,
        ),
        false => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Ending::Internal { detail: format!("cannot listen on {}: {e}", args.listen) })?;
    let addr = listener.local_addr()?;
    // The close a DELETE waits for: the device's answer within the request timeout, twice over.
    let close_within = Duration::from_secs_f64(args.login.timeout * 2.0 + 5.0);
    let registry = Arc::new(Registry::new(ctx.config.clone(), args.login.clone(), ctx.stop.clone()));
    let app = Arc::new(App {
        registry: registry.clone(),
        talk: args.talk.clone(),
        cameras: cameras.clone(),
        groups,
        token,
        close_within,
        max_body: args.max_body,
        allow_urls: args.allow_urls,
        sse_clients: Arc::new(tokio::sync::Semaphore::new(SSE_CLIENTS)),
    });
    cameras.iter().for_each(|c| registry.metrics.camera(c));
    crate::serve::devices::spawn(&registry, resolved);
    let mqtt = mqtt.map(|m| tokio::spawn(crate::serve::mqtt::run(app.clone(), m, ctx.out)));
    if let Some(t) = &tls {
        ctx.out.note(&format!("TLS certificate {}; SHA-256 fingerprint {}", t.describe, t.fingerprint));
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    ctx.out.note(&format!("the handset page: {scheme}://{addr}/"));
    ctx.out.note(&format!("serving {} on {scheme}://{addr}", cameras.join(", ")));
    let stop = ctx.stop.clone();
    let closing = registry.clone();
    let closed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = closed.clone();
    let routes = router(app, Limits { body: args.max_body, requests: args.max_requests });
    crate::serve::listen::serve(listener, routes, tls.map(|t| t.acceptor), async move {
        stop.wait().await;
        // New plays are refused from here; every session is closed before the server stops.
        let outcomes = closing.stop_all(None).await;
        *record.lock().unwrap_or_else(|p| p.into_inner()) = outcomes;
    })
    .await;
    // The MQTT front says `offline` and closes its connection once the sessions are closed.
    if let Some(m) = mqtt {
        let _ = tokio::time::timeout(Duration::from_secs(5), m).await;
    }
    let outcomes = std::mem::take(&mut *closed.lock().unwrap_or_else(|p| p.into_inner()));
    let unconfirmed = outcomes.iter().filter(|o| !crate::serve::native::close_confirmed(o)).count();
    let mut outcome = Outcome::new(None, Ending::Done)
        .with_figures(&serde_json::json!({ "sessions_closed": outcomes.len(), "closes_unconfirmed": unconfirmed }));
    outcome.line = Some(format!("stopped; {} session(s) closed, {unconfirmed} unconfirmed", outcomes.len()));
    Ok(outcome)
}
