//! Double spends: in the mempool, inside one block, against the chain, and across a reorg.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{BlockDisposition, ChainError, Mempool, MempoolError, ValidationError};
use parthenon_primitives::Block;

/// A chain of 101 coinbase-only blocks paying [`miner_key`]: the coinbase of height 1 is
/// spendable in the next block.
fn matured() -> (TestChain, Vec<Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    (tc, blocks)
}

fn assert_missing_input(
    r: Result<parthenon_chain::ProcessOutcome, ChainError>,
    block: &Block,
    tx: &parthenon_primitives::Transaction,
    input: usize,
) {
    match r {
        Err(ChainError::InvalidBlock {
            hash,
            source:
                ValidationError::MissingInput {
                    txid,
                    input: i,
                    outpoint,
                },
        }) => {
            assert_eq!(hash, block.hash());
            assert_eq!(txid, tx.txid());
            assert_eq!(i, input);
            assert_eq!(outpoint, tx.inputs[input].prevout);
        }
        other => panic!("expected MissingInput, got {other:?}"),
    }
}

#[test]
fn mempool_keeps_the_first_spend_and_rejects_a_conflicting_second() {
    let (tc, blocks) = matured();
    let owner = miner_key();
    let coins = coinbase_coins(&blocks[0]);
    let first = spend(&coins, &owner, pubkey(&key(2)), relay_fee());
    let second = spend(&coins, &owner, pubkey(&key(3)), relay_fee());
    // Spends only the last of the three coins: still a conflict.
    let partial = spend(&coins[2..], &owner, pubkey(&key(4)), relay_fee());

    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    assert_eq!(pool.accept(first.clone(), &tc.chain).unwrap(), first.txid());
    match pool.accept(second.clone(), &tc.chain) {
        Err(MempoolError::Conflict {
            txid,
            outpoint,
            existing,
        }) => {
            assert_eq!(txid, second.txid());
            assert_eq!(outpoint, coins[0].0);
            assert_eq!(existing, first.txid());
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    match pool.accept(partial.clone(), &tc.chain) {
        Err(MempoolError::Conflict {
            outpoint, existing, ..
        }) => {
            assert_eq!(outpoint, coins[2].0);
            assert_eq!(existing, first.txid());
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(matches!(
        pool.accept(first.clone(), &tc.chain),
        Err(MempoolError::AlreadyKnown(t)) if t == first.txid()
    ));
    assert_eq!(pool.txids(), vec![first.txid()]);
    for (op, _) in &coins {
        assert_eq!(pool.spender_of(op), Some(first.txid()));
    }
}

#[test]
fn block_spending_one_coin_twice_is_invalid_and_the_tip_stays() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coins = coinbase_coins(&blocks[0]);
    let first = spend(&coins, &owner, pubkey(&key(2)), no_fee());
    let second = spend(&coins, &owner, pubkey(&key(3)), no_fee());
    let tip = tc.chain.tip_hash();
    let before = coin_set(&tc.chain);
    let stats = tc.chain.stats();

    let bad = BlockBuilder::on_tip(&tc.chain)
        .tx(first.clone())
        .tx(second.clone())
        .build();
    assert_missing_input(tc.process(bad.clone()), &bad, &second, 0);
    assert_eq!(tc.chain.tip_hash(), tip);
    assert_eq!(coin_set(&tc.chain), before);
    assert_eq!(tc.chain.stats(), stats);
    assert!(matches!(
        tc.process(bad.clone()),
        Err(ChainError::KnownInvalid { hash }) if hash == bad.hash()
    ));
    assert_consistent(&tc.chain);

    // Either spend alone is fine.
    tc.mine_txs(vec![second]);
    assert_consistent(&tc.chain);
}

#[test]
fn block_spending_an_output_created_in_it_twice_is_invalid() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let alice = key(2);
    let parent_tx = spend(
        &coinbase_coins(&blocks[0]),
        &owner,
        pubkey(&alice),
        no_fee(),
    );
    let created = outputs_of(&parent_tx);
    let child1 = spend(&created[..1], &alice, pubkey(&key(3)), no_fee());
    let child2 = spend(&created[..1], &alice, pubkey(&key(4)), no_fee());
    let tip = tc.chain.tip_hash();
    let bad = BlockBuilder::on_tip(&tc.chain)
        .txs(vec![parent_tx.clone(), child1.clone(), child2.clone()])
        .build();
    assert_missing_input(tc.process(bad.clone()), &bad, &child2, 0);
    assert_eq!(tc.chain.tip_hash(), tip);
    assert_consistent(&tc.chain);

    // Spending a created output once in the same block is valid.
    let good = tc.mine_txs(vec![parent_tx, child1.clone()]);
    assert!(tc.chain.coin(&created[0].0).unwrap().is_none());
    assert!(tc.chain.coin(&created[1].0).unwrap().is_some());
    assert!(tc.chain.coin(&outputs_of(&child1)[0].0).unwrap().is_some());
    assert_eq!(tc.chain.tip_hash(), good.hash());
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
}

#[test]
fn block_spending_a_coin_already_spent_on_the_chain_is_invalid() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coins = coinbase_coins(&blocks[0]);
    let first = spend(&coins, &owner, pubkey(&key(2)), no_fee());
    let second = spend(&coins[1..], &owner, pubkey(&key(3)), no_fee());
    tc.mine_txs(vec![first]);
    let tip = tc.chain.tip_hash();
    let before = coin_set(&tc.chain);

    let bad = BlockBuilder::on_tip(&tc.chain).tx(second.clone()).build();
    assert_missing_input(tc.process(bad.clone()), &bad, &second, 0);
    assert_eq!(tc.chain.tip_hash(), tip);
    assert_eq!(coin_set(&tc.chain), before);
    // The mempool says the same.
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    match pool.accept(second.clone(), &tc.chain) {
        Err(MempoolError::Invalid(e)) => assert!(
            matches!(*e, ValidationError::MissingInput { input: 0, outpoint, .. } if outpoint == coins[1].0)
        ),
        other => panic!("expected MissingInput, got {other:?}"),
    }
    assert_consistent(&tc.chain);
}

#[test]
fn after_reorg_away_from_the_first_spend_the_second_can_be_mined_and_the_mempool_follows() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let alice = key(2);
    let bob = key(3);
    let coins = coinbase_coins(&blocks[0]);
    let first = spend(&coins, &owner, pubkey(&alice), relay_fee());
    let second = spend(&coins, &owner, pubkey(&bob), fee(1_000, 0, 0));
    let fork = tc.chain.tip_hash();

    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    pool.accept(first.clone(), &tc.chain).unwrap();
    let a1 = BlockBuilder::on(&tc.chain, fork)
        .tag(b"A")
        .tx(first.clone())
        .fees(relay_fee())
        .build();
    let out = tc.process(a1.clone()).unwrap();
    pool.apply_chain_update(&out.update, &tc.chain);
    assert!(pool.is_empty(), "confirmed transaction left the pool");

    // Spends of the first spend's outputs wait in the mempool.
    let child = spend(&outputs_of(&first), &alice, pubkey(&alice), relay_fee());
    pool.accept(child.clone(), &tc.chain).unwrap();
    // The second spend conflicts with the chain now.
    assert!(matches!(
        pool.accept(second.clone(), &tc.chain),
        Err(MempoolError::Invalid(_))
    ));

    // A branch without the first spend overtakes.
    let b1 = BlockBuilder::on(&tc.chain, fork).tag(b"B").build();
    assert_eq!(
        tc.process(b1.clone()).unwrap().disposition,
        BlockDisposition::SideBranch
    );
    let b2 = BlockBuilder::on(&tc.chain, b1.hash()).tag(b"B").build();
    let out = tc.process(b2.clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    assert_eq!(
        out.update
            .disconnected
            .iter()
            .map(|b| b.hash())
            .collect::<Vec<_>>(),
        vec![a1.hash()]
    );
    assert!(tc.chain.coin(&coins[0].0).unwrap().is_some());
    assert!(tc.chain.coin(&outputs_of(&first)[0].0).unwrap().is_none());

    pool.apply_chain_update(&out.update, &tc.chain);
    // The child's inputs are gone: it left; the first spend came back from the disconnected
    // block; nothing in the pool spends a coin that is not unspent on the new tip.
    assert!(!pool.contains(&child.txid()));
    assert!(pool.contains(&first.txid()));
    for txid in pool.txids() {
        for input in &pool.get(&txid).unwrap().tx.inputs {
            assert!(
                tc.chain.coin(&input.prevout).unwrap().is_some(),
                "{txid} spends a missing coin"
            );
        }
    }
    // Mempool policy still prefers the first seen spend...
    assert!(matches!(
        pool.accept(second.clone(), &tc.chain),
        Err(MempoolError::Conflict { .. })
    ));
    // ...but a block may carry the second one, and then the first leaves the pool.
    let b3 = BlockBuilder::on_tip(&tc.chain)
        .tag(b"B")
        .tx(second.clone())
        .fees(fee(1_000, 0, 0))
        .build();
    let out = tc.process(b3.clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    pool.apply_chain_update(&out.update, &tc.chain);
    assert!(pool.is_empty());
    assert!(tc.chain.coin(&outputs_of(&second)[0].0).unwrap().is_some());
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
}
