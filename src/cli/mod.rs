//! Command-line definitions (clap derive). Completions and the man page are generated from here.

pub mod sim;
