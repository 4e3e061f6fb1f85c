//! Opus (libopus through `audiopus`), mono, 20 ms frames, VOIP application. There is no public
//! evidence of Opus as a Hikvision talk codec; it uses the same framing as AAC (each packet
//! preceded by its length as a 4-byte big-endian integer), since Opus packets are not
//! self-delimiting.

use super::framing::{Unframer, put_frame};
use super::{Codec, CodecError, CodecParams, Decoder, Encoder};
use audiopus::coder::{Decoder as OpusDec, Encoder as OpusEnc};
use audiopus::{Application, Bitrate, Channels, SampleRate};

const DEFAULT_BITRATE: u32 = 32_000;
/// libopus' recommended maximum packet size.
const MAX_PACKET: usize = 4000;

fn check(params: CodecParams) -> Result<(CodecParams, SampleRate), CodecError> {
    let rate = match params.sample_rate {
        8000 => SampleRate::Hz8000,
        12000 => SampleRate::Hz12000,
        16000 => SampleRate::Hz16000,
        24000 => SampleRate::Hz24000,
        48000 => SampleRate::Hz48000,
        other => return Err(CodecError::BadRate { codec: Codec::Opus, sample_rate: other }),
    };
    let bitrate = params.bitrate.unwrap_or(DEFAULT_BITRATE);
    if !(6000..=510_000).contains(&bitrate) {
        return Err(CodecError::BadBitrate { codec: Codec::Opus, bitrate, allowed: "6000 to 510000" });
    }
    Ok((CodecParams { bitrate: Some(bitrate), ..params }, rate))
}

fn encode_error(e: audiopus::Error) -> CodecError {
    CodecError::Encode { codec: Codec::Opus, message: e.to_string() }
}

fn decode_error(message: String) -> CodecError {
    CodecError::Decode { codec: Codec::Opus, message }
}

pub struct OpusEncoder {
    params: CodecParams,
    inner: OpusEnc,
    buf: Vec<u8>,
    lookahead: usize,
}

impl OpusEncoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        let (params, rate) = check(params)?;
        let mut inner = OpusEnc::new(rate, Channels::Mono, Application::Voip).map_err(encode_error)?;
        let bitrate = params.bitrate.unwrap_or(DEFAULT_BITRATE);
        inner.set_bitrate(Bitrate::BitsPerSecond(bitrate as i32)).map_err(encode_error)?;
        let lookahead = inner.lookahead().map_err(encode_error)? as usize;
        Ok(OpusEncoder { params, inner, buf: vec![0; MAX_PACKET], lookahead })
    }
}

impl Encoder for OpusEncoder {
    fn params(&self) -> CodecParams {
        self.params
    }

    fn frame_samples(&self) -> usize {
        self.params.sample_rate as usize / 50
    }

    fn delay(&self) -> usize {
        self.lookahead
    }

    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        // libopus reads exactly one frame's worth; a short slice would be read past its end.
        if frame.len() != self.frame_samples() {
            return Err(CodecError::Encode {
                codec: Codec::Opus,
                message: format!("frame of {} samples, expected {}", frame.len(), self.frame_samples()),
            });
        }
        let n = self.inner.encode(frame, &mut self.buf).map_err(encode_error)?;
        put_frame(&self.buf[..n], out);
        Ok(())
    }
}

pub struct OpusDecoder {
    inner: OpusDec,
    unframer: Unframer,
    pcm: Vec<i16>,
}

impl OpusDecoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        let (params, rate) = check(params)?;
        let inner = OpusDec::new(rate, Channels::Mono).map_err(|e| decode_error(e.to_string()))?;
        // 120 ms is the longest an Opus packet can carry.
        Ok(OpusDecoder { inner, unframer: Unframer::default(), pcm: vec![0; params.sample_rate as usize * 120 / 1000] })
    }
}

impl Decoder for OpusDecoder {
    fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let OpusDecoder { inner, unframer, pcm } = self;
        unframer.push(
            data,
            |packet| {
                let n = inner.decode(Some(packet), &mut pcm[..], false).map_err(|e| decode_error(e.to_string()))?;
                out.extend_from_slice(&pcm[..n.min(pcm.len())]);
                Ok(())
            },
            |len| decode_error(format!("packet length prefix {len} is not plausible; is the stream Opus?")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_rate() {
        for rate in [8000, 12000, 16000, 24000, 48000] {
            let params = CodecParams { codec: Codec::Opus, sample_rate: rate, bitrate: None };
            let mut enc = OpusEncoder::new(params).unwrap();
            let n = enc.frame_samples();
            assert_eq!(n as u32, rate / 50);
            let tone: Vec<i16> =
                (0..n * 25).map(|i| ((i as f32 * std::f32::consts::TAU * 440.0 / rate as f32).sin() * 12000.0) as i16).collect();
            let mut wire = Vec::new();
            for frame in tone.chunks(n) {
                enc.encode(frame, &mut wire).unwrap();
            }
            let mut dec = OpusDecoder::new(params).unwrap();
            let mut pcm = Vec::new();
            for piece in wire.chunks(11) {
                dec.decode(piece, &mut pcm).unwrap();
            }
            assert_eq!(pcm.len(), tone.len(), "{rate}");
            let peak = pcm[n * 10..].iter().map(|s| s.unsigned_abs()).max().unwrap();
            assert!((9000..16000).contains(&peak), "{rate}: peak {peak}");
        }
    }

    #[test]
    fn rejects_bad_rates_and_short_frames() {
        let p = CodecParams { codec: Codec::Opus, sample_rate: 44100, bitrate: None };
        assert!(matches!(OpusEncoder::new(p), Err(CodecError::BadRate { .. })));
        let mut enc = OpusEncoder::new(CodecParams::new(Codec::Opus)).unwrap();
        assert!(enc.encode(&[0; 10], &mut Vec::new()).is_err());
    }

    #[test]
    fn noise_packets_never_crash() {
        let mut dec = OpusDecoder::new(CodecParams::new(Codec::Opus)).unwrap();
        let mut out = Vec::new();
        let mut seed = 0x8765_4321u32;
        for len in 1..300 {
            let mut wire = (len as u32).to_be_bytes().to_vec();
            wire.extend((0..len).map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            }));
            let _ = dec.decode(&wire, &mut out);
        }
        // A decode error must not leave the decoder unusable.
        let mut enc = OpusEncoder::new(CodecParams::new(Codec::Opus)).unwrap();
        let mut wire = Vec::new();
        enc.encode(&[0; 320], &mut wire).unwrap();
        out.clear();
        dec.decode(&wire, &mut out).unwrap();
        assert_eq!(out.len(), 320);
    }
}
