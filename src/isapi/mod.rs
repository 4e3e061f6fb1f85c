//! The device protocol: ISAPI over HTTP with Digest auth. Knows nothing about sound.

pub mod alert;
pub mod auth;
pub mod client;
pub mod download;
pub mod error;
pub mod intercom;
pub mod path;
pub(crate) mod raw;
pub mod text;
pub mod tls;
pub mod upload;
pub mod xml;

pub use auth::Credentials;
pub use client::{Device, Endpoint, Timeouts};
pub use download::{Download, DownloadEnd};
pub use error::IsapiError;
pub use upload::{Framing, SendError, Upload, UploadEnd};
