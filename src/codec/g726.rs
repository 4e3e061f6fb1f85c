//! G.726 ADPCM at 8 kHz, 16/24/32/40 kbit/s (2..5 bits per sample).
//!
//! No Rust crate implements G.726 (spandsp bindings need libclang), so this is written against
//! the ITU-T G.726 (12/90) "computational details" (section 4), with the integer tables as in
//! Sun's public-domain G.721/G.723 code; block names from the recommendation are noted in
//! comments. Input is 16-bit linear PCM reduced to the 14-bit range the algorithm works in.
//!
//! Against ffmpeg's decoder (tests/codec_ffmpeg.rs): bit-exact at 32 kbit/s; close at 16 and
//! 24 kbit/s, where ffmpeg rounds a few steps differently; at 40 kbit/s ffmpeg uses a 2^-8
//! predictor leak where G.726 (and Sun's and spandsp's code) use 2^-9, so the two drift apart.
//!
//! Bit packing: codes are packed least significant bit first, the first sample in the low bits
//! of the first byte ("little-endian"/right-justified, as in RTP G726-32 per RFC 3551 and most
//! cameras; ffmpeg's `g726le` decoder). At 32 kbit/s a byte is `first | second << 4`. A 20 ms
//! frame (160 samples) is a whole number of bytes at every rate.

use super::{Codec, CodecError, CodecParams, Decoder, Encoder};

const FRAME_SAMPLES: usize = 160;

/// Per-rate tables: quantizer decision levels (log domain), inverse quantizer output (DQLN),
/// scale factor multipliers (W, in 1/32 units) and speed-control function (F).
struct Tables {
    levels: &'static [i32],
    dqln: &'static [i32],
    w: &'static [i32],
    f: &'static [i32],
}

static T16: Tables = Tables { levels: &[261], dqln: &[116, 365, 365, 116], w: &[-22, 439, 439, -22], f: &[0, 7, 7, 0] };
static T24: Tables = Tables {
    levels: &[8, 218, 331],
    dqln: &[-2048, 135, 273, 373, 373, 273, 135, -2048],
    w: &[-4, 30, 137, 582, 582, 137, 30, -4],
    f: &[0, 1, 2, 7, 7, 2, 1, 0],
};
static T32: Tables = Tables {
    levels: &[-124, 80, 178, 246, 300, 349, 400],
    dqln: &[-2048, 4, 135, 213, 273, 323, 373, 425, 425, 373, 323, 273, 213, 135, 4, -2048],
    w: &[-12, 18, 41, 64, 112, 198, 355, 1122, 1122, 355, 198, 112, 64, 41, 18, -12],
    f: &[0, 0, 0, 1, 1, 1, 3, 7, 7, 3, 1, 1, 1, 0, 0, 0],
};
static T40: Tables = Tables {
    levels: &[-122, -16, 68, 139, 198, 250, 298, 339, 378, 413, 445, 475, 502, 528, 553],
    dqln: &[
        -2048, -66, 28, 104, 169, 224, 274, 318, 358, 395, 429, 459, 488, 514, 539, 566, 566, 539, 514, 488, 459, 429, 395, 358, 318, 274,
        224, 169, 104, 28, -66, -2048,
    ],
    w: &[
        14, 14, 24, 39, 40, 41, 58, 100, 141, 179, 219, 280, 358, 440, 529, 696, 696, 529, 440, 358, 280, 219, 179, 141, 100, 58, 41, 40,
        39, 24, 14, 14,
    ],
    f: &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
};

/// Bits per sample for `params`, checking rate and bitrate (default 32 kbit/s).
fn check(params: CodecParams) -> Result<(CodecParams, u32), CodecError> {
    if params.sample_rate != 8000 {
        return Err(CodecError::BadRate { codec: Codec::G726, sample_rate: params.sample_rate });
    }
    let bitrate = params.bitrate.unwrap_or(32_000);
    match bitrate {
        16_000 | 24_000 | 32_000 | 40_000 => Ok((CodecParams { bitrate: Some(bitrate), ..params }, bitrate / 8000)),
        _ => Err(CodecError::BadBitrate { codec: Codec::G726, bitrate, allowed: "16000, 24000, 32000 or 40000" }),
    }
}

/// Number of significant bits of `x` (>= 0): the exponent of the recommendation's floating
/// formats.
fn bit_len(x: i32) -> i32 {
    32 - x.leading_zeros() as i32
}

/// The 11-bit floating-point format of past DQ and SR values (FLOATA / FLOATB).
#[derive(Clone, Copy)]
struct Float {
    negative: bool,
    exp: i32,
    mant: i32,
}

impl Float {
    const ZERO: Float = Float { negative: false, exp: 0, mant: 32 };

    fn new(negative: bool, mag: i32) -> Float {
        if mag == 0 {
            return Float { negative, ..Float::ZERO };
        }
        let exp = bit_len(mag);
        Float { negative, exp, mant: (mag << 6) >> exp }
    }
}

/// FMULT: a predictor coefficient (two's complement, already >> 2) times a floating value.
fn fmult(an: i32, f: Float) -> i32 {
    let anmag = if an > 0 { an } else { (-an) & 0x1FFF };
    let anexp = bit_len(anmag) - 6;
    let anmant = if anmag == 0 {
        32
    } else if anexp >= 0 {
        anmag >> anexp
    } else {
        anmag << -anexp
    };
    let wanexp = anexp + f.exp - 13;
    let wanmant = (anmant * f.mant + 0x30) >> 4;
    let mag = if wanexp >= 0 { (wanmant << wanexp) & 0x7FFF } else { wanmant >> -wanexp };
    if (an < 0) != f.negative { -mag } else { mag }
}

/// Encoder/decoder state (identical on both sides: the encoder runs the decoder).
struct State {
    tables: &'static Tables,
    bits: u32,
    yl: i32,
    yu: i32,
    dms: i32,
    dml: i32,
    ap: i32,
    a: [i32; 2],
    b: [i16; 6],
    pk: [bool; 2],
    dq: [Float; 6],
    sr: [Float; 2],
    td: bool,
}

impl State {
    fn new(bits: u32) -> State {
        let tables = match bits {
            2 => &T16,
            3 => &T24,
            4 => &T32,
            _ => &T40,
        };
        State {
            tables,
            bits,
            yl: 34816,
            yu: 544,
            dms: 0,
            dml: 0,
            ap: 0,
            a: [0; 2],
            b: [0; 6],
            pk: [false; 2],
            dq: [Float::ZERO; 6],
            sr: [Float::ZERO; 2],
            td: false,
        }
    }

    /// Signal estimate (SE) and its zero-section part (SEZ): FMULT + ACCUM.
    fn estimate(&self) -> (i32, i32) {
        let sezi: i32 = (0..6).map(|i| fmult(i32::from(self.b[i]) >> 2, self.dq[i])).sum();
        let sei = sezi + fmult(self.a[1] >> 2, self.sr[1]) + fmult(self.a[0] >> 2, self.sr[0]);
        (sei >> 1, sezi >> 1)
    }

    /// Quantizer scale factor Y: MIX of the fast and slow factors by the speed control AL.
    fn scale(&self) -> i32 {
        if self.ap >= 256 {
            return self.yu;
        }
        let ylp = self.yl >> 6;
        let dif = self.yu - ylp;
        let al = self.ap >> 2;
        // Truncation towards zero, as the recommendation's sign-magnitude product.
        if dif >= 0 { ylp + ((dif * al) >> 6) } else { ylp + ((dif * al + 0x3F) >> 6) }
    }

    /// Adaptive quantizer: LOG, SUBTB, QUAN. Returns the code for difference `d`.
    fn quantize(&self, d: i32, y: i32) -> u8 {
        let dqm = d.abs();
        let exp = if dqm == 0 { 0 } else { bit_len(dqm) - 1 };
        let mant = ((dqm << 7) >> exp) & 0x7F;
        let dln = (exp << 7) + mant - (y >> 2);
        let i = self.tables.levels.iter().take_while(|&&level| dln >= level).count() as i32;
        let max = (1 << self.bits) - 1;
        let code = if d < 0 {
            max - i
        } else if i == 0 && self.bits != 2 {
            // Code 0 is unused at 24/32/40 kbit/s; the smallest negative step stands in for it.
            max
        } else {
            i
        };
        code as u8
    }

    /// Inverse quantizer (ADDA, ANTILOG): the magnitude of the quantized difference DQ.
    fn reconstruct(&self, code: u8, y: i32) -> i32 {
        let dql = self.tables.dqln[usize::from(code)] + (y >> 2);
        if dql < 0 {
            return 0;
        }
        let dex = (dql >> 7) & 15;
        let dqt = 128 + (dql & 127);
        (dqt << 7) >> (14 - dex)
    }

    /// Runs one code through the decoder and updates the state; returns the reconstructed
    /// 14-bit signal SR.
    fn step(&mut self, code: u8, se: i32, sez: i32, y: i32) -> i32 {
        let negative = code >> (self.bits - 1) != 0;
        let mag = self.reconstruct(code, y);
        let dq = if negative { -mag } else { mag };
        // ADDB: 16-bit two's complement sum.
        let sr = i32::from((se + dq) as i16);
        let dqsez = sez + dq;
        let tables = self.tables;
        let idx = usize::from(code);

        // TRANS: transition detector, from the previous tone flag and slow scale factor.
        let ylint = self.yl >> 15;
        let ylfrac = (self.yl >> 10) & 0x1F;
        let thr1 = (32 + ylfrac) << ylint;
        let thr2 = if ylint > 9 { 31 << 10 } else { thr1 };
        let dqthr = (thr2 + (thr2 >> 1)) >> 1;
        let tr = self.td && mag > dqthr;

        // FUNCTW, FILTD, LIMB, FILTE: scale factor adaptation.
        self.yu = (y + ((tables.w[idx] * 32 - y) >> 5)).clamp(544, 5120);
        self.yl += self.yu + ((-self.yl) >> 6);

        // UPA2, UPA1, LIMC, LIMD, UPB, TRIGB: predictor adaptation.
        let pk0 = dqsez < 0;
        let mut a2p = self.a[1];
        if tr {
            self.a = [0; 2];
            self.b = [0; 6];
        } else {
            let pks1 = pk0 != self.pk[0];
            a2p -= a2p >> 7;
            if dqsez != 0 {
                let fa1 = if pks1 { self.a[0] } else { -self.a[0] };
                a2p += if fa1 < -8191 {
                    -0x100
                } else if fa1 > 8191 {
                    0xFF
                } else {
                    fa1 >> 5
                };
                a2p += if pk0 != self.pk[1] { -0x80 } else { 0x80 };
                a2p = a2p.clamp(-12288, 12288);
            }
            self.a[1] = a2p;

            self.a[0] -= self.a[0] >> 8;
            if dqsez != 0 {
                self.a[0] += if pks1 { -192 } else { 192 };
            }
            let a1ul = 15360 - a2p;
            self.a[0] = self.a[0].clamp(-a1ul, a1ul);

            let leak = if self.bits == 5 { 9 } else { 8 };
            for (b, past) in self.b.iter_mut().zip(&self.dq) {
                *b = b.wrapping_sub(*b >> leak);
                if mag != 0 {
                    *b = b.wrapping_add(if negative == past.negative { 128 } else { -128 });
                }
            }
        }

        // DELAY of DQ, SR and the sign of DQ+SEZ, in floating format.
        self.dq.rotate_right(1);
        self.dq[0] = Float::new(negative, mag);
        self.sr[1] = self.sr[0];
        self.sr[0] = if sr <= -32768 { Float::new(true, 0) } else { Float::new(sr < 0, sr.abs()) };
        self.pk = [pk0, self.pk[0]];

        // TONE, FILTA, FILTB, SUBTC, FILTC: adaptation speed control.
        self.td = !tr && a2p < -11776;
        let fi = tables.f[idx] << 9;
        self.dms += (fi - self.dms) >> 5;
        self.dml += ((fi << 2) - self.dml) >> 7;
        self.ap = if tr {
            256
        } else if y < 1536 || self.td || ((self.dms << 2) - self.dml).abs() >= (self.dml >> 3) {
            self.ap + ((0x200 - self.ap) >> 4)
        } else {
            self.ap + ((-self.ap) >> 4)
        };
        sr
    }

    fn encode_sample(&mut self, sample: i16) -> u8 {
        let (se, sez) = self.estimate();
        let y = self.scale();
        let code = self.quantize((i32::from(sample) >> 2) - se, y);
        self.step(code, se, sez, y);
        code
    }

    fn decode_code(&mut self, code: u8) -> i16 {
        let (se, sez) = self.estimate();
        let y = self.scale();
        let sr = self.step(code, se, sez, y);
        (sr << 2).clamp(i16::MIN.into(), i16::MAX.into()) as i16
    }
}

pub struct G726Encoder {
    params: CodecParams,
    state: State,
}

impl G726Encoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        let (params, bits) = check(params)?;
        Ok(G726Encoder { params, state: State::new(bits) })
    }
}

impl Encoder for G726Encoder {
    fn params(&self) -> CodecParams {
        self.params
    }

    fn frame_samples(&self) -> usize {
        FRAME_SAMPLES
    }

    fn encode(&mut self, frame: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        let bits = self.state.bits;
        let (mut acc, mut n) = (0u32, 0u32);
        for &s in frame {
            acc |= u32::from(self.state.encode_sample(s)) << n;
            n += bits;
            while n >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                n -= 8;
            }
        }
        // 160 samples always fill whole bytes; a short final frame is padded with zero bits.
        if n > 0 {
            out.push(acc as u8);
        }
        Ok(())
    }
}

pub struct G726Decoder {
    state: State,
    /// Bits left over from the previous piece, least significant first.
    acc: u32,
    n: u32,
}

impl G726Decoder {
    pub fn new(params: CodecParams) -> Result<Self, CodecError> {
        let (_, bits) = check(params)?;
        Ok(G726Decoder { state: State::new(bits), acc: 0, n: 0 })
    }
}

impl Decoder for G726Decoder {
    fn decode(&mut self, data: &[u8], out: &mut Vec<i16>) -> Result<(), CodecError> {
        let bits = self.state.bits;
        let mask = (1u32 << bits) - 1;
        for &byte in data {
            self.acc |= u32::from(byte) << self.n;
            self.n += 8;
            while self.n >= bits {
                out.push(self.state.decode_code((self.acc & mask) as u8));
                self.acc >>= bits;
                self.n -= bits;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin() * 16000.0) as i16).collect()
    }

    fn snr_db(reference: &[i16], got: &[i16]) -> f64 {
        let (mut s, mut e) = (0.0, 0.0);
        for (&r, &g) in reference.iter().zip(got) {
            s += f64::from(r).powi(2);
            e += (f64::from(r) - f64::from(g)).powi(2);
        }
        10.0 * (s / e).log10()
    }

    #[test]
    fn every_rate_round_trips_a_tone() {
        // Expected SNR rises with bits per sample; these floors leave a few dB of margin.
        for (bitrate, floor) in [(16_000, 5.0), (24_000, 12.0), (32_000, 18.0), (40_000, 24.0)] {
            let params = CodecParams { codec: Codec::G726, sample_rate: 8000, bitrate: Some(bitrate) };
            let mut enc = G726Encoder::new(params).unwrap();
            let input = tone(160 * 100);
            let mut wire = Vec::new();
            for frame in input.chunks(160) {
                enc.encode(frame, &mut wire).unwrap();
            }
            assert_eq!(wire.len(), input.len() * (bitrate as usize / 8000) / 8);
            let mut dec = G726Decoder::new(params).unwrap();
            let mut out = Vec::new();
            for piece in wire.chunks(3) {
                dec.decode(piece, &mut out).unwrap();
            }
            assert_eq!(out.len(), input.len());
            // Skip the adaptation start-up.
            let snr = snr_db(&input[800..], &out[800..]);
            assert!(snr >= floor, "{bitrate} bit/s: SNR {snr:.1} dB < {floor}");
        }
    }

    #[test]
    fn rejects_odd_bitrates() {
        let p = CodecParams { codec: Codec::G726, sample_rate: 8000, bitrate: Some(64_000) };
        assert!(matches!(G726Encoder::new(p), Err(CodecError::BadBitrate { .. })));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut dec = G726Decoder::new(CodecParams::new(Codec::G726)).unwrap();
        let junk: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let mut out = Vec::new();
        dec.decode(&junk, &mut out).unwrap();
        assert_eq!(out.len(), 40_000);
    }
}
