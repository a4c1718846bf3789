//! [`TlsTransport`]: TLS 1.3 over any base transport.

use super::crypto_provider;
use super::identity::NodeIdentity;
use super::verifier::{pin_mismatch_in, PeerCertVerifier};
use crate::transport::{
    BoxedListener, CertFingerprint, Connection, ConnectionSecurity, Direction, Listener, PeerSpec,
    Transport, TransportError, TransportFuture,
};
use rustls::client::Resumption;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::ServerName;
use rustls::server::NoServerSessionStorage;
use rustls::sign::SingleCertAndKey;
use rustls::{ClientConfig, ServerConfig};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
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
}

/// TLS 1.3 over a base transport: real TCP for a node, turmoil in the simulation.
///
/// Outbound, it accepts any self-signed certificate, or only the pinned one when the
/// [`PeerSpec`] has a pin, and always verifies the handshake signature; the connection reports
/// the server's [`CertFingerprint`]. Inbound, it serves the node's [`NodeIdentity`] and asks
/// for no client certificate. Listeners run handshakes concurrently (up to
/// [`MAX_PENDING_HANDSHAKES`]), so a stalled peer does not hold up the others.
pub struct TlsTransport<T> {
    base: T,
    client: Arc<ClientConfig>,
    acceptor: TlsAcceptor,
    algorithms: WebPkiSupportedAlgorithms,
    server_name: ServerName<'static>,
    handshake_timeout: Duration,
    fingerprint: CertFingerprint,
}

impl<T: Transport> TlsTransport<T> {
    /// TLS over `base`, serving `identity`, with the [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(base: T, identity: &NodeIdentity) -> Result<Self, TlsSetupError> {
        let provider = crypto_provider();
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
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(
                identity.certified_key().clone(),
            )));
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
            fingerprint: identity.fingerprint(),
        })
    }

    /// Sets how long a handshake may take (either way).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The fingerprint of the certificate this transport serves.
    pub fn local_fingerprint(&self) -> CertFingerprint {
        self.fingerprint
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
}

impl<T> fmt::Debug for TlsTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("fingerprint", &self.fingerprint)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Transport for TlsTransport<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(async move {
            // The base transport carries bytes only; the pin is checked here.
            let unpinned = PeerSpec {
                pin: None,
                ..peer.clone()
            };
            let conn = self.base.dial(&unpinned).await?;
            let peer_addr = conn.peer_addr;
            let connector = TlsConnector::from(self.client_config(peer.pin));
            let handshake = connector.connect(self.server_name.clone(), conn.stream);
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
            let peer_fingerprint = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| CertFingerprint::of(cert.as_ref()));
            Ok(Connection {
                stream: Box::new(tls),
                peer_addr,
                local_addr: conn.local_addr,
                direction: Direction::Outbound,
                security: ConnectionSecurity::Tls { peer_fingerprint },
            })
        })
    }

    fn bind(&self, addr: SocketAddr) -> TransportFuture<'_, BoxedListener> {
        Box::pin(async move {
            let base = self.base.bind(addr).await?;
            Ok(Box::new(TlsListener {
                base,
                acceptor: self.acceptor.clone(),
                handshake_timeout: self.handshake_timeout,
                handshakes: JoinSet::new(),
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
                        self.handshakes.spawn(server_handshake(
                            self.acceptor.clone(),
                            conn,
                            self.handshake_timeout,
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

/// The server side of one handshake, bounded by `timeout`.
async fn server_handshake(
    acceptor: TlsAcceptor,
    conn: Connection,
    timeout: Duration,
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
    Ok(Connection {
        stream: Box::new(tls),
        peer_addr: peer,
        local_addr: conn.local_addr,
        direction: Direction::Inbound,
        security: ConnectionSecurity::Tls {
            peer_fingerprint: None,
        },
    })
}
