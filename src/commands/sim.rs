//! `hiktalk sim`: serve one simulated device until SIGINT/SIGTERM, then print the summary.

use crate::cli::sim::SimArgs;
use std::io::Write;

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let config: crate::sim::SimConfig = args.into();
    let listen = config.listen;
    let handle = crate::sim::start(config).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    {
        // Tests read the port from this exact first line.
        let mut out = std::io::stdout().lock();
        writeln!(out, "hiktalk-sim listening on http://{}", handle.addr())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    let summary = handle.shutdown().await;
    println!("{summary}");
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
