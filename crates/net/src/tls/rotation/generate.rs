//! Making a self-signed pair for `parthenon cert generate`, and writing a pair atomically.

use crate::tls::identity::{write_atomic, IdentityError};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use std::path::Path;
use time::{Duration as TimeDuration, OffsetDateTime};

/// Mode of a written key file.
const KEY_MODE: u32 = 0o600;
/// Mode of a written certificate file.
const CERT_MODE: u32 = 0o644;
/// How far before now a generated certificate's validity starts, so that peers whose clock
/// is a little behind accept it.
const BACKDATE: TimeDuration = TimeDuration::hours(1);

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct GeneratedPair {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for GeneratedPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedPair")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// A new P-256 key and a self-signed server certificate for it, valid from an hour ago for
/// `valid_days` days, with `names` (host names or IP addresses) as subject alternative
/// names and the first one as common name (`parthenon-node` when `names` is empty).
pub fn generate_self_signed(
    names: &[String],
    valid_days: u32,
) -> Result<GeneratedPair, IdentityError> {
    let generate = |source: rcgen::Error| IdentityError::Generate {
        source: Box::new(source),
    };
    let names: Vec<String> = if names.is_empty() {
        vec!["parthenon-node".to_owned()]
    } else {
        names.to_vec()
    };
    let key = KeyPair::generate().map_err(generate)?;
    let mut params = CertificateParams::new(names.clone()).map_err(generate)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, names[0].as_str());
    params.distinguished_name = subject;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + TimeDuration::days(i64::from(valid_days));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok(GeneratedPair {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Writes `pair` to `cert_path` and `key_path`: the key first (mode 0600), then the
/// certificate (0644), each through a temporary file in the same directory that is fsynced
/// and renamed over the target, so a reader (the rotator) never sees a partial file.
pub fn write_pem_pair(
    cert_path: &Path,
    key_path: &Path,
    pair: &GeneratedPair,
) -> Result<(), IdentityError> {
    write_atomic(key_path, pair.key_pem.as_bytes(), KEY_MODE)?;
    write_atomic(cert_path, pair.cert_pem.as_bytes(), CERT_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::rotation::inspect_certificate_file;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_pairs_are_written_with_their_names_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let pair = generate_self_signed(&["node.example".into(), "10.0.0.1".into()], 90).unwrap();
        let (cert, key) = (
            dir.path().join("fullchain.pem"),
            dir.path().join("privkey.pem"),
        );
        write_pem_pair(&cert, &key, &pair).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&cert), 0o644);
        let info = inspect_certificate_file(&cert).unwrap();
        assert_eq!(info.names, ["node.example", "10.0.0.1"]);
        assert_eq!(info.subject, "CN=node.example");
        let days = info.days_remaining_at(super::super::pair::now_unix());
        assert!((89..=90).contains(&days), "{days}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left behind");
    }
}
