//! The one UTXO key format: every raw key of the coins partition is the `OutPoint::db_key` of
//! a coin the chainstate reports, and the text and binary forms round-trip.

mod common;

use common::*;
use parthenon_chain::Coin;
use parthenon_primitives::OutPoint;
use parthenon_storage::coins::coin_key;
use parthenon_storage::{KvStore, Partition};

fn raw_coins(tc: &TestChain) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut raw = Vec::new();
    tc.store
        .scan_prefix(Partition::Coins, &[], &mut |k, v| {
            raw.push((k.to_vec(), v.to_vec()));
            true
        })
        .unwrap();
    raw
}

#[test]
fn every_raw_coins_key_is_the_db_key_of_a_reported_coin() {
    let owner = miner_key();
    let alice = key(2);
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&owner));
    // Transactions with several outputs, including high vout numbers.
    let coins = coinbase_coins(&blocks[0]);
    let mut outputs = Vec::new();
    for (_, o) in &coins {
        let mut left = o.amount;
        for _ in 0..4 {
            let part = o.amount / 5;
            outputs.push(parthenon_primitives::TxOut::to_key(
                o.asset,
                part,
                pubkey(&alice),
            ));
            left -= part;
        }
        outputs.push(parthenon_primitives::TxOut::to_key(
            o.asset,
            left,
            pubkey(&alice),
        ));
    }
    let split = spend_with(&coins, &[&owner, &owner, &owner], outputs);
    let merged = spend(&outputs_of(&split)[3..9], &alice, pubkey(&owner), no_fee());
    tc.mine_txs(vec![split.clone(), merged]);

    let reported = coin_set(&tc.chain);
    let raw = raw_coins(&tc);
    assert_eq!(raw.len(), reported.len());
    assert_eq!(raw.len() as u64, tc.chain.stats().utxo_count);
    assert_eq!(raw.len(), tc.store.len(Partition::Coins));
    for ((k, v), (op, coin)) in raw.iter().zip(&reported) {
        assert_eq!(k.as_slice(), op.db_key().as_slice(), "raw key order");
        assert_eq!(coin_key(op), op.db_key());
        assert_eq!(OutPoint::from_db_key(k), Ok(*op));
        assert_eq!(OutPoint::parse_key_text(&op.to_key_text()), Ok(*op));
        assert_eq!(op.to_key_text().parse::<OutPoint>(), Ok(*op));
        assert_eq!(&Coin::from_bytes(v).unwrap(), coin);
        assert_eq!(tc.chain.coin(op).unwrap().as_ref(), Some(coin));
    }
    // Outputs 3..=8 of the split are spent, the others are there under their keys.
    for (op, _) in outputs_of(&split) {
        let present = tc
            .store
            .get(Partition::Coins, &op.db_key())
            .unwrap()
            .is_some();
        assert_eq!(present, !(3..9).contains(&op.vout), "{op}");
    }
    // The keys of one transaction's outputs are adjacent and in vout order.
    let split_txid = split.txid();
    let vouts: Vec<u32> = reported
        .keys()
        .filter(|op| op.txid == split_txid)
        .map(|op| op.vout)
        .collect();
    assert_eq!(vouts, vec![0, 1, 2, 9, 10, 11, 12, 13, 14]);
    assert_consistent(&tc.chain);
}

#[test]
fn disconnect_removes_exactly_the_keys_the_connect_added() {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    let fork = tc.chain.tip_hash();
    let before = raw_coins(&tc);
    let tx = spend(
        &coinbase_coins(&blocks[0]),
        &miner_key(),
        pubkey(&key(2)),
        no_fee(),
    );
    let a = BlockBuilder::on(&tc.chain, fork).tag(b"a").tx(tx).build();
    tc.connect(a);
    assert_ne!(raw_coins(&tc), before);
    // Two empty blocks on the fork point disconnect `a`.
    let b1 = BlockBuilder::on(&tc.chain, fork)
        .tag(b"b")
        .payout([7; 32])
        .build();
    tc.process(b1.clone()).unwrap();
    let b2 = BlockBuilder::on(&tc.chain, b1.hash()).tag(b"b").build();
    tc.connect(b2);
    let after: Vec<_> = raw_coins(&tc)
        .into_iter()
        .filter(|(k, _)| {
            let c = Coin::from_bytes(&tc.store.get(Partition::Coins, k).unwrap().unwrap()).unwrap();
            c.height <= 101
        })
        .collect();
    assert_eq!(
        after, before,
        "the pre-fork coins are restored byte for byte"
    );
    assert_eq!(raw_coins(&tc).len(), before.len() + 6);
    assert_consistent(&tc.chain);
}
