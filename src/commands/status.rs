//! `hiktalk status`: model, firmware, talk channels (codec, rate, volumes, session) and the
//! doorbell's call state.

use super::fleet;
use super::{Connected, Context};
use crate::cli::StatusArgs;
use crate::isapi::Device;
use crate::isapi::xml::{Channel, DeviceInfo};
use crate::outcome::{Ending, Outcome};
use serde::Serialize;

#[derive(Serialize)]
struct Status {
    device: String,
    info: Option<DeviceInfo>,
    channels: Vec<ChannelStatus>,
    call_status: Option<String>,
    /// A door station's `AudioOut` (speaker and talk volume).
    audio_out: Option<crate::isapi::intercom::AudioOut>,
}

#[derive(Serialize)]
struct ChannelStatus {
    #[serde(flatten)]
    channel: Channel,
    supported: bool,
    /// Whether a talk session is open, on devices that say (`enabled` in ISAPI terms).
    session_active: Option<bool>,
}

pub async fn run(args: StatusArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let members = fleet::connect_all(&args.cameras, &args.login, ctx).await?;
    Ok(fleet::combine(fleet::each(members, || {}, status_one).await))
}

/// One device's status.
async fn status_one(Connected { device, name, sim, .. }: Connected) -> Outcome {
    let outcome = match gather(&device, &name).await {
        Ok(status) => {
            let mut outcome = Outcome::new(Some(name), Ending::Done).with_figures(&status);
            outcome.stdout = Some(table(&status, crate::output::stdout_columns()));
            outcome
        }
        Err(ending) => Outcome::new(Some(name), ending),
    };
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    outcome
}

async fn gather(device: &Device, name: &str) -> Result<Status, Ending> {
    // Talk channels are the point; deviceInfo is a courtesy some accounts may not read.
    let channels = device.channels().await.map_err(|e| Ending::from_isapi(&e))?;
    let info = device.device_info().await.ok();
    let call_status = device.call_status().await.ok().flatten();
    let mut listed = Vec::with_capacity(channels.len());
    for mut c in channels {
        // The list never carries the choices; each channel's capabilities document does (its
        // `opt` attributes). A device that has none leaves the options empty.
        if let Ok(caps) = device.capabilities(&c.id).await {
            c.codec_options = caps.codec_options;
            c.bit_rate_options = caps.bit_rate_options;
            c.sampling_rate_options = caps.sampling_rate_options;
        }
        listed.push(ChannelStatus {
            supported: crate::codec::Codec::from_isapi(&c.codec).is_some(),
            session_active: c.enabled,
            channel: c,
        });
    }
    let channels = listed;
    let audio_out = device.audio_out().await.ok().flatten();
    Ok(Status { device: name.to_string(), info, channels, call_status, audio_out })
}

/// The status as text: a table of channels, laid out for `columns` when stdout is a terminal.
fn table(s: &Status, columns: Option<usize>) -> String {
    let mut t = format!("device    {}\n", s.device);
    if let Some(i) = &s.info {
        let v = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        t.push_str(&format!(
            "model     {}\nfirmware  {} {}\nname      {}\n",
            v(&i.model),
            v(&i.firmware_version),
            v(&i.firmware_released_date),
            v(&i.device_name)
        ));
    }
    if let Some(c) = &s.call_status {
        t.push_str(&format!("call      {c}\n"));
    }
    if let Some(a) = &s.audio_out {
        let n = |x: Option<u32>| x.map_or("-".to_string(), |v| v.to_string());
        t.push_str(&format!("volume    talk {}, speaker {} (AudioOut)\n", n(a.talk_volume), n(a.volume)));
    }
    // One row per channel, or on a terminal too narrow for the row, one block per channel.
    let mut grid = String::from("\nCHANNEL  CODEC        RATE     BITRATE  SPEAKER  MIC   SESSION\n");
    let mut blocks = String::new();
    for c in &s.channels {
        let ch = &c.channel;
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let codec = if c.supported { ch.codec.clone() } else { format!("{} (!)", ch.codec) };
        let session = match ch.enabled {
            Some(true) => "active",
            Some(false) => "none",
            None => "unknown",
        };
        let cells = [
            codec,
            opt(ch.sample_rate_hz().map(|r| format!("{r} Hz"))),
            opt(ch.bit_rate_kbps.map(|b| format!("{b}k"))),
            opt(ch.speaker_volume.map(|v| v.to_string())),
            opt(ch.microphone_volume.map(|v| v.to_string())),
            session.to_string(),
        ];
        let [codec, rate, bitrate, speaker, mic, session] = &cells;
        grid.push_str(&format!("{:<8} {codec:<12} {rate:<8} {bitrate:<8} {speaker:<8} {mic:<5} {session}\n", ch.id));
        blocks.push_str(&format!("\nchannel {}\n", ch.id));
        for (label, value) in ["codec", "rate", "bitrate", "speaker", "mic", "session"].iter().zip(&cells) {
            blocks.push_str(&format!("  {label:<9}{value}\n"));
        }
    }
    let narrow = columns.is_some_and(|c| grid.lines().any(|l| l.chars().count() > c));
    t.push_str(if narrow { &blocks } else { &grid });
    for c in s.channels.iter().filter(|c| !c.channel.codec_options.is_empty()) {
        t.push_str(&format!("channel {} can speak {}\n", c.channel.id, c.channel.codec_options.join(", ")));
    }
    if s.channels.iter().any(|c| !c.supported) {
        t.push_str("(!) hiktalk cannot encode this codec; switch the channel with `hiktalk play --set-codec`\n");
    }
    match columns {
        Some(c) => crate::output::fit(&t, c),
        None => t,
    }
}
