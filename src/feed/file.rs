//! Files and stdin as a source: decoded on their own thread into mono PCM chunks.

use super::{Chunk, Pace, Source, SourceItem};
use crate::audio::decode::{self, AudioError, Input, RawFormat};
use crate::outcome::Ending;
use tokio::sync::mpsc;

/// Pieces decoded ahead of the clock: enough to ride out a slow decode, few enough that a stop
/// does not wait on a backlog.
const AHEAD_CHUNKS: usize = 8;
/// How much of a file goes to the clock at a time.
const PIECE: std::time::Duration = std::time::Duration::from_millis(400);

/// An input opened and proven to hold audio (its first chunk read), before any device is
/// touched: a bad file must not leave a session behind.
pub struct Opened {
    input: Input,
    raw: Option<RawFormat>,
    decoder: Box<dyn decode::Source>,
    first: Vec<f32>,
}

impl Opened {
    /// Opens `input` and reads its first chunk. Blocks (stdin waits for its writer).
    pub fn open(input: &Input, raw: Option<RawFormat>) -> Result<Opened, AudioError> {
        let mut decoder = decode::open(input, raw)?;
        let first = decoder.next_chunk()?.ok_or_else(|| AudioError::Empty { what: input.to_string() })?;
        Ok(Opened { input: input.clone(), raw, decoder, first })
    }

    /// How long the input plays, when its container says.
    pub fn duration(&self) -> Option<std::time::Duration> {
        self.decoder.duration()
    }

    /// Starts the decoding thread. With `repeat`, the file is played again from the start at
    /// each end (stdin cannot be replayed).
    pub fn start(self, repeat: bool) -> Result<Source, Ending> {
        let Opened { input, raw, mut decoder, first } = self;
        let source = |rx| Source {
            rx,
            rate: decoder.sample_rate(),
            pace: if input == Input::Stdin { Pace::Pipe } else { Pace::File },
            duration: decoder.duration().filter(|_| !repeat),
            playout: None,
        };
        let (tx, rx) = mpsc::channel(AHEAD_CHUNKS);
        let started = source(rx);
        let replay = repeat.then(|| input.clone()).filter(|i| *i != Input::Stdin);
        // A regular file goes over in pieces of PIECE (every piece wakes this thread and the
        // clock's); stdin, a FIFO or a device as it comes, since its writer may be live.
        let regular = match &input {
            Input::Path(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
            _ => false,
        };
        let piece = if regular { (f64::from(decoder.sample_rate()) * PIECE.as_secs_f64()) as usize } else { 0 };
        std::thread::Builder::new()
            .name("hiktalk-decode".into())
            .spawn(move || {
                let mut chunk = Some(first);
                let mut pending: Vec<f32> = Vec::new();
                let send = |samples: Vec<f32>| tx.blocking_send(SourceItem::Chunk(Chunk { samples, captured: None })).is_ok();
                let result: Result<(), AudioError> = (|| {
                    loop {
                        match chunk.take() {
                            Some(samples) => {
                                pending.extend_from_slice(&samples);
                                if pending.len() >= piece && !send(std::mem::take(&mut pending)) {
                                    return Ok(());
                                }
                            }
                            None => {
                                if !pending.is_empty() && !send(std::mem::take(&mut pending)) {
                                    return Ok(());
                                }
                                match &replay {
                                    Some(input) => decoder = decode::open(input, raw)?,
                                    None => return Ok(()),
                                }
                            }
                        }
                        chunk = decoder.next_chunk()?;
                    }
                })();
                // What decoded before a failure is still heard.
                if !pending.is_empty() {
                    send(pending);
                }
                let _ = tx.blocking_send(match result {
                    Ok(()) => SourceItem::End,
                    Err(e) => SourceItem::Failed(Ending::Input { detail: e.to_string() }),
                });
            })
            .map_err(|e| Ending::Internal { detail: format!("cannot start the decoder thread: {e}") })?;
        Ok(started)
    }

    pub fn describe(&self) -> String {
        self.decoder.describe()
    }
}
