//! The user's stop: SIGINT, SIGTERM or SIGHUP. The first asks for a clean close; a second one
//! exits at once (tokio swallows repeated signals otherwise), saying what that leaves on the
//! devices and the command that clears each thing.

use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What exiting now would leave on a device, one entry per thing in progress (a session being
/// opened or closed, a changed codec, a call), each with the command that clears it.
type Pending = Arc<Mutex<Vec<(u64, String)>>>;

#[derive(Clone)]
pub struct Stop {
    tx: Arc<watch::Sender<Option<&'static str>>>,
    rx: watch::Receiver<Option<&'static str>>,
    pending: Pending,
}

/// Something an immediate exit would leave behind, said by a second signal for as long as this
/// lives (dropped: done, nothing left). Clones share it: the last one dropped ends it.
#[derive(Clone)]
pub struct Held {
    _entry: Arc<HeldEntry>,
}

struct HeldEntry {
    id: u64,
    pending: Pending,
}

impl Drop for HeldEntry {
    fn drop(&mut self) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).retain(|(id, _)| *id != self.id);
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
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
        Stop { tx: Arc::new(tx), rx, pending: Default::default() }
    }

    /// A stop of its own (`answer`'s call, which the far side may end too) whose held things
    /// are this one's: the user's second signal, which comes here, names them all.
    pub fn child(&self) -> Stop {
        Stop { pending: self.pending.clone(), ..Stop::manual() }
    }

    /// Asks to stop, as a signal would (a terminal in raw mode sees Ctrl-C as a key). The
    /// second request exits at once.
    pub fn trigger(&self, name: &'static str) {
        if self.requested().is_some() {
            let _ = crossterm::terminal::disable_raw_mode();
            crate::output::clear_live();
            crate::output::stderr(&format!("hiktalk: {name} again, exiting now{}", self.left()));
            std::process::exit(crate::outcome::exit::INTERRUPTED);
        }
        let _ = self.tx.send(Some(name));
    }

    /// What exiting now would leave on the devices, each with the command that clears it.
    pub fn left_behind(&self) -> Vec<String> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(_, w)| w.clone()).collect()
    }

    /// What exiting now leaves, as the end of the second signal's sentence.
    fn left(&self) -> String {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.is_empty() {
            true => String::new(),
            false => {
                let what: Vec<&str> = pending.iter().map(|(_, w)| w.as_str()).collect();
                format!(" without waiting for the device; {}", what.join("; "))
            }
        }
    }

    /// Says, until the returned guard is dropped, what exiting at once would leave behind and
    /// how to clear it, so that a second signal can tell the user.
    pub fn hold(&self, what: String) -> Held {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).push((id, what));
        Held { _entry: Arc::new(HeldEntry { id, pending: self.pending.clone() }) }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_held_is_said_until_it_is_dropped_also_through_a_child() {
        let stop = Stop::manual();
        let child = stop.child();
        let a = stop.hold("a session".into());
        let b = child.hold("a call".into());
        assert_eq!(stop.left(), " without waiting for the device; a session; a call");
        drop(a);
        let b2 = b.clone();
        drop(b);
        assert_eq!(stop.left(), " without waiting for the device; a call");
        drop(b2);
        assert_eq!(stop.left(), "");
        assert!(child.requested().is_none());
    }
}
