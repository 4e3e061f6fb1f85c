//! `hiktalk play`: a file or stdin, decoded, resampled, encoded and paced to the camera.

use super::{Context, fleet};
use crate::audio::decode::Input;
use crate::audio::decode::RawFormat;
use crate::cli::{PlayArgs, TalkArgs};
use crate::feed::Feed;
use crate::feed::file::Opened;
use crate::outcome::{Ending, Outcome};
use crate::session::{Clock, Progress, Stop, TalkOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How far ahead of real time a file runs: a cushion against network hiccups for the device,
/// topped up in batches (the device holds 120-180 ms; the clock wakes every 60 ms, not 20).
const LEAD: Duration = Duration::from_millis(120);
const BATCH: Duration = Duration::from_millis(40);

pub async fn run(args: PlayArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let input = if args.input == "-" { Input::Stdin } else { Input::Path(args.input.clone().into()) };
    let named = args.cameras.iter().map(|c| crate::config::display_name(c)).collect::<Vec<_>>().join(", ");
    if args.repeat && input == Input::Stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: named,
            message: "--loop needs a file; stdin cannot be replayed".into()
        });
    }
    if args.login.password_stdin && input == Input::Stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: named,
            message: "--password-stdin cannot be used while stdin carries the audio (`play -`); use HIKTALK_PASSWORD or the config".into(),
        });
    }
    // Open and read the input before touching the devices: a bad file must not leave a session.
    let opened = open_input(&input, args.raw_format, &ctx.stop).await?;
    let members = fleet::connect_all(&args.cameras, &args.login, ctx).await?;
    send(opened, members, &args.talk, args.repeat, ctx).await
}

/// Plays an opened input to every member from one clock (`play`, `answer --play`).
pub async fn send(
    opened: Opened,
    members: Vec<fleet::Member>,
    talk_args: &TalkArgs,
    repeat: bool,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let out = ctx.out;
    let describe = opened.describe();
    let source = opened.start(repeat)?;
    let total = source.duration;
    // Decoded, resampled and encoded once; every device gets the same frames on one schedule,
    // starting together.
    let clock = Clock::start(Feed::new(source, talk_args.volume), LEAD, BATCH);
    clock.gather(members.len(), Duration::from_secs_f64(talk_args.sync_wait));
    let several = members.len() > 1;
    let board = Board::new(members.iter().map(|m| m.name.clone()).collect(), total, out.interactive());
    let talk = fleet::Talk {
        clock: &clock,
        listen: None,
        verb: "played",
        ending: Ending::EndOfInput,
        stop_is_normal: false,
        stall: Duration::from_secs_f64(talk_args.session.stall_timeout),
        stop_ring: talk_args.stop_ring,
    };
    let ticker = board.bar.clone().map(|bar| tokio::spawn(tick(bar, board.clone())));
    let outcomes = fleet::each(
        members,
        || clock.absent(),
        |c| {
            let (progress, bar, describe, label) = (board.progress(&c.name), board.bar.clone(), describe.clone(), c.name.clone());
            let opts = TalkOptions {
                reconnect: repeat,
                // One line per device when it opens would drown a page to many devices.
                on_open: Arc::new(move |channel, params| {
                    if several {
                        return;
                    }
                    let note =
                        format!("{label}: channel {channel} speaks {} at {} Hz; playing {describe}", params.codec, params.sample_rate);
                    match &bar {
                        Some(bar) => bar.suspend(|| out.note(&note)),
                        None => out.note(&note),
                    }
                }),
                ..super::talk_options(talk_args, c.channel.clone(), c.codec, progress)
            };
            let talk = &talk;
            async move { talk.run(c, opts, ctx).await }
        },
    )
    .await;
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = &board.bar {
        bar.finish_and_clear();
    }
    Ok(fleet::combine(outcomes))
}

/// What a terminal shows while playing: one bar for the message, and with several devices how
/// many are sending.
#[derive(Clone)]
struct Board {
    devices: Arc<Vec<(String, Arc<Progress>)>>,
    bar: Option<ProgressBar>,
}

impl Board {
    fn new(names: Vec<String>, total: Option<Duration>, interactive: bool) -> Board {
        let label = match names.as_slice() {
            [one] => one.clone(),
            many => format!("{} devices", many.len()),
        };
        let devices = Arc::new(names.into_iter().map(|n| (n, Arc::new(Progress::default()))).collect());
        Board { devices, bar: interactive.then(|| progress_bar(&label, total)) }
    }

    fn progress(&self, name: &str) -> Arc<Progress> {
        self.devices.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()).unwrap_or_default()
    }
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

fn progress_bar(name: &str, total: Option<Duration>) -> ProgressBar {
    let bar = match total {
        Some(t) => ProgressBar::new(t.as_millis() as u64).with_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_prefix(name.to_string());
    bar
}

async fn tick(bar: ProgressBar, board: Board) {
    let mut last: Vec<u64> = vec![0; board.devices.len()];
    loop {
        let now: Vec<u64> = board.devices.iter().map(|(_, p)| p.audio_ms.load(Ordering::Relaxed)).collect();
        let ms = now.iter().copied().max().unwrap_or(0);
        let bytes: u64 = board.devices.iter().map(|(_, p)| p.bytes.load(Ordering::Relaxed)).sum();
        bar.set_position(ms);
        let total = bar.length().map(|t| format!(" / {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
        let sending = match now.len() {
            1 => String::new(),
            n => format!(", {} of {n} sending", now.iter().zip(&last).filter(|(a, b)| a > b).count()),
        };
        bar.set_message(format!("{:.1} s{total}, {} KiB sent{sending}", ms as f64 / 1000.0, bytes / 1024));
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
