//! Real-time pacing against a monotonic schedule: frame n is due at `start + n * frame - lead`,
//! so a late wake-up never shifts later frames and drift cannot accumulate.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Pacer {
    start: Instant,
    frame: Duration,
    lead: Duration,
    sent: u64,
    max_ahead: Duration,
    max_behind: Duration,
}

impl Pacer {
    /// `lead` is how far ahead of real time the stream may run (a small cushion for the device).
    pub fn new(frame: Duration, lead: Duration) -> Self {
        Pacer { start: Instant::now(), frame, lead, sent: 0, max_ahead: Duration::ZERO, max_behind: Duration::ZERO }
    }

    /// When the next frame may go.
    pub fn due(&self) -> Instant {
        (self.start + self.audio_sent()).checked_sub(self.lead).unwrap_or(self.start).max(self.start)
    }

    /// Starts the schedule now, if nothing was sent yet (the first frame of a live source
    /// arrives a while after the upload starts; the schedule is counted from it).
    pub fn restart(&mut self) {
        if self.sent == 0 {
            self.start = Instant::now();
        }
    }

    /// When the device will have played everything sent so far (the schedule without the lead).
    pub fn played_out(&self) -> Instant {
        self.start + self.audio_sent()
    }

    /// Records that one frame went out now.
    pub fn sent_one(&mut self) {
        self.sent += 1;
        let elapsed = self.start.elapsed();
        let audio = self.audio_sent();
        if audio > elapsed {
            self.max_ahead = self.max_ahead.max(audio - elapsed);
        } else {
            self.max_behind = self.max_behind.max(elapsed - audio);
        }
    }

    /// Audio time handed to the device so far.
    pub fn audio_sent(&self) -> Duration {
        self.frame * self.sent as u32
    }

    /// The furthest the stream ran ahead of real time (at most `lead` plus one frame).
    pub fn max_ahead(&self) -> Duration {
        self.max_ahead
    }

    /// The furthest the stream fell behind real time (scheduling delays).
    pub fn max_behind(&self) -> Duration {
        self.max_behind
    }

    pub fn frames_sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn schedule_has_lead_then_real_time_and_no_drift() {
        let frame = Duration::from_millis(20);
        let mut p = Pacer::new(frame, Duration::from_millis(100));
        let t0 = Instant::now();
        for i in 0..1000u32 {
            tokio::time::sleep_until(p.due()).await;
            // A late wake-up on some frames must not delay the schedule of later ones.
            if i % 97 == 0 {
                tokio::time::advance(Duration::from_millis(7)).await;
            }
            p.sent_one();
        }
        let elapsed = t0.elapsed();
        // 1000 frames = 20 s; the last frame goes at 19.98 s - 0.1 s lead.
        assert!(elapsed >= Duration::from_millis(19_880) && elapsed <= Duration::from_millis(19_890), "{elapsed:?}");
        assert!(p.max_ahead() <= Duration::from_millis(120), "{:?}", p.max_ahead());
        assert_eq!(p.audio_sent(), Duration::from_secs(20));
    }
}
