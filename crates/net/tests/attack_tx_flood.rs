//! Refused transactions are paid for by their sender (finding 7 of the P2P review: a 32 MiB
//! `tx` was decoded and hashed four times before being refused as too large, and a
//! policy-refused transaction cost its sender nothing), against a running engine over
//! loopback TCP and TLS.
//!
//! The attackers announce transactions, wait for the node's `getdata` and serve them:
//! - the "fee" attacker serves valid-looking spends of a mature coin that pay no fee, each
//!   ~8 KB, so every one costs the node a mempool check and is refused by the relay policy;
//! - the "size" attacker serves transactions over the standard size.
//!
//! Each attacker must be scored and banned (its own loopback address, so the honest peer on
//! another address is unaffected), the node's mempool stays empty, and an honest peer's ping
//! round trip stays bounded throughout.

mod sync_common;

mod p2p_common;
mod p2p_raw;

use p2p_common::{test_config, wait_until, NodeState, TestNode};
use p2p_raw::{lo, RawPeer, REPLY_TIMEOUT};
use parthenon_chain::mempool::MAX_STANDARD_TX_SIZE;
use parthenon_net::message::{InvKind, Inventory, Message};
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{TcpTransport, Transport};
use parthenon_primitives::{Asset, OutPoint, Transaction, TxIn, TxOut};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use sync_common::payout;

/// Bound on an honest peer's ping round trip while the node is attacked (idle: ~1 ms).
const PING_BOUND: Duration = Duration::from_secs(2);
/// Transactions each attacker offers; far more than the refusal budget allows.
const OFFERED: usize = 400;

#[derive(Clone, Copy)]
enum Wire {
    Tcp,
    Tls,
}

fn transport(wire: Wire) -> Arc<dyn Transport> {
    match wire {
        Wire::Tcp => Arc::new(TcpTransport::new()),
        Wire::Tls => Arc::new(
            TlsTransport::new(
                TcpTransport::new(),
                &NodeIdentity::generate().expect("identity"),
            )
            .expect("TLS transport"),
        ),
    }
}

async fn connect(wire: Wire, from: IpAddr, to: SocketAddr) -> RawPeer {
    match wire {
        Wire::Tcp => RawPeer::tcp(from, to).await.expect("tcp"),
        Wire::Tls => RawPeer::tls(from, to).await.expect("tls"),
    }
}

/// The first coinbase output of block 1 (mature once 101 blocks are mined).
fn mature_coin(state: &NodeState) -> (OutPoint, TxOut) {
    let chain = state.shared.chain.read();
    let hash = chain.hash_at(1).expect("height 1");
    let block = chain.read_block(&hash).expect("read").expect("stored");
    let coinbase = &block.txs[0];
    (
        OutPoint::new(coinbase.txid(), 0),
        coinbase.outputs[0].clone(),
    )
}

/// A spend of `coin` into 200 outputs paying no fee (refused by the relay policy's minimum
/// fee rate); `n` makes each one distinct. Its signature is 64 arbitrary bytes: the fee rule
/// refuses it before signatures are checked.
fn zero_fee_spend(coin: &(OutPoint, TxOut), n: usize) -> Transaction {
    let (prevout, spent) = coin;
    let outputs = 200u64;
    let each = 1_000 + n as u64;
    let mut outs: Vec<TxOut> = (0..outputs - 1)
        .map(|_| TxOut::to_key(spent.asset, each, payout()))
        .collect();
    outs.push(TxOut::to_key(
        spent.asset,
        spent.amount - each * (outputs - 1),
        payout(),
    ));
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: *prevout,
            signature: vec![0x5a; 64],
            sequence: u32::MAX,
        }],
        outputs: outs,
        lock_time: 0,
    }
}

/// A transaction over the standard size: one input, enough outputs to pass the limit.
fn oversized(n: usize) -> Transaction {
    let outputs = MAX_STANDARD_TX_SIZE / 42 + 10;
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::new(parthenon_primitives::Hash256([n as u8; 32]), n as u32),
            signature: vec![0x5a; 64],
            sequence: u32::MAX,
        }],
        outputs: (0..outputs)
            .map(|_| TxOut::to_key(Asset::Talanton, 1_000, payout()))
            .collect(),
        lock_time: 0,
    }
}

/// Announces `txs` in batches and serves each one the node asks for; stops when the node
/// closes the connection. Returns how many were served.
async fn serve_offers(peer: &mut RawPeer, txs: &[Transaction]) -> usize {
    let mut served = 0;
    for batch in txs.chunks(50) {
        let inv: Vec<Inventory> = batch
            .iter()
            .map(|t| Inventory {
                kind: InvKind::Tx,
                hash: t.txid(),
            })
            .collect();
        if !peer.send(&Message::Inv(inv)).await {
            return served;
        }
        let mut wanted = batch.len();
        while wanted > 0 {
            match peer.recv(REPLY_TIMEOUT).await {
                Some(Message::GetData(items)) => {
                    for item in items {
                        if let Some(t) = batch.iter().find(|t| t.txid() == item.hash) {
                            if !peer.send(&Message::Tx(t.clone())).await {
                                return served;
                            }
                            served += 1;
                            wanted -= 1;
                        }
                    }
                }
                Some(_) => {}
                None => return served,
            }
        }
    }
    served
}

async fn refused_transactions_get_their_sender_banned(wire: Wire) {
    let state = NodeState::new();
    state.mine(101, 1);
    let coin = mature_coin(&state);
    let mut cfg = test_config(7);
    cfg.listen = Some((Ipv4Addr::LOCALHOST, 0).into());
    cfg.max_outbound = 0;
    let node = TestNode::start(cfg, state, transport(wire)).await;
    let target = node.addr();

    // The honest peer pings the node for the whole attack.
    let (fee_ip, size_ip, honest_ip) = (lo(0, 7, 2), lo(0, 7, 3), lo(0, 7, 4));
    let mut honest = connect(wire, honest_ip, target).await;
    honest.handshake(0).await;
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pinger = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        let mut nonce = 1u64;
        loop {
            let rtt = honest
                .ping(nonce, PING_BOUND * 5)
                .await
                .expect("the honest peer stays connected and answered");
            worst = worst.max(rtt);
            nonce += 1;
            tokio::select! {
                _ = &mut stop_rx => return (worst, nonce - 1, honest),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    });

    let fee_txs: Vec<Transaction> = (0..OFFERED).map(|n| zero_fee_spend(&coin, n)).collect();
    let size_txs: Vec<Transaction> = (0..10).map(oversized).collect();
    let fee_attack = tokio::spawn(async move {
        let mut peer = connect(wire, fee_ip, target).await;
        peer.handshake(0).await;
        let served = serve_offers(&mut peer, &fee_txs).await;
        (served, peer.closed_within(REPLY_TIMEOUT).await)
    });
    let size_attack = tokio::spawn(async move {
        let mut peer = connect(wire, size_ip, target).await;
        peer.handshake(0).await;
        let served = serve_offers(&mut peer, &size_txs).await;
        (served, peer.closed_within(REPLY_TIMEOUT).await)
    });
    let (fee_served, fee_closed) = fee_attack.await.expect("fee attacker");
    let (size_served, size_closed) = size_attack.await.expect("size attacker");

    for ip in [fee_ip, size_ip] {
        wait_until("both attackers are banned", REPLY_TIMEOUT, || async {
            node.handle
                .banned()
                .await
                .map(|b| b.iter().any(|b| b.subnet.contains(&ip)))
                .unwrap_or(false)
        })
        .await;
    }
    let _ = stop_tx.send(());
    // The pinger hands the honest connection back, still open.
    let (worst_ping, pings, _honest) = pinger.await.expect("pinger");
    eprintln!(
        "fee attacker served {fee_served} (closed: {fee_closed}), size attacker served \
         {size_served} (closed: {size_closed}); honest pings {pings}, worst {worst_ping:?}"
    );
    assert!(fee_closed && size_closed, "both attackers are disconnected");
    // 1 MiB of refusals is free, then each refusal scores 10: banned well before the end.
    assert!(
        fee_served < OFFERED,
        "the fee attacker was cut off before serving all {OFFERED} ({fee_served})"
    );
    // Each oversized transaction scores 20 (banned at the fifth; the attacker may have
    // written the rest into the socket before it saw the close).
    assert!(
        size_served >= 5,
        "the size attacker served enough to be banned: {size_served}"
    );
    assert!(
        worst_ping < PING_BOUND,
        "honest ping stayed under {PING_BOUND:?}: worst {worst_ping:?}"
    );
    assert!(pings > 0, "the honest peer pinged during the attack");
    assert_eq!(
        node.state.shared.mempool.lock().len(),
        0,
        "no refused transaction entered the mempool"
    );
    let honest_still_there = node
        .handle
        .peers()
        .await
        .expect("peers")
        .iter()
        .any(|p| p.addr.ip() == honest_ip);
    assert!(honest_still_there, "the honest peer is not punished");
    node.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_oversized_transactions_get_their_sender_banned_over_tcp() {
    refused_transactions_get_their_sender_banned(Wire::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_oversized_transactions_get_their_sender_banned_over_tls() {
    refused_transactions_get_their_sender_banned(Wire::Tls).await;
}
