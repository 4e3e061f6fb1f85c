//! Jobs: what every front end (the shell, `serve`) asks for between "here are the targets and
//! the audio" and "here is the outcome": connect to each camera, negotiate, check a ringing
//! doorbell, pace and send from one clock, close, and report. A job reports what happens to
//! each device as typed [`Event`]s on a channel; the front end only translates them (progress,
//! human lines, JSON answers).

pub mod connect;
pub mod door;
pub mod fleet;
pub mod ring;

pub use connect::{Connected, SimAs, SimCall, connect, connect_as};

use crate::audio::decode::{Input, RawFormat};
use crate::cli::TalkArgs;
use crate::codec::CodecParams;
use crate::feed::Feed;
use crate::feed::file::Opened;
use crate::outcome::{Ending, Outcome};
use crate::output::Output;
use crate::session::{Clock, Progress, Report, Stop, TalkOptions};
use crate::sim::SimHandle;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// What every command gets besides its own arguments.
pub struct Context {
    pub config: Option<PathBuf>,
    pub out: Output,
    pub stop: Stop,
}

/// What happens to one device of a job, in order: `Opening`, then `Playing` if a session
/// opened (again after a reconnect), `Note`s meanwhile, then `Ended` with the device's outcome.
#[derive(Debug, Clone)]
pub enum Event {
    /// Connecting to the device and negotiating its channel.
    Opening { device: String },
    /// The session is open and audio goes out on `channel`.
    Playing { device: String, channel: String, codec: CodecParams },
    /// What the session layer says meanwhile: a fault and the reconnect after it (with its
    /// delay), a codec switch.
    Note { device: String, message: String },
    /// The device's part is over: its outcome (reason, figures, whether the close was confirmed).
    Ended { device: String, outcome: Outcome },
}

/// Where a job's events go; nowhere when nobody listens.
#[derive(Clone, Default)]
pub struct Events(Option<UnboundedSender<Event>>);

impl Events {
    pub fn to(tx: UnboundedSender<Event>) -> Events {
        Events(Some(tx))
    }

    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.0 {
            // A front end that stopped listening does not stop the job.
            let _ = tx.send(event);
        }
    }
}

/// Live audio (a microphone: `speak`'s, or the handset page's over its WebSocket) runs only
/// this far ahead of real time, and frames go as they come (no batch): every frame of lead is
/// latency at the speaker.
const LIVE_LEAD: Duration = Duration::from_millis(40);

/// The one clock of a live source to `devices` devices: shaped and encoded once, paced as a
/// microphone is (`speak`, `answer`, the handset).
pub fn live_clock(source: crate::feed::Source, talk_args: &TalkArgs, devices: usize) -> Clock {
    let clock = Clock::start(Feed::new(source, talk_args.volume), LIVE_LEAD, Duration::ZERO);
    clock.gather(devices, Duration::from_secs_f64(talk_args.sync_wait));
    clock
}

/// How far ahead of real time a file runs: a cushion against network hiccups for the device,
/// topped up in batches (the device holds 100-180 ms; the clock wakes every 80 ms, not 20).
const LEAD: Duration = Duration::from_millis(100);
const BATCH: Duration = Duration::from_millis(60);

/// What a play does at the end of its input and after a fault the user did not ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Once; a fault ends it (`play`, `say`).
    Once,
    /// Once; an unasked fault reopens the session (bounded, with backoff and jitter), which
    /// goes on where the shared clock is (`serve`: an announcement a device cut is not lost
    /// whole, and an application sees the retries in the metrics).
    Resume,
    /// Over and over until stopped, reconnecting after faults (`play --loop`).
    Loop,
}

/// Plays an opened input to every member from one clock (`play`, `say`, `answer --play`,
/// `serve`); `progress` gives each device's live counters.
pub async fn play(
    opened: Opened,
    members: Vec<fleet::Member>,
    talk_args: &TalkArgs,
    replay: Replay,
    ctx: &Context,
    events: Events,
    progress: impl Fn(&str) -> Arc<Progress>,
) -> anyhow::Result<Outcome> {
    let out = ctx.out;
    let describe = opened.describe();
    let source = opened.start(replay == Replay::Loop)?;
    // Decoded, resampled and encoded once; every device gets the same frames on one schedule,
    // starting together.
    let clock = Clock::start(Feed::new(source, talk_args.volume), LEAD, BATCH);
    clock.gather(members.len(), Duration::from_secs_f64(talk_args.sync_wait));
    let several = members.len() > 1;
    let talk = fleet::Talk {
        clock: &clock,
        listen: None,
        verb: "played",
        ending: Ending::EndOfInput,
        stop_is_normal: false,
        stall: Duration::from_secs_f64(talk_args.session.stall_timeout),
        stop_ring: talk_args.stop_ring,
        events,
    };
    let outcomes = fleet::each(
        members,
        || clock.absent(),
        |c| {
            let (progress, describe, label) = (progress(&c.name), describe.clone(), c.name.clone());
            let opts = TalkOptions {
                reconnect: replay != Replay::Once,
                // One line per device when it opens would drown a page to many devices.
                on_open: Arc::new(move |channel, params| {
                    if several {
                        return;
                    }
                    out.note(&format!(
                        "{label}: channel {channel} speaks {} at {} Hz; playing {describe}",
                        params.codec, params.sample_rate
                    ));
                }),
                ..talk_options(talk_args, c.channel.clone(), c.codec, progress)
            };
            let talk = &talk;
            async move { talk.run(c, opts, ctx).await }
        },
    )
    .await;
    Ok(fleet::combine(outcomes))
}

/// Opens the input and reads its first chunk off the async threads (stdin may wait for a
/// writer indefinitely), unless the user stops first.
pub async fn open_input(input: &Input, raw: Option<RawFormat>, stop: &Stop) -> anyhow::Result<Opened> {
    let stdin = *input == Input::Stdin;
    let input = input.clone();
    let opening = tokio::task::spawn_blocking(move || Opened::open(&input, raw));
    let opened = tokio::select! {
        biased;
        s = stop.wait() => return Err(Ending::UserStop { signal: s.to_string() }.into()),
        r = opening => r.map_err(|e| Ending::Internal { detail: format!("the input reader failed: {e}") })?,
    };
    match opened {
        Ok(x) => Ok(x),
        Err(e) if !stdin => Err(e.into()),
        // Ctrl-C in a shell pipeline (`gen | hiktalk play - cam`) also ends the writer, and its
        // end of input can arrive a moment before the signal: the stop is what happened.
        Err(e) => match tokio::time::timeout(Duration::from_millis(200), stop.wait()).await {
            Ok(s) => Err(Ending::UserStop { signal: s.to_string() }.into()),
            Err(_) => Err(e.into()),
        },
    }
}

/// The session options `play` and `speak` share, from their flags and the camera's settings.
pub fn talk_options(
    talk: &crate::cli::TalkArgs,
    channel: Option<String>,
    codec: Option<crate::codec::Codec>,
    progress: std::sync::Arc<crate::session::Progress>,
) -> crate::session::TalkOptions {
    crate::session::TalkOptions {
        codec: talk.codec.or(codec),
        set_codec: talk.set_codec,
        keep_codec: talk.keep_codec,
        progress: Some(progress),
        ..session_options(&talk.session, channel)
    }
}

/// The session options every session command shares.
pub fn session_options(args: &crate::cli::SessionArgs, channel: Option<String>) -> crate::session::TalkOptions {
    crate::session::TalkOptions { channel, take_over: args.take_over, retries: args.retries, ..crate::session::TalkOptions::default() }
}

/// The outcome of a talk session: the report's ending and figures, one human summary line,
/// and what the simulated camera (if that was the device) received.
pub async fn finish(report: &Report, verb: &str, stop_is_normal: bool, ctx: &Context, sim: Option<SimHandle>) -> Outcome {
    let mut outcome = Outcome::new(Some(report.device.clone()), report.ending.clone()).with_figures(report);
    outcome.exit_code = report.ending.exit_code(stop_is_normal);
    outcome.line = Some(human(report, verb));
    if let Some(sim) = sim {
        let summary = sim.shutdown().await;
        ctx.out.note(&format!("simulated camera: {summary}"));
        outcome = outcome.with_figures(&serde_json::json!({ "simulated_device": summary }));
    }
    outcome
}

/// The one-line human summary of a talk session.
fn human(r: &Report, verb: &str) -> String {
    let mut s = r.device.clone();
    s.push(':');
    if r.sessions_opened > 0 {
        s.push_str(&format!(" {verb} {:.1} s", if r.audio_seconds > 0.0 { r.audio_seconds } else { r.heard_seconds }));
    }
    if let Some(ch) = &r.channel {
        s.push_str(&format!(" on channel {ch}"));
    }
    if let Some(p) = &r.codec {
        s.push_str(&format!(" ({} {} Hz)", p.codec, p.sample_rate));
    }
    // Nothing said yet (no session, no channel): the reason follows the name directly.
    s.push_str(if s.ends_with(':') { " " } else { "; " });
    s.push_str(&r.ending.describe());
    if r.retries > 0 {
        s.push_str(&format!(" (after {} reconnect{})", r.retries, if r.retries == 1 { "" } else { "s" }));
    }
    if r.sessions_opened > 0 {
        match &r.close_error {
            None => s.push_str("; session closed, device confirmed"),
            Some(e) => s.push_str(&format!("; {e}; the session may still be open: run `hiktalk close {}` to clear it", r.device)),
        }
    }
    if let Some(c) = &r.codec_restored {
        s.push_str(&format!("; channel codec restored to {c}"));
    }
    s
}
