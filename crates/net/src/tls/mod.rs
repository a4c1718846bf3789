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
//! Cipher suites: [`CipherSuitePolicy`] (AES-256-GCM first, or ChaCha20-Poly1305 only, from
//! the node's `crypto.aes` setting); each connection reports the suite it negotiated
//! ([`ConnectionSecurity::Tls`](crate::transport::ConnectionSecurity::Tls)).
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

use rustls::crypto::ring::cipher_suite::{
    TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::SupportedCipherSuite;
use std::sync::Arc;

/// The crypto provider of every TLS connection: ring (the provider the crypto crate's
/// AES-GCM uses too), with ring's TLS 1.3 suites in ring's order
/// ([`CipherSuitePolicy::AesFirst`]). Connections use
/// [`CipherSuitePolicy::provider`]; certificate and key handling use this one.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    CipherSuitePolicy::AesFirst.provider()
}

/// The TLS 1.3 cipher suites a node offers (dialling) and accepts (listening), in order of
/// preference. The node derives it from the `crypto.aes` setting, so that setting governs
/// the AES code P2P connections run, not only the keystore's.
///
/// A listener picks the first of its own suites the client offers (rustls'
/// `ignore_client_order`), so the policy decides inbound connections too. ChaCha20-Poly1305
/// is mandatory for every TLS 1.3 stack rustls talks to, so the two policies always agree on
/// a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CipherSuitePolicy {
    /// `TLS13_AES_256_GCM_SHA384`, `TLS13_AES_128_GCM_SHA256`, then
    /// `TLS13_CHACHA20_POLY1305_SHA256` (ring's order). ring runs AES-GCM with AES-NI and
    /// PCLMULQDQ (or VAES/VPCLMULQDQ) where the CPU has them: the hardware AES path.
    #[default]
    AesFirst,
    /// `TLS13_CHACHA20_POLY1305_SHA256` only: no AES code runs on P2P connections, as TLS
    /// stacks choose on CPUs without AES instructions. For `crypto.aes = "software"`.
    ChaCha20Only,
}

impl CipherSuitePolicy {
    /// The suites, most preferred first.
    pub fn suites(self) -> &'static [SupportedCipherSuite] {
        static AES_FIRST: [SupportedCipherSuite; 3] = [
            TLS13_AES_256_GCM_SHA384,
            TLS13_AES_128_GCM_SHA256,
            TLS13_CHACHA20_POLY1305_SHA256,
        ];
        static CHACHA20_ONLY: [SupportedCipherSuite; 1] = [TLS13_CHACHA20_POLY1305_SHA256];
        match self {
            CipherSuitePolicy::AesFirst => &AES_FIRST,
            CipherSuitePolicy::ChaCha20Only => &CHACHA20_ONLY,
        }
    }

    /// The suites' IANA names, most preferred first (e.g. `TLS13_AES_256_GCM_SHA384`).
    pub fn suite_names(self) -> Vec<&'static str> {
        self.suites()
            .iter()
            .map(|s| suite_name(s.suite()))
            .collect()
    }

    /// Whether a connection under this policy may run AES (ring's hardware path).
    pub fn uses_aes(self) -> bool {
        self == CipherSuitePolicy::AesFirst
    }

    /// ring's provider with exactly these suites, in this order.
    pub fn provider(self) -> Arc<CryptoProvider> {
        Arc::new(CryptoProvider {
            cipher_suites: self.suites().to_vec(),
            ..rustls::crypto::ring::default_provider()
        })
    }
}

/// The IANA name of a cipher suite (`TLS13_AES_256_GCM_SHA384`); `unknown cipher suite` for
/// one rustls has no name for (never negotiated: only the policy's suites are offered).
pub fn suite_name(suite: rustls::CipherSuite) -> &'static str {
    suite.as_str().unwrap_or("unknown cipher suite")
}
