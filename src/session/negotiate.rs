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
    /// What the device's microphone stream is encoded with (see `inbound_params`).
    pub inbound: CodecParams,
    /// The channel as it was before `--set-codec`, to put back afterwards.
    #[serde(skip)]
    pub restore: Option<Channel>,
    /// Held while the channel's codec is changed (until it is put back): what a second signal says.
    #[serde(skip)]
    pub changed: Option<super::stop::Held>,
    /// The device as the user named it.
    #[serde(skip)]
    pub name: String,
}

/// Reads the channel list, picks the channel and codec, and applies `--set-codec`. Once the
/// channel has been switched, every way out of here puts it back (unless `--keep-codec`).
/// `name`: the device as the user named it, for what a second signal says.
pub async fn negotiate(device: &Device, name: &str, opts: &TalkOptions, stop: &Stop) -> Result<Negotiation, Ending> {
    let channels = unless_stopped(stop, device.channels()).await?.map_err(|e| Ending::from_isapi(&e))?;
    let mut channel =
        match &opts.channel {
            Some(id) => channels.iter().find(|c| &c.id == id).cloned().ok_or_else(|| Ending::Protocol {
                detail: format!("the device has no talk channel {id:?} (it has: {})", ids(&channels)),
            })?,
            None => channels.first().cloned().ok_or_else(|| Ending::Protocol { detail: "the device lists no talk channels".into() })?,
        };
    let (mut restore, mut changed) = (None, None);
    if let Some(target) = opts.set_codec.filter(|&t| Codec::from_isapi(&channel.codec) != Some(t)) {
        let caps = unless_stopped(stop, device.capabilities(&channel.id)).await?.ok();
        let wanted = retarget(&channel, caps.as_ref(), target);
        changed = (!opts.keep_codec).then(|| hold_codec(stop, name, &channel, target));
        unless_stopped(stop, device.put_channel(&wanted))
            .await?
            .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to {target}: {e}", channel.id) })?;
        let previous = channel.clone();
        match unless_stopped(stop, device.channel(&channel.id)).await.and_then(|r| r.map_err(|e| Ending::from_isapi(&e))) {
            Ok(now) => channel = now,
            Err(e) => {
                put_back(device, &previous, opts, &mut None).await;
                return Err(e);
            }
        }
        restore = Some(previous);
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
    let params = params_for(&channel, codec);
    Ok(Negotiation { inbound: inbound_params(&channel, params), params, channel, restore, changed, name: name.to_string() })
}

/// Says, while `channel` is switched to `to`, that an exit would leave it so, and how to put it
/// back (any short file does: `--set-codec` with `--keep-codec` switches and leaves it).
fn hold_codec(stop: &Stop, name: &str, channel: &Channel, to: Codec) -> super::stop::Held {
    let was = Codec::from_isapi(&channel.codec).map(|c| c.isapi_name().to_string()).unwrap_or_else(|| channel.codec.clone());
    stop.hold(format!(
        "{name}: channel {id} may be left at {to} (it was {was}): `hiktalk play --set-codec {was} --keep-codec --channel {id} FILE {name}` with any short FILE puts it back",
        id = channel.id,
        to = to.isapi_name(),
    ))
}

/// The microphone stream's codec: `audioInboundCompressionType` where the channel states a codec
/// hiktalk knows, else the talk codec (most devices use one codec both ways).
pub(super) fn inbound_params(channel: &Channel, talk: CodecParams) -> CodecParams {
    match channel.inbound_codec.as_deref().and_then(Codec::from_isapi) {
        Some(codec) if codec != talk.codec => params_for(channel, codec),
        _ => talk,
    }
}

/// What to encode `codec` with on `channel`: the channel's rate and bitrate where they suit the
/// codec (an overriding `--codec g726` must not take G.711's 64 kbit/s), the codec's own otherwise.
fn params_for(channel: &Channel, codec: Codec) -> CodecParams {
    let sample_rate = codec.fixed_rate().or(channel.sample_rate_hz()).unwrap_or(codec.default_rate());
    let bitrate = channel.bit_rate_kbps.map(|k| k * 1000).filter(|&b| codec.accepts_bitrate(b)).or(codec.default_bitrate());
    CodecParams { codec, sample_rate, bitrate }
}

/// The channel settings for `codec`, with a rate and bitrate the device offers (`caps`, when
/// it answered) that suit the codec: a wide-band codec does not inherit G.711's 8 kHz, and
/// G.726 does not inherit its 64 kbit/s.
fn retarget(channel: &Channel, caps: Option<&Channel>, codec: Codec) -> Channel {
    let offered_rates: Vec<u32> =
        caps.map(|c| c.sampling_rate_options.iter().map(|k| (k * 1000.0).round() as u32).collect()).unwrap_or_default();
    let offered_bitrates: Vec<u32> = caps.map(|c| c.bit_rate_options.clone()).unwrap_or_default();
    let rate_ok = |r: u32| offered_rates.is_empty() || offered_rates.contains(&r);
    let rate = match codec.fixed_rate() {
        Some(r) => r,
        None => channel
            .sample_rate_hz()
            .filter(|&r| r >= codec.default_rate() && rate_ok(r))
            .or(Some(codec.default_rate()).filter(|&r| rate_ok(r)))
            .or(offered_rates.iter().copied().filter(|&r| r >= codec.default_rate()).min())
            .unwrap_or(codec.default_rate()),
    };
    let bitrate_ok = |kbps: u32| codec.accepts_bitrate(kbps * 1000) && (offered_bitrates.is_empty() || offered_bitrates.contains(&kbps));
    let bitrate = codec
        .default_bitrate()
        .map(|b| b / 1000)
        .filter(|&k| bitrate_ok(k))
        .or(channel.bit_rate_kbps.filter(|&k| bitrate_ok(k)))
        .or(offered_bitrates.iter().copied().find(|&k| bitrate_ok(k)));
    Channel {
        codec: codec.isapi_name().to_string(),
        enabled: None,
        codec_options: Vec::new(),
        bit_rate_options: Vec::new(),
        sampling_rate_options: Vec::new(),
        sampling_rate_khz: Some(rate as f64 / 1000.0),
        bit_rate_kbps: bitrate,
        ..channel.clone()
    }
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
    // Only a channel that says it is idle: one that does not say may carry another client's
    // session, and switching the codec under it would break that session.
    let idle = matches!(device.channel(&neg.channel.id).await, Ok(c) if c.enabled == Some(false));
    let offers =
        device.capabilities(&neg.channel.id).await.is_ok_and(|c| c.codec_options.iter().any(|o| Codec::from_isapi(o) == Some(Codec::Aac)));
    idle && offers
}

pub(super) async fn switch_to_aac(device: &Device, neg: &mut Negotiation, opts: &TalkOptions, stop: &Stop) -> Result<(), Ending> {
    let caps = unless_stopped(stop, device.capabilities(&neg.channel.id)).await?.ok();
    let wanted = retarget(&neg.channel, caps.as_ref(), Codec::Aac);
    unless_stopped(stop, device.put_channel(&wanted))
        .await?
        .map_err(|e| Ending::Codec { detail: format!("the device refused to switch channel {} to AAC: {e}", neg.channel.id) })?;
    if neg.restore.is_none() {
        neg.restore = Some(neg.channel.clone());
        neg.changed = (!opts.keep_codec).then(|| hold_codec(stop, &neg.name, &neg.channel, Codec::Aac));
    }
    let now = unless_stopped(stop, device.channel(&neg.channel.id)).await?.map_err(|e| Ending::from_isapi(&e))?;
    neg.params = params_for(&now, Codec::Aac);
    neg.inbound = inbound_params(&now, neg.params);
    neg.channel = now;
    Ok(())
}

/// Puts back the channel settings `--set-codec` (or the switch to AAC) changed.
pub async fn restore(device: &Device, neg: &Negotiation, opts: &TalkOptions, report: &mut Report) {
    if let Some(previous) = &neg.restore {
        put_back(device, previous, opts, &mut report.codec_restored).await;
    }
}

/// Writes `previous` back within `--timeout` unless `--keep-codec`; says so when it cannot.
async fn put_back(device: &Device, previous: &Channel, opts: &TalkOptions, restored: &mut Option<String>) {
    if opts.keep_codec {
        return;
    }
    let put_back = Channel {
        enabled: None,
        codec_options: Vec::new(),
        bit_rate_options: Vec::new(),
        sampling_rate_options: Vec::new(),
        ..previous.clone()
    };
    match timeout(device.timeouts.request, device.put_channel(&put_back)).await {
        Ok(Ok(())) => *restored = Some(previous.codec.clone()),
        Ok(Err(e)) => (opts.announce)(&format!("could not restore channel {} to {}: {e}", previous.id, previous.codec)),
        Err(_) => (opts.announce)(&format!("could not restore channel {} to {}: no answer", previous.id, previous.codec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g711() -> Channel {
        Channel { id: "1".into(), codec: "G.711ulaw".into(), sampling_rate_khz: Some(8.0), bit_rate_kbps: Some(64), ..Default::default() }
    }

    #[test]
    fn an_override_does_not_inherit_a_bitrate_it_cannot_use() {
        assert_eq!(params_for(&g711(), Codec::G726).bitrate, Some(32_000));
        assert_eq!(params_for(&g711(), Codec::G711Alaw).bitrate, Some(64_000));
        let aac = Channel { codec: "AAC".into(), sampling_rate_khz: Some(16.0), bit_rate_kbps: Some(32), ..g711() };
        assert_eq!(params_for(&aac, Codec::Aac), CodecParams { codec: Codec::Aac, sample_rate: 16000, bitrate: Some(32_000) });
    }

    #[test]
    fn set_codec_writes_a_rate_and_bitrate_the_channel_offers() {
        let caps = Channel { bit_rate_options: vec![16, 24, 32, 48, 64], sampling_rate_options: vec![8.0, 16.0, 32.0], ..g711() };
        let g726 = retarget(&g711(), Some(&caps), Codec::G726);
        assert_eq!((g726.codec.as_str(), g726.sampling_rate_khz, g726.bit_rate_kbps), ("G.726", Some(8.0), Some(32)));
        let aac = retarget(&g711(), Some(&caps), Codec::Aac);
        assert_eq!((aac.sampling_rate_khz, aac.bit_rate_kbps), (Some(16.0), Some(32)));
        // A device offering only 16 kbit/s for G.726 and 32 kHz for wide-band gets just that.
        let narrow = Channel { bit_rate_options: vec![16, 64], sampling_rate_options: vec![8.0, 32.0], ..g711() };
        let g726 = retarget(&g711(), Some(&narrow), Codec::G726);
        assert_eq!(g726.bit_rate_kbps, Some(16));
        let pcm = retarget(&g711(), Some(&narrow), Codec::Pcm);
        assert_eq!(pcm.sampling_rate_khz, Some(32.0));
        // Without capabilities: the codec's defaults.
        assert_eq!(retarget(&g711(), None, Codec::G726).bit_rate_kbps, Some(32));
    }
}
