//! Audio in: file/stdin decoding, microphone capture, resampling and real-time pacing.

pub mod capture;
