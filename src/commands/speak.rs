//! `hiktalk speak`: the microphone, live, through cpal, until the user stops.

use super::{Connected, Context, connect, finish};
use crate::audio::capture::Capture;
use crate::audio::pipeline::Pipeline;
use crate::cli::SpeakArgs;
use crate::codec::{self, CodecParams};
use crate::outcome::Outcome;
use crate::session::{self, Ending, Feed, FeedItem, MakeFeed, Progress, Report, Stop, TalkOptions};
use indicatif::ProgressBar;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the producer drains the capture ring. Well under a frame, so a frame never waits
/// long for the thread to notice it.
const POLL: Duration = Duration::from_millis(5);
/// Speech between words dips below the VAD threshold; keep talking this long after a loud chunk.
const VAD_HANGOVER: Duration = Duration::from_millis(300);
/// A microphone that delivers nothing for this long has failed. Not every failure reaches
/// cpal's error callback (ALSA plugins and some drivers just stop delivering), and the pacer
/// would otherwise bridge the gap with silence forever; shorter gaps are glitches.
const CAPTURE_STALL: Duration = Duration::from_secs(3);

/// State shared between the capture thread, the key reader and the level meter.
#[derive(Default)]
pub struct Live {
    pub muted: AtomicBool,
    /// Push-to-talk: true while talking.
    pub talking: AtomicBool,
    /// Peak level of the last chunk, dBFS, as f32 bits.
    pub level: AtomicU32,
    pub talked_ms: AtomicU64,
    pub dropped_samples: AtomicU64,
}

pub async fn run(args: SpeakArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let (out, stop) = (ctx.out, ctx.stop.clone());
    // Keys come from a terminal on stdin, whatever stderr is or --json/--quiet say. Push-to-talk
    // without one could never talk: refuse it rather than send silence forever.
    let keys_available = std::io::stdin().is_terminal();
    if args.ptt && !keys_available {
        return Err(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera.camera),
            message: "--ptt reads the space key from a terminal, and stdin is not one; run speak on a terminal or without --ptt".into(),
        }
        .into());
    }
    let Connected { device, name, channel, codec, sim } = connect(&args.camera, ctx, false).await?;
    let device = device.with_stall(Duration::from_secs_f64(args.talk.stall_timeout));
    let progress = Arc::new(Progress::default());
    let opts = TalkOptions {
        reconnect: true,
        // Live audio: a short cushion only, every frame of lead is latency at the speaker.
        lead: Duration::from_millis(40),
        ..super::talk_options(&args.talk, channel, codec, progress.clone())
    };
    let live = Arc::new(Live::default());
    // Nothing captured yet: the meter starts at the bottom, not at 0 dBFS (the zero bits).
    live.level.store((-120f32).to_bits(), Ordering::Relaxed);
    live.talking.store(!args.ptt, Ordering::Relaxed);
    // Open the microphone before touching the device: no input, no session.
    let mic = Microphone::open(args.input.clone(), args.talk.volume, args.vad, live.clone()).await?;
    let mut report = Report::new(&name, Ending::UserStop { signal: "SIGINT".into() });
    match session::negotiate(&device, &opts, &stop).await {
        Err(ending) => report = Report::new(&name, ending),
        Ok(mut neg) => {
            let (label, channel_id) = (name.clone(), neg.channel.id.clone());
            // The meter's line is redrawn in place: anything printed meanwhile goes around it.
            let bar = out.interactive().then(ProgressBar::new_spinner);
            let note_bar = bar.clone();
            let make: MakeFeed = Box::new(move |params| {
                let note = format!(
                    "{label}: channel {channel_id} speaks {} at {} Hz; capturing {}; Ctrl-C to stop",
                    params.codec, params.sample_rate, mic.describe
                );
                match &note_bar {
                    Some(bar) => bar.suspend(|| out.note(&note)),
                    None => out.note(&note),
                }
                mic.start(params)
            });
            let keys = keys_available.then(|| KeyReader::start(live.clone(), stop.clone(), args.ptt));
            let meter = bar.clone().map(|bar| tokio::spawn(meter(bar, live.clone(), progress.clone(), args.ptt)));
            session::talk(&device, &mut neg, &opts, make, &stop, &mut report).await;
            if let Some(m) = meter {
                m.abort();
            }
            // Clear the meter so the outcome line starts on a line of its own.
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            drop(keys);
        }
    }
    let dropped = live.dropped_samples.load(Ordering::Relaxed);
    if args.stats && !out.json {
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "-".into());
        crate::output::stderr(&format!(
            "hiktalk: stats: latency capture->socket mean {} max {}; {} capture samples dropped; {} frames dropped; {} silence frames",
            ms(report.latency_ms_mean),
            ms(report.latency_ms_max),
            dropped,
            report.dropped_frames,
            report.silence_frames
        ));
    } else if dropped > 0 {
        out.note(&format!("{dropped} microphone samples were dropped (the capture buffer overflowed)"));
    }
    Ok(finish(&report, "talked", true, ctx, sim).await)
}

/// The microphone, capturing on its own thread (cpal streams are not `Send`) from the moment it
/// opens; frames flow once the session knows the codec.
struct Microphone {
    describe: String,
    params_tx: std::sync::mpsc::Sender<(Box<dyn codec::Encoder>, mpsc::Sender<FeedItem>)>,
}

impl Microphone {
    async fn open(input: Option<String>, gain_db: f32, vad: Option<f32>, live: Arc<Live>) -> anyhow::Result<Microphone> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (params_tx, params_rx) = std::sync::mpsc::channel::<(Box<dyn codec::Encoder>, mpsc::Sender<FeedItem>)>();
        std::thread::Builder::new().name("hiktalk-capture".into()).spawn(move || {
            let mut capture = match Capture::open(input.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            if ready_tx.send(Ok(capture.describe())).is_err() {
                return;
            }
            let Ok((encoder, tx)) = params_rx.recv() else { return };
            match Pipeline::new(capture.sample_rate(), encoder, gain_db) {
                Ok(pipeline) => produce(&mut capture, pipeline, vad, &live, &tx),
                Err(e) => {
                    let _ = tx.blocking_send(FeedItem::Failed(Ending::Input { detail: e.to_string() }));
                }
            }
        })?;
        let describe = ready_rx.await.map_err(|_| anyhow::anyhow!("the capture thread stopped before starting"))??;
        Ok(Microphone { describe, params_tx })
    }

    /// Starts encoding for `params` and returns the frames.
    fn start(self, params: CodecParams) -> Result<Feed, Ending> {
        let codec_err = |e: &dyn std::fmt::Display| Ending::Codec { detail: e.to_string() };
        let encoder = codec::encoder(params).map_err(|e| codec_err(&e))?;
        let frame = codec::frame_duration(encoder.as_ref());
        let silence = Pipeline::keepalive_frame(params).map_err(|e| codec_err(&e))?;
        let (tx, rx) = mpsc::channel(64);
        self.params_tx.send((encoder, tx)).map_err(|_| Ending::Input { detail: "the microphone stopped".into() })?;
        // Three frames of slack: enough for scheduling jitter, little enough to stay live.
        Ok(Feed { rx, frame, silence: Some(silence), max_queue: Some(3) })
    }
}

/// The capture loop: drain the ring, gate (mute, push-to-talk, VAD), encode, hand over frames
/// stamped with their capture time. Ends when the session drops the receiver or the device fails.
fn produce(capture: &mut Capture, mut pipeline: Pipeline, vad: Option<f32>, live: &Live, tx: &mpsc::Sender<FeedItem>) {
    let rate = capture.sample_rate() as f64;
    let frame_in = (pipeline.frame_duration().as_secs_f64() * rate).round() as u64;
    let mut samples = Vec::new();
    let mut frames = Vec::new();
    // Capture time of the next unframed input sample, for latency stamps.
    let mut pending: std::collections::VecDeque<(u64, Instant)> = Default::default();
    let (mut read_pos, mut framed_pos) = (0u64, 0u64);
    let mut loud_until = Instant::now();
    // What was captured while the session was being set up is stale: sending it would start
    // the stream 200 ms late, and what the ring skipped meanwhile is not a drop worth telling.
    let _ = capture.read(&mut samples);
    let dropped_before = capture.dropped_samples();
    let mut last_data = Instant::now();
    loop {
        if tx.is_closed() {
            return;
        }
        if let Some(e) = capture.take_error() {
            let _ = tx.blocking_send(FeedItem::Failed(Ending::Input { detail: format!("the microphone failed: {e}") }));
            return;
        }
        samples.clear();
        let Some(at) = capture.read(&mut samples) else {
            if last_data.elapsed() >= CAPTURE_STALL {
                let detail = format!(
                    "the microphone delivered no audio for {} s (unplugged or stalled?); check it, or pick another device with --input (see `hiktalk devices`)",
                    CAPTURE_STALL.as_secs()
                );
                let _ = tx.blocking_send(FeedItem::Failed(Ending::Input { detail }));
                return;
            }
            std::thread::sleep(POLL);
            continue;
        };
        last_data = Instant::now();
        pending.push_back((read_pos, at));
        read_pos += samples.len() as u64;
        live.dropped_samples.store(capture.dropped_samples() - dropped_before, Ordering::Relaxed);
        let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs()));
        let db = if peak > 0.0 { 20.0 * peak.log10() } else { -120.0 };
        live.level.store(db.to_bits(), Ordering::Relaxed);
        if vad.is_none_or(|t| db >= t) {
            loud_until = Instant::now() + VAD_HANGOVER;
        }
        let open = !live.muted.load(Ordering::Relaxed) && live.talking.load(Ordering::Relaxed) && Instant::now() < loud_until;
        if open {
            live.talked_ms.fetch_add((samples.len() as f64 * 1000.0 / rate) as u64, Ordering::Relaxed);
        } else {
            // Zeros through the same encoder: the camera hears silence, the stream stays continuous.
            samples.iter_mut().for_each(|s| *s = 0.0);
        }
        if let Err(e) = pipeline.push(&samples, &mut frames) {
            let _ = tx.blocking_send(FeedItem::Failed(Ending::Input { detail: e.to_string() }));
            return;
        }
        for f in frames.drain(..) {
            while pending.len() > 1 && pending[1].0 <= framed_pos {
                pending.pop_front();
            }
            let stamp = pending.front().map(|&(pos, t)| t + Duration::from_secs_f64(framed_pos.saturating_sub(pos) as f64 / rate));
            framed_pos += frame_in;
            // A full queue means the session is reconnecting: drop rather than build a backlog.
            let _ = tx.try_send(FeedItem::Frame(f, stamp));
        }
    }
}

/// Reads keys on a raw-mode terminal: `m` mutes, space toggles push-to-talk, Ctrl-C stops.
struct KeyReader {
    done: Arc<AtomicBool>,
}

impl KeyReader {
    fn start(live: Arc<Live>, stop: Stop, ptt: bool) -> KeyReader {
        use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, poll, read};
        let done = Arc::new(AtomicBool::new(false));
        if crossterm::terminal::enable_raw_mode().is_err() {
            return KeyReader { done };
        }
        let flag = done.clone();
        let _ = std::thread::Builder::new().name("hiktalk-keys".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if !poll(Duration::from_millis(100)).unwrap_or(false) {
                    continue;
                }
                let Ok(Event::Key(k)) = read() else { continue };
                if k.kind == KeyEventKind::Release {
                    continue;
                }
                match k.code {
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => stop.trigger("SIGINT"),
                    KeyCode::Char('m') => {
                        live.muted.fetch_xor(true, Ordering::Relaxed);
                    }
                    KeyCode::Char(' ') if ptt => {
                        live.talking.fetch_xor(true, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
        KeyReader { done }
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// A one-line level meter on the terminal.
async fn meter(bar: ProgressBar, live: Arc<Live>, progress: Arc<Progress>, ptt: bool) {
    loop {
        let db = f32::from_bits(live.level.load(Ordering::Relaxed)).max(-60.0);
        let filled = (((db + 60.0) / 60.0) * 20.0).round().clamp(0.0, 20.0) as usize;
        let state = if live.muted.load(Ordering::Relaxed) {
            " [muted: m]"
        } else if ptt && !live.talking.load(Ordering::Relaxed) {
            " [space to talk]"
        } else {
            ""
        };
        bar.set_message(format!(
            "[{:<20}] {db:>4.0} dBFS  talked {:.1} s  sent {:.1} s  drops {}{state}",
            "#".repeat(filled),
            live.talked_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            progress.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            live.dropped_samples.load(Ordering::Relaxed),
        ));
        bar.tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
