//! The flood limiter against an honest sync (issue 10, finding 4): it used to count the
//! blocks and headers the node itself asked for, so a full-speed sync of 2,100 small blocks
//! made both sides score `Flood` and ban each other. Now answers to our own requests and
//! requests for data spend no tokens, so no rate can make an honest sync trip it — shown
//! here with the limiter set to a tenth of its default burst and rate, which the old
//! limiter could not survive at any speed (2,100 requested blocks > a 200-message burst
//! plus 50 a second for the few seconds the sync takes).

mod sync_common;

mod p2p_common;

use p2p_common::{test_config, wait_for_tip, NodeState, TestNode};
use parthenon_net::transport::{PeerSpec, TcpTransport, Transport};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

const BLOCKS: usize = 2_100;
const SYNC_TIMEOUT: Duration = Duration::from_secs(180);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_speed_sync_of_2100_blocks_leaves_both_sides_unscored_and_unbanned() {
    let h_state = NodeState::new();
    h_state.mine(BLOCKS, 1);
    let tight = |seed| {
        let mut c = test_config(seed);
        c.peer.rate_burst = 200;
        c.peer.rate_per_sec = 50;
        c
    };
    let mut h_cfg = tight(1);
    h_cfg.listen = Some(listen_any());
    h_cfg.max_outbound = 0;
    let honest = TestNode::start(h_cfg, h_state, plain()).await;
    let mut n_cfg = tight(2);
    n_cfg.listen = Some(listen_any());
    n_cfg.connect = vec![PeerSpec::new("127.0.0.1", honest.addr().port())];
    let started = tokio::time::Instant::now();
    let node = TestNode::start(n_cfg, NodeState::new(), plain()).await;
    wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, "full-speed sync").await;
    let took = started.elapsed();
    for (name, n) in [("N", &node), ("H", &honest)] {
        let peers = n.handle.peers().await.expect("engine answers");
        assert_eq!(peers.len(), 1, "{name} kept its one connection: {peers:?}");
        assert_eq!(peers[0].ban_score, 0, "{name} scored its peer: {peers:?}");
        let banned = n.handle.banned().await.expect("engine answers");
        assert!(banned.is_empty(), "{name} banned {banned:?}");
    }
    eprintln!("synced {BLOCKS} blocks in {took:?}");
    node.handle.shutdown().await;
    honest.handle.shutdown().await;
}
