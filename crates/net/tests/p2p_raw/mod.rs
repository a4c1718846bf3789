//! A hand-driven test peer for the attack tests: connects from a chosen loopback address
//! (Linux routes all of 127.0.0.0/8 to the loopback interface, so 127.a.b.c are distinct
//! hosts, /24s and /16s to the node), over plain TCP or TLS, and speaks the wire protocol
//! message by message.
//!
//! A test file that uses it declares `mod sync_common;` before `mod p2p_raw;`.

#![allow(dead_code, unreachable_pub)]

use crate::sync_common::{now_secs, params};
use parthenon_net::frame::{encode_frame, FrameDecoder};
use parthenon_net::message::{Message, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{
    AcceptGate, BoxedListener, BoxedStream, Connection, ConnectionSecurity, Direction, PeerSpec,
    Transport, TransportError, TransportFuture,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long the node may take to answer or close.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The loopback address `127.a.b.c`.
pub fn lo(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, a, b, c))
}

/// A TCP connection to `to` from the address `from`.
pub async fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Dials from one fixed source address (TLS wraps it for TLS dials). Cannot listen.
#[derive(Debug, Clone, Copy)]
pub struct FromAddr(pub IpAddr);

impl Transport for FromAddr {
    fn dial<'a>(&'a self, peer: &'a PeerSpec) -> TransportFuture<'a, Connection> {
        Box::pin(async move {
            let to: SocketAddr = peer.addr().parse().expect("an IP:PORT peer");
            let stream = tcp_from(self.0, to)
                .await
                .map_err(|source| TransportError::Connect {
                    peer: peer.addr(),
                    source,
                })?;
            let local_addr = stream.local_addr().expect("bound");
            Ok(Connection {
                stream: Box::new(stream),
                peer_addr: to,
                local_addr,
                direction: Direction::Outbound,
                security: ConnectionSecurity::Plaintext,
            })
        })
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        _gate: Arc<dyn AcceptGate>,
    ) -> TransportFuture<'_, BoxedListener> {
        Box::pin(async move {
            Err(TransportError::Bind {
                addr,
                source: std::io::Error::other("a test dialler does not listen"),
            })
        })
    }
}

/// TLS dials from `from`.
pub fn tls_from(from: IpAddr) -> TlsTransport<FromAddr> {
    TlsTransport::new(FromAddr(from), &NodeIdentity::generate().expect("identity"))
        .expect("TLS transport")
}

fn spec(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

/// A test peer speaking the wire protocol by hand.
pub struct RawPeer {
    stream: BoxedStream,
    decoder: FrameDecoder,
    pending: Vec<u8>,
    buf: Vec<u8>,
    /// Pings answered while reading.
    pub pings_answered: u64,
}

impl RawPeer {
    /// Wraps an open stream.
    pub fn from_stream(stream: BoxedStream) -> Self {
        RawPeer {
            stream,
            decoder: FrameDecoder::new(params().magic),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
            pings_answered: 0,
        }
    }

    /// Connects over plain TCP from `from`.
    pub async fn tcp(from: IpAddr, to: SocketAddr) -> std::io::Result<Self> {
        Ok(Self::from_stream(Box::new(tcp_from(from, to).await?)))
    }

    /// Connects over TLS from `from`.
    pub async fn tls(from: IpAddr, to: SocketAddr) -> Result<Self, TransportError> {
        let conn = tls_from(from).dial(&spec(to)).await?;
        Ok(Self::from_stream(conn.stream))
    }

    /// Writes raw bytes; false when the node closed the connection.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Sends one message; false when the node closed the connection.
    pub async fn send(&mut self, m: &Message) -> bool {
        self.send_bytes(&encode_frame(params().magic, m)).await
    }

    /// The next message, answering pings on the way; `None` when the connection closed or
    /// nothing came within `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let taken = self.decoder.extend(&self.pending);
            self.pending.drain(..taken);
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let m = Message::decode(frame.command.as_str(), &frame.payload)
                        .expect("the node sends well-formed messages");
                    if let Message::Ping(n) = m {
                        self.pings_answered += 1;
                        self.send(&Message::Pong(n)).await;
                        continue;
                    }
                    return Some(m);
                }
                Ok(None) if taken > 0 => continue,
                Ok(None) => {}
                Err(e) => panic!("the node sent a bad frame: {e}"),
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await;
            match read {
                Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.pending.extend_from_slice(&self.buf[..n]),
            }
        }
    }

    /// Sends `version` (advertising `listen_port`, 0 for none) and completes the
    /// handshake; returns the node's `version`. Panics if it does not complete.
    pub async fn handshake(&mut self, listen_port: u16) -> VersionMessage {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: params().magic,
            services: 1,
            timestamp: now_secs() as i64,
            receiver: (Ipv4Addr::UNSPECIFIED, 0).into(),
            sender: (Ipv4Addr::UNSPECIFIED, listen_port).into(),
            nonce: 0x7e57_0000_0000_0000 ^ u64::from(listen_port),
            user_agent: "/attack-test:0.0/".to_owned(),
            best_height: 0,
        };
        assert!(self.send(&Message::Version(version)).await, "node open");
        let mut theirs = None;
        let mut got_verack = false;
        while theirs.is_none() || !got_verack {
            match self.recv(REPLY_TIMEOUT).await {
                Some(Message::Version(v)) => {
                    theirs = Some(v);
                    self.send(&Message::Verack).await;
                }
                Some(Message::Verack) => got_verack = true,
                Some(_) => {}
                None => panic!("the node closed the connection during the handshake"),
            }
        }
        theirs.expect("got version")
    }

    /// Sends a ping and waits for its pong (answering the node's pings and skipping other
    /// messages); the round trip, or `None` if the connection closed or `timeout` passed.
    pub async fn ping(&mut self, nonce: u64, timeout: Duration) -> Option<Duration> {
        let start = tokio::time::Instant::now();
        if !self.send(&Message::Ping(nonce)).await {
            return None;
        }
        let deadline = start + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await? {
                Message::Pong(n) if n == nonce => return Some(start.elapsed()),
                _ => {}
            }
        }
    }

    /// Whether the node closes the connection within `timeout` (reading and dropping what
    /// it sends meanwhile), without us sending anything.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}
