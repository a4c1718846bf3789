//! TLS 1.3 on peer connections (rustls, ring provider).
//!
//! - [`NodeIdentity`]: the node's self-signed certificate and key, made on first start under
//!   `<datadir>/tls/` ([`load_or_generate`]); its [`fingerprint_hex`](NodeIdentity::fingerprint_hex)
//!   is what other operators pin;
//! - [`TlsTransport`]: TLS over any [`Transport`](crate::transport::Transport) (real TCP, or
//!   turmoil in the simulation);
//! - [`rotation`]: [`CertRotator`], which serves a certificate chain and key from files
//!   (the node's own pair, certbot's, a Kubernetes secret's) and swaps in a renewed pair
//!   without a restart ([`TlsTransport::with_rotator`]), with expiry warnings and metrics;
//! - [`TrustRoots`]: the certificate authorities of public-CA mode,
//!   [`TlsTransport::dial_verified`].
//!
//! Trust model: the chain's security comes from proof of work, not from who a peer is, so a
//! client accepts any self-signed certificate (no CA, no host name, no validity dates) unless
//! the peer is pinned (`HOST:PORT#FINGERPRINT`), in which case only that certificate will do.
//! Either way the handshake signature is verified against the presented certificate, so a
//! peer cannot present a certificate whose key it does not hold. Peers present no client
//! certificates. Only TLS 1.3 is negotiated; session resumption is off, so every handshake
//! checks the certificate and pin afresh.
//!
//! Public-CA mode ([`TlsTransport::dial_verified`]) is the exception an operator opts into
//! for a host-named peer: there the chain must lead to a trusted root, be valid now and name
//! the host, as in HTTPS.

mod identity;
mod roots;
pub mod rotation;
mod transport;
mod verifier;

pub use identity::{load_or_generate, IdentityError, NodeIdentity, CERT_FILE, KEY_FILE, TLS_DIR};
pub use roots::{TrustRoots, TrustRootsError};
pub use rotation::{CertRotator, CertSource, CertificateInfo, RotatorConfig, RotatorStatus};
pub use transport::{
    TlsSetupError, TlsTransport, DEFAULT_HANDSHAKE_TIMEOUT, MAX_PENDING_HANDSHAKES,
};
pub use verifier::PinMismatch;

use rustls::crypto::CryptoProvider;
use std::sync::Arc;

/// The crypto provider of every TLS connection: ring (the provider the crypto crate's
/// AES-GCM uses too).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
