//! What the signature hash commits to, end to end through the mempool and block validation:
//! every txid field (a relay that flips an input's sequence re-ids the transaction and
//! breaks its signature) and the network (a spend signed for main or test is invalid on dev).

mod common;

use common::*;
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{ChainError, Mempool, MempoolError, ValidationError};
use parthenon_crypto::sign_all_inputs;
use parthenon_primitives::{Asset, Block, Network, Transaction, TxOut};

fn matured() -> (TestChain, Vec<Block>) {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    (tc, blocks)
}

fn invalid_signature(tx: &Transaction, tx_index: usize, input: usize) -> ValidationError {
    ValidationError::InvalidSignature {
        txid: tx.txid(),
        tx_index,
        input,
        outpoint: tx.inputs[input].prevout,
    }
}

fn mempool_error(tc: &TestChain, tx: &Transaction) -> ValidationError {
    match Mempool::new(DEFAULT_MEMPOOL_BYTES).accept(tx.clone(), &tc.chain) {
        Err(MempoolError::Invalid(e)) => *e,
        other => panic!("expected an invalid transaction, got {other:?}"),
    }
}

fn block_error(tc: &mut TestChain, tx: &Transaction) -> ValidationError {
    let block = BlockBuilder::on_tip(&tc.chain).tx(tx.clone()).build();
    match tc.process(block) {
        Err(ChainError::InvalidBlock { source, .. }) => source,
        other => panic!("expected an invalid block, got {other:?}"),
    }
}

#[test]
fn a_relayed_sequence_change_re_ids_the_transaction_and_breaks_its_signature() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coins: Vec<Spendable> = blocks[..2]
        .iter()
        .map(|b| coinbase_coins(b)[0].clone())
        .collect();
    // Pays the relay policy's fee, so that the mempool gets as far as the signatures.
    let total = coins[0].1.amount + coins[1].1.amount - relay_fee().get(Asset::Talanton);
    let tx = spend_with(
        &coins,
        &[&owner, &owner],
        vec![TxOut::to_key(Asset::Talanton, total, pubkey(&key(2)))],
    );
    let mut flipped = tx.clone();
    flipped.inputs[1].sequence = 0;
    assert_ne!(flipped.txid(), tx.txid());
    assert_eq!(
        mempool_error(&tc, &flipped),
        invalid_signature(&flipped, 0, 0)
    );
    assert_eq!(
        block_error(&mut tc, &flipped),
        invalid_signature(&flipped, 1, 0)
    );
    // The original is valid.
    Mempool::new(DEFAULT_MEMPOOL_BYTES)
        .accept(tx.clone(), &tc.chain)
        .unwrap();
    tc.mine_txs(vec![tx]);
    assert_consistent(&tc.chain);
}

#[test]
fn spends_signed_for_main_or_test_are_invalid_on_dev() {
    let (mut tc, blocks) = matured();
    let owner = miner_key();
    let coin = coinbase_coins(&blocks[0])[0].clone();
    let unsigned = spend_with(
        std::slice::from_ref(&coin),
        &[&owner],
        vec![TxOut::to_key(
            Asset::Talanton,
            coin.1.amount - relay_fee().get(Asset::Talanton),
            pubkey(&key(2)),
        )],
    );
    for other in [Network::Main, Network::Test] {
        let mut tx = unsigned.clone();
        sign_all_inputs(
            &other.params().genesis_hash(),
            &mut tx,
            &[&coin.1],
            &[&owner],
        )
        .unwrap();
        assert_eq!(
            tx.txid(),
            unsigned.txid(),
            "same transaction, other network"
        );
        assert_eq!(
            mempool_error(&tc, &tx),
            invalid_signature(&tx, 0, 0),
            "{other}"
        );
        assert_eq!(
            block_error(&mut tc, &tx),
            invalid_signature(&tx, 1, 0),
            "{other}"
        );
    }
    // Signed for dev (what `spend_with` does), it is valid.
    tc.mine_txs(vec![unsigned]);
}
