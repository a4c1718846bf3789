//! Reading and checking a certificate chain and its private key: [`CertificateInfo`],
//! [`PairError`], [`inspect_certificate_file`].

use crate::tls::crypto_provider;
use crate::transport::CertFingerprint;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;

/// Seconds in a day, for `days_remaining`.
pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// What a certificate says about itself, and where it was read from.
///
/// Sent to [`CertRotator::subscribe`](super::CertRotator::subscribe) receivers on every
/// rotation and returned by [`CertRotator::current`](super::CertRotator::current). It
/// serialises (serde) to a flat JSON object suitable for a `getcertinfo` RPC result; the
/// fingerprint is written as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// The certificate (chain) file, as configured (not resolved through symlinks).
    pub cert_path: PathBuf,
    /// The private key file, as configured; `None` when only a certificate was read
    /// ([`inspect_certificate_file`]).
    pub key_path: Option<PathBuf>,
    /// The subject's distinguished name, e.g. `CN=parthenon-node`.
    pub subject: String,
    /// The issuer's distinguished name (the subject again for a self-signed certificate).
    pub issuer: String,
    /// The subject alternative names: DNS names, and IP addresses in text form.
    pub names: Vec<String>,
    /// Start of validity (`notBefore`), Unix seconds.
    pub not_before_unix: i64,
    /// End of validity (`notAfter`), Unix seconds.
    pub not_after_unix: i64,
    /// Start of validity, RFC 3339 (UTC).
    pub valid_from: String,
    /// End of validity, RFC 3339 (UTC).
    pub valid_until: String,
    /// SHA-256 of the end-entity certificate's DER: what peers pin.
    #[serde(serialize_with = "fingerprint_hex")]
    pub fingerprint: CertFingerprint,
    /// Certificates in the file: 1 for a lone (e.g. self-signed) certificate, more for a
    /// full chain with intermediates.
    pub chain_len: usize,
}

impl CertificateInfo {
    /// Whole days from `now_unix` to the end of validity, rounded down; negative once expired.
    pub fn days_remaining_at(&self, now_unix: i64) -> i64 {
        (self.not_after_unix - now_unix).div_euclid(SECONDS_PER_DAY)
    }

    /// Whether the certificate is valid at `now_unix` (`notBefore <= now <= notAfter`).
    pub fn is_valid_at(&self, now_unix: i64) -> bool {
        self.not_before_unix <= now_unix && now_unix <= self.not_after_unix
    }

    /// This info as a JSON value (the `getcertinfo` result).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("CertificateInfo serialises to JSON")
    }
}

fn fingerprint_hex<S: Serializer>(fp: &CertFingerprint, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&fp.to_hex())
}

/// Why a certificate/key pair was not loaded, or not put in service.
///
/// [`PairError::Read`] is an I/O failure (counted as a reload `error`: a file missing in the
/// middle of a swap, permissions); every other variant is about the content (counted as
/// `rejected`).
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// The certificate file holds no complete PEM certificate, or one that does not parse.
    #[error("{path} is not a complete PEM certificate chain: {reason}")]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error("{path} is not a usable PEM private key: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate's public key is not the private key's.
    #[error("the certificate {cert_path} does not match the key {key_path}")]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// The certificate's validity has not started.
    #[error("the certificate {path} is not valid before {valid_from}")]
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// Its `notBefore`, RFC 3339.
        valid_from: String,
    },
    /// The certificate has expired.
    #[error("the certificate {path} expired at {valid_until}")]
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// Its `notAfter`, RFC 3339.
        valid_until: String,
    },
    /// The new certificate would expire before the one in service (which has not expired).
    #[error(
        "the certificate {path} expires at {valid_until}, before the one in service \
         ({current_valid_until}); keeping the current one"
    )]
    ExpiresEarlier {
        /// The new certificate file.
        path: PathBuf,
        /// The new certificate's `notAfter`, RFC 3339.
        valid_until: String,
        /// The `notAfter` of the certificate in service, RFC 3339.
        current_valid_until: String,
    },
}

/// A checked certificate chain with its key, ready to serve.
pub(crate) struct LoadedPair {
    /// The chain and signing key, as rustls serves them.
    pub(crate) certified: Arc<CertifiedKey>,
    /// What the end-entity certificate says.
    pub(crate) info: CertificateInfo,
    /// SHA-256 over the chain's DER and the key's DER: equal digests mean the same pair,
    /// whatever the PEM formatting.
    pub(crate) content_digest: [u8; 32],
}

/// The raw bytes of both files, as read in one check.
pub(crate) struct RawPair {
    pub(crate) cert: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

impl RawPair {
    /// Reads both files. The key is read first: a writer that follows the usual order
    /// (key, then certificate) is then seen either wholly old or with the new key only,
    /// which the key check rejects until the certificate follows.
    pub(crate) fn read(cert_path: &Path, key_path: &Path) -> Result<Self, PairError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| PairError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let key = read(key_path)?;
        let cert = read(cert_path)?;
        Ok(Self { cert, key })
    }

    /// SHA-256 over both files' bytes (length-prefixed, so the split cannot be moved).
    pub(crate) fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update((self.cert.len() as u64).to_le_bytes());
        hasher.update(&self.cert);
        hasher.update(&self.key);
        hasher.finalize().into()
    }
}

/// Parses and checks a pair read from `cert_path` and `key_path`: every PEM certificate
/// parses (PEM and X.509), the key loads, and the end-entity certificate's public key is the
/// key's. Validity dates are checked separately ([`check_validity`]).
pub(crate) fn parse_pair(
    raw: &RawPair,
    cert_path: &Path,
    key_path: &Path,
) -> Result<LoadedPair, PairError> {
    let chain = parse_chain(&raw.cert, cert_path)?;
    let info = describe(&chain, cert_path, Some(key_path))?;

    let bad_key = |reason: String| PairError::BadKey {
        path: key_path.to_owned(),
        reason,
    };
    let key_der = PrivateKeyDer::from_pem_slice(&raw.key).map_err(|e| bad_key(e.to_string()))?;
    let mut hasher = Sha256::new();
    for cert in &chain {
        hasher.update((cert.len() as u64).to_le_bytes());
        hasher.update(cert.as_ref());
    }
    hasher.update(key_der.secret_der());
    let content_digest = hasher.finalize().into();
    let signing_key = crypto_provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| bad_key(e.to_string()))?;

    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => {}
        // ring keys always expose their public key; a key that did not could not be checked,
        // and a pair that cannot be checked is not swapped in.
        Err(_) => {
            return Err(PairError::KeyMismatch {
                cert_path: cert_path.to_owned(),
                key_path: key_path.to_owned(),
            })
        }
    }
    Ok(LoadedPair {
        certified: Arc::new(certified),
        info,
        content_digest,
    })
}

/// The PEM certificates in `bytes`: at least one, each complete and parsing as X.509.
fn parse_chain(bytes: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, PairError> {
    let bad = |reason: String| PairError::BadCertificate {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no CERTIFICATE section".into()));
    }
    // Text after the last END line that starts another section means the file was cut (or
    // is still being written); the PEM reader skips an unterminated section silently.
    if let Some(last_end) = find_last(bytes, b"-----END") {
        if find_last(&bytes[last_end..], b"-----BEGIN").is_some() {
            return Err(bad(
                "a PEM section is not terminated (truncated file?)".into()
            ));
        }
    }
    for (i, cert) in chain.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(cert.as_ref()) {
            return Err(bad(format!("certificate {} of the chain: {e}", i + 1)));
        }
    }
    Ok(chain)
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

/// What the end-entity certificate (the chain's first) says.
fn describe(
    chain: &[CertificateDer<'static>],
    cert_path: &Path,
    key_path: Option<&Path>,
) -> Result<CertificateInfo, PairError> {
    let leaf = &chain[0];
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| {
        PairError::BadCertificate {
            path: cert_path.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let validity = cert.validity();
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => ip_text(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let not_before_unix = validity.not_before.timestamp();
    let not_after_unix = validity.not_after.timestamp();
    Ok(CertificateInfo {
        cert_path: cert_path.to_owned(),
        key_path: key_path.map(Path::to_owned),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        names,
        not_before_unix,
        not_after_unix,
        valid_from: rfc3339(not_before_unix),
        valid_until: rfc3339(not_after_unix),
        fingerprint: CertFingerprint::of(leaf.as_ref()),
        chain_len: chain.len(),
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// Unix seconds as RFC 3339 UTC text (the number itself if out of range).
pub(crate) fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

/// The current time, Unix seconds.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Checks that `info` is valid at `now_unix`.
pub(crate) fn check_validity(info: &CertificateInfo, now_unix: i64) -> Result<(), PairError> {
    if now_unix < info.not_before_unix {
        return Err(PairError::NotYetValid {
            path: info.cert_path.clone(),
            valid_from: info.valid_from.clone(),
        });
    }
    if now_unix > info.not_after_unix {
        return Err(PairError::Expired {
            path: info.cert_path.clone(),
            valid_until: info.valid_until.clone(),
        });
    }
    Ok(())
}

/// Reads the certificate (chain) in `path` and describes its first certificate, without a
/// key: what `parthenon cert show` and `parthenon cert check` print.
pub fn inspect_certificate_file(path: &Path) -> Result<CertificateInfo, PairError> {
    let bytes = std::fs::read(path).map_err(|source| PairError::Read {
        path: path.to_owned(),
        source,
    })?;
    let chain = parse_chain(&bytes, path)?;
    describe(&chain, path, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn pem_pair() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["node.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn raw(cert: &str, key: &str) -> RawPair {
        RawPair {
            cert: cert.as_bytes().to_vec(),
            key: key.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_matching_pair_parses_and_describes_itself() {
        let (cert, key) = pem_pair();
        let loaded = parse_pair(&raw(&cert, &key), Path::new("c"), Path::new("k")).unwrap();
        assert_eq!(loaded.info.names, ["node.example"]);
        assert_eq!(loaded.info.chain_len, 1);
        assert_eq!(loaded.info.key_path.as_deref(), Some(Path::new("k")));
        let json = loaded.info.to_json();
        assert_eq!(json["fingerprint"], loaded.info.fingerprint.to_hex());
        assert!(json["valid_until"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn truncated_certificates_and_foreign_keys_are_rejected() {
        let (cert, key) = pem_pair();
        for cut in [cert.len() / 2, cert.len() - 30, 10] {
            let err = parse_pair(&raw(&cert[..cut], &key), Path::new("c"), Path::new("k"));
            assert!(
                matches!(err, Err(PairError::BadCertificate { .. })),
                "cut at {cut}"
            );
        }
        let (_, other_key) = pem_pair();
        let err = parse_pair(&raw(&cert, &other_key), Path::new("c"), Path::new("k"));
        assert!(matches!(err, Err(PairError::KeyMismatch { .. })));
        let err = parse_pair(&raw(&cert, &key[..40]), Path::new("c"), Path::new("k"));
        assert!(matches!(err, Err(PairError::BadKey { .. })));
    }

    #[test]
    fn a_chain_cut_inside_its_second_certificate_is_rejected() {
        let (cert, key) = pem_pair();
        let (second, _) = pem_pair();
        let chain = format!("{cert}{}", &second[..second.len() / 2]);
        let err = parse_pair(&raw(&chain, &key), Path::new("c"), Path::new("k"));
        assert!(matches!(err, Err(PairError::BadCertificate { .. })));
    }

    #[test]
    fn days_remaining_round_down_and_go_negative() {
        let (cert, key) = pem_pair();
        let mut info = parse_pair(&raw(&cert, &key), Path::new("c"), Path::new("k"))
            .unwrap()
            .info;
        info.not_after_unix = 10 * SECONDS_PER_DAY + 5;
        assert_eq!(info.days_remaining_at(0), 10);
        assert_eq!(info.days_remaining_at(SECONDS_PER_DAY + 6), 8);
        assert_eq!(info.days_remaining_at(10 * SECONDS_PER_DAY + 6), -1);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
