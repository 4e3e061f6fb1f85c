//! `hiktalk serve`'s arguments.

use super::{Login, TalkArgs};
use clap::{Args, ValueHint};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback needs --token-file
    #[arg(long, default_value = "127.0.0.1:1984", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// File whose first line is the token every request but /healthz must send as
    /// `Authorization: Bearer TOKEN`
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub token_file: Option<PathBuf>,
    /// Serve HTTPS (browsers give the handset page a microphone only on a secure origin): with
    /// --tls-cert and --tls-key, that certificate; without, a self-signed one made on first use
    /// and kept in the data directory. Its SHA-256 fingerprint is printed at start
    #[arg(long)]
    pub tls: bool,
    /// The certificate chain for --tls, PEM
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires_all = ["tls", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires_all = ["tls", "tls_cert"])]
    pub tls_key: Option<PathBuf>,
    /// Largest audio upload accepted, in bytes
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Let API requests name a camera by URL (http://[user@]host[:port][/channel]) as the
    /// command line does; without it only the configured cameras and groups are reachable
    #[arg(long)]
    pub allow_urls: bool,
    /// Requests handled at once; more wait
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_requests: usize,
    /// How every session logs in (the cameras' own settings from the config come first)
    #[command(flatten)]
    pub login: Login,
    /// How every session talks
    #[command(flatten)]
    pub talk: TalkArgs,
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

/// `serve --mqtt`: the broker, and what the Home Assistant entities offer.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "MQTT (Home Assistant)")]
pub struct MqttArgs {
    /// Also publish and obey MQTT, with Home Assistant discovery: mqtt://[USER@]HOST[:PORT], or
    /// mqtts:// for TLS; the password from HIKTALK_MQTT_PASSWORD or --mqtt-password-file
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// File whose first line is the broker password
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "mqtt")]
    pub mqtt_password_file: Option<PathBuf>,
    /// PEM certificates of the authorities an mqtts:// broker is checked against [default: the
    /// system's]
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, requires = "mqtt")]
    pub mqtt_ca: Option<PathBuf>,
    /// Topic under which hiktalk's state, command and result topics live (and its client id:
    /// two serves on one broker want two topics)
    #[arg(long, default_value = "hiktalk", value_name = "TOPIC")]
    pub mqtt_topic: String,
    /// Home Assistant's discovery prefix
    #[arg(long, default_value = "homeassistant", value_name = "PREFIX")]
    pub mqtt_discovery_prefix: String,
    /// Announcements an MQTT command may queue behind the one a camera plays; more are refused
    /// as busy
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=7))]
    pub mqtt_queue: u8,
    /// Directory of sounds the `sound` entity plays by name (file names without their extension)
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath, requires = "mqtt")]
    pub sounds: Option<PathBuf>,
}
