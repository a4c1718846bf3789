//! One writer and several readers sharing the chainstate through an `RwLock`: readers always
//! see a tip and statistics that belong together.

mod common;

use common::*;
use parking_lot::RwLock;
use parthenon_chain::{Chainstate, Workers};
use parthenon_primitives::{Asset, Block};
use parthenon_storage::MemStore;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

/// 130 blocks; from height 102 on each block carries a transaction spending the three
/// coinbase coins of height `h - 101` into three outputs, so the coin count stays 3 per block.
fn source_blocks() -> Vec<Block> {
    let owner = miner_key();
    let mut source = TestChain::new();
    let mut blocks = source.mine_empty(101, pubkey(&owner));
    for i in 0..29 {
        let tx = spend(
            &coinbase_coins(&blocks[i]),
            &owner,
            pubkey(&key(2)),
            no_fee(),
        );
        blocks.push(source.mine_txs(vec![tx]));
    }
    blocks
}

/// Checks that what a reader sees under one read guard is one consistent state.
fn check_view(chain: &Chainstate) -> u32 {
    let h = chain.height();
    let tip = chain.tip_hash();
    let stats = chain.stats();
    assert_eq!(chain.hash_at(h), Some(tip));
    assert_eq!(chain.tip().height, h);
    assert_eq!(stats.utxo_count, 3 * h as u64, "coin count at height {h}");
    for a in Asset::ALL {
        assert_eq!(
            stats.supply.get(a),
            params().cumulative_subsidy(h, a),
            "{a:?} at {h}"
        );
    }
    if h > 0 {
        let block = chain.read_block(&tip).unwrap().expect("tip stored");
        for (op, out) in coinbase_coins(&block) {
            let coin = chain.coin(&op).unwrap().expect("tip coinbase unspent");
            assert_eq!(coin.output, out);
            assert_eq!(coin.height, h);
        }
    }
    // A full scan agrees with the statistics.
    let mut n = 0u64;
    chain
        .for_each_coin(&mut |_, _| {
            n += 1;
            true
        })
        .unwrap();
    assert_eq!(n, stats.utxo_count);
    h
}

#[test]
fn readers_see_consistent_tip_and_stats_while_a_writer_connects_blocks() {
    let blocks = source_blocks();
    let dir = tempfile::tempdir().unwrap();
    let chain = open_chain_with(
        params(),
        Arc::new(MemStore::new()),
        dir.path(),
        Workers::new(2).unwrap(),
        config(),
    )
    .unwrap();
    let shared = Arc::new(RwLock::new(chain));
    let done = Arc::new(AtomicBool::new(false));
    let looks = Arc::new(AtomicU64::new(0));

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let shared = shared.clone();
            let done = done.clone();
            let looks = looks.clone();
            thread::spawn(move || {
                let mut last = 0;
                let mut heights = std::collections::BTreeSet::new();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let h = check_view(&shared.read());
                    assert!(h >= last, "height went back from {last} to {h}");
                    last = h;
                    heights.insert(h);
                    looks.fetch_add(1, Ordering::Relaxed);
                    if finished {
                        return (last, heights);
                    }
                    thread::yield_now();
                }
            })
        })
        .collect();

    let writer = {
        let shared = shared.clone();
        let blocks = blocks.clone();
        let looks = looks.clone();
        thread::spawn(move || {
            for b in blocks {
                let hash = b.hash();
                let before = looks.load(Ordering::Relaxed);
                shared.write().process_block(b, now()).unwrap();
                assert_eq!(shared.read().tip_hash(), hash);
                // Let a reader in between blocks: on a loaded 2-core machine the writer
                // could otherwise take the lock back every time (bounded, never a hang).
                let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
                while looks.load(Ordering::Relaxed) == before
                    && std::time::Instant::now() < deadline
                {
                    thread::yield_now();
                }
            }
        })
    };
    writer.join().expect("writer panicked");
    done.store(true, Ordering::SeqCst);
    let mut seen = std::collections::BTreeSet::new();
    for r in readers {
        let (last, heights) = r.join().expect("a reader panicked");
        assert_eq!(last, blocks.len() as u32, "final look sees the final tip");
        seen.extend(heights);
    }
    // The readers really ran alongside the writer, not only before and after it.
    assert!(seen.len() > 2, "readers saw only heights {seen:?}");
    let chain = shared.read();
    assert_eq!(chain.height(), 130);
    assert_consistent(&chain);
}
