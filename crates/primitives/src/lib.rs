//! Consensus types of ParthenonChain's Layer 1.
//!
//! This crate owns everything two nodes must agree on byte for byte:
//! - [`hash`]: SHA-256d, BIP-340 tagged hashes and the [`Hash256`] type (txids, block hashes);
//! - [`amount`]: the three assets and per-asset amounts with checked arithmetic;
//! - [`outpoint`]: [`OutPoint`], which owns *the one UTXO key format* — its canonical text
//!   `u<txid hex>:<vout>` and its binary database key. Nothing else formats or parses a UTXO key;
//! - [`transaction`], [`block`]: the wire types, their ids and the merkle root;
//! - [`encode`]: the consensus encoding. Every decoder is bounded: lengths are checked against
//!   the bytes that remain and against fixed caps *before* anything is allocated, and
//!   [`encode::deserialize`] rejects trailing bytes;
//! - [`pow`]: compact targets, proof-of-work checks and cumulative chain work;
//! - [`params`]: the `main`, `test` and `dev` networks and their deterministic genesis blocks.
//!
//! Invariant: for every wire type `T`, `deserialize::<T>(&serialize(&t)) == Ok(t)`, and any
//! other input is either a value whose re-encoding is the same bytes or an error.

pub mod amount;
pub mod block;
pub mod encode;
pub mod hash;
pub mod outpoint;
pub mod params;
pub mod pow;
pub mod transaction;

pub use amount::{Amount, Asset, AssetAmounts};
pub use block::{Block, BlockHeader};
pub use encode::{deserialize, serialize, Decodable, DecodeError, Encodable};
pub use hash::{BlockHash, Hash256, Txid};
pub use outpoint::OutPoint;
pub use params::{ChainParams, Network};
pub use pow::{ChainWork, CompactTarget};
pub use transaction::{Transaction, TxIn, TxOut};
