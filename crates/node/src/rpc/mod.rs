//! The JSON-RPC 2.0 server over HTTP: the operator interface of a running node.
//!
//! - [`server`]: `POST /` on the `--rpc-listen` address (127.0.0.1 by default), HTTP Basic
//!   authentication against the cookie file `<datadir>/.cookie` (and an optional configured
//!   user/password), a cap on the body size (413 past it) and on batch length;
//! - [`protocol`]: the JSON-RPC 2.0 envelope: single and batch requests, notifications,
//!   error objects with stable [`codes`];
//! - [`methods`]: the methods, one implementation each, shared with the control socket
//!   ([`crate::control::dispatch`] calls the same functions);
//! - [`raw_tx`]: `getrawtransaction`, `decoderawtransaction`, `testmempoolaccept`;
//! - [`auth`]: the cookie file and credential checks (constant-time);
//! - [`client`]: the minimal client behind `parthenon rpc METHOD [ARGS…]`.
//!
//! The same small HTTP/1.1 accept loop also serves [`crate::metrics`].

pub mod auth;
pub mod client;
pub(crate) mod http;
pub mod methods;
pub mod net_methods;
pub mod protocol;
pub mod raw_tx;
pub mod server;

pub use auth::{cookie_path, Credentials};
pub use methods::{call, MethodError, RpcContext};
pub use server::{RpcConfig, RpcServer, ServerError};

/// Stable error codes of JSON-RPC error objects (the same as Bitcoin Core's where one exists).
pub mod codes {
    /// The body is not valid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a valid request object (or batch).
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Parameters missing, extra or of the wrong type.
    pub const INVALID_PARAMS: i64 = -32602;
    /// An internal failure (storage, a failed worker).
    pub const INTERNAL: i64 = -32603;
    /// A failure that fits no other code (e.g. block data not available).
    pub const MISC: i64 = -1;
    /// The named block or object does not exist.
    pub const NOT_FOUND: i64 = -5;
    /// A parameter is outside its range (a height above the tip, a verbosity level).
    pub const OUT_OF_RANGE: i64 = -8;
    /// A raw transaction does not decode.
    pub const DESERIALIZATION_ERROR: i64 = -22;
    /// A transaction could not be verified (missing or spent inputs).
    pub const TX_VERIFY_ERROR: i64 = -25;
    /// A transaction was rejected by consensus or mempool policy.
    pub const TX_REJECTED: i64 = -26;
}
