//! Block validation verifies signatures in batches on the worker pool: one bad signature
//! among 4,000 is found and named by its transaction and input, and the same block with the
//! signature repaired connects.

mod common;

use common::*;
use parthenon_chain::{ChainError, ValidationError, Workers};
use parthenon_primitives::{Asset, TxOut};

const INPUTS: usize = 4_000;
const BAD_INPUT: usize = 2_345;

#[test]
fn one_bad_signature_among_four_thousand_names_its_input() {
    let owner = miner_key();
    let me = pubkey(&owner);
    let mut tc = TestChain::with_workers(Workers::new(2).unwrap(), config());
    let blocks = tc.mine_empty(101, me);
    // Fan the first coinbase's TALANTON out into 4,000 coins.
    let funds = coinbase_coins(&blocks[0])[0].clone();
    assert_eq!(funds.1.asset, Asset::Talanton);
    let per = funds.1.amount / INPUTS as u64;
    let fan = spend_with(
        std::slice::from_ref(&funds),
        &[&owner],
        (0..INPUTS)
            .map(|_| TxOut::to_key(Asset::Talanton, per, me))
            .collect(),
    );
    let coins = outputs_of(&fan);
    tc.mine_txs(vec![fan]);

    // One transaction spending all 4,000, and a copy with one signature broken.
    let keys = vec![&owner; INPUTS];
    let good = spend_with(
        &coins,
        &keys,
        vec![TxOut::to_key(Asset::Talanton, per * INPUTS as u64, me)],
    );
    let mut bad = good.clone();
    bad.inputs[BAD_INPUT].signature[10] ^= 0x40;

    let bad_block = BlockBuilder::on_tip(&tc.chain).tx(bad.clone()).build();
    match tc.process(bad_block) {
        Err(ChainError::InvalidBlock {
            source:
                ValidationError::InvalidSignature {
                    txid,
                    tx_index,
                    input,
                    outpoint,
                },
            ..
        }) => {
            assert_eq!((tx_index, input), (1, BAD_INPUT));
            assert_eq!(txid, bad.txid());
            assert_eq!(outpoint, coins[BAD_INPUT].0);
        }
        other => panic!("expected InvalidSignature, got {other:?}"),
    }
    let good_block = BlockBuilder::on_tip(&tc.chain)
        .tx(good)
        .tag(b"repaired")
        .build();
    tc.connect(good_block);
    assert_consistent(&tc.chain);
}

/// 1,100 signatures in 11 transactions of 100 inputs: checks go to the workers in chunks of
/// 256 (cut inside transactions too), so the block is verified as five chunks in parallel.
/// Bad signatures in the fourth chunk (transaction 10) and the fifth (transaction 11) are
/// found by different workers in either order; the merge reports the earlier one, and with
/// only the last-chunk one broken, that one is reported.
#[test]
fn invalid_signatures_in_late_chunks_are_merged_to_the_first_in_block_order() {
    const TXS: usize = 11;
    const PER_TX: usize = 100;
    let owner = miner_key();
    let me = pubkey(&owner);
    let mut tc = TestChain::with_workers(Workers::new(2).unwrap(), config());
    let blocks = tc.mine_empty(101, me);
    let funds = coinbase_coins(&blocks[0])[0].clone();
    let per = funds.1.amount / (TXS * PER_TX) as u64;
    let fan = spend_with(
        std::slice::from_ref(&funds),
        &[&owner],
        (0..TXS * PER_TX)
            .map(|_| TxOut::to_key(Asset::Talanton, per, me))
            .collect(),
    );
    let coins = outputs_of(&fan);
    tc.mine_txs(vec![fan]);
    let keys = vec![&owner; PER_TX];
    let good: Vec<_> = coins
        .chunks(PER_TX)
        .map(|c| {
            spend_with(
                c,
                &keys,
                vec![TxOut::to_key(Asset::Talanton, per * PER_TX as u64, me)],
            )
        })
        .collect();
    // Block positions: transaction i of `good` is at tx_index i + 1. Signature number
    // (tx_index - 1) * 100 + input: tx 10 input 20 is the 920th (chunk 4 of 256s), tx 11
    // input 90 the 1,090th (chunk 5, the last).
    let break_sig =
        |txs: &mut Vec<parthenon_primitives::Transaction>, tx_index: usize, input: usize| {
            txs[tx_index - 1].inputs[input].signature[3] ^= 0x08;
        };
    let expect = |txs: &[parthenon_primitives::Transaction], tx_index: usize, input: usize| {
        ValidationError::InvalidSignature {
            txid: txs[tx_index - 1].txid(),
            tx_index,
            input,
            outpoint: txs[tx_index - 1].inputs[input].prevout,
        }
    };
    let verdict = |tc: &mut TestChain, txs: &[parthenon_primitives::Transaction], tag: &[u8]| {
        let block = BlockBuilder::on_tip(&tc.chain)
            .txs(txs.to_vec())
            .tag(tag)
            .build();
        match tc.process(block) {
            Err(ChainError::InvalidBlock { source, .. }) => source,
            other => panic!("expected InvalidSignature, got {other:?}"),
        }
    };

    let mut both = good.clone();
    break_sig(&mut both, 11, 90);
    break_sig(&mut both, 10, 20);
    for round in 0..4u8 {
        assert_eq!(
            verdict(&mut tc, &both, &[b'b', round]),
            expect(&both, 10, 20)
        );
    }
    let mut last_only = good.clone();
    break_sig(&mut last_only, 11, 90);
    assert_eq!(
        verdict(&mut tc, &last_only, b"last"),
        expect(&last_only, 11, 90)
    );

    let block = BlockBuilder::on_tip(&tc.chain)
        .txs(good)
        .tag(b"good")
        .build();
    tc.connect(block);
    assert_consistent(&tc.chain);
}
