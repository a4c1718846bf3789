//! The mempool's size bound and fee-rate eviction, and block templates built from it.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_DUST_THRESHOLD;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{miner, BlockDisposition, Mempool, MempoolError, MempoolPolicy, PolicyError};
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
    let txs: Vec<Transaction> = [1_000, 3_000, 2_000, 4_000, 500]
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
    // 4,000 evicts the lowest, 1,000.
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
    // 500 is below everything held: refused, nothing evicted.
    let low_rate = pool.get(&txs[2].txid()).unwrap().fee_rate;
    match pool.accept(txs[4].clone(), &tc.chain) {
        Err(MempoolError::Full { rate, lowest }) => {
            assert_eq!(lowest, low_rate);
            assert!(rate < lowest);
        }
        other => panic!("expected Full, got {other:?}"),
    }
    // Equal to the lowest is refused too.
    let equal = small_tx(&blocks[5], 2_000);
    assert!(matches!(
        pool.accept(equal, &tc.chain),
        Err(MempoolError::Full { .. })
    ));
    assert_eq!(pool.len(), 3);
}

#[test]
fn refused_newcomer_evicts_nothing() {
    // The pool holds three small transactions (fees 1,000 < 3,000 < 5,000). A large newcomer
    // whose rate beats only the lowest would need two evictions to fit; it is refused, and
    // the lowest must still be there.
    let (tc, blocks) = matured(110);
    let small: Vec<Transaction> = [1_000, 3_000, 5_000]
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
    let big_fee = 2 * 2_000; // twice the size at about twice the rate of the lowest
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
    let fees = [fee(1_000, 0, 0), fee(0, 2_000, 0), fee(300, 400, 500)];
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
    let low = small_tx(&blocks[0], 300);
    let high = small_tx(&blocks[1], 10_000);
    let mid = small_tx(&blocks[2], 1_000);
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

/// A TALANTON coinbase coin of `block` spent into `outputs` (their amounts are taken from
/// the coin, the rest is the fee).
fn spend_into(block: &Block, outputs: Vec<TxOut>) -> Transaction {
    let coin = coinbase_coins(block)[0].clone();
    spend_with(&[coin], &[&miner_key()], outputs)
}

#[test]
fn relay_policy_boundaries_each_rule_named_in_the_error() {
    let (tc, blocks) = matured(106);
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    assert_eq!(*pool.policy(), MempoolPolicy::default());
    let amount = coinbase_coins(&blocks[0])[0].1.amount;
    let to = pubkey(&key(2));

    // Minimum fee: exactly 1 base unit per byte is enough, one unit less is not. The size
    // does not depend on the amounts (fixed width), so one probe gives it.
    let size =
        spend_into(&blocks[0], vec![TxOut::to_key(Asset::Talanton, 1, to)]).encoded_len() as u64;
    let short = spend_into(
        &blocks[0],
        vec![TxOut::to_key(Asset::Talanton, amount - size + 1, to)],
    );
    match pool.accept(short, &tc.chain) {
        Err(MempoolError::Policy(PolicyError::FeeTooLow { fee, size: s, .. })) => {
            assert_eq!((fee, s as u64), (u128::from(size) - 1, size))
        }
        other => panic!("expected FeeTooLow, got {other:?}"),
    }
    let exact = spend_into(
        &blocks[0],
        vec![TxOut::to_key(Asset::Talanton, amount - size, to)],
    );
    pool.accept(exact, &tc.chain).unwrap();

    // Dust: an output of exactly the threshold passes, one unit less is refused.
    let dust = DEFAULT_DUST_THRESHOLD;
    let change = |b: &Block| coinbase_coins(b)[0].1.amount - dust - 1_000;
    let below = spend_into(
        &blocks[1],
        vec![
            TxOut::to_key(Asset::Talanton, change(&blocks[1]), to),
            TxOut::to_key(Asset::Talanton, dust - 1, to),
        ],
    );
    let err = pool.accept(below, &tc.chain).unwrap_err();
    assert!(
        matches!(err, MempoolError::Policy(PolicyError::Dust { vout: 1, .. })),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("policy dust:"), "{err}");
    let at = spend_into(
        &blocks[1],
        vec![
            TxOut::to_key(Asset::Talanton, change(&blocks[1]), to),
            TxOut::to_key(Asset::Talanton, dust, to),
        ],
    );
    pool.accept(at, &tc.chain).unwrap();

    // Output keys: x = 5 is not on the curve (5^3 + 7 is not a square mod p), x = 1 is.
    let mut off_curve = [0u8; 32];
    off_curve[31] = 5;
    let mut on_curve = [0u8; 32];
    on_curve[31] = 1;
    let pay = |b: &Block, key| {
        spend_into(
            b,
            vec![TxOut::to_key(
                Asset::Talanton,
                coinbase_coins(b)[0].1.amount - 1_000,
                key,
            )],
        )
    };
    let err = pool
        .accept(pay(&blocks[2], off_curve), &tc.chain)
        .unwrap_err();
    assert!(
        matches!(
            err,
            MempoolError::Policy(PolicyError::InvalidOutputKey { vout: 0 })
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("policy output-key:"), "{err}");
    pool.accept(pay(&blocks[2], on_curve), &tc.chain).unwrap();
    assert_eq!(pool.len(), 3);
}

#[test]
fn relay_policy_is_not_consensus() {
    // A zero-fee transaction with a zero-value output to a key off the curve: the mempool
    // refuses it, a block may carry it.
    let (mut tc, blocks) = matured(102);
    let mut off_curve = [0u8; 32];
    off_curve[31] = 5;
    let amount = coinbase_coins(&blocks[0])[0].1.amount;
    let tx = spend_into(
        &blocks[0],
        vec![
            TxOut::to_key(Asset::Talanton, amount, pubkey(&key(2))),
            TxOut::to_key(Asset::Talanton, 0, off_curve),
        ],
    );
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    assert!(matches!(
        pool.accept(tx.clone(), &tc.chain),
        Err(MempoolError::Policy(_))
    ));
    tc.mine_txs(vec![tx]);
    assert_consistent(&tc.chain);
    // A pool configured without fee and dust rules admits a zero-fee spend.
    let mut lax = Mempool::with_policy(
        DEFAULT_MEMPOOL_BYTES,
        MempoolPolicy {
            min_fee_rate: 0,
            dust_threshold: 0,
        },
    );
    let free = spend_into(
        &blocks[1],
        vec![TxOut::to_key(
            Asset::Talanton,
            coinbase_coins(&blocks[1])[0].1.amount,
            pubkey(&key(3)),
        )],
    );
    lax.accept(free, &tc.chain).unwrap();
}

#[test]
fn test_accept_judges_like_accept_but_adds_and_evicts_nothing() {
    let (tc, blocks) = matured(105);
    let txs: Vec<Transaction> = [1_000, 3_000, 4_000, 500]
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

    // 4,000 would evict 1,000: allowed, with its fee; but nothing moves.
    let (txid, fees) = pool.test_accept(txs[2].clone(), &tc.chain).unwrap();
    assert_eq!(txid, txs[2].txid());
    assert_eq!(fees, fee(4_000, 0, 0));
    assert_eq!((pool.txids(), pool.bytes()), before);
    assert_eq!(pool.spender_of(&txs[2].inputs[0].prevout), None);
    // 500 would be refused as accept refuses it.
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
