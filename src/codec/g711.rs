//! G.711 mu-law and A-law: 8 kHz, one byte per sample, no framing on the wire.

use super::{Codec, CodecError, CodecParams, Decoder, Encoder};
use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

/// 20 ms at 8 kHz: the pacing most clients use (160 bytes per frame).
const FRAME_SAMPLES: usize = 160;

fn check(params: CodecParams) -> Result<CodecParams, CodecError> {
    if params.sample_rate != 8000 {
        return Err(CodecError::BadRate { codec: params.codec, sample_rate: params.sample_rate });
    }
    Ok(CodecParams { bitrate: Some(64_000), ..params })
}

pub struct G711Encoder {
    params: CodecParams,
}

impl G711Encoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        Ok(G711Encoder { params: check(params)? })
    }
}

impl Encoder for G711Encoder {
    fn params(&self) -> CodecParams {
        self.params
    }

    fn frame_samples(&self) -> usize {
        FRAME_SAMPLES
    }

    fn live_frame_samples(&self) -> usize {
        self.params.sample_rate as usize / 100
    }

    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let law: fn(i16) -> u8 = if self.params.codec == Codec::G711Ulaw { encode_ulaw } else { encode_alaw };
        out.extend(frame.iter().map(|&s| law(s)));
        Ok(())
    }
}

pub struct G711Decoder {
    codec: Codec,
}

impl G711Decoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        Ok(G711Decoder { codec: check(params)?.codec })
    }
}

impl Decoder for G711Decoder {
    fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let law: fn(u8) -> i16 = if self.codec == Codec::G711Ulaw { decode_ulaw } else { decode_alaw };
        out.extend(data.iter().map(|&b| law(b)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_the_documented_byte() {
        for (codec, byte) in [(Codec::G711Ulaw, 0xFF), (Codec::G711Alaw, 0xD5)] {
            let mut enc = G711Encoder::new(CodecParams::new(codec)).unwrap();
            let mut out = Vec::new();
            enc.encode(&[0; FRAME_SAMPLES], &mut out).unwrap();
            assert_eq!(out, vec![byte; FRAME_SAMPLES]);
        }
    }

    #[test]
    fn rejects_other_rates() {
        let p = CodecParams { codec: Codec::G711Ulaw, sample_rate: 16000, bitrate: None };
        assert!(matches!(G711Encoder::new(p), Err(CodecError::BadRate { .. })));
    }
}
