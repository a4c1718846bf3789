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

/// Opens connections to peers and listens for theirs.
pub trait Transport: Send + Sync + 'static {
    /// Connects to `peer`. A transport that cannot check `peer.pin` (plaintext) refuses a
    /// pinned peer with [`TransportError::PinNeedsTls`] rather than ignore the pin.
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection>;

    /// Listens on `addr` (port 0: any free port; see [`Listener::local_addr`]).
    fn bind(&self, addr: SocketAddr) -> TransportFuture<'_, BoxedListener>;
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

    fn bind(&self, addr: SocketAddr) -> TransportFuture<'_, BoxedListener> {
        (**self).bind(addr)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        (**self).dial(peer)
    }

    fn bind(&self, addr: SocketAddr) -> TransportFuture<'_, BoxedListener> {
        (**self).bind(addr)
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
