//! The chain: validation, chainstate, mempool and miner of ParthenonChain.
//!
//! Main types:
//! - [`Chainstate`]: block index with cumulative work, the active chain, the coins (UTXO set)
//!   behind a read cache, orphan blocks, reorganisation through undo data, invalid-block
//!   marking. It is shared as one writer / many readers (e.g. `RwLock<Chainstate>`): every
//!   mutation takes `&mut self`, every query `&self`;
//! - [`validation`]: the rules, as small named `check_*` functions in four stages;
//! - [`Mempool`]: unconfirmed transactions, first seen wins, bounded with lowest-fee-rate
//!   eviction;
//! - [`miner`]: block templates and a multi-threaded nonce search on the [`Workers`] pool.
//!
//! Invariants:
//! - the coins table always equals the replay of the active chain from genesis up to the
//!   stored tip ([`replay::verify_chainstate`] checks it);
//! - each block connect/disconnect is one atomic write batch (coins, undo, tip, statistics);
//! - chain logic never reads the clock: callers pass the time ([`clock`]).

pub mod block_index;
pub mod chainstate;
pub mod clock;
pub mod coin;
pub mod coins_cache;
pub mod error;
pub mod mempool;
pub mod miner;
pub mod orphans;
pub mod replay;
pub mod sig_cache;
pub mod undo;
pub mod validation;
pub mod workers;

pub use chainstate::{
    BlockDisposition, ChainStats, ChainUpdate, Chainstate, ChainstateConfig, ProcessOutcome,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coin::Coin;
pub use error::ChainError;
pub use mempool::{Mempool, MempoolError, MempoolPolicy, PolicyError};
pub use validation::ValidationError;
pub use workers::Workers;
