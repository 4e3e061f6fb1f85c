//! Audio in and out: file/stdin decoding, microphone capture, playback, resampling, real-time
//! pacing and echo cancellation.

pub mod apm;
pub mod capture;
pub mod decode;
pub mod devices;
pub mod echo;
pub mod local_echo;
pub mod pacer;
pub mod playback;
pub mod resample;
pub mod sample_clock;
pub mod shape;
pub mod speech;
