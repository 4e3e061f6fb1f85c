//! The device microphone (`GET .../audioData`) as devices serve it: each profile's Content-Type
//! and framing, the tone, a looped file and the speaker's echo in G.711 and AAC (decoded by
//! ffmpeg, never by hiktalk), real-time pacing from the first byte, full duplex on one session,
//! and `audioInboundCompressionType`.

use crate::util::ffmpeg::{ffmpeg_decode, unprefix};
use crate::util::raw::*;
use crate::util::{amplitude, hiktalk, run_to_end, sine_snr_db, tone_wav};
use hiktalk::codec::Codec;
use hiktalk::sim::{EventKind, MicAac, MicEcho, MicFraming, Profile, SimConfig, SimHandle};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ULAW: &[&str] = &["-f", "mulaw", "-ar", "8000", "-ac", "1"];
const ALAW: &[&str] = &["-f", "alaw", "-ar", "8000", "-ac", "1"];

/// Starts the microphone stream on a fresh connection; returns the socket after the head.
async fn mic_get(c: &mut Client, uri: &str) -> (TcpStream, String) {
    if c.challenge.is_none() {
        c.request("GET", CHANNELS, "").await;
    }
    let auth = c.authorization("GET", uri).unwrap();
    let mut s = TcpStream::connect(c.addr).await.unwrap();
    s.write_all(format!("GET {uri} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\n\r\n", c.addr).as_bytes()).await.unwrap();
    let head = read_response_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    (s, head)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).filter_map(|l| l.split_once(':')).find(|(k, _)| k.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
}

/// Reads for `d`, or until the stream ends.
async fn read_for(s: &mut TcpStream, d: Duration) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + d;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Splits a chunked body into its chunks; says whether the last-chunk marker came.
fn dechunk(mut body: &[u8]) -> (Vec<Vec<u8>>, bool) {
    let mut chunks = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let len = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap_or_else(|e| panic!("chunk size: {e}"));
        if len == 0 {
            assert_eq!(&body[eol..], b"\r\n\r\n", "the last chunk ends the body");
            return (chunks, true);
        }
        let Some(data) = body.get(eol + 2..eol + 2 + len + 2) else { break };
        assert!(data.ends_with(b"\r\n"), "chunk data is followed by CRLF");
        chunks.push(data[..len].to_vec());
        body = &body[eol + 2 + len + 2..];
    }
    (chunks, false)
}

/// The sine at `freq` that best fits `x` (least squares), as a function of the sample index.
fn sine_fit(x: &[i16], rate: u32, freq: f64) -> impl Fn(usize) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        (ss, sc, cc) = (ss + s * s, sc + s * c, cc + c * c);
        (xs, xc) = (xs + f64::from(v) * s, xc + f64::from(v) * c);
    }
    let det = ss * cc - sc * sc;
    let (a, b) = ((xs * cc - xc * sc) / det, (xc * ss - xs * sc) / det);
    move |i| {
        let (s, c) = (w * i as f64).sin_cos();
        a * s + b * c
    }
}

fn started(sim: &SimHandle) -> (f64, f64, String) {
    sim.events()
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::MicStarted { first_byte_at, codec, .. } => Some((e.t, first_byte_at, codec)),
            _ => None,
        })
        .expect("MicStarted")
}

fn config(profile: Profile) -> SimConfig {
    // Long enough that a session outlives a test's reading.
    SimConfig { profile, idle_timeout: Duration::from_secs(5), ..raw_sim_config() }
}

/// Opens channel 1; returns the audioData URI (with the sessionId where there is one) and the
/// close URI the profile accepts.
async fn open(c: &mut Client) -> (String, String) {
    let sid = c.open().await;
    let close = match &sid {
        Some(id) => format!("{CHANNELS}/1/close?sessionId={id}"),
        None => format!("{CHANNELS}/1/close"),
    };
    (audio_uri(sid.as_deref()), close)
}

#[tokio::test]
async fn each_profile_frames_the_stream_its_own_way() {
    for (profile, content_type, framing) in [
        (Profile::Modern, "audio/basic", MicFraming::UntilClose),
        (Profile::Doorbell, "application/octem-strem", MicFraming::Length),
        (Profile::Legacy, "application/octet-stream", MicFraming::Chunked),
        (Profile::AacOnly, "audio/basic", MicFraming::UntilClose),
    ] {
        assert_eq!(profile.mic_framing(), framing);
        let sim = start(config(profile)).await;
        let mut c = Client::new(&sim);
        if profile == Profile::AacOnly {
            let put = "<TwoWayAudioChannel><id>1</id><audioCompressionType>AAC</audioCompressionType></TwoWayAudioChannel>";
            assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), put).await.status, 200);
        }
        let (uri, close) = open(&mut c).await;
        let (mut s, head) = mic_get(&mut c, &uri).await;
        assert_eq!(header(&head, "content-type"), Some(content_type), "{profile}: {head}");
        assert_eq!(header(&head, "content-length"), (framing == MicFraming::Length).then_some("2147483647"), "{profile}: {head}");
        assert_eq!(header(&head, "transfer-encoding"), (framing == MicFraming::Chunked).then_some("chunked"), "{profile}: {head}");
        let mut body = read_for(&mut s, Duration::from_millis(1200)).await;
        // The session's close ends the stream: the socket closes (after the last chunk when chunked).
        assert_eq!(c.request("PUT", &close, "").await.status, 200);
        body.extend(read_to_end(&mut s).await);
        let ended = expect(&sim, "mic ended", |k| matches!(k, EventKind::MicEnded { .. })).await;
        assert!(matches!(&ended, EventKind::MicEnded { reason, .. } if reason == "session_closed"), "{ended:?}");
        let audio = if framing == MicFraming::Chunked {
            let (chunks, last) = dechunk(&body);
            assert!(last, "{profile}: no last chunk");
            assert!(chunks.iter().all(|c| c.len() == 160), "{profile}: one 20 ms G.711 frame per chunk");
            chunks.concat()
        } else {
            body
        };
        let EventKind::MicEnded { bytes, .. } = ended else { unreachable!() };
        assert_eq!(bytes, audio.len() as u64, "{profile}: MicEnded counts the codec bytes");
        let dir = tempfile::tempdir().unwrap();
        let (pcm, rate) = match profile {
            Profile::AacOnly => (ffmpeg_decode(dir.path(), &["-f", "aac"], &unprefix(&audio).concat(), 16000), 16000),
            _ => (ffmpeg_decode(dir.path(), ULAW, &audio, 8000), 8000),
        };
        assert!(pcm.len() as u32 > rate / 2, "{profile}: {} samples", pcm.len());
        // Skipping AAC's encoder delay (silence) at the start.
        let snr = sine_snr_db(&pcm, rate, 440.0, 4096);
        assert!(snr > 20.0, "{profile}: the 440 Hz tone, SNR {snr:.1} dB");
    }
    // The framing can be chosen regardless of the profile.
    let sim = start(SimConfig { mic_framing: Some(MicFraming::Chunked), ..config(Profile::Modern) }).await;
    let mut c = Client::new(&sim);
    let (uri, _) = open(&mut c).await;
    let (mut s, head) = mic_get(&mut c, &uri).await;
    assert_eq!((header(&head, "content-type"), header(&head, "transfer-encoding")), (Some("audio/basic"), Some("chunked")));
    let (chunks, _) = dechunk(&read_for(&mut s, Duration::from_millis(200)).await);
    assert!(!chunks.is_empty());
}

#[tokio::test]
async fn the_g711_tone_is_440_hz_by_ffmpeg_and_paced_in_real_time() {
    // idle_timeout 1 s: a listening client keeps the session alive.
    let sim = start(raw_sim_config()).await;
    let mut c = Client::new(&sim);
    let (uri, _) = open(&mut c).await;
    let (mut s, _) = mic_get(&mut c, &uri).await;
    let t0 = std::time::Instant::now();
    let mut body = Vec::new();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < Duration::from_secs(2) {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream ended: {}", dump(&sim.events()));
        body.extend_from_slice(&buf[..n]);
        // Never ahead of real time (frame 0 goes out with the head).
        let due = (t0.elapsed().as_secs_f64() * 8000.0) as usize + 160;
        assert!(body.len() <= due + 160, "{} bytes after {:?}", body.len(), t0.elapsed());
    }
    let expected = t0.elapsed().as_secs_f64() * 8000.0;
    let off = (body.len() as f64 - expected) / expected;
    assert!(off.abs() < 0.03, "{} bytes in {:?}: {:.1}% off real time", body.len(), t0.elapsed(), off * 100.0);
    let (t, first_byte_at, codec) = started(&sim);
    assert_eq!(codec, "G.711ulaw");
    assert!(first_byte_at > 0.0 && first_byte_at <= t && t - first_byte_at < 0.1, "first_byte_at {first_byte_at}, logged at {t}");
    assert!(
        !sim.events().iter().any(|e| matches!(e.kind, EventKind::Hangup { .. } | EventKind::MicEnded { .. })),
        "{}",
        dump(&sim.events())
    );
    drop(s);
    expect(&sim, "mic ended", |k| matches!(k, EventKind::MicEnded { reason, .. } if reason == "client_closed")).await;

    let dir = tempfile::tempdir().unwrap();
    let pcm = ffmpeg_decode(dir.path(), ULAW, &body, 8000);
    assert!(sine_snr_db(&pcm, 8000, 440.0, 0) > 30.0);
    let level = amplitude(&pcm, 8000, 440.0);
    assert!((7000.0..9000.0).contains(&level), "about -12 dBFS: amplitude {level:.0}");
}

#[tokio::test]
async fn aac_comes_length_prefixed_or_bare() {
    for framing in [MicAac::Prefixed, MicAac::Bare] {
        let sim = start(SimConfig { codec: Some(Codec::Aac), mic_aac: framing, ..config(Profile::Modern) }).await;
        let mut c = Client::new(&sim);
        let (uri, _) = open(&mut c).await;
        let (mut s, _) = mic_get(&mut c, &uri).await;
        let body = read_for(&mut s, Duration::from_millis(1500)).await;
        drop(s);
        assert_eq!(started(&sim).2, "AAC");
        let adts = match framing {
            MicAac::Prefixed => {
                let len = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
                assert!(body[4] == 0xFF && body[5] & 0xF6 == 0xF0, "an ADTS frame after the {len}-byte prefix");
                let frames = unprefix(&body);
                // 1.5 s of 1024-sample frames at 16 kHz, less the encoder's start-up.
                assert!(frames.len() >= 18, "{} frames", frames.len());
                assert!(frames.iter().all(|f| f[0] == 0xFF && f[1] & 0xF6 == 0xF0));
                frames.concat()
            }
            MicAac::Bare => {
                assert!(body[0] == 0xFF && body[1] & 0xF6 == 0xF0, "bare ADTS from the first byte");
                body
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let pcm = ffmpeg_decode(dir.path(), &["-f", "aac"], &adts, 16000);
        assert!(pcm.len() > 16000, "{framing}: {} samples", pcm.len());
        let snr = sine_snr_db(&pcm, 16000, 440.0, 4096);
        assert!(snr > 20.0, "{framing}: SNR {snr:.1} dB");
    }
}

#[tokio::test]
async fn a_mic_file_is_resampled_and_looped() {
    let dir = tempfile::tempdir().unwrap();
    // Half a second of 1 kHz at 44.1 kHz stereo: 500 whole cycles, so the loop is seamless.
    let wav = tone_wav(&dir.path().join("mic.wav"), 1000.0, 0.5, 44100, 2, 0.5);
    let sim = start(SimConfig { mic: Some(wav.clone()), ..config(Profile::Modern) }).await;
    let mut c = Client::new(&sim);
    let (uri, _) = open(&mut c).await;
    let (mut s, _) = mic_get(&mut c, &uri).await;
    let body = read_for(&mut s, Duration::from_millis(1600)).await;
    drop(s);
    let pcm = ffmpeg_decode(dir.path(), ULAW, &body, 8000);
    assert!(pcm.len() > 8000 * 3 / 2, "longer than the file: {} samples", pcm.len());
    let snr = sine_snr_db(&pcm, 8000, 1000.0, 0);
    assert!(snr > 25.0, "the file's 1 kHz throughout, loop seams included: SNR {snr:.1} dB");
    assert!(amplitude(&pcm, 8000, 440.0) < 100.0, "no tone");
    let level = amplitude(&pcm, 8000, 1000.0);
    assert!((15000.0..17500.0).contains(&level), "the file's level: amplitude {level:.0}");

    // A file without audio, or none at all, stops the simulator from starting.
    let empty = tone_wav(&dir.path().join("empty.wav"), 1000.0, 0.0, 8000, 1, 0.5);
    let e = hiktalk::sim::start(SimConfig { mic: Some(empty), ..config(Profile::Modern) }).await.err().expect("no start");
    assert!(e.to_string().contains("no audio"), "{e}");
    let missing = dir.path().join("missing.wav");
    let e = hiktalk::sim::start(SimConfig { mic: Some(missing.clone()), ..config(Profile::Modern) }).await.err().expect("no start");
    assert!(e.to_string().contains("missing.wav"), "{e}");
    // The command says which file and why, before listening.
    let mut cmd = hiktalk();
    cmd.args(["sim", "--mic"]).arg(&missing);
    let (out, took) = run_to_end(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("microphone file") && stderr.contains("missing.wav"), "{stderr}");
    assert!(!stderr.contains("cannot listen") && !stderr.contains("listening on"), "{stderr}");
    assert!(took < Duration::from_secs(5));
}

#[tokio::test]
async fn duplex_on_one_session_and_the_speaker_echoes_into_the_microphone() {
    let echo = MicEcho { delay: Duration::from_millis(100), gain_db: 0.0 };
    let sim = start(SimConfig { mic_echo: Some(echo), ..config(Profile::Modern) }).await;
    let mut c = Client::new(&sim);
    let (uri, close) = open(&mut c).await;
    let (mut mic, _) = mic_get(&mut c, &uri).await;
    let mut body = read_for(&mut mic, Duration::from_millis(300)).await;
    // The upload on the same session while the microphone runs: 1 s of 1 kHz, paced.
    let (mut up, r) = c.upload(&uri).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let writer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for f in 0..50 {
            tick.tick().await;
            let frame: Vec<u8> = (0..160)
                .map(|i| {
                    let n = (f * 160 + i) as f64;
                    let v = 8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n / 8000.0).sin();
                    audio_codec_algorithms::encode_ulaw(v as i16)
                })
                .collect();
            up.write_all(&frame).await.unwrap();
        }
        up
    });
    body.extend(read_for(&mut mic, Duration::from_millis(1800)).await);
    let up = writer.await.unwrap();
    assert_eq!(c.request("PUT", &close, "").await.status, 200);
    drop((up, mic));
    let ended = expect(&sim, "upload ended", |k| matches!(k, EventKind::AudioEnded { .. })).await;
    let EventKind::AudioEnded { bytes: 8000, listened, .. } = ended else { panic!("{ended:?}") };
    expect(&sim, "mic ended", |k| matches!(k, EventKind::MicEnded { reason, .. } if reason == "session_closed")).await;
    assert!(!sim.events().iter().any(|e| matches!(e.kind, EventKind::AudioRefused { .. })), "{}", dump(&sim.events()));

    let dir = tempfile::tempdir().unwrap();
    let pcm = ffmpeg_decode(dir.path(), ULAW, &body, 8000);
    let (_, first_byte_at, _) = started(&sim);
    // Where the speaker's first sample lands in the microphone stream, 100 ms after it played.
    let onset = ((listened.first_audio_at.unwrap() + 0.1 - first_byte_at) * 8000.0) as usize;
    assert!(onset > 2400 && onset + 8000 < pcm.len(), "onset {onset} of {}", pcm.len());
    let before = amplitude(&pcm[onset - 2000..onset - 80], 8000, 1000.0);
    let during = amplitude(&pcm[onset + 400..onset + 7600], 8000, 1000.0);
    assert!(before < 200.0, "no 1 kHz before the echo: {before:.0}");
    // Less where the writer fell behind: the speaker ran dry there and the echo has gaps.
    assert!((5000.0..9000.0).contains(&during), "the speaker's 1 kHz at 0 dB: {during:.0}");
    assert!(amplitude(&pcm[onset + 400..onset + 7600], 8000, 440.0) > 6500.0, "on top of the tone");
    // The echo starts where the timeline says: the first sample that is more than the tone
    // (fitted before the echo and taken away) is the speaker's first, 100 ms later.
    let tone = sine_fit(&pcm[..onset - 400], 8000, 440.0);
    let heard = (onset - 800..onset + 800).find(|&i| (f64::from(pcm[i]) - tone(i)).abs() > 2000.0).unwrap();
    let off_ms = (heard as f64 - onset as f64) / 8.0;
    assert!((-2.0..5.0).contains(&off_ms), "the echo starts {off_ms:.1} ms off");
    // And it ends about a second later (later by any gaps).
    let after = &pcm[onset + 9600..(onset + 11000).min(pcm.len())];
    assert!(after.len() >= 800 && amplitude(after, 8000, 1000.0) < 200.0, "no 1 kHz after the upload");
}

#[tokio::test]
async fn the_inbound_codec_is_written_and_is_the_microphone_codec() {
    let sim = start(SimConfig { inbound_codec: Some(Codec::G711Alaw), ..config(Profile::Modern) }).await;
    let mut c = Client::new(&sim);
    let r = c.request("GET", &format!("{CHANNELS}/1"), "").await;
    assert!(
        r.body.contains(
            "<audioCompressionType>G.711ulaw</audioCompressionType>\r\n  <audioInboundCompressionType>G.711alaw</audioInboundCompressionType>"
        ),
        "{}",
        r.body
    );
    let (uri, _) = open(&mut c).await;
    let (mut s, _) = mic_get(&mut c, &uri).await;
    let body = read_for(&mut s, Duration::from_millis(500)).await;
    drop(s);
    assert_eq!(started(&sim).2, "G.711alaw");
    let dir = tempfile::tempdir().unwrap();
    assert!(sine_snr_db(&ffmpeg_decode(dir.path(), ALAW, &body, 8000), 8000, 440.0, 0) > 30.0, "A-law");
    assert!(sine_snr_db(&ffmpeg_decode(dir.path(), ULAW, &body, 8000), 8000, 440.0, 0) < 20.0, "not mu-law");

    // AAC on a G.711 channel runs at the channel's 8 kHz.
    let sim = start(SimConfig { inbound_codec: Some(Codec::Aac), ..config(Profile::Modern) }).await;
    let mut c = Client::new(&sim);
    let (uri, _) = open(&mut c).await;
    let (mut s, _) = mic_get(&mut c, &uri).await;
    let body = read_for(&mut s, Duration::from_millis(1500)).await;
    drop(s);
    assert_eq!(started(&sim).2, "AAC");
    let pcm = ffmpeg_decode(dir.path(), &["-f", "aac"], &unprefix(&body).concat(), 8000);
    assert!(sine_snr_db(&pcm, 8000, 440.0, 2048) > 20.0);
    let info = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=sample_rate", "-of", "csv=p=0"])
        .arg(dir.path().join("in.bin"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&info.stdout).trim(), "8000");

    // Without the knob the channel has no such field, and a channel PUT may set it.
    let sim = start(config(Profile::Modern)).await;
    let mut c = Client::new(&sim);
    assert!(!c.request("GET", &format!("{CHANNELS}/1"), "").await.body.contains("Inbound"));
    let put = "<TwoWayAudioChannel><id>1</id><audioInboundCompressionType>G.711alaw</audioInboundCompressionType></TwoWayAudioChannel>";
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), put).await.status, 200);
    assert!(c.request("GET", &format!("{CHANNELS}/1"), "").await.body.contains("<audioInboundCompressionType>G.711alaw<"));
    let put = "<TwoWayAudioChannel><id>1</id><audioInboundCompressionType>MP2L2</audioInboundCompressionType></TwoWayAudioChannel>";
    assert_eq!(c.request("PUT", &format!("{CHANNELS}/1"), put).await.status, 400);
}
