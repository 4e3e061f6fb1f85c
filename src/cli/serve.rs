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
    /// Requests handled at once; more wait
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_requests: usize,
    /// How every session logs in (the cameras' own settings from the config come first)
    #[command(flatten)]
    pub login: Login,
    /// How every session talks
    #[command(flatten)]
    pub talk: TalkArgs,
}
