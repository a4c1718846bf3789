//! The invariants every run checks.
//!
//! Safety, at every check point of a scenario (during faults and after): no node's best
//! chain spends a coin twice, and no two transactions of its mempool spend one coin; every node's UTXO set equals a replay of its best chain from
//! its block files ([`verify_chainstate`]); every asset's supply equals the subsidy schedule
//! up to the tip (coinbases claim subsidy plus fees, fees only move coins); the mempool and
//! the block orphan pool stay within their bounds; no honest node has banned an honest
//! node's address.
//!
//! Liveness, once the faults stop: within [`LIVENESS_LIMIT`] of simulated time every honest
//! node is on one tip with at least the most work any of them had when the faults stopped,
//! and their UTXO sets have the same digest.

use crate::cluster::{node_name, Cluster};
use parthenon_chain::replay::verify_chainstate;
use parthenon_chain::Chainstate;
use parthenon_primitives::{Asset, OutPoint};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::time::Duration;

/// Simulated time the honest nodes have to agree once the faults stop.
pub const LIVENESS_LIMIT: Duration = Duration::from_secs(180);
/// How long equal-work branches may stay apart before a miner extends one.
pub const TIE_BREAK_AFTER: Duration = Duration::from_secs(20);

/// Name of the double-spend invariant.
pub const NO_DOUBLE_SPEND: &str = "no coin spent twice in a best chain";
/// Name of the mempool conflict invariant.
pub const NO_MEMPOOL_CONFLICT: &str = "no two mempool transactions spend one coin";
/// Name of the replay invariant.
pub const UTXO_IS_REPLAY: &str = "UTXO set equals a replay of the best chain";
/// Name of the supply invariant.
pub const SUPPLY: &str = "per-asset supply equals the subsidy schedule";
/// Name of the bounds invariant.
pub const BOUNDS: &str = "mempool and orphan pool within their bounds";
/// Name of the ban invariant.
pub const NO_HONEST_BAN: &str = "no honest node bans an honest node";
/// Name of the panic invariant.
pub const NO_PANIC: &str = "no panic, no engine stopped";
/// Name of the convergence invariant.
pub const CONVERGENCE: &str = "honest nodes reach one most-work tip after the faults";
/// Name of the UTXO agreement invariant.
pub const SAME_UTXO: &str = "honest nodes have identical UTXO digests after the faults";

/// Whether the best chain of `chain` spends any outpoint twice; the first such outpoint.
fn double_spent(chain: &Chainstate) -> Result<Option<(OutPoint, u32)>, String> {
    let mut spent = HashSet::new();
    for height in 1..=chain.height() {
        let hash = chain
            .hash_at(height)
            .ok_or_else(|| format!("no active block at height {height}"))?;
        let block = chain
            .read_block(&hash)
            .map_err(|e| format!("read block {hash}: {e}"))?
            .ok_or_else(|| format!("active block {hash} has no data"))?;
        for tx in block.txs.iter().skip(1) {
            for input in &tx.inputs {
                if !spent.insert(input.prevout) {
                    return Ok(Some((input.prevout, height)));
                }
            }
        }
    }
    Ok(None)
}

/// SHA-256 over every unspent coin (outpoint and coin bytes) in key order.
pub fn utxo_digest(chain: &Chainstate) -> Result<String, String> {
    let mut h = Sha256::new();
    let mut count = 0u64;
    chain
        .for_each_coin(&mut |op, coin| {
            h.update(op.to_string().as_bytes());
            h.update(coin.to_bytes());
            count += 1;
            true
        })
        .map_err(|e| format!("read the UTXO set: {e}"))?;
    h.update(count.to_le_bytes());
    Ok(hex::encode(h.finalize()))
}

/// Checks the safety invariants on the `honest` nodes; `at` names the check point.
pub fn check_safety(c: &mut Cluster<'_>, honest: &[usize], at: &str) -> Result<(), String> {
    let n = honest.len() as u64;
    for &i in honest {
        let node = &c.nodes[i];
        let chain = node.shared.chain.read();
        let where_ = format!("{} at height {} ({at})", node.name, chain.height());
        if let Some((op, h)) = double_spent(&chain)? {
            return Err(format!(
                "{where_}: the best chain spends {op} twice (again at {h})"
            ));
        }
        let report = verify_chainstate(&chain).map_err(|e| format!("{where_}: replay: {e}"))?;
        if !report.is_consistent() {
            return Err(format!(
                "{where_}: the UTXO set is not the replay of the best chain: {:?}",
                report.problems
            ));
        }
        let height = chain.height();
        for a in Asset::ALL {
            let supply = chain.stats().supply.get(a);
            let expected = chain.params().cumulative_subsidy(height, a);
            if supply != expected {
                return Err(format!(
                    "{where_}: {a:?} supply {supply} is not the subsidy schedule's {expected}"
                ));
            }
        }
        let mempool = node.shared.mempool.lock();
        let mut pool_spent = HashSet::new();
        for txid in mempool.txids() {
            let Some(e) = mempool.get(&txid) else {
                continue;
            };
            for input in &e.tx.inputs {
                if !pool_spent.insert(input.prevout) {
                    return Err(format!(
                        "{where_}: two mempool transactions spend {}",
                        input.prevout
                    ));
                }
            }
        }
        if mempool.bytes() > mempool.max_bytes() {
            return Err(format!(
                "{where_}: mempool holds {} bytes over its bound of {}",
                mempool.bytes(),
                mempool.max_bytes()
            ));
        }
        let (orphans, orphan_bytes) = chain.orphan_usage();
        let cfg = chain.config();
        if orphans > cfg.max_orphans {
            return Err(format!(
                "{where_}: {orphans} orphan blocks ({orphan_bytes} bytes) over the bound of {}",
                cfg.max_orphans
            ));
        }
    }
    c.rec.checked(NO_DOUBLE_SPEND, n);
    c.rec.checked(NO_MEMPOOL_CONFLICT, n);
    c.rec.checked(UTXO_IS_REPLAY, n);
    c.rec.checked(SUPPLY, n);
    c.rec.checked(BOUNDS, n);
    let honest_ips: Vec<_> = honest.iter().map(|&i| c.sim.lookup(node_name(i))).collect();
    for &i in honest {
        let banned = c.nodes[i].banned.lock().clone();
        for subnet in &banned {
            if let Some(ip) = honest_ips.iter().find(|ip| subnet.contains(ip)) {
                let who = c.sim.reverse_lookup(*ip).unwrap_or_else(|| ip.to_string());
                return Err(format!(
                    "node{i} banned {subnet:?}, which holds the honest node {who} ({at})"
                ));
            }
        }
    }
    c.rec.checked(NO_HONEST_BAN, n);
    let t = c.now();
    c.rec.event(t, format!("safety holds ({at})"));
    Ok(())
}

/// The liveness phase: waits until every honest node is on one tip with at least the most
/// work any of them has now, then compares their UTXO digests. Returns the time it took.
///
/// Branches of equal work stay apart until somebody extends one (first seen wins, as in
/// Bitcoin); with `tie_break`, when the nodes have not agreed after [`TIE_BREAK_AFTER`] a
/// random honest node mines one block, as its miner would go on doing.
pub fn check_liveness(
    c: &mut Cluster<'_>,
    honest: &[usize],
    tie_break: bool,
) -> Result<Duration, String> {
    use rand::Rng;
    let target = honest
        .iter()
        .map(|&i| c.nodes[i].shared.chain.read().tip().chain_work)
        .max()
        .ok_or("no honest nodes")?;
    let converged = |c: &Cluster<'_>| {
        c.agree(honest) && c.nodes[honest[0]].shared.chain.read().tip().chain_work >= target
    };
    let start = c.sim.elapsed();
    let took = loop {
        let waited = c.sim.elapsed() - start;
        let left = LIVENESS_LIMIT.saturating_sub(waited);
        let chunk = if tie_break {
            left.min(TIE_BREAK_AFTER)
        } else {
            left
        };
        match c.run_until("all honest nodes on one most-work tip", chunk, converged) {
            Ok(_) => break c.sim.elapsed() - start,
            Err(e) if c.sim.elapsed() - start >= LIVENESS_LIMIT => {
                return Err(format!(
                    "{e} (the last wait of the {LIVENESS_LIMIT:?} liveness phase)"
                ))
            }
            Err(_) => {
                let i = honest[c.rng.random_range(0..honest.len())];
                *c.rec.workload.entry("tie-break blocks").or_default() += 1;
                c.mine(i)?;
            }
        }
    };
    c.rec.checked(CONVERGENCE, honest.len() as u64);
    let digests: Vec<String> = honest
        .iter()
        .map(|&i| utxo_digest(&c.nodes[i].shared.chain.read()))
        .collect::<Result<_, _>>()?;
    if let Some(k) = digests.iter().position(|d| *d != digests[0]) {
        return Err(format!(
            "node{} and node{} share tip {} but not their UTXO set ({} vs {})",
            honest[0],
            honest[k],
            c.nodes[honest[0]].tip(),
            digests[0],
            digests[k]
        ));
    }
    c.rec.checked(SAME_UTXO, honest.len() as u64);
    let t = c.now();
    let tip = c.nodes[honest[0]].tip();
    c.rec.event(
        t,
        format!("converged on {tip} utxo {} in {took:?}", digests[0]),
    );
    c.rec.figure("convergence seconds", took.as_secs_f64());
    Ok(took)
}
