//! [`TurmoilTransport`]: TCP over turmoil's simulated network (feature `sim`).

use super::{
    refuse_pin, AcceptGate, BoxedListener, Connection, ConnectionSecurity, Direction, Listener,
    PeerSpec, Transport, TransportError, TransportFuture, DEFAULT_CONNECT_TIMEOUT,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use turmoil::net::{TcpListener, TcpStream};

/// Plaintext TCP over turmoil's simulated network, for deterministic multi-node tests.
///
/// Works only inside a turmoil host or client (it panics elsewhere, as `turmoil::net` does).
/// Hosts are dialled by their simulation name (`PeerSpec::new("node-1", 7333)`) or their
/// simulated IP; a listener binds `0.0.0.0`, `::` or localhost, as turmoil allows. Wrap it in
/// [`TlsTransport`](crate::tls::TlsTransport) to run TLS in the simulation.
#[derive(Debug, Clone)]
pub struct TurmoilTransport {
    connect_timeout: Duration,
}

impl TurmoilTransport {
    /// A simulated transport with the [`DEFAULT_CONNECT_TIMEOUT`] (in simulated time).
    pub fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sets how long a connect may take (simulated time).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

impl Default for TurmoilTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for TurmoilTransport {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(async move {
            refuse_pin(peer)?;
            let connect_error = |source| TransportError::Connect {
                peer: peer.addr(),
                source,
            };
            let stream = tokio::time::timeout(
                self.connect_timeout,
                TcpStream::connect((peer.host.as_str(), peer.port)),
            )
            .await
            .map_err(|_| TransportError::ConnectTimeout {
                peer: peer.addr(),
                after: self.connect_timeout,
            })?
            .map_err(connect_error)?;
            let peer_addr = stream.peer_addr().map_err(connect_error)?;
            let local_addr = stream.local_addr().map_err(connect_error)?;
            Ok(Connection {
                stream: Box::new(stream),
                peer_addr,
                local_addr,
                direction: Direction::Outbound,
                security: ConnectionSecurity::Plaintext,
            })
        })
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        Box::pin(async move {
            let bind_error = |source| TransportError::Bind { addr, source };
            let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
            let local_addr = listener.local_addr().map_err(bind_error)?;
            Ok(Box::new(TurmoilListener {
                listener,
                local_addr,
                gate,
            }) as BoxedListener)
        })
    }
}

/// A [`Listener`] over a `turmoil::net::TcpListener`.
struct TurmoilListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    gate: Arc<dyn AcceptGate>,
}

impl Listener for TurmoilListener {
    fn accept(&mut self) -> TransportFuture<'_, Connection> {
        Box::pin(async move {
            let accept_error = |source| TransportError::Accept {
                listener: self.local_addr,
                source,
            };
            let (stream, peer_addr) = self.listener.accept().await.map_err(accept_error)?;
            if let Err(reason) = self.gate.admit(peer_addr) {
                return Err(TransportError::Refused {
                    peer: peer_addr,
                    reason,
                });
            }
            let local_addr = stream.local_addr().map_err(accept_error)?;
            Ok(Connection {
                stream: Box::new(stream),
                peer_addr,
                local_addr,
                direction: Direction::Inbound,
                security: ConnectionSecurity::Plaintext,
            })
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}
