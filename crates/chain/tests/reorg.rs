//! Reorganisations between two branches carrying transactions: the coins after a reorg equal
//! those of a node that only ever saw the winning branch, and the reported update names the
//! blocks disconnected and connected.

mod common;

use common::*;
use parthenon_chain::{BlockDisposition, ProcessOutcome};
use parthenon_primitives::{Block, BlockHash};

/// The prefix below the fork: 105 blocks, so coinbases of heights 1..=5 are mature above it.
const PREFIX: usize = 105;

fn disconnected(out: &ProcessOutcome) -> Vec<BlockHash> {
    out.update.disconnected.iter().map(|b| b.hash()).collect()
}

fn connected(out: &ProcessOutcome) -> Vec<(BlockHash, u32)> {
    out.update
        .connected
        .iter()
        .map(|(b, h)| (b.hash(), *h))
        .collect()
}

/// A node fed `prefix` then `branch` in order, which must end on the branch's last block.
fn fresh_node_fed(prefix: &[Block], branch: &[Block]) -> TestChain {
    let mut tc = TestChain::new();
    for b in prefix.iter().chain(branch) {
        tc.connect(b.clone());
    }
    tc
}

#[test]
fn longer_branch_with_transactions_wins_and_coins_match_a_node_that_only_saw_it() {
    let owner = miner_key();
    let alice = pubkey(&key(2));
    let bob = key(3);
    let a_payout = pubkey(&key(4));
    let b_payout = pubkey(&key(5));

    let mut tc = TestChain::new();
    let prefix = tc.mine_empty(PREFIX, pubkey(&owner));
    let fork = tc.chain.tip_hash();
    let fork_height = tc.chain.height();
    let cb = |h: usize| coinbase_coins(&prefix[h - 1]);

    // A spend that both branches carry.
    let shared = spend(&cb(4), &owner, alice, no_fee());

    // Branch A: 3 blocks.
    let a1_tx = spend(&cb(1), &owner, pubkey(&bob), no_fee());
    let a2_tx = spend(&outputs_of(&a1_tx), &bob, alice, no_fee());
    let mut branch_a = Vec::new();
    for txs in [
        vec![a1_tx.clone()],
        vec![a2_tx.clone()],
        vec![shared.clone()],
    ] {
        let parent = branch_a.last().map(Block::hash).unwrap_or(fork);
        let b = BlockBuilder::on(&tc.chain, parent)
            .tag(b"A")
            .payout(a_payout)
            .txs(txs)
            .build();
        let out = tc.process(b.clone()).expect("branch A block");
        assert_eq!(out.disposition, BlockDisposition::Active);
        assert!(out.update.disconnected.is_empty());
        branch_a.push(b);
    }
    assert_eq!(tc.chain.tip_hash(), branch_a[2].hash());
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);

    // Branch B: 7 blocks from the same fork point, with different spends, a spend of an
    // output created in the same block, a chained spend across blocks and the shared spend.
    let b1_tx = spend(&cb(2), &owner, pubkey(&bob), no_fee());
    let b1_child = spend(&outputs_of(&b1_tx), &bob, pubkey(&bob), no_fee());
    let b4_tx = spend(&outputs_of(&b1_child), &bob, alice, no_fee());
    let b5_tx = spend(&cb(3), &owner, alice, no_fee());
    let b_txs = [
        vec![b1_tx.clone(), b1_child.clone()],
        vec![shared.clone()],
        vec![],
        vec![b4_tx.clone()],
        vec![b5_tx.clone()],
        vec![],
        vec![],
    ];
    let mut branch_b: Vec<Block> = Vec::new();
    for (i, txs) in b_txs.into_iter().enumerate() {
        let parent = branch_b.last().map(Block::hash).unwrap_or(fork);
        let b = BlockBuilder::on(&tc.chain, parent)
            .tag(b"B")
            .payout(b_payout)
            .txs(txs)
            .build();
        let out = tc.process(b.clone()).expect("branch B block");
        match i {
            // Less work than A3, then equal work: the first seen branch stays active.
            0..=2 => {
                assert_eq!(out.disposition, BlockDisposition::SideBranch, "B{}", i + 1);
                assert!(out.update.connected.is_empty() && out.update.disconnected.is_empty());
                assert_eq!(tc.chain.tip_hash(), branch_a[2].hash());
            }
            // B4 has more work: reorganise.
            3 => {
                assert_eq!(out.disposition, BlockDisposition::Active);
                let mut a_rev = hashes(&branch_a);
                a_rev.reverse();
                assert_eq!(disconnected(&out), a_rev);
                let expected: Vec<_> = branch_b
                    .iter()
                    .chain([&b])
                    .enumerate()
                    .map(|(k, blk)| (blk.hash(), fork_height + 1 + k as u32))
                    .collect();
                assert_eq!(connected(&out), expected);
            }
            _ => {
                assert_eq!(out.disposition, BlockDisposition::Active);
                assert!(out.update.disconnected.is_empty());
                assert_eq!(
                    connected(&out),
                    vec![(b.hash(), fork_height + 1 + i as u32)]
                );
            }
        }
        branch_b.push(b);
    }
    assert_eq!(tc.chain.tip_hash(), branch_b[6].hash());
    assert_eq!(tc.chain.height(), fork_height + 7);
    assert!(branch_a.iter().all(|b| !tc.chain.is_active(&b.hash())));
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);

    // The coins equal those of a node fed only the prefix and branch B.
    let only_b = fresh_node_fed(&prefix, &branch_b);
    assert_eq!(coin_set(&tc.chain), coin_set(&only_b.chain));
    assert_eq!(tc.chain.stats(), only_b.chain.stats());
    // A-only transactions are gone, the shared one survives, A's coinbases are gone.
    assert!(tc.chain.coin(&outputs_of(&a2_tx)[0].0).unwrap().is_none());
    assert!(
        tc.chain.coin(&cb(1)[0].0).unwrap().is_some(),
        "A1's spend undone"
    );
    assert!(tc.chain.coin(&outputs_of(&shared)[0].0).unwrap().is_some());
    assert!(tc.chain.coin(&outputs_of(&b1_tx)[0].0).unwrap().is_none());
    assert!(tc.chain.coin(&outputs_of(&b4_tx)[0].0).unwrap().is_some());
    assert!(tc
        .chain
        .coin(&coinbase_coins(&branch_a[0])[0].0)
        .unwrap()
        .is_none());

    // Extend A to 8 blocks: the chain reorganises back.
    let a4_tx = spend(&cb(5), &owner, alice, no_fee());
    for i in 3..8 {
        let txs = if i == 3 { vec![a4_tx.clone()] } else { vec![] };
        let b = BlockBuilder::on(&tc.chain, branch_a[i - 1].hash())
            .tag(b"A")
            .payout(a_payout)
            .txs(txs)
            .build();
        let out = tc.process(b.clone()).expect("branch A extension");
        branch_a.push(b);
        if i < 7 {
            assert_eq!(out.disposition, BlockDisposition::SideBranch, "A{}", i + 1);
            assert_eq!(tc.chain.tip_hash(), branch_b[6].hash());
        } else {
            assert_eq!(out.disposition, BlockDisposition::Active);
            let mut b_rev = hashes(&branch_b);
            b_rev.reverse();
            assert_eq!(disconnected(&out), b_rev);
            let expected: Vec<_> = branch_a
                .iter()
                .enumerate()
                .map(|(k, blk)| (blk.hash(), fork_height + 1 + k as u32))
                .collect();
            assert_eq!(connected(&out), expected);
        }
    }
    assert_eq!(tc.chain.tip_hash(), branch_a[7].hash());
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
    let only_a = fresh_node_fed(&prefix, &branch_a);
    assert_eq!(coin_set(&tc.chain), coin_set(&only_a.chain));
    assert_eq!(tc.chain.stats(), only_a.chain.stats());
    assert!(tc.chain.coin(&outputs_of(&b4_tx)[0].0).unwrap().is_none());
    assert!(tc.chain.coin(&outputs_of(&a2_tx)[0].0).unwrap().is_some());
}

#[test]
fn equal_work_sibling_does_not_replace_the_first_seen_tip() {
    let mut tc = TestChain::new();
    tc.mine_empty(3, pubkey(&miner_key()));
    let parent = tc.chain.hash_at(2).unwrap();
    let first = tc.chain.tip_hash();
    let sibling = BlockBuilder::on(&tc.chain, parent).tag(b"sibling").build();
    let out = tc.process(sibling.clone()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::SideBranch);
    assert_eq!(tc.chain.tip_hash(), first);
    // Re-offering either is a duplicate.
    let again = tc.process(sibling).unwrap();
    assert_eq!(again.disposition, BlockDisposition::Duplicate);
    assert_consistent(&tc.chain);
}

#[test]
fn branches_overtaking_each_other_repeatedly_keep_coins_and_supply_consistent() {
    // Two coinbase-only branches race: each in turn grows until it has one block more than
    // the other, so the tip flips at every turn and every flip is a multi-block reorg.
    let mut tc = TestChain::new();
    tc.mine_empty(5, pubkey(&miner_key()));
    let fork = tc.chain.tip_hash();
    let mut tips = [fork, fork];
    let mut lens = [0usize, 0];
    for turn in 0..10 {
        let side = turn % 2;
        let mut reorged = false;
        while lens[side] <= lens[1 - side] {
            let b = BlockBuilder::on(&tc.chain, tips[side])
                .tag(&[side as u8])
                .payout(pubkey(&key(10 + side as u8)))
                .build();
            tips[side] = b.hash();
            lens[side] += 1;
            let out = tc.process(b).unwrap();
            reorged |= !out.update.disconnected.is_empty();
        }
        assert_eq!(tc.chain.tip_hash(), tips[side], "turn {turn}");
        assert_eq!(reorged, turn > 0, "turn {turn} reorganised");
        assert_consistent(&tc.chain);
        assert_supply_is_subsidy(&tc.chain);
    }
    let winner = coin_set(&tc.chain);
    let payout = pubkey(&key(10 + 1));
    assert!(winner
        .values()
        .filter(|c| c.height > 5)
        .all(|c| c.output.script_pubkey == payout));
}
