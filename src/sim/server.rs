//! The device's HTTP side: accept loop, one task per connection, routing, authentication,
//! faults and the channel settings. Each route's behaviour lives in its own module (`talk`,
//! `mic`, `call`, `door`, `volume`, `alert`).

use super::alarm::Detection;
use super::auth::{Auth, AuthFailure, Verdict};
use super::config::SimConfig;
use super::events::{EventKind, EventLog, lock};
use super::faults::{Endpoint, Fault, FaultSet, corrupt};
use super::http::{self, HttpError, MAX_BODY_BYTES, Next, Request, Response};
use super::room;
use super::shared::Shared;
use super::state::State;
use super::xml::{self, Channel, ResponseStatus, UserCheck};
use super::{alert, call, door, mic, talk, volume};
use crate::codec::Codec;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};

/// Connections served at once; more are closed on accept (a flood must not exhaust memory).
const MAX_CONNECTIONS: usize = 256;
/// Alarms an alertStream may fall behind by before it skips some.
const ALERT_QUEUE: usize = 64;
/// How long shutdown waits for connections to log how they ended.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn initial_channels(cfg: &SimConfig) -> Vec<Channel> {
    let codec = cfg.codec.unwrap_or(cfg.profile.initial_codec());
    (1..=cfg.channels.max(1))
        .map(|id| {
            let mut ch = Channel {
                id: id.to_string(),
                enabled: Some(false),
                speaker_volume: Some(100),
                microphone_volume: Some(100),
                noise_reduce: Some(true),
                audio_input_type: Some("MicIn".to_string()),
                audio_output_type: Some("Speaker".to_string()),
                ..Default::default()
            };
            set_codec(&mut ch, codec, None, None);
            ch.inbound_codec = cfg.inbound_codec.map(|c| c.isapi_name().to_string());
            ch
        })
        .collect()
}

/// Sets a channel's codec with the rate and bitrate devices report for it.
fn set_codec(ch: &mut Channel, codec: Codec, rate_khz: Option<f64>, bitrate_kbps: Option<u32>) {
    ch.codec = codec.isapi_name().to_string();
    match codec.fixed_rate() {
        Some(r) => {
            ch.sampling_rate_khz = Some(r as f64 / 1000.0);
            ch.bit_rate_kbps = Some(if codec == Codec::G726 { bitrate_kbps.unwrap_or(16) } else { 64 });
        }
        None => {
            ch.sampling_rate_khz = Some(rate_khz.unwrap_or(codec.default_rate() as f64 / 1000.0));
            ch.bit_rate_kbps = Some(bitrate_kbps.unwrap_or(32));
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot write the event log {path}: {source}")]
    Events { path: PathBuf, source: std::io::Error },
    #[error("cannot create the recording directory {path}: {source}")]
    RecordDir { path: PathBuf, source: std::io::Error },
    #[error("the microphone file {path}: {detail}")]
    Mic { path: PathBuf, detail: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Config(String),
}

pub(crate) async fn start(cfg: SimConfig) -> Result<(Arc<Shared>, tokio::task::JoinHandle<()>), StartError> {
    let log = EventLog::new(cfg.events_path.as_deref())
        .map_err(|source| StartError::Events { path: cfg.events_path.clone().unwrap_or_default(), source })?;
    if let Some(dir) = &cfg.record_dir {
        std::fs::create_dir_all(dir).map_err(|source| StartError::RecordDir { path: dir.clone(), source })?;
    }
    // A bad microphone file stops the device before it listens, not at the first GET.
    let mic_file = match &cfg.mic {
        Some(path) => Some(Arc::new(room::load(path.clone()).await.map_err(|detail| StartError::Mic { path: path.clone(), detail })?)),
        None => None,
    };
    let echo = if cfg.mic_echo.is_some() { (0..cfg.channels.max(1)).map(|_| Mutex::default()).collect() } else { Vec::new() };
    let listening = |source| StartError::Listen { addr: cfg.listen, source };
    let listener = listen(&cfg).map_err(listening)?;
    let addr = listener.local_addr().map_err(listening)?;
    let auth = Auth::new(&cfg.user, &cfg.password, cfg.profile.realm(), cfg.nonce_lifetime, cfg.lockout_attempts, cfg.lockout_duration);
    let shared = Arc::new(Shared {
        addr,
        busy: cfg.busy_style.resolve(cfg.profile),
        ns: cfg.profile.namespace(),
        state: Mutex::new(State::new(initial_channels(&cfg), cfg.doors.max(1), volume::AUDIO_OUT_DEFAULT)),
        auth: Mutex::new(auth),
        faults: Mutex::new(FaultSet::new(cfg.faults.clone())),
        shutdown: watch::channel(false).0,
        rt: tokio::runtime::Handle::current(),
        visit: Mutex::new((0, None)),
        tokens: Mutex::new(Vec::new()),
        mic_file,
        echo,
        alerts: tokio::sync::broadcast::channel(ALERT_QUEUE).0,
        alert_streams: Mutex::new(0),
        alert_stream_ids: Default::default(),
        alert_serial: Default::default(),
        receiving: watch::channel(0).0,
        log,
        cfg,
    });
    call::schedule(&shared);
    alert::schedule(&shared);
    let task = tokio::spawn(accept_loop(shared.clone(), listener));
    Ok((shared, task))
}

/// With a `freeze-after-bytes` fault the accepted sockets get a small receive buffer (set on
/// the listener, so the window is small from the handshake on): a device's buffer is small,
/// while loopback's default (128 KiB, more with autotuning) would hold half a minute of G.711
/// before a client could notice that nothing is read any more.
const FROZEN_RECEIVE_BUFFER: u32 = 4096;

fn listen(cfg: &SimConfig) -> std::io::Result<TcpListener> {
    let sock = if cfg.listen.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    sock.set_reuseaddr(true)?;
    if cfg.faults.iter().any(|f| matches!(f, Fault::FreezeAfterBytes { .. } | Fault::PauseAfterBytes { .. })) {
        sock.set_recv_buffer_size(FROZEN_RECEIVE_BUFFER)?;
    }
    sock.bind(cfg.listen)?;
    sock.listen(1024)
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    while conns.try_join_next().is_some() {}
                    if conns.len() >= MAX_CONNECTIONS {
                        shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason: "too_many_connections".into() });
                        continue;
                    }
                    conns.spawn(connection(shared.clone(), stream, peer));
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            _ = shared.shutting_down() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while conns.join_next().await.is_some() {} }).await;
    conns.abort_all();
}

async fn connection(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let _visit = shared.connected();
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let deadline = Instant::now() + shared.cfg.header_timeout;
        let read = tokio::select! {
            r = http::read_request(&mut stream, &mut buf, deadline) => r,
            _ = shared.shutting_down() => return,
        };
        let req = match read {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                reject(&shared, &mut stream, peer, e, buf.is_empty()).await;
                return;
            }
        };
        match request(&shared, &mut stream, &mut buf, peer, req).await {
            Next::KeepAlive => {}
            Next::Close => return,
        }
    }
}

/// Answers (or just drops) a connection whose request could not be read.
async fn reject(shared: &Shared, stream: &mut TcpStream, peer: SocketAddr, e: HttpError, idle: bool) {
    let (status, reason) = match &e {
        // A keep-alive connection nobody uses any more is normal, not bad input.
        HttpError::Timeout if idle => return,
        HttpError::Timeout => (408, "header_timeout".to_string()),
        HttpError::TooLarge => (431, "headers_too_large".to_string()),
        HttpError::Malformed(m) => (400, format!("malformed: {m}")),
        HttpError::Closed => (0, "closed_mid_request".to_string()),
        HttpError::Io(err) => (0, format!("io: {err}")),
    };
    shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason });
    if status != 0 {
        let rs = ResponseStatus::new("", 4, "Invalid Operation", "badParameters");
        let _ = tokio::time::timeout(Duration::from_secs(1), shared.status_xml(status, rs).closing().write(stream)).await;
    }
}

/// Reads and discards until the client goes away or the simulator stops (a stalled answer).
async fn hold_until_gone(shared: &Shared, stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            r = stream.read(&mut sink) => if matches!(r, Ok(0) | Err(_)) { return },
            _ = shared.shutting_down() => return,
        }
    }
}

/// The ISAPI paths the device serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    DeviceInfo,
    Channels,
    Channel(u32),
    Capabilities(u32),
    Open(u32),
    Close(u32),
    AudioData(u32),
    CallStatus,
    CallStatusCapabilities,
    CallSignal,
    CallSignalCapabilities,
    CallerInfo,
    Ring,
    Door(u64),
    DoorCapabilities,
    RemoteOpenDoor,
    AudioOut(u32),
    AudioOutCapabilities,
    AlertStream,
    Triggers,
    MotionDetection(u32),
    Token,
    Unknown,
}

impl Route {
    fn parse(path: &str, channels: u32) -> Route {
        const TALK: &str = "/ISAPI/System/TwoWayAudio/channels";
        const DOOR: &str = "/ISAPI/AccessControl/RemoteControl/door/";
        const AUDIO_OUT: &str = "/ISAPI/System/Audio/AudioOut/channels/";
        const VIDEO_IN: &str = "/ISAPI/System/Video/inputs/channels/";
        match path {
            "/ISAPI/System/deviceInfo" => return Route::DeviceInfo,
            "/ISAPI/VideoIntercom/callStatus" => return Route::CallStatus,
            "/ISAPI/VideoIntercom/callStatus/capabilities" => return Route::CallStatusCapabilities,
            "/ISAPI/VideoIntercom/callSignal" => return Route::CallSignal,
            "/ISAPI/VideoIntercom/callSignal/capabilities" => return Route::CallSignalCapabilities,
            "/ISAPI/VideoIntercom/callerInfo" => return Route::CallerInfo,
            "/ISAPI/VideoIntercom/ring" => return Route::Ring,
            "/ISAPI/VideoIntercom/remoteOpenDoor" => return Route::RemoteOpenDoor,
            "/ISAPI/AccessControl/RemoteControl/door/capabilities" => return Route::DoorCapabilities,
            "/ISAPI/System/Audio/AudioOut/capabilities" => return Route::AudioOutCapabilities,
            "/ISAPI/Event/notification/alertStream" => return Route::AlertStream,
            "/ISAPI/Event/triggers" => return Route::Triggers,
            "/ISAPI/Security/token" => return Route::Token,
            TALK => return Route::Channels,
            _ => {}
        }
        // Any door number routes, so one out of range gets the device's answer, not a 404.
        if let Some(n) = path.strip_prefix(DOOR).and_then(|n| n.parse().ok()) {
            return Route::Door(n);
        }
        if let Some(n) = path.strip_prefix(AUDIO_OUT).and_then(|n| n.parse().ok()) {
            return Route::AudioOut(n);
        }
        if let Some(n) = path.strip_prefix(VIDEO_IN).and_then(|r| r.strip_suffix("/motionDetection")).and_then(|n| n.parse().ok()) {
            return Route::MotionDetection(n);
        }
        let Some(rest) = path.strip_prefix(TALK).and_then(|r| r.strip_prefix('/')) else { return Route::Unknown };
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(id) = id.parse::<u32>().ok().filter(|id| (1..=channels).contains(id)) else { return Route::Unknown };
        match tail {
            "" => Route::Channel(id),
            "capabilities" => Route::Capabilities(id),
            "open" => Route::Open(id),
            "close" => Route::Close(id),
            "audioData" => Route::AudioData(id),
            _ => Route::Unknown,
        }
    }

    fn endpoint(self, method: &str) -> Endpoint {
        match self {
            Route::DeviceInfo => Endpoint::DeviceInfo,
            Route::Channels => Endpoint::Channels,
            Route::Channel(_) => Endpoint::Channel,
            Route::Capabilities(_) => Endpoint::Capabilities,
            Route::Open(_) => Endpoint::Open,
            Route::Close(_) => Endpoint::Close,
            Route::AudioData(_) if method == "GET" => Endpoint::Mic,
            Route::AudioData(_) => Endpoint::Audio,
            Route::CallStatus | Route::CallStatusCapabilities | Route::CallerInfo => Endpoint::CallStatus,
            Route::CallSignal | Route::CallSignalCapabilities | Route::Ring => Endpoint::CallSignal,
            Route::Door(_) | Route::DoorCapabilities | Route::RemoteOpenDoor => Endpoint::Door,
            Route::AudioOut(_) | Route::AudioOutCapabilities => Endpoint::AudioOut,
            Route::AlertStream => Endpoint::AlertStream,
            Route::Triggers | Route::MotionDetection(_) | Route::Token | Route::Unknown => Endpoint::Any,
        }
    }
}

/// Writes `resp` (unless the connection is gone), logs it, and says what comes next.
async fn answer(shared: &Shared, stream: &mut TcpStream, peer: SocketAddr, req: &Request, resp: Response) -> Next {
    let close = resp.close || req.wants_close();
    let resp = if close { resp.closing() } else { resp };
    let written = resp.write(stream).await.is_ok();
    shared.log_request(peer, req, resp.status);
    if close || !written { Next::Close } else { Next::KeepAlive }
}

async fn request(shared: &Arc<Shared>, stream: &mut TcpStream, buf: &mut Vec<u8>, peer: SocketAddr, req: Request) -> Next {
    let route = Route::parse(&req.path, shared.cfg.channels.max(1));
    let endpoint = route.endpoint(&req.method);
    let is_upload = endpoint == Endpoint::Audio && req.method == "PUT";

    // Devices cannot take chunked uploads: they drop the connection.
    if req.is_chunked() {
        shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason: "chunked".into() });
        shared.log_request(peer, &req, 0);
        return Next::Close;
    }
    // The upload's "body" is the raw audio that follows, whatever Content-Length says.
    let body = if is_upload {
        Vec::new()
    } else {
        let len = match req.content_length() {
            Ok(len) => len,
            Err(e) => {
                shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason: e.to_string() });
                let rs = ResponseStatus::new(&req.path, 4, "Invalid Operation", "badParameters");
                return answer(shared, stream, peer, &req, shared.status_xml(400, rs).closing()).await;
            }
        };
        if len > MAX_BODY_BYTES {
            shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason: format!("body of {len} bytes") });
            let rs = ResponseStatus::new(&req.path, 4, "Invalid Operation", "badParameters");
            return answer(shared, stream, peer, &req, shared.status_xml(413, rs).closing()).await;
        }
        // Clients that ask first (curl does for bigger bodies) would otherwise wait a second.
        if len > 0 && buf.is_empty() && req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        let deadline = Instant::now() + shared.cfg.header_timeout;
        match http::read_body(stream, buf, len, deadline).await {
            Ok(b) => b,
            Err(e) => {
                shared.log.log(EventKind::BadRequest { peer: peer.to_string(), reason: format!("body: {e}") });
                shared.log_request(peer, &req, 0);
                return Next::Close;
            }
        }
    };
    // An upload answered with an error cannot be resynchronised: audio may already follow.
    let fail_close = |r: Response| if is_upload { r.closing() } else { r };

    if shared.fire(|f| matches!(f, Fault::Unauthorized401NoChallenge { at, .. } if at.covers(endpoint))).is_some() {
        let body = UserCheck { status_value: Some(401), status_string: Some("Unauthorized".into()), ..Default::default() };
        return answer(shared, stream, peer, &req, fail_close(Response::xml(401, body.to_xml(shared.ns)))).await;
    }

    // A token from /ISAPI/Security/token stands in for Digest on the audio streams.
    let token = matches!(route, Route::AudioData(_)) && req.query_param("token").is_some_and(|t| shared.token_valid(t));
    let verdict = if token {
        shared.log.log(EventKind::Token { used: true });
        Verdict::Ok { user: "token".into() }
    } else {
        lock(&shared.auth).verify(peer.ip(), &req.method, &req.target, req.header("authorization"))
    };
    match verdict {
        Verdict::Ok { user } => shared.log.log(EventKind::AuthOk { user }),
        Verdict::Failed { failure, attempts, left, locked_for, newly_locked } => {
            shared.log.log(EventKind::AuthFailed { peer: peer.to_string(), reason: failure.as_str().into(), attempts });
            if newly_locked {
                shared.log.log(EventKind::Locked { peer: peer.to_string(), seconds: locked_for.unwrap_or(0) });
            }
            let json = req.query_param("format") == Some("json");
            let resp = shared.unauthorized(failure == AuthFailure::StaleNonce, locked_for, json.then_some(left));
            return answer(shared, stream, peer, &req, fail_close(resp)).await;
        }
    }

    let covers = |f: &Fault| f.endpoint().is_some_and(|at| at.covers(endpoint));
    if shared.fire(|f| matches!(f, Fault::Stall { .. }) && covers(f)).is_some() {
        hold_until_gone(shared, stream).await;
        shared.log_request(peer, &req, 0);
        return Next::Close;
    }
    if let Some(Fault::Slow { ms, .. }) = shared.fire(|f| matches!(f, Fault::Slow { .. }) && covers(f)) {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
            _ = shared.shutting_down() => return Next::Close,
        }
    }
    if shared.fire(|f| matches!(f, Fault::Http500 { .. }) && covers(f)).is_some() {
        let rs = ResponseStatus::new(&req.path, 3, "Device Error", "deviceError");
        return answer(shared, stream, peer, &req, fail_close(shared.status_xml(500, rs))).await;
    }
    let body_fault = || shared.fire(|f| matches!(f, Fault::MalformedXml { .. } | Fault::TruncatedXml { .. }) && covers(f));

    match (route, req.method.as_str()) {
        (Route::AudioData(ch), "PUT") => talk::upload(shared, stream, buf, peer, &req, ch, body_fault).await,
        (Route::AudioData(ch), "GET") => mic::serve(shared, stream, peer, &req, ch).await,
        (Route::AlertStream, "GET") => alert::serve(shared, stream, peer, &req).await,
        _ => {
            let resp = control(shared, &req, route, &body);
            match body_fault() {
                Some(fault) => {
                    let resp = corrupt(resp, &fault);
                    answer(shared, stream, peer, &req, resp).await
                }
                None => answer(shared, stream, peer, &req, resp).await,
            }
        }
    }
}

fn method_not_allowed(shared: &Shared, req: &Request) -> Response {
    shared.status_xml(405, ResponseStatus::new(&req.path, 4, "Invalid Operation", "methodNotAllowed"))
}

/// The non-streaming endpoints.
fn control(shared: &Arc<Shared>, req: &Request, route: Route, body: &[u8]) -> Response {
    let ns = shared.ns;
    let m = req.method.as_str();
    match (route, m) {
        (Route::DeviceInfo, "GET") => Response::xml(200, shared.cfg.profile.device_info().to_xml(ns)),
        (Route::Channels, "GET") => {
            let st = lock(&shared.state);
            let list: Vec<Channel> = st.channels.iter().map(|c| c.channel.clone()).collect();
            Response::xml(200, xml::channel_list_to_xml(&list, ns))
        }
        (Route::Channel(id), "GET") => match lock(&shared.state).channel(id) {
            Some(c) => Response::xml(200, c.channel.to_xml(ns)),
            None => shared.not_supported(req),
        },
        (Route::Channel(id), "PUT") => put_channel(shared, req, id, body),
        (Route::Capabilities(id), "GET") => match lock(&shared.state).channel(id) {
            Some(c) => {
                let options: Vec<&str> = shared.cfg.profile.codec_options().into_iter().map(Codec::isapi_name).collect();
                Response::xml(200, xml::capabilities_to_xml(&c.channel, &options, ns))
            }
            None => shared.not_supported(req),
        },
        (Route::Open(id), "PUT") => talk::open(shared, req, id),
        (Route::Close(id), "PUT") => talk::close(shared, req, id),
        (Route::Token, "GET") if shared.cfg.profile.has_token() => {
            let token = shared.new_token();
            shared.log.log(EventKind::Token { used: false });
            Response::json(200, serde_json::json!({ "Token": { "value": token } }).to_string())
        }
        (Route::CallStatus | Route::CallStatusCapabilities | Route::CallSignal | Route::CallSignalCapabilities, _)
        | (Route::CallerInfo | Route::Ring, _)
            if !call::available(shared) =>
        {
            if shared.cfg.profile.is_doorbell() {
                call::no_such_url()
            } else {
                shared.not_supported(req)
            }
        }
        (Route::CallStatus, "GET") => call::status(shared),
        (Route::CallStatusCapabilities, "GET") => call::status_capabilities(shared),
        (Route::CallSignal, "PUT") => call::put_signal(shared, req, body),
        (Route::CallSignalCapabilities, "GET") => call::signal_capabilities(),
        (Route::CallerInfo, "GET") => call::caller_info(shared),
        (Route::Ring, "DELETE") => call::delete_ring(shared, req),
        (Route::Door(_) | Route::DoorCapabilities, _) if !door::has_remote_control(shared) => shared.not_supported(req),
        (Route::RemoteOpenDoor, _) if !door::has_remote_open_door(shared) => shared.not_supported(req),
        (Route::DoorCapabilities, "GET") => door::capabilities(shared),
        (Route::Door(n), "PUT") => door::remote_control(shared, req, n, body),
        (Route::RemoteOpenDoor, "PUT") => door::remote_open_door(shared, req, body),
        (Route::AudioOut(_) | Route::AudioOutCapabilities, _) if !volume::has_audio_out(shared) => shared.not_supported(req),
        (Route::AudioOutCapabilities, "GET") => volume::capabilities(shared),
        (Route::AudioOut(id), "GET") => volume::get(shared, id).unwrap_or_else(|| shared.not_supported(req)),
        (Route::AudioOut(id), "PUT") => volume::put(shared, req, id, body).unwrap_or_else(|| shared.not_supported(req)),
        (Route::Triggers | Route::MotionDetection(_), _) if !shared.cfg.event_config => shared.not_supported(req),
        (Route::Triggers, "GET") => Response::xml(200, xml::triggers_to_xml(&triggers(shared), ns)),
        // One video input: the camera's (a door station's) own.
        (Route::MotionDetection(1), "GET") => Response::xml(200, xml::motion_detection_to_xml(lock(&shared.state).motion_detection, ns)),
        (Route::MotionDetection(1), "PUT") => put_motion_detection(shared, req, body),
        (Route::MotionDetection(_), _) => shared.not_supported(req),
        (Route::Unknown, _) => shared.not_supported(req),
        (Route::Token, _) if !shared.cfg.profile.has_token() => shared.not_supported(req),
        _ => method_not_allowed(shared, req),
    }
}

/// The event types `/ISAPI/Event/triggers` lists (each with whether it is an alarm input):
/// the profile's detections and the heartbeat's videoloss.
fn triggers(shared: &Shared) -> Vec<(&'static str, bool)> {
    let mut list: Vec<(&str, bool)> = shared.cfg.profile.detections().iter().map(|d| (d.event_type(), *d == Detection::Io)).collect();
    list.push(("videoloss", false));
    list
}

/// Switches motion detection on or off; the rest of the document is taken as it is.
fn put_motion_detection(shared: &Shared, req: &Request, body: &[u8]) -> Response {
    match xml::parse_motion_detection(&String::from_utf8_lossy(body)) {
        Ok(enabled) => {
            lock(&shared.state).motion_detection = enabled;
            shared.log.log(EventKind::MotionDetection { channel: 1, enabled });
            shared.status_xml(200, ResponseStatus::ok(&req.path))
        }
        Err(e) => {
            let mut rs = ResponseStatus::new(&req.path, 5, "Invalid XML Format", "badXmlContent");
            rs.description = Some(e.to_string());
            shared.status_xml(400, rs)
        }
    }
}

fn put_channel(shared: &Shared, req: &Request, id: u32, body: &[u8]) -> Response {
    let text = String::from_utf8_lossy(body);
    let new = match xml::parse_channel(&text) {
        Ok(c) => c,
        Err(e) => {
            let mut rs = ResponseStatus::new(&req.path, 5, "Invalid XML Format", "badXmlContent");
            rs.description = Some(e.to_string());
            return shared.status_xml(400, rs);
        }
    };
    let codec = if new.codec.is_empty() { None } else { Codec::from_isapi(&new.codec) };
    let allowed = shared.cfg.profile.codec_options();
    if !new.codec.is_empty() && !codec.is_some_and(|c| allowed.contains(&c)) {
        let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
        rs.description = Some(format!("audioCompressionType {} is not supported", new.codec));
        return shared.status_xml(400, rs);
    }
    // The inbound codec may be set too; the value the device reports is always taken back, so
    // a client that PUTs the channel it read never fails on it.
    let current_inbound = lock(&shared.state).channel(id).and_then(|c| c.channel.inbound_codec.clone());
    if let Some(name) = &new.inbound_codec
        && Some(name) != current_inbound.as_ref()
        && !Codec::from_isapi(name).is_some_and(|c| allowed.contains(&c))
    {
        let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
        rs.description = Some(format!("audioInboundCompressionType {name} is not supported"));
        return shared.status_xml(400, rs);
    }
    // Rates and bitrates must be ones the capabilities offer.
    let offered = |list: &str, v: f64| list.split(',').any(|o| o.parse::<f64>().is_ok_and(|o| (o - v).abs() < 1e-9));
    let bad = match (new.bit_rate_kbps, new.sampling_rate_khz) {
        (Some(b), _) if !offered(xml::BIT_RATE_OPTIONS, f64::from(b)) => {
            Some(format!("audioBitRate {b} is not one of {}", xml::BIT_RATE_OPTIONS))
        }
        (_, Some(r)) if !offered(xml::SAMPLING_RATE_OPTIONS, r) => {
            Some(format!("audioSamplingRate {r} is not one of {}", xml::SAMPLING_RATE_OPTIONS))
        }
        _ => None,
    };
    if let Some(description) = bad {
        let mut rs = ResponseStatus::new(&req.path, 6, "Invalid XML Content", "badParameters");
        rs.description = Some(description);
        return shared.status_xml(400, rs);
    }
    let mut st = lock(&shared.state);
    let Some(ch) = st.channel(id) else { return shared.not_supported(req) };
    let (speaker, microphone) = (ch.channel.speaker_volume, ch.channel.microphone_volume);
    let asked = [("speakerVolume", new.speaker_volume, speaker), ("microphoneVolume", new.microphone_volume, microphone)];
    if let Err(refusal) = volume::check_channel(shared, req, id, asked) {
        return refusal;
    }
    let codec = codec.or(ch.codec()).unwrap_or(Codec::G711Ulaw);
    set_codec(&mut ch.channel, codec, new.sampling_rate_khz, new.bit_rate_kbps);
    let c = &mut ch.channel;
    c.speaker_volume = new.speaker_volume.or(c.speaker_volume);
    c.microphone_volume = new.microphone_volume.or(c.microphone_volume);
    volume::channel_changed(shared, id, "speakerVolume", speaker, c.speaker_volume);
    volume::channel_changed(shared, id, "microphoneVolume", microphone, c.microphone_volume);
    c.noise_reduce = new.noise_reduce.or(c.noise_reduce);
    if let Some(inbound) = new.inbound_codec.and_then(|n| Codec::from_isapi(&n)) {
        c.inbound_codec = Some(inbound.isapi_name().to_string());
    }
    shared.log.log(EventKind::ChannelUpdated { channel: id, codec: c.codec.clone() });
    shared.status_xml(200, ResponseStatus::ok(&req.path))
}
