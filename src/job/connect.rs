//! Connecting to the cameras a job names: each resolved from the config (or a URL, or `sim`),
//! its password gathered, and (for `sim`) the simulated device started.

use super::Context;
use crate::cli::Login;
use crate::config::{self, PasswordSources, Target};
use crate::isapi::{Credentials, Device, Timeouts, tls::Trust};
use crate::sim::{SimConfig, SimHandle};
use std::io::BufRead;
use std::time::Duration;

/// A device ready for requests, and the embedded simulator behind it when the camera is `sim`.
pub struct Connected {
    pub device: Device,
    pub name: String,
    pub channel: Option<String>,
    pub codec: Option<crate::codec::Codec>,
    pub sim: Option<SimHandle>,
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
pub async fn connect_target(target: Target, login: &Login, stdin: Option<&str>, ctx: &Context, sim_as: SimAs) -> anyhow::Result<Connected> {
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

pub fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(config::ConfigError::Prompt)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
