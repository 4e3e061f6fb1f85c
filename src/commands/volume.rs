//! `hiktalk volume`: shows a device's volumes, or sets one and reads it back.

use super::Context;
use crate::cli::VolumeArgs;
use crate::isapi::intercom::Volumes;
use crate::job::door::{Level, volume};
use crate::outcome::{Ending, Outcome};

pub async fn run(args: VolumeArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect(&args.camera, &args.login, ctx).await?;
    // A stop while a level is being set leaves it unknown: said, with how to look.
    let _setting =
        args.level.map(|_| ctx.stop.hold(format!("{n}: the volume may or may not be set: `hiktalk volume {n}` shows it", n = c.name)));
    let set = args.level.map(|level| Level { level, mic: args.mic, speaker: args.speaker });
    let result = volume(&c.device, c.channel.as_deref(), set).await.map(|(line, vols)| {
        let table = line.is_none().then(|| table(&vols));
        (line, table, vols)
    });
    let outcome = match result {
        Ok((line, table, vols)) => {
            let mut o = Outcome::new(Some(c.name.clone()), Ending::Done).with_figures(&serde_json::json!({ "volumes": vols }));
            o.line = line.map(|l| format!("{}: {l}", c.name));
            o.stdout = table;
            o
        }
        Err(ending) => Outcome::new(Some(c.name.clone()), ending),
    };
    if let Some(sim) = c.sim {
        sim.shutdown().await;
    }
    Ok(outcome)
}

fn table(v: &Volumes) -> String {
    let n = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
    let mut t = String::new();
    if let Some(a) = &v.audio_out {
        let range = match (a.min, a.max) {
            (Some(lo), Some(hi)) => format!(" ({lo}-{hi})"),
            _ => String::new(),
        };
        t.push_str(&format!("talk volume     {}{range}\nspeaker volume  {}{range}\n", n(a.talk_volume), n(a.volume)));
    } else {
        t.push_str(&format!("speaker volume  {} (0-100)\n", n(v.speaker)));
    }
    t.push_str(&format!("mic volume      {} (0-100)\n", n(v.microphone)));
    t
}
