//! `hiktalk say`: text to speech (espeak-ng), then exactly what `play` does with a file.

use super::Context;
use super::play::{Delivery, deliver};
use crate::audio::speech::{self, Voice};
use crate::cli::SayArgs;
use crate::outcome::{Ending, Outcome};

pub async fn run(args: SayArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let (text, voice) = (args.text.clone(), Voice { name: args.voice.clone(), rate: args.rate });
    // The speech is made before any device is touched: no engine, no session.
    let input = tokio::task::spawn_blocking(move || speech::synthesize(&text, &voice))
        .await
        .map_err(|e| Ending::Internal { detail: format!("the speech engine's thread failed: {e}") })??;
    let delivery = Delivery { cameras: &args.cameras, login: &args.login, talk: &args.talk, raw: None, repeat: args.repeat };
    deliver(input, delivery, ctx).await
}
