//! The first phase: read the channel list, pick the channel and the codec, apply `--set-codec`
//! (and, for firmware that wants it, switch to AAC); the last: put the codec back.

use super::{Report, Stop, TalkOptions, unless_stopped};
use crate::codec::{Codec, CodecParams};
use crate::isapi::xml::Channel;
use crate::isapi::{Device, IsapiError};
use crate::outcome::Ending;
use serde::Serialize;
use tokio::time::timeout;

/// The channel and codec agreed with the device.
#[derive(Debug, Clone, Serialize)]
pub struct Negotiation {
    pub channel: Channel,
    pub params: CodecParams,
    /// The channel as it was before `--set-codec`, to put back afterwards.
    #[serde(skip)]
    pub restore: Option<Channel>,
}

/// Reads the channel list, picks the channel and codec, and applies `--set-codec`.
pub async fn negotiate(device: &Device, opts: &TalkOptions, stop: &Stop) -> Result<Negotiation, Ending> {
    let channels = unless_stopped(stop, device.channels()).await?.map_err(|e| Ending::from_isapi(&e))?;
    let mut channel =
        match &opts.channel {
            Some(id) => channels.iter().find(|c| &c.id == id).cloned().ok_or_else(|| Ending::Protocol {
                detail: format!("the device has no talk channel {id:?} (it has: {})", ids(&channels)),
            })?,
            None => channels.first().cloned().ok_or_else(|| Ending::Protocol { detail: "the device lists no talk channels".into() })?,
        };
    let mut restore = None;
    if let Some(target) = opts.set_codec {
        if Codec::from_isapi(&channel.codec) != Some(target) {
            let wanted = retarget(&channel, target);
            unless_stopped(stop, device.put_channel(&wanted))
                .await?
                .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to {target}: {e}", channel.id) })?;
            restore = Some(channel.clone());
            channel = unless_stopped(stop, device.channel(&channel.id)).await?.map_err(|e| Ending::from_isapi(&e))?;
        }
    }
    let codec = match opts.codec {
        Some(c) => c,
        None => match Codec::from_isapi(&channel.codec) {
            Some(c) => c,
            None => {
                let offered = unless_stopped(stop, device.capabilities(&channel.id)).await?.map(|c| c.codec_options).unwrap_or_default();
                let usable: Vec<&str> = offered.iter().map(String::as_str).filter(|o| Codec::from_isapi(o).is_some()).collect();
                let hint = if usable.is_empty() {
                    "hiktalk speaks G.711ulaw, G.711alaw, G.726, AAC, PCM and OPUS".to_string()
                } else {
                    format!("the channel also offers {}", usable.join(", "))
                };
                return Err(Ending::Codec {
                    detail: format!(
                        "codec {:?} on channel {} is not supported; {hint}; set it with --set-codec",
                        channel.codec, channel.id
                    ),
                });
            }
        },
    };
    let sample_rate = codec.fixed_rate().or(channel.sample_rate_hz()).unwrap_or(codec.default_rate());
    let params = CodecParams { codec, sample_rate, bitrate: channel.bit_rate_kbps.map(|k| k * 1000) };
    Ok(Negotiation { channel, params, restore })
}

/// The channel settings for `codec`: a wide-band codec does not inherit G.711's 8 kHz.
fn retarget(channel: &Channel, codec: Codec) -> Channel {
    let mut wanted = channel.clone();
    wanted.codec = codec.isapi_name().to_string();
    wanted.enabled = None;
    wanted.codec_options.clear();
    let rate_khz = match codec.fixed_rate() {
        Some(r) => r,
        None => channel.sample_rate_hz().filter(|&r| r >= codec.default_rate()).unwrap_or(codec.default_rate()),
    };
    wanted.sampling_rate_khz = Some(rate_khz as f64 / 1000.0);
    wanted
}

fn ids(channels: &[Channel]) -> String {
    if channels.is_empty() { "none".into() } else { channels.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ") }
}

/// Some firmware lists G.711 but answers 403 to open unless the channel is set to AAC. When the
/// channel is idle, offers AAC, and the user did not pin a codec, that 403 means "use AAC".
pub(super) async fn wants_aac(device: &Device, neg: &Negotiation, opts: &TalkOptions, e: &IsapiError) -> bool {
    if !matches!(e, IsapiError::Status { http: 403, .. }) || e.is_busy() || opts.codec.is_some() || opts.set_codec.is_some() {
        return false;
    }
    if neg.params.codec == Codec::Aac || !cfg!(feature = "aac") {
        return false;
    }
    let idle = matches!(device.channel(&neg.channel.id).await, Ok(c) if c.enabled != Some(true));
    let offers =
        device.capabilities(&neg.channel.id).await.is_ok_and(|c| c.codec_options.iter().any(|o| Codec::from_isapi(o) == Some(Codec::Aac)));
    idle && offers
}

pub(super) async fn switch_to_aac(device: &Device, neg: &mut Negotiation, stop: &Stop) -> Result<(), Ending> {
    let wanted = retarget(&neg.channel, Codec::Aac);
    unless_stopped(stop, device.put_channel(&wanted))
        .await?
        .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to AAC: {e}", neg.channel.id) })?;
    let now = unless_stopped(stop, device.channel(&neg.channel.id)).await?.map_err(|e| Ending::from_isapi(&e))?;
    if neg.restore.is_none() {
        neg.restore = Some(neg.channel.clone());
    }
    neg.params = CodecParams {
        codec: Codec::Aac,
        sample_rate: now.sample_rate_hz().unwrap_or(Codec::Aac.default_rate()),
        bitrate: now.bit_rate_kbps.map(|k| k * 1000),
    };
    neg.channel = now;
    Ok(())
}

/// Puts back the channel settings `--set-codec` changed.
pub(super) async fn restore(device: &Device, neg: &Negotiation, opts: &TalkOptions, report: &mut Report) {
    let Some(previous) = &neg.restore else { return };
    if opts.keep_codec {
        return;
    }
    let mut put_back = previous.clone();
    put_back.enabled = None;
    match timeout(device.timeouts.request, device.put_channel(&put_back)).await {
        Ok(Ok(())) => report.codec_restored = Some(previous.codec.clone()),
        Ok(Err(e)) => (opts.announce)(&format!("could not restore channel {} to {}: {e}", previous.id, previous.codec)),
        Err(_) => (opts.announce)(&format!("could not restore channel {} to {}: no answer", previous.id, previous.codec)),
    }
}
