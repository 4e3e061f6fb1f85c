//! The user's stop: SIGINT, SIGTERM or SIGHUP. The first asks for a clean close; a second one
//! exits at once (tokio swallows repeated signals otherwise).

use tokio::sync::watch;

#[derive(Clone)]
pub struct Stop {
    tx: std::sync::Arc<watch::Sender<Option<&'static str>>>,
    rx: watch::Receiver<Option<&'static str>>,
    /// What an immediate exit would leave behind (an open session), for the second signal's words.
    pending: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Stop {
    /// Installs the signal handlers. Must be called inside the tokio runtime.
    pub fn install() -> std::io::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let stop = Stop::manual();
        let handler = stop.clone();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                    _ = hup.recv() => "SIGHUP",
                };
                handler.trigger(name);
            }
        });
        Ok(stop)
    }

    /// A stop that only `trigger` fires.
    pub fn manual() -> Stop {
        let (tx, rx) = watch::channel(None);
        Stop { tx: std::sync::Arc::new(tx), rx, pending: Default::default() }
    }

    /// Asks to stop, as a signal would (a terminal in raw mode sees Ctrl-C as a key). The
    /// second request exits at once.
    pub fn trigger(&self, name: &'static str) {
        if self.requested().is_some() {
            let _ = crossterm::terminal::disable_raw_mode();
            crate::output::clear_live();
            let left = match self.pending.lock().unwrap_or_else(|p| p.into_inner()).as_deref() {
                Some(what) => format!(" without waiting for the device; {what}"),
                None => String::new(),
            };
            crate::output::stderr(&format!("hiktalk: {name} again, exiting now{left}"));
            std::process::exit(crate::outcome::exit::INTERRUPTED);
        }
        let _ = self.tx.send(Some(name));
    }

    /// Says what exiting at once would leave behind (`None`: nothing), so that a second signal
    /// can tell the user.
    pub fn set_pending(&self, what: Option<String>) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = what;
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
