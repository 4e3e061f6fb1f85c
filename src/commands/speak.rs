//! `hiktalk speak`: the microphone, live, through cpal, until the user stops.

use super::{Context, fleet};
use crate::audio::apm::Processing;
use crate::audio::echo::EchoCanceller;
use crate::audio::local_echo::MicProcessor;
use crate::cli::{EchoMode, MicArgs, SpeakArgs, TalkArgs};
use crate::feed::mic::{MicState, Microphone, VOICE_DBFS, Vad};
use crate::listen::{Listener, Shaping, Sink};
use crate::outcome::Outcome;
use crate::session::{self, Ending, Progress, Stop, TalkOptions};
use indicatif::ProgressBar;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub async fn run(args: SpeakArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    check_keys(&args.mic, &args.cameras)?;
    let members = fleet::connect_all(&args.cameras, &args.login, ctx).await?;
    let local = prepare(&args.mic, members.len(), ctx.out).await?;
    call(members, &args.talk, &args.mic, local, ctx).await
}

/// Push-to-talk reads keys from a terminal on stdin (whatever stderr is or --json/--quiet
/// say); without one it could never talk: refused rather than sending silence forever.
pub fn check_keys(mic: &MicArgs, cameras: &[String]) -> anyhow::Result<()> {
    if mic.ptt && !std::io::stdin().is_terminal() {
        return Err(crate::config::ConfigError::Invalid {
            camera: cameras.iter().map(|c| crate::config::display_name(c)).collect::<Vec<_>>().join(", "),
            message: "--ptt reads the space key from a terminal, and stdin is not one; run on a terminal or without --ptt".into(),
        }
        .into());
    }
    Ok(())
}

/// What a call needs on this machine, opened before any device is touched: the microphone and
/// (with one device) the output for what it hears. No input, no session, no answered call.
pub struct Local {
    state: Arc<MicState>,
    mic: Microphone,
    listener: Option<(Listener, crate::listen::Inlet)>,
}

/// Opens the microphone and the output for a call with `devices` devices.
pub async fn prepare(args: &MicArgs, devices: usize, out: crate::output::Output) -> anyhow::Result<Local> {
    let several = devices > 1;
    let state = Arc::new(MicState::new(!args.ptt));
    let vad = match (args.vad, args.half_duplex) {
        (Some(threshold), _) => Some(Vad { threshold, gate: true }),
        (None, true) => Some(Vad { threshold: VOICE_DBFS, gate: false }),
        (None, false) => None,
    };
    let listening = !(args.no_listen || several);
    let echo = echo_mode(args, listening);
    let (local, device) = (matches!(echo, EchoMode::Local | EchoMode::Both), matches!(echo, EchoMode::Device | EchoMode::Both));
    let (canceller, reference) = match (device || args.clean_listen) && listening {
        true => EchoCanceller::new(Processing { echo: device, clean: args.clean_listen }).map(|(e, r)| (Some(e), r))?,
        false => (None, None),
    };
    let (processor, tap) = match MicProcessor::new(Processing { echo: local, clean: args.clean_mic })? {
        Some((p, tap)) => (Some(p), tap),
        None => (None, None),
    };
    let mic = Microphone::open(args.input.clone(), vad, state.clone(), reference, processor).await?;
    // A call: what the device hears plays here, unless asked not to. No output device is said
    // once, not an error: the talk goes on. Several devices are a page: talk only.
    let listener = match listening {
        false => None,
        true => {
            let shaping = Shaping { duck: args.half_duplex.then(|| state.speaking.clone()), echo: canceller, tap };
            match Listener::start(Sink::Speaker(args.output.clone()), shaping).await {
                Ok(pair) => Some(pair),
                Err(e) if args.output.is_none() => {
                    out.note(&format!("not playing what the device hears: {e}"));
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if several && (args.output.is_some() || args.half_duplex || args.echo.is_some() || args.echo_cancel || args.clean_listen) {
        out.note("with several cameras speak only talks: what the devices hear is not played");
    }
    Ok(Local { state, mic, listener })
}

/// Which echo the call cancels: as asked (`--echo-cancel` is the older `--echo device`), else
/// the room's whenever what the device hears plays on a speaker (a headset says `--echo off`).
fn echo_mode(args: &MicArgs, listening: bool) -> EchoMode {
    match (args.echo, args.echo_cancel) {
        _ if !listening => EchoMode::Off,
        (Some(mode), _) => mode,
        (None, true) => EchoMode::Device,
        // A build without the module cannot cancel: only asking for it is an error.
        (None, false) if cfg!(feature = "echo-cancel") => EchoMode::Local,
        (None, false) => EchoMode::Off,
    }
}

/// The call: the microphone to every member (and, with one, what it hears on the speakers)
/// until the user stops or the devices end it. `speak` and `answer` both run it, with what
/// [`prepare`] opened.
pub async fn call(
    members: Vec<fleet::Member>,
    talk_args: &TalkArgs,
    mic: &MicArgs,
    local: Local,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let (out, stop) = (ctx.out, ctx.stop.clone());
    let keys_available = std::io::stdin().is_terminal();
    let args = mic;
    let Local { state, mic, listener } = local;
    let (listener, inlet) = match listener {
        Some((l, i)) => (Some(l), Some(i)),
        None => (None, None),
    };
    let describe = mic.describe.clone();
    let clock = crate::job::live_clock(mic.source(), talk_args, members.len());
    let progress = Arc::new(Progress::default());
    // The meter's line is redrawn in place: anything printed meanwhile goes around it.
    let bar = out.interactive().then(crate::output::live_meter);
    let talk = fleet::Talk {
        clock: &clock,
        listen: inlet.as_ref(),
        verb: "talked",
        ending: Ending::UserStop { signal: "SIGINT".into() },
        stop_is_normal: true,
        stall: Duration::from_secs_f64(talk_args.session.stall_timeout),
        stop_ring: talk_args.stop_ring,
        events: crate::job::Events::default(),
    };
    let keys = keys_available.then(|| KeyReader::start(state.clone(), stop.clone(), args.ptt));
    let meter = bar.clone().map(|bar| tokio::spawn(meter(bar, state.clone(), progress.clone(), args.ptt, stop.clone())));
    let outcomes = fleet::each(
        members,
        || clock.absent(),
        |c| {
            let (label, describe) = (c.name.clone(), describe.clone());
            let opts = TalkOptions {
                reconnect: true,
                on_open: Arc::new(move |channel, params| {
                    out.note(&format!(
                        "{label}: channel {channel} speaks {} at {} Hz; capturing {describe}; Ctrl-C to stop",
                        params.codec, params.sample_rate
                    ));
                }),
                voice: args.vad.map(|_| session::Voice { speaking: state.open.subscribe(), hold: Duration::from_secs_f64(args.hold) }),
                ..super::talk_options(talk_args, c.channel.clone(), c.codec, progress.clone())
            };
            let talk = &talk;
            async move { talk.run(c, opts, ctx).await }
        },
    )
    .await;
    if let Some(m) = meter {
        m.abort();
        // Stopped for sure (it may be drawing on another thread) before the line is cleared.
        let _ = m.await;
    }
    drop(keys);
    // Clear the meter so the outcome line starts on a line of its own.
    crate::output::clear_live();
    if let (Some(l), Some(i)) = (listener, inlet) {
        l.finish(i).await;
    }
    let mut outcome = fleet::combine(outcomes);
    let dropped = state.dropped_samples.load(Ordering::Relaxed);
    if args.stats && !out.json {
        let f = |k: &str| outcome.figures.get(k).and_then(|v| v.as_f64());
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "-".into());
        crate::output::stderr(&format!(
            "hiktalk: stats: latency capture->socket mean {} max {}; {} capture samples dropped; {} frames dropped; {} silence frames",
            ms(f("latency_ms_mean")),
            ms(f("latency_ms_max")),
            dropped,
            f("dropped_frames").unwrap_or(0.0),
            f("silence_frames").unwrap_or(0.0)
        ));
    } else if dropped > 0 {
        out.note(&format!("{dropped} microphone samples were dropped (the capture buffer overflowed)"));
    }
    outcome = outcome.with_figures(&serde_json::json!({ "capture_samples_dropped": dropped }));
    Ok(outcome)
}

/// Reads keys on a raw-mode terminal: `m` mutes, space toggles push-to-talk, Ctrl-C stops.
struct KeyReader {
    done: Arc<AtomicBool>,
}

impl KeyReader {
    fn start(live: Arc<MicState>, stop: Stop, ptt: bool) -> KeyReader {
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
async fn meter(bar: ProgressBar, live: Arc<MicState>, progress: Arc<Progress>, ptt: bool, stop: Stop) {
    loop {
        if stop.requested().is_some() {
            bar.set_message(super::play::CLOSING);
            bar.tick();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let (level, db) = crate::output::level_bar(f32::from_bits(live.level.load(Ordering::Relaxed)), 10);
        let state = if live.muted.load(Ordering::Relaxed) {
            " [muted: m]"
        } else if ptt && !live.talking.load(Ordering::Relaxed) {
            " [space to talk]"
        } else {
            ""
        };
        // The state first: a narrow terminal cuts the figures, not what the keys did.
        bar.set_message(format!(
            "{level} {db:>4.0} dBFS{state}  talked {:.1} s  sent {:.1} s  drops {}",
            live.talked_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            progress.audio_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            live.dropped_samples.load(Ordering::Relaxed),
        ));
        bar.tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
