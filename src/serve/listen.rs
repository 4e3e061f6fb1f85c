//! The HTTP server loop: hyper's HTTP/1 connections around the router (plain, or TLS with
//! `--tls`), upgrades (the handset's WebSocket) allowed, with what a hostile client could
//! otherwise hold bounded: connections at once, the time to finish a TLS handshake and send a
//! request head (slowloris), and the head's size. Stops accepting at `shutdown`, then lets the
//! requests in flight finish.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// Connections served at once; more wait in the kernel's backlog.
pub const CONNECTIONS: usize = 256;
/// A TLS handshake, and then a request line and headers, must each arrive within this, or the
/// connection is dropped.
pub const HEAD_WITHIN: Duration = Duration::from_secs(10);
/// The largest request line plus headers (431 above it).
pub const HEAD_MAX: usize = 16 * 1024;

pub async fn serve(listener: TcpListener, router: Router, tls: Option<TlsAcceptor>, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    let (closing, _) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            a = async {
                let permit = slots.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => a,
        };
        let (Ok(permit), Ok((stream, _))) = accepted else {
            // Out of file descriptors, say: give the ones in use a moment to close.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (router, tls, closing) = (router.clone(), tls.clone(), closing.subscribe());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, router, closing).await,
                Some(acceptor) => {
                    if let Ok(Ok(stream)) = tokio::time::timeout(HEAD_WITHIN, acceptor.accept(stream)).await {
                        connection(stream, router, closing).await;
                    }
                }
            }
            drop(permit);
        });
    }
    // Connections finish what they are doing and close; each gives its slot back when done.
    closing.send_replace(true);
    let _ = slots.acquire_many(CONNECTIONS as u32).await;
}

/// One connection until the client leaves, or until `closing` and its request in flight is
/// answered. An upgraded connection (a WebSocket) leaves hyper here and lives on its own.
async fn connection<S>(stream: S, router: Router, mut closing: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEAD_WITHIN).max_buf_size(HEAD_MAX);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router)).with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = closing.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}
