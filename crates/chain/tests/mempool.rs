//! The mempool's size bound and fee-rate eviction, and block templates built from it.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{miner, BlockDisposition, Mempool, MempoolError};
use parthenon_primitives::{Asset, AssetAmounts, Block, Transaction, TxOut};

fn matured(n: usize) -> (TestChain, Vec<Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(n, pubkey(&miner_key()));
    (tc, blocks)
}

/// A one-input one-output TALANTON spend of the coinbase of `block` paying `fee`.
fn small_tx(block: &Block, fee_units: u64) -> Transaction {
    let coin = coinbase_coins(block)[0].clone();
    assert_eq!(coin.1.asset, Asset::Talanton);
    spend(&[coin], &miner_key(), pubkey(&key(2)), fee(fee_units, 0, 0))
}

#[test]
fn full_mempool_evicts_the_lowest_fee_rate_and_refuses_a_lower_newcomer() {
    let (tc, blocks) = matured(106);
    let txs: Vec<Transaction> = [100, 300, 200, 400, 50]
        .iter()
        .enumerate()
        .map(|(i, f)| small_tx(&blocks[i], *f))
        .collect();
    let size = txs[0].encoded_len();
    assert!(txs.iter().all(|t| t.encoded_len() == size));
    // Room for three.
    let mut pool = Mempool::new(3 * size + size / 2);
    for tx in &txs[..3] {
        pool.accept(tx.clone(), &tc.chain).unwrap();
    }
    assert_eq!(pool.len(), 3);
    // 400 evicts the lowest, 100.
    pool.accept(txs[3].clone(), &tc.chain).unwrap();
    assert_eq!(pool.len(), 3);
    assert!(!pool.contains(&txs[0].txid()));
    assert!(pool.bytes() <= 3 * size + size / 2);
    assert_eq!(
        pool.txids(),
        vec![txs[3].txid(), txs[1].txid(), txs[2].txid()],
        "highest fee rate first"
    );
    // The evicted coin is free again for another spend.
    assert_eq!(pool.spender_of(&txs[0].inputs[0].prevout), None);
    // 50 is below everything held: refused, nothing evicted.
    let low_rate = pool.get(&txs[2].txid()).unwrap().fee_rate;
    match pool.accept(txs[4].clone(), &tc.chain) {
        Err(MempoolError::Full { rate, lowest }) => {
            assert_eq!(lowest, low_rate);
            assert!(rate < lowest);
        }
        other => panic!("expected Full, got {other:?}"),
    }
    // Equal to the lowest is refused too.
    let equal = small_tx(&blocks[5], 200);
    assert!(matches!(
        pool.accept(equal, &tc.chain),
        Err(MempoolError::Full { .. })
    ));
    assert_eq!(pool.len(), 3);
}

#[test]
fn refused_newcomer_evicts_nothing() {
    // The pool holds three small transactions (rates 100 < 300 < 500). A large newcomer
    // whose rate beats only the lowest would need two evictions to fit; it is refused, and
    // the lowest must still be there.
    let (tc, blocks) = matured(110);
    let small: Vec<Transaction> = [100, 300, 500]
        .iter()
        .enumerate()
        .map(|(i, f)| small_tx(&blocks[i], *f))
        .collect();
    let size = small[0].encoded_len();
    let cap = 3 * size + 10;
    let mut pool = Mempool::new(cap);
    for tx in &small {
        pool.accept(tx.clone(), &tc.chain).unwrap();
    }
    // Three inputs, one output: about twice a small transaction's size.
    let coins: Vec<_> = (3..6)
        .map(|i| coinbase_coins(&blocks[i])[0].clone())
        .collect();
    let total: u64 = coins.iter().map(|(_, o)| o.amount).sum();
    let big_fee = 2 * 200; // twice the size at about twice the rate of the lowest
    let big = spend_with(
        &coins,
        &[&miner_key(), &miner_key(), &miner_key()],
        vec![TxOut::to_key(
            Asset::Talanton,
            total - big_fee,
            pubkey(&key(2)),
        )],
    );
    assert!(
        big.encoded_len() > size + 10,
        "needs more than one eviction"
    );
    let lowest = pool.get(&small[0].txid()).unwrap().fee_rate;
    let second = pool.get(&small[1].txid()).unwrap().fee_rate;
    let err = pool.accept(big, &tc.chain).unwrap_err();
    match err {
        MempoolError::Full { rate, lowest: l } => {
            assert!(rate > lowest && rate <= second);
            assert_eq!(l, second, "names the rate it could not beat");
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(pool.len(), 3, "a refused newcomer must not evict anything");
    for tx in &small {
        assert!(pool.contains(&tx.txid()));
    }
}

#[test]
fn template_includes_mempool_transactions_and_claims_subsidy_plus_fees() {
    let (mut tc, blocks) = matured(104);
    let owner = miner_key();
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    let fees = [fee(1_000, 0, 0), fee(0, 2_000, 0), fee(3, 4, 5)];
    let mut txids = Vec::new();
    for (i, f) in fees.iter().enumerate() {
        let tx = spend(&coinbase_coins(&blocks[i]), &owner, pubkey(&key(2)), *f);
        txids.push(pool.accept(tx, &tc.chain).unwrap());
    }
    let total = fees.iter().fold(AssetAmounts::default(), |a, f| {
        a.checked_add_all(f).unwrap()
    });
    let payout = pubkey(&key(7));
    let mut template = miner::build_template(&tc.chain, &pool, payout, now(), 1);
    let height = tc.chain.height() + 1;
    assert_eq!(template.height, height);
    assert_eq!(template.fees, total);
    assert_eq!(template.block.txs.len(), 4);
    let mut in_block: Vec<_> = template.block.txs[1..].iter().map(|t| t.txid()).collect();
    in_block.sort();
    txids.sort();
    assert_eq!(in_block, txids);
    let coinbase = &template.block.txs[0];
    assert_eq!(coinbase.lock_time, height);
    for a in Asset::ALL {
        let claimed: u64 = coinbase
            .outputs
            .iter()
            .filter(|o| o.asset == a)
            .map(|o| o.amount)
            .sum();
        assert_eq!(claimed, params().subsidy(height, a) + total.get(a), "{a:?}");
    }
    assert!(coinbase.outputs.iter().all(|o| o.script_pubkey == payout));

    assert!(miner::mine(
        &mut template.block,
        &parthenon_chain::Workers::inline(),
        &std::sync::atomic::AtomicBool::new(false)
    ));
    let block = template.block.clone();
    let out = tc.process(block.clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    pool.remove_for_block(&block);
    assert!(pool.is_empty());
    assert_eq!(pool.bytes(), 0);
    // Fees move value; they do not create it.
    assert_supply_is_subsidy(&tc.chain);
    assert_consistent(&tc.chain);
    // The next template from the empty pool is coinbase-only and connects too.
    let mut next = miner::build_template(&tc.chain, &pool, payout, now(), 2);
    assert_eq!(next.block.txs.len(), 1);
    mine(&mut next.block);
    tc.connect(next.block);
}

#[test]
fn template_respects_fee_rate_order_and_chain_update_clears_confirmed() {
    let (mut tc, blocks) = matured(104);
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    let low = small_tx(&blocks[0], 10);
    let high = small_tx(&blocks[1], 10_000);
    let mid = small_tx(&blocks[2], 500);
    for tx in [&low, &high, &mid] {
        pool.accept(tx.clone(), &tc.chain).unwrap();
    }
    let mut t = miner::build_template(&tc.chain, &pool, pubkey(&miner_key()), now(), 0);
    let order: Vec<_> = t.block.txs[1..].iter().map(|t| t.txid()).collect();
    assert_eq!(order, vec![high.txid(), mid.txid(), low.txid()]);
    mine(&mut t.block);
    let out = tc.process(t.block).unwrap();
    pool.apply_chain_update(&out.update, &tc.chain);
    assert!(pool.is_empty());
    assert_consistent(&tc.chain);
}

#[test]
fn transaction_larger_than_the_whole_pool_is_refused_and_the_bound_holds() {
    let (tc, blocks) = matured(102);
    let tx = small_tx(&blocks[0], 1_000);
    let cap = tx.encoded_len() - 1;
    let mut pool = Mempool::new(cap);
    match pool.accept(tx.clone(), &tc.chain) {
        Err(MempoolError::TooLarge { size, max }) => {
            assert_eq!(size, tx.encoded_len());
            assert_eq!(max, cap);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(pool.is_empty());
    assert_eq!(pool.bytes(), 0);
    // With room for exactly one, it fits.
    let mut pool = Mempool::new(tx.encoded_len());
    pool.accept(tx, &tc.chain).unwrap();
    assert_eq!(
        pool.bytes(),
        pool.len() * small_tx(&blocks[0], 1).encoded_len()
    );
}

#[test]
fn test_accept_judges_like_accept_but_adds_and_evicts_nothing() {
    let (tc, blocks) = matured(105);
    let txs: Vec<Transaction> = [100, 300, 400, 50]
        .iter()
        .enumerate()
        .map(|(i, f)| small_tx(&blocks[i], *f))
        .collect();
    let size = txs[0].encoded_len();
    // Room for two.
    let mut pool = Mempool::new(2 * size + size / 2);
    pool.accept(txs[0].clone(), &tc.chain).unwrap();
    pool.accept(txs[1].clone(), &tc.chain).unwrap();
    let before = (pool.txids(), pool.bytes());

    // 400 would evict 100: allowed, with its fee; but nothing moves.
    let (txid, fees) = pool.test_accept(txs[2].clone(), &tc.chain).unwrap();
    assert_eq!(txid, txs[2].txid());
    assert_eq!(fees, fee(400, 0, 0));
    assert_eq!((pool.txids(), pool.bytes()), before);
    assert_eq!(pool.spender_of(&txs[2].inputs[0].prevout), None);
    // 50 would be refused as accept refuses it.
    assert!(matches!(
        pool.test_accept(txs[3].clone(), &tc.chain),
        Err(MempoolError::Full { .. })
    ));
    // A held transaction and a conflicting one: the same errors as accept.
    assert!(matches!(
        pool.test_accept(txs[1].clone(), &tc.chain),
        Err(MempoolError::AlreadyKnown(_))
    ));
    let conflict = spend(
        &[coinbase_coins(&blocks[1])[0].clone()],
        &miner_key(),
        pubkey(&key(3)),
        fee(1, 0, 0),
    );
    assert!(matches!(
        pool.test_accept(conflict, &tc.chain),
        Err(MempoolError::Conflict { .. })
    ));
    assert_eq!((pool.txids(), pool.bytes()), before);
    // And accept then does what test_accept predicted.
    pool.accept(txs[2].clone(), &tc.chain).unwrap();
    assert!(!pool.contains(&txs[0].txid()));
}
