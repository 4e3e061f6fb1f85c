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
}
