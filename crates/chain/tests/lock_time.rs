//! Absolute lock time of non-coinbase transactions, as in Bitcoin: below 500,000,000 a
//! height, else a time compared with the median time past; final when `lock_time` is 0, has
//! passed, or every input's sequence is 0xFFFFFFFF. Enforced in blocks (the block's height,
//! its parent's median time past) and in the mempool (the next block's height, the tip's
//! median time past), each on both sides of each boundary.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{ChainError, Mempool, MempoolError, ValidationError};
use parthenon_crypto::sign_all_inputs;
use parthenon_primitives::transaction::{LOCKTIME_THRESHOLD, SEQUENCE_FINAL};
use parthenon_primitives::{Asset, Block, Transaction, TxOut};

fn matured() -> (TestChain, Vec<Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    (tc, blocks)
}

/// A signed spend of the TALANTON coinbase output of `block` with `lock_time`, every input
/// carrying `sequence`.
fn locked(block: &Block, lock_time: u32, sequence: u32) -> Transaction {
    let coin = coinbase_coins(block)[0].clone();
    assert_eq!(coin.1.asset, Asset::Talanton);
    let owner = miner_key();
    let mut tx = spend_with(
        std::slice::from_ref(&coin),
        &[&owner],
        vec![TxOut::to_key(
            Asset::Talanton,
            coin.1.amount - relay_fee().get(Asset::Talanton),
            pubkey(&key(2)),
        )],
    );
    tx.lock_time = lock_time;
    tx.inputs[0].sequence = sequence;
    sign_all_inputs(&params().genesis_hash(), &mut tx, &[&coin.1], &[&owner]).unwrap();
    tx
}

fn non_final(tx: &Transaction, height: u32, median_time_past: u32) -> ValidationError {
    ValidationError::NonFinalTransaction {
        txid: tx.txid(),
        lock_time: tx.lock_time,
        height,
        median_time_past,
    }
}

/// The mempool's verdict on `tx` (a fresh pool each time).
fn mempool_verdict(tc: &TestChain, tx: &Transaction) -> Result<(), ValidationError> {
    match Mempool::new(DEFAULT_MEMPOOL_BYTES).accept(tx.clone(), &tc.chain) {
        Ok(_) => Ok(()),
        Err(MempoolError::Invalid(e)) => Err(*e),
        Err(other) => panic!("unexpected mempool error {other}"),
    }
}

/// The chain's verdict on a block on the tip holding `tx`; the block stays out of the
/// chain either way (it is processed as a side branch: a sibling is connected afterwards
/// only when it was accepted, so the caller's chain is unchanged in height).
fn block_verdict(tc: &mut TestChain, tx: &Transaction) -> Result<(), ValidationError> {
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx.clone()).build();
    match tc.process(block) {
        Ok(_) => Ok(()),
        Err(ChainError::InvalidBlock { source, .. }) => Err(source),
        Err(other) => panic!("unexpected chain error {other}"),
    }
}

#[test]
fn height_lock_is_enforced_on_both_sides_of_the_boundary() {
    let (mut tc, blocks) = matured();
    let next = tc.chain.height() + 1;
    assert_eq!(next, 102);
    // lock_time = next height: not yet (final only strictly after).
    let early = locked(&blocks[0], next, 0);
    assert_eq!(
        mempool_verdict(&tc, &early),
        Err(non_final(
            &early,
            next,
            tc.chain.next_block_context().median_time_past
        ))
    );
    let mtp = tc.chain.next_block_context().median_time_past;
    assert_eq!(
        block_verdict(&mut tc, &early),
        Err(non_final(&early, next, mtp))
    );
    // lock_time = next height - 1: final in the next block.
    let ok = locked(&blocks[0], next - 1, 0);
    assert_eq!(mempool_verdict(&tc, &ok), Ok(()));
    assert_eq!(block_verdict(&mut tc, &ok), Ok(()));
    assert_eq!(tc.chain.height(), next);
    // The rejected one is final one block later.
    let later = locked(&blocks[1], next + 1, 0);
    assert_eq!(
        mempool_verdict(&tc, &later),
        Err(non_final(
            &later,
            next + 1,
            tc.chain.next_block_context().median_time_past
        ))
    );
    tc.mine_empty(1, pubkey(&miner_key()));
    assert_eq!(mempool_verdict(&tc, &later), Ok(()));
    assert_eq!(block_verdict(&mut tc, &later), Ok(()));
    // The largest height lock is still a height, not a time.
    let max_height = locked(&blocks[2], LOCKTIME_THRESHOLD - 1, 0);
    assert!(matches!(
        mempool_verdict(&tc, &max_height),
        Err(ValidationError::NonFinalTransaction { .. })
    ));
    assert_consistent(&tc.chain);
}

#[test]
fn time_lock_is_compared_with_the_median_time_past_on_both_sides() {
    let (mut tc, blocks) = matured();
    let ctx = tc.chain.next_block_context();
    let mtp = ctx.median_time_past;
    assert!(mtp >= LOCKTIME_THRESHOLD, "dev block times are Unix times");
    // lock_time = median time past: not yet; the block's own later time does not count.
    let early = locked(&blocks[0], mtp, 0);
    assert_eq!(
        mempool_verdict(&tc, &early),
        Err(non_final(&early, ctx.height, mtp))
    );
    let block = BlockBuilder::on_tip(&tc.chain)
        .time(mtp + 1_000)
        .tx(early.clone())
        .build();
    match tc.process(block) {
        Err(ChainError::InvalidBlock { source, .. }) => {
            assert_eq!(source, non_final(&early, ctx.height, mtp))
        }
        other => panic!("expected NonFinalTransaction, got {other:?}"),
    }
    // One second earlier has passed.
    let ok = locked(&blocks[0], mtp - 1, 0);
    assert_eq!(mempool_verdict(&tc, &ok), Ok(()));
    assert_eq!(block_verdict(&mut tc, &ok), Ok(()));
    // The smallest time lock is a time: long past.
    let threshold = locked(&blocks[1], LOCKTIME_THRESHOLD, 0);
    assert_eq!(mempool_verdict(&tc, &threshold), Ok(()));
}

#[test]
fn final_sequences_or_zero_lock_time_make_any_transaction_final() {
    let (mut tc, blocks) = matured();
    // Every sequence final: the farthest lock time is not enforced.
    let opted_out = locked(&blocks[0], u32::MAX, SEQUENCE_FINAL);
    assert_eq!(mempool_verdict(&tc, &opted_out), Ok(()));
    // One below final enforces it.
    let enforced = locked(&blocks[0], u32::MAX, SEQUENCE_FINAL - 1);
    assert!(matches!(
        mempool_verdict(&tc, &enforced),
        Err(ValidationError::NonFinalTransaction {
            lock_time: u32::MAX,
            ..
        })
    ));
    assert!(matches!(
        block_verdict(&mut tc, &enforced),
        Err(ValidationError::NonFinalTransaction { .. })
    ));
    // lock_time 0 with any sequence.
    let zero = locked(&blocks[1], 0, 0);
    assert_eq!(mempool_verdict(&tc, &zero), Ok(()));
    assert_eq!(block_verdict(&mut tc, &opted_out), Ok(()));
    assert_eq!(block_verdict(&mut tc, &zero), Ok(()));
}

#[test]
fn a_reorg_that_lowers_the_median_time_past_drops_entries_no_longer_final() {
    let (mut tc, blocks) = matured();
    let fork = tc.chain.tip_hash();
    // Six blocks 10,000 s apart lift the median time past.
    for _ in 0..6 {
        let t = tc.chain.tip().header.time;
        let b = BlockBuilder::on_tip(&tc.chain).time(t + 10_000).build();
        tc.connect(b);
    }
    let mtp = tc.chain.next_block_context().median_time_past;
    let tx = locked(&blocks[0], mtp - 1, 0);
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    pool.accept(tx.clone(), &tc.chain).unwrap();
    // A longer branch of blocks one second apart wins; its median time past is far lower.
    let mut parent = fork;
    let mut update = None;
    for _ in 0..7 {
        let b = BlockBuilder::on(&tc.chain, parent).tag(b"side").build();
        parent = b.hash();
        let out = tc.process(b).unwrap();
        if !out.update.disconnected.is_empty() {
            update = Some(out.update);
        }
    }
    assert_eq!(tc.chain.tip_hash(), parent);
    assert!(tc.chain.next_block_context().median_time_past <= tx.lock_time);
    pool.apply_chain_update(&update.expect("a reorganisation"), &tc.chain);
    assert!(!pool.contains(&tx.txid()), "a non-final entry stayed");
}
