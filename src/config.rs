//! Cameras by name: the config file, URLs, and where each one's password comes from.
//!
//! The file is TOML at `$XDG_CONFIG_HOME/hiktalk/config.toml` (or `--config`/`HIKTALK_CONFIG`):
//!
//! ```toml
//! [cameras.frontdoor]
//! host = "192.168.1.64"      # or: url = "https://192.168.1.64:443/1"
//! user = "admin"
//! password_env = "FRONTDOOR_PASSWORD"   # or password_file = "~/.config/hiktalk/frontdoor.pw"
//! channel = "1"
//!
//! [groups.downstairs]        # usable wherever a camera is: every member, in parallel
//! cameras = ["frontdoor", "garage", "http://10.0.0.7"]
//! ```

use crate::codec::Codec;
use crate::isapi::Endpoint;
use crate::isapi::tls::Trust;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The camera name that starts the embedded simulated device.
pub const SIM: &str = "sim";

/// What can be wrong with the camera argument, the config file or the password. The messages
/// name what is wrong and what to try; the camera itself is named by the outcome line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}; check the path given with --config or HIKTALK_CONFIG")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("no camera named {name:?}: {hint}")]
    UnknownCamera { name: String, hint: String },
    #[error("the group {group:?} names {name:?}, which is no camera: {hint}; fix the group's cameras list")]
    UnknownMember { group: String, name: String, hint: String },
    #[error("{message}")]
    Invalid { camera: String, message: String },
    #[error("no password given: set {env_hint}HIKTALK_PASSWORD, use --password-stdin, or run hiktalk on a terminal to be asked")]
    NoPassword { camera: String, env_hint: String },
    #[error("cannot read the password file {path}: {source}; check the camera's password_file")]
    PasswordFile { camera: String, path: PathBuf, source: std::io::Error },
    #[error("cannot read the password: {0}")]
    Prompt(std::io::Error),
    #[error("the password {from} is empty: nothing was sent (every failed login counts toward the device's lockout); {fix}")]
    EmptyPassword { camera: String, from: String, fix: String },
    /// Ctrl-C at the password prompt: the user's stop, not a usage error.
    #[error("stopped at the password prompt")]
    Interrupted,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    cameras: BTreeMap<String, CameraConfig>,
    #[serde(default)]
    groups: BTreeMap<String, GroupConfig>,
}

/// One `[groups.NAME]` table: cameras by name or URL (not other groups).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupConfig {
    cameras: Vec<String>,
}

/// One `[cameras.NAME]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub scheme: Option<String>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub channel: Option<String>,
    pub codec: Option<String>,
    pub tls_fingerprint: Option<String>,
    #[serde(default)]
    pub insecure: bool,
    /// `serve` watches its device events (ring, call state, motion) for `/api/events`.
    #[serde(default)]
    pub events: bool,
}

/// A camera ready to connect to (apart from its password).
#[derive(Debug, Clone)]
pub struct Camera {
    /// What the user called it: the config name or the URL without credentials.
    pub name: String,
    pub endpoint: Endpoint,
    pub user: String,
    /// A password given inside the URL (accepted, with a warning).
    pub url_password: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub channel: Option<String>,
    pub codec: Option<Codec>,
    pub trust: Trust,
    /// `events = true`: `serve` watches it.
    pub events: bool,
}

/// What a camera argument names.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded simulator.
    Sim,
    Camera(Box<Camera>),
}

/// The default config path.
fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("hiktalk").join("config.toml"))
}

/// Where hiktalk keeps what it makes for itself (`serve --tls`'s certificate):
/// `$XDG_DATA_HOME/hiktalk` (`~/.local/share/hiktalk`), or the platform's data directory.
pub fn data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("hiktalk"))
}

/// Resolves a camera argument: `sim`, a URL, a config name, or a bare host.
pub fn resolve(arg: &str, config: Option<&Path>) -> Result<Target, ConfigError> {
    let (file, path) = read(config)?;
    resolve_in(arg, &file, path.as_deref())
}

/// The names of the configured cameras and groups, for shell completion: a missing or broken
/// config has none.
pub fn names(config: Option<&Path>) -> (Vec<String>, Vec<String>) {
    configured(config).unwrap_or_default()
}

/// The names of the configured cameras and groups (`serve`: the only ones it reaches).
pub fn configured(config: Option<&Path>) -> Result<(Vec<String>, Vec<String>), ConfigError> {
    let (file, _) = read(config)?;
    Ok((file.cameras.into_keys().collect(), file.groups.into_keys().collect()))
}

/// Resolves camera arguments, expanding groups, into the devices they name, each once (the
/// same device twice would find its own session busy).
pub fn resolve_all(args: &[String], config: Option<&Path>) -> Result<Vec<Target>, ConfigError> {
    let (file, path) = read(config)?;
    let mut targets: Vec<Target> = Vec::new();
    for arg in args {
        let (group, members) = match file.groups.get(arg) {
            Some(group) if !file.cameras.contains_key(arg) => {
                if group.cameras.is_empty() {
                    return Err(ConfigError::Invalid { camera: arg.clone(), message: format!("the group {arg:?} has no cameras") });
                }
                if let Some(inner) = group.cameras.iter().find(|m| file.groups.contains_key(m.as_str())) {
                    return Err(ConfigError::Invalid {
                        camera: arg.clone(),
                        message: format!("the group {arg:?} names the group {inner:?}; list its cameras instead"),
                    });
                }
                (Some(arg), group.cameras.clone())
            }
            _ => (None, vec![arg.clone()]),
        };
        for member in members {
            let target = resolve_in(&member, &file, path.as_deref()).map_err(|e| match (e, group) {
                (ConfigError::UnknownCamera { name, hint }, Some(group)) => ConfigError::UnknownMember { group: group.clone(), name, hint },
                (e, _) => e,
            })?;
            if !targets.iter().any(|t| t.same_device(&target)) {
                targets.push(target);
            }
        }
    }
    Ok(targets)
}

impl Target {
    /// The name hiktalk shows for it.
    pub fn name(&self) -> &str {
        match self {
            Target::Sim => SIM,
            Target::Camera(c) => &c.name,
        }
    }

    fn same_device(&self, other: &Target) -> bool {
        match (self, other) {
            (Target::Sim, Target::Sim) => true,
            (Target::Camera(a), Target::Camera(b)) => a.endpoint == b.endpoint && a.channel == b.channel,
            _ => false,
        }
    }
}

/// The config file (empty when the default one does not exist) and where it is.
fn read(config: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), ConfigError> {
    let (path, explicit) = match config {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (default_path(), false),
    };
    let file = match &path {
        Some(p) => load(p, explicit)?,
        None => FileConfig::default(),
    };
    if let Some(name) = file.groups.keys().find(|g| file.cameras.contains_key(*g)) {
        let path = path.clone().unwrap_or_default();
        return Err(ConfigError::Parse { path, message: format!("{name:?} is both a camera and a group; rename one") });
    }
    Ok((file, path))
}

fn resolve_in(arg: &str, file: &FileConfig, path: Option<&Path>) -> Result<Target, ConfigError> {
    if arg == SIM {
        return Ok(Target::Sim);
    }
    if arg.contains("://") {
        return from_url(arg, arg, &CameraConfig::default()).map(|c| Target::Camera(Box::new(c)));
    }
    if let Some(cam) = file.cameras.get(arg) {
        return from_table(arg, cam).map(|c| Target::Camera(Box::new(c)));
    }
    // A bare address (`192.168.1.64`, `cam.lan:8080`) works without a config entry.
    if arg.contains('.') || arg.contains(':') || arg == "localhost" {
        let url = format!("http://{arg}");
        return from_url(&url, &url, &CameraConfig::default()).map(|c| Target::Camera(Box::new(c)));
    }
    let known: Vec<&str> = file.cameras.keys().chain(file.groups.keys()).map(String::as_str).collect();
    let where_ = path.map(|p| p.display().to_string()).unwrap_or_else(|| "the config file".into());
    let hint = if known.is_empty() {
        format!("no cameras are configured in {where_}; give a URL like http://192.168.1.64 or `sim` for the simulated camera")
    } else {
        format!("{where_} has {}; or give a URL, or `sim`", known.join(", "))
    };
    Err(ConfigError::UnknownCamera { name: arg.to_string(), hint })
}

fn load(path: &Path, explicit: bool) -> Result<FileConfig, ConfigError> {
    match std::fs::read_to_string(path) {
        // toml's message quotes the offending line, which may hold a URL with a password.
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: redact(&e.to_string()) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(FileConfig::default()),
        Err(source) => Err(ConfigError::Read { path: path.into(), source }),
    }
}

fn from_table(name: &str, cam: &CameraConfig) -> Result<Camera, ConfigError> {
    if let Some(url) = &cam.url {
        return from_url(name, url, cam);
    }
    let host = cam.host.as_deref().ok_or_else(|| ConfigError::Invalid { camera: name.into(), message: "needs `host` or `url`".into() })?;
    let scheme = cam.scheme.as_deref().unwrap_or("http");
    let port = cam.port.map(|p| format!(":{p}")).unwrap_or_default();
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    from_url(name, &format!("{scheme}://{host}{port}"), cam)
}

fn from_url(name: &str, url: &str, cam: &CameraConfig) -> Result<Camera, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { camera: redact(name), message: redact(&message) };
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid(format!("not a valid camera URL ({e}); write it like http://192.168.1.64 or https://cam.lan:8443/1")))?;
    let https = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(invalid(format!("scheme {other:?} is not supported; use http or https"))),
    };
    let host = parsed.host_str().ok_or_else(|| invalid("the URL has no host".to_string()))?.trim_matches(['[', ']']).to_string();
    let port = parsed.port().unwrap_or(if https { 443 } else { 80 });
    let path_channel = parsed.path().trim_matches('/');
    let channel = match (path_channel.is_empty(), &cam.channel) {
        (false, _) if path_channel.chars().all(|c| c.is_ascii_alphanumeric()) => Some(path_channel.to_string()),
        (false, _) => {
            return Err(invalid(format!(
                "the URL path {:?} is not a talk channel id (letters and digits); end the URL with one, like http://192.168.1.64/1, or leave the path out",
                parsed.path()
            )));
        }
        (true, c) => c.clone(),
    };
    let user = if parsed.username().is_empty() { cam.user.clone().unwrap_or_else(|| "admin".into()) } else { decode(parsed.username()) };
    let codec = match &cam.codec {
        Some(c) => Some(c.parse::<Codec>().map_err(invalid)?),
        None => None,
    };
    let trust = match (&cam.tls_fingerprint, cam.insecure) {
        (Some(fp), _) => Trust::pinned(fp).map_err(invalid)?,
        (None, true) => Trust::Any,
        (None, false) => Trust::Unpinned,
    };
    let mut shown = parsed.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    let label = if name == url { shown.as_str().trim_end_matches('/').to_string() } else { name.to_string() };
    Ok(Camera {
        name: label,
        endpoint: Endpoint { https, host, port },
        user,
        url_password: parsed.password().map(decode),
        password_env: cam.password_env.clone(),
        password_file: cam.password_file.clone(),
        channel,
        codec,
        trust,
        events: cam.events,
    })
}

/// A camera argument as hiktalk shows it: a URL without its password.
pub fn display_name(arg: &str) -> String {
    match arg.contains("://") {
        true => redact(arg),
        // A bare `user:password@host` is a URL too (see `resolve`).
        false => redact(&format!("http://{arg}")).split_off("http://".len()),
    }
}

/// `text` with every password hidden: the password part of any `scheme://user:password@`
/// in it, and the value of any `password = ...` (TOML echoed by a parse error). Messages about
/// URLs and config files go through this when they are made; device text never does.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end =
            after.find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>') || c.is_whitespace()).unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@').and_then(|a| authority[..a].find(':').map(|c| (c, a))) {
            Some((colon, at)) => {
                out.push_str(&authority[..colon + 1]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    redact_password_values(&out)
}

/// Hides the value after `password` `=` (as TOML writes it) on each line.
fn redact_password_values(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let lower = line.to_ascii_lowercase();
            match lower.find("password").map(|p| p + "password".len()) {
                Some(key_end) if line[key_end..].trim_start().starts_with('=') => {
                    let eq = key_end + line[key_end..].find('=').unwrap_or(0);
                    let newline = if line.ends_with('\n') { "\n" } else { "" };
                    format!("{}= \"***\"{newline}", &line[..eq])
                }
                _ => line.to_string(),
            }
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Asks for a password on the terminal.
pub type Prompt = dyn Fn(&str) -> std::io::Result<String>;

/// Where the password may come from besides the camera's own settings.
pub struct PasswordSources<'a> {
    /// The password read from stdin (`--password-stdin`).
    pub stdin: Option<String>,
    /// `HIKTALK_PASSWORD`.
    pub env: Option<String>,
    /// Asks on the terminal; `None` when there is none.
    pub prompt: Option<&'a Prompt>,
}

impl PasswordSources<'_> {
    /// The process's real sources: `HIKTALK_PASSWORD` and a prompt when stdin is a terminal.
    pub fn from_env(stdin: Option<String>) -> PasswordSources<'static> {
        static PROMPT: fn(&str) -> std::io::Result<String> = crate::prompt::password;
        PasswordSources {
            stdin,
            env: std::env::var("HIKTALK_PASSWORD").ok(),
            prompt: std::io::stdin().is_terminal().then_some(&PROMPT as &Prompt),
        }
    }
}

/// The camera's password, by precedence: URL, `--password-stdin`, the camera's `password_env`,
/// its `password_file`, `HIKTALK_PASSWORD`, a terminal prompt.
/// An empty password is refused wherever it came from, before anything is sent: a device
/// counts it as a failed login toward its lockout.
pub fn password(camera: &Camera, sources: &PasswordSources) -> Result<String, ConfigError> {
    let empty = |from: String, fix: &str| ConfigError::EmptyPassword { camera: camera.name.clone(), from, fix: fix.into() };
    let given = |p: &str, from: String, fix: &str| if p.is_empty() { Err(empty(from, fix)) } else { Ok(p.to_string()) };
    if let Some(p) = &camera.url_password {
        return given(p, "in the URL".into(), "write it after the user (http://user:password@host), or leave the URL without one");
    }
    if let Some(p) = &sources.stdin {
        return given(p, "read from stdin (--password-stdin)".into(), "put it on the first line of stdin, e.g. `--password-stdin < file`");
    }
    if let Some(var) = &camera.password_env
        && let Ok(p) = std::env::var(var)
    {
        return given(&p, format!("in {var} (the camera's password_env)"), &format!("set {var} to the password, or unset it"));
    }
    if let Some(path) = &camera.password_file {
        let path = expand_home(path);
        let p = std::fs::read_to_string(&path)
            .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
            .map_err(|source| ConfigError::PasswordFile { camera: camera.name.clone(), path: path.clone(), source })?;
        return given(&p, format!("in {} (the camera's password_file)", path.display()), "write the password into the file");
    }
    if let Some(p) = &sources.env {
        return given(p, "in HIKTALK_PASSWORD".into(), "set HIKTALK_PASSWORD to the password, or unset it to be asked");
    }
    if let Some(ask) = sources.prompt {
        return match ask(&format!("Password for {}@{}: ", camera.user, camera.name)) {
            Ok(p) if p.is_empty() => Err(empty("typed at the prompt".into(), "type the password, or set HIKTALK_PASSWORD")),
            Ok(p) => Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Err(ConfigError::Interrupted),
            Err(e) => Err(ConfigError::Prompt(e)),
        };
    }
    let env_hint = camera.password_env.as_ref().map(|v| format!("{v} or ")).unwrap_or_default();
    Err(ConfigError::NoPassword { camera: camera.name.clone(), env_hint })
}

/// A warning when the camera's `password_file` can be read by other users (as ssh warns
/// about a private key), whether or not this run reads it: the password is exposed either way.
pub fn exposed_password_file(camera: &Camera) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = expand_home(camera.password_file.as_deref()?);
    let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!("the password file {} is readable by other users (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())
    })
}

fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), dirs::home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(target: Target) -> Camera {
        match target {
            Target::Camera(c) => *c,
            Target::Sim => panic!("expected a camera"),
        }
    }

    #[test]
    fn urls_carry_host_port_channel_and_credentials() {
        let c = cam(resolve("https://viewer:p%40ss@10.0.0.5:8443/2", None).unwrap());
        assert_eq!(c.endpoint, Endpoint { https: true, host: "10.0.0.5".into(), port: 8443 });
        assert_eq!(c.channel.as_deref(), Some("2"));
        assert_eq!(c.user, "viewer");
        assert_eq!(c.url_password.as_deref(), Some("p@ss"));
        assert_eq!(c.name, "https://10.0.0.5:8443/2");
        let c = cam(resolve("http://[::1]", None).unwrap());
        assert_eq!((c.endpoint.host.as_str(), c.endpoint.port, c.user.as_str()), ("::1", 80, "admin"));
        assert!(matches!(resolve("sim", None), Ok(Target::Sim)));
        assert!(matches!(resolve("ftp://x", None), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn config_names_resolve_and_unknown_names_list_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[cameras.frontdoor]\nhost = \"192.168.1.64\"\nport = 8080\nuser = \"op\"\nchannel = \"1\"\ncodec = \"alaw\"\npassword_file = \"pw\"\n").unwrap();
        let c = cam(resolve("frontdoor", Some(&path)).unwrap());
        assert_eq!(c.endpoint.base_url(), "http://192.168.1.64:8080");
        assert_eq!((c.user.as_str(), c.channel.as_deref(), c.codec), ("op", Some("1"), Some(Codec::G711Alaw)));
        let err = resolve("backyard", Some(&path)).unwrap_err().to_string();
        assert!(err.contains("frontdoor"), "{err}");
        std::fs::write(&path, "[cameras.x]\nhots = \"typo\"\n").unwrap();
        assert!(matches!(resolve("x", Some(&path)), Err(ConfigError::Parse { .. })));
        assert!(matches!(resolve("x", Some(&dir.path().join("missing.toml"))), Err(ConfigError::Read { .. })));
    }

    #[test]
    fn groups_expand_to_their_cameras_each_device_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[cameras.front]\nhost = \"10.0.0.1\"\n[cameras.garage]\nhost = \"10.0.0.2\"\n\
             [groups.all]\ncameras = [\"front\", \"garage\", \"http://10.0.0.3\"]\n[groups.bad]\ncameras = [\"all\"]\n",
        )
        .unwrap();
        let names = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            resolve_all(&args, Some(&path)).map(|t| t.iter().map(|t| t.name().to_string()).collect::<Vec<_>>())
        };
        assert_eq!(names(&["all"]).unwrap(), ["front", "garage", "http://10.0.0.3"]);
        // A device named twice (directly and through the group) is talked to once.
        assert_eq!(names(&["garage", "all", "http://10.0.0.1"]).unwrap(), ["garage", "front", "http://10.0.0.3"]);
        assert!(names(&["bad"]).unwrap_err().to_string().contains("names the group"));
        assert!(names(&["nope"]).unwrap_err().to_string().contains("all"), "groups are listed among the names");
        std::fs::write(&path, "[cameras.x]\nhost = \"10.0.0.1\"\n[groups.x]\ncameras = [\"x\"]\n").unwrap();
        assert!(names(&["x"]).unwrap_err().to_string().contains("both a camera and a group"));
        std::fs::write(&path, "[cameras.a]\nhost = \"10.0.0.1\"\n[groups.g]\ncameras = [\"a\", \"ghost\"]\n").unwrap();
        let e = names(&["g"]).unwrap_err().to_string();
        assert!(e.starts_with("the group \"g\" names \"ghost\", which is no camera"), "{e}");
    }

    #[test]
    fn passwords_are_redacted_from_urls_and_toml() {
        assert_eq!(redact("camera \"http://admin:PW@127.0.0.1:99999\": bad port"), "camera \"http://admin:***@127.0.0.1:99999\": bad port");
        assert_eq!(redact("ftp://admin:p@ss:w@host/x and https://u@h/"), "ftp://admin:***@host/x and https://u@h/");
        assert_eq!(redact("2 | url = \"http://a:PW@h:80\" x"), "2 | url = \"http://a:***@h:80\" x");
        assert_eq!(redact("  password = \"hunter2\"\nport = 1\n"), "  password = \"***\"\nport = 1\n");
        assert_eq!(redact("no secrets: http://host:80/1"), "no secrets: http://host:80/1");
        assert_eq!(redact("password_env = \"X\""), "password_env = \"X\"");
    }

    #[test]
    fn password_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let mut c = cam(resolve("http://cam.lan", None).unwrap());
        let none = PasswordSources { stdin: None, env: None, prompt: None };
        assert!(matches!(password(&c, &none), Err(ConfigError::NoPassword { .. })));
        let env = PasswordSources { stdin: None, env: Some("from-env".into()), prompt: None };
        assert_eq!(password(&c, &env).unwrap(), "from-env");
        c.password_file = Some(file);
        assert_eq!(password(&c, &env).unwrap(), "from-file");
        let stdin = PasswordSources { stdin: Some("from-stdin".into()), env: None, prompt: None };
        assert_eq!(password(&c, &stdin).unwrap(), "from-stdin");
        let ask = |_: &str| Ok("asked".to_string());
        let prompt = PasswordSources { stdin: None, env: None, prompt: Some(&ask) };
        c.password_file = None;
        assert_eq!(password(&c, &prompt).unwrap(), "asked");
    }

    #[test]
    fn the_prompt_refuses_an_empty_password_and_tells_a_ctrl_c() {
        let c = cam(resolve("http://cam.lan", None).unwrap());
        let empty = |_: &str| Ok(String::new());
        let sources = PasswordSources { stdin: None, env: None, prompt: Some(&empty) };
        assert!(matches!(password(&c, &sources), Err(ConfigError::EmptyPassword { .. })));
        for sources in [
            PasswordSources { stdin: Some(String::new()), env: Some("x".into()), prompt: None },
            PasswordSources { stdin: None, env: Some(String::new()), prompt: Some(&empty) },
        ] {
            let e = password(&c, &sources).unwrap_err();
            assert!(matches!(e, ConfigError::EmptyPassword { .. }) && e.to_string().contains("nothing was sent"), "{e}");
        }
        let ctrl_c = |_: &str| Err(std::io::Error::from(std::io::ErrorKind::Interrupted));
        let sources = PasswordSources { stdin: None, env: None, prompt: Some(&ctrl_c) };
        assert!(matches!(password(&c, &sources), Err(ConfigError::Interrupted)));
    }

    #[test]
    fn a_password_file_others_can_read_is_warned_about() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "x\n").unwrap();
        let mut c = cam(resolve("http://cam.lan", None).unwrap());
        c.password_file = Some(file.clone());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(exposed_password_file(&c), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let warning = exposed_password_file(&c).expect("a warning");
        assert!(warning.contains("0640") && warning.contains("chmod 600"), "{warning}");
    }
}
