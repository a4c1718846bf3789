//! The raw-transaction methods: `getrawtransaction`, `decoderawtransaction`,
//! `testmempoolaccept` (`sendrawtransaction` is in [`super::methods`]; both submitters share
//! [`rejection`], so a transaction refused by one is refused by the other with the same
//! reason).
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `getrawtransaction` | `txid`, `verbose` = false, `blockhash` | hex, or (verbose) [`tx_json`] plus `hex` and, from a block, `blockhash`, `confirmations`, `in_active_chain`, `time` |
//! | `decoderawtransaction` | `hexstring` | [`tx_json`] |
//! | `testmempoolaccept` | `rawtxs` (array of hex, at most [`MAX_TEST_ACCEPT`]) | per transaction `txid`, `wtxid`, `allowed`, and `size` + `fees` or `reject-reason` + `reject-code` |
//!
//! The node keeps no transaction index: without `blockhash`, `getrawtransaction` finds only
//! mempool transactions and says so when it finds nothing.

use super::codes;
use super::methods::{MethodError, Params, RpcContext};
use parthenon_chain::{Mempool, MempoolError, ValidationError};
use parthenon_primitives::{deserialize, serialize, Asset, AssetAmounts, OutPoint, Transaction};
use serde_json::{json, Value};

/// Names of the methods [`call`] serves.
pub const RAW_TX_METHODS: &[&str] = &[
    "getrawtransaction",
    "decoderawtransaction",
    "testmempoolaccept",
];

/// Most transactions one `testmempoolaccept` call checks (Bitcoin Core's package limit).
pub const MAX_TEST_ACCEPT: usize = 25;

/// Runs a raw-transaction method, or `None` when `method` is not one.
pub fn call(ctx: &RpcContext, method: &str, params: &Value) -> Option<Result<Value, MethodError>> {
    Some(match method {
        "getrawtransaction" => get_raw_transaction(ctx, params),
        "decoderawtransaction" => Params::new(params, &["hexstring"])
            .and_then(|p| decode_hex_tx(p.str(0)?))
            .map(|tx| tx_json(&tx)),
        "testmempoolaccept" => test_mempool_accept(ctx, params),
        _ => return None,
    })
}

/// Decodes a transaction from hex: -22 for bad hex, a decode error or trailing bytes.
pub fn decode_hex_tx(hex_tx: &str) -> Result<Transaction, MethodError> {
    let decode_error = |m: String| MethodError::new(codes::DESERIALIZATION_ERROR, m);
    let bytes = hex::decode(hex_tx).map_err(|e| decode_error(format!("transaction hex: {e}")))?;
    deserialize(&bytes).map_err(|e| decode_error(format!("transaction decode failed: {e}")))
}

/// The RPC error for a transaction the mempool refused: -25 when an input is not an unspent
/// coin, -26 for any other rule. The message is the mempool's reason, word for word.
/// A failure to read the chainstate is an internal error, not a verdict on the transaction.
pub fn rejection(e: MempoolError) -> MethodError {
    let code = match &e {
        MempoolError::Chain(_) => codes::INTERNAL,
        MempoolError::Invalid(v) if matches!(**v, ValidationError::MissingInput { .. }) => {
            codes::TX_VERIFY_ERROR
        }
        _ => codes::TX_REJECTED,
    };
    MethodError::new(code, e.to_string())
}

/// A transaction as JSON: `txid`, `wtxid`, `size` (bytes), `version`, `inputs` (each its
/// `outpoint` in the canonical form `u<txid>:<vout>`, `signature` hex and `sequence`; a
/// coinbase input shows `coinbase` data instead), `outputs` (each `n`, its own `outpoint`,
/// `asset`, `amount` in base units and `key`) and `lock_time`.
pub fn tx_json(tx: &Transaction) -> Value {
    let txid = tx.txid();
    let coinbase = tx.is_coinbase();
    let inputs: Vec<Value> = tx
        .inputs
        .iter()
        .map(|i| {
            if coinbase {
                json!({ "coinbase": hex::encode(&i.signature), "sequence": i.sequence })
            } else {
                json!({
                    "outpoint": i.prevout.to_key_text(),
                    "signature": hex::encode(&i.signature),
                    "sequence": i.sequence,
                })
            }
        })
        .collect();
    let outputs: Vec<Value> = tx
        .outputs
        .iter()
        .zip(0u32..)
        .map(|(o, n)| {
            json!({
                "n": n,
                "outpoint": OutPoint::new(txid, n).to_key_text(),
                "asset": o.asset.name(),
                "amount": o.amount,
                "key": hex::encode(&o.script_pubkey),
            })
        })
        .collect();
    json!({
        "txid": txid.to_hex(),
        "wtxid": tx.wtxid().to_hex(),
        "size": tx.encoded_len(),
        "version": tx.version,
        "inputs": inputs,
        "outputs": outputs,
        "lock_time": tx.lock_time,
    })
}

/// Fees per asset in base units, every asset named.
fn fees_json(fees: &AssetAmounts) -> Value {
    Asset::ALL
        .into_iter()
        .map(|a| (a.name().to_string(), json!(fees.get(a))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn get_raw_transaction(ctx: &RpcContext, params: &Value) -> Result<Value, MethodError> {
    let p = Params::new(params, &["txid", "verbose", "blockhash"])?;
    let txid = p.hash(0)?;
    let verbose = match p.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => match p.integer(1)? {
            0 => false,
            1 => true,
            other => {
                return Err(MethodError::new(
                    codes::OUT_OF_RANGE,
                    format!("verbose {other} out of range 0..=1"),
                ))
            }
        },
    };
    if p.get(2).is_none() {
        let tx = ctx
            .state
            .mempool
            .lock()
            .get(&txid)
            .map(|e| e.tx.clone())
            .ok_or_else(|| {
                MethodError::new(
                    codes::NOT_FOUND,
                    format!(
                        "no mempool transaction {txid}; this node keeps no transaction index, \
                         so a confirmed transaction is found only in a given block: \
                         getrawtransaction {txid} true <blockhash>"
                    ),
                )
            })?;
        return Ok(raw_or_verbose(&tx, verbose));
    }
    let block_hash = p.hash(2)?;
    let chain = ctx.state.chain.read();
    let entry = chain.entry(&block_hash).ok_or_else(|| {
        MethodError::new(codes::NOT_FOUND, format!("block {block_hash} not found"))
    })?;
    let block = chain
        .read_block(&block_hash)
        .map_err(|e| MethodError::new(codes::INTERNAL, e.to_string()))?
        .ok_or_else(|| {
            MethodError::new(
                codes::MISC,
                format!("block {block_hash} has no stored data"),
            )
        })?;
    let tx = block.txs.iter().find(|t| t.txid() == txid).ok_or_else(|| {
        MethodError::new(
            codes::NOT_FOUND,
            format!("no transaction {txid} in block {block_hash}"),
        )
    })?;
    let mut v = raw_or_verbose(tx, verbose);
    if verbose {
        let active = chain.is_active(&block_hash);
        v["blockhash"] = json!(block_hash.to_hex());
        v["in_active_chain"] = json!(active);
        v["confirmations"] = json!(if active {
            chain.height() - entry.height + 1
        } else {
            0
        });
        v["time"] = json!(block.header.time);
    }
    Ok(v)
}

/// The transaction's hex, or its JSON with the hex added.
fn raw_or_verbose(tx: &Transaction, verbose: bool) -> Value {
    let hex_tx = hex::encode(serialize(tx));
    if !verbose {
        return json!(hex_tx);
    }
    let mut v = tx_json(tx);
    v["hex"] = json!(hex_tx);
    v
}

fn test_mempool_accept(ctx: &RpcContext, params: &Value) -> Result<Value, MethodError> {
    let p = Params::new(params, &["rawtxs"])?;
    let Some(Value::Array(raw)) = p.get(0) else {
        return Err(MethodError::new(
            codes::INVALID_PARAMS,
            "rawtxs must be an array of transaction hex strings",
        ));
    };
    if raw.is_empty() || raw.len() > MAX_TEST_ACCEPT {
        return Err(MethodError::new(
            codes::INVALID_PARAMS,
            format!(
                "rawtxs holds {} transactions; give 1..={MAX_TEST_ACCEPT}",
                raw.len()
            ),
        ));
    }
    let txs = raw
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| {
                    MethodError::new(
                        codes::INVALID_PARAMS,
                        format!("rawtxs holds {v}, not a hex string"),
                    )
                })
                .and_then(decode_hex_tx)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chain = ctx.state.chain.read();
    let mut mempool = ctx.state.mempool.lock();
    txs.into_iter()
        .map(|tx| test_one(&mut mempool, &chain, tx))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// One `testmempoolaccept` verdict. Each transaction is judged alone against the mempool as
/// it is (the mempool admits only spends of confirmed coins, so one of the given transactions
/// cannot fund another).
fn test_one(
    mempool: &mut Mempool,
    chain: &parthenon_chain::Chainstate,
    tx: Transaction,
) -> Result<Value, MethodError> {
    let mut v = json!({ "txid": tx.txid().to_hex(), "wtxid": tx.wtxid().to_hex() });
    let size = tx.encoded_len();
    match mempool.test_accept(tx, chain) {
        Ok((_, fees)) => {
            v["allowed"] = json!(true);
            v["size"] = json!(size);
            v["fees"] = fees_json(&fees);
        }
        Err(e @ MempoolError::Chain(_)) => return Err(rejection(e)),
        Err(e) => {
            let e = rejection(e);
            v["allowed"] = json!(false);
            v["reject-reason"] = json!(e.message);
            v["reject-code"] = json!(e.code);
        }
    }
    Ok(v)
}
