//! The door station and the event stream, asked with the raw client: call control, doors,
//! volumes, alertStream parts and faults, rings on a schedule and from the sim's stdin.

use crate::util::raw::*;
use crate::util::{step, transitions};
use hiktalk::sim::{Event, EventKind, Fault, Profile, SimConfig, SimHandle};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const CALL_STATUS: &str = "/ISAPI/VideoIntercom/callStatus?format=json";
const CALL_SIGNAL: &str = "/ISAPI/VideoIntercom/callSignal?format=json";
const DOOR: &str = "/ISAPI/AccessControl/RemoteControl/door";
const OPEN_DOOR: &str = "/ISAPI/VideoIntercom/remoteOpenDoor";
const AUDIO_OUT: &str = "/ISAPI/System/Audio/AudioOut";
const ALERT: &str = "/ISAPI/Event/notification/alertStream";

fn doorbell() -> SimConfig {
    SimConfig { profile: Profile::Doorbell, ..raw_sim_config() }
}

fn json(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

async fn call_status(c: &mut Client) -> String {
    let r = c.request("GET", CALL_STATUS, "").await;
    assert_eq!(r.status, 200, "{r:?}");
    json(&r)["CallStatus"]["status"].as_str().unwrap().to_string()
}

async fn signal(c: &mut Client, cmd: &str) -> Resp {
    c.request("PUT", CALL_SIGNAL, &format!(r#"{{"CallSignal":{{"cmdType":"{cmd}"}}}}"#)).await
}

/// A ResponseStatus's text fields, read with roxmltree (not hiktalk's parser).
fn status_of(body: &str) -> (String, String) {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let field = |name: &str| doc.descendants().find(|n| n.tag_name().name() == name).and_then(|n| n.text()).unwrap_or("").to_string();
    (field("statusCode"), field("subStatusCode"))
}

#[tokio::test]
async fn a_call_rings_is_answered_and_hung_up() {
    let sim = start(SimConfig { doors: 2, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    assert_eq!(call_status(&mut c).await, "idle");
    let caps = json(&c.request("GET", "/ISAPI/VideoIntercom/callStatus/capabilities?format=json", "").await);
    assert_eq!(caps["CallStatus"]["status"]["@opt"], serde_json::json!(["idle", "ring", "onCall"]));
    let info = json(&c.request("GET", "/ISAPI/VideoIntercom/callerInfo?format=json", "").await);
    for field in ["buildingNo", "floorNo", "zoneNo", "unitNo", "devNo", "devType"] {
        assert!(info["CallerInfo"][field].is_i64(), "{field}: {info}");
    }
    assert_eq!((info["CallerInfo"]["lockNum"].as_i64(), info["CallerInfo"]["status"].as_str()), (Some(2), Some("idle")), "{info}");

    sim.ring();
    assert_eq!(call_status(&mut c).await, "ring");
    let r = signal(&mut c, "answer").await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = json(&r);
    assert_eq!((v["statusCode"].as_i64(), v["subStatusCode"].as_str()), (Some(1), Some("ok")), "{v}");
    assert_eq!(v["requestURL"], "/ISAPI/VideoIntercom/callSignal", "{v}");
    assert_eq!(call_status(&mut c).await, "onCall");
    assert_eq!(signal(&mut c, "hangUp").await.status, 200);
    assert_eq!(call_status(&mut c).await, "idle");
    // Reject, cancel, deviceOnCall and bellTimeout each end a ring.
    for cmd in ["reject", "cancel", "deviceOnCall", "bellTimeout"] {
        sim.ring();
        assert_eq!(signal(&mut c, cmd).await.status, 200, "{cmd}");
        assert_eq!(call_status(&mut c).await, "idle", "{cmd}");
    }
    let mut want =
        vec![step("idle", "ring", "ring", "local"), step("ring", "onCall", "answer", "client"), step("onCall", "idle", "hangUp", "client")];
    for cmd in ["reject", "cancel", "deviceOnCall", "bellTimeout"] {
        want.extend([step("idle", "ring", "ring", "local"), step("ring", "idle", cmd, "client")]);
    }
    assert_eq!(transitions(&sim), want);
    let signals = sim.events().iter().filter(|e| matches!(&e.kind, EventKind::CallSignal { accepted: true, .. })).count();
    assert_eq!(signals, 6);
}

#[tokio::test]
async fn call_signals_that_do_not_fit_the_state_are_invalid_operations() {
    let sim = start(doorbell()).await;
    let mut c = Client::new(&sim);
    let invalid = |r: &Resp| {
        assert_eq!(r.status, 403, "{r:?}");
        let v = json(r);
        assert_eq!(v["statusCode"], 4, "{v}");
        assert_eq!(v["statusString"], "Invalid Operation", "{v}");
        assert_eq!(v["subStatusCode"], "invalidOperation", "{v}");
        assert_eq!(v["errorCode"], 1073741830, "{v}");
    };
    for cmd in ["answer", "hangUp", "reject", "cancel", "bellTimeout", "deviceOnCall"] {
        invalid(&signal(&mut c, cmd).await);
    }
    sim.ring();
    invalid(&signal(&mut c, "hangUp").await);
    assert_eq!(signal(&mut c, "answer").await.status, 200);
    for cmd in ["answer", "reject", "cancel"] {
        invalid(&signal(&mut c, cmd).await);
    }
    assert_eq!(call_status(&mut c).await, "onCall", "refused signals changed nothing");
    // Not a command at all: statusCode 6.
    for body in [r#"{"CallSignal":{"cmdType":"explode"}}"#, "{}", "not json"] {
        let r = c.request("PUT", CALL_SIGNAL, body).await;
        assert_eq!((r.status, json(&r)["statusCode"].as_i64()), (400, Some(6)), "{body}: {r:?}");
    }
    // A client's string comes back bounded.
    let r = signal(&mut c, &"x".repeat(20_000)).await;
    let description = json(&r)["description"].as_str().unwrap().to_string();
    assert!(r.status == 400 && description.len() < 1_000, "{} bytes", description.len());
    let refused = sim.events().iter().filter(|e| matches!(&e.kind, EventKind::CallSignal { accepted: false, .. })).count();
    assert_eq!(refused, 10, "only commands that exist are logged");
    assert_eq!(transitions(&sim).len(), 2, "ring and answer only: {:?}", transitions(&sim));
}

#[tokio::test]
async fn old_firmware_answers_call_status_in_xml_whatever_was_asked() {
    let sim = start(SimConfig { call_status_xml: true, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    let status = |r: &Resp| {
        assert_eq!(r.status, 200, "{r:?}");
        let doc = roxmltree::Document::parse(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}"));
        assert_eq!(doc.root_element().tag_name().name(), "CallStatus");
        let s = doc.descendants().find(|n| n.tag_name().name() == "status").unwrap();
        (s.text().unwrap_or("").to_string(), s.attribute("opt").map(str::to_string))
    };
    assert_eq!(status(&c.request("GET", CALL_STATUS, "").await), ("idle".into(), None));
    sim.ring();
    assert_eq!(status(&c.request("GET", CALL_STATUS, "").await), ("ring".into(), None));
    let caps = status(&c.request("GET", "/ISAPI/VideoIntercom/callStatus/capabilities?format=json", "").await);
    assert_eq!(caps, ("ring".into(), Some("idle,ring,onCall".into())));
}

#[tokio::test]
async fn string_style_firmware_answers_with_string_status_codes() {
    let sim = start(SimConfig { call_signal_style: hiktalk::sim::CallSignalStyle::String, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    sim.ring();
    let v = json(&signal(&mut c, "answer").await);
    assert_eq!(v, serde_json::json!({ "statusCode": "1", "statusString": "OK", "errorMsg": "ok", "errorCode": 1 }));
    let r = signal(&mut c, "answer").await;
    let v = json(&r);
    assert_eq!((r.status, v["statusCode"].as_str(), v["errorCode"].as_i64()), (403, Some("4"), Some(1073741830)), "{v}");
    assert!(v.get("subStatusCode").is_none(), "{v}");
}

#[tokio::test]
async fn delete_ring_stops_the_bell_and_talk_is_heard_again() {
    let sim = start(doorbell()).await;
    let mut c = Client::new(&sim);
    // Idle: nothing to stop, still OK, nothing moves.
    let r = c.request("DELETE", "/ISAPI/VideoIntercom/ring", "").await;
    assert_eq!((r.status, status_of(&r.body)), (200, ("1".into(), "ok".into())), "{r:?}");
    sim.ring();
    // Talk while ringing is taken but not heard.
    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0xFF; 800]).await.unwrap();
    drop(a);
    let ended = expect(&sim, "unheard", |k| matches!(k, EventKind::AudioEnded { session_id, .. } if *session_id == sid)).await;
    let EventKind::AudioEnded { listened, .. } = ended else { unreachable!() };
    assert_eq!(listened.unheard_seconds, 0.1, "{listened:?}");
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1/close?sessionId={sid}"), "").await.status, 200);

    let r = c.request("DELETE", "/ISAPI/VideoIntercom/ring?format=json", "").await;
    assert_eq!((r.status, json(&r)["statusCode"].as_i64()), (200, Some(1)), "{r:?}");
    assert_eq!(call_status(&mut c).await, "idle");
    let sid = c.open().await.unwrap();
    let (mut a, _) = c.upload(&audio_uri(Some(&sid))).await;
    a.write_all(&[0xFF; 800]).await.unwrap();
    drop(a);
    let ended = expect(&sim, "heard", |k| matches!(k, EventKind::AudioEnded { session_id, .. } if *session_id == sid)).await;
    let EventKind::AudioEnded { listened, .. } = ended else { unreachable!() };
    assert_eq!((listened.audio_seconds, listened.unheard_seconds), (0.1, 0.0), "{listened:?}");
    assert_eq!(transitions(&sim), [step("idle", "ring", "ring", "local"), step("ring", "idle", "deleteRing", "client")]);
}

#[tokio::test]
async fn an_unanswered_ring_times_out_and_old_units_have_no_call_control() {
    let sim = start(SimConfig { ring_duration: Duration::from_millis(150), ..doorbell() }).await;
    sim.ring();
    let e = expect(&sim, "bell timeout", |k| matches!(k, EventKind::CallStatus { cause, .. } if cause == "bellTimeout")).await;
    assert!(matches!(&e, EventKind::CallStatus { status, by, .. } if status == "idle" && by == "device"), "{e:?}");

    let sim = start(SimConfig { call_control: false, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    for (method, path) in [
        ("GET", CALL_STATUS),
        ("PUT", CALL_SIGNAL),
        ("GET", "/ISAPI/VideoIntercom/callerInfo?format=json"),
        ("DELETE", "/ISAPI/VideoIntercom/ring"),
    ] {
        let r = c.request(method, path, "").await;
        assert_eq!((r.status, r.body.as_str()), (404, "Can't locate the url"), "{path}");
    }
    // The button still rings, and the ring still ends talk.
    c.open().await.unwrap();
    sim.ring();
    expect(&sim, "ring hang-up", |k| matches!(k, EventKind::Hangup { reason, .. } if reason == "ring")).await;
}

#[tokio::test]
async fn rings_come_on_schedule() {
    let sim = start(SimConfig { ring_at: vec![Duration::from_millis(450), Duration::from_millis(150)], ..doorbell() }).await;
    let rings = wait_rings(&sim, 2).await;
    assert!(rings[0] >= 0.14 && rings[0] < 0.4, "{rings:?}");
    assert!(rings[1] >= 0.44 && rings[1] < 0.7, "{rings:?}");

    let period = 0.2;
    let sim = start(SimConfig { ring_every: Some(Duration::from_secs_f64(period)), ..doorbell() }).await;
    let rings = wait_rings(&sim, 3).await;
    for (k, at) in rings.iter().enumerate() {
        let due = period * (k + 1) as f64;
        assert!(*at >= due - 0.01 && *at < due + 0.25, "ring {k} at {at} s, due {due}: {rings:?}");
    }
}

/// The device-clock times of the first `n` scheduled rings.
async fn wait_rings(sim: &SimHandle, n: usize) -> Vec<f64> {
    let rings = |events: &[Event]| -> Vec<f64> {
        events.iter().filter(|e| matches!(&e.kind, EventKind::Ring { by } if by == "schedule")).map(|e| e.t).collect()
    };
    let mut rx = sim.subscribe();
    let deadline = Instant::now() + WAIT;
    loop {
        let got = rings(&sim.events());
        if got.len() >= n {
            return got[..n].to_vec();
        }
        tokio::time::timeout_at(deadline, rx.recv()).await.unwrap_or_else(|_| panic!("{} rings of {n}", got.len())).unwrap();
    }
}

#[tokio::test]
async fn doors_open_by_either_xml_and_refuse_doors_they_do_not_have() {
    let sim = start(SimConfig { doors: 2, door_open_time: Duration::from_millis(150), ..doorbell() }).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", &format!("{DOOR}/capabilities"), "").await;
    let doc = roxmltree::Document::parse(&r.body).unwrap();
    let attr = |el: &str, a: &str| doc.descendants().find(|n| n.tag_name().name() == el).and_then(|n| n.attribute(a)).map(str::to_string);
    assert_eq!((attr("doorNo", "min"), attr("doorNo", "max")), (Some("1".into()), Some("2".into())), "{}", r.body);
    assert_eq!(attr("cmd", "opt").as_deref(), Some("open,close,alwaysOpen,resume"));

    let namespaced = r#"<RemoteControlDoor version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><cmd>open</cmd></RemoteControlDoor>"#;
    let r = c.request("PUT", &format!("{DOOR}/1"), namespaced).await;
    assert_eq!((r.status, status_of(&r.body)), (200, ("1".into(), "ok".into())), "{r:?}");
    expect(&sim, "door 1 relocks", |k| matches!(k, EventKind::DoorState { door: 1, state } if state == "locked")).await;
    let bare = "<RemoteControlDoor><cmd>alwaysOpen</cmd></RemoteControlDoor>";
    assert_eq!(c.request("PUT", &format!("{DOOR}/2"), bare).await.status, 200);
    assert_eq!(c.request("PUT", &format!("{DOOR}/2"), "<RemoteControlDoor><cmd>resume</cmd></RemoteControlDoor>").await.status, 200);

    for (door, body) in [("3", namespaced), ("0", bare), ("1", "<RemoteControlDoor><cmd>explode</cmd></RemoteControlDoor>")] {
        let r = c.request("PUT", &format!("{DOOR}/{door}"), body).await;
        assert_eq!((r.status, status_of(&r.body)), (400, ("6".into(), "badParameters".into())), "door {door}: {r:?}");
    }
    let r = c.request("PUT", &format!("{DOOR}/1"), "<RemoteControlDoor><cmd>open").await;
    assert_eq!((r.status, status_of(&r.body).0), (400, "5".into()), "{r:?}");
    assert_eq!(c.request("PUT", OPEN_DOOR, "<RemoteOpenDoor><command>unlock</command></RemoteOpenDoor>").await.status, 404);

    let actions: Vec<(u32, String, bool)> = sim
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DoorAction { door, cmd, accepted, api, .. } if api == "remoteControl" => Some((door, cmd, accepted)),
            _ => None,
        })
        .collect();
    let want = [
        (1, "open", true),
        (2, "alwaysOpen", true),
        (2, "resume", true),
        (3, "open", false),
        (0, "alwaysOpen", false),
        (1, "explode", false),
    ];
    assert_eq!(actions, want.map(|(d, c, a)| (d, c.to_string(), a)));
    let states: Vec<(u32, String)> = sim
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DoorState { door, state } => Some((door, state)),
            _ => None,
        })
        .collect();
    assert_eq!(states, [(1, "unlocked"), (1, "locked"), (2, "alwaysOpen"), (2, "locked")].map(|(d, s)| (d, s.to_string())));
}

#[tokio::test]
async fn older_units_open_doors_with_remote_open_door() {
    let sim = start(SimConfig { door_api: hiktalk::sim::DoorApi::RemoteOpenDoor, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("PUT", &format!("{DOOR}/1"), "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>").await.status, 404);
    assert_eq!(c.request("GET", &format!("{DOOR}/capabilities"), "").await.status, 404);
    let open = r#"<RemoteOpenDoor version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><gateWayIndex>1</gateWayIndex><command>unlock</command><controlSrc>hiktalk</controlSrc></RemoteOpenDoor>"#;
    let r = c.request("PUT", OPEN_DOOR, open).await;
    assert_eq!((r.status, status_of(&r.body).0), (200, "1".into()), "{r:?}");
    expect(&sim, "unlocked", |k| matches!(k, EventKind::DoorAction { door: 1, api, accepted: true, .. } if api == "remoteOpenDoor")).await;
    let r = c.request("PUT", OPEN_DOOR, "<RemoteOpenDoor><gateWayIndex>2</gateWayIndex><command>unlock</command></RemoteOpenDoor>").await;
    assert_eq!((r.status, status_of(&r.body).1), (400, "badParameters".into()), "{r:?}");

    let sim = start(SimConfig { door_api: hiktalk::sim::DoorApi::Both, ..doorbell() }).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("PUT", &format!("{DOOR}/1"), "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>").await.status, 200);
    assert_eq!(c.request("PUT", OPEN_DOOR, open).await.status, 200);
    // A camera has no door.
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("PUT", &format!("{DOOR}/1"), "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>").await.status, 404);
}

#[tokio::test]
async fn the_door_station_volume_is_0_to_10_and_a_cameras_0_to_100() {
    let sim = start(doorbell()).await;
    let mut c = Client::new(&sim);
    let volumes = |body: &str| {
        let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let entry = doc.descendants().find(|n| n.tag_name().name() == "AudioOutVlome").unwrap_or_else(|| panic!("{body}"));
        let v = |name: &str| entry.children().find(|n| n.tag_name().name() == name).and_then(|n| n.text()).unwrap().parse::<i64>().unwrap();
        (v("volume"), v("talkVolume"))
    };
    let channel = format!("{AUDIO_OUT}/channels/1");
    assert_eq!(volumes(&c.request("GET", &channel, "").await.body), (5, 5));
    let caps = c.request("GET", &format!("{AUDIO_OUT}/capabilities"), "").await.body;
    assert!(caps.contains(r#"<volume min="0" max="10" def="5">5</volume>"#), "{caps}");
    let put = |v: &str, t: &str| {
        format!(
            "<AudioOut><id>1</id><AudioOutVolumelist><AudioOutVlome><type>audioOutput</type><volume>{v}</volume><talkVolume>{t}</talkVolume></AudioOutVlome></AudioOutVolumelist></AudioOut>"
        )
    };
    assert_eq!(c.request("PUT", &channel, &put("3", "7")).await.status, 200);
    assert_eq!(volumes(&c.request("GET", &channel, "").await.body), (3, 7));
    for (v, tv) in [("11", "5"), ("-1", "5"), ("5", "loud"), ("4", "99")] {
        let r = c.request("PUT", &channel, &put(v, tv)).await;
        assert_eq!((r.status, status_of(&r.body)), (400, ("6".into(), "badParameters".into())), "{v}/{tv}: {r:?}");
    }
    assert_eq!(volumes(&c.request("GET", &channel, "").await.body), (3, 7), "a refused PUT changes nothing");
    assert_eq!(c.request("GET", &format!("{AUDIO_OUT}/channels/2"), "").await.status, 404);
    let changes: Vec<(String, i64, i64, bool)> = sim
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Volume { name, from, to, accepted, .. } => Some((name, from, to, accepted)),
            _ => None,
        })
        .collect();
    let want = [
        ("volume", 5, 3, true),
        ("talkVolume", 5, 7, true),
        ("volume", 3, 11, false),
        ("volume", 3, -1, false),
        ("talkVolume", 7, 99, false),
    ];
    assert_eq!(changes, want.map(|(n, f, t, a)| (n.to_string(), f, t, a)));

    // A camera: no AudioOut, speaker and microphone volume in the talk channel.
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    assert_eq!(c.request("GET", &channel, "").await.status, 404);
    let field = |body: &str, name: &str| {
        let doc = roxmltree::Document::parse(body).unwrap();
        doc.descendants().find(|n| n.tag_name().name() == name).and_then(|n| n.text()).unwrap().to_string()
    };
    let ch = c.request("GET", &format!("{CHANNELS}/1"), "").await.body;
    assert_eq!((field(&ch, "speakerVolume"), field(&ch, "microphoneVolume")), ("100".into(), "100".into()));
    let with = |speaker: &str| ch.replace("<speakerVolume>100</speakerVolume>", &format!("<speakerVolume>{speaker}</speakerVolume>"));
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), &with("40")).await.status, 200);
    for bad in ["101", "-5"] {
        let r = c.request("PUT", &format!("{CHANNELS}/1"), &with(bad)).await;
        assert_eq!((r.status, status_of(&r.body).1), (400, "badParameters".into()), "{bad}: {r:?}");
    }
    let mic =
        |v: &str| with("40").replace("<microphoneVolume>100</microphoneVolume>", &format!("<microphoneVolume>{v}</microphoneVolume>"));
    let r = c.request("PUT", &format!("{CHANNELS}/1"), &mic("101")).await;
    assert_eq!((r.status, status_of(&r.body).1), (400, "badParameters".into()), "{r:?}");
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), &mic("0")).await.status, 200);
    let ch = c.request("GET", &format!("{CHANNELS}/1"), "").await.body;
    assert_eq!((field(&ch, "speakerVolume"), field(&ch, "microphoneVolume")), ("40".into(), "0".into()));
    expect(
        &sim,
        "speaker volume",
        |k| matches!(k, EventKind::Volume { name, from: 100, to: 40, accepted: true, .. } if name == "speakerVolume"),
    )
    .await;
}

/// One part of an alertStream, as a reader that splits on the boundary sees it.
#[derive(Debug, Clone)]
struct Part {
    content_type: String,
    /// What its Content-Length says.
    declared: usize,
    /// Everything up to the next boundary line (its CRLF off).
    body: Vec<u8>,
    /// Boundary lines before its headers.
    boundary_lines: usize,
}

impl Part {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The XML part's (namespace, eventType, eventState, activePostCount).
    fn xml(&self) -> (String, String, String, String) {
        let text = String::from_utf8_lossy(&self.body);
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "EventNotificationAlert");
        let field = |name: &str| root.children().find(|n| n.tag_name().name() == name).and_then(|n| n.text()).unwrap_or("").to_string();
        (root.tag_name().namespace().unwrap_or("").to_string(), field("eventType"), field("eventState"), field("activePostCount"))
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// The whole parts in `buf`, split on `--boundary` lines (repeated ones count once); the last
/// counts once its declared length and CRLF are in.
fn split_parts(buf: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}\r\n").into_bytes();
    let mut out = Vec::new();
    let Some(mut at) = find(buf, &delim, 0) else { return out };
    loop {
        let mut boundary_lines = 0;
        while buf[at..].starts_with(&delim) {
            at += delim.len();
            boundary_lines += 1;
        }
        let next = find(buf, &delim, at);
        let seg = &buf[at..next.unwrap_or(buf.len())];
        let Some(h) = find(seg, b"\r\n\r\n", 0) else { break };
        let head = String::from_utf8_lossy(&seg[..h]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
        };
        let declared: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = seg[h + 4..].to_vec();
        if next.is_none() && (body.len() < declared + 2 || !body.ends_with(b"\r\n")) {
            break;
        }
        if body.ends_with(b"\r\n") {
            body.truncate(body.len() - 2);
        }
        out.push(Part { content_type: header("content-type").unwrap_or_default(), declared, body, boundary_lines });
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    out
}

/// The parts in `buf` read the DS-KV6124 way: by Content-Length alone, skipping blank and
/// boundary lines between them.
fn parts_by_length(buf: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(h) = find(buf, b"\r\n\r\n", at) {
        let head = String::from_utf8_lossy(&buf[at..h]).to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
        };
        let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) else { break };
        let Some(body) = buf.get(h + 4..h + 4 + len) else { break };
        out.push((header("content-type").unwrap_or_default(), body.to_vec()));
        at = h + 4 + len;
    }
    out
}

/// An alertStream on a raw socket: the answer's head, the bytes so far, when each whole part
/// arrived.
struct AlertStream {
    s: TcpStream,
    head: String,
    buf: Vec<u8>,
    boundary: String,
    opened: Instant,
    arrivals: Vec<Instant>,
}

async fn alert_stream(c: &mut Client, boundary: &str) -> AlertStream {
    // The stream takes Digest like any path: a first try is challenged.
    if c.challenge.is_none() {
        assert_eq!(c.send("GET", ALERT, "", "").await.unwrap().status, 401);
    }
    let auth = c.authorization("GET", ALERT).unwrap();
    let mut s = TcpStream::connect(c.addr).await.unwrap();
    s.write_all(format!("GET {ALERT} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\n\r\n", c.addr).as_bytes()).await.unwrap();
    let head = read_response_head(&mut s).await;
    AlertStream { s, head, buf: Vec::new(), boundary: boundary.into(), opened: Instant::now(), arrivals: Vec::new() }
}

impl AlertStream {
    fn content_type(&self) -> String {
        self.head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or("").to_string()
    }

    async fn read_some(&mut self, deadline: Instant) -> Option<usize> {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, self.s.read(&mut chunk)).await {
            Err(_) => None,
            Ok(Ok(0)) | Ok(Err(_)) => Some(0),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Some(n)
            }
        }
    }

    /// Reads until `n` whole parts are in; `arrivals` says when each became whole.
    async fn parts(&mut self, n: usize) -> Vec<Part> {
        let deadline = Instant::now() + WAIT;
        loop {
            let parts = split_parts(&self.buf, &self.boundary);
            while self.arrivals.len() < parts.len() {
                self.arrivals.push(Instant::now());
            }
            if parts.len() >= n {
                return parts;
            }
            match self.read_some(deadline).await {
                None => panic!("{} parts of {n} after {WAIT:?}:\n{}", parts.len(), String::from_utf8_lossy(&self.buf)),
                Some(0) => panic!("closed after {} parts of {n}:\n{}", parts.len(), String::from_utf8_lossy(&self.buf)),
                Some(_) => {}
            }
        }
    }

    /// The first part that `pred` picks, waiting for it.
    async fn part_where(&mut self, pred: impl Fn(&Part) -> bool) -> Part {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(p) = split_parts(&self.buf, &self.boundary).into_iter().find(&pred) {
                return p;
            }
            assert!(self.read_some(deadline).await.is_some_and(|r| r > 0), "no such part:\n{}", String::from_utf8_lossy(&self.buf));
        }
    }

    /// The AccessControllerEvent parts after the first `skip` parts, waiting for `n` of them.
    async fn json_events(&mut self, skip: usize, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let parts = split_parts(&self.buf, &self.boundary);
            let events: Vec<Value> =
                parts.iter().skip(skip).map(Part::json).filter(|v| v["eventType"] == "AccessControllerEvent").collect();
            if events.len() >= n {
                return events;
            }
            assert!(self.read_some(deadline).await.is_some_and(|r| r > 0), "{} events of {n}", events.len());
        }
    }
}

#[tokio::test]
async fn a_camera_streams_xml_heartbeats_on_time_and_motion_on_cue() {
    let period = 0.15;
    let sim = start(SimConfig { heartbeat: Duration::from_secs_f64(period), ..raw_sim_config() }).await;
    let mut c = Client::new(&sim);
    let mut s = alert_stream(&mut c, "hikboundary").await;
    assert!(s.head.starts_with("HTTP/1.1 200"), "{}", s.head);
    assert_eq!(s.content_type(), "multipart/mixed; boundary=hikboundary");
    let parts = s.parts(3).await;
    for (k, p) in parts.iter().enumerate() {
        assert_eq!(p.content_type, r#"application/xml; charset="UTF-8""#);
        assert_eq!((p.declared, p.boundary_lines), (p.body.len(), 1), "{p:?}");
        let (ns, kind, state, count) = p.xml();
        assert_eq!(
            (ns.as_str(), kind.as_str(), state.as_str(), count.as_str()),
            ("http://www.hikvision.com/ver20/XMLSchema", "videoloss", "inactive", "0")
        );
        // On an absolute schedule from the answer, never early.
        let at = (s.arrivals[k] - s.opened).as_secs_f64();
        let due = period * (k + 1) as f64;
        assert!(at >= due - 0.03 && at < due + 0.25, "heartbeat {k} at {at:.3} s, due {due}");
    }
    sim.motion();
    let motion = s.part_where(|p| p.xml().1 == "VMD").await.xml();
    assert_eq!((motion.2.as_str(), motion.3.as_str()), ("active", "1"));
    expect(&sim, "opened", |k| matches!(k, EventKind::AlertStreamOpened { open: 1, .. })).await;
    drop(s);
    expect(&sim, "closed", |k| matches!(k, EventKind::AlertStreamClosed { reason, .. } if reason == "client_closed")).await;

    // --event-every: motion, then line crossing.
    let sim = start(SimConfig { event_every: Some(Duration::from_millis(100)), ..raw_sim_config() }).await;
    let mut c = Client::new(&sim);
    let mut s = alert_stream(&mut c, "hikboundary").await;
    let kinds: Vec<String> = s.parts(2).await.iter().map(|p| p.xml().1).collect();
    assert!(kinds == ["VMD", "linedetection"] || kinds == ["linedetection", "VMD"], "{kinds:?}");
}

#[tokio::test]
async fn a_door_station_streams_json_rings_and_door_events() {
    let sim = start(SimConfig { heartbeat: Duration::from_millis(100), door_open_time: Duration::from_millis(100), ..doorbell() }).await;
    let mut c = Client::new(&sim);
    let mut s = alert_stream(&mut c, "MIME_boundary").await;
    assert_eq!(s.content_type(), "multipart/mixed; boundary=MIME_boundary");
    let beat = &s.parts(1).await[0];
    assert_eq!(beat.content_type, r#"application/json; charset="UTF-8""#);
    let v = beat.json();
    assert_eq!(
        (v["eventType"].as_str(), v["eventState"].as_str(), v["activePostCount"].as_i64()),
        (Some("videoloss"), Some("inactive"), Some(1)),
        "{v}"
    );
    let seen = split_parts(&s.buf, "MIME_boundary").len();
    sim.ring();
    assert_eq!(c.request("PUT", &format!("{DOOR}/1"), "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>").await.status, 200);
    let events = s.json_events(seen, 5).await;
    let codes: Vec<(i64, i64, Option<i64>)> = events
        .iter()
        .map(|v| {
            let a = &v["AccessControllerEvent"];
            assert_eq!((a["currentEvent"].as_bool(), v["eventState"].as_str()), (Some(true), Some("active")), "{v}");
            (a["majorEventType"].as_i64().unwrap(), a["subEventType"].as_i64().unwrap(), a["doorNo"].as_i64())
        })
        .collect();
    assert_eq!(codes, [(5, 0x25, None), (5, 0x15, Some(1)), (5, 0x19, Some(1)), (5, 0x1a, Some(1)), (5, 0x16, Some(1))]);
    let serials: Vec<i64> = events.iter().map(|v| v["AccessControllerEvent"]["serialNo"].as_i64().unwrap()).collect();
    assert!(serials.windows(2).all(|w| w[1] == w[0] + 1), "{serials:?}");
}

#[tokio::test]
async fn alert_streams_are_bounded() {
    let sim = start(SimConfig { heartbeat: Duration::from_secs(60), ..raw_sim_config() }).await;
    let mut c = Client::new(&sim);
    let mut streams = Vec::new();
    for _ in 0..hiktalk::sim::MAX_ALERT_STREAMS {
        let s = alert_stream(&mut c, "hikboundary").await;
        assert!(s.head.starts_with("HTTP/1.1 200"), "{}", s.head);
        streams.push(s);
    }
    let r = c.request("GET", ALERT, "").await;
    assert_eq!((r.status, status_of(&r.body).1), (503, "deviceBusy".into()), "{r:?}");
    expect(&sim, "refused", |k| matches!(k, EventKind::AlertStreamRefused { .. })).await;
    streams.pop();
    expect(&sim, "a slot is free", |k| matches!(k, EventKind::AlertStreamClosed { .. })).await;
    let s = alert_stream(&mut c, "hikboundary").await;
    assert!(s.head.starts_with("HTTP/1.1 200"), "{}", s.head);
}

fn faulty(profile: Profile, fault: &str) -> SimConfig {
    SimConfig { profile, heartbeat: Duration::from_millis(60), faults: vec![fault.parse::<Fault>().unwrap()], ..raw_sim_config() }
}

#[tokio::test]
async fn alert_stream_faults_show_in_the_bytes() {
    // no-heartbeat: open and silent, events included; the next stream (times=1) is normal.
    let sim = start(faulty(Profile::Doorbell, "no-heartbeat,times=1")).await;
    let mut c = Client::new(&sim);
    let mut s = alert_stream(&mut c, "MIME_boundary").await;
    assert!(s.head.starts_with("HTTP/1.1 200"), "{}", s.head);
    sim.ring();
    assert_eq!(
        s.read_some(Instant::now() + Duration::from_millis(400)).await,
        None,
        "silent and open: {:?}",
        String::from_utf8_lossy(&s.buf)
    );
    let mut next = alert_stream(&mut c, "MIME_boundary").await;
    next.parts(1).await;

    // cut-mid-part: one whole part, half of the next, then the close.
    let sim = start(faulty(Profile::Modern, "cut-mid-part")).await;
    let mut c = Client::new(&sim);
    let mut s = alert_stream(&mut c, "hikboundary").await;
    while s.read_some(Instant::now() + WAIT).await.expect("closes") > 0 {}
    assert_eq!(split_parts(&s.buf, "hikboundary").len(), 1, "{}", String::from_utf8_lossy(&s.buf));
    let second = find(&s.buf, b"--hikboundary\r\n", 1).expect("a second part begins");
    assert!(!s.buf[second..].ends_with(b"</EventNotificationAlert>\r\n"), "{}", String::from_utf8_lossy(&s.buf[second..]));
    expect(&sim, "cut", |k| matches!(k, EventKind::AlertStreamClosed { reason, parts: 1, .. } if reason == "fault")).await;

    // oversized-part: the body runs past the Content-Length.
    let sim = start(faulty(Profile::Modern, "oversized-part")).await;
    let mut s = alert_stream(&mut Client::new(&sim), "hikboundary").await;
    let parts = s.parts(3).await;
    for p in &parts[..2] {
        assert!(p.body.len() > p.declared, "{} bytes, Content-Length {}", p.body.len(), p.declared);
        p.xml();
    }

    // no-boundary: multipart/mixed alone; parts are read by their Content-Length.
    let sim = start(faulty(Profile::Doorbell, "no-boundary")).await;
    let mut s = alert_stream(&mut Client::new(&sim), "MIME_boundary").await;
    assert_eq!(s.content_type(), "multipart/mixed");
    s.parts(2).await;
    let parts = parts_by_length(&s.buf);
    assert!(parts.len() >= 2, "{}", String::from_utf8_lossy(&s.buf));
    for (ct, body) in parts {
        assert!(ct.starts_with("application/json"), "{ct}");
        serde_json::from_slice::<Value>(&body).unwrap();
    }

    // doubled-boundary: every boundary line twice.
    let sim = start(faulty(Profile::Modern, "doubled-boundary")).await;
    let mut s = alert_stream(&mut Client::new(&sim), "hikboundary").await;
    let parts = s.parts(2).await;
    assert!(parts.iter().all(|p| p.boundary_lines == 2), "{parts:?}");
    assert!(find(&s.buf, b"--hikboundary\r\n--hikboundary\r\nContent-Type", 0).is_some());

    // jpeg-part: a picture after each event.
    let sim = start(SimConfig { heartbeat: Duration::from_secs(60), ..faulty(Profile::Doorbell, "jpeg-part") }).await;
    let mut s = alert_stream(&mut Client::new(&sim), "MIME_boundary").await;
    expect(&sim, "open", |k| matches!(k, EventKind::AlertStreamOpened { .. })).await;
    sim.ring();
    let parts = s.parts(2).await;
    assert_eq!(parts[0].json()["AccessControllerEvent"]["subEventType"], 0x25);
    assert_eq!(parts[1].content_type, "image/jpeg");
    assert!(parts[1].body.starts_with(&[0xFF, 0xD8]) && parts[1].body.ends_with(&[0xFF, 0xD9]));
    assert_eq!(parts[1].body.len(), parts[1].declared);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_binary_takes_ring_answer_hangup_and_unlock_on_stdin() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hiktalk"))
        .args(["sim", "--profile", "doorbell", "--events", "-", "--door-open-time", "0.1"])
        .env_remove("HIKTALK_SIM_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = tokio::time::timeout(WAIT, lines.recv()).await.unwrap().unwrap();
    let addr = first.strip_prefix("hiktalk-sim listening on http://").unwrap_or_else(|| panic!("{first:?}")).parse().unwrap();
    let mut c = Client::with(addr, "admin", "hiktalk-sim");
    // Reads event lines until one matches.
    async fn until(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        loop {
            let line = tokio::time::timeout(WAIT, lines.recv()).await.expect("an event line in time").expect("stdout open");
            let event: Event = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if pred(&event.kind) {
                return event.kind;
            }
        }
    }
    let mut say = |line: &str| writeln!(stdin, "{line}").unwrap();

    say("ring");
    until(&mut lines, |k| matches!(k, EventKind::CallStatus { status, by, .. } if status == "ring" && by == "local")).await;
    assert_eq!(call_status(&mut c).await, "ring");
    say("answer");
    until(&mut lines, |k| matches!(k, EventKind::CallStatus { status, .. } if status == "onCall")).await;
    assert_eq!(call_status(&mut c).await, "onCall");
    say("hangup");
    until(&mut lines, |k| matches!(k, EventKind::CallStatus { status, cause, .. } if status == "idle" && cause == "hangUp")).await;
    say("unlock");
    until(&mut lines, |k| matches!(k, EventKind::DoorState { door: 1, state } if state == "unlocked")).await;
    until(&mut lines, |k| matches!(k, EventKind::DoorState { door: 1, state } if state == "locked")).await;
    say("fly");
    say("answer");
    say("ring");
    until(&mut lines, |k| matches!(k, EventKind::Ring { .. })).await;

    crate::util::wait_for_signal_handlers(&child).await;
    crate::util::signal(&child, libc::SIGINT);
    drop(stdin);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sim: ringing") && err.contains("door 1 unlocked"), "{err}");
    assert!(err.contains(r#"unknown command "fly""#) && err.contains("answer: nothing is ringing"), "{err}");
}
