//! Blocks arriving out of order: orphans wait for their parents and the final state does not
//! depend on delivery order; the orphan pool stays within its bounds under a flood of blocks
//! with unknown parents.

mod common;

use common::*;
use parthenon_chain::{BlockDisposition, ChainstateConfig};
use parthenon_primitives::{Block, Hash256};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Feeds `blocks` to `tc` in the order given, checking each disposition.
fn feed(tc: &mut TestChain, blocks: &[Block]) {
    for b in blocks {
        let out = tc.process(b.clone()).expect("valid block");
        assert!(
            matches!(
                out.disposition,
                BlockDisposition::Orphan | BlockDisposition::Active
            ),
            "unexpected {:?}",
            out.disposition
        );
        let usage = tc.chain.orphan_usage();
        assert!(usage.0 <= 128, "orphans {}", usage.0);
    }
}

fn assert_same_state(a: &TestChain, b: &TestChain) {
    assert_eq!(a.chain.tip_hash(), b.chain.tip_hash());
    assert_eq!(a.chain.height(), b.chain.height());
    assert_eq!(a.chain.stats(), b.chain.stats());
    assert_eq!(coin_set(&a.chain), coin_set(&b.chain));
}

#[test]
fn fifty_blocks_in_random_order_end_on_the_same_tip_and_coins_as_in_order() {
    let mut source = TestChain::new();
    let blocks = source.mine_empty(50, pubkey(&miner_key()));
    for seed in [1u64, 2, 3, 0xdead_beef] {
        let mut shuffled = blocks.clone();
        shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        assert_ne!(
            hashes(&shuffled),
            hashes(&blocks),
            "seed {seed} did not shuffle"
        );
        let mut tc = TestChain::new();
        feed(&mut tc, &shuffled);
        assert_same_state(&tc, &source);
        assert_eq!(tc.chain.orphan_usage(), (0, 0), "seed {seed}");
        assert_consistent(&tc.chain);
        assert_supply_is_subsidy(&tc.chain);
    }
}

#[test]
fn shuffled_blocks_with_transactions_end_on_the_same_coins_as_in_order() {
    // 101 coinbase-only blocks, then 12 blocks whose transactions spend matured coinbases
    // and each other's outputs; the last 40 blocks arrive shuffled.
    let owner = miner_key();
    let alice = key(2);
    let mut source = TestChain::new();
    let mut blocks = source.mine_empty(101, pubkey(&owner));
    let mut prev_out: Option<Vec<Spendable>> = None;
    for i in 0..12 {
        let mut txs = vec![spend(
            &coinbase_coins(&blocks[i]),
            &owner,
            pubkey(&alice),
            no_fee(),
        )];
        if let Some(prev) = prev_out.take() {
            txs.push(spend(&prev, &alice, pubkey(&alice), no_fee()));
        }
        prev_out = Some(outputs_of(&txs[0]));
        blocks.push(source.mine_txs(txs));
    }
    let (in_order, tail) = blocks.split_at(blocks.len() - 40);
    let mut tail = tail.to_vec();
    tail.shuffle(&mut ChaCha8Rng::seed_from_u64(7));

    let mut tc = TestChain::new();
    feed(&mut tc, in_order);
    feed(&mut tc, &tail);
    assert_same_state(&tc, &source);
    assert_eq!(tc.chain.orphan_usage(), (0, 0));
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
}

/// A valid-looking block (passes every isolation check) whose parent nobody knows.
fn unknown_parent_block(tc: &TestChain, rng: &mut ChaCha8Rng) -> Block {
    let data_len = rng.random_range(0..=90);
    let tag: Vec<u8> = (0..data_len).map(|_| rng.random()).collect();
    let mut b = BlockBuilder::on_tip(&tc.chain).tag(&tag).unsealed();
    b.header.prev_hash = Hash256(rng.random());
    mine(&mut b);
    b
}

#[test]
fn flood_of_unknown_parent_blocks_stays_within_orphan_bounds() {
    const MAX_ORPHANS: usize = 16;
    const MAX_BYTES: usize = 3_000;
    let mut tc = TestChain::with_config(ChainstateConfig {
        max_orphans: MAX_ORPHANS,
        max_orphan_bytes: MAX_BYTES,
        ..config()
    });
    let genesis = tc.chain.tip_hash();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut offered = Vec::new();
    let mut max_seen = (0, 0);
    for _ in 0..1_000 {
        let b = unknown_parent_block(&tc, &mut rng);
        offered.push(b.clone());
        let out = tc.process(b).expect("an orphan is not an error");
        assert_eq!(out.disposition, BlockDisposition::Orphan);
        let (n, bytes) = tc.chain.orphan_usage();
        assert!(n <= MAX_ORPHANS, "{n} orphans held");
        assert!(bytes <= MAX_BYTES, "{bytes} orphan bytes held");
        max_seen = (max_seen.0.max(n), max_seen.1.max(bytes));
    }
    // Both bounds were reached at some point (the sizes vary with the coinbase data).
    assert!(max_seen.1 > MAX_BYTES - 300, "byte bound never approached");
    assert!(tc.chain.orphan_usage().0 >= 2);
    // The newest orphan is still held; the oldest was evicted long ago.
    let newest = offered.last().unwrap().clone();
    assert_eq!(
        tc.process(newest).unwrap().disposition,
        BlockDisposition::Duplicate
    );
    let oldest = offered[0].clone();
    assert_eq!(
        tc.process(oldest).unwrap().disposition,
        BlockDisposition::Orphan
    );
    // None of it touched the chain.
    assert_eq!(tc.chain.tip_hash(), genesis);
    assert_eq!(tc.chain.index().len(), 1);
    assert_eq!(tc.chain.stats().utxo_count, 0);
}

#[test]
fn orphan_chain_longer_than_the_pool_loses_its_oldest_members_and_recovers_on_redelivery() {
    let mut source = TestChain::new();
    let blocks = source.mine_empty(20, pubkey(&miner_key()));
    let mut tc = TestChain::with_config(ChainstateConfig {
        max_orphans: 8,
        ..config()
    });
    // Heights 20 down to 2: only the last eight delivered (heights 9..=2) are kept.
    for b in blocks[1..].iter().rev() {
        let out = tc.process(b.clone()).unwrap();
        assert_eq!(out.disposition, BlockDisposition::Orphan);
        assert!(tc.chain.orphan_usage().0 <= 8);
    }
    assert_eq!(tc.chain.orphan_usage().0, 8);
    // Height 1 arrives: it and the eight held descendants connect in one call.
    let out = tc.process(blocks[0].clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    assert_eq!(
        out.update
            .connected
            .iter()
            .map(|(b, h)| (b.hash(), *h))
            .collect::<Vec<_>>(),
        blocks[..9]
            .iter()
            .enumerate()
            .map(|(i, b)| (b.hash(), i as u32 + 1))
            .collect::<Vec<_>>()
    );
    assert_eq!(tc.chain.height(), 9);
    assert_eq!(tc.chain.orphan_usage(), (0, 0));
    // The evicted ones connect when offered again.
    feed(&mut tc, &blocks[9..]);
    assert_same_state(&tc, &source);
    assert_consistent(&tc.chain);
}
