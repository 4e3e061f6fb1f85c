//! Talk codecs: one encoder/decoder pair per file behind two small traits.
//!
//! Encoders take fixed-size frames of mono i16 PCM and append exactly the bytes that go on the
//! audioData socket (for AAC that includes the 4-byte big-endian length prefix). Decoders take
//! wire bytes in arbitrary pieces, as they arrive from a socket, and emit PCM; the simulator uses
//! them to record what it received.

#[cfg(feature = "aac")]
mod aac;
#[cfg(any(feature = "aac", feature = "opus"))]
mod framing;
mod g711;
mod g726;
#[cfg(feature = "opus")]
mod opus;
mod pcm;

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("codec {0} is not supported by hiktalk")]
    Unsupported(String),
    #[error("codec {codec} needs hiktalk built with the `{feature}` feature")]
    NotBuilt { codec: Codec, feature: &'static str },
    #[error("{codec} cannot run at {sample_rate} Hz")]
    BadRate { codec: Codec, sample_rate: u32 },
    #[error("{codec} cannot run at {bitrate} bit/s; use {allowed}")]
    BadBitrate { codec: Codec, bitrate: u32, allowed: &'static str },
    #[error("{codec} encoder: {message}")]
    Encode { codec: Codec, message: String },
    #[error("{codec} decoder: {message}")]
    Decode { codec: Codec, message: String },
}

/// A talk codec hiktalk can put on the wire. Serialised (and shown) as devices spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    G711Ulaw,
    G711Alaw,
    G726,
    Aac,
    Pcm,
    Opus,
}

impl Codec {
    pub const ALL: [Codec; 6] = [Codec::G711Ulaw, Codec::G711Alaw, Codec::G726, Codec::Aac, Codec::Pcm, Codec::Opus];

    /// Reads an ISAPI `audioCompressionType` value (case-insensitive).
    pub fn from_isapi(name: &str) -> Option<Codec> {
        match name.trim().to_ascii_lowercase().as_str() {
            "g.711ulaw" | "g711ulaw" | "g.711u" => Some(Codec::G711Ulaw),
            "g.711alaw" | "g711alaw" | "g.711a" => Some(Codec::G711Alaw),
            "g.726" | "g726" => Some(Codec::G726),
            "aac" => Some(Codec::Aac),
            "pcm" => Some(Codec::Pcm),
            "opus" => Some(Codec::Opus),
            _ => None,
        }
    }

    /// The `audioCompressionType` value devices use.
    pub fn isapi_name(self) -> &'static str {
        match self {
            Codec::G711Ulaw => "G.711ulaw",
            Codec::G711Alaw => "G.711alaw",
            Codec::G726 => "G.726",
            Codec::Aac => "AAC",
            Codec::Pcm => "PCM",
            Codec::Opus => "OPUS",
        }
    }

    /// The only rate a narrow-band codec runs at, if it has one.
    pub fn fixed_rate(self) -> Option<u32> {
        match self {
            Codec::G711Ulaw | Codec::G711Alaw | Codec::G726 => Some(8000),
            _ => None,
        }
    }

    /// The rate used when the channel states none.
    pub fn default_rate(self) -> u32 {
        self.fixed_rate().unwrap_or(16000)
    }

    /// Whether this codec can run at `bitrate` bit/s (a channel's `audioBitRate` may be for
    /// another codec: G.711's 64 kbit/s is no G.726 rate).
    pub fn accepts_bitrate(self, bitrate: u32) -> bool {
        match self {
            Codec::G711Ulaw | Codec::G711Alaw => bitrate == 64_000,
            Codec::G726 => matches!(bitrate, 16_000 | 24_000 | 32_000 | 40_000),
            // PCM's rate follows from the sample rate; the element is informational.
            Codec::Pcm => true,
            Codec::Aac => (8_000..=320_000).contains(&bitrate),
            Codec::Opus => (6_000..=510_000).contains(&bitrate),
        }
    }

    /// The bitrate the encoder picks when none is given, where the codec has a choice.
    pub fn default_bitrate(self) -> Option<u32> {
        match self {
            Codec::G711Ulaw | Codec::G711Alaw => Some(64_000),
            Codec::G726 => Some(32_000),
            Codec::Aac | Codec::Opus => Some(32_000),
            Codec::Pcm => None,
        }
    }
}

impl Serialize for Codec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.isapi_name())
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.isapi_name())
    }
}

impl FromStr for Codec {
    type Err = String;

    /// Accepts the ISAPI names and the short names people type (`ulaw`, `alaw`, `aac`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let short = match s.trim().to_ascii_lowercase().as_str() {
            "ulaw" | "mulaw" | "mu-law" | "pcmu" | "g711u" => Some(Codec::G711Ulaw),
            "alaw" | "a-law" | "pcma" | "g711a" => Some(Codec::G711Alaw),
            _ => None,
        };
        short.or_else(|| Codec::from_isapi(s)).ok_or_else(|| {
            format!("unknown codec {s:?}; expected one of: ulaw, alaw, g726, aac, pcm, opus (or an ISAPI name such as G.711ulaw)")
        })
    }
}

/// What a channel asked for: codec, rate and (for AAC/Opus/G.726) bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodecParams {
    pub codec: Codec,
    pub sample_rate: u32,
    /// Bits per second, where the codec has a choice.
    pub bitrate: Option<u32>,
}

impl CodecParams {
    /// The codec at its default rate and bitrate.
    pub fn new(codec: Codec) -> Self {
        CodecParams { codec, sample_rate: codec.default_rate(), bitrate: None }
    }

    /// Bytes a second of audio takes on the wire (roughly, for compressed codecs).
    pub fn bytes_per_second(&self) -> u32 {
        match self.codec {
            Codec::Pcm => self.sample_rate * 2,
            _ => self.bitrate.or(self.codec.default_bitrate()).unwrap_or(64_000) / 8,
        }
    }
}

/// Encodes fixed-size frames of mono PCM into wire bytes.
pub trait Encoder: Send {
    fn params(&self) -> CodecParams;
    /// Samples per frame at `params().sample_rate`; `encode` takes exactly this many.
    fn frame_samples(&self) -> usize;
    /// Samples per frame for live audio, where a frame is a wait: sample-by-sample codecs
    /// take 10 ms; codecs with a fixed frame keep theirs.
    fn live_frame_samples(&self) -> usize {
        self.frame_samples()
    }
    /// Appends the wire bytes for one frame to `out`.
    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Samples of codec delay: a stream must be followed by this much silence for all of its
    /// audio to come out of a decoder. Zero for sample-by-sample codecs.
    fn delay(&self) -> usize {
        0
    }
}

/// Decodes wire bytes, fed in arbitrary pieces, into mono PCM.
pub trait Decoder: Send {
    fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError>;
}

/// An encoder for `params`, or why there is none.
pub fn encoder(params: CodecParams) -> Result<Box<dyn Encoder>, CodecError> {
    Ok(match params.codec {
        Codec::G711Ulaw | Codec::G711Alaw => Box::new(g711::G711Encoder::new(params)?),
        Codec::G726 => Box::new(g726::G726Encoder::new(params)?),
        Codec::Pcm => Box::new(pcm::PcmEncoder::new(params)?),
        #[cfg(feature = "aac")]
        Codec::Aac => Box::new(aac::AacEncoder::new(params)?),
        #[cfg(not(feature = "aac"))]
        Codec::Aac => return Err(CodecError::NotBuilt { codec: Codec::Aac, feature: "aac" }),
        #[cfg(feature = "opus")]
        Codec::Opus => Box::new(opus::OpusEncoder::new(params)?),
        #[cfg(not(feature = "opus"))]
        Codec::Opus => return Err(CodecError::NotBuilt { codec: Codec::Opus, feature: "opus" }),
    })
}

/// A decoder for `params`, or why there is none.
pub fn decoder(params: CodecParams) -> Result<Box<dyn Decoder>, CodecError> {
    Ok(match params.codec {
        Codec::G711Ulaw | Codec::G711Alaw => Box::new(g711::G711Decoder::new(params)?),
        Codec::G726 => Box::new(g726::G726Decoder::new(params)?),
        Codec::Pcm => Box::new(pcm::PcmDecoder::new(params)?),
        #[cfg(feature = "aac")]
        Codec::Aac => Box::new(aac::AacDecoder::new(params)?),
        #[cfg(not(feature = "aac"))]
        Codec::Aac => return Err(CodecError::NotBuilt { codec: Codec::Aac, feature: "aac" }),
        #[cfg(feature = "opus")]
        Codec::Opus => Box::new(opus::OpusDecoder::new(params)?),
        #[cfg(not(feature = "opus"))]
        Codec::Opus => return Err(CodecError::NotBuilt { codec: Codec::Opus, feature: "opus" }),
    })
}

/// Duration of one encoder frame.
pub fn frame_duration(enc: &dyn Encoder) -> std::time::Duration {
    std::time::Duration::from_secs_f64(enc.frame_samples() as f64 / enc.params().sample_rate as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_both_ways() {
        for c in Codec::ALL {
            assert_eq!(Codec::from_isapi(c.isapi_name()), Some(c));
            assert_eq!(c.isapi_name().parse::<Codec>(), Ok(c));
        }
        assert_eq!("ulaw".parse::<Codec>(), Ok(Codec::G711Ulaw));
        assert_eq!("PCMA".parse::<Codec>(), Ok(Codec::G711Alaw));
        assert!("mp3".parse::<Codec>().is_err());
        assert_eq!(Codec::from_isapi("MP2L2"), None);
    }

    #[test]
    fn every_codec_has_an_encoder_and_decoder_at_its_default_rate() {
        for c in Codec::ALL {
            let p = CodecParams::new(c);
            let built = match c {
                Codec::Aac => cfg!(feature = "aac"),
                Codec::Opus => cfg!(feature = "opus"),
                _ => true,
            };
            if !built {
                assert!(matches!(encoder(p), Err(CodecError::NotBuilt { .. })), "{c}");
                assert!(matches!(decoder(p), Err(CodecError::NotBuilt { .. })), "{c}");
                continue;
            }
            let enc = encoder(p).unwrap_or_else(|e| panic!("{c}: {e}"));
            decoder(p).unwrap_or_else(|e| panic!("{c}: {e}"));
            let expected = if c == Codec::Aac { 1024 } else { p.sample_rate as usize / 50 };
            assert_eq!(enc.frame_samples(), expected, "{c}");
        }
    }
}
