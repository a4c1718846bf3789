//! Transaction relay under attack, against running engines over loopback TCP (issue 9 point
//! 5 and issue 10 finding 7).
//!
//! A txid leaves the signatures out. An attacker who sees a transaction T can relay a copy
//! with a broken signature (same txid) first; the old relay remembered the refusal by txid
//! and never fetched the real T when an honest peer announced it. Here the attacker
//! announces T's txid to the node under test, N, and serves the broken copy; then the
//! honest node H announces T: N must fetch it and hold the real T (its wtxid) in its
//! mempool, and the attacker must have been scored for the invalid copy.

mod sync_common;

mod p2p_common;

mod sync_raw_peer;

use p2p_common::{test_config, wait_for_manual_peer, wait_until, NodeState, TestNode};
use parthenon_crypto::{sign_all_inputs, KeyPair};
use parthenon_net::message::{InvKind, Inventory, Message};
use parthenon_net::transport::{PeerSpec, TcpTransport, Transport};
use parthenon_primitives::{OutPoint, Transaction, TxIn, TxOut};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use sync_common::{now_secs, payout};
use sync_raw_peer::RawPeer;

const TIMEOUT: Duration = Duration::from_secs(20);

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

/// The key `payout()` belongs to.
fn payout_key() -> KeyPair {
    let mut secret = [0x11u8; 32];
    secret[31] = 1;
    KeyPair::from_secret_bytes(&secret).expect("a valid secret")
}

/// A signed spend of the first output of the coinbase of `block`'s height 1 on `state`.
fn signed_spend(state: &NodeState) -> Transaction {
    let chain = state.shared.chain.read();
    let hash = chain.hash_at(1).expect("height 1");
    let block = chain.read_block(&hash).expect("read").expect("stored");
    let coinbase = &block.txs[0];
    let spent = coinbase.outputs[0].clone();
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::new(coinbase.txid(), 0),
            signature: Vec::new(),
            sequence: u32::MAX,
        }],
        outputs: vec![TxOut::to_key(
            spent.asset,
            spent.amount - spent.amount / 100,
            payout(),
        )],
        lock_time: 0,
    };
    let genesis = sync_common::params().genesis_block().hash();
    sign_all_inputs(&genesis, &mut tx, &[&spent], &[&payout_key()]).expect("sign");
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_signature_copy_relayed_first_does_not_keep_the_real_transaction_out() {
    let context = "broken-signature copy first";
    // 101 blocks: the coinbase of block 1 is mature.
    let h_state = NodeState::new();
    let blocks = h_state.mine(101, 1);
    let n_state = NodeState::new();
    n_state.process(&blocks);
    let real = signed_spend(&h_state);
    let mut forged = real.clone();
    forged.inputs[0].signature[10] ^= 0x01;
    assert_eq!(forged.txid(), real.txid());
    assert_ne!(forged.wtxid(), real.wtxid());

    let mut h_cfg = test_config(1);
    h_cfg.listen = Some(listen_any());
    h_cfg.max_outbound = 0;
    let honest = TestNode::start(h_cfg, h_state, plain()).await;
    let mut n_cfg = test_config(2);
    n_cfg.listen = Some(listen_any());
    n_cfg.connect = vec![PeerSpec::new("127.0.0.1", honest.addr().port())];
    let node = TestNode::start(n_cfg, n_state, plain()).await;
    wait_for_manual_peer(&node, TIMEOUT, context).await;

    // The attacker announces T's txid and serves the broken copy.
    let mut attacker = RawPeer::connect(plain().as_ref(), node.addr()).await;
    attacker.handshake(context).await;
    let inv = Inventory {
        kind: InvKind::Tx,
        hash: real.txid(),
    };
    attacker.send(&Message::Inv(vec![inv])).await;
    attacker
        .recv_until(context, |m| match m {
            Message::GetData(items) => items.contains(&inv).then_some(()),
            _ => None,
        })
        .await;
    attacker.send(&Message::Tx(forged)).await;
    wait_until(
        "N scored the attacker for the invalid copy",
        TIMEOUT,
        || async {
            node.handle
                .peers()
                .await
                .map(|p| p.iter().any(|p| !p.manual && p.ban_score >= 10))
                .unwrap_or(false)
        },
    )
    .await;
    assert!(node.state.shared.mempool.lock().get(&real.txid()).is_none());

    // H has the real T and announces it.
    {
        let chain = honest.state.shared.chain.read();
        honest
            .state
            .shared
            .mempool
            .lock()
            .accept(real.clone(), &chain)
            .expect("H accepts T");
    }
    honest.handle.announce_tx(real.txid());
    wait_until("the real T reaches N's mempool", TIMEOUT, || async {
        node.state
            .shared
            .mempool
            .lock()
            .get(&real.txid())
            .is_some_and(|e| e.tx.wtxid() == real.wtxid())
    })
    .await;
    let _ = now_secs();
    node.handle.shutdown().await;
    honest.handle.shutdown().await;
}
