//! A seeded random simulation checked against an independent model: blocks with random
//! transactions are built on random branches (some of them invalid), delivered in random order
//! (so some wait as orphans), and after every delivery the chainstate's coins must equal the
//! model's coin set of the block it reports as tip, that tip must be a valid block of the
//! greatest connectable height, and the stored state must replay consistently.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{ChainError, ChainUpdate, ChainstateConfig, Coin, Mempool, MempoolPolicy};
use parthenon_crypto::KeyPair;
use parthenon_primitives::{Block, BlockHash, OutPoint, Transaction, TxOut};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap, HashSet};

type Utxos = BTreeMap<OutPoint, Coin>;

/// The coin set after `block` is applied at `height` to `utxos` (no validation: the model
/// is only ever applied to blocks built valid).
fn apply(utxos: &Utxos, block: &Block, height: u32) -> Utxos {
    let mut next = utxos.clone();
    for (i, tx) in block.txs.iter().enumerate() {
        if i > 0 {
            for input in &tx.inputs {
                next.remove(&input.prevout)
                    .expect("model spends an existing coin");
            }
        }
        for (op, output) in outputs_of(tx) {
            next.insert(
                op,
                Coin {
                    output,
                    height,
                    is_coinbase: i == 0,
                },
            );
        }
    }
    next
}

struct Built {
    block: Block,
    height: u32,
    /// The model's coins after this block; `None` for a block built invalid.
    utxos: Option<Utxos>,
}

struct Sim {
    keys: Vec<KeyPair>,
    by_key: HashMap<[u8; 32], usize>,
    built: HashMap<BlockHash, Built>,
    /// Valid blocks in build order (candidates for parents).
    valid: Vec<BlockHash>,
    counter: u32,
}

impl Sim {
    fn key_of(&self, out: &TxOut) -> &KeyPair {
        &self.keys[self.by_key[&out.key().unwrap()]]
    }

    /// A transaction spending `coins` into one or two outputs per asset to random keys.
    fn random_spend(&self, rng: &mut ChaCha8Rng, coins: &[Spendable]) -> Transaction {
        let mut outputs = Vec::new();
        for (_, o) in coins {
            let to = pubkey(self.keys.choose(rng).unwrap());
            if o.amount >= 2 && rng.random_bool(0.5) {
                let part = rng.random_range(1..o.amount);
                outputs.push(TxOut::to_key(o.asset, part, to));
                outputs.push(TxOut::to_key(o.asset, o.amount - part, to));
            } else {
                outputs.push(TxOut::to_key(o.asset, o.amount, to));
            }
        }
        let keys: Vec<&KeyPair> = coins.iter().map(|(_, o)| self.key_of(o)).collect();
        spend_with(coins, &keys, outputs)
    }

    /// Builds a block on `parent`; invalid with probability `p_invalid`.
    fn build(
        &mut self,
        rng: &mut ChaCha8Rng,
        parent: BlockHash,
        p_invalid: f64,
        mut txs: Vec<Transaction>,
    ) -> BlockHash {
        let (parent_block, parent_height, utxos) = {
            let p = &self.built[&parent];
            (
                p.block.clone(),
                p.height,
                p.utxos.clone().expect("valid parent"),
            )
        };
        let height = parent_height + 1;
        let mut spendable: Vec<Spendable> = utxos
            .iter()
            .filter(|(_, c)| !c.is_coinbase || height - c.height >= params().coinbase_maturity)
            .map(|(op, c)| (*op, c.output.clone()))
            .collect();
        let taken: HashSet<OutPoint> = txs
            .iter()
            .flat_map(|t| t.inputs.iter().map(|i| i.prevout))
            .collect();
        spendable.retain(|(op, _)| !taken.contains(op));
        spendable.shuffle(rng);
        for _ in 0..rng.random_range(0..=3) {
            let n = rng.random_range(1..=3).min(spendable.len());
            if n == 0 {
                break;
            }
            let coins: Vec<Spendable> = spendable.drain(..n).collect();
            let tx = self.random_spend(rng, &coins);
            // Sometimes spend an output of it in the same block.
            if rng.random_bool(0.3) {
                let out = outputs_of(&tx)[0].clone();
                let child = self.random_spend(rng, &[out]);
                txs.push(tx);
                txs.push(child);
            } else {
                txs.push(tx);
            }
        }
        self.counter += 1;
        let payout = pubkey(self.keys.choose(rng).unwrap());
        let mut builder = BlockBuilder::child_of(&parent_block, parent_height)
            .tag(&self.counter.to_le_bytes())
            .payout(payout);
        let invalid = rng.random_bool(p_invalid);
        if invalid {
            match rng.random_range(0..4) {
                // Over-claiming coinbase.
                0 => builder = builder.fees(fee(0, 1, 0)),
                // A coin spent twice in the block.
                1 if !txs.is_empty() => {
                    let first = &txs[0];
                    let coins: Vec<Spendable> = first
                        .inputs
                        .iter()
                        .map(|i| (i.prevout, utxos[&i.prevout].output.clone()))
                        .collect();
                    let again = self.random_spend(rng, &coins);
                    if again.txid() == first.txid() {
                        builder = builder.fees(fee(1, 0, 0));
                    } else {
                        txs.push(again);
                    }
                }
                // A spend of a coin that does not exist on this branch.
                2 => {
                    let ghost = (
                        OutPoint::new(parthenon_primitives::Hash256([self.counter as u8; 32]), 0),
                        TxOut::to_key(parthenon_primitives::Asset::Talanton, 1, payout),
                    );
                    txs.push(self.random_spend(rng, &[ghost]));
                }
                // A broken signature (or, without a spend, an over-claim).
                _ => match txs.last_mut() {
                    Some(tx) => tx.inputs[0].signature[0] ^= 0x80,
                    None => builder = builder.fees(fee(0, 0, 1)),
                },
            }
        }
        let block = builder.txs(txs).build();
        let hash = block.hash();
        let utxos = (!invalid).then(|| apply(&utxos, &block, height));
        if !invalid {
            self.valid.push(hash);
        }
        self.built.insert(
            hash,
            Built {
                block,
                height,
                utxos,
            },
        );
        hash
    }
}

/// Every mempool transaction spends unspent, mature coins of the tip, no coin twice.
fn check_pool(pool: &Mempool, tc: &TestChain, seed: u64, step: usize) {
    let mut spent = HashSet::new();
    let mut bytes = 0;
    for txid in pool.txids() {
        let e = pool.get(&txid).unwrap();
        bytes += e.size;
        for input in &e.tx.inputs {
            let coin = tc.chain.coin(&input.prevout).unwrap().unwrap_or_else(|| {
                panic!("seed {seed} step {step}: pool tx {txid} spends a missing coin")
            });
            assert!(
                !coin.is_coinbase
                    || tc.chain.height() + 1 - coin.height >= params().coinbase_maturity,
                "seed {seed} step {step}: pool tx {txid} spends an immature coin"
            );
            assert!(
                spent.insert(input.prevout),
                "seed {seed} step {step}: pool double spend"
            );
            assert_eq!(pool.spender_of(&input.prevout), Some(txid));
        }
    }
    assert_eq!(pool.bytes(), bytes);
}

/// Transactions of disconnected blocks that are still valid on the new tip are back in the
/// pool (unless the pool already spends one of their coins).
fn check_returned_to_pool(
    pool: &Mempool,
    tc: &TestChain,
    update: &ChainUpdate,
    seed: u64,
    step: usize,
) {
    let height = tc.chain.height() + 1;
    for block in &update.disconnected {
        for tx in block.txs.iter().skip(1) {
            let txid = tx.txid();
            let valid_on_tip = tx.inputs.iter().all(|i| {
                tc.chain.coin(&i.prevout).unwrap().is_some_and(|c| {
                    !c.is_coinbase || height - c.height >= params().coinbase_maturity
                })
            });
            let conflicted = tx
                .inputs
                .iter()
                .any(|i| pool.spender_of(&i.prevout).is_some_and(|t| t != txid));
            if valid_on_tip && !conflicted {
                assert!(
                    pool.contains(&txid),
                    "seed {seed} step {step}: disconnected tx {txid} not returned to the pool"
                );
            }
        }
    }
}

/// Runs one seeded simulation; returns (invalid blocks found out, reorganisations).
fn run(seed: u64, prefix: &[Block], steps: usize) -> (usize, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let keys: Vec<KeyPair> = (1..=4).map(key).collect();
    let by_key = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (pubkey(k), i))
        .collect();
    // Odd seeds run with a coins cache far smaller than the coin set, so reads keep going
    // to the store and the cache keeps being cleared.
    let mut tc = TestChain::with_config(ChainstateConfig {
        coins_cache_entries: if seed % 2 == 1 { 5 } else { 1_000_000 },
        ..config()
    });
    let mut utxos = Utxos::new();
    for (i, b) in prefix.iter().enumerate() {
        tc.connect(b.clone());
        utxos = apply(&utxos, b, i as u32 + 1);
    }
    assert_eq!(coin_set(&tc.chain), utxos);
    let base = tc.chain.tip_hash();
    let base_height = tc.chain.height();
    let mut sim = Sim {
        keys,
        by_key,
        built: HashMap::new(),
        valid: vec![base],
        counter: 0,
    };
    sim.built.insert(
        base,
        Built {
            block: prefix.last().unwrap().clone(),
            height: base_height,
            utxos: Some(utxos),
        },
    );
    let mut delivered: HashSet<BlockHash> = HashSet::from([base]);
    let mut pending: Vec<BlockHash> = Vec::new();
    // The model's spends pay no fee and split coins at random (its supply invariant counts
    // on zero fees); relay policy is not what this test is about (tests/mempool.rs is), so
    // the pool admits zero-fee and dust outputs here.
    let mut pool = Mempool::with_policy(
        DEFAULT_MEMPOOL_BYTES,
        MempoolPolicy {
            min_fee_rate: 0,
            dust_threshold: 0,
        },
    );
    let mut invalid_seen = 0;
    let mut reorgs = 0;

    for step in 0..steps + 1_000 {
        if step < steps {
            // Mostly extend one of the highest valid blocks; sometimes fork anywhere.
            let max_h = sim.valid.iter().map(|h| sim.built[h].height).max().unwrap();
            let parent = if rng.random_bool(0.7) {
                let tops: Vec<BlockHash> = sim
                    .valid
                    .iter()
                    .copied()
                    .filter(|h| sim.built[h].height + 1 >= max_h)
                    .collect();
                *tops.choose(&mut rng).unwrap()
            } else {
                *sim.valid.choose(&mut rng).unwrap()
            };
            // A block on the delivered tip may confirm the mempool's transactions.
            let mined = if parent == tc.chain.tip_hash() && rng.random_bool(0.5) {
                pool.select_for_block(usize::MAX).0
            } else {
                Vec::new()
            };
            let h = sim.build(
                &mut rng,
                parent,
                0.15,
                mined.iter().map(|t| (**t).clone()).collect(),
            );
            pending.push(h);
            if !rng.random_bool(0.7) {
                continue;
            }
        } else if pending.is_empty() {
            break;
        }
        // Deliver a random pending block.
        let i = rng.random_range(0..pending.len());
        let hash = pending.swap_remove(i);
        let built = &sim.built[&hash];
        let tip_before = tc.chain.tip_hash();
        match tc.process(built.block.clone()) {
            Ok(out) => {
                assert!(
                    built.utxos.is_some() || !tc.chain.is_active(&hash),
                    "seed {seed} step {step}: an invalid block became active"
                );
                reorgs += usize::from(!out.update.disconnected.is_empty());
                pool.apply_chain_update(&out.update, &tc.chain);
                check_returned_to_pool(&pool, &tc, &out.update, seed, step);
            }
            Err(ChainError::InvalidBlock { hash: bad, .. }) => {
                invalid_seen += 1;
                // An error reports no chain update, so the chain must not have moved.
                assert_eq!(
                    tc.chain.tip_hash(),
                    tip_before,
                    "seed {seed} step {step}: the tip moved on an error"
                );
                assert!(
                    sim.built[&bad].utxos.is_none(),
                    "seed {seed} step {step}: valid block {bad} reported invalid"
                );
            }
            Err(e) => panic!("seed {seed} step {step}: {e}"),
        }
        delivered.insert(hash);

        // Invariants.
        let tip = tc.chain.tip_hash();
        let tip_built = sim
            .built
            .get(&tip)
            .unwrap_or_else(|| panic!("seed {seed} step {step}: unknown tip"));
        let tip_utxos = tip_built
            .utxos
            .as_ref()
            .unwrap_or_else(|| panic!("seed {seed} step {step}: invalid tip"));
        assert_eq!(
            &coin_set(&tc.chain),
            tip_utxos,
            "seed {seed} step {step}: coins differ from the model"
        );
        // The tip has the greatest height among valid blocks whose ancestry is delivered.
        let connectable = |mut h: BlockHash| loop {
            if h == base {
                return true;
            }
            if !delivered.contains(&h) {
                return false;
            }
            h = sim.built[&h].block.header.prev_hash;
        };
        let best = sim
            .valid
            .iter()
            .filter(|h| connectable(**h))
            .map(|h| sim.built[h].height)
            .max()
            .unwrap();
        assert_eq!(
            tc.chain.height(),
            best,
            "seed {seed} step {step}: not the best"
        );
        assert_consistent(&tc.chain);
        assert_supply_is_subsidy(&tc.chain);
        check_pool(&pool, &tc, seed, step);

        // Now and then a wallet spends coins of the tip through the mempool.
        if rng.random_bool(0.4) {
            let height = tc.chain.height() + 1;
            let mut coins: Vec<Spendable> = tip_utxos
                .iter()
                .filter(|(op, c)| {
                    (!c.is_coinbase || height - c.height >= params().coinbase_maturity)
                        && pool.spender_of(op).is_none()
                })
                .map(|(op, c)| (*op, c.output.clone()))
                .collect();
            coins.shuffle(&mut rng);
            coins.truncate(rng.random_range(1..=2));
            if !coins.is_empty() {
                let tx = sim.random_spend(&mut rng, &coins);
                pool.accept(tx, &tc.chain)
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
            }
        }
    }
    assert!(pending.is_empty());
    assert_eq!(tc.chain.orphan_usage(), (0, 0), "seed {seed}: orphans left");
    // Every valid block is indexed as valid; some invalid ones were found out.
    let mut marked = 0;
    for (h, b) in &sim.built {
        let entry = tc.chain.entry(h).expect("every delivered block is indexed");
        match b.utxos {
            Some(_) => assert!(!entry.status.is_invalid(), "seed {seed}: valid {h} marked"),
            None => marked += usize::from(entry.status.is_invalid()),
        }
    }
    assert!(
        marked >= invalid_seen.min(1),
        "seed {seed}: reported but not marked"
    );
    (marked, reorgs)
}

#[test]
fn random_branches_with_invalid_blocks_and_out_of_order_delivery_match_the_model() {
    let mut source = TestChain::new();
    let prefix = source.mine_empty(101, pubkey(&key(1)));
    let seeds: u64 = std::env::var("RANDOM_FORKS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let (mut marked, mut reorgs) = (0, 0);
    for seed in 0..seeds {
        let (m, r) = run(seed, &prefix, 60);
        marked += m;
        reorgs += r;
    }
    // The runs did exercise invalid blocks and reorganisations.
    assert!(marked >= 3, "only {marked} invalid blocks found out");
    assert!(reorgs >= 6, "only {reorgs} reorganisations");
}
