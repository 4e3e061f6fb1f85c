//! `hiktalk volume`: shows a device's volumes, or sets one and reads it back.

use super::Context;
use crate::cli::VolumeArgs;
use crate::isapi::intercom::Volumes;
use crate::isapi::{Device, IsapiError};
use crate::outcome::{Ending, Outcome};

pub async fn run(args: VolumeArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let c = super::connect(&args.camera, &args.login, ctx).await?;
    // A stop while a level is being set leaves it unknown: said, with how to look.
    let _setting =
        args.level.map(|_| ctx.stop.hold(format!("{n}: the volume may or may not be set: `hiktalk volume {n}` shows it", n = c.name)));
    let result = volume(&c.device, c.channel.as_deref(), &args).await;
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

/// (human line, table, the volumes now).
async fn volume(device: &Device, channel: Option<&str>, args: &VolumeArgs) -> Result<(Option<String>, Option<String>, Volumes), Ending> {
    let isapi = |e: IsapiError| Ending::from_isapi(&e);
    let channel = match channel {
        Some(c) => c.to_string(),
        None => device
            .channels()
            .await
            .map_err(isapi)?
            .first()
            .map(|c| c.id.clone())
            .ok_or_else(|| Ending::Protocol { detail: "the device lists no talk channel".into() })?,
    };
    let before = device.volumes(&channel).await.map_err(isapi)?;
    let Some(level) = args.level else {
        return Ok((None, Some(table(&before)), before));
    };
    let intercom = before.audio_out.is_some();
    let (what, old) = if args.mic {
        ("microphone volume", before.microphone)
    } else if intercom && args.speaker {
        ("speaker volume", before.audio_out.and_then(|a| a.volume))
    } else if intercom {
        ("talk volume", before.audio_out.and_then(|a| a.talk_volume))
    } else {
        ("speaker volume", before.speaker)
    };
    if old.is_none() {
        return Err(Ending::Unsupported { detail: format!("the device has no {what} to set") });
    }
    let set = if args.mic {
        device.set_channel_volumes(&channel, None, Some(level)).await
    } else if intercom && args.speaker {
        device.set_audio_out(Some(level), None).await
    } else if intercom {
        device.set_audio_out(None, Some(level)).await
    } else {
        device.set_channel_volumes(&channel, Some(level), None).await
    };
    if let Err(e) = set {
        return Err(match &e {
            IsapiError::Status { http, status, .. } if (400..500).contains(http) => {
                let range =
                    before.audio_out.filter(|_| intercom && !args.mic).and_then(|a| Some(format!("; its range is {}-{}", a.min?, a.max?)));
                Ending::Refused {
                    detail: format!(
                        "the device refused {what} {level} (HTTP {http}{}){}",
                        status.as_ref().map(|s| format!(": {}", s.summary())).unwrap_or_default(),
                        range.unwrap_or_default()
                    ),
                }
            }
            _ => Ending::from_isapi(&e),
        });
    }
    let after = device.volumes(&channel).await.map_err(isapi)?;
    let now = if args.mic {
        after.microphone
    } else if intercom && args.speaker {
        after.audio_out.and_then(|a| a.volume)
    } else if intercom {
        after.audio_out.and_then(|a| a.talk_volume)
    } else {
        after.speaker
    };
    if now != Some(level) {
        return Err(Ending::Refused {
            detail: format!("the device accepted {what} {level} but reads back {}", now.map_or("nothing".into(), |v| v.to_string())),
        });
    }
    let old = old.map_or("-".into(), |v| v.to_string());
    Ok((Some(format!("{what} {old} -> {level} (read back)")), None, after))
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
