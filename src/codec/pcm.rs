//! Uncompressed PCM: signed 16-bit little-endian mono at the channel rate, no framing.

use super::{Codec, CodecError, CodecParams, Decoder, Encoder};

/// Rates a 20 ms frame divides evenly (rate % 50 == 0) in the range devices use.
fn check(params: CodecParams) -> Result<CodecParams, CodecError> {
    let rate = params.sample_rate;
    if !(8000..=48000).contains(&rate) || !rate.is_multiple_of(50) {
        return Err(CodecError::BadRate { codec: Codec::Pcm, sample_rate: rate });
    }
    Ok(CodecParams { bitrate: Some(rate * 16), ..params })
}

pub struct PcmEncoder {
    params: CodecParams,
}

impl PcmEncoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        Ok(PcmEncoder { params: check(params)? })
    }
}

impl Encoder for PcmEncoder {
    fn params(&self) -> CodecParams {
        self.params
    }

    fn frame_samples(&self) -> usize {
        self.params.sample_rate as usize / 50
    }

    fn live_frame_samples(&self) -> usize {
        self.params.sample_rate as usize / 100
    }

    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend(frame.iter().flat_map(|s| s.to_le_bytes()));
        Ok(())
    }
}

pub struct PcmDecoder {
    /// The first byte of a sample split across two reads.
    pending: Option<u8>,
}

impl PcmDecoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        check(params)?;
        Ok(PcmDecoder { pending: None })
    }
}

impl Decoder for PcmDecoder {
    fn decode(&mut self, mut data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        if let (Some(lo), Some((&hi, rest))) = (self.pending, data.split_first()) {
            out.push(i16::from_le_bytes([lo, hi]));
            self.pending = None;
            data = rest;
        }
        let mut pairs = data.chunks_exact(2);
        out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
        if let [b] = pairs.remainder() {
            self.pending = Some(*b);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_odd_splits() {
        let params = CodecParams::new(Codec::Pcm);
        let mut enc = PcmEncoder::new(params).unwrap();
        assert_eq!(enc.frame_samples(), 320);
        let frame: Vec<i16> = (0..320).map(|i| (i * 97 - 15000) as i16).collect();
        let mut wire = Vec::new();
        enc.encode(&frame, &mut wire).unwrap();
        assert_eq!(wire.len(), 640);
        let mut dec = PcmDecoder::new(params).unwrap();
        let mut got = Vec::new();
        for piece in wire.chunks(7) {
            dec.decode(piece, &mut got).unwrap();
        }
        assert_eq!(got, frame);
    }

    #[test]
    fn rejects_rates_without_whole_20ms_frames() {
        let p = CodecParams { codec: Codec::Pcm, sample_rate: 11025, bitrate: None };
        assert!(matches!(PcmEncoder::new(p), Err(CodecError::BadRate { .. })));
        assert_eq!(PcmEncoder::new(CodecParams { sample_rate: 44100, ..p }).unwrap().frame_samples(), 882);
    }
}
