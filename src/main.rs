// Temporary entry point for the sim branch (parses only `hiktalk sim ...`); the lead's main.rs
// replaces it at merge.
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hiktalk")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Sim(hiktalk::cli::sim::SimArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Sim(args) => hiktalk::commands::sim::run(args).await,
    }
}
