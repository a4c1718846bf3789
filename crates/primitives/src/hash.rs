//! Hashes: SHA-256d, BIP-340 tagged hashes and the 32-byte [`Hash256`].

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A 32-byte hash in internal (wire) byte order.
///
/// Text form: 64 lowercase hex digits of the bytes *reversed*, as Bitcoin shows hashes, so
/// that proof-of-work hashes print with their leading zeros first.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256(pub [u8; 32]);

/// A transaction id: SHA-256d of the transaction without its signatures.
pub type Txid = Hash256;
/// A block hash: SHA-256d of the 80-byte header.
pub type BlockHash = Hash256;

/// Error parsing the hex text form of a [`Hash256`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The text was not exactly 64 characters.
    #[error("a hash is 64 hex digits, got {0} characters")]
    WrongLength(usize),
    /// A character was not a lowercase hex digit.
    #[error("a hash is lowercase hex (0-9, a-f); found {0:?}")]
    NotLowercaseHex(char),
}

impl Hash256 {
    /// The all-zero hash (the previous block of genesis, the txid of a coinbase's null input).
    pub const ZERO: Hash256 = Hash256([0u8; 32]);

    /// Parses 64 lowercase hex digits (display order, i.e. byte-reversed).
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        if s.len() != 64 {
            return Err(HashParseError::WrongLength(s.chars().count()));
        }
        if let Some(c) = s.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(HashParseError::NotLowercaseHex(c));
        }
        let mut bytes = [0u8; 32];
        // Length and alphabet are checked above, so decoding cannot fail.
        hex::decode_to_slice(s, &mut bytes).map_err(|_| HashParseError::WrongLength(s.len()))?;
        bytes.reverse();
        Ok(Hash256(bytes))
    }

    /// The display form: 64 lowercase hex digits, byte-reversed.
    pub fn to_hex(&self) -> String {
        let mut b = self.0;
        b.reverse();
        hex::encode(b)
    }

    /// The raw bytes in internal order.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

impl FromStr for Hash256 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash256::from_hex(s)
    }
}

impl serde::Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash256::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256d (SHA-256 applied twice), the chain's hash for headers and transactions.
pub fn sha256d(data: &[u8]) -> Hash256 {
    Hash256(sha256(&sha256(data)))
}

/// A BIP-340 tagged hash: `SHA256(SHA256(tag) || SHA256(tag) || parts...)`.
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let tag_hash = sha256(tag.as_bytes());
    let mut h = Sha256::new();
    h.update(tag_hash);
    h.update(tag_hash);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256d_of_empty_matches_known_value() {
        assert_eq!(
            hex::encode(sha256d(b"").0),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }

    #[test]
    fn hex_round_trip_is_byte_reversed() {
        let mut b = [0u8; 32];
        b[0] = 0xab;
        let h = Hash256(b);
        let s = h.to_hex();
        assert!(s.ends_with("ab"));
        assert_eq!(Hash256::from_hex(&s), Ok(h));
    }

    #[test]
    fn hex_parse_rejects_uppercase_and_bad_length() {
        assert_eq!(Hash256::from_hex("ab"), Err(HashParseError::WrongLength(2)));
        let upper = "A".repeat(64);
        assert_eq!(
            Hash256::from_hex(&upper),
            Err(HashParseError::NotLowercaseHex('A'))
        );
    }

    #[test]
    fn tagged_hash_matches_manual_construction() {
        let t = sha256(b"Tag");
        let mut buf = Vec::new();
        buf.extend_from_slice(&t);
        buf.extend_from_slice(&t);
        buf.extend_from_slice(b"msg");
        assert_eq!(tagged_hash("Tag", &[b"m", b"sg"]), sha256(&buf));
    }
}
