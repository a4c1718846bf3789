//! Proof of work: compact targets, the PoW check, chain work and retargeting.
//!
//! A block hash is read as a little-endian 256-bit integer and must not exceed the target.
//! The work of a block is `2^256 / (target + 1)`, and the best chain is the one with the most
//! cumulative work (not the most blocks).

use crate::hash::Hash256;
pub use ruint::aliases::U256;
use std::fmt;

/// A target in compact ("bits") form.
pub type CompactTarget = u32;

/// Why compact bits or a header's proof of work is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// The sign bit of the compact form was set.
    #[error("compact target {0:#010x} is negative")]
    Negative(u32),
    /// The compact form decodes to more than 256 bits.
    #[error("compact target {0:#010x} overflows 256 bits")]
    Overflow(u32),
    /// The target is zero.
    #[error("compact target {0:#010x} is zero")]
    Zero(u32),
    /// The target is easier than the network allows.
    #[error("target {bits:#010x} is easier than the network's limit {limit:#010x}")]
    AboveLimit {
        /// The header's bits.
        bits: u32,
        /// The network's limit.
        limit: u32,
    },
    /// The hash does not meet the target.
    #[error("block hash {hash} does not meet its target {bits:#010x}")]
    HashAboveTarget {
        /// The block hash.
        hash: Hash256,
        /// The header's bits.
        bits: u32,
    },
}

/// Decodes compact bits into a 256-bit target.
pub fn target_from_compact(bits: u32) -> Result<U256, PowError> {
    let exponent = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    if bits & 0x0080_0000 != 0 && mantissa != 0 {
        return Err(PowError::Negative(bits));
    }
    let target = if exponent <= 3 {
        U256::from(mantissa >> (8 * (3 - exponent)))
    } else {
        let shift = 8 * (exponent - 3);
        let m = U256::from(mantissa);
        if mantissa != 0 && (shift >= 256 || m.bit_len() + shift > 256) {
            return Err(PowError::Overflow(bits));
        }
        if mantissa == 0 {
            U256::ZERO
        } else {
            m << shift
        }
    };
    if target.is_zero() {
        return Err(PowError::Zero(bits));
    }
    Ok(target)
}

/// Encodes a target in compact form (rounding down, as Bitcoin does).
pub fn target_to_compact(target: U256) -> u32 {
    let mut size = target.bit_len().div_ceil(8);
    let mut mantissa: u64 = if size <= 3 {
        target.as_limbs()[0] << (8 * (3 - size))
    } else {
        (target >> (8 * (size - 3))).as_limbs()[0]
    };
    // Keep the mantissa positive: if its top bit is set, move one byte into the exponent.
    if mantissa & 0x0080_0000 != 0 {
        mantissa >>= 8;
        size += 1;
    }
    ((size as u32) << 24) | (mantissa as u32 & 0x007f_ffff)
}

/// Checks that `hash` meets `bits` and that `bits` is no easier than `limit_bits`.
pub fn check_proof_of_work(hash: &Hash256, bits: u32, limit_bits: u32) -> Result<(), PowError> {
    let target = target_from_compact(bits)?;
    let limit = target_from_compact(limit_bits)?;
    if target > limit {
        return Err(PowError::AboveLimit {
            bits,
            limit: limit_bits,
        });
    }
    if hash_to_uint(hash) > target {
        return Err(PowError::HashAboveTarget { hash: *hash, bits });
    }
    Ok(())
}

/// Reads a hash as a little-endian 256-bit integer.
pub fn hash_to_uint(hash: &Hash256) -> U256 {
    U256::from_le_bytes(hash.0)
}

/// Cumulative proof of work.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct ChainWork(pub U256);

impl ChainWork {
    /// The work of one block with target `bits`: `2^256 / (target + 1)`, computed as
    /// `(!target / (target + 1)) + 1` to stay within 256 bits.
    pub fn from_bits(bits: u32) -> Result<ChainWork, PowError> {
        let target = target_from_compact(bits)?;
        Ok(ChainWork(
            (!target / (target + U256::from(1u8))) + U256::from(1u8),
        ))
    }

    /// 32-byte big-endian form (sorts like the number).
    pub fn to_be_bytes(self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// Reads the 32-byte big-endian form.
    pub fn from_be_bytes(b: [u8; 32]) -> ChainWork {
        ChainWork(U256::from_be_bytes(b))
    }

    /// Lowercase hex of the 32-byte big-endian form, as Bitcoin Core shows `chainwork`.
    pub fn to_hex(self) -> String {
        hex::encode(self.to_be_bytes())
    }
}

impl std::ops::Add for ChainWork {
    type Output = ChainWork;
    /// Saturating: 2^256 of work is unreachable, and a wrap would reorder chains.
    fn add(self, other: ChainWork) -> ChainWork {
        ChainWork(self.0.saturating_add(other.0))
    }
}

impl fmt::Debug for ChainWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainWork({})", self.to_hex())
    }
}

impl fmt::Display for ChainWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The next compact target after a retarget window: the old target scaled by the actual
/// timespan over the intended one, the factor clamped to `[1/4, 4]`, and capped at the limit.
pub fn retarget(old_bits: u32, actual_timespan: i64, target_timespan: i64, limit_bits: u32) -> u32 {
    let span = actual_timespan.clamp(target_timespan / 4, target_timespan * 4) as u64;
    let limit = target_from_compact(limit_bits).unwrap_or(U256::MAX);
    let old = target_from_compact(old_bits).unwrap_or(limit);
    let (span, timespan) = (U256::from(span), U256::from(target_timespan as u64));
    // A target near 2^256 cannot be multiplied first; dividing first loses only low bits.
    let new = match old.checked_mul(span) {
        Some(t) => t / timespan,
        None => (old / timespan).saturating_mul(span),
    };
    target_to_compact(new.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_round_trips_for_known_values() {
        for bits in [
            0x1d00ffffu32,
            0x207fffff,
            0x1e0fffff,
            0x1f00ffff,
            0x1b0404cb,
        ] {
            let t = target_from_compact(bits).unwrap();
            assert_eq!(target_to_compact(t), bits, "{bits:#x}");
        }
    }

    #[test]
    fn bad_compact_forms_are_rejected() {
        assert_eq!(
            target_from_compact(0x01803456),
            Err(PowError::Negative(0x01803456))
        );
        assert_eq!(
            target_from_compact(0xff123456),
            Err(PowError::Overflow(0xff123456))
        );
        assert_eq!(target_from_compact(0x00000000), Err(PowError::Zero(0)));
    }

    #[test]
    fn work_of_difficulty_one_matches_bitcoin() {
        // Bitcoin's genesis work is 0x100010001.
        assert_eq!(
            ChainWork::from_bits(0x1d00ffff).unwrap().0,
            U256::from(0x1_0001_0001u64)
        );
        // The easiest dev target (2^255 - ish) is worth 2 hashes.
        assert_eq!(ChainWork::from_bits(0x207fffff).unwrap().0, U256::from(2u8));
    }

    #[test]
    fn pow_check_compares_little_endian_hash_with_target() {
        let mut low = Hash256::ZERO;
        low.0[0] = 1; // the integer 1
        assert!(check_proof_of_work(&low, 0x1d00ffff, 0x1d00ffff).is_ok());
        let mut high = Hash256::ZERO;
        high.0[31] = 0x80; // 2^255
        assert!(matches!(
            check_proof_of_work(&high, 0x1d00ffff, 0x1d00ffff),
            Err(PowError::HashAboveTarget { .. })
        ));
        assert!(matches!(
            check_proof_of_work(&low, 0x207fffff, 0x1d00ffff),
            Err(PowError::AboveLimit { .. })
        ));
    }

    #[test]
    fn retarget_clamps_to_a_factor_of_four() {
        let span = 2016 * 600;
        let bits = 0x1c00ffff;
        let t = target_from_compact(bits).unwrap();
        let faster = target_from_compact(retarget(bits, 1, span, 0x1d00ffff)).unwrap();
        assert_eq!(faster, t / U256::from(4u8));
        let same = retarget(bits, span, span, 0x1d00ffff);
        assert_eq!(same, bits);
        let capped = retarget(0x1d00ffff, span * 10, span, 0x1d00ffff);
        assert_eq!(capped, 0x1d00ffff);
        // Near the top of the range the product overflows 256 bits; faster blocks must still
        // make the target harder, not fall back to the limit.
        let easy = target_from_compact(0x207fffff).unwrap();
        let harder = target_from_compact(retarget(0x207fffff, 1, span, 0x207fffff)).unwrap();
        assert!(harder < easy && harder > easy / U256::from(5u8));
    }
}
