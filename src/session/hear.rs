//! One session's listening: the device's microphone stream (`isapi::download`) decoded with its
//! codec and handed to the listener, until the user stops, the requested time is up, or the
//! device ends the stream.

use super::Stop;
use crate::codec::{self, CodecParams};
use crate::isapi::{Download, DownloadEnd};
use crate::listen::Inlet;
use crate::outcome::Ending;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// What one session heard.
#[derive(Debug, Default, Clone)]
pub struct Heard {
    pub bytes: u64,
    /// Audio decoded from the device.
    pub audio: Duration,
    /// Pieces of the stream the decoder refused (noise on the wire, or not the codec thought).
    pub decode_errors: u64,
}

/// Listens until the end; returns why it ended.
pub async fn hear(
    download: &mut Download,
    params: CodecParams,
    inlet: &Inlet,
    stop: &Stop,
    until: Option<Instant>,
    heard: &mut Heard,
) -> Ending {
    let mut decoder = match codec::decoder(params) {
        Ok(d) => d,
        Err(e) => return Ending::Codec { detail: format!("the device's microphone stream: {e}") },
    };
    let mut wire = Vec::new();
    let mut pcm = Vec::new();
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        wire.clear();
        let next = tokio::select! {
            biased;
            s = stop.wait() => return Ending::UserStop { signal: s.to_string() },
            _ = sleep_until(until.unwrap_or(far)), if until.is_some() => return Ending::Done,
            r = download.next(&mut wire) => r,
        };
        match next {
            Ok(()) => {
                heard.bytes += wire.len() as u64;
                pcm.clear();
                if decoder.decode(&wire, &mut pcm).is_err() {
                    heard.decode_errors += 1;
                }
                if !pcm.is_empty() {
                    heard.audio += Duration::from_secs_f64(pcm.len() as f64 / f64::from(params.sample_rate));
                    if let Err(ending) = inlet.send(std::mem::take(&mut pcm), params.sample_rate) {
                        return ending;
                    }
                }
            }
            // The device closed its microphone stream: it ended the session.
            Err(DownloadEnd::Closed) => return Ending::hangup(None, false),
            Err(DownloadEnd::Stalled { after }) => return Ending::stalled(after),
            Err(DownloadEnd::Failed { detail }) => return Ending::ConnectionReset { detail },
        }
    }
}
