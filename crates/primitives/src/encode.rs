//! Consensus encoding: little-endian integers, canonical CompactSize lengths, bounded decoders.
//!
//! Decoders read from a byte slice through [`Reader`], which never allocates more than the
//! bytes that remain can justify: a declared element count is checked against
//! `remaining / minimum element size` and against the caller's cap before any `Vec` is
//! reserved, so a 4 GiB length prefix in a 100-byte message is an error, not an allocation.

use crate::hash::Hash256;

/// Why a byte string is not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended early.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd {
        /// Bytes the next field needs.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// Bytes were left over after a complete value.
    #[error("{0} trailing bytes after a complete value")]
    TrailingBytes(usize),
    /// A CompactSize was not in its shortest form.
    #[error("non-canonical CompactSize encoding of {0}")]
    NonCanonicalCompactSize(u64),
    /// A length or count exceeded its cap or the bytes that remain.
    #[error("{what}: length {len} exceeds the maximum {max}")]
    LengthTooLarge {
        /// Which field.
        what: &'static str,
        /// The declared length.
        len: u64,
        /// The largest allowed here.
        max: u64,
    },
    /// An asset byte names no asset.
    #[error("unknown asset id {0}")]
    UnknownAsset(u8),
}

/// A value with a consensus encoding.
pub trait Encodable {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that can be decoded, bounded, from a [`Reader`].
pub trait Decodable: Sized {
    /// Reads one value; on error the reader's position is unspecified.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Encodes a value into a fresh vector.
pub fn serialize<T: Encodable + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes exactly one value from `bytes`; trailing bytes are an error.
pub fn deserialize<T: Decodable>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = T::decode(&mut r)?;
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBytes(r.remaining()));
    }
    Ok(v)
}

/// A cursor over a byte slice with bounded reads.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                needed: n,
                remaining: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian u64.
    pub fn u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a 32-byte hash.
    pub fn hash(&mut self) -> Result<Hash256, DecodeError> {
        Ok(Hash256(self.array()?))
    }

    /// Reads a canonical (shortest-form) CompactSize.
    pub fn compact_size(&mut self) -> Result<u64, DecodeError> {
        let first = self.u8()?;
        let (v, min) = match first {
            0..=0xfc => return Ok(first as u64),
            0xfd => (self.u16_le()? as u64, 0xfd),
            0xfe => (self.u32_le()? as u64, 0x1_0000),
            0xff => (self.u64_le()?, 0x1_0000_0000),
        };
        if v < min {
            return Err(DecodeError::NonCanonicalCompactSize(v));
        }
        Ok(v)
    }

    /// Reads a count of elements that each take at least `min_elem_size` bytes, capped by
    /// `max` and by what the remaining bytes could possibly hold.
    pub fn count(
        &mut self,
        what: &'static str,
        max: usize,
        min_elem_size: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.compact_size()?;
        let fit = self.remaining() / min_elem_size.max(1);
        let limit = max.min(fit) as u64;
        if n > limit {
            return Err(DecodeError::LengthTooLarge {
                what,
                len: n,
                max: limit,
            });
        }
        Ok(n as usize)
    }

    /// Reads CompactSize-prefixed bytes of at most `max` bytes.
    pub fn var_bytes(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, DecodeError> {
        let n = self.count(what, max, 1)?;
        Ok(self.take(n)?.to_vec())
    }
}

/// Appends a canonical CompactSize.
pub fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// The number of bytes [`write_compact_size`] writes for `n`.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends CompactSize-prefixed bytes.
pub fn write_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_compact_size(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compact_size_boundaries_round_trip() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_compact_size(&mut out, n);
            assert_eq!(out.len(), compact_size_len(n));
            let mut r = Reader::new(&out);
            assert_eq!(r.compact_size(), Ok(n));
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn non_canonical_compact_size_is_rejected() {
        let mut r = Reader::new(&[0xfd, 0x10, 0x00]);
        assert_eq!(
            r.compact_size(),
            Err(DecodeError::NonCanonicalCompactSize(0x10))
        );
    }

    #[test]
    fn huge_count_is_rejected_before_allocation() {
        let mut bytes = vec![0xff];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        let mut r = Reader::new(&bytes);
        assert!(matches!(
            r.var_bytes("test", 1000),
            Err(DecodeError::LengthTooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn compact_size_round_trips(n in any::<u64>()) {
            let mut out = Vec::new();
            write_compact_size(&mut out, n);
            prop_assert_eq!(Reader::new(&out).compact_size(), Ok(n));
        }

        #[test]
        fn reader_never_panics_on_random_input(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            let _ = r.compact_size();
            let _ = r.var_bytes("x", 16);
            let _ = r.u64_le();
        }
    }
}
