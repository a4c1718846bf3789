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
