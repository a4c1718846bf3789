//! [`TrustRoots`]: the certificate authorities a verified (public-CA) dial trusts.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why trust roots could not be added.
#[derive(Debug, thiserror::Error)]
pub enum TrustRootsError {
    /// A roots file could not be read.
    #[error("cannot read the trust roots file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// A roots file holds no PEM certificate, or one that is not well formed.
    #[error("{path} holds no usable PEM certificates: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate is not usable as a trust anchor.
    #[error("not a usable trust anchor: {source}")]
    BadRoot {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// Certificate authorities for [`TlsTransport::dial_verified`](super::TlsTransport::dial_verified):
/// the operating system's trust store ([`system`](Self::system)), optionally plus the
/// operator's own (private) CAs.
#[derive(Clone)]
pub struct TrustRoots {
    store: RootCertStore,
}

impl TrustRoots {
    /// No roots; add some with [`add_der`](Self::add_der) or
    /// [`add_pem_file`](Self::add_pem_file) (a private CA only, and tests).
    pub fn empty() -> Self {
        Self {
            store: RootCertStore::empty(),
        }
    }

    /// The operating system's trust store (rustls-native-certs: on Linux the distribution's
    /// CA bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set). Certificates that cannot be
    /// read or used are skipped with a warning; the result may be empty (a minimal container
    /// without a CA bundle), in which case verified dials fail with
    /// [`TransportError::NoTrustRoots`](crate::transport::TransportError::NoTrustRoots).
    pub fn system() -> Self {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!(%error, "skipping part of the system trust store");
        }
        let mut store = RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::warn!(
                ignored,
                "skipped unusable certificates in the system trust store"
            );
        }
        tracing::debug!(added, "loaded the system trust store");
        Self { store }
    }

    /// Adds one CA certificate (DER).
    pub fn add_der(&mut self, cert: CertificateDer<'_>) -> Result<(), TrustRootsError> {
        self.store
            .add(cert)
            .map_err(|source| TrustRootsError::BadRoot { source })
    }

    /// Adds every CA certificate in a PEM file; returns how many were added.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, TrustRootsError> {
        let bytes = std::fs::read(path).map_err(|source| TrustRootsError::Read {
            path: path.to_owned(),
            source,
        })?;
        let bad = |reason: String| TrustRootsError::BadFile {
            path: path.to_owned(),
            reason,
        };
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE section".into()));
        }
        let count = certs.len();
        for cert in certs {
            self.add_der(cert)?;
        }
        Ok(count)
    }

    /// Roots held.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no root is held.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    pub(crate) fn into_store(self) -> RootCertStore {
        self.store
    }
}

impl fmt::Debug for TrustRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustRoots")
            .field("roots", &self.store.len())
            .finish()
    }
}
