//! Audio in: file/stdin decoding, microphone capture, resampling and real-time pacing.

pub mod capture;
pub mod decode;
pub mod devices;
pub mod pacer;
pub mod playback;
pub mod resample;
pub mod shape;
