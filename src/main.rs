use clap::Parser;

fn main() {
    std::process::exit(hiktalk::commands::run(hiktalk::cli::Cli::parse()));
}
