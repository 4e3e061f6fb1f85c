//! Sessions that follow the voice (`speak --vad`): a device's speaker hisses while a session is
//! open, so the session opens on the first speech and closes (the full close sequence) after
//! `hold` without it, as often as that happens. The microphone says whether someone speaks.

use std::time::Duration;
use tokio::sync::watch;

/// Whether someone speaks now (the microphone's gate: voice above the threshold, not muted),
/// and how long a silence closes the session.
#[derive(Clone)]
pub struct Voice {
    pub speaking: watch::Receiver<bool>,
    pub hold: Duration,
}

impl Voice {
    /// Returns once someone speaks (at once if they do now). A microphone that went away
    /// returns too: its failure ends the run, not this wait.
    pub async fn spoken(&self) {
        let mut rx = self.speaking.clone();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Returns once nobody has spoken for `hold`.
    pub async fn quiet(&self) {
        let mut rx = self.speaking.clone();
        loop {
            while *rx.borrow_and_update() {
                if rx.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return std::future::pending().await },
                _ = tokio::time::sleep(self.hold) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn quiet_needs_the_whole_hold_without_speech() {
        let (tx, rx) = watch::channel(true);
        let voice = Voice { speaking: rx, hold: Duration::from_secs(3) };
        let start = tokio::time::Instant::now();
        let quiet = tokio::spawn({
            let voice = voice.clone();
            async move { voice.quiet().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(false).unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A word before the hold is up starts it again.
        tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.send(false).unwrap();
        quiet.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(6100));
        // And speech ends the wait for it at once.
        let spoken = tokio::spawn(async move { voice.spoken().await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        tx.send(true).unwrap();
        spoken.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(11100));
    }
}
