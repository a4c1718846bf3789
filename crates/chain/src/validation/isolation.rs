//! Stage 1: rules a block or transaction satisfies on its own.

use super::ValidationError;
use parthenon_primitives::block::MAX_BLOCK_SIZE;
use parthenon_primitives::pow::check_proof_of_work;
use parthenon_primitives::transaction::MAX_COINBASE_DATA_LEN;
use parthenon_primitives::{AssetAmounts, Block, BlockHeader, ChainParams, Transaction};
use std::collections::HashSet;

/// All isolation checks of a block, in order of cost.
pub fn check_block(block: &Block, params: &ChainParams) -> Result<(), ValidationError> {
    check_header_pow(&block.header, params)?;
    check_block_size(block)?;
    check_coinbase_placement(block)?;
    check_merkle_root(block)?;
    check_no_duplicate_transactions(block)?;
    for tx in &block.txs {
        check_transaction(tx)?;
    }
    Ok(())
}

/// The header meets its own target, and that target is within the network's limit.
pub fn check_header_pow(header: &BlockHeader, params: &ChainParams) -> Result<(), ValidationError> {
    check_proof_of_work(&header.hash(), header.bits, params.pow_limit_bits)?;
    Ok(())
}

/// The serialized block fits [`MAX_BLOCK_SIZE`].
pub fn check_block_size(block: &Block) -> Result<(), ValidationError> {
    let size = block.encoded_len();
    if size > MAX_BLOCK_SIZE {
        return Err(ValidationError::BlockTooLarge {
            size,
            max: MAX_BLOCK_SIZE,
        });
    }
    Ok(())
}

/// Exactly one coinbase, and it comes first.
pub fn check_coinbase_placement(block: &Block) -> Result<(), ValidationError> {
    let first = block.txs.first().ok_or(ValidationError::NoTransactions)?;
    if !first.is_coinbase() {
        return Err(ValidationError::FirstNotCoinbase);
    }
    if let Some(index) = block.txs.iter().skip(1).position(|t| t.is_coinbase()) {
        return Err(ValidationError::ExtraCoinbase { index: index + 1 });
    }
    Ok(())
}

/// The header commits to exactly these transactions.
pub fn check_merkle_root(block: &Block) -> Result<(), ValidationError> {
    if block.compute_merkle_root() != block.header.merkle_root {
        return Err(ValidationError::BadMerkleRoot);
    }
    Ok(())
}

/// No txid twice (closes the duplicated-last-leaf merkle ambiguity, CVE-2012-2459).
pub fn check_no_duplicate_transactions(block: &Block) -> Result<(), ValidationError> {
    let mut seen = HashSet::with_capacity(block.txs.len());
    for tx in &block.txs {
        let txid = tx.txid();
        if !seen.insert(txid) {
            return Err(ValidationError::DuplicateTransaction { txid });
        }
    }
    Ok(())
}

/// Every isolation rule of one transaction.
pub fn check_transaction(tx: &Transaction) -> Result<(), ValidationError> {
    let txid = tx.txid();
    check_has_inputs_and_outputs(tx, txid)?;
    check_output_amounts(tx, txid)?;
    check_output_scripts(tx, txid)?;
    if tx.is_coinbase() {
        check_coinbase_data(tx)?;
    } else {
        check_inputs_distinct_and_not_null(tx, txid)?;
        check_signature_lengths(tx, txid)?;
    }
    Ok(())
}

/// At least one input and one output.
pub fn check_has_inputs_and_outputs(
    tx: &Transaction,
    txid: parthenon_primitives::Txid,
) -> Result<(), ValidationError> {
    if tx.inputs.is_empty() {
        return Err(ValidationError::NoInputs { txid });
    }
    if tx.outputs.is_empty() {
        return Err(ValidationError::NoOutputs { txid });
    }
    Ok(())
}

/// Each output and each per-asset total within the asset's cap.
pub fn check_output_amounts(
    tx: &Transaction,
    txid: parthenon_primitives::Txid,
) -> Result<(), ValidationError> {
    let mut totals = AssetAmounts::default();
    for (vout, o) in tx.outputs.iter().enumerate() {
        let max = o.asset.max_money();
        if o.amount > max {
            return Err(ValidationError::OutputTooLarge {
                txid,
                vout: vout as u32,
                asset: o.asset,
                amount: o.amount,
                max,
            });
        }
        let within = totals.checked_add(o.asset, o.amount).is_some() && totals.get(o.asset) <= max;
        if !within {
            return Err(ValidationError::OutputTotalTooLarge {
                txid,
                asset: o.asset,
            });
        }
    }
    Ok(())
}

/// Every output is locked to one 32-byte x-only key.
pub fn check_output_scripts(
    tx: &Transaction,
    txid: parthenon_primitives::Txid,
) -> Result<(), ValidationError> {
    for (vout, o) in tx.outputs.iter().enumerate() {
        if o.script_pubkey.len() != 32 {
            return Err(ValidationError::BadOutputScript {
                txid,
                vout: vout as u32,
                len: o.script_pubkey.len(),
            });
        }
    }
    Ok(())
}

/// Coinbase data fits its limit.
pub fn check_coinbase_data(tx: &Transaction) -> Result<(), ValidationError> {
    let len = tx.inputs[0].signature.len();
    if len > MAX_COINBASE_DATA_LEN {
        return Err(ValidationError::CoinbaseDataTooLong {
            len,
            max: MAX_COINBASE_DATA_LEN,
        });
    }
    Ok(())
}

/// No coin spent twice by one transaction, and no null outpoint outside a coinbase.
pub fn check_inputs_distinct_and_not_null(
    tx: &Transaction,
    txid: parthenon_primitives::Txid,
) -> Result<(), ValidationError> {
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    for (input, i) in tx.inputs.iter().enumerate() {
        if i.prevout.is_null() {
            return Err(ValidationError::NullPrevout { txid, input });
        }
        if !seen.insert(i.prevout) {
            return Err(ValidationError::DuplicateInput {
                txid,
                outpoint: i.prevout,
            });
        }
    }
    Ok(())
}

/// Every spend carries exactly one 64-byte signature.
pub fn check_signature_lengths(
    tx: &Transaction,
    txid: parthenon_primitives::Txid,
) -> Result<(), ValidationError> {
    for (input, i) in tx.inputs.iter().enumerate() {
        if i.signature.len() != 64 {
            return Err(ValidationError::BadSignatureLength {
                txid,
                input,
                len: i.signature.len(),
            });
        }
    }
    Ok(())
}
