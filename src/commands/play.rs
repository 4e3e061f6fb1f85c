//! `hiktalk play`: a file or stdin, decoded, resampled, encoded and paced to the cameras. `say`
//! comes this way too, with the spoken text as the file.

use super::{Context, fleet};
use crate::audio::decode::{Input, RawFormat};
use crate::cli::{Login, PlayArgs, TalkArgs};
use crate::feed::file::Opened;
use crate::job::{Events, Replay};
use crate::outcome::Outcome;
use crate::session::{Progress, Stop};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Where the audio goes and how: what `play` and `say` share.
pub struct Delivery<'a> {
    pub cameras: &'a [String],
    pub login: &'a Login,
    pub talk: &'a TalkArgs,
    pub raw: Option<RawFormat>,
    pub repeat: bool,
}

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
    let delivery = Delivery { cameras: &args.cameras, login: &args.login, talk: &args.talk, raw: args.raw_format, repeat: args.repeat };
    deliver(input, delivery, ctx).await
}

/// Plays `input` to every camera of `d`, in step (`play`, `say`).
pub async fn deliver(input: Input, d: Delivery<'_>, ctx: &Context) -> anyhow::Result<Outcome> {
    // Open and read the input before touching the devices: a bad file must not leave a session.
    let opened = open_input(&input, d.raw, ctx).await?;
    let members = fleet::connect_all(d.cameras, d.login, ctx).await?;
    send(opened, members, d.talk, d.repeat, ctx).await
}

/// Plays an opened input to every member from one clock (`play`, `say`, `answer --play`), with
/// a progress bar on a terminal.
pub async fn send(
    opened: Opened,
    members: Vec<fleet::Member>,
    talk_args: &TalkArgs,
    repeat: bool,
    ctx: &Context,
) -> anyhow::Result<Outcome> {
    let total = opened.duration().filter(|_| !repeat);
    let board = Board::new(members.iter().map(|m| m.name.clone()).collect(), total, ctx.out.interactive());
    let ticker = board.bar.clone().map(|bar| tokio::spawn(tick(bar, board.clone(), ctx.stop.clone())));
    let replay = if repeat { Replay::Loop } else { Replay::Once };
    let outcome = crate::job::play(opened, members, talk_args, replay, ctx, Events::default(), |name| board.progress(name)).await;
    if let Some(t) = ticker {
        t.abort();
        // Stopped for sure (it may be drawing on another thread) before the line is cleared.
        let _ = t.await;
    }
    crate::output::clear_live();
    outcome
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
        let count = names.len();
        let devices = Arc::new(names.into_iter().map(|n| (n, Arc::new(Progress::default()))).collect());
        Board { devices, bar: interactive.then(|| crate::output::show_live(progress_bar(&label, total, count))) }
    }

    fn progress(&self, name: &str) -> Arc<Progress> {
        self.devices.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()).unwrap_or_default()
    }
}

/// The job's input, opened; stdin that is a terminal is said to be awaited first: a
/// forgotten pipe would otherwise look like a hang.
pub async fn open_input(input: &Input, raw: Option<RawFormat>, ctx: &Context) -> anyhow::Result<Opened> {
    if *input == Input::Stdin && std::io::stdin().is_terminal() {
        ctx.out.note(
            "waiting for audio on standard input, which is this terminal: pipe it in \
             (`espeak-ng --stdout Hello | hiktalk play - CAMERA`), or Ctrl-C to stop",
        );
    }
    crate::job::open_input(input, raw, &ctx.stop).await
}

/// The longest device name the bar shows; the bar is one line, whatever the names.
const NAME_MAX: usize = 24;
/// The fewest columns a name is cut to before the figures are.
const NAME_MIN: usize = 8;
/// The most bytes a second of audio can take to one device (PCM at 48 kHz, with room): the
/// widest `KiB sent` figure the bar must leave room for.
const KIB_PER_SEC_MAX: f64 = 96.0;

fn progress_bar(name: &str, total: Option<Duration>, devices: usize) -> ProgressBar {
    let (name, template) = layout(crate::output::live_width(), name, widest_figures(total, devices), total.is_some());
    let bar = match total {
        Some(t) => crate::output::live_bar(Some(t.as_millis() as u64))
            .with_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")),
        None => crate::output::live_bar(None)
            .with_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())),
    };
    bar.set_prefix(name);
    bar
}

/// The figures the bar shows after it: `1.2 s / 4.5 s, 12 KiB sent[, 2 of 3 sending]`.
fn figures(ms: u64, total_ms: Option<u64>, bytes: u64, sending: Option<(usize, usize)>) -> String {
    let total = total_ms.map(|t| format!(" / {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
    let sending = sending.map(|(k, n)| format!(", {k} of {n} sending")).unwrap_or_default();
    format!("{:.1} s{total}, {} KiB sent{sending}", ms as f64 / 1000.0, bytes / 1024)
}

/// The widest figures (or closing message) the bar will show for an input of `total` to
/// `devices` devices; without a total (stdin), those of ten thousand seconds.
fn widest_figures(total: Option<Duration>, devices: usize) -> usize {
    let secs = total.map_or(10_000.0, |t| t.as_secs_f64());
    let bytes = (secs * KIB_PER_SEC_MAX * 1024.0 * devices as f64) as u64;
    let ms = (secs * 1000.0) as u64;
    let sending = (devices > 1).then_some((devices, devices));
    figures(ms, total.map(|_| ms), bytes, sending).chars().count().max(CLOSING.len())
}

/// The bar's name and template on a terminal `columns` wide. The figures (`figures` columns)
/// are whole first, then the name (cut to fit, at least [`NAME_MIN`]), and the bar gets what
/// is left (up to 40; none below 5). Only a terminal too narrow for the figures cuts them, at
/// the edge rather than wrapped: a wrapped line is left behind when the bar is cleared.
fn layout(columns: usize, name: &str, figures: usize, bar: bool) -> (String, String) {
    let gap = if bar { " ".len() } else { " x ".len() };
    let room = columns.saturating_sub(figures + gap).clamp(NAME_MIN, NAME_MAX);
    let name: String = match name.chars().count() > room {
        true => name.chars().take(room - 1).chain(['…']).collect(),
        false => name.to_string(),
    };
    if !bar {
        return (name, "{prefix} {spinner} {wide_msg}".into());
    }
    let template = match columns.saturating_sub(name.chars().count() + " [] ".len() + figures).min(40) {
        width if width >= 5 => format!("{{prefix}} [{{bar:{width}}}] {{wide_msg}}"),
        _ => "{prefix} {wide_msg}".into(),
    };
    (name, template)
}

/// What the bar says once the user has asked to stop and the sessions are closing.
pub const CLOSING: &str = "closing (Ctrl-C again to quit)";

async fn tick(bar: ProgressBar, board: Board, stop: Stop) {
    let mut last: Vec<u64> = vec![0; board.devices.len()];
    loop {
        let now: Vec<u64> = board.devices.iter().map(|(_, p)| p.audio_ms.load(Ordering::Relaxed)).collect();
        let ms = now.iter().copied().max().unwrap_or(0);
        let bytes: u64 = board.devices.iter().map(|(_, p)| p.bytes.load(Ordering::Relaxed)).sum();
        bar.set_position(ms);
        let sending = match now.len() {
            1 => None,
            n => Some((now.iter().zip(&last).filter(|(a, b)| a > b).count(), n)),
        };
        match stop.requested() {
            Some(_) => bar.set_message(CLOSING),
            None => bar.set_message(figures(ms, bar.length(), bytes, sending)),
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fits_the_terminal_and_shrinks_before_the_figures() {
        let one = widest_figures(Some(Duration::from_secs(2)), 1);
        assert_eq!(layout(60, "cam", one, true), ("cam".into(), "{prefix} [{bar:23}] {wide_msg}".into()));
        assert_eq!(layout(120, "cam", one, true).1, "{prefix} [{bar:40}] {wide_msg}");
        // Three devices at 80 columns (78 for the line): `, 3 of 3 sending` fits whole.
        let three = widest_figures(Some(Duration::from_millis(2200)), 3);
        let shown = figures(2200, Some(2200), 3 * 2200 * 96, Some((3, 3)));
        assert!(shown.chars().count() <= three, "{shown:?} wider than {three}");
        let (name, template) = layout(78, "3 devices", three, true);
        let bar: usize = template.trim_start_matches("{prefix} [{bar:").split('}').next().unwrap().parse().unwrap();
        assert_eq!(name.chars().count() + " [] ".len() + bar + three, 78, "{template}");
        // A long name is cut before the figures; the bar goes when nothing is left for it.
        let (name, template) = layout(48, "http://127.0.0.1:46081", one, true);
        assert_eq!((name.chars().count() + 1 + one, template.as_str()), (48, "{prefix} {wide_msg}"), "{name}");
        assert!(name.ends_with('…'));
        assert!(one >= CLOSING.len() && one >= figures(2000, Some(2000), 2 * 96 * 1024, None).len());
    }
}
