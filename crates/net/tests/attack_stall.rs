//! A stalling peer against a running engine over loopback TCP (issue 10, finding 8): the
//! staller announces a real chain, and when asked for blocks delivers every one but the
//! first — the block the download window waits on — trickling one every 300 ms. The old
//! scheduler restarted a peer's stall clock on any delivery and never dropped a node's only
//! peer, so N waited forever. Now each request has its own deadline (test timeout 1 s per
//! place in the queue) and a lone staller is dropped: N must close the staller's connection
//! while it is still trickling, and then sync from an honest peer.

mod sync_common;

mod p2p_common;

mod sync_raw_peer;

use p2p_common::{test_config, wait_for_tip, NodeState, TestNode};
use parthenon_net::message::{InvKind, Message};
use parthenon_net::p2p::AddNodeAction;
use parthenon_net::transport::{PeerSpec, TcpTransport, Transport};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use sync_raw_peer::RawPeer;

const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_peer_trickling_blocks_but_withholding_the_first_is_dropped() {
    let context = "trickling staller";
    let h_state = NodeState::new();
    let blocks = h_state.mine(300, 1);
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
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    staller.send(&Message::Headers(headers)).await;
    let asked: Vec<_> = staller
        .recv_until(context, |m| match m {
            Message::GetData(items) => Some(items.clone()),
            _ => None,
        })
        .await;
    assert_eq!(asked[0].kind, InvKind::Block);
    assert_eq!(asked[0].hash, blocks[0].hash(), "the first block first");
    // Deliver everything asked but the first, one block every 300 ms.
    let mut dropped_after = None;
    for (i, item) in asked.iter().enumerate().skip(1) {
        let block = blocks.iter().find(|b| b.hash() == item.hash).expect("ours");
        staller.send(&Message::Block(block.clone())).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let peers = node.handle.peers().await.expect("engine answers");
        if peers.is_empty() {
            dropped_after = Some(i);
            break;
        }
    }
    let delivered = dropped_after.unwrap_or_else(|| {
        panic!(
            "{context}: N kept the staller through {} deliveries",
            asked.len() - 1
        )
    });
    assert_eq!(node.state.height(), 0, "{context}: block 1 never came");
    eprintln!("{context}: dropped after {delivered} trickled blocks");

    // N syncs from an honest peer afterwards.
    node.handle
        .add_node(
            PeerSpec::new(honest.addr().ip().to_string(), honest.addr().port()),
            AddNodeAction::Add,
        )
        .await
        .expect("add H");
    wait_for_tip(&node, honest.tip(), SYNC_TIMEOUT, context).await;
    node.handle.shutdown().await;
    honest.handle.shutdown().await;
}
