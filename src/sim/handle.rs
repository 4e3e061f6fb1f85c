//! [`SimHandle`]: a running simulated device, as a test or `hiktalk sim` holds it.

use super::alarm::Detection;
use super::call::{self, By, Cmd};
use super::config::SimConfig;
use super::events::{Event, Summary};
use super::recorder::Received;
use super::server::{self, StartError};
use super::shared::Shared;
use super::{console, door};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a recording is waited for (see [`SimHandle::received`]).
const SETTLE: Duration = Duration::from_secs(10);

/// Binds, then serves until [`SimHandle::shutdown`] (or until the handle is dropped).
pub async fn start(config: SimConfig) -> Result<SimHandle, StartError> {
    let (shared, task) = server::start(config).await?;
    Ok(SimHandle { shared, task: Some(task) })
}

/// A running simulated device.
pub struct SimHandle {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The instant the events' clock (`Event::t`, `first_byte_at`, arrivals) reads zero, to
    /// line device-side times up with times measured elsewhere in the same process.
    pub fn origin(&self) -> std::time::Instant {
        self.shared.log.origin()
    }

    /// Everything logged so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared.log.snapshot()
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.shared.log.subscribe()
    }

    /// The first event, past or future, matching `pred`; None after `timeout`.
    pub async fn wait_for(&self, pred: impl Fn(&Event) -> bool, timeout: Duration) -> Option<Event> {
        self.shared.log.wait_for(pred, timeout).await
    }

    /// Doorbell: a visitor presses the button now (ends an active talk session). Other
    /// profiles have no bell and ignore it.
    pub fn ring(&self) {
        call::ring(&self.shared, By::Local);
    }

    /// Doorbell: the resident answers the ringing call (as on the indoor station); false when
    /// nothing rings.
    pub fn answer(&self) -> bool {
        call::signal(&self.shared, Cmd::Answer, By::Local).is_ok()
    }

    /// Doorbell: the resident hangs up: a ringing call is rejected, a call in progress ended;
    /// false when the doorbell is idle.
    pub fn hang_up(&self) -> bool {
        call::hang_up(&self.shared)
    }

    /// Doorbell: opens a door (1-based) from the indoor station; false if there is no such door.
    pub fn open_door(&self, door: u32) -> bool {
        door::act(&self.shared, u64::from(door), door::Cmd::Open, "local").is_ok()
    }

    /// The camera sees motion now (VMD on the alertStream, active for the alarm duration);
    /// nothing when its motion detection is off.
    pub fn motion(&self) {
        let _ = self.shared.detect(Detection::Motion);
    }

    /// The device detects `what` now; Err when it has no such detection or motion detection
    /// is off.
    pub fn detect(&self, what: Detection) -> Result<(), String> {
        self.shared.detect(what)
    }

    /// Carries out one line of local control (what `hiktalk sim` reads on stdin: `ring`,
    /// `answer`, `hangup`, `unlock [N]`, `motion`, `help`); Ok: what happened, Err: why
    /// nothing did.
    pub fn command(&self, line: &str) -> Result<String, String> {
        console::run(&self.shared, line)
    }

    /// Every finished upload, in order (the most recent ones, see [`SimConfig::keep_audio`]):
    /// the raw bytes, what a listener heard of them, and the simulator's own decode. Read once
    /// no upload is being received (waiting up to 10 s): a client that exits after its close
    /// was answered may leave its upload's socket for the device to find closed a moment later.
    pub async fn received(&self) -> Vec<Received> {
        self.shared.uploads_settled(SETTLE).await;
        self.shared.received()
    }

    /// The last finished upload of a session (by the `id` in its events), read as
    /// [`SimHandle::received`] reads.
    pub async fn upload_of(&self, session_id: &str) -> Option<Received> {
        self.received().await.into_iter().rev().find(|r| r.session_id == session_id)
    }

    pub fn summary(&self) -> Summary {
        Summary::from_events(&self.events())
    }

    /// Stops accepting, ends open sessions and uploads, and waits for them to be logged.
    pub async fn shutdown(self) -> Summary {
        self.shutdown_with_events().await.0
    }

    /// [`SimHandle::shutdown`], keeping the whole log too.
    pub async fn shutdown_with_events(mut self) -> (Summary, Vec<Event>) {
        self.shared.begin_shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let events = self.events();
        (Summary::from_events(&events), events)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.shared.begin_shutdown();
        }
    }
}
