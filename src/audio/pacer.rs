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
}

impl Pacer {
    /// `lead` is how far ahead of real time the stream may run (a small cushion for the device).
    pub fn new(frame: Duration, lead: Duration) -> Self {
        Pacer { start: Instant::now(), frame, lead, sent: 0 }
    }

    /// When the next frame may go.
    pub fn due(&self) -> Instant {
        (self.start + self.audio_sent()).checked_sub(self.lead).unwrap_or(self.start).max(self.start)
    }

    /// Continues the schedule from now at the current position (after a pause, or at first
    /// use): the next `lead` of audio goes out at once, then real time.
    pub fn resume(&mut self) {
        let now = Instant::now();
        self.start = now.checked_sub(self.audio_sent()).unwrap_or(now);
    }

    /// When the device will have played everything sent so far (the schedule without the lead).
    pub fn played_out(&self) -> Instant {
        self.start + self.audio_sent()
    }

    /// Runs `lead` ahead of real time from now on (a live source's cushion, grown or shrunk).
    pub fn set_lead(&mut self, lead: Duration) {
        self.lead = lead;
    }

    /// Records that one frame went out.
    pub fn sent_one(&mut self) {
        self.sent += 1;
    }

    /// Audio time handed out so far.
    pub fn audio_sent(&self) -> Duration {
        self.frame * self.sent as u32
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
        let mut max_ahead = Duration::ZERO;
        for i in 0..1000u32 {
            tokio::time::sleep_until(p.due()).await;
            // A late wake-up on some frames must not delay the schedule of later ones.
            if i % 97 == 0 {
                tokio::time::advance(Duration::from_millis(7)).await;
            }
            p.sent_one();
            max_ahead = max_ahead.max(p.played_out().saturating_duration_since(Instant::now()));
        }
        let elapsed = t0.elapsed();
        // 1000 frames = 20 s; the last frame goes at 19.98 s - 0.1 s lead.
        assert!(elapsed >= Duration::from_millis(19_880) && elapsed <= Duration::from_millis(19_890), "{elapsed:?}");
        assert!(max_ahead <= Duration::from_millis(120), "{max_ahead:?}");
        assert_eq!(p.audio_sent(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_resumed_schedule_continues_from_its_position() {
        let frame = Duration::from_millis(20);
        let mut p = Pacer::new(frame, Duration::from_millis(40));
        for _ in 0..50 {
            tokio::time::sleep_until(p.due()).await;
            p.sent_one();
        }
        // A pause of 5 s (a reconnect): the next frames are not 5 s overdue, only the lead is.
        tokio::time::advance(Duration::from_secs(5)).await;
        p.resume();
        let now = Instant::now();
        assert_eq!(p.played_out(), now);
        assert_eq!(p.due(), now - Duration::from_millis(40));
    }
}
