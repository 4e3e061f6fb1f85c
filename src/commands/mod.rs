//! One file per subcommand, each a short composition of config, isapi, audio and session. This
//! file parses the command line, runs the command, and hands its [`Outcome`] to the output.

pub mod answer;
pub mod check;
pub mod close;
pub mod devices;
pub mod doorbell;
pub mod events;
pub mod fleet;
pub mod listen;
pub mod play;
pub mod say;
pub mod sim;
pub mod speak;
pub mod status;
pub mod volume;

use crate::cli::{Cli, Command, Login};
use crate::config::{self, PasswordSources, Target};
use crate::isapi::intercom::CallCmd;
use crate::isapi::{Credentials, Device, Timeouts, tls::Trust};
use crate::outcome::{Ending, Outcome, exit};
use crate::output::Output;
use crate::session::{Report, Stop};
use crate::sim::{SimConfig, SimHandle};
use clap::Parser;
use std::ffi::OsString;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

/// What every command gets besides its own arguments.
pub struct Context {
    pub config: Option<PathBuf>,
    pub out: Output,
    pub stop: Stop,
}

/// A device ready for requests, and the embedded simulator behind it when the camera is `sim`.
pub struct Connected {
    pub device: Device,
    pub name: String,
    pub channel: Option<String>,
    pub codec: Option<crate::codec::Codec>,
    pub sim: Option<SimHandle>,
}

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
    // Playing and asking are waiting: on a timer, a socket, a thread's chunk. One thread does
    // it without waking another for every frame (a worker pool cost a stream ~2.5 context
    // switches per 20 ms frame). A call runs two real-time directions that must not wait for
    // each other, and the simulator serves many devices at once: they get the pool.
    let builder = match cli.command {
        Command::Sim(_) | Command::Speak(_) | Command::Listen(_) | Command::Answer(_) => tokio::runtime::Builder::new_multi_thread(),
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

/// The session options `play` and `speak` share, from their flags and the camera's settings.
fn talk_options(
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
fn session_options(args: &crate::cli::SessionArgs, channel: Option<String>) -> crate::session::TalkOptions {
    crate::session::TalkOptions { channel, take_over: args.take_over, retries: args.retries, ..crate::session::TalkOptions::default() }
}

/// What the camera name `sim` starts for a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimAs {
    /// The simulated camera (talk, listen, status, volume, events).
    Camera,
    /// A simulated door station (the doorbell commands), in the call state the command acts on.
    DoorStation(SimCall),
}

/// The simulated door station's call when the command starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimCall {
    Idle,
    /// A visitor rings (`answer`, `reject`).
    Ringing,
    /// The call was answered on the indoor station (`hangup`).
    OnCall,
    /// A visitor rings this long after the start (`wait-ring`).
    RingsIn(Duration),
}

/// Resolves one camera argument (not a group), gathers its password, and (for `sim`) starts
/// the simulated camera.
pub async fn connect(camera: &str, login: &Login, ctx: &Context) -> anyhow::Result<Connected> {
    connect_as(camera, login, ctx, SimAs::Camera).await
}

/// [`connect`], with `sim` started as `sim_as` says.
pub async fn connect_as(camera: &str, login: &Login, ctx: &Context, sim_as: SimAs) -> anyhow::Result<Connected> {
    let target = config::resolve(camera, ctx.config.as_deref())?;
    let stdin = if login.password_stdin { Some(read_password_line()?) } else { None };
    connect_target(target, login, stdin.as_deref(), ctx, sim_as).await
}

/// Connects to a resolved camera; `stdin`: the password read with --password-stdin.
async fn connect_target(target: Target, login: &Login, stdin: Option<&str>, ctx: &Context, sim_as: SimAs) -> anyhow::Result<Connected> {
    let timeouts = Timeouts {
        connect: Duration::from_secs_f64(login.connect_timeout),
        request: Duration::from_secs_f64(login.timeout),
        ..Timeouts::default()
    };
    match target {
        Target::Sim => {
            let sim_config = match sim_as {
                SimAs::Camera => SimConfig::default(),
                SimAs::DoorStation(call) => SimConfig {
                    profile: crate::sim::Profile::Doorbell,
                    ring_at: match call {
                        SimCall::RingsIn(after) => vec![after],
                        _ => Vec::new(),
                    },
                    ..SimConfig::default()
                },
            };
            let creds = Credentials::new(sim_config.user.clone(), sim_config.password.clone());
            let sim = crate::sim::start(sim_config).await?;
            let endpoint = crate::isapi::Endpoint { https: false, host: sim.addr().ip().to_string(), port: sim.addr().port() };
            let what = match sim_as {
                SimAs::Camera => "camera".to_string(),
                SimAs::DoorStation(SimCall::Idle) => "door station".to_string(),
                SimAs::DoorStation(SimCall::Ringing) => {
                    sim.ring();
                    "door station (a visitor rings)".to_string()
                }
                SimAs::DoorStation(SimCall::OnCall) => {
                    sim.ring();
                    sim.answer();
                    "door station (in a call answered on the indoor station)".to_string()
                }
                SimAs::DoorStation(SimCall::RingsIn(after)) => format!("door station (a visitor rings in {} s)", after.as_secs()),
            };
            ctx.out.note(&format!("started the simulated {what} on http://{}", sim.addr()));
            let device = Device::new(endpoint, creds, Trust::Unpinned, timeouts)?.traced(ctx.out.verbose);
            Ok(Connected { device, name: "sim".into(), channel: login.channel.clone(), codec: None, sim: Some(sim) })
        }
        Target::Camera(mut cam) => {
            if cam.url_password.is_some() {
                ctx.out.warn("a password in the URL is visible to other users of this machine; prefer HIKTALK_PASSWORD or the config file");
            }
            if let Some(w) = config::exposed_password_file(&cam) {
                ctx.out.warn(&w);
            }
            if let Some(u) = &login.user {
                cam.user = u.clone();
            }
            if let Some(fp) = &login.tls_fingerprint {
                cam.trust = Trust::pinned(fp).map_err(|message| config::ConfigError::Invalid { camera: cam.name.clone(), message })?;
            } else if login.insecure {
                cam.trust = Trust::Any;
            }
            let password = config::password(&cam, &PasswordSources::from_env(stdin.map(str::to_string)))?;
            let creds = Credentials::new(cam.user.clone(), password);
            let device = Device::new(cam.endpoint.clone(), creds, cam.trust.clone(), timeouts)?.traced(ctx.out.verbose);
            Ok(Connected { device, name: cam.name, channel: login.channel.clone().or(cam.channel), codec: cam.codec, sim: None })
        }
    }
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(config::ConfigError::Prompt)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
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
