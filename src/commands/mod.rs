//! One file per subcommand, each a short composition of config, isapi, audio and session. This
//! file parses the command line, runs the command, and hands its [`Outcome`] to the output.

pub mod answer;
pub mod check;
pub mod close;
pub mod devices;
pub mod doorbell;
pub mod events;
pub mod listen;
pub mod play;
pub mod say;
pub mod serve;
pub mod sim;
pub mod speak;
pub mod status;
pub mod volume;

// The orchestration the commands compose lives in `job`, below every front end.
pub use crate::job::{Connected, Context, SimAs, SimCall, connect, connect_as, finish, fleet, session_options, talk_options};

use crate::cli::{Cli, Command};
use crate::config;
use crate::isapi::intercom::CallCmd;
use crate::outcome::{Ending, Outcome, exit};
use crate::output::Output;
use crate::session::Stop;
use clap::Parser;
use std::ffi::OsString;
use std::time::Duration;

/// The process: parses `args`, runs the command, reports, and returns the exit code. Every way
/// out, a usage error and a panic included, prints exactly one JSON object under `--json`.
pub fn main(args: Vec<OsString>) -> i32 {
    crate::outcome::install_panic_hook();
    // `COMPLETE=bash hiktalk` prints the completion script; the script calls back the same way.
    let completer = clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command);
    if std::env::var_os("COMPLETE").is_some() {
        crate::cli::complete::config_on_line(&args);
    }
    match completer.try_complete(&args, std::env::current_dir().ok().as_deref()) {
        Ok(true) => return exit::OK,
        Ok(false) => {}
        Err(e) => {
            let _ = e.print();
            return exit::USAGE;
        }
    }
    // Known before parsing, so that even a usage error is reported as JSON.
    let json = args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if json && e.kind() == clap::error::ErrorKind::DisplayVersion => {
            return Output { json, ..Output::default() }.report(&build_outcome());
        }
        Err(e) if !json || !e.use_stderr() => {
            // Help and version go to stdout with exit 0; usage errors to stderr with exit 2.
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
        Err(e) => {
            let detail = e.render().to_string().trim_start_matches("error: ").trim_end().to_string();
            return Output { json, ..Output::default() }.report(&Outcome::new(None, Ending::Usage { detail }));
        }
    };
    let out = Output { quiet: cli.quiet, json: cli.json, verbose: cli.verbose };
    match std::panic::catch_unwind(|| run(cli, out)) {
        Ok(code) => code,
        Err(_) => {
            let detail = crate::outcome::take_panic().unwrap_or_else(|| "a panic".into());
            out.report(&Outcome::new(None, Ending::Internal { detail }))
        }
    }
}

/// `--version --json`: what was built, as one outcome object.
fn build_outcome() -> Outcome {
    let features: Vec<&str> =
        [("aac", cfg!(feature = "aac")), ("opus", cfg!(feature = "opus")), ("echo-cancel", cfg!(feature = "echo-cancel"))]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
    let build = serde_json::json!({ "name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION"), "features": features });
    Outcome::new(None, Ending::Done).with_figures(&build)
}

/// Runs a parsed command line and returns the process exit code.
fn run(cli: Cli, out: Output) -> i32 {
    // Playing, asking and a call are waiting: on a timer, a socket, a thread's chunk. One
    // thread does it without waking another for every frame (a worker pool cost a stream ~2.5
    // context switches per 20 ms frame, a full-duplex call 860 a second and 3% of a core); a
    // call's two directions take microseconds per frame, so neither waits on the other (the
    // capture, the output and the listen writer have threads of their own). The simulator
    // serves many devices at once and `serve` many clients: they get the pool.
    let builder = match cli.command {
        Command::Sim(_) | Command::Serve(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            let detail = format!("cannot start the async runtime: {e}");
            return out.report(&Outcome::new(None, Ending::Internal { detail }));
        }
    };
    let cameras = cli.command.cameras();
    let device = (!cameras.is_empty()).then(|| cameras.iter().map(|c| config::display_name(c)).collect::<Vec<_>>().join(", "));
    // The command runs as a task, not as block_on's own future: waking that future from a task
    // goes through the driver's eventfd even on its own thread, once per frame.
    let command = async move {
        let stop = match Stop::install() {
            Ok(stop) => stop,
            Err(e) => return Outcome::failed(device, &anyhow::anyhow!("cannot install the signal handlers: {e}")),
        };
        let ctx = Context { config: cli.config, out, stop };
        let result = match cli.command {
            Command::Play(args) => play::run(args, &ctx).await,
            Command::Say(args) => say::run(args, &ctx).await,
            Command::Speak(args) => speak::run(args, &ctx).await,
            Command::Listen(args) => listen::run(args, &ctx).await,
            // The signal handlers swallow SIGINT/SIGTERM/SIGHUP, so the one-shot commands must
            // watch for them too, or Ctrl-C on a device that does not answer waits out the timeout.
            Command::Status(args) => interruptible(&ctx.stop, device.clone(), status::run(args, &ctx)).await,
            Command::Close(args) => interruptible(&ctx.stop, device.clone(), close::run(args, &ctx)).await,
            Command::Answer(args) => answer::run(args, &ctx).await,
            Command::Hangup(args) => interruptible(&ctx.stop, device.clone(), doorbell::signal(args, CallCmd::HangUp, &ctx)).await,
            Command::Reject(args) => interruptible(&ctx.stop, device.clone(), doorbell::signal(args, CallCmd::Reject, &ctx)).await,
            Command::Unlock(args) => interruptible(&ctx.stop, device.clone(), doorbell::unlock(args, &ctx)).await,
            Command::Volume(args) => interruptible(&ctx.stop, device.clone(), volume::run(args, &ctx)).await,
            Command::WaitRing(args) => doorbell::wait_ring(args, &ctx).await,
            Command::Events(args) => events::run(args, &ctx).await,
            // Not `interruptible`: a stop reaches the talk session, which closes what it opened.
            Command::Check(args) => check::run(args, &ctx).await,
            Command::Devices => devices::run(),
            Command::Sim(args) => sim::run(*args, &ctx).await,
            Command::Serve(args) => serve::run(*args, &ctx).await,
        };
        result.unwrap_or_else(|e| Outcome::failed(device, &e))
    };
    let outcome = match runtime.block_on(async { tokio::spawn(command).await }) {
        Ok(outcome) => outcome,
        // A panic is `main`'s to report, as if the command had run on this thread.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Outcome::new(None, Ending::Internal { detail: e.to_string() }),
    };
    // Don't let a blocked stdin reader (the decode thread) hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(100));
    out.report(&outcome)
}

/// Runs a one-shot command unless the user stops it. A stop cuts its request short: what that
/// may leave on the device (what the command holds on `stop`) is said with the command that
/// clears it, on the line and as `left` in the JSON.
async fn interruptible(stop: &Stop, device: Option<String>, f: impl Future<Output = anyhow::Result<Outcome>>) -> anyhow::Result<Outcome> {
    tokio::select! {
        r = f => r,
        // Read while the request is still in flight: once select! picks this arm, it is dropped.
        (s, left) = async { (stop.wait().await, stop.left_behind()) } => {
            let ending = Ending::UserStop { signal: s.to_string() };
            if left.is_empty() {
                return Err(ending.into());
            }
            let mut outcome = Outcome::new(device, ending).with_figures(&serde_json::json!({ "left": left }));
            outcome.line = Some(format!("stopped by {s} before the device answered; {}", left.join("; ")));
            Ok(outcome)
        }
    }
}
