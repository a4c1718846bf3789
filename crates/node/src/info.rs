//! The `chain info` summary of a chainstate.

use parthenon_chain::{Chainstate, Coin};
use parthenon_primitives::{Asset, OutPoint};
use serde_json::{json, Value};

/// One JSON object describing the chain: network, height, best hash, cumulative work, UTXO
/// count, supply per asset (base units), median time past and orphans held.
pub fn chain_info(chain: &Chainstate) -> Value {
    let tip = chain.tip();
    let stats = chain.stats();
    let supply: serde_json::Map<String, Value> = Asset::ALL
        .into_iter()
        .map(|a| (a.name().to_string(), json!(stats.supply.get(a))))
        .collect();
    let (orphans, orphan_bytes) = chain.orphan_usage();
    json!({
        "network": chain.params().network.name(),
        "height": chain.height(),
        "best_hash": tip.hash.to_hex(),
        "chain_work": tip.chain_work.to_hex(),
        "utxo_count": stats.utxo_count,
        "supply": supply,
        "tip_time": tip.header.time,
        "median_time_past": chain.index().median_time_past(&tip.hash),
        "orphan_blocks": orphans,
        "orphan_bytes": orphan_bytes,
    })
}

/// One coin as JSON: outpoint (canonical text form), asset, amount, key, height, coinbase.
pub fn coin_json(op: &OutPoint, c: &Coin) -> Value {
    json!({
        "outpoint": op.to_key_text(),
        "asset": c.output.asset.name(),
        "amount": c.output.amount,
        "key": hex::encode(&c.output.script_pubkey),
        "height": c.height,
        "coinbase": c.is_coinbase,
    })
}
