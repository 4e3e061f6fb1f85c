//! Codec negotiation end to end: hiktalk speaks what the channel wants, switches AAC-only
//! firmware to AAC by itself, honours --codec / --set-codec, and restores the channel after.

use crate::util::*;
use hiktalk::codec::Codec;
use hiktalk::sim::Profile;

/// Plays a 2 s 1 kHz tone; returns the JSON report, the simulator and the recording.
async fn play_tone(config: SimConfig, extra: &[&str]) -> (serde_json::Value, SimHandle, Vec<i16>, u32) {
    let sim = sim::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 1000.0, 2.0, 48000, 1, 0.5);
    let mut cmd = hiktalk();
    cmd.args(["--json", "play"]).arg(&wav).arg(url(&sim)).args(extra);
    let (out, _) = run_to_end(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
    let report = json(&out);
    let id = last_session_id(&sim);
    let (pcm, rate) = crate::util::ffmpeg::heard(&sim, &id).await;
    (report, sim, pcm, rate)
}

fn channel_codecs(sim: &SimHandle) -> Vec<String> {
    sim.events()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ChannelUpdated { codec, .. } => Some(codec.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aac_only_firmware_gets_aac_automatically_and_its_codec_back() {
    let (report, sim, pcm, rate) = play_tone(SimConfig { profile: Profile::AacOnly, ..binary_sim_config() }, &[]).await;
    assert_eq!(report["codec"]["codec"], "AAC", "{report}");
    assert_eq!(report["codec_restored"], "G.711ulaw", "{report}");
    let refusals = count(&sim.events(), |e| matches!(e, EventKind::OpenRefused { reason, .. } if reason == "codec_not_aac"));
    assert_eq!(refusals, 1, "one refused G.711 open, then AAC");
    assert_eq!(channel_codecs(&sim), ["AAC", "G.711ulaw"]);
    assert_eq!(rate, 16000);
    // AAC-LC at 32 kbps on a pure tone: SNR 15 dB is a loose floor (measured ~25-30 dB).
    let snr = sine_snr_db(&pcm, rate, 1000.0, 4000);
    assert!(snr >= 15.0, "AAC round trip SNR {snr:.1} dB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_codec_switches_a_g711_channel_and_restores_it_unless_kept() {
    let (report, sim, pcm, rate) = play_tone(binary_sim_config(), &["--set-codec", "aac"]).await;
    assert_eq!(report["codec"]["codec"], "AAC");
    assert_eq!(channel_codecs(&sim), ["AAC", "G.711ulaw"]);
    assert!(sine_snr_db(&pcm, rate, 1000.0, 4000) >= 15.0);

    let (report, sim, _, _) = play_tone(binary_sim_config(), &["--set-codec", "aac", "--keep-codec"]).await;
    assert_eq!(report["codec_restored"], serde_json::Value::Null);
    assert_eq!(channel_codecs(&sim), ["AAC"], "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_the_channel_can_ask_for_plays_cleanly() {
    // Floors per codec on a 1 kHz tone at -6 dBFS, after hiktalk's encoder and the simulator's
    // decoder: G.711 is ~38 dB, G.726-32 ~25 dB, PCM is lossless apart from resampling.
    for (codec, floor) in [(Codec::G711Ulaw, 30.0), (Codec::G711Alaw, 30.0), (Codec::G726, 18.0), (Codec::Pcm, 60.0), (Codec::Opus, 15.0)] {
        let (report, _, pcm, rate) = play_tone(SimConfig { codec: Some(codec), ..binary_sim_config() }, &[]).await;
        assert_eq!(report["codec"]["codec"], serde_json::to_value(codec).unwrap(), "{report}");
        let secs = pcm.len() as f64 / rate as f64;
        assert!((secs - 2.0).abs() < 0.15, "{codec}: recorded {secs:.2} s");
        let snr = sine_snr_db(&pcm, rate, 1000.0, (rate / 10) as usize);
        assert!(snr >= floor, "{codec}: SNR {snr:.1} dB < {floor} dB");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codec_override_is_what_goes_on_the_wire() {
    // The channel says A-law; --codec ulaw overrides it, so the device decodes mu-law bytes as
    // A-law and the tone is destroyed. This is what the override means; the test proves it acts.
    let (report, _, pcm, rate) = play_tone(SimConfig { codec: Some(Codec::G711Alaw), ..binary_sim_config() }, &["--codec", "ulaw"]).await;
    assert_eq!(report["codec"]["codec"], "G.711ulaw");
    assert!(sine_snr_db(&pcm, rate, 1000.0, 800) < 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codec_hiktalk_cannot_speak_is_refused_before_opening() {
    // A device whose talk channel is set to MP2L2 (seen on real firmware), without auth.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = paths.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let Ok(n) = s.read(&mut buf).await else { return };
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(path.clone());
                let ns = r#"version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema""#;
                let body = if path.ends_with("/capabilities") {
                    format!(
                        r#"<TwoWayAudioChannel {ns}><id>1</id><audioCompressionType opt="MP2L2,G.711ulaw,AAC">MP2L2</audioCompressionType></TwoWayAudioChannel>"#
                    )
                } else {
                    format!(
                        r#"<TwoWayAudioChannelList {ns}><TwoWayAudioChannel {ns}><id>1</id><enabled>false</enabled><audioCompressionType>MP2L2</audioCompressionType></TwoWayAudioChannel></TwoWayAudioChannelList>"#
                    )
                };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 1000.0, 1.0, 8000, 1, 0.5);
    let mut cmd = hiktalk();
    cmd.arg("play").arg(&wav).arg(format!("http://{addr}"));
    let (out, _) = run_to_end(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(9), "{err}");
    assert!(err.contains("\"MP2L2\"") && err.contains("G.711ulaw, AAC") && err.contains("--set-codec"), "{err}");
    assert!(!paths.lock().unwrap().iter().any(|p| p.contains("/open")), "no session was opened: {:?}", paths.lock().unwrap());
}

/// `--codec g726|aac|opus` on a G.711 channel: hiktalk picks a rate and bitrate the codec can
/// use (not G.711's 64 kbit/s), and what reaches the device is that codec, as ffmpeg decodes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codec_overrides_put_their_own_codec_on_the_wire() {
    use hiktalk::codec::CodecParams;
    for (flag, codec, floor) in [("g726", Codec::G726, 18.0), ("aac", Codec::Aac, 15.0), ("opus", Codec::Opus, 10.0)] {
        let sim = sim::start(binary_sim_config()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wav = tone_wav(&dir.path().join("t.wav"), 1000.0, 2.0, 48000, 1, 0.5);
        let mut cmd = hiktalk();
        cmd.args(["--json", "play", "--codec", flag]).arg(&wav).arg(url(&sim));
        let (out, _) = run_to_end(cmd).await;
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr(&out));
        let report = json(&out);
        let used = &report["codec"];
        assert_eq!(used["codec"], serde_json::to_value(codec).unwrap(), "{report}");
        if codec == Codec::G726 {
            assert_eq!(used["bitrate"], 32000, "G.726 at its own rate, not the channel's 64 kbit/s: {report}");
        }
        // The channel says G.711; decode what arrived as what hiktalk says it sent.
        let mut received = sim.upload_of(&last_session_id(&sim)).await.unwrap();
        let rate = used["sample_rate"].as_u64().unwrap() as u32;
        received.params = Some(CodecParams { codec, sample_rate: rate, bitrate: used["bitrate"].as_u64().map(|b| b as u32) });
        let (pcm, rate) = crate::util::ffmpeg::decode_received(&received);
        let secs = pcm.len() as f64 / rate as f64;
        // AAC at 8 kHz: its priming and the padded last 128 ms frame add up to half a second.
        assert!((1.9..=2.5).contains(&secs), "{flag}: {secs:.2} s decoded");
        let snr = sine_snr_db(&pcm, rate, 1000.0, rate as usize / 5);
        assert!(snr >= floor, "{flag}: SNR {snr:.1} dB by ffmpeg");
    }
}
