//! `GET /metrics`: what the sessions did, per camera, in the Prometheus text format (through
//! the Prometheus project's own client crate). Fed once per session, when it ends, and by the
//! event watchers as their streams open and drop.

use crate::outcome::{Ending, Outcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Camera {
    pub camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Ended {
    pub camera: String,
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    opened: Family<Camera, Counter>,
    closed: Family<Camera, Counter>,
    ended: Family<Ended, Counter>,
    unconfirmed: Family<Camera, Counter>,
    hangups: Family<Camera, Counter>,
    reconnects: Family<Ended, Counter>,
    failed_logins: Family<Camera, Counter>,
    locked_logins: Family<Camera, Counter>,
    late_frames: Family<Camera, Counter>,
    dropped_frames: Family<Camera, Counter>,
    live: Family<Camera, Gauge>,
    stream_reconnects: Family<Camera, Counter>,
    up: Family<Camera, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("hiktalk");
        let m = Metrics {
            opened: Family::default(),
            closed: Family::default(),
            ended: Family::default(),
            unconfirmed: Family::default(),
            hangups: Family::default(),
            reconnects: Family::default(),
            failed_logins: Family::default(),
            locked_logins: Family::default(),
            late_frames: Family::default(),
            dropped_frames: Family::default(),
            live: Family::default(),
            stream_reconnects: Family::default(),
            up: Family::default(),
            registry: Registry::default(),
        };
        r.register("device_sessions_opened", "Talk sessions the devices opened", m.opened.clone());
        r.register("device_sessions_closed", "Talk sessions whose close the device confirmed", m.closed.clone());
        r.register("plays_ended", "Plays over, by camera and outcome reason", m.ended.clone());
        r.register("closes_unconfirmed", "Sessions whose close the device did not confirm", m.unconfirmed.clone());
        r.register("device_hangups", "Talk sessions the device ended itself, retried or not", m.hangups.clone());
        r.register("reconnects", "Sessions reopened after a fault, by camera and the fault's reason", m.reconnects.clone());
        r.register("failed_logins", "Logins the device rejected (plays and watchers), locked ones included", m.failed_logins.clone());
        r.register("locked_logins", "Logins refused because the device has locked the account", m.locked_logins.clone());
        r.register("late_frames", "Frames' worth of time a device ran out of audio to play (underruns)", m.late_frames.clone());
        r.register("dropped_frames", "Audio frames never sent: too late to be worth playing", m.dropped_frames.clone());
        r.register("plays_live", "Plays queued or in progress", m.live.clone());
        r.register("event_stream_reconnects", "Event streams of watched cameras reopened after a fault", m.stream_reconnects.clone());
        r.register("up", "1 while a watched camera's event stream is open", m.up.clone());
        Metrics { registry: r, ..m }
    }
}

/// The reasons a session is reconnected after (`Ending::is_transient`).
const RETRIED: [&str; 5] = ["device_hangup", "connection_reset", "stalled", "network", "device_error"];

impl Metrics {
    /// Every counter of `camera` at 0: a series that first appears at 1 is not an increase to
    /// Prometheus, and an alert on `increase()` would miss the first event.
    pub fn camera(&self, camera: &str) {
        let c = label(camera);
        for family in [
            &self.opened,
            &self.closed,
            &self.unconfirmed,
            &self.hangups,
            &self.failed_logins,
            &self.locked_logins,
            &self.late_frames,
            &self.dropped_frames,
        ] {
            let _ = family.get_or_create(&c);
        }
        for reason in RETRIED {
            let _ = self.reconnects.get_or_create(&Ended { camera: camera.to_string(), reason: reason.to_string() });
        }
        let _ = self.live.get_or_create(&c);
    }

    pub fn started(&self, camera: &str) {
        self.live.get_or_create(&label(camera)).inc();
    }

    /// One play's outcome, from the figures of its report.
    pub fn ended(&self, camera: &str, o: &Outcome) {
        let c = label(camera);
        self.live.get_or_create(&c).dec();
        let figure = |k: &str| o.figures.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.opened.get_or_create(&c).inc_by(figure("sessions_opened"));
        self.closed.get_or_create(&c).inc_by(figure("closes_confirmed"));
        self.hangups.get_or_create(&c).inc_by(figure("device_hangups"));
        self.late_frames.get_or_create(&c).inc_by(figure("late_frames"));
        self.dropped_frames.get_or_create(&c).inc_by(figure("dropped_frames"));
        if let Some(serde_json::Value::Object(reasons)) = o.figures.get("retry_reasons") {
            for (reason, n) in reasons {
                let key = Ended { camera: camera.to_string(), reason: reason.clone() };
                self.reconnects.get_or_create(&key).inc_by(n.as_u64().unwrap_or(0));
            }
        }
        if !super::native::close_confirmed(o) {
            self.unconfirmed.get_or_create(&c).inc();
        }
        self.login(camera, &o.ending);
        self.ended.get_or_create(&Ended { camera: camera.to_string(), reason: o.ending.reason() }).inc();
    }

    /// A login the device refused (a play's or a watcher's): counted, and as locked when the
    /// device said the account is locked.
    pub fn login(&self, camera: &str, ending: &Ending) {
        if let Ending::Auth { locked, .. } = ending {
            self.failed_logins.get_or_create(&label(camera)).inc();
            if *locked {
                self.locked_logins.get_or_create(&label(camera)).inc();
            }
        }
    }

    /// A watched camera's event stream opened (`true`) or its watcher ended.
    pub fn stream_up(&self, camera: &str, up: bool) {
        self.up.get_or_create(&label(camera)).set(i64::from(up));
    }

    /// A watched camera's event stream dropped (or would not open): it is tried again.
    pub fn stream_reconnecting(&self, camera: &str) {
        self.stream_reconnects.get_or_create(&label(camera)).inc();
        self.stream_up(camera, false);
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn label(camera: &str) -> Camera {
    Camera { camera: camera.to_string() }
}
