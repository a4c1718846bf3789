//! The signature cache: signatures verified on mempool entry are recorded and the block
//! that confirms the transaction does not verify them again; nothing else is skipped.

mod common;

use common::*;
use parthenon_chain::{ChainError, Mempool, ValidationError};
use parthenon_primitives::Transaction;

fn matured() -> (TestChain, Vec<parthenon_primitives::Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    (tc, blocks)
}

fn tx_spending(block: &parthenon_primitives::Block) -> Transaction {
    let coin = coinbase_coins(block)[0].clone();
    spend(&[coin], &miner_key(), pubkey(&key(2)), relay_fee())
}

#[test]
fn mempool_entry_records_signatures_and_the_block_connects() {
    let (mut tc, blocks) = matured();
    let tx = tx_spending(&blocks[0]);
    let mut pool = Mempool::new(1 << 20);
    assert!(tc.chain.sig_cache().is_empty());
    pool.accept(tx.clone(), &tc.chain).unwrap();
    assert_eq!(tc.chain.sig_cache().len(), 1);
    let cache = tc.chain.sig_cache();
    let (hits, misses) = (cache.hits(), cache.misses());
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx).build();
    tc.connect(block);
    // The block's one signature was answered by the cache, not verified again (a chainstate
    // that skipped the cache would leave both counters where they were).
    let cache = tc.chain.sig_cache();
    assert_eq!((cache.hits() - hits, cache.misses() - misses), (1, 0));

    // A spend that never went through the mempool is looked up, missed and verified.
    let other = tx_spending(&blocks[1]);
    let (hits, misses) = (cache.hits(), cache.misses());
    let block = BlockBuilder::on_tip(&tc.chain).tx(other).build();
    tc.connect(block);
    let cache = tc.chain.sig_cache();
    assert_eq!((cache.hits() - hits, cache.misses() - misses), (0, 1));
}

#[test]
fn a_cached_signature_is_not_verified_again_but_an_uncached_bad_one_still_fails() {
    let (mut tc, blocks) = matured();
    // A transaction whose signature is wrong (signed for another key's spend)...
    let mut bad = tx_spending(&blocks[0]);
    bad.inputs[0].signature[5] ^= 1;
    let block = BlockBuilder::on_tip(&tc.chain).tx(bad.clone()).build();
    let err = tc.process(block).unwrap_err();
    assert!(matches!(
        err,
        ChainError::InvalidBlock {
            source: ValidationError::InvalidSignature { .. },
            ..
        }
    ));
    // ...is skipped only when that exact (key, sighash, signature) is recorded as verified,
    // which proves connect consults the cache rather than verifying every input.
    let key = pubkey(&miner_key());
    let spent = coinbase_coins(&blocks[0])[0].1.clone();
    let msg =
        parthenon_crypto::signature_hash(&params().genesis_hash(), &bad, 0, &[&spent]).unwrap();
    let sig: [u8; 64] = bad.inputs[0].signature.clone().try_into().unwrap();
    tc.chain.sig_cache().insert(&key, &msg, &sig);
    let block = BlockBuilder::on_tip(&tc.chain)
        .tx(bad)
        .tag(b"again")
        .build();
    tc.connect(block);
}
