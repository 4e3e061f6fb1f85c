//! One session's listening: the device's microphone stream (`isapi::download`) decoded with its
//! codec and handed to the listener, until the user stops, the requested time is up, or the
//! device ends the stream.
//!
//! The stream is read at the pace of the audio it carries: a device that sends faster than real
//! time (a replayed buffer, a broken clock, a hostile one) is read no faster than its codec's
//! rate allows, plus [`LEAD`]; TCP holds the device back meanwhile. That is said once. With an
//! end time, no more audio is handed on than fits before it, so `listen --duration 5 -o` writes
//! at most 5 s of audio, never whatever arrived in that time.

use super::{Announce, Stop};
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
    /// The device sent audio faster than real time, and was read at real time.
    pub too_fast: bool,
}

/// How far ahead of real time the device's audio may run (a device's own buffering at the
/// start of a stream is a few hundred ms).
const LEAD: Duration = Duration::from_secs(1);

/// Listens until the end; returns why it ended.
pub async fn hear(
    download: &mut Download,
    params: CodecParams,
    inlet: &Inlet,
    stop: &Stop,
    until: Option<Instant>,
    announce: &Announce,
    heard: &mut Heard,
) -> Ending {
    let mut decoder = match codec::decoder(params) {
        Ok(d) => d,
        Err(e) => return Ending::Codec { detail: format!("the device's microphone stream: {e}") },
    };
    let mut wire = Vec::new();
    let mut pcm = Vec::new();
    let started = Instant::now();
    let far = started + Duration::from_secs(86_400 * 365);
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
                if let Some(until) = until {
                    let left = until.saturating_duration_since(started).saturating_sub(heard.audio);
                    let fits = (left.as_secs_f64() * f64::from(params.sample_rate)) as usize;
                    if fits == 0 {
                        return Ending::Done;
                    }
                    pcm.truncate(fits);
                }
                if !pcm.is_empty() {
                    heard.audio += Duration::from_secs_f64(pcm.len() as f64 / f64::from(params.sample_rate));
                    if let Err(ending) = inlet.send(std::mem::take(&mut pcm), params.sample_rate) {
                        return ending;
                    }
                    let due = started + heard.audio.saturating_sub(LEAD);
                    if due > Instant::now() {
                        if !heard.too_fast {
                            heard.too_fast = true;
                            announce(&format!(
                                "the device sends audio faster than real time; reading it at {} Hz, no faster",
                                params.sample_rate
                            ));
                        }
                        tokio::select! {
                            biased;
                            s = stop.wait() => return Ending::UserStop { signal: s.to_string() },
                            _ = sleep_until(until.unwrap_or(far)), if until.is_some() => return Ending::Done,
                            _ = sleep_until(due) => {}
                        }
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
