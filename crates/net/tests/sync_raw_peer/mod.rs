//! A test peer speaking the wire protocol by hand over a raw stream (TCP or TLS), for the
//! attack tests: it handshakes, sends any message, answers pings, and measures a ping round
//! trip to the node. (The same peer as `p2p_hostile.rs`'s, shared by the attack tests.)
//!
//! A test file that uses it declares `mod sync_common;` before `mod sync_raw_peer;`. (The
//! wire attack tests have their own, lower-level `raw_peer`.)

#![allow(dead_code, unreachable_pub)]

use parthenon_net::frame::{encode_frame, FrameDecoder};
use parthenon_net::message::{Message, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::transport::{BoxedStream, PeerSpec, TcpTransport, Transport};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the node may take to answer or close.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn spec(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

fn magic() -> [u8; 4] {
    crate::sync_common::params().magic
}

/// A test peer speaking the wire protocol by hand over a raw stream.
pub struct RawPeer {
    stream: BoxedStream,
    decoder: FrameDecoder,
    /// Bytes read but not yet taken by the decoder.
    pending: Vec<u8>,
    buf: Vec<u8>,
}

impl RawPeer {
    /// Dials `addr` over `transport` (plain TCP or TLS).
    pub async fn connect(transport: &dyn Transport, addr: SocketAddr) -> Self {
        let conn = transport.dial(&spec(addr)).await.expect("dial the node");
        RawPeer {
            stream: conn.stream,
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    pub fn from_stream(stream: BoxedStream) -> Self {
        RawPeer {
            stream,
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    pub async fn tcp(addr: SocketAddr) -> Self {
        Self::connect(&TcpTransport::new(), addr).await
    }

    /// Writes raw bytes; an error means N closed the connection already, which is fine.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        if self.stream.write_all(bytes).await.is_ok() {
            let _ = self.stream.flush().await;
        }
    }

    pub async fn send(&mut self, m: &Message) {
        self.send_bytes(&encode_frame(magic(), m)).await;
    }

    /// The next message from N, answering pings on the way; `None` when the connection is
    /// closed. Panics after `timeout`.
    pub async fn recv(&mut self, timeout: Duration, context: &str) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // The decoder takes bytes up to the end of one frame at a time.
            let taken = self.decoder.extend(&self.pending);
            self.pending.drain(..taken);
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let m = Message::decode(frame.command.as_str(), &frame.payload)
                        .unwrap_or_else(|e| panic!("{context}: N sent a malformed message: {e}"));
                    if let Message::Ping(n) = m {
                        self.send(&Message::Pong(n)).await;
                        continue;
                    }
                    return Some(m);
                }
                Ok(None) if taken > 0 => continue,
                Ok(None) => {}
                Err(e) => panic!("{context}: N sent a bad frame: {e}"),
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf))
                .await
                .unwrap_or_else(|_| panic!("{context}: no message from N within {timeout:?}"));
            match read {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.extend_from_slice(&self.buf[..n]),
            }
        }
    }

    /// Reads until `pick` chooses a message; panics if the connection closes first.
    pub async fn recv_until<T>(
        &mut self,
        context: &str,
        mut pick: impl FnMut(&Message) -> Option<T>,
    ) -> T {
        loop {
            let m = self
                .recv(CLOSE_TIMEOUT, context)
                .await
                .unwrap_or_else(|| panic!("{context}: N closed the connection early"));
            if let Some(t) = pick(&m) {
                return t;
            }
        }
    }

    /// Sends `version`, answers N's `version` with `verack` and waits for N's `verack`.
    pub async fn handshake(&mut self, context: &str) {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: magic(),
            services: 1,
            timestamp: crate::sync_common::now_secs() as i64,
            receiver: listen_any(),
            // Port 0: N must not put the hostile peer into its address book.
            sender: (Ipv4Addr::UNSPECIFIED, 0).into(),
            nonce: 0x5eed_0bad_cafe_f00d,
            user_agent: "/hostile:0.0/".to_owned(),
            best_height: 0,
        };
        self.send(&Message::Version(version)).await;
        let mut got_version = false;
        let mut got_verack = false;
        while !(got_version && got_verack) {
            match self.recv(CLOSE_TIMEOUT, context).await {
                Some(Message::Version(_)) => {
                    got_version = true;
                    self.send(&Message::Verack).await;
                }
                Some(Message::Verack) => got_verack = true,
                Some(_) => {}
                None => panic!("{context}: N closed the connection during the handshake"),
            }
        }
    }

    /// Waits until N closes the connection: every read returns data N still had queued,
    /// then end of stream or an error. Panics if the socket stays open past the timeout.
    pub async fn expect_closed(mut self, context: &str) {
        let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf)).await {
                Err(_) => panic!("{context}: N kept the connection open for {CLOSE_TIMEOUT:?}"),
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(_)) => {}
            }
        }
    }
}

impl RawPeer {
    /// Sends a `ping` and waits for its `pong`, dropping anything else N sends meanwhile;
    /// returns the round trip. Panics if N closes the connection or does not answer in
    /// `timeout`.
    pub async fn ping_rtt(&mut self, nonce: u64, timeout: Duration, context: &str) -> Duration {
        let start = tokio::time::Instant::now();
        self.send(&Message::Ping(nonce)).await;
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            match self.recv(left, context).await {
                Some(Message::Pong(n)) if n == nonce => return start.elapsed(),
                Some(_) => {}
                None => panic!("{context}: N closed the probe connection"),
            }
        }
    }
}
