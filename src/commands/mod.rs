//! One file per subcommand, each a short composition of config, isapi, audio and session.

pub mod close;
pub mod devices;
pub mod play;
pub mod sim;
pub mod speak;
pub mod status;

use crate::cli::CameraArgs;
use crate::config::{self, PasswordSources, Target};
use crate::isapi::{Credentials, Device, Timeouts, tls::Trust};
use crate::session::Report;
use crate::sim::{SimConfig, SimHandle};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

/// A device ready for requests, and the embedded simulator behind it when the camera is `sim`.
pub struct Connected {
    pub device: Device,
    pub name: String,
    pub channel: Option<String>,
    pub codec: Option<crate::codec::Codec>,
    pub sim: Option<SimHandle>,
}

/// How the process reports: quiet, JSON, progress on a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub quiet: bool,
    pub json: bool,
}

impl Output {
    /// Progress bars and meters only on a terminal, and not with --quiet or --json.
    pub fn interactive(&self) -> bool {
        !self.quiet && !self.json && std::io::stderr().is_terminal()
    }

    /// A status line on stderr unless --quiet.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("hiktalk: {msg}");
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
        channel,
        codec: talk.codec.or(codec),
        set_codec: talk.set_codec,
        keep_codec: talk.keep_codec,
        take_over: talk.take_over,
        retries: talk.retries,
        progress: Some(progress),
        ..crate::session::TalkOptions::default()
    }
}

/// Resolves the camera, gathers its password, and (for `sim`) starts the simulated device.
pub async fn connect(args: &CameraArgs, config_path: Option<&Path>, stdin_is_audio: bool, out: Output) -> anyhow::Result<Connected> {
    let timeouts = Timeouts {
        connect: Duration::from_secs_f64(args.connect_timeout),
        request: Duration::from_secs_f64(args.timeout),
        ..Timeouts::default()
    };
    if args.password_stdin && stdin_is_audio {
        return Err(config::ConfigError::Invalid {
            camera: args.camera.clone(),
            message: "--password-stdin cannot be used while stdin carries the audio (`play -`); use HIKTALK_PASSWORD or the config".into(),
        }
        .into());
    }
    match config::resolve(&args.camera, config_path)? {
        Target::Sim => {
            let sim_config = SimConfig::default();
            let creds = Credentials::new(sim_config.user.clone(), sim_config.password.clone());
            let sim = crate::sim::start(sim_config).await?;
            let endpoint = crate::isapi::Endpoint { https: false, host: sim.addr().ip().to_string(), port: sim.addr().port() };
            out.note(&format!("started the simulated camera on http://{}", sim.addr()));
            let device = Device::new(endpoint, creds, Trust::Unpinned, timeouts)?;
            Ok(Connected { device, name: "sim".into(), channel: args.channel.clone(), codec: None, sim: Some(sim) })
        }
        Target::Camera(mut cam) => {
            if cam.url_password.is_some() {
                eprintln!(
                    "hiktalk: warning: a password in the URL is visible to other users of this machine; prefer HIKTALK_PASSWORD or the config file"
                );
            }
            if let Some(u) = &args.user {
                cam.user = u.clone();
            }
            if let Some(fp) = &args.tls_fingerprint {
                cam.trust = Trust::pinned(fp).map_err(|message| config::ConfigError::Invalid { camera: cam.name.clone(), message })?;
            } else if args.insecure {
                cam.trust = Trust::Any;
            }
            let stdin = if args.password_stdin { Some(read_password_line()?) } else { None };
            let password = config::password(&cam, &PasswordSources::from_env(stdin))?;
            let device = Device::new(cam.endpoint.clone(), Credentials::new(cam.user.clone(), password), cam.trust.clone(), timeouts)?;
            Ok(Connected { device, name: cam.name, channel: args.channel.clone().or(cam.channel), codec: cam.codec, sim: None })
        }
    }
}

fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Prints the outcome (one human line on stderr, or JSON on stdout) and the simulator's summary.
pub async fn finish(report: &Report, verb: &str, stop_is_normal: bool, out: Output, sim: Option<SimHandle>) -> i32 {
    let code = report.ending.exit_code(stop_is_normal);
    if out.json {
        let mut line = serde_json::to_value(report).unwrap_or_default();
        line["exit_code"] = code.into();
        // A closed stdout (`| head`) is not an error worth a panic.
        let _ = writeln!(std::io::stdout(), "{line}");
    } else if !out.quiet || code != 0 {
        eprintln!("hiktalk: {}", human(report, verb));
    }
    if let Some(sim) = sim {
        let summary = sim.shutdown().await;
        if !out.quiet && !out.json {
            eprintln!("hiktalk: simulated camera: {summary}");
        }
    }
    code
}

fn human(r: &Report, verb: &str) -> String {
    let mut s = r.device.clone();
    if let Some(ch) = &r.channel {
        s.push_str(&format!(" channel {ch}"));
    }
    if let Some(p) = &r.codec {
        s.push_str(&format!(" ({} {} Hz)", p.codec, p.sample_rate));
    }
    if r.sessions_opened > 0 {
        s.push_str(&format!(": {verb} {:.1} s", r.audio_seconds));
    }
    s.push_str(&format!("; {}", r.message));
    if r.retries > 0 {
        s.push_str(&format!(" (after {} reconnect{})", r.retries, if r.retries == 1 { "" } else { "s" }));
    }
    if r.sessions_opened > 0 {
        match &r.close_error {
            None => s.push_str("; session closed, device confirmed"),
            Some(e) => s.push_str(&format!("; {e}")),
        }
    }
    if let Some(c) = &r.codec_restored {
        s.push_str(&format!("; channel codec restored to {c}"));
    }
    s
}

/// Reports a failure that happened before any session (status, close): the reason and its code.
pub fn report_failure(name: &str, ending: &crate::session::Ending, out: Output) -> i32 {
    let code = ending.exit_code(false);
    if out.json {
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::json!({"device": name, "ending": ending, "message": ending.describe(), "exit_code": code})
        );
    } else {
        eprintln!("hiktalk: {name}: {}", ending.describe());
    }
    code
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: crate::cli::Cli) -> i32 {
    use crate::cli::Command;
    use crate::session::ending::exit;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hiktalk: error: cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let out = Output { quiet: cli.quiet, json: cli.json };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        let stop = crate::session::Stop::install()?;
        match cli.command {
            Command::Play(args) => play::run(args, config, out, stop).await,
            // The handlers above swallow SIGINT/SIGTERM/SIGHUP, so the one-shot commands must
            // watch for them too, or Ctrl-C on a device that does not answer waits out the timeout.
            Command::Status(args) => interruptible(&stop, status::run(args, config, out)).await,
            Command::Close(args) => interruptible(&stop, close::run(args, config, out)).await,
            Command::Devices => devices::run(out.json).map(|()| exit::OK),
            Command::Speak(args) => speak::run(args, config, out, stop).await,
            Command::Sim(args) => sim::run(args).await.map(|()| exit::OK),
        }
    });
    // Don't let a blocked stdin reader (the decode thread) hold the process open.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hiktalk: error: {e:#}");
            error_code(&e)
        }
    }
}

/// Runs a one-shot command (no session to close) unless the user stops it: then exit 130.
async fn interruptible(stop: &crate::session::Stop, f: impl std::future::Future<Output = anyhow::Result<i32>>) -> anyhow::Result<i32> {
    tokio::select! {
        r = f => r,
        s = stop.wait() => {
            eprintln!("hiktalk: stopped by {s}");
            Ok(crate::session::ending::exit::INTERRUPTED)
        }
    }
}

/// The documented exit code for an error that ended a command before any session.
fn error_code(e: &anyhow::Error) -> i32 {
    use crate::session::ending::exit;
    if e.downcast_ref::<config::ConfigError>().is_some() {
        exit::USAGE
    } else if e.downcast_ref::<crate::audio::decode::AudioError>().is_some()
        || e.downcast_ref::<crate::audio::capture::CaptureError>().is_some()
    {
        exit::INPUT
    } else if let Some(i) = e.downcast_ref::<crate::isapi::IsapiError>() {
        crate::session::Ending::from_isapi(i).exit_code(false)
    } else {
        exit::INTERNAL
    }
}
