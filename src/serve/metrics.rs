//! `GET /metrics`: what the sessions did, per camera, in the Prometheus text format (through
//! the Prometheus project's own client crate). Fed once per session, when it ends, and by the
//! event watchers as their streams open and drop.

use crate::outcome::Outcome;
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
    ended: Family<Ended, Counter>,
    unconfirmed: Family<Camera, Counter>,
    reconnects: Family<Camera, Counter>,
    failed_logins: Family<Camera, Counter>,
    live: Family<Camera, Gauge>,
    stream_reconnects: Family<Camera, Counter>,
    up: Family<Camera, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hiktalk");
        let m = Metrics {
            opened: Family::default(),
            ended: Family::default(),
            unconfirmed: Family::default(),
            reconnects: Family::default(),
            failed_logins: Family::default(),
            live: Family::default(),
            stream_reconnects: Family::default(),
            up: Family::default(),
            registry: Registry::default(),
        };
        registry.register("device_sessions_opened", "Talk sessions the devices opened", m.opened.clone());
        registry.register("plays_ended", "Plays over, by camera and outcome reason", m.ended.clone());
        registry.register("closes_unconfirmed", "Sessions whose close the device did not confirm", m.unconfirmed.clone());
        registry.register("reconnects", "Sessions reopened after a fault", m.reconnects.clone());
        registry.register("failed_logins", "Plays that ended with the credentials rejected or locked out", m.failed_logins.clone());
        registry.register("plays_live", "Plays queued or in progress", m.live.clone());
        registry.register(
            "event_stream_reconnects",
            "Event streams of watched cameras reopened after a fault",
            m.stream_reconnects.clone(),
        );
        registry.register("up", "1 while a watched camera's event stream is open", m.up.clone());
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn started(&self, camera: &str) {
        self.live.get_or_create(&label(camera)).inc();
    }

    /// One play's outcome, from the figures of its report.
    pub fn ended(&self, camera: &str, o: &Outcome) {
        let c = label(camera);
        self.live.get_or_create(&c).dec();
        let figure = |k: &str| o.figures.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        self.opened.get_or_create(&c).inc_by(figure("sessions_opened"));
        self.reconnects.get_or_create(&c).inc_by(figure("retries"));
        if !super::native::close_confirmed(o) {
            self.unconfirmed.get_or_create(&c).inc();
        }
        let reason = o.to_json().get("reason").and_then(|r| r.as_str()).unwrap_or("unknown").to_string();
        if reason == "auth" {
            self.failed_logins.get_or_create(&c).inc();
        }
        self.ended.get_or_create(&Ended { camera: camera.to_string(), reason }).inc();
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

    /// A watcher's login was rejected.
    pub fn failed_login(&self, camera: &str) {
        self.failed_logins.get_or_create(&label(camera)).inc();
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
