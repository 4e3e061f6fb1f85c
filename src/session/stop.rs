//! The user's stop: SIGINT, SIGTERM or SIGHUP. The first asks for a clean close; a second one
//! exits at once (tokio swallows repeated signals otherwise).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Stop {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Stop {
    /// Installs the signal handlers. Must be called inside the tokio runtime.
    pub fn install() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let mut seen = false;
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                    _ = hup.recv() => "SIGHUP",
                };
                if seen {
                    eprintln!("hiktalk: {name} again, exiting without waiting for the device");
                    std::process::exit(super::ending::exit::INTERRUPTED);
                }
                seen = true;
                let _ = tx.send(Some(name));
            }
        });
        Ok(Stop { rx })
    }

    /// A stop that only `trigger` fires (tests, embedded use).
    pub fn manual() -> (Stop, watch::Sender<Option<&'static str>>) {
        let (tx, rx) = watch::channel(None);
        (Stop { rx }, tx)
    }

    /// The signal that asked to stop, if one has.
    pub fn requested(&self) -> Option<&'static str> {
        *self.rx.borrow()
    }

    /// Resolves when a stop is asked for.
    pub async fn wait(&self) -> &'static str {
        let mut rx = self.rx.clone();
        loop {
            if let Some(s) = *rx.borrow_and_update() {
                return s;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}
