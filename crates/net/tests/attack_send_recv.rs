//! Attacks on the node's send and receive buffers, against the real engine over loopback
//! TCP and TLS (issue 10, findings 2 and 5).
//!
//! - **Send side**: peers that ask for large replies (`getheaders` answered by 2,000
//!   headers, `getdata` of 50,000 hashes answered by blocks and a `notfound` as large) and
//!   read nothing. The node must keep each peer's queued bytes within its send budget plus
//!   one reply, drop the peers once they read nothing for the send-stall timeout, keep
//!   answering an honest peer's pings quickly, and keep following an honest miner.
//! - **Receive side**: a frame header announcing more than its command's largest valid
//!   message (a 32 MiB `block` or `tx`, a 4 MiB `ping`), or, before the handshake, more than
//!   a `version`, is refused before its payload arrives: the node closes the connection and
//!   bans the peer without waiting for a payload byte.
//! - **Event queue**: a peer floods messages while the engine is stuck; the bytes the node
//!   takes off the socket stay within the event queue's byte budget plus socket buffers.

mod sync_common;

mod p2p_common;
mod raw_peer;

use p2p_common::{
    listen_any, plain, spec, test_config, tls, wait_for_manual_peer, wait_for_tip, wait_until,
    NodeState, TestNode,
};
use parthenon_net::command::Command;
use parthenon_net::frame::{Frame, HEADER_LEN};
use parthenon_net::message::{max_payload_len, InvKind, Inventory, Message};
use parthenon_net::p2p::P2pConfig;
use parthenon_net::transport::Transport;
use parthenon_primitives::Hash256;
use raw_peer::{magic, RawPeer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use sync_common::{build_chain, genesis};
use tokio::io::AsyncWriteExt;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Blocks both nodes hold: enough for a full 2,000-header answer to a `getheaders`.
const CHAIN_LEN: usize = 2_100;
/// `getheaders` each non-reading attacker sends (the attack used 1,900).
const GETHEADERS_PER_ATTACKER: usize = 1_900;
/// How long the node may take to follow the honest miner, or to close a connection.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on an honest peer's ping round trip during the attack: a wide margin on a loaded
/// 2-core machine (idle, it is a few milliseconds); without the send budget the engine spent
/// seconds building and queueing hundreds of MiB of replies.
const PING_BOUND: Duration = Duration::from_secs(2);
/// Bound on the growth of this process's resident memory during the send attack (both
/// nodes run in it). Without the send budget the two attackers queued ~600 MiB.
const RSS_GROWTH_BOUND_KIB: u64 = 150 * 1024;

/// This process's resident memory in KiB (Linux), `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The raw bytes of a frame header (no payload follows).
fn header_only(command: &str, len: u32) -> Vec<u8> {
    let mut h = magic().to_vec();
    h.extend_from_slice(&Command::new(command).expect("valid").to_wire());
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&[0; 4]);
    h
}

/// H, an honest miner that only serves, and N, the node under attack, connected to H; both
/// start with the same `CHAIN_LEN` blocks.
struct Pair {
    honest: TestNode,
    node: TestNode,
}

impl Pair {
    async fn start(
        transport: fn() -> Arc<dyn Transport>,
        n_cfg: impl FnOnce(&mut P2pConfig),
    ) -> Self {
        let blocks = build_chain(&genesis(), 0, CHAIN_LEN, b"shared");
        let h_state = NodeState::new();
        h_state.process(&blocks);
        let n_state = NodeState::new();
        n_state.process(&blocks);
        let honest = TestNode::start_server(h_state, transport()).await;
        let mut cfg = test_config(2);
        cfg.listen = Some(listen_any());
        cfg.connect = vec![spec(honest.addr())];
        n_cfg(&mut cfg);
        let node = TestNode::start(cfg, n_state, transport()).await;
        wait_for_manual_peer(&node, TIMEOUT, "N connects to H").await;
        Pair { honest, node }
    }

    /// H mines `n` blocks; N must follow.
    async fn honest_mines(&self, n: usize, context: &str) {
        self.honest.state.mine(n, 1);
        wait_for_tip(&self.node, self.honest.tip(), TIMEOUT, context).await;
    }

    /// Inbound peers of N with user agent `agent`.
    async fn peers_named(&self, agent: &str) -> usize {
        self.node
            .handle
            .peers()
            .await
            .expect("engine answers")
            .iter()
            .filter(|p| p.user_agent.as_deref() == Some(agent))
            .count()
    }

    async fn stop(self) {
        self.node.handle.shutdown().await;
        self.honest.handle.shutdown().await;
    }
}

/// One non-reading attacker's requests: `GETHEADERS_PER_ATTACKER` `getheaders` from
/// genesis, a `getdata` of every block N has, and a `getdata` of 50,000 unknown
/// transactions.
fn attack_requests(node: &NodeState) -> Vec<u8> {
    let getheaders = parthenon_net::encode_frame(
        magic(),
        &Message::GetHeaders {
            version: parthenon_net::peer::PROTOCOL_VERSION,
            locator: vec![genesis().hash()],
            stop: Hash256::ZERO,
        },
    );
    let mut bytes: Vec<u8> = getheaders
        .iter()
        .copied()
        .cycle()
        .take(getheaders.len() * GETHEADERS_PER_ATTACKER)
        .collect();
    let blocks: Vec<Inventory> = {
        let chain = node.shared.chain.read();
        (1..=chain.height())
            .map(|h| Inventory {
                kind: InvKind::Block,
                hash: chain.hash_at(h).expect("active height"),
            })
            .collect()
    };
    bytes.extend(parthenon_net::encode_frame(
        magic(),
        &Message::GetData(blocks),
    ));
    let unknown: Vec<Inventory> = (0..50_000u32)
        .map(|i| {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_le_bytes());
            hash[31] = 0xee;
            Inventory {
                kind: InvKind::Tx,
                hash: Hash256(hash),
            }
        })
        .collect();
    bytes.extend(parthenon_net::encode_frame(
        magic(),
        &Message::GetData(unknown),
    ));
    bytes
}

/// Two peers send 1,900 `getheaders` and two 50,000-item-class `getdata` each and read
/// nothing, while an honest raw peer pings N and H mines.
async fn send_attack(transport: fn() -> Arc<dyn Transport>, small_buffer: bool, context: &str) {
    let pair = Pair::start(transport, |_| {}).await;
    let n_addr = pair.node.addr();
    let budget = P2pConfig::new(sync_common::params()).send_buffer_bytes as u64;

    let mut pinger = RawPeer::connect(transport().as_ref(), n_addr).await;
    pinger.handshake(0x9001, "/pinger/").await;
    assert!(
        pinger.ping(1, raw_peer::RAW_TIMEOUT).await.is_some(),
        "{context}: baseline ping"
    );

    let rss_before = rss_kib();
    let rss_peak = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, on) = (rss_peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while on.load(Ordering::Relaxed) {
                if let Some(r) = rss_kib() {
                    peak.fetch_max(r, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let requests = Arc::new(attack_requests(&pair.node.state));
    let mut attackers = Vec::new();
    for i in 0..2u64 {
        let requests = requests.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        attackers.push(tokio::spawn(async move {
            // Plain TCP gets a tiny receive buffer; TLS reads through the default one.
            let mut peer = if small_buffer {
                RawPeer::tcp_small_buffer(n_addr).await
            } else {
                RawPeer::connect(transport().as_ref(), n_addr).await
            };
            peer.handshake(0xa77a_c000 + i, "/attacker/").await;
            let _ = ready_tx.send(());
            // Never reads again. The write itself stalls once N pauses the connection; the
            // stream stays open until the test aborts this task.
            let _ = peer.stream.write_all(&requests).await;
            std::future::pending::<()>().await;
        }));
        ready_rx.await.expect("attacker handshake");
    }

    // During the attack: the honest peer's pings and H's new blocks get through.
    let mut worst = Duration::ZERO;
    for n in 0..20 {
        let rtt = pinger
            .ping(100 + n, raw_peer::RAW_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("{context}: N dropped the honest pinger"));
        worst = worst.max(rtt);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pair.honest_mines(2, &format!("{context}: H's blocks during the attack"))
        .await;

    wait_until(
        &format!("{context}: N dropped both non-reading attackers"),
        TIMEOUT,
        || async { pair.peers_named("/attacker/").await == 0 },
    )
    .await;
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");
    for a in attackers {
        a.abort();
    }

    let peak = pair.node.handle.counters().peak_send_queue_bytes();
    let largest_reply = (HEADER_LEN + max_payload_len("notfound")) as u64;
    assert!(
        peak <= budget + largest_reply,
        "{context}: {peak} bytes queued to one peer, over the budget {budget} plus one reply \
         {largest_reply}"
    );
    assert!(
        worst < PING_BOUND,
        "{context}: honest ping round trip {worst:?} during the attack"
    );
    if let Some(before) = rss_before {
        let growth = rss_peak.load(Ordering::Relaxed).saturating_sub(before);
        assert!(
            growth < RSS_GROWTH_BOUND_KIB,
            "{context}: resident memory grew by {growth} KiB during the attack"
        );
        eprintln!(
            "{context}: peak queued to one peer {peak} B, RSS growth {growth} KiB, worst ping {worst:?}"
        );
    }
    let bans = pair.node.handle.banned().await.expect("engine answers");
    assert!(
        bans.is_empty(),
        "{context}: not reading is no offence, got {bans:?}"
    );
    pair.honest_mines(1, &format!("{context}: H's block after the attack"))
        .await;
    pair.node.assert_responsive(context).await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_reading_peers_cannot_make_the_node_queue_large_replies_over_tcp() {
    send_attack(plain, true, "send attack over TCP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_reading_peers_cannot_make_the_node_queue_large_replies_over_tls() {
    send_attack(tls, false, "send attack over TLS").await;
}

/// Frame headers announcing more than the command allows are refused before any payload
/// byte: N closes the connection although the payload never comes, and bans the peer.
async fn oversized_frames(transport: fn() -> Arc<dyn Transport>, context: &str) {
    // Long handshake and ping timers: N may close these connections only because of the
    // frame header, not because the raw peer never answers a ping.
    let pair = Pair::start(transport, |c| {
        c.peer.handshake_timeout_ms = 120_000;
        c.peer.ping_interval_ms = 120_000;
    })
    .await;
    let n_addr = pair.node.addr();
    let cases: [(&str, u32, bool); 5] = [
        ("block", 32 << 20, true),
        ("tx", 32 << 20, true),
        ("ping", 4 << 20, true),
        // Before the handshake: within the `headers` limit, over a `version`'s.
        ("headers", 10_000, false),
        ("version", 1 << 20, false),
    ];
    for (i, (command, len, handshake)) in cases.into_iter().enumerate() {
        let what = format!("{context}: a {len}-byte {command} header, handshake {handshake}");
        let mut peer = RawPeer::connect(transport().as_ref(), n_addr).await;
        if handshake {
            peer.handshake(0xb16 + i as u64, "/oversized/").await;
        }
        peer.send_bytes(&header_only(command, len)).await;
        assert!(
            peer.closed_within(TIMEOUT).await,
            "{what}: N waits for the payload instead of refusing the header"
        );
        pair.node
            .wait_for_ban(LOCALHOST, &format!("{what}: N bans the peer"), TIMEOUT)
            .await;
        pair.node.handle.clear_banned().await.expect("clear bans");
    }
    pair.honest_mines(2, &format!("{context}: H's blocks after"))
        .await;
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_headers_are_refused_before_the_payload_over_tcp() {
    oversized_frames(plain, "oversized frames over TCP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_headers_are_refused_before_the_payload_over_tls() {
    oversized_frames(tls, "oversized frames over TLS").await;
}

/// While the engine is stuck (the test holds N's chainstate lock, which the engine's timer
/// needs), a peer floods 1,500 unknown-command messages of 60,000 bytes (90 MB). The node
/// may take off the socket at most the event queue's byte budget plus what the socket
/// buffers and one frame hold; the flood waits in the attacker's own send buffer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_while_the_engine_is_stuck_stays_within_the_event_queue_bytes() {
    let context = "flood while the engine is stuck";
    const QUEUE_BYTES: usize = 1 << 20;
    let pair = Pair::start(plain, |c| c.event_queue_bytes = QUEUE_BYTES).await;
    let n_addr = pair.node.addr();
    let mut peer = RawPeer::connect(plain().as_ref(), n_addr).await;
    peer.handshake(0xf100d, "/flood/").await;

    let frame = Frame {
        command: Command::new("junk").expect("valid"),
        payload: vec![0x42; 60_000],
    }
    .encode(magic());
    let written = Arc::new(AtomicU64::new(0));

    let chain = pair.node.state.shared.chain.clone();
    let locked = Arc::new(AtomicBool::new(false));
    let hold = {
        let locked = locked.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = chain.write();
            locked.store(true, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(4));
        })
    };
    while !locked.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A status request makes the engine read the chainstate as soon as it takes the
    // request (requests come first in its loop), so it is stuck from then on whatever its
    // timer does (the timer reads the chainstate only while no block download is active).
    let status = {
        let handle = pair.node.handle.clone();
        tokio::spawn(async move { handle.status().await.is_ok() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flood = {
        let written = written.clone();
        tokio::spawn(async move {
            for _ in 0..1_500 {
                if peer.stream.write_all(&frame).await.is_err() {
                    return;
                }
                written.fetch_add(frame.len() as u64, Ordering::Relaxed);
            }
            let _ = peer.stream.flush().await;
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let taken = written.load(Ordering::Relaxed);
    // 1 MiB of queue, 5 MB of the connection's receive budget cannot bind first, one
    // 64 KiB read and one frame in the decoder, and the loopback socket buffers (a few
    // MiB each way with autotuning). The old queue held 1,024 messages: 61 MB.
    let bound = 24u64 << 20;
    assert!(
        taken < bound,
        "{context}: the node took {taken} bytes while its engine was stuck (bound {bound})"
    );
    hold.await.expect("lock holder");
    flood.await.expect("flood");
    assert!(
        status.await.expect("status"),
        "{context}: the engine answers once unstuck"
    );
    let peak = pair.node.handle.counters().peak_event_queue_bytes();
    assert!(
        peak <= QUEUE_BYTES as u64,
        "{context}: {peak} bytes waited in the event queue, budget {QUEUE_BYTES}"
    );
    assert!(
        peak > 0,
        "{context}: the flood went through the event queue"
    );
    eprintln!("{context}: attacker wrote {taken} B while stuck; event queue peak {peak} B");
    pair.node.assert_responsive(context).await;
    pair.honest_mines(1, &format!("{context}: H's block after"))
        .await;
    pair.stop().await;
}
