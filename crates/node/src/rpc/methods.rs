//! The RPC methods, one implementation each.
//!
//! Parameters are positional arrays as in Bitcoin Core, or objects naming them. Where the
//! control socket offers the same operation ([`crate::control::dispatch`]), it calls the
//! function here: [`submit_raw_transaction`], [`txout`], [`mempool_info`], [`raw_mempool`],
//! [`request_stop`]; `getblockchaininfo` extends [`crate::info::chain_info`].
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `getblockchaininfo` | – | chain summary with `initial_block_download`, `verification_progress` |
//! | `getblockcount` | – | height of the active tip |
//! | `getbestblockhash` | – | hash of the active tip |
//! | `getblockhash` | `height` | hash of the active block at `height` (-8 above the tip) |
//! | `getblock` | `blockhash`, `verbosity` = 1 | 0: block hex; 1: JSON with header fields and txids (-5 unknown) |
//! | `gettxout` | `txid`, `vout` or `"u<txid>:<vout>"` | the unspent confirmed coin, or null |
//! | `sendrawtransaction` | `hexstring` | txid, once in the mempool (-22 undecodable, -25/-26 rejected) |
//! | `getrawtransaction`, `decoderawtransaction`, `testmempoolaccept` | see [`super::raw_tx`] | |
//! | `getrawmempool` | – | txids, highest fee rate first |
//! | `getmempoolinfo` | – | `size`, `bytes`, `max_bytes` |
//! | `generate` | `nblocks` | hashes of the blocks mined to the node's wallet (dev network only) |
//! | `getcertinfo` | – | the TLS certificate served to peers (subject, issuer, validity, fingerprint, paths), days left, reload counts, last check and reload |
//! | `stop` | – | asks the node to shut down |
//!
//! The peer methods (`getpeerinfo`, `addnode`, `disconnectnode`, `setban`, `listbanned`, …)
//! are in [`super::net_methods`].

use super::codes;
use crate::control::NodeState;
use crate::dev_node::DevMiner;
use crate::info::{chain_info, coin_json};
use parthenon_chain::clock::{Clock, SystemClock};
use parthenon_chain::{Chainstate, Mempool, MempoolError};
use parthenon_primitives::{serialize, BlockHash, Hash256, Network, OutPoint, Txid};
use serde_json::{json, Value};

/// A tip older than this means the node is still catching up (initial block download).
pub const MAX_TIP_AGE_SECS: u64 = 24 * 60 * 60;
/// Most blocks one `generate` call mines.
pub const MAX_GENERATE: u64 = 10_000;

/// Names of the methods [`call`] serves.
pub const METHODS: &[&str] = &[
    "getblockchaininfo",
    "getblockcount",
    "getbestblockhash",
    "getblockhash",
    "getblock",
    "gettxout",
    "sendrawtransaction",
    "getrawmempool",
    "getmempoolinfo",
    "generate",
    "getnetworkinfo",
    "getcertinfo",
    "stop",
];

/// A failed method: a stable code (see [`codes`]) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct MethodError {
    /// Stable error code.
    pub code: i64,
    /// Human-readable message.
    pub message: String,
}

impl MethodError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        MethodError {
            code,
            message: message.into(),
        }
    }
}

fn invalid_params(message: impl Into<String>) -> MethodError {
    MethodError::new(codes::INVALID_PARAMS, message)
}

fn internal(e: impl std::fmt::Display) -> MethodError {
    MethodError::new(codes::INTERNAL, e.to_string())
}

/// What the methods act on.
#[derive(Clone)]
pub struct RpcContext {
    /// The node's shared chainstate, mempool and shutdown signal.
    pub state: NodeState,
    /// Mines blocks for `generate`; `None` (no dev miner) leaves the method out.
    pub miner: Option<DevMiner>,
    /// The configured AES-256-GCM mode (`crypto.aes`): `getnetworkinfo` reports what it chose
    /// for the keystore and for P2P TLS.
    pub aes: parthenon_crypto::AesMode,
    /// The P2P engine; `None` when the network is disabled.
    pub p2p: Option<parthenon_net::p2p::P2pHandle>,
    /// The certificate served to peers; `None` without TLS.
    pub cert: Option<parthenon_net::tls::CertRotator>,
}

/// Runs `method` with `params` (an array, an object, or null for none).
pub fn call(ctx: &RpcContext, method: &str, params: &Value) -> Result<Value, MethodError> {
    let state = &ctx.state;
    if let Some(r) = super::net_methods::call(ctx.p2p.as_ref(), method, params) {
        return r;
    }
    if let Some(r) = super::raw_tx::call(ctx, method, params) {
        return r;
    }
    match method {
        "getblockchaininfo" => {
            Params::new(params, &[])?;
            let mut info = blockchain_info(&state.chain.read(), SystemClock.now_secs());
            if let Some(net) = super::net_methods::sync_status(ctx.p2p.as_ref()) {
                merge_sync_status(&mut info, net);
            }
            Ok(info)
        }
        "getblockcount" => {
            Params::new(params, &[])?;
            Ok(json!(state.chain.read().height()))
        }
        "getbestblockhash" => {
            Params::new(params, &[])?;
            Ok(json!(state.chain.read().tip_hash().to_hex()))
        }
        "getblockhash" => {
            let p = Params::new(params, &["height"])?;
            let height = p.integer(0)?;
            let chain = state.chain.read();
            u32::try_from(height)
                .ok()
                .and_then(|h| chain.hash_at(h))
                .map(|h| json!(h.to_hex()))
                .ok_or_else(|| {
                    MethodError::new(
                        codes::OUT_OF_RANGE,
                        format!("block height {height} out of range 0..={}", chain.height()),
                    )
                })
        }
        "getblock" => {
            let p = Params::new(params, &["blockhash", "verbosity"])?;
            let hash = p.hash(0)?;
            let verbosity = match p.get(1) {
                None => 1,
                Some(Value::Bool(b)) => i128::from(*b),
                Some(_) => p.integer(1)?,
            };
            if !(0..=1).contains(&verbosity) {
                return Err(MethodError::new(
                    codes::OUT_OF_RANGE,
                    format!("verbosity {verbosity} out of range 0..=1"),
                ));
            }
            get_block(&state.chain.read(), &hash, verbosity == 1)
        }
        "gettxout" => {
            let op = outpoint_param(params)?;
            txout(&state.chain.read(), &op)
        }
        "sendrawtransaction" => {
            let p = Params::new(params, &["hexstring"])?;
            let txid = submit_raw_transaction(state, p.str(0)?)?;
            if let Some(h) = &ctx.p2p {
                h.announce_tx(txid);
            }
            Ok(json!(txid.to_hex()))
        }
        "getrawmempool" => {
            Params::new(params, &[])?;
            Ok(raw_mempool(&state.mempool.lock()))
        }
        "getmempoolinfo" => {
            Params::new(params, &[])?;
            Ok(mempool_info(&state.mempool.lock()))
        }
        "generate" => {
            let Some(miner) = ctx.miner.as_ref() else {
                return Err(MethodError::new(
                    codes::METHOD_NOT_FOUND,
                    "generate is available only on a dev node (`parthenon node --dev`)",
                ));
            };
            let p = Params::new(params, &["nblocks"])?;
            let n = p.integer(0)?;
            let n = u64::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_GENERATE)
                .ok_or_else(|| {
                    MethodError::new(
                        codes::OUT_OF_RANGE,
                        format!("nblocks {n} out of range 0..={MAX_GENERATE}"),
                    )
                })?;
            generate(miner, n)
        }
        "getcertinfo" => {
            Params::new(params, &[])?;
            let Some(r) = &ctx.cert else {
                return Err(MethodError::new(
                    super::net_methods::CLIENT_P2P_DISABLED,
                    "no TLS certificate in service (P2P disabled or --p2p-plaintext)",
                ));
            };
            let status = r.status();
            Ok(json!({
                "certificate": status.current.to_json(),
                "days_remaining": status.days_remaining,
                "expiry": status.expiry,
                "warn_days": status.warn_days,
                "reloads": status.reloads,
                "last_check_unix": status.last_check_unix,
                "last_reload_unix": status.last_reload_unix,
                "last_failure": status.last_failure,
            }))
        }
        "getnetworkinfo" => {
            Params::new(params, &[])?;
            let mut info = network_info(ctx.aes, ctx.cert.is_some())?;
            let net = super::net_methods::network_section(ctx.p2p.as_ref());
            if let (Some(info), Value::Object(net)) = (info.as_object_mut(), net) {
                info.extend(net);
            }
            Ok(info)
        }
        "stop" => {
            Params::new(params, &[])?;
            request_stop(state);
            Ok(json!("parthenon node stopping"))
        }
        other => Err(MethodError::new(
            codes::METHOD_NOT_FOUND,
            format!(
                "method {other:?} not found; methods: {}, {}, {}",
                METHODS.join(", "),
                super::raw_tx::RAW_TX_METHODS.join(", "),
                super::net_methods::NET_METHODS.join(", ")
            ),
        )),
    }
}

/// Parameters of one call, by position, whether given as an array or an object.
pub(crate) struct Params<'a> {
    names: &'static [&'static str],
    values: Vec<Option<&'a Value>>,
}

impl<'a> Params<'a> {
    /// Checks `params` against the method's parameter names (no extras, no unknown names).
    /// A JSON null counts as absent.
    pub(crate) fn new(
        params: &'a Value,
        names: &'static [&'static str],
    ) -> Result<Self, MethodError> {
        let mut values = vec![None; names.len()];
        match params {
            Value::Null => {}
            Value::Array(items) => {
                if items.len() > names.len() {
                    return Err(invalid_params(format!(
                        "takes at most {} parameters ({}), got {}",
                        names.len(),
                        names.join(", "),
                        items.len()
                    )));
                }
                for (slot, v) in values.iter_mut().zip(items) {
                    *slot = Some(v).filter(|v| !v.is_null());
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let i = names.iter().position(|n| n == k).ok_or_else(|| {
                        invalid_params(format!(
                            "unknown parameter {k:?} (parameters: {})",
                            names.join(", ")
                        ))
                    })?;
                    values[i] = Some(v).filter(|v| !v.is_null());
                }
            }
            _ => return Err(invalid_params("params must be an array or an object")),
        }
        Ok(Params { names, values })
    }

    pub(crate) fn get(&self, i: usize) -> Option<&'a Value> {
        self.values[i]
    }

    fn required(&self, i: usize) -> Result<&'a Value, MethodError> {
        self.get(i)
            .ok_or_else(|| invalid_params(format!("missing parameter {:?}", self.names[i])))
    }

    /// An integer parameter (any JSON integer, so range errors can be told apart).
    pub(crate) fn integer(&self, i: usize) -> Result<i128, MethodError> {
        let v = self.required(i)?;
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
            .ok_or_else(|| {
                invalid_params(format!(
                    "parameter {:?} must be an integer, got {v}",
                    self.names[i]
                ))
            })
    }

    pub(crate) fn str(&self, i: usize) -> Result<&'a str, MethodError> {
        let v = self.required(i)?;
        v.as_str().ok_or_else(|| {
            invalid_params(format!(
                "parameter {:?} must be a string, got {v}",
                self.names[i]
            ))
        })
    }

    pub(crate) fn hash(&self, i: usize) -> Result<Hash256, MethodError> {
        let s = self.str(i)?;
        Hash256::from_hex(s)
            .map_err(|e| invalid_params(format!("parameter {:?}: {e}", self.names[i])))
    }
}

/// The outpoint of `gettxout`: `[txid, vout]`, `["u<txid>:<vout>"]`, `{"txid", "vout"}` or
/// `{"outpoint"}`. The text form is parsed by [`OutPoint::parse_key_text`] alone.
fn outpoint_param(params: &Value) -> Result<OutPoint, MethodError> {
    let named_outpoint = params
        .as_object()
        .filter(|m| m.contains_key("outpoint"))
        .map(|m| Params::new(params, &["outpoint"]).map(|_| &m["outpoint"]));
    let one_text = params
        .as_array()
        .filter(|a| a.len() == 1)
        .map(|a| Ok(&a[0]));
    if let Some(v) = named_outpoint.or(one_text) {
        let v = v?;
        let text = v.as_str().ok_or_else(|| {
            invalid_params(format!(
                "expected an outpoint u<txid>:<vout> or the parameters txid, vout; got {v}"
            ))
        })?;
        return OutPoint::parse_key_text(text).map_err(|e| invalid_params(e.to_string()));
    }
    let p = Params::new(params, &["txid", "vout"])?;
    let txid = p.hash(0)?;
    let vout = p.integer(1)?;
    let vout = u32::try_from(vout)
        .map_err(|_| invalid_params(format!("vout {vout} out of range 0..={}", u32::MAX)))?;
    Ok(OutPoint::new(txid, vout))
}

/// Whether a node whose tip has time `tip_time` is still in initial block download at
/// `now`: its tip is more than [`MAX_TIP_AGE_SECS`] old.
pub fn in_initial_block_download(tip_time: u32, now_secs: u64) -> bool {
    now_secs.saturating_sub(u64::from(tip_time)) > MAX_TIP_AGE_SECS
}

/// `getblockchaininfo`: [`chain_info`] plus `initial_block_download` and
/// `verification_progress` (1.0 out of IBD; otherwise tip height over the highest header
/// known, which on a lone node is the tip itself).
pub fn blockchain_info(chain: &Chainstate, now_secs: u64) -> Value {
    let mut info = chain_info(chain);
    let ibd = in_initial_block_download(chain.tip().header.time, now_secs);
    let progress = if ibd {
        let best_header = chain
            .index()
            .entries()
            .filter(|e| !e.status.is_invalid())
            .map(|e| e.height)
            .max()
            .unwrap_or(0);
        if best_header == 0 {
            1.0
        } else {
            f64::from(chain.height()) / f64::from(best_header)
        }
    } else {
        1.0
    };
    info["initial_block_download"] = json!(ibd);
    info["verification_progress"] = json!(progress);
    info
}

/// Adds what the P2P engine knows to `getblockchaininfo`: `headers` (the best header's
/// height); a node behind its best header is in initial block download, and its progress is
/// its height over that header's.
pub fn merge_sync_status(info: &mut Value, net: parthenon_net::p2p::NetStatus) {
    let height = info["height"].as_u64().unwrap_or(0);
    let headers = u64::from(net.header_height).max(height);
    info["headers"] = json!(headers);
    if !net.warnings.is_empty() {
        info["warnings"] = json!(net.warnings.join("; "));
    }
    if headers > height || net.initial_block_download {
        info["initial_block_download"] = json!(true);
        info["verification_progress"] = json!(height as f64 / headers.max(1) as f64);
    }
}

/// `getblock`: the stored block `hash` as hex, or (`verbose`) as JSON.
pub fn get_block(
    chain: &Chainstate,
    hash: &BlockHash,
    verbose: bool,
) -> Result<Value, MethodError> {
    let entry = chain
        .entry(hash)
        .ok_or_else(|| MethodError::new(codes::NOT_FOUND, format!("block {hash} not found")))?;
    let block = chain
        .read_block(hash)
        .map_err(internal)?
        .ok_or_else(|| MethodError::new(codes::MISC, format!("block {hash} has no stored data")))?;
    if !verbose {
        return Ok(json!(hex::encode(serialize(&block))));
    }
    let active = chain.is_active(hash);
    let confirmations = if active {
        i64::from(chain.height() - entry.height) + 1
    } else {
        -1
    };
    let mut v = json!({
        "hash": hash.to_hex(),
        "height": entry.height,
        "confirmations": confirmations,
        "size": block.encoded_len(),
        "version": block.header.version,
        "prev_hash": (entry.height > 0).then(|| block.header.prev_hash.to_hex()),
        "merkle_root": block.header.merkle_root.to_hex(),
        "time": block.header.time,
        "median_time_past": chain.index().median_time_past(hash),
        "bits": format!("{:08x}", block.header.bits),
        "nonce": block.header.nonce,
        "chain_work": entry.chain_work.to_hex(),
        "tx_count": block.txs.len(),
        "txids": block.txs.iter().map(|t| t.txid().to_hex()).collect::<Vec<_>>(),
    });
    if let Some(next) = active.then(|| chain.hash_at(entry.height + 1)).flatten() {
        v["next_hash"] = json!(next.to_hex());
    }
    Ok(v)
}

/// `gettxout` and the control socket's `get_coin`: the unspent confirmed coin at `op` with
/// its confirmations and the tip it was read at, or null.
pub fn txout(chain: &Chainstate, op: &OutPoint) -> Result<Value, MethodError> {
    let Some(coin) = chain.coin(op).map_err(internal)? else {
        return Ok(Value::Null);
    };
    let mut v = coin_json(op, &coin);
    v["confirmations"] = json!(chain.height().saturating_sub(coin.height) + 1);
    v["best_hash"] = json!(chain.tip_hash().to_hex());
    Ok(v)
}

/// `sendrawtransaction` and the control socket's `submit_tx`: decodes `hex_tx` and adds it
/// to the mempool. Resubmitting a transaction the mempool holds returns its txid again.
pub fn submit_raw_transaction(state: &NodeState, hex_tx: &str) -> Result<Txid, MethodError> {
    let tx = super::raw_tx::decode_hex_tx(hex_tx)?;
    let chain = state.chain.read();
    match state.mempool.lock().accept(tx, &chain) {
        Ok(txid) => {
            tracing::info!(%txid, "transaction accepted to the mempool");
            Ok(txid)
        }
        Err(MempoolError::AlreadyKnown(txid)) => Ok(txid),
        Err(e) => Err(super::raw_tx::rejection(e)),
    }
}

/// `getrawmempool`: txids, highest fee rate first.
pub fn raw_mempool(mempool: &Mempool) -> Value {
    mempool.txids().iter().map(|t| json!(t.to_hex())).collect()
}

/// `getmempoolinfo`: transactions held, their encoded bytes and the pool's byte limit.
pub fn mempool_info(mempool: &Mempool) -> Value {
    json!({
        "size": mempool.len(),
        "bytes": mempool.bytes(),
        "max_bytes": mempool.max_bytes(),
    })
}

/// `stop` (and the control socket's): asks the node to shut down.
pub fn request_stop(state: &NodeState) {
    tracing::info!("stop requested");
    state.shutdown.notify_one();
}

/// `generate`: mines `n` blocks on the active tip to the node's wallet now; their hashes.
fn generate(miner: &DevMiner, n: u64) -> Result<Value, MethodError> {
    if miner.state.chain.read().params().network != Network::Dev {
        return Err(MethodError::new(
            codes::METHOD_NOT_FOUND,
            "generate is available only on the dev network",
        ));
    }
    let mut hashes = Vec::new();
    // A block mined while the miner loop extends the tip lands on a side branch; try again
    // then, within a bound so a node that keeps rejecting its own blocks answers.
    let mut attempts_left = n.saturating_mul(4).saturating_add(8);
    while (hashes.len() as u64) < n {
        if miner.stopping() {
            return Err(internal(format!(
                "the node is shutting down; mined {} of {n} blocks",
                hashes.len()
            )));
        }
        if attempts_left == 0 {
            return Err(internal(format!(
                "mined blocks kept failing to extend the chain; mined {} of {n} blocks",
                hashes.len()
            )));
        }
        attempts_left -= 1;
        if let Some(hash) = miner.mine_one() {
            hashes.push(json!(hash.to_hex()));
        }
    }
    Ok(Value::Array(hashes))
}

/// `getnetworkinfo`: the software version and, per use, what the `crypto.aes` setting
/// chose: the keystore's AES-256-GCM path, and the cipher suites P2P TLS offers (`null` when
/// connections are not TLS; each connection's negotiated suite is in `getpeerinfo`). The
/// caller adds the P2P section ([`super::net_methods::network_section`]).
fn network_info(mode: parthenon_crypto::AesMode, tls: bool) -> Result<Value, MethodError> {
    let aes = parthenon_crypto::active_backend(mode)
        .map_err(|e| MethodError::new(codes::INTERNAL, e.to_string()))?;
    let p2p_tls = tls.then(|| {
        let suites = crate::p2p::tls_cipher_suites(mode);
        json!({
            "cipher_suites": suites.suite_names(),
            "aes": suites.uses_aes(),
        })
    });
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "subversion": format!("/parthenon:{}/", env!("CARGO_PKG_VERSION")),
        "aes_gcm": {
            "configured": mode.as_str(),
            "cpu_features": aes.cpu.to_string(),
            "keystore": {
                "path": aes.to_string(),
                "hardware": aes.backend == parthenon_crypto::AeadBackend::Hardware,
                "ghash_pclmulqdq": aes.cpu.pclmulqdq,
            },
            "p2p_tls": p2p_tls,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(header_height: u32, downloading: bool) -> parthenon_net::p2p::NetStatus {
        parthenon_net::p2p::NetStatus {
            listen: None,
            tls: true,
            cert_fingerprint: None,
            inbound: 0,
            outbound: 1,
            header_height,
            initial_block_download: downloading,
            blocks_in_flight: 0,
            known_addresses: 0,
            orphan_txs: 0,
            headers_held: 0,
            header_store_bytes: 0,
            headers_presynced: 0,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_node_behind_its_best_header_is_syncing() {
        let base =
            json!({"height": 50, "initial_block_download": false, "verification_progress": 1.0});
        let mut behind = base.clone();
        merge_sync_status(&mut behind, status(200, true));
        assert_eq!(behind["headers"], 200);
        assert_eq!(behind["initial_block_download"], true);
        assert_eq!(behind["verification_progress"], 0.25);
        let mut synced = base.clone();
        merge_sync_status(&mut synced, status(50, false));
        assert_eq!(synced["headers"], 50);
        assert_eq!(synced["initial_block_download"], false);
        assert_eq!(synced["verification_progress"], 1.0);
    }

    #[test]
    fn a_node_that_cannot_store_headers_says_so_and_is_not_synced() {
        let mut info =
            json!({"height": 50, "initial_block_download": false, "verification_progress": 1.0});
        let mut net = status(50, true);
        net.warnings = vec!["header store full".to_owned()];
        merge_sync_status(&mut info, net);
        assert_eq!(info["warnings"], "header store full");
        assert_eq!(info["initial_block_download"], true);
    }

    #[test]
    fn initial_block_download_means_a_tip_older_than_a_day() {
        let tip = 1_800_000_000u32;
        let now = u64::from(tip);
        assert!(!in_initial_block_download(tip, now));
        assert!(!in_initial_block_download(tip, now + MAX_TIP_AGE_SECS));
        assert!(in_initial_block_download(tip, now + MAX_TIP_AGE_SECS + 1));
        // A tip ahead of the local clock is not behind.
        assert!(!in_initial_block_download(tip, now - 3_600));
    }

    #[test]
    fn params_by_position_or_name() {
        let names = &["a", "b"];
        let v = json!([1, null]);
        let p = Params::new(&v, names).unwrap();
        assert_eq!(p.integer(0).unwrap(), 1);
        assert!(p.get(1).is_none());
        assert_eq!(p.integer(1).unwrap_err().code, codes::INVALID_PARAMS);
        let v = json!({"b": "x"});
        let p = Params::new(&v, names).unwrap();
        assert_eq!(p.str(1).unwrap(), "x");
        assert_eq!(p.integer(1).unwrap_err().code, codes::INVALID_PARAMS);
        let v = json!({"c": 1});
        assert!(Params::new(&v, names).is_err());
        let v = json!([1, 2, 3]);
        assert!(Params::new(&v, names).is_err());
        let v = json!("a");
        assert!(Params::new(&v, names).is_err());
        let v = json!([u64::MAX]);
        assert_eq!(
            Params::new(&v, names).unwrap().integer(0).unwrap(),
            i128::from(u64::MAX)
        );
    }
}
