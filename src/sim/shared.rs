//! The simulated device's shared state: configuration, the event log, channel and session
//! state, auth, faults, the alarm bus, shutdown, and the answers shaped from them (status
//! documents, the 401 challenge). Every connection task holds an `Arc<Shared>`.

use super::alarm::{Alert, AlertFormat, Detection};
use super::auth::Auth;
use super::config::SimConfig;
use super::events::{EventKind, EventLog, lock};
use super::faults::{Fault, FaultSet};
use super::http::{Request, Response};
use super::profile::BusyStyle;
use super::recorder::Received;
use super::room::{EchoLine, MicFile};
use super::state::{EndReason, State};
use super::xml::{Namespace, ResponseStatus, UserCheck};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// How often a detection that goes on is posted again.
const REPOST: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// Connections open now, and when the first of the current visit was accepted: the start
    /// of a client's run, for its time to first audio.
    pub visit: Mutex<(usize, Option<Instant>)>,
    /// Tokens handed out by `/ISAPI/Security/token`.
    pub tokens: Mutex<Vec<String>>,
    /// The microphone's file (`--mic`), decoded at start.
    pub mic_file: Option<Arc<MicFile>>,
    /// Per channel, what its speaker played lately, for the microphone's echo (empty when the
    /// echo is off).
    pub echo: Vec<Mutex<EchoLine>>,
    /// Alarms for the alertStream clients (each stream subscribes).
    pub alerts: broadcast::Sender<Alert>,
    /// alertStreams open now (at most `alert::MAX_STREAMS`).
    pub alert_streams: Mutex<usize>,
    /// The last alertStream's number, for the events.
    pub alert_stream_ids: AtomicU32,
    /// The intercom's event serial number (`serialNo`).
    pub alert_serial: AtomicU64,
    /// Uploads being received now: a recording is read once they have all been kept.
    pub receiving: watch::Sender<usize>,
}

/// Counts one upload as being received until it has been kept and logged.
pub(crate) struct Receiving<'a>(&'a Shared);

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.receiving.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Shared {
    /// The uploads kept so far (see `State::keep`).
    pub(crate) fn received(&self) -> Vec<Received> {
        lock(&self.state).received.iter().cloned().collect()
    }

    /// An upload is being received from now until the guard drops.
    pub(crate) fn receiving(&self) -> Receiving<'_> {
        self.receiving.send_modify(|n| *n += 1);
        Receiving(self)
    }

    /// Waits (up to `within`) until no upload is being received, so that every upload that
    /// has begun has been kept; false if one still runs.
    pub(crate) async fn uploads_settled(&self, within: std::time::Duration) -> bool {
        let mut rx = self.receiving.subscribe();
        matches!(tokio::time::timeout(within, rx.wait_for(|n| *n == 0)).await, Ok(Ok(_)))
    }

    /// A connection was accepted; returns a guard that counts it until dropped.
    pub(crate) fn connected(self: &Arc<Self>) -> Visit {
        let mut v = lock(&self.visit);
        if v.0 == 0 {
            v.1 = Some(Instant::now());
        }
        v.0 += 1;
        Visit(self.clone())
    }

    /// Whether audioData and close must carry the sessionId open returned.
    pub(crate) fn requires_session_id(&self) -> bool {
        self.cfg.profile.uses_session_id() && self.cfg.require_session_id.unwrap_or(self.cfg.profile.is_doorbell())
    }

    /// A new token for `?token=` on audioData (valid until the simulator stops).
    pub(crate) fn new_token(&self) -> String {
        let token = format!("{:032x}", rand::random::<u128>());
        let mut tokens = lock(&self.tokens);
        // Bounded: a client asking in a loop must not grow memory without end.
        if tokens.len() >= 1024 {
            tokens.remove(0);
        }
        tokens.push(token.clone());
        token
    }

    pub(crate) fn token_valid(&self, token: &str) -> bool {
        lock(&self.tokens).iter().any(|t| t == token)
    }

    /// When the current client visit began (its first connection's accept).
    pub(crate) fn visit_began(&self) -> Option<Instant> {
        lock(&self.visit).1
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

    /// Sends an alarm to every open alertStream (and logs it); a ring or a door event on a
    /// device that is no door station is dropped.
    pub(crate) fn publish(&self, alert: Alert) {
        if !self.cfg.profile.is_doorbell() && alert.minor().is_some() {
            return;
        }
        let streams = self.alerts.receiver_count();
        let (kind, state, count) = (alert.kind().into(), alert.state().into(), alert.count());
        self.log.log(EventKind::Alert { kind, state, count, door: alert.door(), streams });
        // No stream open is normal.
        let _ = self.alerts.send(alert);
    }

    /// How the alertStream is written.
    pub(crate) fn alert_format(&self) -> AlertFormat {
        self.cfg.alert_format.unwrap_or(self.cfg.profile.alert_format())
    }

    /// The device detects `what` now: `active` parts about every second (counting up) until
    /// `alarm_duration` after the last detection, then one `inactive`. Err: the device has no
    /// such detection, or (motion) its motion detection is off.
    pub(crate) fn detect(self: &Arc<Self>, what: Detection) -> Result<(), String> {
        let profile = self.cfg.profile;
        if !profile.detections().contains(&what) {
            return Err(format!("this simulated device (profile {profile}) has no {} alarm", what.event_type()));
        }
        let until = Instant::now() + self.cfg.alarm_duration;
        {
            let mut st = lock(&self.state);
            if what == Detection::Motion && !st.motion_detection {
                return Err("motion detection is off (motionDetection enabled=false)".into());
            }
            if let Some(end) = st.detections.get_mut(&what) {
                // Already going on: it lasts longer.
                *end = (*end).max(until);
                return Ok(());
            }
            st.detections.insert(what, until);
        }
        self.publish(Alert::Detected { what, active: true, count: 1 });
        let shared = self.clone();
        self.rt.spawn(async move {
            let mut count = 1;
            let mut next = Instant::now() + REPOST;
            loop {
                let end = {
                    let mut st = lock(&shared.state);
                    let end = st.detections.get(&what).copied().unwrap_or_else(Instant::now);
                    if Instant::now() >= end {
                        st.detections.remove(&what);
                        break;
                    }
                    end
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(next.min(end)) => {}
                    _ = shared.shutting_down() => return,
                }
                if Instant::now() >= next && Instant::now() < end {
                    count += 1;
                    next += REPOST;
                    shared.publish(Alert::Detected { what, active: true, count });
                }
            }
            shared.publish(Alert::Detected { what, active: false, count });
        });
        Ok(())
    }

    /// The speaker's recent audio on `channel`, when echo is on.
    pub(crate) fn echo_line(&self, channel: u32) -> Option<&Mutex<EchoLine>> {
        self.echo.get((channel as usize).checked_sub(1)?)
    }

    pub(crate) fn status_xml(&self, status: u16, rs: ResponseStatus) -> Response {
        Response::xml(status, rs.to_xml(self.ns))
    }

    /// A 401 in the shape devices send: Digest challenge (plus Basic if configured) and userCheck,
    /// in XML, or for a JSON request (`retry_times`) in JSON with the attempts left.
    pub(crate) fn unauthorized(&self, stale: bool, locked_for: Option<u64>, retry_times: Option<u32>) -> Response {
        let challenge = lock(&self.auth).challenge(stale);
        let lock_status = if locked_for.is_some() { "lock" } else { "unlock" };
        let resp = match retry_times {
            Some(left) => Response::json(
                401,
                serde_json::json!({ "userCheck": {
                    "statusValue": 401, "statusString": "Unauthorized", "lockStatus": lock_status,
                    "unlockTime": locked_for.unwrap_or(0), "retryLoginTime": 0, "retryTimes": left
                }})
                .to_string(),
            ),
            None => {
                let body = UserCheck {
                    status_value: Some(401),
                    status_string: Some("Unauthorized".into()),
                    lock_status: Some(lock_status.into()),
                    unlock_time: locked_for,
                    retry_login_time: locked_for.map(|_| 0),
                };
                Response::xml(401, body.to_xml(self.ns))
            }
        };
        let mut resp = resp.header("WWW-Authenticate", challenge);
        if self.cfg.basic_challenge {
            resp = resp.header("WWW-Authenticate", format!(r#"Basic realm="{}""#, self.cfg.profile.realm()));
        }
        resp
    }

    pub(crate) fn not_supported(&self, req: &Request) -> Response {
        self.status_xml(404, ResponseStatus::new(&req.path, 4, "Invalid Operation", "notSupport"))
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

/// Counts one open connection (see `Shared::connected`).
pub(crate) struct Visit(Arc<Shared>);

impl Drop for Visit {
    fn drop(&mut self) {
        let mut v = lock(&self.0.visit);
        v.0 = v.0.saturating_sub(1);
    }
}
