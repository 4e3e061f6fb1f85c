//! The talk session's lifecycle: negotiate the channel, open once, stream paced audio on one
//! upload, close explicitly, and say why it ended. The reconnect policy lives here and nowhere
//! else: only after a fault the user did not ask for, bounded, with backoff, never after a stop.

pub mod retry;
pub mod stop;

use crate::audio::pacer::Pacer;
use crate::codec::{self, Codec, CodecParams};
use crate::isapi::xml::Channel;
use crate::isapi::{Device, IsapiError, SendError, Upload, UploadEnd};
pub use crate::outcome::Ending;
use retry::Backoff;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
pub use stop::Stop;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

/// The pause between closing another client's session and opening ours (the known workaround).
const TAKE_OVER_PAUSE: Duration = Duration::from_millis(500);
/// A session that streamed this long was healthy: the next fault gets the full retry budget.
const HEALTHY_SESSION: Duration = Duration::from_secs(60);
/// How many frames late a source may be before a slot is filled with silence.
const SILENCE_GRACE_FRAMES: u32 = 3;
/// A live frame captured longer ago than this when its connection starts is not sent.
const STALE: Duration = Duration::from_millis(100);
/// A device hang-up after this long without audio from us is reported as an idle timeout
/// (devices wait 3-10 s; hiktalk itself never leaves a gap of more than a few frames).
const IDLE_HINT: Duration = Duration::from_secs(1);

/// What the user asked of the session.
#[derive(Debug, Clone)]
pub struct TalkOptions {
    pub channel: Option<String>,
    /// Encode with this codec whatever the channel says (`--codec`).
    pub codec: Option<Codec>,
    /// Reconfigure the channel to this codec before opening (`--set-codec`).
    pub set_codec: Option<Codec>,
    /// Leave a `--set-codec` change in place afterwards.
    pub keep_codec: bool,
    /// Close a session left by another client before opening.
    pub take_over: bool,
    /// Reconnect attempts after unasked faults (long sessions only).
    pub retries: u32,
    /// Whether this session reconnects at all (`speak`, `play --loop`).
    pub reconnect: bool,
    /// How far ahead of real time the stream may run.
    pub lead: Duration,
    /// The first reconnect delay's ceiling and every delay's floor.
    pub backoff_base: Duration,
    /// Where retry announcements go (stderr in the CLI).
    pub announce: fn(&str),
    /// Live counters for a progress display.
    pub progress: Option<Arc<Progress>>,
}

/// Counters the streaming loop updates as it goes, for a progress bar or level meter.
#[derive(Debug, Default)]
pub struct Progress {
    pub audio_ms: AtomicU64,
    pub bytes: AtomicU64,
    pub silence_frames: AtomicU64,
}

impl Default for TalkOptions {
    fn default() -> Self {
        TalkOptions {
            channel: None,
            codec: None,
            set_codec: None,
            keep_codec: false,
            take_over: false,
            retries: 3,
            reconnect: false,
            lead: Duration::from_millis(160),
            backoff_base: Duration::from_millis(500),
            announce: |m| eprintln!("hiktalk: {m}"),
            progress: None,
        }
    }
}

/// The channel and codec agreed with the device.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiation {
    pub channel: Channel,
    pub params: CodecParams,
    /// The channel as it was before `--set-codec`, to put back afterwards.
    #[serde(skip)]
    pub restore: Option<Channel>,
}

/// One item from the audio producer.
pub enum FeedItem {
    /// Encoded audio, and when its first sample was captured (live sources) for latency.
    Frame(Vec<u8>, Option<std::time::Instant>),
    End,
    Failed(Ending),
}

/// Encoded frames from a producer thread, one `frame` of audio each.
pub struct Feed {
    pub rx: mpsc::Receiver<FeedItem>,
    pub frame: Duration,
    /// For sources that can pause (a microphone, a pipe): sent when the producer has nothing at
    /// a frame's slot, so the device never sees a gap long enough to hang up.
    pub silence: Option<Vec<u8>>,
    /// For real-time sources: past this many queued frames the oldest are dropped, so a capture
    /// clock slightly faster than ours cannot build up latency. `None` for files and pipes,
    /// whose producer simply waits.
    pub max_queue: Option<usize>,
}

/// Everything worth telling about a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub device: String,
    pub channel: Option<String>,
    pub codec: Option<CodecParams>,
    #[serde(flatten)]
    pub ending: Ending,
    pub message: String,
    pub sessions_opened: u32,
    pub closes_confirmed: u32,
    pub close_error: Option<String>,
    pub retries: u32,
    pub audio_seconds: f64,
    pub bytes_sent: u64,
    pub max_ahead_ms: f64,
    pub silence_frames: u64,
    /// Live frames dropped because the input ran ahead of real time.
    pub dropped_frames: u64,
    /// Capture-to-socket latency of live frames.
    pub latency_ms_mean: Option<f64>,
    pub latency_ms_max: Option<f64>,
    pub codec_restored: Option<String>,
}

impl Report {
    pub fn new(device: &str, ending: Ending) -> Report {
        Report {
            device: device.to_string(),
            channel: None,
            codec: None,
            message: ending.describe(),
            ending,
            sessions_opened: 0,
            closes_confirmed: 0,
            close_error: None,
            retries: 0,
            audio_seconds: 0.0,
            bytes_sent: 0,
            max_ahead_ms: 0.0,
            silence_frames: 0,
            dropped_frames: 0,
            latency_ms_mean: None,
            latency_ms_max: None,
            codec_restored: None,
        }
    }

    fn end(&mut self, ending: Ending) {
        self.message = ending.describe();
        self.ending = ending;
    }
}

/// Runs `f` unless the user stops first.
async fn unless_stopped<T>(stop: &Stop, f: impl Future<Output = T>) -> Result<T, Ending> {
    tokio::select! {
        biased;
        s = stop.wait() => Err(Ending::UserStop { signal: s.to_string() }),
        v = f => Ok(v),
    }
}

/// Reads the channel list, picks the channel and codec, and applies `--set-codec`.
pub async fn negotiate(device: &Device, opts: &TalkOptions, stop: &Stop) -> Result<Negotiation, Ending> {
    let channels = unless_stopped(stop, device.channels()).await?.map_err(|e| Ending::from_isapi(&e))?;
    let mut channel =
        match &opts.channel {
            Some(id) => channels.iter().find(|c| &c.id == id).cloned().ok_or_else(|| Ending::Protocol {
                detail: format!("the device has no talk channel {id:?} (it has: {})", ids(&channels)),
            })?,
            None => channels.first().cloned().ok_or_else(|| Ending::Protocol { detail: "the device lists no talk channels".into() })?,
        };
    let mut restore = None;
    if let Some(target) = opts.set_codec {
        if Codec::from_isapi(&channel.codec) != Some(target) {
            let wanted = retarget(&channel, target);
            unless_stopped(stop, device.put_channel(&wanted))
                .await?
                .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to {target}: {e}", channel.id) })?;
            restore = Some(channel.clone());
            channel = unless_stopped(stop, device.channel(&channel.id)).await?.map_err(|e| Ending::from_isapi(&e))?;
        }
    }
    let codec = match opts.codec {
        Some(c) => c,
        None => match Codec::from_isapi(&channel.codec) {
            Some(c) => c,
            None => {
                let offered = unless_stopped(stop, device.capabilities(&channel.id)).await?.map(|c| c.codec_options).unwrap_or_default();
                let usable: Vec<&str> = offered.iter().map(String::as_str).filter(|o| Codec::from_isapi(o).is_some()).collect();
                let hint = if usable.is_empty() {
                    "hiktalk speaks G.711ulaw, G.711alaw, G.726, AAC, PCM and OPUS".to_string()
                } else {
                    format!("the channel also offers {}", usable.join(", "))
                };
                return Err(Ending::Codec {
                    detail: format!(
                        "codec {:?} on channel {} is not supported; {hint}; set it with --set-codec",
                        channel.codec, channel.id
                    ),
                });
            }
        },
    };
    let sample_rate = codec.fixed_rate().or(channel.sample_rate_hz()).unwrap_or(codec.default_rate());
    let params = CodecParams { codec, sample_rate, bitrate: channel.bit_rate_kbps.map(|k| k * 1000) };
    codec::encoder(params).map_err(|e| Ending::Codec { detail: format!("{e}; choose another with --codec or --set-codec") })?;
    Ok(Negotiation { channel, params, restore })
}

/// The channel settings for `codec`: a wide-band codec does not inherit G.711's 8 kHz.
fn retarget(channel: &Channel, codec: Codec) -> Channel {
    let mut wanted = channel.clone();
    wanted.codec = codec.isapi_name().to_string();
    wanted.enabled = None;
    wanted.codec_options.clear();
    let rate_khz = match codec.fixed_rate() {
        Some(r) => r,
        None => channel.sample_rate_hz().filter(|&r| r >= codec.default_rate()).unwrap_or(codec.default_rate()),
    };
    wanted.sampling_rate_khz = Some(rate_khz as f64 / 1000.0);
    wanted
}

fn ids(channels: &[Channel]) -> String {
    if channels.is_empty() { "none".into() } else { channels.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ") }
}

/// Builds the audio feed once the codec is final (an AAC-only device can change it at open).
pub type MakeFeed<'a> = Box<dyn FnOnce(CodecParams) -> Result<Feed, Ending> + Send + 'a>;

/// Opens, streams, closes, and reconnects after unasked faults while allowed.
pub async fn talk(device: &Device, neg: &mut Negotiation, opts: &TalkOptions, make_feed: MakeFeed<'_>, stop: &Stop, report: &mut Report) {
    report.channel = Some(neg.channel.id.clone());
    let mut backoff = Backoff::new(opts.retries);
    backoff.base = opts.backoff_base;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_os_rng();
    let (mut feed, mut make_feed) = (None, Some(make_feed));
    loop {
        let streamed_before = report.audio_seconds;
        let (ending, opened) = attempt(device, neg, opts, (&mut feed, &mut make_feed), stop, report).await;
        if report.audio_seconds - streamed_before >= HEALTHY_SESSION.as_secs_f64() {
            backoff.reset();
        }
        if let Some(session) = opened {
            stop.set_pending(Some(format!(
                "the session on channel {} may stay open until the device expires it (`hiktalk close` clears it)",
                neg.channel.id
            )));
            close(device, &neg.channel.id, session.as_deref(), report).await;
            stop.set_pending(None);
        }
        let ending = match ending {
            hangup @ Ending::DeviceHangup { .. } => explain_hangup(device, hangup).await,
            other => other,
        };
        report.end(ending);
        if !(opts.reconnect && report.ending.is_transient()) || stop.requested().is_some() {
            break;
        }
        let Some(delay) = backoff.next_delay(&mut rng) else { break };
        report.retries += 1;
        (opts.announce)(&format!(
            "{}; reconnecting in {:.1} s (attempt {} of {})",
            report.message,
            delay.as_secs_f64(),
            backoff.used(),
            opts.retries
        ));
        if let Err(stopped) = unless_stopped(stop, tokio::time::sleep(delay)).await {
            report.end(stopped);
            break;
        }
    }
    report.codec = Some(neg.params);
    restore(device, neg, opts, report).await;
}

/// One session: open, upload, stream. Returns how it ended and, when a session may exist on
/// the device, its id (which must then be closed).
async fn attempt(
    device: &Device,
    neg: &mut Negotiation,
    opts: &TalkOptions,
    (feed, make_feed): (&mut Option<Feed>, &mut Option<MakeFeed<'_>>),
    stop: &Stop,
    report: &mut Report,
) -> (Ending, Option<Option<String>>) {
    let id = neg.channel.id.clone();
    if let Some(s) = stop.requested() {
        return (Ending::UserStop { signal: s.to_string() }, None);
    }
    if opts.take_over {
        if let Err(e) = unless_stopped(stop, device.close(&id, None)).await {
            return (e, None);
        }
        if let Err(e) = unless_stopped(stop, tokio::time::sleep(TAKE_OVER_PAUSE)).await {
            return (e, None);
        }
    }
    let mut opened = open_or_stop(device, &neg.channel, stop).await;
    if let Ok(Err(e)) = &opened {
        if feed.is_none() && wants_aac(device, neg, opts, e).await {
            (opts.announce)(&format!(
                "channel {id} refused to open a {} session (HTTP 403); switching it to AAC as this firmware requires{}",
                neg.params.codec,
                if opts.keep_codec { "" } else { " (restored afterwards)" }
            ));
            if let Err(e) = switch_to_aac(device, neg, stop).await {
                return (e, None);
            }
            opened = open_or_stop(device, &neg.channel, stop).await;
        }
    }
    let session = match opened {
        // Stopped while the open was in flight: close what the device granted or may grant.
        Err((stopped, to_close, granted)) => {
            report.sessions_opened += u32::from(granted);
            return (stopped, to_close);
        }
        Ok(Err(e)) => {
            let maybe_open = open_may_have_succeeded(&e, &neg.channel);
            return (open_refusal(&e), maybe_open.then_some(None));
        }
        Ok(Ok(s)) => s,
    };
    report.sessions_opened += 1;
    // Whatever happens once a session is open, it gets closed: a panic while streaming becomes
    // an internal error here, and the caller closes the session as after any other ending.
    let streamed = std::panic::AssertUnwindSafe(stream_on(device, neg, opts, (feed, make_feed), session.as_deref(), stop, report));
    let ending = futures_util::FutureExt::catch_unwind(streamed)
        .await
        .unwrap_or_else(|_| Ending::Internal { detail: crate::outcome::take_panic().unwrap_or_else(|| "a panic while streaming".into()) });
    (ending, Some(session))
}

/// The open session's stream: the feed (built on the first session), the upload, the paced
/// frames, and the drain of the lead at the end of input.
async fn stream_on(
    device: &Device,
    neg: &Negotiation,
    opts: &TalkOptions,
    (feed, make_feed): (&mut Option<Feed>, &mut Option<MakeFeed<'_>>),
    session: Option<&str>,
    stop: &Stop,
    report: &mut Report,
) -> Ending {
    if let (None, Some(make)) = (feed.as_ref(), make_feed.take()) {
        match make(neg.params) {
            Ok(f) => *feed = Some(f),
            Err(e) => return e,
        }
    }
    let Some(feed) = feed.as_mut() else {
        return Ending::Input { detail: "the audio input could not be started".into() };
    };
    let mut upload = match unless_stopped(stop, Upload::start(device, &neg.channel.id, session)).await {
        Err(stopped) => return stopped,
        Ok(Err(e)) => return Ending::from_isapi(&e),
        Ok(Ok(u)) => u,
    };
    // A fresh schedule per connection: after a reconnect, catching up on the outage would burst.
    let mut pacer = Pacer::new(feed.frame, opts.lead);
    let ending = stream(&mut upload, feed, &mut pacer, stop, report, opts.progress.as_deref()).await;
    report.bytes_sent += upload.bytes_sent;
    if matches!(ending, Ending::EndOfInput) {
        // Let the lead drain so the device plays the tail before the close.
        let played = pacer.due() + opts.lead;
        let _ = wait(stop, &mut upload, sleep_until(played), Instant::now()).await;
    }
    report.audio_seconds += pacer.audio_sent().as_secs_f64();
    report.max_ahead_ms = report.max_ahead_ms.max(pacer.max_ahead().as_secs_f64() * 1000.0);
    upload.finish().await;
    ending
}

/// How an open the user interrupted turned out: the ending, what must be closed (as `attempt`
/// returns it), and whether the device granted the session.
type Interrupted = (Ending, Option<Option<String>>, bool);

/// Opens the channel unless the user stops first. A stop while the open is in flight does not
/// abandon it: a device that is slow to answer still opens the session after the client has
/// gone, and a close sent before that is a no-op, so the session would leak until it expires
/// (a minute or more, blocking the channel). Instead the open gets up to `--timeout` to
/// answer, so that its session is closed by id; with no answer by then it is closed blind, as
/// a lost answer is (`open_may_have_succeeded`).
async fn open_or_stop(device: &Device, channel: &Channel, stop: &Stop) -> Result<Result<Option<String>, IsapiError>, Interrupted> {
    let open = device.open(&channel.id);
    tokio::pin!(open);
    let signal = tokio::select! {
        biased;
        s = stop.wait() => s,
        r = &mut open => return Ok(r),
    };
    let stopped = Ending::UserStop { signal: signal.to_string() };
    let deadline = device.timeouts.request;
    let lost = || IsapiError::Timeout { step: "PUT open".into(), after: deadline };
    match timeout(deadline, open).await {
        Ok(Ok(session)) => Err((stopped, Some(session), true)),
        Ok(Err(e)) => Err((stopped, open_may_have_succeeded(&e, channel).then_some(None), false)),
        Err(_) => Err((stopped, open_may_have_succeeded(&lost(), channel).then_some(None), false)),
    }
}

/// Some firmware lists G.711 but answers 403 to open unless the channel is set to AAC. When the
/// channel is idle, offers AAC, and the user did not pin a codec, that 403 means "use AAC".
async fn wants_aac(device: &Device, neg: &Negotiation, opts: &TalkOptions, e: &IsapiError) -> bool {
    if !matches!(e, IsapiError::Status { http: 403, .. }) || e.is_busy() || opts.codec.is_some() || opts.set_codec.is_some() {
        return false;
    }
    if neg.params.codec == Codec::Aac || !cfg!(feature = "aac") {
        return false;
    }
    let idle = matches!(device.channel(&neg.channel.id).await, Ok(c) if c.enabled != Some(true));
    let offers =
        device.capabilities(&neg.channel.id).await.is_ok_and(|c| c.codec_options.iter().any(|o| Codec::from_isapi(o) == Some(Codec::Aac)));
    idle && offers
}

async fn switch_to_aac(device: &Device, neg: &mut Negotiation, stop: &Stop) -> Result<(), Ending> {
    let wanted = retarget(&neg.channel, Codec::Aac);
    unless_stopped(stop, device.put_channel(&wanted))
        .await?
        .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to AAC: {e}", neg.channel.id) })?;
    let now = unless_stopped(stop, device.channel(&neg.channel.id)).await?.map_err(|e| Ending::from_isapi(&e))?;
    if neg.restore.is_none() {
        neg.restore = Some(neg.channel.clone());
    }
    neg.params = CodecParams {
        codec: Codec::Aac,
        sample_rate: now.sample_rate_hz().unwrap_or(Codec::Aac.default_rate()),
        bitrate: now.bit_rate_kbps.map(|k| k * 1000),
    };
    neg.channel = now;
    Ok(())
}

/// Whether a failed open may still have opened a session on the device, which must then be
/// closed. A clear refusal (a status, an auth answer) did not; an unreadable 2xx answer did; a
/// lost answer may have, and is closed only when the channel was idle, so that another
/// client's session is never closed by mistake.
fn open_may_have_succeeded(e: &IsapiError, channel: &Channel) -> bool {
    match e {
        IsapiError::Xml { .. } => true,
        IsapiError::NotIsapi { http, .. } => (200..300).contains(http),
        IsapiError::Timeout { .. } | IsapiError::Network { .. } => channel.enabled != Some(true),
        _ => false,
    }
}

/// What a refused open means.
fn open_refusal(e: &IsapiError) -> Ending {
    match e {
        // The credentials worked for the channel list a moment ago, so this 401 is the
        // firmware's way of saying the channel is taken.
        IsapiError::AuthRejected { .. } => Ending::Busy {
            detail: "the device refused to open the talk channel with 401 although it accepted the credentials a moment ago (some firmware answers so when a session is active)".into(),
        },
        IsapiError::Status { http: 403, status, .. } if !e.is_busy() => Ending::Busy {
            detail: format!(
                "the device refused to open the talk channel (HTTP 403{}); a session may be active, or the firmware may want another codec (try --set-codec AAC)",
                status.as_ref().map(|s| format!(": {}", s.summary())).unwrap_or_default()
            ),
        },
        _ => Ending::from_isapi(e),
    }
}

/// The pacing loop: one frame per slot until the input ends, the user stops or the device ends.
async fn stream(
    upload: &mut Upload,
    feed: &mut Feed,
    pacer: &mut Pacer,
    stop: &Stop,
    report: &mut Report,
    progress: Option<&Progress>,
) -> Ending {
    let mut last_sent = Instant::now();
    let mut latency = Latency::default();
    // A live source keeps capturing while the session (re)connects: what it queued meanwhile
    // (a reconnect's backoff is half a second or more) is stale, and sent now it would be
    // heard late and add its age to every later frame's latency. Start from live audio.
    let mut pending = None;
    if feed.max_queue.is_some() {
        while let Ok(item) = feed.rx.try_recv() {
            match item {
                FeedItem::Frame(_, Some(at)) if at.elapsed() > STALE => report.dropped_frames += 1,
                other => {
                    pending = Some(other);
                    break;
                }
            }
        }
    }
    // Wait for the producer's first frame: silence before it would only delay the audio.
    if pending.is_none() {
        match next_item(stop, upload, &mut feed.rx, last_sent, None).await {
            Ok(item) => pending = item,
            Err(e) => return e,
        }
    }
    pacer.restart();
    loop {
        let item = if let Some(silence) = &feed.silence {
            if let Some(e) = wait(stop, upload, sleep_until(pacer.due()), last_sent).await {
                return e;
            }
            while feed.max_queue.is_some_and(|max| feed.rx.len() > max) {
                if let Ok(FeedItem::Frame(..)) = feed.rx.try_recv() {
                    report.dropped_frames += 1;
                }
            }
            // The source is the clock: a frame not there yet is waited for until the device has
            // played everything sent, plus some grace for scheduling jitter, and only then
            // replaced by silence. Silence sent early (at the slot) uses up the lead, after
            // which every live frame waits a frame longer for its slot (latency that never goes
            // away), and each one shifts the audio by a frame; a late frame costs the device
            // only a short underrun. Keepalive needs silence within seconds, not milliseconds.
            let starved = pacer.played_out() + feed.frame * SILENCE_GRACE_FRAMES;
            let next = match pending.take() {
                Some(item) => Ok(Some(item)),
                None => next_item(stop, upload, &mut feed.rx, last_sent, Some(starved)).await,
            };
            match next {
                Ok(Some(item)) => item,
                Ok(None) => {
                    report.silence_frames += 1;
                    if let Some(p) = progress {
                        p.silence_frames.fetch_add(1, Ordering::Relaxed);
                    }
                    FeedItem::Frame(silence.clone(), None)
                }
                Err(e) => return e,
            }
        } else {
            let next = match pending.take() {
                Some(item) => Ok(Some(item)),
                None => next_item(stop, upload, &mut feed.rx, last_sent, None).await,
            };
            // Without a silence deadline there is always an item.
            let item = match next {
                Ok(item) => item.unwrap_or(FeedItem::End),
                Err(e) => return e,
            };
            if let Some(e) = wait(stop, upload, sleep_until(pacer.due()), last_sent).await {
                return e;
            }
            item
        };
        let (frame, captured) = match item {
            FeedItem::Frame(f, captured) => (f, captured),
            FeedItem::End => return Ending::EndOfInput,
            FeedItem::Failed(e) => return e,
        };
        let sent = tokio::select! {
            biased;
            s = stop.wait() => return Ending::UserStop { signal: s.to_string() },
            r = upload.send(&frame) => r,
        };
        match sent {
            Ok(()) => {
                pacer.sent_one();
                last_sent = Instant::now();
                if let Some(at) = captured {
                    latency.push(at.elapsed());
                    report.latency_ms_mean = Some(latency.mean_ms());
                    report.latency_ms_max = Some(latency.max_ms());
                }
                if let Some(p) = progress {
                    p.audio_ms.store(pacer.audio_sent().as_millis() as u64, Ordering::Relaxed);
                    p.bytes.fetch_add(frame.len() as u64, Ordering::Relaxed);
                }
            }
            Err(SendError::Stalled { after }) => return Ending::stalled(after),
            Err(SendError::Ended(end)) => return hangup(end, last_sent),
        }
    }
}

/// Running mean and maximum of capture-to-socket latency.
#[derive(Default)]
struct Latency {
    n: u64,
    sum: Duration,
    max: Duration,
}

impl Latency {
    fn push(&mut self, d: Duration) {
        self.n += 1;
        self.sum += d;
        self.max = self.max.max(d);
    }

    fn mean_ms(&self) -> f64 {
        self.sum.as_secs_f64() * 1000.0 / self.n.max(1) as f64
    }

    fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1000.0
    }
}

/// The producer's next item, unless the user stops or the device ends first. With a
/// `silence_at` deadline, `Ok(None)` says the producer had nothing by then (send silence).
async fn next_item(
    stop: &Stop,
    upload: &mut Upload,
    rx: &mut mpsc::Receiver<FeedItem>,
    last_sent: Instant,
    silence_at: Option<Instant>,
) -> Result<Option<FeedItem>, Ending> {
    let far = Instant::now() + Duration::from_secs(86_400);
    tokio::select! {
        biased;
        s = stop.wait() => Err(Ending::UserStop { signal: s.to_string() }),
        end = upload.ended() => Err(hangup(end, last_sent)),
        // A producer ends with `End` or `Failed`; a channel closed without either means it died.
        item = rx.recv() => Ok(Some(item.unwrap_or_else(producer_died))),
        _ = sleep_until(silence_at.unwrap_or(far)), if silence_at.is_some() => Ok(None),
    }
}

fn producer_died() -> FeedItem {
    let detail = match crate::outcome::take_panic() {
        Some(panic) => format!("the audio input stopped unexpectedly: {panic}"),
        None => "the audio input stopped unexpectedly".to_string(),
    };
    FeedItem::Failed(Ending::Internal { detail })
}

/// Waits for `until`, unless the user stops or the device ends the upload first.
async fn wait(stop: &Stop, upload: &mut Upload, until: impl Future<Output = ()>, last_sent: Instant) -> Option<Ending> {
    tokio::select! {
        biased;
        s = stop.wait() => Some(Ending::UserStop { signal: s.to_string() }),
        end = upload.ended() => Some(hangup(end, last_sent)),
        _ = until => None,
    }
}

fn hangup(end: UploadEnd, last_sent: Instant) -> Ending {
    match end {
        UploadEnd::Closed { status } => {
            let said_idle = status.as_ref().is_some_and(|s| {
                let words = format!("{} {} {:?} {:?}", s.status_string, s.sub_status_code, s.error_msg, s.description).to_ascii_lowercase();
                words.contains("idle") || words.contains("timeout")
            });
            Ending::hangup(status, said_idle || last_sent.elapsed() >= IDLE_HINT)
        }
        UploadEnd::Reset { detail } => Ending::ConnectionReset { detail },
    }
}

/// A doorbell hangs up talk when a visitor rings; ask it, so the user hears why.
async fn explain_hangup(device: &Device, ending: Ending) -> Ending {
    match ending {
        Ending::DeviceHangup { status, idle, call: None } => {
            let call = timeout(Duration::from_secs(2), device.call_status()).await.ok().and_then(Result::ok).flatten();
            let call = call.filter(|c| c != "idle");
            Ending::DeviceHangup { status, idle, call }
        }
        other => other,
    }
}

/// Closes the session and records the device's confirmation. A transient failure gets one
/// more try within the deadline: an unclosed session blocks the channel for a minute or more.
async fn close(device: &Device, id: &str, session: Option<&str>, report: &mut Report) {
    let limit = device.timeouts.request;
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match tokio::time::timeout_at(deadline, device.close(id, session)).await {
            Ok(Ok(status)) if status.is_ok() => {
                report.closes_confirmed += 1;
                report.close_error = None;
                return;
            }
            Ok(Ok(status)) => {
                report.close_error = Some(format!("the device answered the close with {}", status.summary()));
                return;
            }
            Ok(Err(e)) if e.is_transient() => last = format!("closing the session failed: {e}"),
            Ok(Err(e)) => {
                report.close_error = Some(format!("closing the session failed: {e}"));
                return;
            }
            Err(_) => {
                last = format!("the device did not confirm the close within {} s (--timeout)", limit.as_secs_f32());
                break;
            }
        }
    }
    report.close_error = Some(last);
}

/// Puts back the channel settings `--set-codec` changed.
async fn restore(device: &Device, neg: &Negotiation, opts: &TalkOptions, report: &mut Report) {
    let Some(previous) = &neg.restore else { return };
    if opts.keep_codec {
        return;
    }
    let mut put_back = previous.clone();
    put_back.enabled = None;
    match timeout(device.timeouts.request, device.put_channel(&put_back)).await {
        Ok(Ok(())) => report.codec_restored = Some(previous.codec.clone()),
        Ok(Err(e)) => (opts.announce)(&format!("could not restore channel {} to {}: {e}", previous.id, previous.codec)),
        Err(_) => (opts.announce)(&format!("could not restore channel {} to {}: no answer", previous.id, previous.codec)),
    }
}
