//! One test per consensus rule, each asserting the exact error variant, and the treatment of
//! invalid blocks and their descendants.

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{
    BlockDisposition, ChainError, Mempool, MempoolError, ValidationError, Workers,
};
use parthenon_primitives::{Asset, Block, TxOut};

/// A chain of 101 coinbase-only blocks paying [`miner_key`]; the next block is height 102,
/// where coinbases of heights 1 and 2 are mature and height 3 is not.
fn matured() -> (TestChain, Vec<Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    (tc, blocks)
}

/// Processes `block` and returns the validation error naming it; the tip must not move.
fn rejection(tc: &mut TestChain, block: &Block) -> ValidationError {
    let tip = tc.chain.tip_hash();
    let stats = tc.chain.stats();
    let err = match tc.process(block.clone()) {
        Err(ChainError::InvalidBlock { hash, source }) => {
            assert_eq!(hash, block.hash(), "the error names the offered block");
            source
        }
        other => panic!("expected InvalidBlock, got {other:?}"),
    };
    assert_eq!(tc.chain.tip_hash(), tip, "tip moved on an invalid block");
    assert_eq!(tc.chain.stats(), stats);
    err
}

fn assert_known_invalid(tc: &mut TestChain, block: &Block) {
    match tc.process(block.clone()) {
        Err(ChainError::KnownInvalid { hash }) => assert_eq!(hash, block.hash()),
        other => panic!("expected KnownInvalid, got {other:?}"),
    }
    assert!(tc.chain.entry(&block.hash()).unwrap().status.is_invalid());
}

#[test]
fn invalid_signature_names_the_transaction_and_input() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let c1 = coinbase_coins(&blocks[0])[0].clone();
    let c2 = coinbase_coins(&blocks[1])[0].clone();
    // Pays the policy's fee, so that the mempool gets as far as the signatures.
    let total = c1.1.amount + c2.1.amount - relay_fee().get(Asset::Talanton);
    let mut tx = spend_with(
        &[c1, c2.clone()],
        &[&owner, &owner],
        vec![TxOut::to_key(Asset::Talanton, total, pubkey(&key(2)))],
    );
    tx.inputs[1].signature[10] ^= 0x01;

    // The mempool names input 1 (position 0 outside a block).
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    match pool.accept(tx.clone(), &tc.chain) {
        Err(MempoolError::Invalid(e)) => assert_eq!(
            *e,
            ValidationError::InvalidSignature {
                txid: tx.txid(),
                tx_index: 0,
                input: 1,
                outpoint: c2.0,
            }
        ),
        other => panic!("expected InvalidSignature, got {other:?}"),
    }

    let filler = spend(
        &coinbase_coins(&blocks[0])[1..],
        &owner,
        pubkey(&owner),
        no_fee(),
    );
    let block = BlockBuilder::on_tip(&tc.chain)
        .tx(filler)
        .tx(tx.clone())
        .build();
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::InvalidSignature {
            txid: tx.txid(),
            tx_index: 2,
            input: 1,
            outpoint: c2.0,
        }
    );
    assert_known_invalid(&mut tc, &block);
    assert_consistent(&tc.chain);
}

#[test]
fn signature_by_the_wrong_key_is_invalid() {
    let (mut tc, blocks) = matured();
    let thief = key(9);
    let tx = spend(
        &coinbase_coins(&blocks[0]),
        &thief,
        pubkey(&thief),
        no_fee(),
    );
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx.clone()).build();
    assert!(matches!(
        rejection(&mut tc, &block),
        ValidationError::InvalidSignature { txid, tx_index: 1, input: 0, .. } if txid == tx.txid()
    ));
}

#[test]
fn coinbase_spend_before_maturity_is_rejected_and_accepted_at_maturity() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    // Height 102 spends the coinbase of height 3: 99 confirmations, one short.
    let immature = coinbase_coins(&blocks[2]);
    let tx = spend(&immature, &owner, pubkey(&key(2)), no_fee());
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx.clone()).build();
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::ImmatureSpend {
            outpoint: immature[0].0,
            coin_height: 3,
            spend_height: 102,
        }
    );
    // Exactly 100 blocks later is fine.
    let mature = spend(
        &coinbase_coins(&blocks[1]),
        &owner,
        pubkey(&key(2)),
        no_fee(),
    );
    tc.mine_txs(vec![mature]);
    // And the immature one now is too (height 103).
    tc.mine_txs(vec![tx]);
    assert_consistent(&tc.chain);
}

#[test]
fn coinbase_claiming_more_than_subsidy_plus_fees_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let fees = fee(500, 700, 0);
    let tx = spend(&coinbase_coins(&blocks[0]), &owner, pubkey(&key(2)), fees);
    let height = tc.chain.height() + 1;
    let greedy = BlockBuilder::on_tip(&tc.chain)
        .tx(tx.clone())
        .fees(fee(500, 701, 0))
        .build();
    let subsidy = params().subsidy(height, Asset::Drachma);
    assert_eq!(
        rejection(&mut tc, &greedy),
        ValidationError::CoinbaseClaimTooHigh {
            asset: Asset::Drachma,
            claimed: subsidy + 701,
            allowed: subsidy + 700,
        }
    );
    // Claiming exactly subsidy + fees connects; the supply is still the subsidy alone.
    let exact = BlockBuilder::on_tip(&tc.chain).tx(tx).fees(fees).build();
    tc.connect(exact);
    assert_supply_is_subsidy(&tc.chain);
    assert_consistent(&tc.chain);
}

#[test]
fn coinbase_claiming_fees_without_transactions_is_rejected() {
    let (mut tc, _) = matured();
    let greedy = BlockBuilder::on_tip(&tc.chain).fees(fee(1, 0, 0)).build();
    let height = tc.chain.height() + 1;
    assert_eq!(
        rejection(&mut tc, &greedy),
        ValidationError::CoinbaseClaimTooHigh {
            asset: Asset::Talanton,
            claimed: params().subsidy(height, Asset::Talanton) + 1,
            allowed: params().subsidy(height, Asset::Talanton),
        }
    );
}

#[test]
fn transaction_creating_more_than_it_spends_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coins = coinbase_coins(&blocks[0]);
    let obolos = coins
        .iter()
        .find(|(_, o)| o.asset == Asset::Obolos)
        .unwrap()
        .clone();
    let tx = spend_with(
        std::slice::from_ref(&obolos),
        &[&owner],
        vec![
            TxOut::to_key(Asset::Obolos, obolos.1.amount, pubkey(&key(2))),
            TxOut::to_key(Asset::Obolos, 1, pubkey(&key(2))),
        ],
    );
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx.clone()).build();
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::ValueNotConserved {
            txid: tx.txid(),
            asset: Asset::Obolos,
            inputs: obolos.1.amount,
            outputs: obolos.1.amount + 1,
        }
    );
    // Assets do not substitute for each other: TALANTON in, DRACHMA out.
    let talanton = coins[0].clone();
    assert_eq!(talanton.1.asset, Asset::Talanton);
    let swap = spend_with(
        std::slice::from_ref(&talanton),
        &[&owner],
        vec![TxOut::to_key(Asset::Drachma, 1, pubkey(&key(2)))],
    );
    let block = BlockBuilder::on_tip(&tc.chain).tx(swap.clone()).build();
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::ValueNotConserved {
            txid: swap.txid(),
            asset: Asset::Drachma,
            inputs: 0,
            outputs: 1,
        }
    );
}

#[test]
fn bad_merkle_root_is_rejected_without_poisoning_the_header() {
    let (mut tc, blocks) = matured();
    let tx = spend(
        &coinbase_coins(&blocks[0]),
        &miner_key(),
        pubkey(&key(2)),
        no_fee(),
    );
    let good = BlockBuilder::on_tip(&tc.chain).tx(tx).build();
    let mut stripped = good.clone();
    stripped.txs.truncate(1);
    assert_eq!(stripped.hash(), good.hash(), "same header");
    assert_eq!(
        rejection(&mut tc, &stripped),
        ValidationError::BadMerkleRoot
    );
    assert!(tc.chain.entry(&good.hash()).is_none(), "nothing indexed");
    // The intact block under the same hash is still accepted.
    tc.connect(good);
    assert_consistent(&tc.chain);
}

#[test]
fn wrong_difficulty_bits_are_rejected() {
    let (mut tc, _) = matured();
    let mut block = BlockBuilder::on_tip(&tc.chain).unsealed();
    // A harder target than required still fails: the bits must be exactly the schedule's.
    block.header.bits = 0x207f_fffe;
    mine(&mut block);
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::BadDifficulty {
            got: 0x207f_fffe,
            expected: params().pow_limit_bits,
        }
    );
    assert_known_invalid(&mut tc, &block);
}

#[test]
fn time_not_after_median_time_past_is_rejected() {
    let (mut tc, _) = matured();
    // Block times are genesis time + height, so the median of heights 91..=101 is height 96.
    let median = params().genesis_time + 96;
    assert_eq!(tc.chain.next_block_context().median_time_past, median);
    let old = BlockBuilder::on_tip(&tc.chain).time(median).build();
    assert_eq!(
        rejection(&mut tc, &old),
        ValidationError::TimeTooOld {
            time: median,
            median,
        }
    );
    // One second later is valid, even though it is before the parent's time.
    let ok = BlockBuilder::on_tip(&tc.chain).time(median + 1).build();
    tc.connect(ok);
}

#[test]
fn time_too_far_ahead_is_rejected_now_but_accepted_later() {
    let (mut tc, _) = matured();
    let max = now() + params().max_future_block_time_secs as u64;
    let future = BlockBuilder::on_tip(&tc.chain).time(max as u32 + 1).build();
    assert_eq!(
        rejection(&mut tc, &future),
        ValidationError::TimeTooNew {
            time: max as u32 + 1,
            max,
        }
    );
    // Not marked invalid: an hour later the same block is fine.
    let out = tc
        .chain
        .process_block(future.clone(), now() + 3_600)
        .unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
}

#[test]
fn coinbase_lock_time_other_than_height_is_rejected() {
    let (mut tc, _) = matured();
    let height = tc.chain.height() + 1;
    let mut block = BlockBuilder::on_tip(&tc.chain).unsealed();
    block.txs[0].lock_time = height - 1;
    seal(&mut block);
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::BadCoinbaseHeight {
            lock_time: height - 1,
            height,
        }
    );
    assert_known_invalid(&mut tc, &block);
}

#[test]
fn descendants_of_an_invalid_block_are_rejected_and_stay_rejected() {
    let (mut tc, _) = matured();
    let tip = tc.chain.tip_hash();
    // Invalid only against the UTXO set (found when connecting).
    let bad = BlockBuilder::on_tip(&tc.chain).fees(fee(0, 0, 1)).build();
    assert!(matches!(
        rejection(&mut tc, &bad),
        ValidationError::CoinbaseClaimTooHigh {
            asset: Asset::Obolos,
            ..
        }
    ));
    let child = BlockBuilder::on(&tc.chain, bad.hash()).build();
    assert_eq!(
        rejection(&mut tc, &child),
        ValidationError::InvalidParent { parent: bad.hash() }
    );
    let grandchild = BlockBuilder::on(&tc.chain, child.hash()).build();
    assert_eq!(
        rejection(&mut tc, &grandchild),
        ValidationError::InvalidParent {
            parent: child.hash()
        }
    );
    for b in [&bad, &child, &grandchild] {
        assert_known_invalid(&mut tc, b);
    }
    assert_eq!(tc.chain.tip_hash(), tip);
    // The valid chain continues.
    tc.mine_empty(1, pubkey(&miner_key()));
    assert_consistent(&tc.chain);
}

#[test]
fn orphans_of_an_invalid_block_are_rejected_when_it_arrives() {
    let (mut source, _) = matured();
    let mut tc = TestChain::new();
    for h in 1..=source.chain.height() {
        let b = source
            .chain
            .read_block(&source.chain.hash_at(h).unwrap())
            .unwrap()
            .unwrap();
        tc.connect(b);
    }
    // Build an invalid block and a child on a scratch copy that accepts anything: the
    // source chain indexes the bad block (as invalid), which is enough to build on it.
    let bad = BlockBuilder::on_tip(&source.chain)
        .fees(fee(1, 0, 0))
        .build();
    assert!(source.process(bad.clone()).is_err());
    let child = BlockBuilder::on(&source.chain, bad.hash()).build();
    // The child arrives first and waits; then the bad parent arrives.
    assert_eq!(
        tc.process(child.clone()).unwrap().disposition,
        BlockDisposition::Orphan
    );
    assert!(matches!(
        rejection(&mut tc, &bad),
        ValidationError::CoinbaseClaimTooHigh { .. }
    ));
    // The child is not connected and, once offered again, is rejected for its parent.
    assert!(!tc.chain.is_active(&child.hash()));
    match tc.process(child.clone()) {
        Err(ChainError::KnownInvalid { hash }) => assert_eq!(hash, child.hash()),
        Err(ChainError::InvalidBlock {
            hash,
            source: ValidationError::InvalidParent { parent },
        }) => {
            assert_eq!(hash, child.hash());
            assert_eq!(parent, bad.hash());
        }
        other => panic!("expected the child to be rejected, got {other:?}"),
    }
    assert_consistent(&tc.chain);
}

#[test]
fn longer_branch_with_an_invalid_block_falls_back_to_the_valid_chain() {
    let (mut tc, _) = matured();
    let fork_height = tc.chain.height() - 3;
    let fork = tc.chain.hash_at(fork_height).unwrap();
    let old_tip = tc.chain.tip_hash();
    let before = coin_set(&tc.chain);
    // Side branch: a valid block, an over-claiming block, then valid-looking blocks until
    // the branch has more work than the active chain. Only connecting finds the flaw.
    let mut branch: Vec<Block> = Vec::new();
    for i in 0..5 {
        let parent = branch.last().map(Block::hash).unwrap_or(fork);
        let mut b = BlockBuilder::on(&tc.chain, parent).tag(b"side");
        if i == 1 {
            b = b.fees(fee(0, 1, 0));
        }
        let b = b.build();
        branch.push(b.clone());
        if i < 3 {
            let out = tc.process(b).unwrap();
            assert_eq!(out.disposition, BlockDisposition::SideBranch);
        } else if i == 3 {
            // More work than the active chain: the reorg fails at the second block.
            match tc.process(b) {
                Err(ChainError::InvalidBlock { hash, source }) => {
                    assert_eq!(hash, branch[1].hash());
                    assert!(matches!(
                        source,
                        ValidationError::CoinbaseClaimTooHigh {
                            asset: Asset::Drachma,
                            ..
                        }
                    ));
                }
                other => panic!("expected the reorg to fail, got {other:?}"),
            }
        } else {
            assert_eq!(
                rejection(&mut tc, &b),
                ValidationError::InvalidParent {
                    parent: branch[3].hash()
                }
            );
        }
    }
    assert_eq!(tc.chain.tip_hash(), old_tip);
    assert_eq!(coin_set(&tc.chain), before);
    assert!(!tc
        .chain
        .entry(&branch[0].hash())
        .unwrap()
        .status
        .is_invalid());
    for b in &branch[1..] {
        assert!(tc.chain.entry(&b.hash()).unwrap().status.is_invalid());
    }
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
    // The valid first block of the branch can still win with valid children.
    let mut parent = branch[0].hash();
    for _ in 0..4 {
        let b = BlockBuilder::on(&tc.chain, parent).tag(b"side2").build();
        parent = b.hash();
        tc.process(b).unwrap();
    }
    assert_eq!(tc.chain.tip_hash(), parent);
    assert_eq!(tc.chain.height(), fork_height + 5);
    assert_consistent(&tc.chain);
}

#[test]
fn extra_coinbase_and_missing_coinbase_are_rejected() {
    let (mut tc, _) = matured();
    let mut two = BlockBuilder::on_tip(&tc.chain).unsealed();
    let mut extra = two.txs[0].clone();
    extra.lock_time += 1;
    two.txs.push(extra);
    seal(&mut two);
    assert_eq!(
        rejection(&mut tc, &two),
        ValidationError::ExtraCoinbase { index: 1 }
    );
    let mut none = BlockBuilder::on_tip(&tc.chain).unsealed();
    none.txs.clear();
    seal(&mut none);
    assert_eq!(rejection(&mut tc, &none), ValidationError::NoTransactions);
}

#[test]
fn failed_reorg_to_an_equal_work_branch_returns_to_the_first_seen_tip() {
    // Active: prefix + A1..A3. Side: B1..B3 (equal work, seen later) and B4, which has more
    // work but over-claims. The attempt to reach B4 disconnects A and connects B1..B3; when
    // B4 fails, the chain must go back to A3, the tip it had and saw first, not stay on B3.
    let mut tc = TestChain::new();
    tc.mine_empty(5, pubkey(&miner_key()));
    let fork = tc.chain.tip_hash();
    let mut a = fork;
    for _ in 0..3 {
        let b = BlockBuilder::on(&tc.chain, a).tag(b"A").build();
        a = b.hash();
        tc.connect(b);
    }
    let before = coin_set(&tc.chain);
    let mut parent = fork;
    for _ in 0..3 {
        let b = BlockBuilder::on(&tc.chain, parent)
            .tag(b"B")
            .payout(pubkey(&key(5)))
            .build();
        parent = b.hash();
        assert_eq!(
            tc.process(b).unwrap().disposition,
            BlockDisposition::SideBranch
        );
    }
    let b4 = BlockBuilder::on(&tc.chain, parent)
        .tag(b"B")
        .fees(fee(1, 0, 0))
        .build();
    assert!(matches!(
        rejection(&mut tc, &b4),
        ValidationError::CoinbaseClaimTooHigh { .. }
    ));
    assert_eq!(tc.chain.tip_hash(), a);
    assert_eq!(coin_set(&tc.chain), before);
    assert!(!tc.chain.is_active(&parent));
    assert_consistent(&tc.chain);
    // B3 itself is valid and stays a side branch; a valid B4 makes B the chain.
    assert!(!tc.chain.entry(&parent).unwrap().status.is_invalid());
    let good_b4 = BlockBuilder::on(&tc.chain, parent).tag(b"B").build();
    let out = tc.process(good_b4.clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    assert_eq!(out.update.disconnected.len(), 3);
    assert_eq!(out.update.connected.len(), 4);
    assert_consistent(&tc.chain);
}

#[test]
fn orphans_waiting_on_a_block_invalid_in_context_are_rejected_with_it() {
    let (mut tc, _) = matured();
    let tip = tc.chain.tip_hash();
    // A parent with the wrong bits, and its child, built before the node sees either.
    let mut bad = BlockBuilder::on_tip(&tc.chain).unsealed();
    bad.header.bits = 0x207f_fffe;
    mine(&mut bad);
    let mut child = BlockBuilder::on_tip(&tc.chain).unsealed();
    child.header.prev_hash = bad.hash();
    child.txs[0].lock_time += 1;
    seal(&mut child);
    assert_eq!(
        tc.process(child.clone()).unwrap().disposition,
        BlockDisposition::Orphan
    );
    assert!(matches!(
        rejection(&mut tc, &bad),
        ValidationError::BadDifficulty { .. }
    ));
    // The child does not linger in the orphan pool as if it could still connect.
    assert_eq!(tc.chain.orphan_usage(), (0, 0));
    assert_known_invalid(&mut tc, &child);
    assert_eq!(tc.chain.tip_hash(), tip);
}

#[test]
fn parallel_signature_checks_report_the_first_invalid_input_in_block_order() {
    let mut tc = TestChain::with_workers(Workers::new(2).unwrap(), config());
    let blocks = tc.mine_empty(114, pubkey(&miner_key()));
    let owner = miner_key();
    // 39 coins from the coinbases of heights 1..=13, spent by one transaction (after a small
    // valid one), so the checks are spread over the workers.
    let first = spend(
        &coinbase_coins(&blocks[13]),
        &owner,
        pubkey(&key(2)),
        no_fee(),
    );
    let coins: Vec<Spendable> = blocks[..13].iter().flat_map(coinbase_coins).collect();
    assert_eq!(coins.len(), 39);
    let mut big = spend(&coins, &owner, pubkey(&key(2)), no_fee());
    for i in [35, 33, 38] {
        big.inputs[i].signature[5] ^= 0x10;
    }
    let block = BlockBuilder::on_tip(&tc.chain)
        .tx(first)
        .tx(big.clone())
        .build();
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::InvalidSignature {
            txid: big.txid(),
            tx_index: 2,
            input: 33,
            outpoint: coins[33].0,
        }
    );
    assert_consistent(&tc.chain);
}
