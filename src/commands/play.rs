//! `hiktalk play`: a file or stdin, decoded, resampled, encoded and paced to the camera.

use super::{Connected, Context, connect, finish};
use crate::audio::decode::Input;
use crate::cli::PlayArgs;
use crate::feed::Feed;
use crate::feed::file::Opened;
use crate::outcome::{Ending, Outcome};
use crate::session::{self, Clock, Media, Progress, Report, Stop, TalkOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How far ahead of real time a file runs: a cushion against network hiccups for the device.
const LEAD: Duration = Duration::from_millis(160);

pub async fn run(args: PlayArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let out = ctx.out;
    let input = if args.input == "-" { Input::Stdin } else { Input::Path(args.input.clone().into()) };
    if args.repeat && input == Input::Stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera.camera),
            message: "--loop needs a file; stdin cannot be replayed".into()
        });
    }
    if args.camera.password_stdin && input == Input::Stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera.camera),
            message: "--password-stdin cannot be used while stdin carries the audio (`play -`); use HIKTALK_PASSWORD or the config".into(),
        });
    }
    // Open and read the input before touching the device: a bad file must not leave a session.
    let opened = open_input(&input, &args, &ctx.stop).await?;
    let Connected { device, name, channel, codec, sim } = connect(&args.camera, ctx).await?;
    let device = device.with_stall(Duration::from_secs_f64(args.talk.session.stall_timeout));
    let describe = opened.describe();
    let source = opened.start(args.repeat)?;
    let total = source.duration;
    let clock = Clock::start(Feed::new(source, args.talk.volume), LEAD);
    let progress = Arc::new(Progress::default());
    let label = name.clone();
    let bar = out.interactive().then(|| progress_bar(&name, total));
    let note_bar = bar.clone();
    let opts = TalkOptions {
        reconnect: args.repeat,
        on_open: Arc::new(move |channel, params| {
            let note = format!("{label}: channel {channel} speaks {} at {} Hz; playing {describe}", params.codec, params.sample_rate);
            match &note_bar {
                Some(bar) => bar.suspend(|| out.note(&note)),
                None => out.note(&note),
            }
        }),
        ..super::talk_options(&args.talk, channel, codec, progress.clone())
    };
    let mut report = Report::new(&name, Ending::EndOfInput);
    match session::negotiate(&device, &opts, &ctx.stop).await {
        Err(ending) => report = Report::new(&name, ending),
        Ok(mut neg) => {
            let ticker = bar.clone().map(|bar| tokio::spawn(tick(bar, progress.clone())));
            session::talk(&device, &mut neg, &opts, Media::talk(&clock), &ctx.stop, &mut report).await;
            if let Some(t) = ticker {
                t.abort();
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(finish(&report, "played", false, ctx, sim).await)
}

/// Opens the input and reads its first chunk off the async threads (stdin may wait for a
/// writer indefinitely), unless the user stops first.
async fn open_input(input: &Input, args: &PlayArgs, stop: &Stop) -> anyhow::Result<Opened> {
    let (raw, stdin) = (args.raw_format, *input == Input::Stdin);
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

async fn tick(bar: ProgressBar, progress: Arc<Progress>) {
    loop {
        let ms = progress.audio_ms.load(Ordering::Relaxed);
        let bytes = progress.bytes.load(Ordering::Relaxed);
        bar.set_position(ms);
        let total = bar.length().map(|t| format!(" / {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
        bar.set_message(format!("{:.1} s{total}, {} KiB sent", ms as f64 / 1000.0, bytes / 1024));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
