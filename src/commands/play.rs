//! `hiktalk play`: a file or stdin, decoded, resampled, encoded and paced to the camera.

use super::{Connected, Context, connect, finish};
use crate::audio::decode::{self, Input, Source};
use crate::audio::pipeline::Pipeline;
use crate::cli::PlayArgs;
use crate::codec::{self, CodecParams};
use crate::outcome::Outcome;
use crate::session::{self, Ending, Feed, FeedItem, MakeFeed, Progress, Report, Stop, TalkOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Frames buffered ahead of the pacer: enough to ride out a slow decode, small enough that a
/// stop does not wait on a backlog.
const AHEAD_FRAMES: usize = 50;

pub async fn run(args: PlayArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let out = ctx.out;
    let input = if args.input == "-" { Input::Stdin } else { Input::Path(args.input.clone().into()) };
    if args.repeat && input == Input::Stdin {
        anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera.camera),
            message: "--loop needs a file; stdin cannot be replayed".into()
        });
    }
    // Open and read the input before touching the device: a bad file must not leave a session.
    let (source, first) = open_input(&input, &args, &ctx.stop).await?;
    let Connected { device, name, channel, codec, sim } = connect(&args.camera, ctx, input == Input::Stdin).await?;
    let progress = Arc::new(Progress::default());
    let opts = TalkOptions { reconnect: args.repeat, ..super::talk_options(&args.talk, channel, codec, progress.clone()) };
    let device = device.with_stall(Duration::from_secs_f64(args.talk.stall_timeout));
    let mut report = Report::new(&name, Ending::EndOfInput);
    match session::negotiate(&device, &opts, &ctx.stop).await {
        Err(ending) => report = Report::new(&name, ending),
        Ok(mut neg) => {
            let total = source.duration();
            let describe = source.describe();
            let (label, channel_id) = (name.clone(), neg.channel.id.clone());
            let stdin = input == Input::Stdin;
            let replay = args.repeat.then(|| input.clone());
            let (gain, raw) = (args.talk.volume, args.raw_format);
            let make: MakeFeed = Box::new(move |params| {
                out.note(&format!(
                    "{label}: channel {channel_id} speaks {} at {} Hz; playing {describe}",
                    params.codec, params.sample_rate
                ));
                feed(source, first, params, gain, replay, stdin, raw)
            });
            let bar = out.interactive().then(|| progress_bar(&name, total, args.repeat));
            let ticker = bar.clone().map(|bar| tokio::spawn(tick(bar, progress.clone())));
            session::talk(&device, &mut neg, &opts, make, &ctx.stop, &mut report).await;
            if let Some(t) = ticker {
                t.abort();
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
    }
    Ok(finish(&report, "played", false, ctx, sim).await)
}

/// Opens the input and reads its first chunk off the async threads (stdin may wait for a
/// writer indefinitely), unless the user stops first.
async fn open_input(input: &Input, args: &PlayArgs, stop: &Stop) -> anyhow::Result<(Box<dyn Source>, Vec<f32>)> {
    let (what, raw, input, stdin) = (args.input.clone(), args.raw_format, input.clone(), *input == Input::Stdin);
    let opening = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut source = decode::open(&input, raw)?;
        let first = source.next_chunk()?.ok_or(decode::AudioError::Empty { what })?;
        Ok((source, first))
    });
    let opened = tokio::select! {
        biased;
        s = stop.wait() => return Err(Ending::UserStop { signal: s.to_string() }.into()),
        r = opening => r.map_err(|e| Ending::Internal { detail: format!("the input reader failed: {e}") })?,
    };
    match opened {
        Ok(x) => Ok(x),
        Err(e) if !stdin => Err(e),
        // Ctrl-C in a shell pipeline (`gen | hiktalk play - cam`) also ends the writer, and its
        // end of input can arrive a moment before the signal: the stop is what happened.
        Err(e) => match tokio::time::timeout(Duration::from_millis(200), stop.wait()).await {
            Ok(s) => Err(Ending::UserStop { signal: s.to_string() }.into()),
            Err(_) => Err(e),
        },
    }
}

/// Starts the decode/encode thread and returns its frames.
fn feed(
    mut source: Box<dyn Source>,
    first: Vec<f32>,
    params: CodecParams,
    gain_db: f32,
    replay: Option<Input>,
    live: bool,
    raw: Option<decode::RawFormat>,
) -> Result<Feed, Ending> {
    let codec_err = |e: &dyn std::fmt::Display| Ending::Codec { detail: e.to_string() };
    let encoder = codec::encoder(params).map_err(|e| codec_err(&e))?;
    let mut pipeline = Pipeline::new(source.sample_rate(), encoder, gain_db).map_err(|e| Ending::Input { detail: e.to_string() })?;
    let frame = pipeline.frame_duration();
    // stdin may pause (a slow generator); silence then keeps the device from hanging up.
    let silence = if live { Some(Pipeline::keepalive_frame(params).map_err(|e| codec_err(&e))?) } else { None };
    let (tx, rx) = mpsc::channel(AHEAD_FRAMES);
    std::thread::Builder::new()
        .name("hiktalk-decode".into())
        .spawn(move || {
            let mut frames = Vec::new();
            let mut chunk = Some(first);
            let result: Result<(), decode::AudioError> = (|| loop {
                match chunk.take() {
                    Some(samples) => pipeline.push(&samples, &mut frames)?,
                    None => match &replay {
                        Some(input) => source = decode::open(input, raw)?,
                        None => {
                            pipeline.finish(&mut frames)?;
                            return Ok(());
                        }
                    },
                }
                for f in frames.drain(..) {
                    if tx.blocking_send(FeedItem::Frame(f, None)).is_err() {
                        return Ok(());
                    }
                }
                chunk = source.next_chunk()?;
            })();
            for f in frames.drain(..) {
                let _ = tx.blocking_send(FeedItem::Frame(f, None));
            }
            let _ = tx.blocking_send(match result {
                Ok(()) => FeedItem::End,
                Err(e) => FeedItem::Failed(Ending::Input { detail: e.to_string() }),
            });
        })
        .map_err(|e| Ending::Input { detail: format!("cannot start the decoder thread: {e}") })?;
    Ok(Feed { rx, frame, silence, max_queue: None })
}

fn progress_bar(name: &str, total: Option<Duration>, repeat: bool) -> ProgressBar {
    let bar = match total.filter(|_| !repeat) {
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
