//! [`NodeIdentity`]: the node's TLS certificate and key, and their files.

use super::crypto_provider;
use crate::transport::CertFingerprint;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::error::Error as StdError;
use std::fmt;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The directory, under the data directory, that holds the node's certificate and key.
pub const TLS_DIR: &str = "tls";
/// The certificate file (PEM) in [`TLS_DIR`].
pub const CERT_FILE: &str = "node.crt";
/// The private key file (PEM, PKCS#8) in [`TLS_DIR`]; mode 0600.
pub const KEY_FILE: &str = "node.key";

/// The names the certificate carries (subject alternative names). Clients do not check them;
/// they make the certificate an ordinary, tool-friendly server certificate.
const SUBJECT_ALT_NAMES: [&str; 2] = ["parthenon-node", "localhost"];
/// The certificate's common name.
const COMMON_NAME: &str = "parthenon-node";
/// Years a new certificate is valid for, from the start of the current year. Peers do not
/// check validity dates (see the [module](super) trust model); the dates are for operators'
/// tools and certificate rotation.
const VALIDITY_YEARS: i32 = 10;
/// Mode of the TLS directory.
const DIR_MODE: u32 = 0o700;
/// Mode of the key file.
const KEY_MODE: u32 = 0o600;
/// Mode of the certificate file (public).
const CERT_MODE: u32 = 0o644;

/// Why the node's TLS identity could not be loaded or made. Every variant names its file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The TLS directory could not be created.
    #[error("cannot create the TLS directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// A file could not be read (or checked for).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// The key file does not hold a usable private key.
    #[error(
        "{path} is not a usable private key ({source}); move it and the certificate away to \
         make a new identity (peers that pin the old fingerprint must then update their pin)"
    )]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The certificate file does not hold a usable certificate.
    #[error(
        "{path} is not a usable certificate ({source}); delete it to make a new certificate \
         for the same key (peers that pin the old fingerprint must then update their pin)"
    )]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The certificate is not the key's.
    #[error(
        "the certificate {cert_path} does not belong to the key {key_path}; delete the \
         certificate to make a new one for this key"
    )]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// The certificate is there but its key is not.
    #[error(
        "found the certificate {cert_path} but not its key {key_path}; restore the key, or \
         delete the certificate to make a new identity"
    )]
    KeyMissing {
        /// The certificate file.
        cert_path: PathBuf,
        /// The missing key file.
        key_path: PathBuf,
    },
    /// Key or certificate generation failed.
    #[error("cannot generate the node's TLS certificate: {source}")]
    Generate {
        /// What rcgen (or rustls, loading the new key) said.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// The node's TLS identity: a self-signed certificate and its private key.
///
/// Peers that pin this node name its [`fingerprint`](Self::fingerprint) (SHA-256 of the
/// certificate). Cloning is cheap (shared). `Debug` shows the fingerprint, never the key.
#[derive(Clone)]
pub struct NodeIdentity {
    certified: Arc<CertifiedKey>,
    fingerprint: CertFingerprint,
}

impl NodeIdentity {
    /// A fresh identity held in memory only (simulations, tests). A node uses
    /// [`load_or_generate`] so that its fingerprint survives restarts.
    pub fn generate() -> Result<Self, IdentityError> {
        let key = new_key()?;
        let cert = self_signed(&key)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing_key = crypto_provider()
            .key_provider
            .load_private_key(key_der)
            .map_err(|source| IdentityError::Generate {
                source: Box::new(source),
            })?;
        Ok(Self::from_certified(CertifiedKey::new(
            vec![cert.der().clone()],
            signing_key,
        )))
    }

    fn from_certified(certified: CertifiedKey) -> Self {
        let fingerprint = CertFingerprint::of(certified.cert[0].as_ref());
        Self {
            certified: Arc::new(certified),
            fingerprint,
        }
    }

    /// The certificate, DER-encoded.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        &self.certified.cert[0]
    }

    /// The certificate with its signing key, as rustls serves it.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified
    }

    /// The SHA-256 of the certificate: what peers pin.
    pub fn fingerprint(&self) -> CertFingerprint {
        self.fingerprint
    }

    /// The fingerprint as 64 hex digits, as an operator gives it after `#` in a peer address.
    pub fn fingerprint_hex(&self) -> String {
        self.fingerprint.to_hex()
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Loads the node's identity from `dir` (normally `<datadir>/`[`TLS_DIR`]), making it on first
/// start.
///
/// - Both files present: both are loaded and checked to belong together.
/// - Neither present: a new P-256 key and a self-signed certificate (names
///   `parthenon-node`, `localhost`) are written: the key first, mode 0600, then the
///   certificate, each to a temporary file that is fsynced and renamed into place, then the
///   directory fsynced. The directory is created with mode 0700 if needed.
/// - Only the key present (a first start interrupted between the two files): a certificate
///   is made for that key.
/// - Only the certificate present: [`IdentityError::KeyMissing`].
///
/// Whatever was written is read back, so the identity returned is the one on disk.
pub fn load_or_generate(dir: &Path) -> Result<NodeIdentity, IdentityError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|source| IdentityError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    match (exists(&cert_path)?, exists(&key_path)?) {
        (true, true) => {}
        (true, false) => {
            return Err(IdentityError::KeyMissing {
                cert_path,
                key_path,
            })
        }
        (false, true) => {
            let pem = fs::read_to_string(&key_path).map_err(|source| IdentityError::Read {
                path: key_path.clone(),
                source,
            })?;
            let key = KeyPair::from_pem(&pem).map_err(|source| IdentityError::BadKey {
                path: key_path.clone(),
                source: Box::new(source),
            })?;
            let cert = self_signed(&key)?;
            write_atomic(&cert_path, cert.pem().as_bytes(), CERT_MODE)?;
        }
        (false, false) => {
            let key = new_key()?;
            let cert = self_signed(&key)?;
            write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
            write_atomic(&cert_path, cert.pem().as_bytes(), CERT_MODE)?;
        }
    }
    load(&cert_path, &key_path)
}

/// Reads and checks the certificate and key files.
fn load(cert_path: &Path, key_path: &Path) -> Result<NodeIdentity, IdentityError> {
    let key_bytes = fs::read(key_path).map_err(|source| IdentityError::Read {
        path: key_path.to_owned(),
        source,
    })?;
    let bad_key = |source: Box<dyn StdError + Send + Sync>| IdentityError::BadKey {
        path: key_path.to_owned(),
        source,
    };
    let key_der = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| bad_key(Box::new(e)))?;
    let signing_key = crypto_provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| bad_key(Box::new(e)))?;

    let cert_bytes = fs::read(cert_path).map_err(|source| IdentityError::Read {
        path: cert_path.to_owned(),
        source,
    })?;
    let bad_cert = |source: Box<dyn StdError + Send + Sync>| IdentityError::BadCertificate {
        path: cert_path.to_owned(),
        source,
    };
    let cert_der =
        CertificateDer::from_pem_slice(&cert_bytes).map_err(|e| bad_cert(Box::new(e)))?;

    let certified = CertifiedKey::new(vec![cert_der], signing_key);
    match certified.keys_match() {
        // ring keys always expose their public key, so `Unknown` does not occur; if it
        // did, the TLS handshake signature would still expose a mismatch to every peer.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(IdentityError::KeyMismatch {
                cert_path: cert_path.to_owned(),
                key_path: key_path.to_owned(),
            })
        }
        Err(other) => return Err(bad_cert(Box::new(other))),
    }
    Ok(NodeIdentity::from_certified(certified))
}

/// A new P-256 key (ring).
fn new_key() -> Result<KeyPair, IdentityError> {
    KeyPair::generate().map_err(|source| IdentityError::Generate {
        source: Box::new(source),
    })
}

/// A self-signed certificate for `key`.
fn self_signed(key: &KeyPair) -> Result<rcgen::Certificate, IdentityError> {
    let generate = |source: rcgen::Error| IdentityError::Generate {
        source: Box::new(source),
    };
    let mut params =
        CertificateParams::new(SUBJECT_ALT_NAMES.map(String::from).to_vec()).map_err(generate)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, COMMON_NAME);
    params.distinguished_name = name;
    let year = current_year();
    params.not_before = date_time_ymd(year - 1, 1, 1);
    params.not_after = date_time_ymd(year + VALIDITY_YEARS, 1, 1);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.self_signed(key).map_err(generate)
}

/// The current year, give or take a day (validity starts at the start of the year before).
fn current_year() -> i32 {
    const SECONDS_PER_YEAR: u64 = 31_556_952; // 365.2425 days
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    1970 + i32::try_from(seconds / SECONDS_PER_YEAR).unwrap_or(0)
}

/// Whether `path` exists (an error other than "not found" is a read error).
fn exists(path: &Path) -> Result<bool, IdentityError> {
    path.try_exists().map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path` with `mode` through the workspace's one secret-file writer
/// ([`parthenon_storage::secret_file::write_file`]): a temporary file under a random name
/// created with `O_EXCL` and `mode`, fsynced, renamed over `path`, then the directory fsynced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), IdentityError> {
    parthenon_storage::secret_file::write_file(path, bytes, mode).map_err(|source| {
        IdentityError::Write {
            path: path.to_owned(),
            source,
        }
    })
}
