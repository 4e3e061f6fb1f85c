//! Files and stdin as a source: decoded on their own thread into mono PCM chunks.

use super::{Chunk, Pace, Source, SourceItem};
use crate::audio::decode::{self, AudioError, Input, RawFormat};
use crate::outcome::Ending;
use tokio::sync::mpsc;

/// Chunks decoded ahead of the clock: enough to ride out a slow decode, few enough that a stop
/// does not wait on a backlog (a chunk is about 0.1 s).
const AHEAD_CHUNKS: usize = 8;

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

    /// Starts the decoding thread. With `repeat`, the file is played again from the start at
    /// each end (stdin cannot be replayed).
    pub fn start(self, repeat: bool) -> Result<Source, Ending> {
        let Opened { input, raw, mut decoder, first } = self;
        let source = |rx| Source {
            rx,
            rate: decoder.sample_rate(),
            pace: if input == Input::Stdin { Pace::Pipe } else { Pace::File },
            duration: decoder.duration().filter(|_| !repeat),
        };
        let (tx, rx) = mpsc::channel(AHEAD_CHUNKS);
        let started = source(rx);
        let replay = repeat.then(|| input.clone()).filter(|i| *i != Input::Stdin);
        std::thread::Builder::new()
            .name("hiktalk-decode".into())
            .spawn(move || {
                let mut chunk = Some(first);
                let result: Result<(), AudioError> = (|| {
                    loop {
                        match chunk.take() {
                            Some(samples) => {
                                if tx.blocking_send(SourceItem::Chunk(Chunk { samples, captured: None })).is_err() {
                                    return Ok(());
                                }
                            }
                            None => match &replay {
                                Some(input) => decoder = decode::open(input, raw)?,
                                None => return Ok(()),
                            },
                        }
                        chunk = decoder.next_chunk()?;
                    }
                })();
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
