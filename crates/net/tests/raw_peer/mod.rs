//! A test peer that speaks the wire protocol by hand over a raw stream (plain TCP, TCP with a
//! tiny receive buffer, or TLS), so a test can do what a hostile peer does: send frames the
//! engine's own code never would, and stop reading.
//!
//! A test file that uses it declares `mod sync_common;` and `mod raw_peer;`.

#![allow(dead_code, unreachable_pub)]

use crate::sync_common::{now_secs, params};
use parthenon_net::frame::{encode_frame, FrameDecoder};
use parthenon_net::message::{Message, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::transport::{BoxedStream, PeerSpec, Transport};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a raw peer waits for the node before giving up.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(15);

/// The dev network's magic.
pub fn magic() -> [u8; 4] {
    params().magic
}

/// A hand-driven connection to a node.
pub struct RawPeer {
    /// The stream (write to it directly to send raw bytes).
    pub stream: BoxedStream,
    decoder: FrameDecoder,
    pending: Vec<u8>,
    buf: Vec<u8>,
}

impl RawPeer {
    /// Wraps an open stream.
    pub fn from_stream(stream: BoxedStream) -> Self {
        RawPeer {
            stream,
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    /// Dials `addr` over `transport`.
    pub async fn connect(transport: &dyn Transport, addr: SocketAddr) -> Self {
        let spec = PeerSpec::new(addr.ip().to_string(), addr.port());
        let conn = transport.dial(&spec).await.expect("dial the node");
        Self::from_stream(conn.stream)
    }

    /// Dials `addr` over plain TCP with a 4 KiB receive buffer, so that the node's writes
    /// back up as soon as this peer stops reading.
    pub async fn tcp_small_buffer(addr: SocketAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4_096).expect("receive buffer");
        let stream = socket.connect(addr).await.expect("connect");
        Self::from_stream(Box::new(stream))
    }

    /// Writes raw bytes; false if the node closed the connection.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Sends one message.
    pub async fn send(&mut self, m: &Message) -> bool {
        self.send_bytes(&encode_frame(magic(), m)).await
    }

    /// The next message from the node (pings are answered on the way unless `keep_pings`);
    /// `None` when the connection closed. Panics after `timeout`.
    pub async fn recv_raw(&mut self, timeout: Duration, keep_pings: bool) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let taken = self.decoder.extend(&self.pending);
            self.pending.drain(..taken);
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let m = Message::decode(frame.command.as_str(), &frame.payload)
                        .expect("the node sends valid messages");
                    if let (Message::Ping(n), false) = (&m, keep_pings) {
                        let n = *n;
                        self.send(&Message::Pong(n)).await;
                        continue;
                    }
                    return Some(m);
                }
                Ok(None) if taken > 0 => continue,
                Ok(None) => {}
                Err(e) => panic!("the node sent a bad frame: {e}"),
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf))
                .await
                .unwrap_or_else(|_| panic!("no message from the node within {timeout:?}"));
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.extend_from_slice(&self.buf[..n]),
            }
        }
    }

    /// The next message, pings answered.
    pub async fn recv(&mut self, timeout: Duration) -> Option<Message> {
        self.recv_raw(timeout, false).await
    }

    /// Sends `version` (with `nonce` and `user_agent`), answers the node's `version` with
    /// `verack`, waits for its `verack`.
    pub async fn handshake(&mut self, nonce: u64, user_agent: &str) {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: magic(),
            services: 1,
            timestamp: now_secs() as i64,
            receiver: (Ipv4Addr::LOCALHOST, 0).into(),
            // Port 0: the node must not put this peer into its address book.
            sender: (Ipv4Addr::UNSPECIFIED, 0).into(),
            nonce,
            user_agent: user_agent.to_owned(),
            best_height: 0,
        };
        assert!(self.send(&Message::Version(version)).await, "send version");
        let (mut got_version, mut got_verack) = (false, false);
        while !(got_version && got_verack) {
            match self.recv(RAW_TIMEOUT).await {
                Some(Message::Version(_)) => {
                    got_version = true;
                    self.send(&Message::Verack).await;
                }
                Some(Message::Verack) => got_verack = true,
                Some(_) => {}
                None => panic!("the node closed the connection during the handshake"),
            }
        }
    }

    /// Sends a ping and waits for its pong (answering the node's own pings, skipping other
    /// messages); the round trip, or `None` if the connection closed.
    pub async fn ping(&mut self, nonce: u64) -> Option<Duration> {
        let start = tokio::time::Instant::now();
        if !self.send(&Message::Ping(nonce)).await {
            return None;
        }
        loop {
            match self.recv(RAW_TIMEOUT).await? {
                Message::Pong(n) if n == nonce => return Some(start.elapsed()),
                _ => {}
            }
        }
    }

    /// Whether the node closes the connection within `timeout`: reads (and drops) whatever
    /// it still had queued until end of stream or an error.
    pub async fn closed_within(mut self, timeout: Duration) -> bool {
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
