//! The device protocol: ISAPI over HTTP with Digest auth. Knows nothing about sound.

pub mod xml;
