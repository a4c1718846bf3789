//! Wiring of the ParthenonChain node.
//!
//! This crate owns what turns the chain library into a running program:
//! - [`datadir`]: the layout of a data directory and opening its stores;
//! - [`wallet`]: the minimal dev wallet (one key, balances, building and signing sends);
//! - [`info`]: the `chain info` summary;
//! - [`control`]: the node's local control socket (`<datadir>/control.sock`, owner-only),
//!   through which `chain info` and the wallet talk to a running node whose store is locked;
//! - [`dev_node`]: `parthenon node --dev`, the single-node development network with a
//!   block every few seconds and a clean shutdown on Ctrl-C / SIGTERM;
//! - [`bench_chain`]: `parthenon bench chain`, connecting a generated chain on disk;
//! - [`bench_sync`]: `parthenon bench sync`, syncing a generated chain between two P2P
//!   engines over TLS and plaintext TCP;
//! - [`rpc`]: the JSON-RPC 2.0 server over HTTP (cookie authentication) and its client;
//! - [`metrics`]: the Prometheus `/metrics` endpoint;
//! - [`p2p`]: the node's peer-to-peer settings and network start-up.

pub mod bench_chain;
pub mod bench_sync;
pub mod control;
pub mod datadir;
pub mod dev_node;
pub mod info;
pub mod metrics;
pub mod p2p;
pub mod rpc;
pub mod wallet;

pub use datadir::DataDir;
