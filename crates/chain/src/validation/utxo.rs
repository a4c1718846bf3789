//! Stage 3: rules transactions satisfy against the coins they spend.

use super::ValidationError;
use crate::coin::Coin;
use parthenon_primitives::{AssetAmounts, ChainParams, Transaction, Txid};

/// Checks a non-coinbase transaction against the coins it spends (`spent[i]` for input `i`)
/// at `spend_height`, and returns its fee per asset.
pub fn check_tx_against_coins(
    tx: &Transaction,
    txid: Txid,
    spent: &[Coin],
    spend_height: u32,
    params: &ChainParams,
) -> Result<AssetAmounts, ValidationError> {
    check_maturity(tx, spent, spend_height, params)?;
    check_value_conserved(tx, txid, spent)
}

/// Coinbase outputs are spent only after `coinbase_maturity` blocks.
pub fn check_maturity(
    tx: &Transaction,
    spent: &[Coin],
    spend_height: u32,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    for (i, coin) in spent.iter().enumerate() {
        if coin.is_coinbase && spend_height.saturating_sub(coin.height) < params.coinbase_maturity {
            return Err(ValidationError::ImmatureSpend {
                outpoint: tx.inputs[i].prevout,
                coin_height: coin.height,
                spend_height,
            });
        }
    }
    Ok(())
}

/// For every asset, inputs cover outputs; the difference is the fee.
pub fn check_value_conserved(
    tx: &Transaction,
    txid: Txid,
    spent: &[Coin],
) -> Result<AssetAmounts, ValidationError> {
    let mut ins = AssetAmounts::default();
    for c in spent {
        ins.checked_add(c.output.asset, c.output.amount)
            .ok_or(ValidationError::AmountOverflow { txid })?;
    }
    let outs = tx
        .output_totals()
        .ok_or(ValidationError::AmountOverflow { txid })?;
    let mut fee = AssetAmounts::default();
    for (asset, out) in outs.iter() {
        let inp = ins.get(asset);
        if inp < out {
            return Err(ValidationError::ValueNotConserved {
                txid,
                asset,
                inputs: inp,
                outputs: out,
            });
        }
        fee.0[asset as usize] = inp - out;
    }
    Ok(fee)
}

/// The coinbase pays at most subsidy + fees, per asset.
pub fn check_coinbase_claim(
    coinbase: &Transaction,
    fees: &AssetAmounts,
    height: u32,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    let txid = coinbase.txid();
    let claimed = coinbase
        .output_totals()
        .ok_or(ValidationError::AmountOverflow { txid })?;
    for (asset, c) in claimed.iter() {
        let allowed = params
            .subsidy(height, asset)
            .checked_add(fees.get(asset))
            .ok_or(ValidationError::AmountOverflow { txid })?;
        if c > allowed {
            return Err(ValidationError::CoinbaseClaimTooHigh {
                asset,
                claimed: c,
                allowed,
            });
        }
    }
    Ok(())
}
