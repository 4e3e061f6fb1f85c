//! hiktalk: talk through Hikvision cameras, doorbells and NVRs over ISAPI two-way audio.
//!
//! The data path is `audio` (sources, resampling, pacing) -> `codec` (wire encoding) ->
//! `isapi` (HTTP, Digest, the raw audioData connection), driven by `session` (the lifecycle and
//! why it ended). `sim` is a simulated device used by the tests and as the `sim` camera.

pub mod audio;
pub mod cli;
pub mod codec;
pub mod commands;
pub mod config;
pub mod isapi;
pub mod outcome;
pub mod output;
pub mod session;
pub mod sim;
