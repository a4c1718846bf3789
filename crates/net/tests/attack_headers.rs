//! Header spam against a running engine over loopback TCP and over TLS (issue 10, finding
//! 1): an attacker answers every `getheaders` of the node under test, N, with a branch of
//! 1,950 easiest-target headers forking from genesis — the cheapest headers there are — and
//! triggers the next `getheaders` with an `inv` of an unknown block, until it has sent
//! 1,000,000 headers. Before the fix N stored every one (up to its 1,000,000-header cap,
//! ~230 MB), then refused every header, including its honest peer's, and stopped syncing.
//!
//! N and its honest peer H share a 2,100-block chain, so a branch of 1,950 headers has less
//! work than N's tip less a day of blocks: N must validate and count the headers without
//! storing them. The test asserts, during and after the attack: N's header store stays under
//! [`STORE_BOUND_BYTES`]; a second, honest connection's ping round trip stays under
//! [`PING_BOUND`]; N follows a block H mines in the middle of the attack and one mined
//! after it; and N counted all 1,000,000 headers (they were really processed).

mod sync_common;

mod p2p_common;

mod sync_raw_peer;

use p2p_common::{test_config, wait_for_tip, NodeState, TestNode};
use parthenon_net::message::{InvKind, Inventory, Message};
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{PeerSpec, TcpTransport, Transport};
use parthenon_primitives::Hash256;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use sync_common::{genesis, header_only_chain};
use sync_raw_peer::RawPeer;

/// Headers the attacker sends in all.
const ATTACK_HEADERS: usize = 1_000_000;
/// Headers per branch: below N's anti-DoS work (2,100 + 1 - 144 = 1,957 blocks of work).
const BRANCH_LEN: usize = 1_950;
/// Blocks of the shared honest chain.
const HONEST_BLOCKS: usize = 2_100;
/// N's header store (held headers and pre-sync state) must stay below this. Without the
/// pre-sync it grows by ~250 bytes a header: 1,000,000 headers would be ~240 MB.
const STORE_BOUND_BYTES: usize = 1 << 20;
/// An honest peer's ping round trip must stay below this during the attack.
const PING_BOUND: Duration = Duration::from_secs(2);
/// How long N may take to follow H.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn spec(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

fn tls() -> Arc<dyn Transport> {
    Arc::new(
        TlsTransport::new(
            TcpTransport::new(),
            &NodeIdentity::generate().expect("identity"),
        )
        .expect("TLS transport"),
    )
}

async fn header_spam_leaves_the_store_bounded_and_sync_going(
    transport: fn() -> Arc<dyn Transport>,
    context: &str,
) {
    // H mines the honest chain; N gets the same blocks out of band (quicker than a sync).
    let h_state = NodeState::new();
    let blocks = h_state.mine(HONEST_BLOCKS, 1);
    let n_state = NodeState::new();
    n_state.process(&blocks);
    let mut h_cfg = test_config(1);
    h_cfg.listen = Some(listen_any());
    h_cfg.max_outbound = 0;
    let honest = TestNode::start(h_cfg, h_state, transport()).await;
    let mut n_cfg = test_config(2);
    n_cfg.listen = Some(listen_any());
    n_cfg.connect = vec![spec(honest.addr())];
    let node = TestNode::start(n_cfg, n_state, transport()).await;
    p2p_common::wait_for_manual_peer(&node, SYNC_TIMEOUT, context).await;

    let mut attacker = RawPeer::connect(transport().as_ref(), node.addr()).await;
    attacker.handshake(context).await;
    let mut probe = RawPeer::connect(transport().as_ref(), node.addr()).await;
    probe.handshake(context).await;

    let branches = ATTACK_HEADERS.div_ceil(BRANCH_LEN);
    let mut worst_ping = Duration::ZERO;
    let mut most_bytes = 0;
    for branch in 0..branches {
        attacker
            .recv_until(context, |m| {
                matches!(m, Message::GetHeaders { .. }).then_some(())
            })
            .await;
        let len = BRANCH_LEN.min(ATTACK_HEADERS - branch * BRANCH_LEN);
        let headers = header_only_chain(&genesis(), len, branch as u64);
        attacker.send(&Message::Headers(headers)).await;
        // An unknown block makes N ask for headers again.
        let mut unknown = [0xa5u8; 32];
        unknown[..8].copy_from_slice(&(branch as u64).to_le_bytes());
        attacker
            .send(&Message::Inv(vec![Inventory {
                kind: InvKind::Block,
                hash: Hash256(unknown),
            }]))
            .await;
        if branch % 64 == 0 {
            let rtt = probe.ping_rtt(branch as u64, PING_BOUND * 4, context).await;
            worst_ping = worst_ping.max(rtt);
            let status = node.handle.status().await.expect("engine answers");
            most_bytes = most_bytes.max(status.header_store_bytes);
        }
        if branch == branches / 2 {
            // H mines a block in the middle of the attack: N must follow it.
            honest.state.mine(1, 1);
            wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, context).await;
        }
    }
    // The last answer was processed once N asks again.
    attacker
        .recv_until(context, |m| {
            matches!(m, Message::GetHeaders { .. }).then_some(())
        })
        .await;
    let status = node.handle.status().await.expect("engine answers");
    most_bytes = most_bytes.max(status.header_store_bytes);
    assert!(
        status.headers_held <= 1,
        "{context}: N stored none of them, holds {}",
        status.headers_held
    );
    assert!(
        most_bytes < STORE_BOUND_BYTES,
        "{context}: header store reached {most_bytes} bytes"
    );
    assert!(
        worst_ping < PING_BOUND,
        "{context}: honest ping took {worst_ping:?}"
    );
    assert!(
        status.warnings.is_empty(),
        "{context}: {:?}",
        status.warnings
    );
    assert!(
        status.headers_presynced >= ATTACK_HEADERS as u64,
        "{context}: N validated and counted every header, got {}",
        status.headers_presynced
    );

    // After the attack: a new honest block is synced, and N is not stuck in IBD.
    honest.state.mine(1, 1);
    wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, context).await;
    let status = node.handle.status().await.expect("engine answers");
    assert!(!status.initial_block_download, "{context}: {status:?}");
    eprintln!(
        "{context}: {} headers sent, N held {} headers ({} bytes at most), worst honest ping {:?}",
        status.headers_presynced, status.headers_held, most_bytes, worst_ping
    );
    node.handle.shutdown().await;
    honest.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_low_work_headers_over_tcp_are_not_stored_and_sync_continues() {
    header_spam_leaves_the_store_bounded_and_sync_going(plain, "header spam over TCP").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_low_work_headers_over_tls_are_not_stored_and_sync_continues() {
    header_spam_leaves_the_store_bounded_and_sync_going(tls, "header spam over TLS").await;
}
