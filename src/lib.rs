//! hiktalk: talk through Hikvision cameras, doorbells and NVRs over ISAPI two-way audio.
//!
//! The data path reads as one line: a source (`feed::file`, `feed::mic`) -> the `feed` (decode or
//! capture, resample, encode once per codec) -> `session`s (paced from one `session::clock`,
//! uploaded over `isapi`, closed explicitly) -> the `outcome` (one line or one JSON object, by
//! `output`). `audio` and `codec` are the signal processing the feed uses; `commands` compose
//! it all per subcommand; `sim` is the simulated device the tests (and the `sim` camera) use.

pub mod audio;
pub mod check;
pub mod cli;
pub mod codec;
pub mod commands;
pub mod config;
pub mod feed;
pub mod isapi;
pub mod job;
pub mod listen;
pub mod outcome;
pub mod output;
pub mod prompt;
pub mod quirks;
pub mod serve;
pub mod session;
pub mod sim;
pub mod watch;
