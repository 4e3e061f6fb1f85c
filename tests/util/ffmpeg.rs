//! Independent decoding: ffmpeg (a decoder hiktalk did not write) turns what the simulated
//! device received into PCM, so content checks never trust hiktalk's own codecs.

use hiktalk::codec::Codec;
use hiktalk::sim::{Received, SimHandle};
use std::path::Path;
use std::process::{Command, Stdio};

pub fn tool(name: &str, package: &str) {
    // Spawning is enough to show it is installed; version flags differ between the tools.
    let ok = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(ok, "`{name}` is not installed; these tests use it as a reference. Install it: apt-get install {package}");
}

pub fn ffmpeg(args: &[&str]) {
    tool("ffmpeg", "ffmpeg");
    let out = Command::new("ffmpeg").args(["-hide_banner", "-loglevel", "error", "-y"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn s16le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

pub fn from_s16le(bytes: &[u8]) -> Vec<i16> {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// The frames of a length-prefixed stream (AAC and Opus on the wire); a cut-off tail is dropped.
pub fn unprefix(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 4 <= wire.len() {
        let len = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
        let Some(frame) = wire.get(at + 4..at + 4 + len) else { break };
        frames.push(frame.to_vec());
        at += 4 + len;
    }
    frames
}

/// ffmpeg decodes `data` (its input options in `input`) to mono s16le at `rate`.
pub fn ffmpeg_decode(dir: &Path, input: &[&str], data: &[u8], rate: u32) -> Vec<i16> {
    let src = dir.join("in.bin");
    let dst = dir.join("out.raw");
    std::fs::write(&src, data).unwrap();
    let rate = rate.to_string();
    let mut args: Vec<&str> = input.to_vec();
    args.extend(["-i", src.to_str().unwrap(), "-f", "s16le", "-ac", "1", "-ar", &rate, dst.to_str().unwrap()]);
    ffmpeg(&args);
    from_s16le(&std::fs::read(dst).unwrap())
}

/// Wraps Opus packets in an Ogg Opus file (RFC 7845) so ffmpeg can read them.
pub fn ogg_opus(packets: &[Vec<u8>], rate: u32, pre_skip_48k: u16) -> Vec<u8> {
    fn crc(data: &[u8]) -> u32 {
        let mut crc = 0u32;
        for &b in data {
            crc ^= u32::from(b) << 24;
            for _ in 0..8 {
                crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
            }
        }
        crc
    }
    let mut out = Vec::new();
    let mut page = |flags: u8, granule: u64, seq: u32, packet: &[u8]| {
        let mut p = b"OggS\0".to_vec();
        p.push(flags);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&0x6869_6b74u32.to_le_bytes());
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        let mut lacing = vec![255u8; packet.len() / 255];
        lacing.push((packet.len() % 255) as u8);
        p.push(lacing.len() as u8);
        p.extend_from_slice(&lacing);
        p.extend_from_slice(packet);
        let c = crc(&p);
        p[22..26].copy_from_slice(&c.to_le_bytes());
        out.extend_from_slice(&p);
    };
    let mut head = b"OpusHead\x01\x01".to_vec();
    head.extend_from_slice(&pre_skip_48k.to_le_bytes());
    head.extend_from_slice(&rate.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    page(2, 0, 0, &head);
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&7u32.to_le_bytes());
    tags.extend_from_slice(b"hiktalk");
    tags.extend_from_slice(&0u32.to_le_bytes());
    page(0, 0, 1, &tags);
    for (i, packet) in packets.iter().enumerate() {
        let flags = if i + 1 == packets.len() { 4 } else { 0 };
        page(flags, (i as u64 + 1) * 960, i as u32 + 2, packet);
    }
    out
}

/// What a listener at the device heard of an upload: its raw bytes decoded by ffmpeg, at the
/// channel's rate.
pub fn decode_received(r: &Received) -> (Vec<i16>, u32) {
    let params = r.params.expect("the channel's codec is known");
    let rate = params.sample_rate;
    let dir = tempfile::tempdir().unwrap();
    let r8 = rate.to_string();
    let pcm = match params.codec {
        Codec::G711Ulaw => ffmpeg_decode(dir.path(), &["-f", "mulaw", "-ar", "8000", "-ac", "1"], &r.raw, rate),
        Codec::G711Alaw => ffmpeg_decode(dir.path(), &["-f", "alaw", "-ar", "8000", "-ac", "1"], &r.raw, rate),
        Codec::G726 => {
            let bits = (params.bitrate.unwrap_or(32_000) / 8000).to_string();
            ffmpeg_decode(dir.path(), &["-f", "g726le", "-code_size", &bits, "-ar", "8000", "-ac", "1"], &r.raw, rate)
        }
        Codec::Pcm => ffmpeg_decode(dir.path(), &["-f", "s16le", "-ar", &r8, "-ac", "1"], &r.raw, rate),
        Codec::Aac => ffmpeg_decode(dir.path(), &["-f", "aac"], &unprefix(&r.raw).concat(), rate),
        Codec::Opus => ffmpeg_decode(dir.path(), &["-f", "ogg"], &ogg_opus(&unprefix(&r.raw), rate, 0), rate),
    };
    (pcm, rate)
}

/// What a listener heard of the last upload of session `id` (see `decode_received`).
pub async fn heard(sim: &SimHandle, id: &str) -> (Vec<i16>, u32) {
    decode_received(&sim.upload_of(id).await.unwrap_or_else(|| panic!("no upload for session {id}")))
}
