//! Audio in: file/stdin decoding, microphone capture, resampling and real-time pacing.

pub mod capture;
pub mod decode;
pub mod pacer;
pub mod resample;
pub mod shape;
