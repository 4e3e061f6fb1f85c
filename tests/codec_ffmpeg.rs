//! hiktalk's encoders checked by ffmpeg's decoders, hiktalk's decoders checked on ffmpeg's
//! encodings, and file decoding checked on files ffmpeg, sox and espeak-ng make at test time.
//!
//! Needs ffmpeg, sox and espeak-ng (Debian packages of those names); a missing tool fails the
//! test with that advice rather than skipping it.
//!
//! Measure: a 1 kHz sine at -6 dBFS, 2.5 s. After aligning for codec delay (least error over
//! +-lag), SNR is taken over the middle 60 %; the spectral peak comes from a 2048-point DFT and
//! must be within one bin of 1 kHz; the level within 1 dB of the input. Each floor states what
//! was measured here and sits a few dB under it.

use crate::util::ffmpeg::*;
use hiktalk::audio::decode::{self, Input, Source};
use hiktalk::codec::{self, Codec, CodecParams};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const FREQ: f64 = 1000.0;
const SECS: f64 = 2.5;

fn tone(rate: u32) -> Vec<i16> {
    let n = (f64::from(rate) * SECS) as usize;
    (0..n).map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * FREQ / f64::from(rate)).sin() * 0.5 * 32767.0).round() as i16).collect()
}

/// hiktalk's encoding of `pcm`: whole frames (zero-padded) plus enough silence for the delay.
fn encode(params: CodecParams, pcm: &[i16]) -> Vec<u8> {
    let mut enc = codec::encoder(params).unwrap();
    let n = enc.frame_samples();
    let mut padded = pcm.to_vec();
    padded.resize(pcm.len().div_ceil(n) * n + (enc.delay().div_ceil(n) + 2) * n, 0);
    let mut wire = Vec::new();
    for frame in padded.chunks(n) {
        enc.encode(frame, &mut wire).unwrap();
    }
    wire
}

/// Splits the 4-byte big-endian length-prefixed framing.
fn hiktalk_decode(params: CodecParams, wire: &[u8], piece: usize) -> Vec<i16> {
    let mut dec = codec::decoder(params).unwrap();
    let mut pcm = Vec::new();
    for chunk in wire.chunks(piece) {
        dec.decode(chunk, &mut pcm).unwrap();
    }
    pcm
}

/// ffmpeg encodes `pcm` (mono s16le at `rate`) with `output` options; returns the file bytes.
fn ffmpeg_encode(dir: &Path, pcm: &[i16], rate: u32, output: &[&str]) -> Vec<u8> {
    let src = dir.join("tone.raw");
    let dst = dir.join("enc.bin");
    std::fs::write(&src, s16le(pcm)).unwrap();
    let rate = rate.to_string();
    let mut args = vec!["-f", "s16le", "-ar", &rate, "-ac", "1", "-i", src.to_str().unwrap()];
    args.extend(output);
    args.push(dst.to_str().unwrap());
    ffmpeg(&args);
    std::fs::read(dst).unwrap()
}

/// Offset of `got` relative to `reference` (samples, either way): the one with the least error
/// (on a periodic tone, correlation alone cannot tell whole periods apart).
fn lag(reference: &[i16], got: &[i16], max: usize) -> isize {
    let start = reference.len() / 4;
    let win = &reference[start..start + 2000];
    (-(max as isize)..max as isize)
        .filter(|l| start as isize + l >= 0 && (start as isize + l) as usize + win.len() <= got.len())
        .min_by_key(|&l| {
            let at = (start as isize + l) as usize;
            win.iter().zip(&got[at..]).map(|(&a, &b)| (i64::from(a) - i64::from(b)).pow(2)).sum::<i64>()
        })
        .expect("decoded output is too short to align")
}

/// (SNR dB, level difference dB, spectral peak Hz, bin width Hz) of `got` against `reference`.
struct Quality {
    snr: f64,
    level_db: f64,
    peak_hz: f64,
    bin_hz: f64,
}

fn quality(reference: &[i16], got: &[i16], rate: u32, max_lag: usize) -> Quality {
    let l = lag(reference, got, max_lag);
    let (a, b) = (reference.len() / 5, reference.len() * 4 / 5);
    let (ga, gb) = ((a as isize + l) as usize, (b as isize + l) as usize);
    assert!(gb <= got.len(), "decoded output too short: {} samples for {}", got.len(), reference.len());
    let r = &reference[a..b];
    let g = &got[ga..gb];
    let power = |x: &[i16]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let err: f64 = r.iter().zip(g).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    let n = 2048;
    let (cos, sin): (Vec<f64>, Vec<f64>) =
        (0..n).map(|i| (2.0 * std::f64::consts::PI * i as f64 / n as f64).sin_cos()).map(|(s, c)| (c, s)).unzip();
    // Hann-windowed segment.
    let seg: Vec<f64> = g[..n].iter().enumerate().map(|(i, &v)| f64::from(v) * (0.5 - 0.5 * cos[i])).collect();
    let mut best = (0, 0.0);
    for k in 1..n / 2 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in seg.iter().enumerate() {
            let j = k * i % n;
            re += v * cos[j];
            im -= v * sin[j];
        }
        let m = re * re + im * im;
        if m > best.1 {
            best = (k, m);
        }
    }
    let bin_hz = f64::from(rate) / n as f64;
    Quality {
        snr: 10.0 * (power(r) / err.max(1e-9)).log10(),
        level_db: 10.0 * (power(g) / power(r)).log10(),
        peak_hz: best.0 as f64 * bin_hz,
        bin_hz,
    }
}

fn check(name: &str, q: &Quality, min_snr: f64, level_tolerance_db: f64) {
    eprintln!("{name}: SNR {:.1} dB, level {:+.2} dB, peak {:.1} Hz", q.snr, q.level_db, q.peak_hz);
    assert!(q.snr >= min_snr, "{name}: SNR {:.1} dB below the {min_snr} dB floor", q.snr);
    assert!(q.level_db.abs() <= level_tolerance_db, "{name}: level off by {:.2} dB", q.level_db);
    assert!((q.peak_hz - FREQ).abs() <= q.bin_hz, "{name}: spectral peak at {:.1} Hz", q.peak_hz);
}

#[test]
fn g711_against_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = tone(8000);
    for (codec, fmt, enc) in [(Codec::G711Ulaw, "mulaw", "pcm_mulaw"), (Codec::G711Alaw, "alaw", "pcm_alaw")] {
        let params = CodecParams::new(codec);
        let wire = encode(params, &pcm);
        // Measured 33.8 dB (mu-law) and 34.9 dB (A-law).
        let by_ffmpeg = ffmpeg_decode(dir.path(), &["-f", fmt, "-ar", "8000", "-ac", "1"], &wire, 8000);
        check(&format!("{codec} hiktalk->ffmpeg"), &quality(&pcm, &by_ffmpeg, 8000, 8), 30.0, 0.2);

        let theirs = ffmpeg_encode(dir.path(), &pcm, 8000, &["-c:a", enc, "-f", fmt]);
        let decoded = hiktalk_decode(params, &theirs, 33);
        // Measured 33.8 dB (mu-law) and 38.6 dB (A-law).
        check(&format!("{codec} ffmpeg->hiktalk"), &quality(&pcm, &decoded, 8000, 8), 30.0, 0.2);

        // Codes may differ by one where reference encoders round differently: compare the
        // decoded values, which must be the same or neighbouring quantisation levels.
        let mut levels: Vec<i16> = (0..=255u8).map(|b| hiktalk_decode(params, &[b], 1)[0]).collect();
        levels.sort();
        levels.dedup();
        let ours = hiktalk_decode(params, &wire[..pcm.len()], 160);
        let mut differing = 0;
        for (i, (&a, &b)) in ours.iter().zip(&decoded).enumerate() {
            let ia = levels.binary_search(&a).unwrap() as i64;
            let ib = levels.binary_search(&b).unwrap() as i64;
            assert!((ia - ib).abs() <= 1, "{codec} sample {i}: hiktalk {a}, ffmpeg {b}: more than one step apart");
            differing += usize::from(a != b);
        }
        eprintln!("{codec}: {differing} of {} samples one step from ffmpeg's encoding", pcm.len());
    }
}

/// G.726 floors, per bits per sample: (SNR through ffmpeg's decoder, SNR through hiktalk's,
/// agreement between the two decoders on ffmpeg's stream). Measured here: through ffmpeg
/// 21.4 / 27.4 / 35.6 / 8.2 dB, through hiktalk 23.0 / 27.7 / 35.6 / 42.5 dB, agreement 27.4 /
/// 46.1 dB / bit-exact / -. ffmpeg departs from the recommendation in small roundings (hence
/// inexact agreement at 16 and 24 kbit/s) and, at 40 kbit/s, uses the 2^-8 predictor leak
/// where G.726 specifies 2^-9, so at 40 kbit/s the two implementations drift apart and only
/// the tone's frequency and a low SNR floor are checked through ffmpeg.
const G726_FLOORS: [(u32, f64, f64, Option<f64>); 4] =
    [(2, 18.0, 18.0, Some(20.0)), (3, 24.0, 24.0, Some(40.0)), (4, 32.0, 32.0, Some(100.0)), (5, 5.0, 35.0, None)];

#[test]
fn g726_against_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = tone(8000);
    for (bits, via_ffmpeg, via_hiktalk, agreement) in G726_FLOORS {
        let name = format!("G.726-{}", bits * 8);
        let params = CodecParams { codec: Codec::G726, sample_rate: 8000, bitrate: Some(bits * 8000) };
        let code_size = bits.to_string();
        let input = ["-f", "g726le", "-code_size", &code_size, "-ar", "8000", "-ac", "1"];
        let wire = encode(params, &pcm);
        let by_ffmpeg = ffmpeg_decode(dir.path(), &input, &wire, 8000);
        let level_tolerance = if agreement.is_some() { 1.0 } else { 6.0 };
        check(&format!("{name} hiktalk->ffmpeg"), &quality(&pcm, &by_ffmpeg, 8000, 8), via_ffmpeg, level_tolerance);
        let ours = hiktalk_decode(params, &wire, 5);
        check(&format!("{name} hiktalk->hiktalk"), &quality(&pcm, &ours, 8000, 8), via_hiktalk, 1.0);

        // ffmpeg's encoding through hiktalk's decoder, compared with ffmpeg's own decoding.
        let Some(agreement) = agreement else {
            eprintln!("{name}: ffmpeg's stream not checked (ffmpeg's 40 kbit/s predictor differs from G.726)");
            continue;
        };
        let theirs = ffmpeg_encode(dir.path(), &pcm, 8000, &["-c:a", "g726le", "-code_size", &code_size, "-f", "g726le"]);
        let ours = hiktalk_decode(params, &theirs, 7);
        check(&format!("{name} ffmpeg->hiktalk"), &quality(&pcm, &ours, 8000, 8), via_hiktalk, 1.0);
        let reference = ffmpeg_decode(dir.path(), &input, &theirs, 8000);
        let n = ours.len().min(reference.len());
        let q = quality(&reference[..n], &ours[..n], 8000, 4);
        eprintln!("{name}: hiktalk vs ffmpeg decoding the same stream: SNR {:.1} dB", q.snr);
        assert!(q.snr >= agreement, "{name}: hiktalk and ffmpeg decoders agree only to {:.1} dB", q.snr);
    }
}

#[test]
fn pcm_against_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = tone(16000);
    let params = CodecParams::new(Codec::Pcm);
    let wire = encode(params, &pcm);
    let by_ffmpeg = ffmpeg_decode(dir.path(), &["-f", "s16le", "-ar", "16000", "-ac", "1"], &wire, 16000);
    assert_eq!(&by_ffmpeg[..pcm.len()], &pcm[..], "PCM must be bit-exact");
    assert_eq!(&hiktalk_decode(params, &wire, 3)[..pcm.len()], &pcm[..]);
}

#[cfg(feature = "aac")]
#[test]
fn aac_against_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [16000u32, 48000] {
        let pcm = tone(rate);
        let params = CodecParams { codec: Codec::Aac, sample_rate: rate, bitrate: None };
        let wire = encode(params, &pcm);
        let adts: Vec<u8> = unprefix(&wire).concat();
        let by_ffmpeg = ffmpeg_decode(dir.path(), &["-f", "aac"], &adts, rate);
        // FDK at 32 kbit/s on a pure tone: measured 57.2 dB (16 kHz) and 52.6 dB (48 kHz).
        check(&format!("AAC {rate} Hz hiktalk->ffmpeg"), &quality(&pcm, &by_ffmpeg, rate, 4096), 45.0, 1.0);
        let ours = hiktalk_decode(params, &wire, 100);
        check(&format!("AAC {rate} Hz hiktalk->hiktalk"), &quality(&pcm, &ours, rate, 4096), 45.0, 1.0);

        // ffmpeg's own AAC encoder, length-prefixed as a camera sends it, through hiktalk's decoder.
        // Without perceptual noise substitution: each decoder fills PNS bands with its own noise.
        let theirs = ffmpeg_encode(dir.path(), &pcm, rate, &["-c:a", "aac", "-b:a", "32k", "-aac_pns", "0", "-f", "adts"]);
        let mut prefixed = Vec::new();
        let mut at = 0;
        while at + 7 <= theirs.len() {
            let len = (usize::from(theirs[at + 3] & 3) << 11) | usize::from(theirs[at + 4]) << 3 | usize::from(theirs[at + 5]) >> 5;
            prefixed.extend_from_slice(&(len as u32).to_be_bytes());
            prefixed.extend_from_slice(&theirs[at..at + len]);
            at += len;
        }
        // Compare the two decoders on the same stream (ffmpeg's encoder is weak on a pure tone
        // at 48 kHz, so the tone itself is no reference here).
        let ours = hiktalk_decode(params, &prefixed, 61);
        let reference = ffmpeg_decode(dir.path(), &["-f", "aac"], &theirs, rate);
        let q = quality(&reference, &ours, rate, 4096);
        eprintln!("AAC {rate} Hz: hiktalk vs ffmpeg decoding ffmpeg's stream: SNR {:.1} dB, level {:+.2} dB", q.snr, q.level_db);
        // Measured 86.4 dB (16 kHz) and 87.7 dB (48 kHz): the same up to rounding.
        assert!(q.snr >= 70.0 && q.level_db.abs() <= 0.1, "AAC decoders disagree: {:.1} dB", q.snr);
    }
}

#[cfg(feature = "opus")]
#[cfg(feature = "opus")]
#[test]
fn opus_against_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    for rate in [16000u32, 48000] {
        let pcm = tone(rate);
        let params = CodecParams { codec: Codec::Opus, sample_rate: rate, bitrate: None };
        let wire = encode(params, &pcm);
        let lookahead = codec::encoder(params).unwrap().delay() as u32;
        let ogg = ogg_opus(&unprefix(&wire), rate, (lookahead * 48000 / rate) as u16);
        let by_ffmpeg = ffmpeg_decode(dir.path(), &["-f", "ogg"], &ogg, rate);
        // libopus VOIP at 32 kbit/s: measured 21.8 dB (16 kHz) and 26.6 dB (48 kHz).
        check(&format!("Opus {rate} Hz hiktalk->ffmpeg"), &quality(&pcm, &by_ffmpeg, rate, 4096), 18.0, 1.0);
        // hiktalk's Opus decoder is libopus itself; this checks the framing and buffering.
        let ours = hiktalk_decode(params, &wire, 50);
        check(&format!("Opus {rate} Hz hiktalk->hiktalk"), &quality(&pcm, &ours, rate, 4096), 18.0, 1.0);
    }
}

fn read_all(src: &mut dyn Source) -> Vec<f32> {
    let mut all = Vec::new();
    while let Some(chunk) = src.next_chunk().unwrap() {
        all.extend(chunk);
    }
    all
}

/// Peak frequency and RMS of a decoded mono f32 tone (short DFT via the same helper).
fn assert_tone(name: &str, samples: &[f32], rate: u32, secs: f64) {
    let expected = (f64::from(rate) * secs) as i64;
    // MP3 and Vorbis add encoder padding / priming; allow 0.1 s.
    assert!((samples.len() as i64 - expected).abs() <= i64::from(rate) / 10, "{name}: {} samples, expected ~{expected}", samples.len());
    let pcm: Vec<i16> = samples.iter().map(|&x| (x * 32767.0) as i16).collect();
    let reference: Vec<i16> =
        (0..pcm.len()).map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * FREQ / f64::from(rate)).sin() * 0.5 * 32767.0) as i16).collect();
    let q = quality(&reference, &pcm, rate, 4096);
    eprintln!("{name}: level {:+.2} dB, peak {:.1} Hz", q.level_db, q.peak_hz);
    assert!((q.peak_hz - FREQ).abs() <= q.bin_hz, "{name}: peak at {} Hz", q.peak_hz);
    assert!(q.level_db.abs() <= 1.0, "{name}: level off by {:.2} dB", q.level_db);
}

#[test]
fn decodes_files_made_by_ffmpeg_and_sox() {
    tool("sox", "sox");
    let dir = tempfile::tempdir().unwrap();
    let sine = format!("sine=frequency={FREQ}:sample_rate=48000:duration={SECS}");
    // ffmpeg's sine source has amplitude 1/8: scale to -6 dBFS (x4). Stereo is made with pan,
    // as ffmpeg's own mono-to-stereo upmix lowers the level by 3 dB.
    let mono = "volume=4";
    let stereo = "volume=4,pan=stereo|c0=c0|c1=c0";
    // (file, filter, encoder options, rate, channels, description)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], u32, u16, &'a str);
    let cases: [Case; 6] = [
        ("s16_44k_stereo.wav", stereo, &["-ar", "44100", "-c:a", "pcm_s16le"], 44100, 2, "WAV, 44100 Hz, 2 ch, 16-bit"),
        ("s24_48k.wav", mono, &["-ar", "48000", "-c:a", "pcm_s24le"], 48000, 1, "WAV, 48000 Hz, 1 ch, 24-bit"),
        ("f32_22k.wav", mono, &["-ar", "22050", "-c:a", "pcm_f32le"], 22050, 1, "WAV, 22050 Hz, 1 ch, 32-bit float"),
        ("tone.mp3", stereo, &["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k"], 44100, 2, "MP3"),
        ("tone.flac", mono, &["-ar", "16000", "-c:a", "flac"], 16000, 1, "FLAC"),
        ("tone.ogg", mono, &["-ar", "32000", "-c:a", "libvorbis"], 32000, 1, "VORBIS"),
    ];
    for (file, filter, opts, rate, channels, describe) in cases {
        let path = dir.path().join(file);
        let mut args = vec!["-f", "lavfi", "-i", &sine, "-af", filter];
        args.extend(opts);
        args.push(path.to_str().unwrap());
        ffmpeg(&args);
        let mut src = decode::open(&Input::Path(path), None).unwrap();
        assert_eq!((src.sample_rate(), src.channels_in()), (rate, channels), "{file}");
        assert!(src.describe().starts_with(describe), "{file}: {}", src.describe());
        if let Some(d) = src.duration() {
            assert!((d.as_secs_f64() - SECS).abs() < 0.1, "{file}: duration {d:?}");
        }
        assert_tone(file, &read_all(src.as_mut()), rate, SECS);
    }

    // sox: 8-bit unsigned WAV and a FLAC with a different writer.
    for (file, extra) in [("sox_u8.wav", &["-b", "8"][..]), ("sox.flac", &[][..])] {
        let path = dir.path().join(file);
        let mut args = vec!["-n", "-r", "16000", "-c", "1"];
        args.extend(extra);
        args.extend([path.to_str().unwrap(), "synth", "2.5", "sine", "1000", "vol", "0.5"]);
        let status = Command::new("sox").args(&args).status().unwrap();
        assert!(status.success(), "sox {args:?}");
        let mut src = decode::open(&Input::Path(path), None).unwrap();
        assert_tone(file, &read_all(src.as_mut()), 16000, SECS);
    }
}

const STDIN_TEST: &str = "codec_ffmpeg::decodes_streamed_wav_from_files_and_stdin";

/// Runs this test binary again as a child that decodes `bytes` from its real stdin (a pipe);
/// returns what the child reports: "STDIN rate channels duration samples".
fn via_stdin(bytes: &[u8]) -> String {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", STDIN_TEST, "--nocapture", "--test-threads=1"])
        .env("HIKTALK_STDIN_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let result = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    assert!(result.status.success(), "child failed: {stdout}");
    // libtest may print "test NAME ... " on the same line before the child's output.
    stdout.lines().find_map(|l| l.find("STDIN ").map(|at| l[at..].to_string())).unwrap_or_default()
}

#[test]
fn decodes_streamed_wav_from_files_and_stdin() {
    if std::env::var_os("HIKTALK_STDIN_CHILD").is_some() {
        // Child: read our own stdin as hiktalk does for `-`.
        let mut src = decode::open(&Input::Stdin, None).unwrap();
        let n = read_all(src.as_mut()).len();
        println!("STDIN {} {} {:?} {n}", src.sample_rate(), src.channels_in(), src.duration());
        return;
    }
    tool("espeak-ng", "espeak-ng");
    let out = Command::new("espeak-ng").args(["--stdout", "hello from hiktalk"]).output().unwrap();
    assert!(out.status.success());
    let wav = out.stdout;
    assert_eq!(&wav[40..44], &[0x00, 0xF0, 0xFF, 0x7F], "espeak-ng no longer writes a placeholder size?");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("espeak.wav");
    std::fs::write(&path, &wav).unwrap();
    let mut src = decode::open(&Input::Path(path), None).unwrap();
    assert_eq!(src.sample_rate(), 22050);
    assert_eq!(src.duration(), None, "a placeholder size must not be reported as a duration");
    let samples = read_all(src.as_mut());
    let expected = (wav.len() - 44) / 2;
    assert_eq!(samples.len(), expected);
    assert!(samples.iter().any(|s| s.abs() > 0.1), "speech should not be silent");
    assert_eq!(via_stdin(&wav), format!("STDIN 22050 1 None {expected}"));

    // ffmpeg writing WAV to a pipe: RIFF and data sizes 0xFFFFFFFF, plus a LIST chunk.
    tool("ffmpeg", "ffmpeg");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1.5:r=16000", "-ac", "2", "-f", "wav", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(via_stdin(&out.stdout), "STDIN 16000 2 None 24000");

    // A non-WAV stream on stdin goes to symphonia (FLAC here).
    let flac = ffmpeg_encode(dir.path(), &tone(8000), 8000, &["-c:a", "flac", "-f", "flac"]);
    assert_eq!(via_stdin(&flac), format!("STDIN 8000 1 Some({}s) {}", SECS, (8000.0 * SECS) as usize));
}
