//! AAC-LC, mono, ADTS, through the Fraunhofer FDK library (`fdk-aac` crate; its bundled C++ is
//! under the FDK licence, not GPL-compatible). On the wire each ADTS frame is preceded by its
//! length as a 4-byte big-endian integer, as two independent clients of AAC-only cameras do.

use super::framing::{Unframer, put_frame};
use super::{Codec, CodecError, CodecParams, Decoder, Encoder};
use fdk_aac::{dec, enc};

/// AAC-LC's frame length.
pub const FRAME_SAMPLES: usize = 1024;
const DEFAULT_BITRATE: u32 = 32_000;
/// Sampling rates the FDK AAC-LC encoder accepts (ISO/IEC 14496-3 table 1.18, 8..48 kHz).
const RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/// 6144 bits per channel is the AAC frame ceiling; plus the 7-byte ADTS header.
const MAX_FRAME_BYTES: usize = 6144 / 8 + 7;

fn check(params: CodecParams) -> Result<CodecParams, CodecError> {
    if !RATES.contains(&params.sample_rate) {
        return Err(CodecError::BadRate { codec: Codec::Aac, sample_rate: params.sample_rate });
    }
    Ok(CodecParams { bitrate: Some(params.bitrate.unwrap_or(DEFAULT_BITRATE)), ..params })
}

fn encode_error(e: enc::EncoderError) -> CodecError {
    CodecError::Encode { codec: Codec::Aac, message: e.to_string() }
}

pub struct AacEncoder {
    params: CodecParams,
    inner: enc::Encoder,
    buf: Vec<u8>,
    delay: usize,
}

impl AacEncoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        let params = check(params)?;
        let bitrate = params.bitrate.unwrap_or(DEFAULT_BITRATE);
        let inner = enc::Encoder::new(enc::EncoderParams {
            bit_rate: enc::BitRate::Cbr(bitrate),
            sample_rate: params.sample_rate,
            transport: enc::Transport::Adts,
            channels: enc::ChannelMode::Mono,
            audio_object_type: enc::AudioObjectType::Mpeg4LowComplexity,
        })
        .map_err(|e| CodecError::Encode {
            codec: Codec::Aac,
            message: format!("cannot start at {} Hz, {bitrate} bit/s: {e}", params.sample_rate),
        })?;
        // nDelay (encoder plus decoder) leaves out the encoder's one-frame input buffering;
        // measured end to end through FDK's decoder, the total is nDelay + one frame.
        let delay = inner.info().map_err(encode_error)?.nDelay as usize + FRAME_SAMPLES;
        Ok(AacEncoder { params, inner, buf: vec![0; MAX_FRAME_BYTES], delay })
    }
}

impl Encoder for AacEncoder {
    fn params(&self) -> CodecParams {
        self.params
    }

    fn frame_samples(&self) -> usize {
        FRAME_SAMPLES
    }

    fn delay(&self) -> usize {
        self.delay
    }

    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let mut rest = frame;
        // The encoder takes what fits its input buffer and emits at most one frame per call.
        loop {
            let info = self.inner.encode(rest, &mut self.buf).map_err(encode_error)?;
            if info.output_size > 0 {
                put_frame(&self.buf[..info.output_size], out);
            }
            rest = &rest[info.input_consumed.min(rest.len())..];
            if rest.is_empty() {
                return Ok(());
            }
            if info.input_consumed == 0 && info.output_size == 0 {
                return Err(CodecError::Encode { codec: Codec::Aac, message: "encoder made no progress".into() });
            }
        }
    }
}

pub struct AacDecoder {
    inner: dec::Decoder,
    unframer: Unframer,
    /// Whether frames come behind length prefixes (as uploads do) or as bare ADTS (some
    /// devices' microphone streams, unconfirmed): told by the first byte.
    prefixed: Option<bool>,
    pcm: Vec<i16>,
}

fn decode_error(message: String) -> CodecError {
    CodecError::Decode { codec: Codec::Aac, message }
}

impl AacDecoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        check(params)?;
        let mut inner = dec::Decoder::new(dec::Transport::Adts);
        // Let FDK downmix a stereo stream from an unexpected sender.
        inner.set_max_output_channels(1).map_err(|e| decode_error(e.to_string()))?;
        // 2048 samples per channel covers SBR output; 8 channels is FDK's maximum.
        Ok(AacDecoder { inner, unframer: Unframer::default(), prefixed: None, pcm: vec![0; 2048 * 8] })
    }
}

/// Feeds ADTS bytes to FDK and appends every frame it can decode.
fn decode_adts(inner: &mut dec::Decoder, pcm: &mut [i16], mut rest: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
    while !rest.is_empty() {
        let taken = inner.fill(rest).map_err(|e| decode_error(e.to_string()))?;
        rest = &rest[taken..];
        loop {
            match inner.decode_frame(pcm) {
                Ok(()) => {
                    let n = inner.decoded_frame_size().min(pcm.len());
                    out.extend_from_slice(&pcm[..n]);
                }
                Err(e) if e == dec::DecoderError::NOT_ENOUGH_BITS => break,
                Err(e) => return Err(decode_error(e.to_string())),
            }
        }
    }
    Ok(())
}

impl Decoder for AacDecoder {
    fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let AacDecoder { inner, unframer, prefixed, pcm } = self;
        // A length prefix starts with a zero byte (frames are under 8 KiB); ADTS with 0xFF.
        let prefixed = *prefixed.get_or_insert_with(|| data.first() != Some(&0xFF));
        if !prefixed {
            return decode_adts(inner, pcm, data, out);
        }
        unframer.push(
            data,
            |frame| {
                // FDK would silently skip a non-ADTS frame while hunting for sync; say so instead.
                if frame.len() < 7 || frame[0] != 0xFF || frame[1] & 0xF6 != 0xF0 {
                    return Err(decode_error("frame does not start with an ADTS header".into()));
                }
                decode_adts(inner, pcm, frame, out)
            },
            |len| decode_error(format!("frame length prefix {len} is not a plausible ADTS frame; is the stream AAC?")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_length_prefixed_adts_and_decodes_it() {
        let params = CodecParams::new(Codec::Aac);
        let mut enc = AacEncoder::new(params).unwrap();
        let tone: Vec<i16> = (0..FRAME_SAMPLES * 20).map(|i| ((i as f32 * std::f32::consts::FRAC_PI_8).sin() * 12000.0) as i16).collect();
        let mut wire = Vec::new();
        for frame in tone.chunks(FRAME_SAMPLES) {
            enc.encode(frame, &mut wire).unwrap();
        }
        let len = u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize;
        assert_eq!(&wire[4..6], &[0xFF, 0xF1], "ADTS sync word, MPEG-4, no CRC");
        assert_eq!(((wire[7] as usize & 3) << 11) | (wire[8] as usize) << 3 | (wire[9] as usize) >> 5, len);

        let mut dec = AacDecoder::new(params).unwrap();
        let mut pcm = Vec::new();
        for piece in wire.chunks(5) {
            dec.decode(piece, &mut pcm).unwrap();
        }
        assert!(pcm.len() >= FRAME_SAMPLES * 16, "decoded only {} samples", pcm.len());
        let peak = pcm[FRAME_SAMPLES * 4..].iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((9000..16000).contains(&peak), "peak {peak}");
    }

    #[test]
    fn bare_adts_is_decoded_too() {
        let params = CodecParams::new(Codec::Aac);
        let mut enc = AacEncoder::new(params).unwrap();
        let tone: Vec<i16> = (0..FRAME_SAMPLES * 20).map(|i| ((i as f32 * std::f32::consts::FRAC_PI_8).sin() * 12000.0) as i16).collect();
        let mut wire = Vec::new();
        for frame in tone.chunks(FRAME_SAMPLES) {
            enc.encode(frame, &mut wire).unwrap();
        }
        let mut bare = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let len = u32::from_be_bytes(wire[at..at + 4].try_into().unwrap()) as usize;
            bare.extend_from_slice(&wire[at + 4..at + 4 + len]);
            at += 4 + len;
        }
        let mut dec = AacDecoder::new(params).unwrap();
        let mut pcm = Vec::new();
        for piece in bare.chunks(7) {
            dec.decode(piece, &mut pcm).unwrap();
        }
        assert!(pcm.len() >= FRAME_SAMPLES * 16, "decoded only {} samples", pcm.len());
    }

    #[test]
    fn supports_common_rates_and_rejects_others() {
        for rate in [8000, 16000, 32000, 44100, 48000] {
            let p = CodecParams { codec: Codec::Aac, sample_rate: rate, bitrate: None };
            let mut enc = AacEncoder::new(p).unwrap_or_else(|e| panic!("{rate}: {e}"));
            let mut out = Vec::new();
            for _ in 0..4 {
                enc.encode(&[0; FRAME_SAMPLES], &mut out).unwrap();
            }
            assert!(!out.is_empty(), "{rate}");
        }
        let p = CodecParams { codec: Codec::Aac, sample_rate: 7000, bitrate: None };
        assert!(matches!(AacEncoder::new(p), Err(CodecError::BadRate { .. })));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut dec = AacDecoder::new(CodecParams::new(Codec::Aac)).unwrap();
        let mut out = Vec::new();
        assert!(dec.decode(&[0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9], &mut out).is_err());
        assert!(dec.decode(b"GET / HTTP/1.1\r\n", &mut out).is_err());
        // Frames that pass the ADTS sync check but carry noise: errors or concealment, no crash.
        let mut seed = 0x1234_5678u32;
        for len in (8..800).step_by(37) {
            let mut frame = vec![0xFF, 0xF1, 0x60, 0x40];
            frame.extend((4..len).map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            }));
            let mut wire = (frame.len() as u32).to_be_bytes().to_vec();
            wire.extend_from_slice(&frame);
            let _ = dec.decode(&wire, &mut out);
        }
    }
}
