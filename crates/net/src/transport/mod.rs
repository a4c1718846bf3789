//! Transports: how a peer connection's bytes get from one node to another.
//!
//! The peer layer sees connections only through [`Transport`] (dial a [`PeerSpec`], bind a
//! [`Listener`]) and [`Connection`] (a boxed [`PeerStream`] plus the peer's address and, over
//! TLS, the fingerprint of the certificate it presented). Implementations:
//! - [`TcpTransport`]: plaintext TCP over `tokio::net`;
//! - [`TlsTransport`](crate::tls::TlsTransport): TLS 1.3 over any other transport;
//! - `TurmoilTransport` (feature `sim`): TCP over turmoil's simulated network.
//!
//! All are compiled side by side and the node passes the one it wants in (usually as
//! `Arc<dyn Transport>`): nothing is selected by a cargo feature. The `sim` feature only
//! *adds* the simulated implementation, for the simulation and tests; the node never turns it
//! on.
//!
//! The trait is object safe: methods return boxed futures ([`TransportFuture`]) and streams
//! are boxed ([`BoxedStream`]), so the peer code is not generic over the transport and TLS or
//! plaintext is a run-time choice. One allocation per connection and a virtual call per read
//! or write cost nothing next to the system calls behind them.
//!
//! Timeouts use `tokio::time`, so under turmoil they run on simulated time.
//!
//! A listener bound with [`Transport::bind_gated`] asks an [`AcceptGate`] about each
//! inbound connection right after `accept`, before any handshake: the P2P engine refuses
//! banned addresses and addresses over their connection or handshake limits there, so they
//! cost no TLS work and hold no handshake slot.

mod error;
mod fingerprint;
mod peer_spec;
#[cfg(feature = "sim")]
mod simulated;
mod tcp;

pub use error::TransportError;
pub use fingerprint::{CertFingerprint, FingerprintParseError};
pub use peer_spec::{parse_peer_spec, PeerSpec, PeerSpecError};
#[cfg(feature = "sim")]
pub use simulated::TurmoilTransport;
pub use tcp::TcpTransport;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// How long a TCP connect may take before [`TransportError::ConnectTimeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A byte stream to a peer: what every transport hands out.
pub trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> PeerStream for T {}

/// A boxed [`PeerStream`]; itself `AsyncRead + AsyncWrite + Unpin + Send`.
pub type BoxedStream = Box<dyn PeerStream>;

/// A boxed [`Listener`].
pub type BoxedListener = Box<dyn Listener>;

/// The future a transport operation returns.
pub type TransportFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, TransportError>> + Send + 'a>>;

/// Who opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The other side connected to us.
    Inbound,
    /// We dialled the other side.
    Outbound,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        })
    }
}

/// Whether a connection is encrypted, and what it proved about the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionSecurity {
    /// Plain TCP.
    Plaintext,
    /// TLS 1.3.
    Tls {
        /// The fingerprint of the certificate the peer presented: known on outbound
        /// connections (the server's certificate), `None` on inbound ones (peers do not
        /// present client certificates).
        peer_fingerprint: Option<CertFingerprint>,
        /// The cipher suite the handshake agreed on (`None` only if rustls did not say).
        cipher_suite: Option<rustls::CipherSuite>,
    },
}

/// An open connection to a peer.
pub struct Connection {
    /// The byte stream (decrypted, over TLS).
    pub stream: BoxedStream,
    /// The peer's address.
    pub peer_addr: SocketAddr,
    /// Our end's address.
    pub local_addr: SocketAddr,
    /// Who opened it.
    pub direction: Direction,
    /// Plaintext or TLS, and the peer's certificate fingerprint if known.
    pub security: ConnectionSecurity,
}

impl Connection {
    /// The fingerprint of the certificate the peer presented, if this is an outbound TLS
    /// connection.
    pub fn peer_fingerprint(&self) -> Option<CertFingerprint> {
        match self.security {
            ConnectionSecurity::Tls {
                peer_fingerprint, ..
            } => peer_fingerprint,
            ConnectionSecurity::Plaintext => None,
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("peer_addr", &self.peer_addr)
            .field("local_addr", &self.local_addr)
            .field("direction", &self.direction)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// What a listener asks about each inbound connection before it spends anything on it (a
/// TLS handshake, a slot): the P2P engine's bans and per-address limits.
pub trait AcceptGate: Send + Sync + 'static {
    /// Whether the connection from `peer` may go on to its handshake. The ticket is held
    /// until the handshake ends (either way), so the gate can count handshakes in progress.
    fn admit(&self, peer: SocketAddr) -> Result<AdmitTicket, AcceptRefusal>;
}

/// Held while an admitted connection's handshake runs; dropping it tells the gate.
pub type AdmitTicket = Box<dyn Send>;

/// Why an [`AcceptGate`] refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcceptRefusal {
    /// The address (or its subnet) is banned.
    #[error("banned")]
    Banned,
    /// Its address or subnet already has this many handshakes in progress.
    #[error("{0} handshakes from its address or subnet in progress")]
    TooManyHandshakes(usize),
    /// Its address or subnet already holds this many inbound connections.
    #[error("{0} connections from its address or subnet open")]
    TooManyConnections(usize),
}

/// A gate that admits every connection (listeners bound with [`Transport::bind`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenGate;

impl AcceptGate for OpenGate {
    fn admit(&self, _peer: SocketAddr) -> Result<AdmitTicket, AcceptRefusal> {
        Ok(Box::new(()))
    }
}

/// Opens connections to peers and listens for theirs.
pub trait Transport: Send + Sync + 'static {
    /// Connects to `peer`. A transport that cannot check `peer.pin` (plaintext) refuses a
    /// pinned peer with [`TransportError::PinNeedsTls`] rather than ignore the pin.
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection>;

    /// Listens on `addr` (port 0: any free port; see [`Listener::local_addr`]), admitting
    /// every connection.
    fn bind(&self, addr: SocketAddr) -> TransportFuture<'_, BoxedListener> {
        self.bind_gated(addr, Arc::new(OpenGate))
    }

    /// Listens on `addr`, asking `gate` about each inbound connection as soon as it is
    /// accepted, before any handshake; a refused one is closed at once and reported as
    /// [`TransportError::Refused`]. A wrapping transport (TLS) must ask the gate itself
    /// before its own handshake, not pass the gate to the transport it wraps.
    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener>;
}

/// Inbound connections on a bound address.
pub trait Listener: Send {
    /// The next inbound connection. An error concerns that connection only (a failed TLS
    /// handshake, a transient `accept` failure): keep calling, after a short
    /// `tokio::time::sleep` on [`TransportError::Accept`] (running out of file descriptors
    /// lasts until one is freed). Cancel safe: dropping the future loses no connection that
    /// was already established.
    fn accept(&mut self) -> TransportFuture<'_, Connection>;

    /// The address listened on (with the real port when bound to port 0).
    fn local_addr(&self) -> SocketAddr;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        (**self).dial(peer)
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        (**self).bind_gated(addr, gate)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        (**self).dial(peer)
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        (**self).bind_gated(addr, gate)
    }
}

/// Refuses a pinned peer on a plaintext transport.
fn refuse_pin(peer: &PeerSpec) -> Result<(), TransportError> {
    match peer.pin {
        Some(_) => Err(TransportError::PinNeedsTls {
            peer: peer.to_string(),
        }),
        None => Ok(()),
    }
}
