//! The control socket: a Unix socket in the data directory (mode 0600, so only the node's
//! user can use it) speaking one JSON object per line.
//!
//! Request: `{"method": "...", "params": {...}}`; response: `{"result": ...}` or
//! `{"error": {"code": N, "message": "..."}}`. Methods: `chain_info`, `wallet_coins`
//! (`{"key": hex}`), `submit_tx` (`{"hex": tx}`), `get_coin` (`{"outpoint": "u<txid>:<vout>"}`),
//! `mempool` and `stop`. It lets the
//! command-line tools reach a running node whose store is locked. Methods that the JSON-RPC
//! server also offers run the same functions ([`crate::rpc::methods`]).

use crate::info::chain_info;
use crate::rpc;
use crate::wallet::{wallet_coins, WalletCoin};
use parking_lot::{Mutex, RwLock};
use parthenon_chain::{Chainstate, Mempool};
use parthenon_primitives::OutPoint;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// Longest request line accepted (a 400 kB transaction in hex fits).
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Error codes of control responses: the JSON-RPC server's.
pub use crate::rpc::codes;
/// A failed control method (the JSON-RPC server's error type).
pub use crate::rpc::MethodError;

/// Shared state the control methods act on.
#[derive(Clone)]
pub struct NodeState {
    /// The chainstate (one writer, many readers).
    pub chain: Arc<RwLock<Chainstate>>,
    /// The mempool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// Set to ask the node to stop.
    pub shutdown: Arc<tokio::sync::Notify>,
}

fn err(code: i64, message: impl Into<String>) -> MethodError {
    MethodError::new(code, message)
}

/// Runs one control method.
pub fn dispatch(state: &NodeState, method: &str, params: &Value) -> Result<Value, MethodError> {
    match method {
        "chain_info" => Ok(chain_info(&state.chain.read())),
        "wallet_coins" => {
            let key_hex = params.get("key").and_then(Value::as_str).ok_or_else(|| {
                err(
                    codes::INVALID_PARAMS,
                    "params.key (hex public key) is required",
                )
            })?;
            let key = crate::wallet::parse_address(key_hex)
                .map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))?;
            let chain = state.chain.read();
            let mempool = state.mempool.lock();
            let mut all = Vec::new();
            chain
                .for_each_coin(&mut |op, c| {
                    if c.output.key() == Some(key) {
                        all.push((op, c));
                    }
                    true
                })
                .map_err(|e| err(codes::INTERNAL, e.to_string()))?;
            let coins: Vec<WalletCoin> = wallet_coins(
                all,
                key,
                chain.height(),
                chain.params().coinbase_maturity,
                |op: &OutPoint| mempool.spender_of(op).is_some(),
            );
            Ok(serde_json::to_value(coins).expect("coins serialise"))
        }
        "submit_tx" => {
            let hex_tx = params.get("hex").and_then(Value::as_str).ok_or_else(|| {
                err(
                    codes::INVALID_PARAMS,
                    "params.hex (transaction) is required",
                )
            })?;
            let txid = rpc::methods::submit_raw_transaction(state, hex_tx)?;
            Ok(json!({ "txid": txid.to_hex() }))
        }
        "get_coin" => {
            let text = params
                .get("outpoint")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    err(
                        codes::INVALID_PARAMS,
                        "params.outpoint (u<txid>:<vout>) is required",
                    )
                })?;
            let op = OutPoint::parse_key_text(text)
                .map_err(|e| err(codes::INVALID_PARAMS, e.to_string()))?;
            rpc::methods::txout(&state.chain.read(), &op)
        }
        "mempool" => {
            let m = state.mempool.lock();
            let mut v = rpc::methods::mempool_info(&m);
            v["txids"] = rpc::methods::raw_mempool(&m);
            Ok(v)
        }
        "stop" => {
            rpc::methods::request_stop(state);
            Ok(json!("stopping"))
        }
        other => Err(err(
            codes::METHOD_NOT_FOUND,
            format!("unknown method {other:?}"),
        )),
    }
}

fn respond(state: &NodeState, line: &str) -> Value {
    let req: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({"error": {"code": codes::PARSE_ERROR, "message": e.to_string()}}),
    };
    let Some(method) = req.get("method").and_then(Value::as_str) else {
        return json!({"error": {"code": codes::PARSE_ERROR, "message": "request has no method"}});
    };
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    match dispatch(state, method, &params) {
        Ok(result) => json!({ "result": result }),
        Err(e) => json!({"error": {"code": e.code, "message": e.message}}),
    }
}

/// Binds the control socket at `path` (removing a stale one) with mode 0600.
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if path.exists() {
        // A live node would hold the store lock, which the caller took first; so this is
        // a leftover of a crash.
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

/// Serves control connections until the task is dropped.
pub async fn serve(listener: tokio::net::UnixListener, state: NodeState) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let (r, mut w) = stream.into_split();
            let mut reader = tokio::io::BufReader::new(r);
            loop {
                let mut buf = Vec::new();
                let mut limited = (&mut reader).take(MAX_REQUEST_BYTES as u64);
                let n = match limited.read_until(b'\n', &mut buf).await {
                    Ok(n) => n,
                    Err(_) => break,
                };
                if n == 0 {
                    break;
                }
                if !buf.ends_with(b"\n") && n >= MAX_REQUEST_BYTES {
                    let msg = json!({"error": {"code": codes::PARSE_ERROR, "message": "request line too long"}});
                    let _ = w.write_all(format!("{msg}\n").as_bytes()).await;
                    break;
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                let st = state.clone();
                let resp = tokio::task::spawn_blocking(move || respond(&st, &line))
                    .await
                    .unwrap_or_else(
                        |e| json!({"error": {"code": codes::INTERNAL, "message": e.to_string()}}),
                    );
                let mut out = resp.to_string();
                out.push('\n');
                if w.write_all(out.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Errors of [`call`].
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No node listens on the socket.
    #[error("no running node at {0} (start one with `parthenon node --dev`)")]
    NotRunning(PathBuf),
    /// Socket I/O failed.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The node answered with an error.
    #[error("node error {code}: {message}")]
    Remote {
        /// Error code.
        code: i64,
        /// Message.
        message: String,
    },
    /// The answer was not understood.
    #[error("unexpected answer from the node: {0}")]
    BadResponse(String),
}

/// Calls `method` on the node whose control socket is `path`.
pub fn call(path: &Path, method: &str, params: Value) -> Result<Value, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ControlError::NotRunning(path.to_path_buf()))
        }
        Err(e) => return Err(io(e)),
    };
    let mut req = json!({ "method": method, "params": params }).to_string();
    req.push('\n');
    stream.write_all(req.as_bytes()).map_err(io)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(io)?;
    let v: Value =
        serde_json::from_str(&line).map_err(|e| ControlError::BadResponse(e.to_string()))?;
    if let Some(e) = v.get("error") {
        return Err(ControlError::Remote {
            code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        });
    }
    v.get("result")
        .cloned()
        .ok_or(ControlError::BadResponse(line))
}
