//! [`CertFingerprint`]: the SHA-256 of a peer's TLS certificate, the thing a pin names.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The SHA-256 of a certificate's DER bytes.
///
/// This is what `HOST:PORT#FINGERPRINT` pins name and what a node shows operators as its own
/// TLS fingerprint ([`NodeIdentity::fingerprint_hex`](crate::tls::NodeIdentity::fingerprint_hex)).
/// Its text form is 64 lowercase hex digits; parsing also accepts uppercase and the
/// colon-separated form `openssl x509 -fingerprint -sha256` prints (`AB:CD:…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertFingerprint([u8; 32]);

impl CertFingerprint {
    /// Bytes in a fingerprint.
    pub const LEN: usize = 32;

    /// The fingerprint of a certificate given as DER bytes.
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }

    /// A fingerprint from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({})", self.to_hex())
    }
}

/// Why a text is not a certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintParseError {
    /// The text has the wrong number of hex digits.
    #[error("has {digits} hex digits, expected 64 (a SHA-256)")]
    WrongLength {
        /// Hex digits found (colons not counted).
        digits: usize,
    },
    /// The text holds a character that is not a hex digit.
    #[error("contains {found:?}, which is not a hex digit")]
    NotHex {
        /// The first offending character.
        found: char,
    },
    /// Colons are present but do not separate 32 pairs of digits.
    #[error(
        "has colons that do not separate 32 two-digit bytes (write AB:CD:… or 64 plain digits)"
    )]
    BadColons,
}

impl FromStr for CertFingerprint {
    type Err = FingerprintParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: String = if text.contains(':') {
            let pairs: Vec<&str> = text.split(':').collect();
            if pairs.len() != Self::LEN || pairs.iter().any(|pair| pair.len() != 2) {
                return Err(FingerprintParseError::BadColons);
            }
            pairs.concat()
        } else {
            text.to_owned()
        };
        if let Some(found) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(FingerprintParseError::NotHex { found });
        }
        if digits.len() != 2 * Self::LEN {
            return Err(FingerprintParseError::WrongLength {
                digits: digits.len(),
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&digits, &mut bytes).map_err(|_| {
            FingerprintParseError::WrongLength {
                digits: digits.len(),
            }
        })?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_accepts_openssl_form() {
        let fp = CertFingerprint::of(b"certificate bytes");
        let hex = fp.to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex.parse::<CertFingerprint>(), Ok(fp));
        assert_eq!(hex.to_uppercase().parse::<CertFingerprint>(), Ok(fp));
        let openssl: Vec<String> = fp.as_bytes().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(openssl.join(":").parse::<CertFingerprint>(), Ok(fp));
    }

    #[test]
    fn rejects_short_long_and_non_hex() {
        assert_eq!(
            "abcd".parse::<CertFingerprint>(),
            Err(FingerprintParseError::WrongLength { digits: 4 })
        );
        assert_eq!(
            "0".repeat(66).parse::<CertFingerprint>(),
            Err(FingerprintParseError::WrongLength { digits: 66 })
        );
        let mut bad = "0".repeat(64);
        bad.replace_range(10..11, "g");
        assert_eq!(
            bad.parse::<CertFingerprint>(),
            Err(FingerprintParseError::NotHex { found: 'g' })
        );
        assert_eq!(
            "ab:cd".parse::<CertFingerprint>(),
            Err(FingerprintParseError::BadColons)
        );
    }
}
