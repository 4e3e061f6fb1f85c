//! `hiktalk play`: a file or stdin, decoded, resampled, encoded and paced to the cameras. `say`
//! comes this way too, with the spoken text as the file.

use super::{Context, fleet};
use crate::audio::decode::{Input, RawFormat};
use crate::cli::{Login, PlayArgs, TalkArgs};
use crate::feed::file::Opened;
use crate::job::Events;
pub use crate::job::open_input;
use crate::outcome::Outcome;
use crate::session::{Progress, Stop};
use indicatif::{ProgressBar, ProgressStyle};
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
    let opened = open_input(&input, d.raw, &ctx.stop).await?;
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
    let outcome = crate::job::play(opened, members, talk_args, repeat, ctx, Events::default(), |name| board.progress(name)).await;
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
        let devices = Arc::new(names.into_iter().map(|n| (n, Arc::new(Progress::default()))).collect());
        Board { devices, bar: interactive.then(|| crate::output::show_live(progress_bar(&label, total))) }
    }

    fn progress(&self, name: &str) -> Arc<Progress> {
        self.devices.iter().find(|(n, _)| n == name).map(|(_, p)| p.clone()).unwrap_or_default()
    }
}

/// The longest device name the bar shows; the bar is one line, whatever the names.
const NAME_MAX: usize = 24;
/// Room the figures after the bar need (`12.3 s / 45.6 s, 123 KiB sent`).
const FIGURES: usize = 30;

fn progress_bar(name: &str, total: Option<Duration>) -> ProgressBar {
    let name: String = match name.chars().count() > NAME_MAX {
        true => name.chars().take(NAME_MAX - 1).chain(['…']).collect(),
        false => name.to_string(),
    };
    let columns = crossterm::terminal::size().map_or(80, |(c, _)| usize::from(c));
    let bar = match total {
        Some(t) => ProgressBar::new(t.as_millis() as u64).with_style(
            ProgressStyle::with_template(&template(columns, name.chars().count()))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{prefix} {spinner} {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())),
    };
    bar.set_prefix(name);
    bar
}

/// The bar's template on a terminal `columns` wide: the bar gets what the name and the
/// figures leave (up to 40), and the figures are cut at the edge rather than wrapped: a
/// wrapped line is left behind on the terminal when the bar is cleared.
fn template(columns: usize, name: usize) -> String {
    match columns.saturating_sub(name + " [] ".len() + FIGURES).min(40) {
        width if width >= 5 => format!("{{prefix}} [{{bar:{width}}}] {{wide_msg}}"),
        _ => "{prefix} {wide_msg}".into(),
    }
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
        let total = bar.length().map(|t| format!(" / {:.1} s", t as f64 / 1000.0)).unwrap_or_default();
        let sending = match now.len() {
            1 => String::new(),
            n => format!(", {} of {n} sending", now.iter().zip(&last).filter(|(a, b)| a > b).count()),
        };
        match stop.requested() {
            Some(_) => bar.set_message(CLOSING),
            None => bar.set_message(format!("{:.1} s{total}, {} KiB sent{sending}", ms as f64 / 1000.0, bytes / 1024)),
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fits_the_terminal() {
        assert_eq!(template(60, 3), "{prefix} [{bar:23}] {wide_msg}");
        assert_eq!(template(120, 3), "{prefix} [{bar:40}] {wide_msg}");
        assert_eq!(template(40, 24), "{prefix} {wide_msg}");
    }
}
