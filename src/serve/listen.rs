//! The HTTP server loop: hyper's HTTP/1 connections around the router, with what a hostile
//! client could otherwise hold bounded: connections at once, the time to send a request head
//! (slowloris), and the head's size. Stops accepting at `shutdown`, then lets the requests in
//! flight finish.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once; more wait in the kernel's backlog.
pub const CONNECTIONS: usize = 256;
/// A request line and headers must arrive within this, or the connection is dropped.
pub const HEAD_WITHIN: Duration = Duration::from_secs(10);
/// The largest request line plus headers (431 above it).
pub const HEAD_MAX: usize = 16 * 1024;

pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
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
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(HEAD_WITHIN).max_buf_size(HEAD_MAX);
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone())));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    graceful.shutdown().await;
}
