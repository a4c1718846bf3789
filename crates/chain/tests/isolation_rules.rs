//! One test per isolation rule that had none, each asserting the exact error, in a block
//! offered to the chainstate (and in the mempool where the rule is the mempool's).

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{ChainError, Mempool, MempoolError, ValidationError};
use parthenon_primitives::block::{merkle_root, MAX_BLOCK_SIZE};
use parthenon_primitives::transaction::MAX_COINBASE_DATA_LEN;
use parthenon_primitives::{Asset, Block, OutPoint, TxOut};

/// Processes `block`, expects it rejected, and checks the tip did not move.
fn rejection(tc: &mut TestChain, block: &Block) -> ValidationError {
    let tip = tc.chain.tip_hash();
    let err = match tc.process(block.clone()) {
        Err(ChainError::InvalidBlock { hash, source }) => {
            assert_eq!(hash, block.hash());
            source
        }
        other => panic!("expected InvalidBlock, got {other:?}"),
    };
    assert_eq!(tc.chain.tip_hash(), tip);
    err
}

/// A block on the tip holding `tx` (sealed as is, whatever it breaks).
fn block_with(tc: &TestChain, tx: parthenon_primitives::Transaction) -> Block {
    BlockBuilder::on_tip(&tc.chain).tx(tx).build()
}

#[test]
fn duplicated_last_transaction_with_an_unchanged_merkle_root_is_rejected() {
    // CVE-2012-2459: with an odd number of leaves the last is paired with itself, so
    // [cb, a, b] and [cb, a, b, b] have the same merkle root and the same header.
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let a = spend(
        &coinbase_coins(&blocks[0]),
        &owner,
        pubkey(&key(2)),
        no_fee(),
    );
    let b = spend(
        &coinbase_coins(&blocks[1]),
        &owner,
        pubkey(&key(3)),
        no_fee(),
    );
    let good = BlockBuilder::on_tip(&tc.chain).tx(a).tx(b.clone()).build();
    let mut mutated = good.clone();
    mutated.txs.push(b.clone());
    assert_eq!(
        merkle_root(mutated.txs.iter().map(|t| t.wtxid()).collect()),
        good.header.merkle_root
    );
    assert_eq!(mutated.hash(), good.hash());
    assert_eq!(
        rejection(&mut tc, &mutated),
        ValidationError::DuplicateTransaction { txid: b.txid() }
    );
    // The mutation does not poison the header: the real block still connects.
    assert!(tc.chain.entry(&good.hash()).is_none());
    tc.connect(good);
    assert_consistent(&tc.chain);
}

#[test]
fn a_transaction_spending_one_coin_twice_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coin = coinbase_coins(&blocks[0])[0].clone();
    let tx = spend_with(
        &[coin.clone(), coin.clone()],
        &[&owner, &owner],
        vec![TxOut::to_key(
            Asset::Talanton,
            coin.1.amount,
            pubkey(&owner),
        )],
    );
    let expected = ValidationError::DuplicateInput {
        txid: tx.txid(),
        outpoint: coin.0,
    };
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    match pool.accept(tx.clone(), &tc.chain) {
        Err(MempoolError::Invalid(e)) => assert_eq!(*e, expected),
        other => panic!("expected DuplicateInput, got {other:?}"),
    }
    let block = block_with(&tc, tx);
    assert_eq!(rejection(&mut tc, &block), expected);
}

#[test]
fn a_spend_naming_the_null_outpoint_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coin = coinbase_coins(&blocks[0])[0].clone();
    let null = (OutPoint::NULL, coin.1.clone());
    // Two inputs, so the transaction is not a coinbase.
    let tx = spend_with(
        &[coin.clone(), null],
        &[&owner, &owner],
        vec![TxOut::to_key(
            Asset::Talanton,
            coin.1.amount,
            pubkey(&owner),
        )],
    );
    assert!(!tx.is_coinbase());
    let block = block_with(&tc, tx.clone());
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::NullPrevout {
            txid: tx.txid(),
            input: 1,
        }
    );
}

#[test]
fn an_output_above_its_assets_cap_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let max = Asset::Drachma.max_money();
    let tx = spend_with(
        &coinbase_coins(&blocks[0])[..1],
        &[&owner],
        vec![
            TxOut::to_key(Asset::Talanton, 1, pubkey(&owner)),
            TxOut::to_key(Asset::Drachma, max + 1, pubkey(&owner)),
        ],
    );
    let block = block_with(&tc, tx.clone());
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::OutputTooLarge {
            txid: tx.txid(),
            vout: 1,
            asset: Asset::Drachma,
            amount: max + 1,
            max,
        }
    );
}

#[test]
fn outputs_summing_above_an_assets_cap_are_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let max = Asset::Obolos.max_money();
    let tx = spend_with(
        &coinbase_coins(&blocks[0])[..1],
        &[&owner],
        vec![
            TxOut::to_key(Asset::Obolos, max, pubkey(&owner)),
            TxOut::to_key(Asset::Talanton, 1, pubkey(&owner)),
            TxOut::to_key(Asset::Obolos, 1, pubkey(&owner)),
        ],
    );
    let block = block_with(&tc, tx.clone());
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::OutputTotalTooLarge {
            txid: tx.txid(),
            asset: Asset::Obolos,
        }
    );
}

#[test]
fn an_output_script_that_is_not_one_32_byte_key_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coin = coinbase_coins(&blocks[0])[0].clone();
    let mut long = TxOut::to_key(Asset::Talanton, coin.1.amount, pubkey(&owner));
    long.script_pubkey.push(0);
    let tx = spend_with(&[coin], &[&owner], vec![long]);
    let block = block_with(&tc, tx.clone());
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::BadOutputScript {
            txid: tx.txid(),
            vout: 0,
            len: 33,
        }
    );
}

#[test]
fn a_signature_field_that_is_not_64_bytes_is_rejected() {
    let (mut tc, blocks) = matured();
    let mut tx = spend(
        &coinbase_coins(&blocks[0]),
        &miner_key(),
        pubkey(&key(2)),
        no_fee(),
    );
    tx.inputs[2].signature.pop();
    let block = block_with(&tc, tx.clone());
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::BadSignatureLength {
            txid: tx.txid(),
            input: 2,
            len: 63,
        }
    );
}

#[test]
fn coinbase_data_over_100_bytes_is_rejected_and_100_is_accepted() {
    let (mut tc, _) = matured();
    // The builder appends the 4-byte height to the tag.
    let too_long = BlockBuilder::on_tip(&tc.chain)
        .tag(&[7; MAX_COINBASE_DATA_LEN - 3])
        .build();
    assert_eq!(too_long.txs[0].inputs[0].signature.len(), 101);
    assert_eq!(
        rejection(&mut tc, &too_long),
        ValidationError::CoinbaseDataTooLong {
            len: 101,
            max: MAX_COINBASE_DATA_LEN,
        }
    );
    let at_limit = BlockBuilder::on_tip(&tc.chain)
        .tag(&[7; MAX_COINBASE_DATA_LEN - 4])
        .build();
    tc.connect(at_limit);
}

#[test]
fn a_block_over_4_000_000_bytes_is_rejected() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coin = coinbase_coins(&blocks[0])[0].clone();
    // One output whose script alone takes the block over the limit (size is checked before
    // any transaction rule).
    let mut huge = TxOut::to_key(Asset::Talanton, coin.1.amount, pubkey(&owner));
    huge.script_pubkey = vec![1; MAX_BLOCK_SIZE];
    let tx = spend_with(&[coin], &[&owner], vec![huge]);
    let block = block_with(&tc, tx);
    let size = block.encoded_len();
    assert!(size > MAX_BLOCK_SIZE);
    assert_eq!(
        rejection(&mut tc, &block),
        ValidationError::BlockTooLarge {
            size,
            max: MAX_BLOCK_SIZE,
        }
    );
}

#[test]
fn a_coinbase_outside_a_block_is_refused_by_the_mempool() {
    let (tc, blocks) = matured();
    let mut pool = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    match pool.accept(blocks[5].txs[0].clone(), &tc.chain) {
        Err(MempoolError::Invalid(e)) => assert_eq!(*e, ValidationError::LooseCoinbase),
        other => panic!("expected LooseCoinbase, got {other:?}"),
    }
    assert!(pool.is_empty());
}
