//! Consistency check: replays the active chain from genesis and compares the result with the
//! stored coins and statistics. Used by `parthenon chain verify` and by crash tests.

use crate::chainstate::Chainstate;
use crate::coin::Coin;
use crate::error::ChainError;
use parthenon_primitives::{AssetAmounts, OutPoint};
use std::collections::HashMap;

/// The outcome of [`verify_chainstate`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    /// Height replayed to (the stored tip).
    pub height: u32,
    /// Coins in the replayed set.
    pub replayed_utxos: u64,
    /// Coins in the store.
    pub stored_utxos: u64,
    /// Supply of the replayed set.
    pub replayed_supply: AssetAmounts,
    /// Supply recorded in the statistics.
    pub recorded_supply: AssetAmounts,
    /// Human-readable differences; empty when consistent.
    pub problems: Vec<String>,
}

impl ReplayReport {
    /// Whether store and replay agree exactly.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

/// At most this many differences are listed.
const MAX_PROBLEMS: usize = 20;

/// The coins of the active chain up to `height`, rebuilt from the block files alone, and
/// the inputs the replay could not resolve (the first 20 are described; any
/// problem means the stored chain is not a valid chain).
///
/// Holds the whole replayed set in memory. Used by [`verify_chainstate`] and by start-up
/// recovery when undo data needed to roll back is missing.
pub fn replay_coins(
    chain: &Chainstate,
    height: u32,
) -> Result<(HashMap<OutPoint, Coin>, Vec<String>), ChainError> {
    let mut utxos: HashMap<OutPoint, Coin> = HashMap::new();
    let mut problems = Vec::new();
    for height in 1..=height {
        let hash = chain
            .hash_at(height)
            .ok_or_else(|| ChainError::Corrupt(format!("no active block at height {height}")))?;
        let block = chain
            .read_block(&hash)?
            .ok_or_else(|| ChainError::Corrupt(format!("active block {hash} has no data")))?;
        for (i, tx) in block.txs.iter().enumerate() {
            let txid = tx.txid();
            if i > 0 {
                for input in &tx.inputs {
                    if utxos.remove(&input.prevout).is_none() && problems.len() < MAX_PROBLEMS {
                        problems.push(format!(
                            "block {height} spends {} which the replay does not have",
                            input.prevout
                        ));
                    }
                }
            }
            for (vout, out) in tx.outputs.iter().enumerate() {
                utxos.insert(
                    OutPoint::new(txid, vout as u32),
                    Coin {
                        output: out.clone(),
                        height,
                        is_coinbase: i == 0,
                    },
                );
            }
        }
    }
    Ok((utxos, problems))
}

/// Replays the active chain from the block files and compares coin by coin.
pub fn verify_chainstate(chain: &Chainstate) -> Result<ReplayReport, ChainError> {
    let (utxos, mut problems) = replay_coins(chain, chain.height())?;
    let mut replayed_supply = AssetAmounts::default();
    for c in utxos.values() {
        replayed_supply.checked_add(c.output.asset, c.output.amount);
    }
    let mut stored = 0u64;
    let mut seen = 0usize;
    chain.for_each_coin(&mut |op, coin| {
        stored += 1;
        match utxos.get(&op) {
            Some(c) if *c == coin => seen += 1,
            Some(_) if problems.len() < MAX_PROBLEMS => {
                problems.push(format!("stored coin {op} differs from the replay"))
            }
            None if problems.len() < MAX_PROBLEMS => {
                problems.push(format!("stored coin {op} is not in the replay"))
            }
            _ => {}
        }
        true
    })?;
    if seen != utxos.len() && problems.len() < MAX_PROBLEMS {
        problems.push(format!(
            "{} replayed coins are missing from the store",
            utxos.len() - seen
        ));
    }
    let stats = chain.stats();
    if stats.utxo_count != utxos.len() as u64 {
        problems.push(format!(
            "statistics count {} coins, the replay {}",
            stats.utxo_count,
            utxos.len()
        ));
    }
    if stats.supply != replayed_supply {
        problems.push(format!(
            "statistics supply {:?} differs from the replay {:?}",
            stats.supply.0, replayed_supply.0
        ));
    }
    Ok(ReplayReport {
        height: chain.height(),
        replayed_utxos: utxos.len() as u64,
        stored_utxos: stored,
        replayed_supply,
        recorded_supply: stats.supply,
        problems,
    })
}
