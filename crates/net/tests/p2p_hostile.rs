//! Hostile peers against a running engine over real loopback TCP (and once over TLS).
//!
//! The node under test, N, listens and keeps a manual connection to an honest node H that
//! has a 300-block chain. A raw test peer, writing hand-made bytes, connects to N and
//! misbehaves in one way per scenario: garbage bytes, a wrong magic, a bad checksum, a
//! header declaring a 4 GiB payload, an invalid block N asked for, a header without proof
//! of work, 10,000 unsolicited messages; against fresh nodes, a valid header chain whose
//! blocks it never delivers, and requests for blocks it never reads. After each scenario N
//! must have closed the socket, banned 127.0.0.1 where the offence warrants a ban, still
//! answer its handle, and still follow H's chain. All test peers are 127.0.0.1, so bans are
//! cleared between scenarios; H is a manual peer, which N dials even while its address is
//! banned.

mod sync_common;

mod p2p_common;

use p2p_common::{test_config, wait_for_tip, wait_until, NodeState, TestNode};
use parthenon_net::frame::{encode_frame, FrameDecoder, HEADER_LEN};
use parthenon_net::message::{InvKind, Inventory, Message, VersionMessage};
use parthenon_net::peer::PROTOCOL_VERSION;
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{BoxedStream, PeerSpec, TcpTransport, Transport};
use parthenon_primitives::pow::check_proof_of_work;
use parthenon_primitives::{Block, BlockHeader, Network};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use sync_common::{mine, params, unmined, Rng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// How long N may take to close a hostile peer's socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long N may take to follow H.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn spec(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

fn magic() -> [u8; 4] {
    params().magic
}

/// A test peer speaking the wire protocol by hand over a raw stream.
struct RawPeer {
    stream: BoxedStream,
    decoder: FrameDecoder,
    /// Bytes read but not yet taken by the decoder.
    pending: Vec<u8>,
    buf: Vec<u8>,
}

impl RawPeer {
    /// Dials `addr` over `transport` (plain TCP or TLS).
    async fn connect(transport: &dyn Transport, addr: SocketAddr) -> Self {
        let conn = transport.dial(&spec(addr)).await.expect("dial the node");
        RawPeer {
            stream: conn.stream,
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    fn from_stream(stream: BoxedStream) -> Self {
        RawPeer {
            stream,
            decoder: FrameDecoder::new(magic()),
            pending: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    async fn tcp(addr: SocketAddr) -> Self {
        Self::connect(&TcpTransport::new(), addr).await
    }

    /// Writes raw bytes; an error means N closed the connection already, which is fine.
    async fn send_bytes(&mut self, bytes: &[u8]) {
        if self.stream.write_all(bytes).await.is_ok() {
            let _ = self.stream.flush().await;
        }
    }

    async fn send(&mut self, m: &Message) {
        self.send_bytes(&encode_frame(magic(), m)).await;
    }

    /// The next message from N, answering pings on the way; `None` when the connection is
    /// closed. Panics after `timeout`.
    async fn recv(&mut self, timeout: Duration, context: &str) -> Option<Message> {
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
    async fn recv_until<T>(
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
    async fn handshake(&mut self, context: &str) {
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: magic(),
            services: 1,
            timestamp: sync_common::now_secs() as i64,
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
    async fn expect_closed(mut self, context: &str) {
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

/// The active chain's headers after genesis.
fn active_headers(state: &NodeState) -> Vec<BlockHeader> {
    let chain = state.shared.chain.read();
    (1..=chain.height())
        .map(|h| {
            let hash = chain.hash_at(h).expect("active height");
            chain.entry(&hash).expect("indexed").header
        })
        .collect()
}

/// A block on `state`'s tip with a valid header (proof of work, time, bits) whose
/// transactions do not match its merkle root.
fn block_with_bad_merkle_root(state: &NodeState) -> Block {
    let (tip, height) = {
        let chain = state.shared.chain.read();
        (chain.tip().header, chain.height())
    };
    let mut block = unmined(
        &tip,
        height + 1,
        params().pow_limit_bits,
        tip.time + 1,
        b"bad",
    );
    // Changed after the merkle root was computed: the header no longer commits to it.
    block.txs[0].inputs[0]
        .signature
        .extend_from_slice(b"-tampered");
    mine(&mut block);
    block
}

/// A header on `state`'s tip whose hash misses the target its bits set.
fn header_without_work(state: &NodeState) -> BlockHeader {
    let (tip, height) = {
        let chain = state.shared.chain.read();
        (chain.tip().header, chain.height())
    };
    let limit = params().pow_limit_bits;
    let mut header = unmined(&tip, height + 1, limit, tip.time + 1, b"no work").header;
    while check_proof_of_work(&header.hash(), header.bits, limit).is_ok() {
        header.nonce += 1;
    }
    header
}

/// The two nodes of the hostile tests: H with 300 blocks, N synced from it.
struct Pair {
    honest: TestNode,
    node: TestNode,
}

impl Pair {
    async fn start(transport: impl Fn() -> Arc<dyn Transport>) -> Self {
        let h_state = NodeState::new();
        h_state.mine(300, 1);
        let mut h_cfg = test_config(1);
        h_cfg.listen = Some(listen_any());
        // H only serves: it never dials N back, so every peer of N but H is a test peer.
        h_cfg.max_outbound = 0;
        let honest = TestNode::start(h_cfg, h_state, transport()).await;
        let mut n_cfg = test_config(2);
        n_cfg.listen = Some(listen_any());
        n_cfg.connect = vec![spec(honest.addr())];
        let node = TestNode::start(n_cfg, NodeState::new(), transport()).await;
        wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, "initial sync from H").await;
        Pair { honest, node }
    }

    /// After a scenario: N banned 127.0.0.1 (if `banned`), still answers, and follows two
    /// new blocks of H. Bans are then lifted for the next scenario.
    async fn check_after(&self, context: &str, banned: bool) {
        self.node.assert_responsive(context).await;
        if banned {
            let what = format!("{context}: N lists 127.0.0.1 as banned");
            wait_until(&what, CLOSE_TIMEOUT, || async {
                self.node
                    .handle
                    .banned()
                    .await
                    .expect("engine answers")
                    .iter()
                    .any(|b| b.subnet.contains(&LOCALHOST))
            })
            .await;
            self.node.handle.clear_banned().await.expect("clear bans");
        } else {
            let list = self.node.handle.banned().await.expect("engine answers");
            assert!(list.is_empty(), "{context}: nobody is banned, got {list:?}");
        }
        self.honest.state.mine(2, 1);
        wait_for_tip(&self.node, self.honest.tip(), SYNC_TIMEOUT, context).await;
    }
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_are_disconnected_and_banned_while_honest_sync_continues() {
    let pair = Pair::start(plain).await;
    let n = pair.node.addr();

    // Garbage bytes instead of a frame.
    let mut rng = Rng::new(7);
    let garbage: Vec<u8> = (0..256).map(|_| rng.next_u64() as u8).collect();
    let mut peer = RawPeer::tcp(n).await;
    peer.send_bytes(&garbage).await;
    peer.expect_closed("garbage bytes").await;
    pair.check_after("garbage bytes", true).await;

    // A well-formed frame of another network.
    let other = Network::Main.params().magic;
    assert_ne!(other, magic());
    let mut peer = RawPeer::tcp(n).await;
    peer.send_bytes(&encode_frame(other, &Message::Ping(1)))
        .await;
    peer.expect_closed("wrong magic").await;
    pair.check_after("wrong magic", true).await;

    // A frame whose checksum does not match its payload.
    let mut frame = encode_frame(magic(), &Message::Ping(42));
    frame[HEADER_LEN - 1] ^= 0xff;
    let mut peer = RawPeer::tcp(n).await;
    peer.send_bytes(&frame).await;
    peer.expect_closed("bad checksum").await;
    pair.check_after("bad checksum", true).await;

    // A header declaring a 4 GiB payload (none follows): refused before any allocation.
    let mut frame = encode_frame(magic(), &Message::Ping(42));
    frame.truncate(HEADER_LEN);
    frame[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut peer = RawPeer::tcp(n).await;
    peer.send_bytes(&frame).await;
    peer.expect_closed("4 GiB length").await;
    pair.check_after("4 GiB length", true).await;

    // An invalid block that N asked for: announced by headers, served on `getdata`.
    let context = "invalid block";
    let bad = block_with_bad_merkle_root(&pair.honest.state);
    let bad_hash = bad.hash();
    let mut peer = RawPeer::tcp(n).await;
    peer.handshake(context).await;
    peer.recv_until(context, |m| {
        matches!(m, Message::GetHeaders { .. }).then_some(())
    })
    .await;
    peer.send(&Message::Headers(vec![bad.header])).await;
    peer.recv_until(context, |m| match m {
        Message::GetData(items) => items.iter().any(|i| i.hash == bad_hash).then_some(()),
        _ => None,
    })
    .await;
    peer.send(&Message::Block(bad)).await;
    peer.expect_closed(context).await;
    assert!(
        pair.node
            .state
            .shared
            .chain
            .read()
            .entry(&bad_hash)
            .map(|e| e.status.is_invalid())
            != Some(false),
        "{context}: the bad block is not stored as valid"
    );
    pair.check_after(context, true).await;

    // A header that does not meet its proof-of-work target, sent as the answer to
    // N's `getheaders`: an invalid header is as bad as an invalid block.
    let context = "header without proof of work";
    let header = header_without_work(&pair.honest.state);
    let mut peer = RawPeer::tcp(n).await;
    peer.handshake(context).await;
    peer.recv_until(context, |m| {
        matches!(m, Message::GetHeaders { .. }).then_some(())
    })
    .await;
    peer.send(&Message::Headers(vec![header])).await;
    peer.expect_closed(context).await;
    pair.check_after(context, true).await;

    // 10,000 unsolicited transactions after a proper handshake.
    let context = "10,000 unsolicited messages";
    let tip = pair.honest.state.shared.chain.read().tip().header;
    let unsolicited = unmined(&tip, 1, params().pow_limit_bits, tip.time, b"spam").txs[0].clone();
    let one = encode_frame(magic(), &Message::Tx(unsolicited));
    let flood: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 10_000)
        .collect();
    let mut peer = RawPeer::tcp(n).await;
    peer.handshake(context).await;
    peer.send_bytes(&flood).await;
    peer.expect_closed(context).await;
    pair.check_after(context, true).await;

    // N kept its honest peer throughout.
    let peers = pair.node.handle.peers().await.expect("engine answers");
    assert!(
        peers
            .iter()
            .any(|p| p.manual && p.ready && p.addr == pair.honest.addr()),
        "N is still connected to H: {peers:?}"
    );
    pair.node.handle.shutdown().await;
    pair.honest.handle.shutdown().await;
}

/// A peer that serves valid headers but never the blocks: the fresh node starts its
/// download from it (the only peer), must drop it as a staller once H is there, must not
/// ban it (stalling is not misbehaviour), and completes its sync from H.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staller_with_withheld_blocks_is_dropped_and_sync_completes_from_honest_peer() {
    let context = "withheld blocks";
    let h_state = NodeState::new();
    h_state.mine(300, 1);
    let headers = active_headers(&h_state);
    let mut h_cfg = test_config(1);
    h_cfg.listen = Some(listen_any());
    h_cfg.max_outbound = 0;
    let honest = TestNode::start(h_cfg, h_state, plain()).await;

    let mut n_cfg = test_config(3);
    n_cfg.listen = Some(listen_any());
    n_cfg.max_outbound = 0;
    let node = TestNode::start(n_cfg, NodeState::new(), plain()).await;

    let mut staller = RawPeer::tcp(node.addr()).await;
    staller.handshake(context).await;
    staller
        .recv_until(context, |m| {
            matches!(m, Message::GetHeaders { .. }).then_some(())
        })
        .await;
    staller.send(&Message::Headers(headers.clone())).await;
    // N has only the staller: it asks it for the first blocks.
    let first = headers[0].hash();
    staller
        .recv_until(context, |m| match m {
            Message::GetData(items) => items
                .contains(&Inventory {
                    kind: InvKind::Block,
                    hash: first,
                })
                .then_some(()),
            _ => None,
        })
        .await;
    assert_eq!(node.state.height(), 0, "{context}: nothing delivered yet");

    node.handle
        .add_node(spec(honest.addr()), parthenon_net::p2p::AddNodeAction::Add)
        .await
        .expect("add H");
    staller.expect_closed(context).await;
    wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, context).await;
    node.assert_responsive(context).await;
    let list = node.handle.banned().await.expect("engine answers");
    assert!(
        list.is_empty(),
        "{context}: a staller is not banned, got {list:?}"
    );
    assert_eq!(
        node.state.utxo_digest(),
        honest.state.utxo_digest(),
        "{context}: same UTXO set as H"
    );
    node.handle.shutdown().await;
    honest.handle.shutdown().await;
}

/// The same defences behind TLS: a plain-TCP peer talking garbage to the TLS listener fails
/// the TLS handshake, and a TLS peer sending a bad checksum is banned; N keeps following H
/// over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_over_tls_are_cut_off_while_honest_sync_continues() {
    let tls = || -> Arc<dyn Transport> {
        Arc::new(
            TlsTransport::new(
                TcpTransport::new(),
                &NodeIdentity::generate().expect("identity"),
            )
            .expect("TLS transport"),
        )
    };
    let pair = Pair::start(tls).await;
    let n = pair.node.addr();

    let mut peer = RawPeer::tcp(n).await;
    peer.send_bytes(&[0x16; 300]).await;
    peer.expect_closed("plain garbage to the TLS listener")
        .await;
    pair.check_after("plain garbage to the TLS listener", false)
        .await;

    let mut frame = encode_frame(magic(), &Message::Ping(42));
    frame[HEADER_LEN - 1] ^= 0xff;
    let mut peer = RawPeer::connect(tls().as_ref(), n).await;
    peer.send_bytes(&frame).await;
    peer.expect_closed("bad checksum over TLS").await;
    pair.check_after("bad checksum over TLS", true).await;

    let peers = pair.node.handle.peers().await.expect("engine answers");
    assert!(
        peers.iter().any(|p| p.manual && p.ready && p.tls),
        "N is still connected to H over TLS: {peers:?}"
    );
    pair.node.handle.shutdown().await;
    pair.honest.handle.shutdown().await;
}

/// A peer announces headers of blocks H does not have yet and withholds them: N first asks
/// H (which answers `notfound`), then the withholder, drops it as a staller, and must fetch
/// the blocks from H once H has them and announces its new tip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_an_honest_peer_lacked_are_fetched_from_it_once_it_announces_them() {
    let context = "blocks ahead of H";
    let pair = Pair::start(plain).await;
    let (tip, height) = {
        let chain = pair.honest.state.shared.chain.read();
        (chain.tip().header, chain.height())
    };
    let ahead = sync_common::build_chain(&tip, height, 5, b"ahead");
    let mut peer = RawPeer::tcp(pair.node.addr()).await;
    peer.handshake(context).await;
    peer.recv_until(context, |m| {
        matches!(m, Message::GetHeaders { .. }).then_some(())
    })
    .await;
    peer.send(&Message::Headers(sync_common::headers(&ahead)))
        .await;
    let first = ahead[0].hash();
    peer.recv_until(context, |m| match m {
        Message::GetData(items) => items.iter().any(|i| i.hash == first).then_some(()),
        _ => None,
    })
    .await;
    // Withheld: N drops the peer once the stall timeout passes.
    peer.expect_closed(context).await;
    assert_eq!(
        pair.node.tip(),
        pair.honest.tip(),
        "{context}: nothing new yet"
    );

    pair.honest.state.process(&ahead);
    let want = ahead.last().expect("blocks").hash();
    assert_eq!(pair.honest.tip(), want);
    wait_for_tip(&pair.node, want, SYNC_TIMEOUT, context).await;
    pair.node.handle.shutdown().await;
    pair.honest.handle.shutdown().await;
}

/// A peer asks for many blocks and never reads: N's send queue to it fills, N drops it
/// (without a ban: not reading is not an offence) and closes the socket, so writes from
/// the peer soon fail; N keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_never_reads_is_dropped_and_its_socket_closed() {
    let context = "peer that never reads";
    let state = NodeState::new();
    state.mine(128, 1);
    let hashes: Vec<Inventory> = {
        let chain = state.shared.chain.read();
        (1..=128)
            .map(|h| Inventory {
                kind: InvKind::Block,
                hash: chain.hash_at(h).expect("active height"),
            })
            .collect()
    };
    let mut cfg = test_config(4);
    cfg.listen = Some(listen_any());
    cfg.max_outbound = 0;
    let node = TestNode::start(cfg, state, plain()).await;

    // A small receive buffer: N's writes back up quickly.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4_096).expect("receive buffer");
    let stream = socket.connect(node.addr()).await.expect("connect");
    let mut peer = RawPeer::from_stream(Box::new(stream));
    peer.handshake(context).await;
    let one = encode_frame(magic(), &Message::GetData(hashes));
    // 1,500 requests of 128 blocks each (within the rate limit's burst): far more than
    // the socket buffers and the send queue hold.
    let requests: Vec<u8> = one
        .iter()
        .copied()
        .cycle()
        .take(one.len() * 1_500)
        .collect();
    peer.send_bytes(&requests).await;
    wait_until(
        &format!("{context}: N dropped the peer"),
        CLOSE_TIMEOUT,
        || async {
            node.handle
                .peers()
                .await
                .expect("engine answers")
                .is_empty()
        },
    )
    .await;
    let bans = node.handle.banned().await.expect("engine answers");
    assert!(bans.is_empty(), "{context}: not banned, got {bans:?}");
    assert_eq!(
        node.handle.counters().disconnects(),
        1,
        "{context}: one disconnect"
    );
    // Still without reading: N's end is closed, so writing soon fails.
    let ping = encode_frame(magic(), &Message::Ping(7));
    let closed = tokio::time::timeout(CLOSE_TIMEOUT, async {
        loop {
            if peer.stream.write_all(&ping).await.is_err() || peer.stream.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{context}: N still holds the socket open {CLOSE_TIMEOUT:?} after dropping the peer"
    );
    node.assert_responsive(context).await;
    node.handle.shutdown().await;
}
