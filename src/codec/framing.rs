//! The length-prefixed framing Hikvision uses for AAC (and hiktalk for Opus): each frame is
//! preceded by its length as a 4-byte big-endian integer.

/// Larger than any real frame (an ADTS frame's 13-bit length field caps it at 8191 bytes);
/// a bigger prefix means the stream is not what we think, and waiting for gigabytes would hang.
const MAX_FRAME: usize = 8191;

pub fn put_frame(frame: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    out.extend_from_slice(frame);
}

/// Reassembles frames from wire bytes that arrive in arbitrary pieces.
#[derive(Default)]
pub struct Unframer {
    buf: Vec<u8>,
}

impl Unframer {
    /// Adds `data`, then calls `each` for every complete frame. A frame `each` fails on is
    /// dropped and the rest still decoded; the first such error is returned. A length of zero or
    /// above the limit is an error too, and drops the buffer so the next call starts afresh.
    pub fn push<E>(&mut self, data: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>, bad_length: impl Fn(usize) -> E) -> Result<(), E> {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        let mut result = Ok(());
        while let Some(head) = self.buf.get(at..at + 4) {
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len == 0 || len > MAX_FRAME {
                self.buf.clear();
                return result.and(Err(bad_length(len)));
            }
            let Some(frame) = self.buf.get(at + 4..at + 4 + len) else { break };
            let outcome = each(frame);
            if result.is_ok() {
                result = outcome;
            }
            at += 4 + len;
        }
        self.buf.drain(..at);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassembles_any_split_and_rejects_bogus_lengths() {
        let mut wire = Vec::new();
        for n in 1..20u8 {
            put_frame(&vec![n; n as usize], &mut wire);
        }
        for step in [1, 3, 5, 64, wire.len()] {
            let mut u = Unframer::default();
            let mut frames = Vec::new();
            for piece in wire.chunks(step) {
                let collect = |f: &[u8]| {
                    frames.push(f.to_vec());
                    Ok::<_, usize>(())
                };
                u.push(piece, collect, |l| l).unwrap();
            }
            assert_eq!(frames.len(), 19);
            assert!(frames.iter().enumerate().all(|(i, f)| f == &vec![i as u8 + 1; i + 1]));
        }
        // A frame that fails is reported and skipped; the next one still comes through.
        let mut u = Unframer::default();
        let mut seen = Vec::new();
        let mut wire = Vec::new();
        put_frame(b"bad", &mut wire);
        put_frame(b"good", &mut wire);
        let each = |f: &[u8]| {
            seen.push(f.to_vec());
            if f == b"bad" { Err(1) } else { Ok(()) }
        };
        assert_eq!(u.push(&wire, each, |_| 2), Err(1));
        assert_eq!(seen, vec![b"bad".to_vec(), b"good".to_vec()]);
        assert_eq!(u.push(&[], |_| Err(3), |_| 2), Ok(()));

        let mut u = Unframer::default();
        assert_eq!(u.push(&[0xFF, 0xFF, 0, 0, 1], |_| Ok(()), |l| l), Err(0xFFFF_0000));
        assert_eq!(u.push(&[0, 0, 0, 0], |_| Ok(()), |l| l), Err(0));
    }
}
