//! The one hand-driven test peer of the P2P tests: it speaks the wire protocol by hand over
//! a raw stream (plain TCP, TCP with a tiny receive buffer, or TLS; optionally from a chosen
//! loopback source address), so a test can do what a hostile peer does: send frames the
//! engine's own code never would, stop reading, or measure a ping round trip.
//!
//! Linux routes all of 127.0.0.0/8 to the loopback interface, so `lo(a, b, c)` addresses are
//! distinct hosts, /24s and /16s to the node.
//!
//! A test file that uses it declares `mod sync_common;` and `mod p2p_common;` before `mod raw_peer;`.

#![allow(dead_code, unreachable_pub)]

use crate::p2p_common::spec;
use crate::sync_common::{now_secs, params};
use parthenon_net::frame::{encode_frame, FrameDecoder};
use parthenon_net::message::{Message, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{
    AcceptGate, BoxedListener, BoxedStream, Connection, ConnectionSecurity, Direction, PeerSpec,
    TcpTransport, Transport, TransportError, TransportFuture,
};
use parthenon_primitives::BlockHeader;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long the node may take to answer or close.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a raw peer waits for the node's side of a handshake (or a message it must
/// send) before panicking.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(15);

/// The nonce of [`RawPeer::hostile_handshake`].
pub const HOSTILE_NONCE: u64 = 0x5eed_0bad_cafe_f00d;

/// The dev network's magic.
pub fn magic() -> [u8; 4] {
    params().magic
}

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

/// What stopped a read: the node closed the connection, or the time ran out.
enum RecvEnd {
    Closed,
    TimedOut,
}

/// A hand-driven connection to a node.
pub struct RawPeer {
    /// The stream (write to it directly to send raw bytes).
    pub stream: BoxedStream,
    decoder: FrameDecoder,
    /// Bytes read but not yet taken by the decoder.
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
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
            pings_answered: 0,
        }
    }

    /// Dials `addr` over `transport` (plain TCP or TLS).
    pub async fn connect(transport: &dyn Transport, addr: SocketAddr) -> Self {
        let conn = transport.dial(&spec(addr)).await.expect("dial the node");
        Self::from_stream(conn.stream)
    }

    /// Dials `addr` over plain TCP.
    pub async fn tcp(addr: SocketAddr) -> Self {
        Self::connect(&TcpTransport::new(), addr).await
    }

    /// Connects over plain TCP from `from`.
    pub async fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<Self> {
        Ok(Self::from_stream(Box::new(tcp_from(from, to).await?)))
    }

    /// Connects over TLS from `from`.
    pub async fn tls_from(from: IpAddr, to: SocketAddr) -> Result<Self, TransportError> {
        let conn = tls_from(from).dial(&spec(to)).await?;
        Ok(Self::from_stream(conn.stream))
    }

    /// Dials `addr` over plain TCP with a 4 KiB receive buffer, so that the node's writes
    /// back up as soon as this peer stops reading.
    pub async fn tcp_small_buffer(addr: SocketAddr) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4_096).expect("receive buffer");
        let stream = socket.connect(addr).await.expect("connect");
        Self::from_stream(Box::new(stream))
    }

    /// Writes raw bytes; false when the node closed the connection (which a hostile test
    /// may expect, so callers are free to ignore it).
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Sends one message; false when the node closed the connection.
    pub async fn send(&mut self, m: &Message) -> bool {
        self.send_bytes(&encode_frame(magic(), m)).await
    }

    /// The next message from the node (pings answered on the way unless `keep_pings`), or
    /// why none came before `timeout`.
    async fn next_message(
        &mut self,
        timeout: Duration,
        keep_pings: bool,
    ) -> Result<Message, RecvEnd> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // The decoder takes bytes up to the end of one frame at a time.
            let taken = self.decoder.extend(&self.pending);
            self.pending.drain(..taken);
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let m = Message::decode(frame.command.as_str(), &frame.payload)
                        .unwrap_or_else(|e| panic!("the node sent a malformed message: {e}"));
                    if let (Message::Ping(n), false) = (&m, keep_pings) {
                        let n = *n;
                        self.pings_answered += 1;
                        self.send(&Message::Pong(n)).await;
                        continue;
                    }
                    return Ok(m);
                }
                Ok(None) if taken > 0 => continue,
                Ok(None) => {}
                Err(e) => panic!("the node sent a bad frame: {e}"),
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await {
                Err(_) => return Err(RecvEnd::TimedOut),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(RecvEnd::Closed),
                Ok(Ok(n)) => self.pending.extend_from_slice(&self.buf[..n]),
            }
        }
    }

    /// The next message from the node (pings are answered on the way unless `keep_pings`);
    /// `None` when the connection closed. Panics after `timeout`.
    pub async fn recv_raw(&mut self, timeout: Duration, keep_pings: bool) -> Option<Message> {
        self.recv_or_panic(timeout, keep_pings, "").await
    }

    async fn recv_or_panic(
        &mut self,
        timeout: Duration,
        keep_pings: bool,
        context: &str,
    ) -> Option<Message> {
        match self.next_message(timeout, keep_pings).await {
            Ok(m) => Some(m),
            Err(RecvEnd::Closed) => None,
            Err(RecvEnd::TimedOut) => {
                panic!("{context}: no message from the node within {timeout:?}")
            }
        }
    }

    /// The next message, pings answered; `None` when the connection closed. Panics after
    /// `timeout`.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Message> {
        self.recv_raw(timeout, false).await
    }

    /// The next message, pings answered; `None` when the connection closed or nothing came
    /// within `timeout`.
    pub async fn recv_within(&mut self, timeout: Duration) -> Option<Message> {
        self.next_message(timeout, false).await.ok()
    }

    /// Reads until `pick` chooses a message; panics (naming `context`) if the connection
    /// closes first or nothing comes for [`REPLY_TIMEOUT`].
    pub async fn recv_until<T>(
        &mut self,
        context: &str,
        mut pick: impl FnMut(&Message) -> Option<T>,
    ) -> T {
        loop {
            let m = self
                .recv_or_panic(REPLY_TIMEOUT, false, context)
                .await
                .unwrap_or_else(|| panic!("{context}: the node closed the connection early"));
            if let Some(t) = pick(&m) {
                return t;
            }
        }
    }

    /// Reads until the node asks for headers (`getheaders`).
    pub async fn wait_for_getheaders(&mut self, context: &str) {
        self.recv_until(context, |m| {
            matches!(m, Message::GetHeaders { .. }).then_some(())
        })
        .await;
    }

    /// Waits for the node's `getheaders` and answers it with `headers`.
    pub async fn answer_getheaders(&mut self, context: &str, headers: Vec<BlockHeader>) {
        self.wait_for_getheaders(context).await;
        self.send(&Message::Headers(headers)).await;
    }

    /// Sends `version` (with `nonce` and `user_agent`, advertising `listen_port`, 0 for
    /// none: then the node must not put this peer into its address book), answers the
    /// node's `version` with `verack` and waits for its `verack`; returns the node's
    /// `version`. Panics if the handshake does not complete.
    pub async fn handshake_as(
        &mut self,
        nonce: u64,
        user_agent: &str,
        listen_port: u16,
    ) -> VersionMessage {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: magic(),
            services: 1,
            timestamp: now_secs() as i64,
            receiver: (Ipv4Addr::LOCALHOST, 0).into(),
            sender: (Ipv4Addr::UNSPECIFIED, listen_port).into(),
            nonce,
            user_agent: user_agent.to_owned(),
            best_height: 0,
        };
        assert!(self.send(&Message::Version(version)).await, "send version");
        let mut theirs = None;
        let mut got_verack = false;
        while theirs.is_none() || !got_verack {
            match self.recv(RAW_TIMEOUT).await {
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

    /// [`Self::handshake_as`] without a listening port.
    pub async fn handshake(&mut self, nonce: u64, user_agent: &str) -> VersionMessage {
        self.handshake_as(nonce, user_agent, 0).await
    }

    /// [`Self::handshake_as`] as the attack tests' peer advertising `listen_port`.
    pub async fn handshake_listening(&mut self, listen_port: u16) -> VersionMessage {
        let nonce = 0x7e57_0000_0000_0000 ^ u64::from(listen_port);
        self.handshake_as(nonce, "/attack-test:0.0/", listen_port)
            .await
    }

    /// [`Self::handshake`] as the hostile tests' peer.
    pub async fn hostile_handshake(&mut self) -> VersionMessage {
        self.handshake(HOSTILE_NONCE, "/hostile:0.0/").await
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
            match self.recv_within(left).await? {
                Message::Pong(n) if n == nonce => return Some(start.elapsed()),
                _ => {}
            }
        }
    }

    /// [`Self::ping`] that panics (naming `context`) when no pong comes within `timeout`.
    pub async fn ping_rtt(&mut self, nonce: u64, timeout: Duration, context: &str) -> Duration {
        self.ping(nonce, timeout)
            .await
            .unwrap_or_else(|| panic!("{context}: no pong from the node within {timeout:?}"))
    }

    /// Whether the node closes the connection within `timeout` (reading and dropping what
    /// it still had queued until end of stream or an error), without us sending anything.
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

    /// Panics (naming `context`) unless the node closes the connection within
    /// [`REPLY_TIMEOUT`].
    pub async fn expect_closed(mut self, context: &str) {
        assert!(
            self.closed_within(REPLY_TIMEOUT).await,
            "{context}: the node kept the connection open for {REPLY_TIMEOUT:?}"
        );
    }
}
