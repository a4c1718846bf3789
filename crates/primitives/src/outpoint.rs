//! [`OutPoint`] and the one UTXO key format.
//!
//! An outpoint has exactly two serialised forms outside the wire encoding, and both live here:
//! - the canonical text `u<64 lowercase hex txid>:<vout>` (vout in decimal without leading
//!   zeros), which users see in RPC and logs, parsed strictly by [`OutPoint::parse_key_text`];
//! - the binary database key `b'u' | txid (32 bytes, internal order) | vout (u32 big-endian)`,
//!   37 bytes, from [`OutPoint::db_key`]. Big-endian vout keeps one transaction's outputs
//!   adjacent and ordered in the LSM tree.
//!
//! The storage layer and the chainstate call only these methods; nothing else formats or
//! parses a UTXO key.

use crate::encode::{Decodable, DecodeError, Encodable, Reader};
use crate::hash::{Hash256, Txid};
use std::fmt;
use std::str::FromStr;

/// Length of [`OutPoint::db_key`].
pub const OUTPOINT_KEY_LEN: usize = 37;
/// The prefix byte of UTXO keys in both forms.
pub const OUTPOINT_KEY_PREFIX: u8 = b'u';

/// A reference to one output of one transaction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct OutPoint {
    /// The transaction (its signature-free id).
    pub txid: Txid,
    /// The output index within it.
    pub vout: u32,
}

/// Why a text is not a canonical UTXO key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutPointParseError {
    /// Missing the leading `u`.
    #[error("a UTXO key starts with 'u' (form u<64 hex txid>:<vout>)")]
    MissingPrefix,
    /// No `:` separating txid and vout.
    #[error("a UTXO key has the form u<64 hex txid>:<vout>; no ':' found")]
    MissingSeparator,
    /// The txid part is not 64 lowercase hex digits.
    #[error("the txid of a UTXO key is 64 lowercase hex digits: {0}")]
    BadTxid(#[from] crate::hash::HashParseError),
    /// The vout part is not a canonical decimal u32.
    #[error("the vout of a UTXO key is a decimal number 0..=4294967295 without leading zeros, got {0:?}")]
    BadVout(String),
    /// A binary key of the wrong length or prefix.
    #[error("a binary UTXO key is 37 bytes starting with 'u', got {len} bytes")]
    BadBinaryKey {
        /// Length of the rejected key.
        len: usize,
    },
}

impl OutPoint {
    /// The null outpoint that a coinbase input names.
    pub const NULL: OutPoint = OutPoint {
        txid: Hash256::ZERO,
        vout: u32::MAX,
    };

    /// Builds an outpoint.
    pub fn new(txid: Txid, vout: u32) -> Self {
        OutPoint { txid, vout }
    }

    /// Whether this is the coinbase's null outpoint.
    pub fn is_null(&self) -> bool {
        *self == OutPoint::NULL
    }

    /// The canonical text form `u<txid hex>:<vout>`.
    pub fn to_key_text(&self) -> String {
        format!("u{}:{}", self.txid.to_hex(), self.vout)
    }

    /// Parses the canonical text form; anything else is an error.
    pub fn parse_key_text(s: &str) -> Result<OutPoint, OutPointParseError> {
        let rest = s
            .strip_prefix('u')
            .ok_or(OutPointParseError::MissingPrefix)?;
        let (txid, vout) = rest
            .split_once(':')
            .ok_or(OutPointParseError::MissingSeparator)?;
        let txid = Hash256::from_hex(txid)?;
        let canonical = !vout.is_empty()
            && vout.bytes().all(|b| b.is_ascii_digit())
            && (vout == "0" || !vout.starts_with('0'));
        let vout = canonical
            .then(|| vout.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| OutPointParseError::BadVout(vout.to_string()))?;
        Ok(OutPoint { txid, vout })
    }

    /// The binary database key.
    pub fn db_key(&self) -> [u8; OUTPOINT_KEY_LEN] {
        let mut k = [0u8; OUTPOINT_KEY_LEN];
        k[0] = OUTPOINT_KEY_PREFIX;
        k[1..33].copy_from_slice(&self.txid.0);
        k[33..].copy_from_slice(&self.vout.to_be_bytes());
        k
    }

    /// Parses a binary database key.
    pub fn from_db_key(k: &[u8]) -> Result<OutPoint, OutPointParseError> {
        if k.len() != OUTPOINT_KEY_LEN || k[0] != OUTPOINT_KEY_PREFIX {
            return Err(OutPointParseError::BadBinaryKey { len: k.len() });
        }
        let mut txid = [0u8; 32];
        txid.copy_from_slice(&k[1..33]);
        let vout = u32::from_be_bytes([k[33], k[34], k[35], k[36]]);
        Ok(OutPoint {
            txid: Hash256(txid),
            vout,
        })
    }
}

impl fmt::Display for OutPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key_text())
    }
}

impl FromStr for OutPoint {
    type Err = OutPointParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutPoint::parse_key_text(s)
    }
}

impl Encodable for OutPoint {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.txid.0);
        out.extend_from_slice(&self.vout.to_le_bytes());
    }
}

impl Decodable for OutPoint {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(OutPoint {
            txid: r.hash()?,
            vout: r.u32_le()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> OutPoint {
        let mut b = [0u8; 32];
        b[31] = 0x12;
        b[0] = 0xff;
        OutPoint::new(Hash256(b), 7)
    }

    #[test]
    fn text_form_is_canonical() {
        let op = sample();
        let t = op.to_key_text();
        assert_eq!(t, format!("u12{}ff:7", "0".repeat(60)));
        assert_eq!(OutPoint::parse_key_text(&t), Ok(op));
    }

    #[test]
    fn text_parse_rejects_non_canonical_forms() {
        let good = sample().to_key_text();
        let hex = &good[1..65];
        for bad in [
            good[1..].to_string(),                // no prefix
            format!("U{hex}:7"),                  // wrong prefix case
            format!("u{hex}"),                    // no vout
            format!("u{hex}:"),                   // empty vout
            format!("u{hex}:07"),                 // leading zero
            format!("u{hex}:+7"),                 // sign
            format!("u{hex}:4294967296"),         // > u32
            format!("u{}:7", hex.to_uppercase()), // uppercase hex
            format!("u{}:7", &hex[2..]),          // short txid
            format!("u{hex}:7 "),                 // trailing space
        ] {
            assert!(OutPoint::parse_key_text(&bad).is_err(), "accepted {bad:?}");
        }
        assert!(OutPoint::parse_key_text(&format!("u{hex}:0")).is_ok());
        assert!(OutPoint::parse_key_text(&format!("u{hex}:4294967295")).is_ok());
    }

    #[test]
    fn db_key_layout() {
        let k = sample().db_key();
        assert_eq!(k[0], b'u');
        assert_eq!(&k[33..], &[0, 0, 0, 7]);
        assert!(OutPoint::from_db_key(&k[..36]).is_err());
    }

    proptest! {
        #[test]
        fn both_key_forms_round_trip(txid in any::<[u8; 32]>(), vout in any::<u32>()) {
            let op = OutPoint::new(Hash256(txid), vout);
            prop_assert_eq!(OutPoint::parse_key_text(&op.to_key_text()), Ok(op));
            prop_assert_eq!(OutPoint::from_db_key(&op.db_key()), Ok(op));
        }

        #[test]
        fn db_key_order_follows_txid_then_vout(a in any::<([u8; 32], u32)>(), b in any::<([u8; 32], u32)>()) {
            let (x, y) = (OutPoint::new(Hash256(a.0), a.1), OutPoint::new(Hash256(b.0), b.1));
            prop_assert_eq!(x.db_key().cmp(&y.db_key()), (x.txid.0, x.vout).cmp(&(y.txid.0, y.vout)));
        }

        #[test]
        fn text_parse_never_panics(s in ".{0,80}") {
            let _ = OutPoint::parse_key_text(&s);
        }
    }
}
