//! Block templates and the multi-threaded CPU miner.

use crate::chainstate::Chainstate;
use crate::mempool::Mempool;
use crate::validation::context::earliest_block_time;
use crate::workers::Workers;
use parthenon_primitives::block::{merkle_root, MAX_BLOCK_SIZE};
use parthenon_primitives::pow::{hash_to_uint, target_from_compact};
use parthenon_primitives::{
    Asset, AssetAmounts, Block, BlockHeader, ChainParams, OutPoint, Transaction, TxIn, TxOut,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Room kept free in a template for the coinbase.
const COINBASE_RESERVE: usize = 1_000;
/// Tag written into coinbase data after the extra nonce.
const COINBASE_TAG: &[u8] = b"/parthenon/";

/// A block ready to be mined.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// The block with nonce 0.
    pub block: Block,
    /// Its height.
    pub height: u32,
    /// Fees it collects, per asset.
    pub fees: AssetAmounts,
}

/// Builds a block on the current tip paying subsidy and fees of every asset to `payout`.
/// `extra_nonce` goes into the coinbase data so templates of the same second differ.
pub fn build_template(
    chain: &Chainstate,
    mempool: &Mempool,
    payout: [u8; 32],
    now_secs: u64,
    extra_nonce: u64,
) -> BlockTemplate {
    let ctx = chain.next_block_context();
    let params = chain.params();
    let (txs, fees) = mempool.select_for_block(MAX_BLOCK_SIZE - COINBASE_RESERVE);
    let mut data = extra_nonce.to_le_bytes().to_vec();
    data.extend_from_slice(COINBASE_TAG);
    let coinbase = coinbase_transaction(params, ctx.height, payout, &fees, data);
    let mut all = vec![coinbase];
    all.extend(txs.iter().map(|t| (**t).clone()));
    let time = (now_secs.min(u32::MAX as u64) as u32).max(earliest_block_time(&ctx, params));
    let header = BlockHeader {
        version: 1,
        prev_hash: chain.tip_hash(),
        merkle_root: merkle_root(all.iter().map(|t| t.wtxid()).collect()),
        time,
        bits: ctx.expected_bits,
        nonce: 0,
    };
    BlockTemplate {
        block: Block { header, txs: all },
        height: ctx.height,
        fees,
    }
}

/// The coinbase of a block at `height`: the null input carrying `data` (extra nonce, tag),
/// one output per asset paying subsidy plus `fees` to `payout` (zero amounts left out), and
/// `lock_time = height` as consensus requires.
///
/// Consensus requires at least one output. Once every subsidy has run out (from height
/// 7,140,000 on the built-in networks) a block without fees has nothing to pay, so the
/// coinbase then carries one zero-value TALANTON output to `payout`, as the genesis coinbase
/// does: zero-value outputs are valid, and the mempool's dust policy does not apply to
/// coinbases.
pub fn coinbase_transaction(
    params: &ChainParams,
    height: u32,
    payout: [u8; 32],
    fees: &AssetAmounts,
    data: Vec<u8>,
) -> Transaction {
    let mut outputs: Vec<TxOut> = Asset::ALL
        .into_iter()
        .map(|a| TxOut::to_key(a, params.subsidy(height, a) + fees.get(a), payout))
        .filter(|o| o.amount > 0)
        .collect();
    if outputs.is_empty() {
        outputs.push(TxOut::to_key(Asset::Talanton, 0, payout));
    }
    Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::NULL,
            signature: data,
            sequence: u32::MAX,
        }],
        outputs,
        lock_time: height,
    }
}

/// Searches the nonce space of `block` on all workers until a nonce meets the target,
/// `stop` is set, or the space is exhausted. Sets the found nonce and returns true.
pub fn mine(block: &mut Block, workers: &Workers, stop: &AtomicBool) -> bool {
    let Ok(target) = target_from_compact(block.header.bits) else {
        return false;
    };
    let found = AtomicBool::new(false);
    let winner = AtomicU64::new(0);
    let header = block.header;
    workers.broadcast(|i, n| {
        let mut h: BlockHeader = header;
        let mut nonce = i as u64;
        while nonce <= u32::MAX as u64 {
            if nonce % 4096 < n as u64
                && (stop.load(Ordering::Relaxed) || found.load(Ordering::Relaxed))
            {
                return;
            }
            h.nonce = nonce as u32;
            if hash_to_uint(&h.hash()) <= target {
                if !found.swap(true, Ordering::SeqCst) {
                    winner.store(nonce, Ordering::SeqCst);
                }
                return;
            }
            nonce += n as u64;
        }
    });
    if found.load(Ordering::SeqCst) {
        block.header.nonce = winner.load(Ordering::SeqCst) as u32;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{isolation, utxo};
    use parthenon_primitives::Network;

    /// The first height at which every asset's subsidy is zero.
    fn first_height_without_subsidy(params: &ChainParams) -> u32 {
        let eras = Asset::ALL
            .into_iter()
            .map(|a| 64 - a.initial_subsidy().leading_zeros())
            .max()
            .expect("three assets");
        eras * params.halving_interval
    }

    #[test]
    fn coinbases_are_valid_where_subsidies_run_out() {
        for network in Network::ALL {
            let params = network.params();
            let zero = first_height_without_subsidy(params);
            assert_eq!(zero, 7_140_000, "{network}");
            assert!(Asset::ALL.iter().all(|&a| params.subsidy(zero, a) == 0));
            assert!(Asset::ALL.iter().any(|&a| params.subsidy(zero - 1, a) > 0));
            let no_fees = AssetAmounts::default();
            let some_fees = AssetAmounts([0, 7, 0]);
            for height in [zero - 1, zero, zero + 1, u32::MAX] {
                for fees in [no_fees, some_fees] {
                    let cb = coinbase_transaction(params, height, [3; 32], &fees, vec![1, 2]);
                    isolation::check_transaction(&cb)
                        .unwrap_or_else(|e| panic!("{network} height {height}: {e}"));
                    utxo::check_coinbase_claim(&cb, &fees, height, params)
                        .unwrap_or_else(|e| panic!("{network} height {height}: {e}"));
                    assert!(cb.is_coinbase());
                }
            }
            let empty = coinbase_transaction(params, zero, [3; 32], &no_fees, vec![]);
            assert_eq!(
                empty.outputs,
                vec![TxOut::to_key(Asset::Talanton, 0, [3; 32])]
            );
            let fees_only = coinbase_transaction(params, zero, [3; 32], &some_fees, vec![]);
            assert_eq!(
                fees_only.outputs,
                vec![TxOut::to_key(Asset::Drachma, 7, [3; 32])]
            );
        }
    }
}
