//! [`TransportError`]: why a dial, a bind or an accept failed.

use super::fingerprint::CertFingerprint;
use super::Direction;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a transport operation failed. Every variant names the address involved.
///
/// An error from [`Listener::accept`](super::Listener::accept) concerns one inbound
/// connection: the listener stays usable and the caller keeps accepting.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The TCP connection to a peer could not be opened (refused, unreachable, name not
    /// resolved, …).
    #[error("cannot connect to {peer}: {source}")]
    Connect {
        /// The peer dialled, `host:port`.
        peer: String,
        /// What the socket layer said.
        #[source]
        source: io::Error,
    },
    /// The TCP connection to a peer did not open in time.
    #[error("cannot connect to {peer}: no answer within {after:?}")]
    ConnectTimeout {
        /// The peer dialled, `host:port`.
        peer: String,
        /// The connect timeout that ran out.
        after: Duration,
    },
    /// A verified (public-CA) dial found no trust root to verify the peer against: the
    /// system store is empty or unreadable and no extra roots were given.
    #[error(
        "cannot verify {peer}: no trusted root certificates (install the system CA bundle, \
         e.g. the ca-certificates package, or configure extra roots)"
    )]
    NoTrustRoots {
        /// The peer dialled, `host:port`.
        peer: String,
    },
    /// A pinned peer was dialled over a plaintext transport, which cannot check a pin.
    #[error(
        "{peer} is pinned to a certificate fingerprint, but P2P connections are plaintext \
         (--p2p-plaintext): drop the `#fingerprint` or use TLS"
    )]
    PinNeedsTls {
        /// The peer as given, with its pin.
        peer: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the socket layer said.
        #[source]
        source: io::Error,
    },
    /// Accepting an inbound connection failed (e.g. out of file descriptors).
    #[error("accepting a connection on {listener} failed: {source}")]
    Accept {
        /// The listening address.
        listener: SocketAddr,
        /// What the socket layer said.
        #[source]
        source: io::Error,
    },
    /// The listener's [`AcceptGate`](super::AcceptGate) refused an inbound connection
    /// before any handshake (banned address, too many connections or handshakes from it).
    #[error("refused inbound connection from {peer}: {reason}")]
    Refused {
        /// The peer.
        peer: SocketAddr,
        /// Why.
        reason: super::AcceptRefusal,
    },
    /// The TLS handshake failed: the other side does not speak TLS 1.3 (a plaintext peer),
    /// sent a bad handshake signature, closed the connection, …
    #[error("TLS handshake with {peer} ({direction}) failed: {source}")]
    TlsHandshake {
        /// The other side's address.
        peer: SocketAddr,
        /// Who opened the connection.
        direction: Direction,
        /// What rustls (or the socket) said.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake did not finish in time (a peer that does not speak TLS, or a stalled
    /// one).
    #[error("TLS handshake with {peer} ({direction}) did not finish within {after:?}")]
    HandshakeTimeout {
        /// The other side's address.
        peer: SocketAddr,
        /// Who opened the connection.
        direction: Direction,
        /// The handshake timeout that ran out.
        after: Duration,
    },
    /// The peer presented a certificate other than the one it is pinned to.
    #[error(
        "{peer} presented certificate {actual}, but it is pinned to {expected}: the peer's \
         identity changed or the connection is intercepted (check the `#fingerprint` given for it)"
    )]
    PinMismatch {
        /// The peer's address.
        peer: SocketAddr,
        /// The pinned fingerprint.
        expected: CertFingerprint,
        /// The fingerprint of the certificate it presented.
        actual: CertFingerprint,
    },
}
