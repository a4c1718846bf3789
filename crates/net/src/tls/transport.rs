//! [`TlsTransport`]: TLS 1.3 over any base transport.

use super::identity::NodeIdentity;
use super::roots::TrustRoots;
use super::rotation::CertRotator;
use super::verifier::{pin_mismatch_in, PeerCertVerifier, VerifiedPeerVerifier};
use super::{crypto_provider, CipherSuitePolicy};
use crate::transport::{
    AcceptGate, AdmitTicket, BoxedListener, CertFingerprint, Connection, ConnectionSecurity,
    Direction, Listener, PeerSpec, Transport, TransportError, TransportFuture,
};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::ServerName;
use rustls::server::{NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ServerConfig};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long a TLS handshake may take, either way, before
/// [`TransportError::HandshakeTimeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Inbound handshakes a listener runs at once. Past this it stops accepting until one
/// finishes, so peers that connect and stall cannot pile up without bound.
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// The server name a client asks for. No SNI is sent and no name is checked; rustls needs one.
const SERVER_NAME: &str = "parthenon-node";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// rustls refused the configuration (the provider lacks TLS 1.3 suites).
    #[error("cannot configure TLS 1.3 with the ring provider: {source}")]
    Config {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// The trust roots cannot make a certificate verifier (none given).
    #[error("cannot verify peers against the trust roots: {source}")]
    Verifier {
        /// What rustls said.
        #[source]
        source: rustls::client::VerifierBuilderError,
    },
}

/// TLS 1.3 over a base transport: real TCP for a node, turmoil in the simulation.
///
/// Outbound, [`dial`](Transport::dial) accepts any self-signed certificate, or only the pinned
/// one when the [`PeerSpec`] has a pin, and always verifies the handshake signature; the
/// connection reports the server's [`CertFingerprint`]. [`dial_verified`](Self::dial_verified)
/// instead verifies a host-named peer's certificate chain and name against trust roots
/// (public-CA mode). Inbound, it serves the node's [`NodeIdentity`] ([`new`](Self::new)) or
/// whatever pair a [`CertRotator`] has in service ([`with_rotator`](Self::with_rotator)), and
/// asks for no client certificate. Listeners run handshakes concurrently (up to
/// [`MAX_PENDING_HANDSHAKES`]), so a stalled peer does not hold up the others.
pub struct TlsTransport<T> {
    base: T,
    client: Arc<ClientConfig>,
    acceptor: TlsAcceptor,
    algorithms: WebPkiSupportedAlgorithms,
    server_name: ServerName<'static>,
    handshake_timeout: Duration,
    local: LocalCert,
    /// Serves the certificate (kept to rebuild the configurations for another suite policy).
    resolver: Arc<dyn ResolvesServerCert>,
    /// The cipher suites offered and accepted.
    suites: CipherSuitePolicy,
    /// The webpki verifier of verified dials: set by [`Self::with_trust_roots`], else made
    /// from the system store on the first verified dial (`None`: no roots there).
    verified: OnceLock<Option<Arc<WebPkiServerVerifier>>>,
}

/// The certificate a transport serves.
enum LocalCert {
    /// Always the same.
    Fixed(CertFingerprint),
    /// Whatever the rotator has in service (the handle also keeps its watcher running).
    Rotating(CertRotator),
}

impl<T: Transport> TlsTransport<T> {
    /// TLS over `base`, serving `identity`, with the [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(base: T, identity: &NodeIdentity) -> Result<Self, TlsSetupError> {
        Self::build(
            base,
            Arc::new(SingleCertAndKey::from(identity.certified_key().clone())),
            LocalCert::Fixed(identity.fingerprint()),
            CipherSuitePolicy::default(),
        )
    }

    /// TLS over `base`, serving the pair `rotator` has in service at each handshake, with the
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]. The transport holds a clone of the rotator, so its
    /// watcher keeps running while the transport lives.
    pub fn with_rotator(base: T, rotator: &CertRotator) -> Result<Self, TlsSetupError> {
        Self::build(
            base,
            rotator.resolver(),
            LocalCert::Rotating(rotator.clone()),
            CipherSuitePolicy::default(),
        )
    }

    /// Offers and accepts only the cipher suites of `suites`, in its order (the default is
    /// [`CipherSuitePolicy::AesFirst`]).
    pub fn with_cipher_suites(self, suites: CipherSuitePolicy) -> Result<Self, TlsSetupError> {
        let rebuilt = Self::build(self.base, self.resolver, self.local, suites)?;
        Ok(Self {
            handshake_timeout: self.handshake_timeout,
            verified: self.verified,
            ..rebuilt
        })
    }

    /// The cipher suites offered and accepted.
    pub fn cipher_suites(&self) -> CipherSuitePolicy {
        self.suites
    }

    fn build(
        base: T,
        resolver: Arc<dyn ResolvesServerCert>,
        local: LocalCert,
        suites: CipherSuitePolicy,
    ) -> Result<Self, TlsSetupError> {
        let provider = suites.provider();
        let algorithms = provider.signature_verification_algorithms;
        let config_error = |source| TlsSetupError::Config { source };

        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerCertVerifier::new(None, algorithms)))
            .with_no_client_auth();
        // Resumed sessions skip the certificate check; every handshake must do it (pins).
        client.resumption = Resumption::disabled();
        client.enable_sni = false;

        let mut server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // The node's suite order decides, not the client's: `crypto.aes` governs inbound
        // connections too.
        server.ignore_client_order = true;
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        Ok(Self {
            base,
            client: Arc::new(client),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            algorithms,
            server_name: ServerName::try_from(SERVER_NAME)
                .expect("SERVER_NAME is a valid DNS name"),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            local,
            resolver,
            suites,
            verified: OnceLock::new(),
        })
    }

    /// Sets how long a handshake may take (either way).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the certificate authorities [`dial_verified`](Self::dial_verified) trusts, in
    /// place of the system store it loads otherwise (give `TrustRoots::system()` plus extra
    /// roots to trust both).
    pub fn with_trust_roots(mut self, roots: TrustRoots) -> Result<Self, TlsSetupError> {
        let verifier = webpki_verifier(roots)?;
        self.verified = OnceLock::from(Some(verifier));
        Ok(self)
    }

    /// The fingerprint of the certificate this transport serves (with a rotator, the one in
    /// service now).
    pub fn local_fingerprint(&self) -> CertFingerprint {
        match &self.local {
            LocalCert::Fixed(fingerprint) => *fingerprint,
            LocalCert::Rotating(rotator) => rotator.fingerprint(),
        }
    }

    /// Dials a peer in public-CA mode: the peer's certificate chain must lead to one of the
    /// trust roots ([`with_trust_roots`](Self::with_trust_roots), else the system store),
    /// be valid now, and name `peer.host` (a DNS name or IP address), which is also sent as
    /// SNI; if `peer.pin` is set, the certificate must be the pinned one as well. A failed
    /// check is a [`TransportError::TlsHandshake`] (or [`TransportError::PinMismatch`]).
    ///
    /// Without [`with_trust_roots`](Self::with_trust_roots), the first verified dial reads
    /// the system store ([`TrustRoots::system`]: blocking file I/O, once per transport); an
    /// empty store makes every verified dial fail with [`TransportError::NoTrustRoots`].
    pub fn dial_verified<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(async move {
            let webpki = self
                .verified
                .get_or_init(|| webpki_verifier(TrustRoots::system()).ok())
                .clone()
                .ok_or_else(|| TransportError::NoTrustRoots { peer: peer.addr() })?;
            let server_name = ServerName::try_from(peer.host.clone()).map_err(|error| {
                TransportError::Connect {
                    peer: peer.addr(),
                    source: io::Error::new(io::ErrorKind::InvalidInput, error),
                }
            })?;
            let mut config = (*self.client).clone();
            config.enable_sni = true;
            config
                .dangerous()
                .set_certificate_verifier(Arc::new(VerifiedPeerVerifier::new(webpki, peer.pin)));
            self.dial_with(peer, Arc::new(config), server_name).await
        })
    }

    /// The client configuration for a dial: the shared one, or a copy whose verifier holds
    /// the pin.
    fn client_config(&self, pin: Option<CertFingerprint>) -> Arc<ClientConfig> {
        match pin {
            None => self.client.clone(),
            Some(pin) => {
                let mut config = (*self.client).clone();
                config
                    .dangerous()
                    .set_certificate_verifier(Arc::new(PeerCertVerifier::new(
                        Some(pin),
                        self.algorithms,
                    )));
                Arc::new(config)
            }
        }
    }

    /// Dials `peer` over the base transport and runs the client handshake with `config`.
    async fn dial_with(
        &self,
        peer: &PeerSpec,
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
    ) -> Result<Connection, TransportError> {
        // The base transport carries bytes only; the pin is checked here.
        let unpinned = PeerSpec {
            pin: None,
            ..peer.clone()
        };
        let conn = self.base.dial(&unpinned).await?;
        let peer_addr = conn.peer_addr;
        let connector = TlsConnector::from(config);
        let handshake = connector.connect(server_name, conn.stream);
        let tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Err(_elapsed) => {
                return Err(TransportError::HandshakeTimeout {
                    peer: peer_addr,
                    direction: Direction::Outbound,
                    after: self.handshake_timeout,
                })
            }
            Ok(Err(source)) => {
                return Err(match pin_mismatch_in(&source) {
                    Some(mismatch) => TransportError::PinMismatch {
                        peer: peer_addr,
                        expected: mismatch.expected,
                        actual: mismatch.actual,
                    },
                    None => TransportError::TlsHandshake {
                        peer: peer_addr,
                        direction: Direction::Outbound,
                        source,
                    },
                })
            }
            Ok(Ok(tls)) => tls,
        };
        let session = tls.get_ref().1;
        let peer_fingerprint = session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|cert| CertFingerprint::of(cert.as_ref()));
        let cipher_suite = session.negotiated_cipher_suite().map(|s| s.suite());
        Ok(Connection {
            stream: Box::new(tls),
            peer_addr,
            local_addr: conn.local_addr,
            direction: Direction::Outbound,
            security: ConnectionSecurity::Tls {
                peer_fingerprint,
                cipher_suite,
            },
        })
    }
}

/// A webpki verifier over `roots` with the ring provider.
fn webpki_verifier(roots: TrustRoots) -> Result<Arc<WebPkiServerVerifier>, TlsSetupError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots.into_store()), crypto_provider())
        .build()
        .map_err(|source| TlsSetupError::Verifier { source })
}

impl<T: Transport> fmt::Debug for TlsTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("fingerprint", &self.local_fingerprint())
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Transport for TlsTransport<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(self.dial_with(peer, self.client_config(peer.pin), self.server_name.clone()))
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        Box::pin(async move {
            // The base admits everything: the gate is asked here, before the handshake.
            let base = self.base.bind(addr).await?;
            Ok(Box::new(TlsListener {
                base,
                acceptor: self.acceptor.clone(),
                handshake_timeout: self.handshake_timeout,
                handshakes: JoinSet::new(),
                gate,
            }) as BoxedListener)
        })
    }
}

/// A [`Listener`] that runs the server side of the TLS handshake on each base connection,
/// concurrently, and yields connections as their handshakes finish.
struct TlsListener {
    base: BoxedListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    /// Handshakes in progress; aborted when the listener is dropped.
    handshakes: JoinSet<Result<Connection, TransportError>>,
    /// Asked before each handshake (bans, per-address limits).
    gate: Arc<dyn AcceptGate>,
}

impl Listener for TlsListener {
    fn accept(&mut self) -> TransportFuture<'_, Connection> {
        Box::pin(async move {
            loop {
                let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
                tokio::select! {
                    // Fixed order, not tokio's random one: the simulation stays deterministic.
                    biased;
                    Some(done) = self.handshakes.join_next() => match done {
                        Ok(result) => return result,
                        Err(join_error) if join_error.is_panic() => {
                            std::panic::resume_unwind(join_error.into_panic())
                        }
                        // Cancelled: only when the runtime shuts down.
                        Err(_cancelled) => continue,
                    },
                    accepted = self.base.accept(), if room => {
                        let conn = accepted?;
                        // Refused before the handshake: dropping the stream closes it, and
                        // the peer costs one accept, no TLS work, no handshake slot.
                        let ticket = self.gate.admit(conn.peer_addr).map_err(|reason| {
                            TransportError::Refused { peer: conn.peer_addr, reason }
                        })?;
                        self.handshakes.spawn(server_handshake(
                            self.acceptor.clone(),
                            conn,
                            self.handshake_timeout,
                            ticket,
                        ));
                    }
                }
            }
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.base.local_addr()
    }
}

/// The server side of one handshake, bounded by `timeout`; `_ticket` (the gate's count of
/// this handshake) is released when it ends, either way.
async fn server_handshake(
    acceptor: TlsAcceptor,
    conn: Connection,
    timeout: Duration,
    _ticket: AdmitTicket,
) -> Result<Connection, TransportError> {
    let peer = conn.peer_addr;
    let tls = match tokio::time::timeout(timeout, acceptor.accept(conn.stream)).await {
        Err(_elapsed) => {
            return Err(TransportError::HandshakeTimeout {
                peer,
                direction: Direction::Inbound,
                after: timeout,
            })
        }
        Ok(Err(source)) => {
            return Err(TransportError::TlsHandshake {
                peer,
                direction: Direction::Inbound,
                source,
            })
        }
        Ok(Ok(tls)) => tls,
    };
    let cipher_suite = tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite());
    Ok(Connection {
        stream: Box::new(tls),
        peer_addr: peer,
        local_addr: conn.local_addr,
        direction: Direction::Inbound,
        security: ConnectionSecurity::Tls {
            peer_fingerprint: None,
            cipher_suite,
        },
    })
}
