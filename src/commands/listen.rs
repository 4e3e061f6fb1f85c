//! `hiktalk listen`: the device's microphone, through the speakers or into a file, on one
//! session opened once and closed explicitly, until the user stops or `--duration` is up.

use super::{Connected, Context, connect, finish};
use crate::cli::ListenArgs;
use crate::listen::{Listener, Sink};
use crate::outcome::{Ending, Outcome};
use crate::session::{self, Media, Report, TalkOptions};
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub async fn run(args: ListenArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let out = ctx.out;
    let sink = match (args.out.as_deref(), args.raw) {
        (Some("-"), _) if out.json => anyhow::bail!(crate::config::ConfigError::Invalid {
            camera: crate::config::display_name(&args.camera),
            message: "-o - writes the audio to stdout, where --json writes the outcome; write to a file, or drop --json".into(),
        }),
        (Some("-"), false) => Sink::WavStdout,
        (Some("-"), true) => Sink::Raw(None),
        (Some(path), false) => Sink::WavFile(PathBuf::from(path)),
        (Some(path), true) => Sink::Raw(Some(PathBuf::from(path))),
        (None, _) => Sink::Speaker(args.output.clone()),
    };
    // The output before the device: no speaker or no writable file, no session.
    let (listener, inlet) = Listener::start(sink, crate::listen::Shaping::default()).await?;
    let Connected { device, name, channel, codec: _, sim } = connect(&args.camera, &args.login, ctx).await?;
    let device = device.with_stall(Duration::from_secs_f64(args.session.stall_timeout));
    let (label, describe) = (name.clone(), listener.describe.clone());
    let bar = out.interactive().then(crate::output::live_meter);
    let opts = TalkOptions {
        reconnect: true,
        until: args.duration.map(|d| tokio::time::Instant::now() + Duration::from_secs_f64(d)),
        on_open: Arc::new(move |channel, params| {
            out.note(&format!(
                "{label}: listening to channel {channel} ({} {} Hz) into {describe}; Ctrl-C to stop",
                params.codec, params.sample_rate
            ));
        }),
        ..super::session_options(&args.session, channel)
    };
    let mut report = Report::new(&name, Ending::Done);
    match session::negotiate(&device, &name, &opts, &ctx.stop).await {
        Err(ending) => report = Report::new(&name, ending),
        Ok(mut neg) => {
            let meter =
                bar.clone().map(|bar| tokio::spawn(meter(bar, listener.stats.clone(), listener.playback.clone(), ctx.stop.clone())));
            session::talk(&device, &mut neg, &opts, Media { talk: None, listen: Some(&inlet) }, &ctx.stop, &mut report).await;
            if let Some(m) = meter {
                m.abort();
                // Stopped for sure (it may be drawing on another thread) before the line is cleared.
                let _ = m.await;
            }
        }
    }
    crate::output::clear_live();
    let playback = listener.playback.clone();
    let dropped = listener.stats.dropped.load(Ordering::Relaxed);
    listener.finish(inlet).await;
    let figures = playback.as_ref().map(|p| {
        serde_json::json!({
            "output_underruns": p.underruns.load(Ordering::Relaxed),
            "late_samples": p.late_samples.load(Ordering::Relaxed),
            "jitter_buffer_ms": p.target_ms.load(Ordering::Relaxed),
        })
    });
    if args.stats && !out.json {
        let jitter = figures.as_ref().map(|f| {
            format!(
                "; output underruns {}, late samples {}, jitter buffer {} ms",
                f["output_underruns"], f["late_samples"], f["jitter_buffer_ms"]
            )
        });
        crate::output::stderr(&format!(
            "hiktalk: stats: heard {:.1} s ({} bytes); {dropped} pieces dropped{}",
            report.heard_seconds,
            report.heard_bytes,
            jitter.unwrap_or_default()
        ));
    }
    let mut outcome = finish(&report, "listened", true, ctx, sim).await;
    if let Some(f) = figures {
        outcome = outcome.with_figures(&f);
    }
    Ok(outcome)
}

/// A one-line level meter: the device's level, what was heard, the jitter buffer.
async fn meter(
    bar: ProgressBar,
    stats: Arc<crate::listen::ListenStats>,
    playback: Option<Arc<crate::audio::playback::PlaybackStats>>,
    stop: crate::session::Stop,
) {
    loop {
        if stop.requested().is_some() {
            bar.set_message(super::play::CLOSING);
            bar.tick();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let (level, db) = crate::output::level_bar(f32::from_bits(stats.level.load(Ordering::Relaxed)), 20);
        let jitter = playback
            .as_ref()
            .map(|p| format!("  buffer {} ms  underruns {}", p.target_ms.load(Ordering::Relaxed), p.underruns.load(Ordering::Relaxed)))
            .unwrap_or_default();
        bar.set_message(format!("{level} {db:>4.0} dBFS{jitter}"));
        bar.tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
