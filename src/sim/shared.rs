//! The simulated device's shared state: configuration, the event log, channel and session
//! state, auth, faults, shutdown, and the timers that act on that state (the session watchdog,
//! the doorbell's ring). Every connection task holds an `Arc<Shared>`.

use super::SimConfig;
use super::auth::Auth;
use super::events::{EventKind, EventLog, lock};
use super::faults::{Fault, FaultSet};
use super::http::{Request, Response};
use super::profile::BusyStyle;
use super::recorder::Recording;
use super::state::{CallStatus, EndReason, State};
use super::xml::{Namespace, ResponseStatus};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

pub(crate) struct Shared {
    pub addr: SocketAddr,
    pub cfg: SimConfig,
    pub busy: BusyStyle,
    pub ns: Namespace,
    pub log: EventLog,
    pub state: Mutex<State>,
    pub auth: Mutex<Auth>,
    pub faults: Mutex<FaultSet>,
    pub shutdown: watch::Sender<bool>,
    /// Timers started from outside a task (`SimHandle::ring`) run here.
    pub rt: tokio::runtime::Handle,
}

impl Shared {
    pub(crate) fn recording(&self, session_id: &str) -> Option<Recording> {
        lock(&self.state).recordings.get(session_id).cloned()
    }

    /// Fires (and logs) the first fault `pick` selects that has firings left.
    pub(crate) fn fire(&self, pick: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let fault = lock(&self.faults).take(pick)?;
        self.log.log(EventKind::FaultFired { fault: fault.to_string() });
        Some(fault)
    }

    pub(crate) fn log_request(&self, peer: SocketAddr, req: &Request, status: u16) {
        self.log.log(EventKind::Request {
            peer: peer.to_string(),
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            status,
        });
    }

    pub(crate) fn status_xml(&self, status: u16, rs: ResponseStatus) -> Response {
        Response::xml(status, rs.to_xml(self.ns))
    }

    pub(crate) fn begin_shutdown(&self) {
        if self.shutdown.send_replace(true) {
            return;
        }
        let mut st = lock(&self.state);
        let ids: Vec<u32> = (1..=st.channels.len() as u32).collect();
        for id in ids {
            st.end_session(&self.log, id, None, EndReason::Shutdown);
        }
    }

    pub(crate) async fn shutting_down(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Ends a session that went quiet (idle hang-up) or whose client vanished (stale expiry).
pub(crate) async fn watchdog(shared: Arc<Shared>, channel: u32, id: String, wake: Arc<Notify>) {
    loop {
        let deadline = {
            let mut st = lock(&shared.state);
            let Some(s) = st.session(channel, &id) else { return };
            let deadline = match s.stale_since {
                Some(t) => t + shared.cfg.stale_expiry,
                None => s.last_audio + shared.cfg.idle_timeout,
            };
            if Instant::now() >= deadline {
                if s.stale_since.is_some() {
                    if let Some(ch) = st.channel(channel) {
                        ch.session = None;
                        ch.channel.enabled = Some(false);
                    }
                    shared.log.log(EventKind::SessionExpired { channel, session_id: id });
                } else {
                    st.end_session(&shared.log, channel, Some(&id), EndReason::Idle);
                }
                return;
            }
            deadline
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = wake.notified() => {}
            _ = shared.shutting_down() => return,
        }
    }
}

/// Doorbell: an incoming call. It ends active talk sessions and rings for `ring_duration`.
pub(crate) fn ring(shared: &Arc<Shared>) {
    if !shared.cfg.profile.is_doorbell() {
        return;
    }
    let generation = {
        let mut st = lock(&shared.state);
        st.call = CallStatus::Ring;
        st.ring_generation += 1;
        shared.log.log(EventKind::Ring);
        shared.log.log(EventKind::CallStatus { status: "ring".into() });
        for id in 1..=st.channels.len() as u32 {
            st.end_session(&shared.log, id, None, EndReason::Ring);
        }
        st.ring_generation
    };
    let shared = shared.clone();
    shared.rt.clone().spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(shared.cfg.ring_duration) => {}
            _ = shared.shutting_down() => return,
        }
        let mut st = lock(&shared.state);
        if st.ring_generation == generation && st.call == CallStatus::Ring {
            st.call = CallStatus::Idle;
            shared.log.log(EventKind::CallStatus { status: "idle".into() });
        }
    });
}
