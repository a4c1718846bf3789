//! Persistent storage for the ParthenonChain node.
//!
//! This crate owns everything that touches the disk below the chainstate:
//!
//! - [`kv`]: the [`KvStore`] trait — an ordered byte map split into
//!   [`Partition`]s (`block_index`, `coins`, `undo`, `meta`) with atomic
//!   multi-partition [`WriteBatch`]es and prefix scans. The chainstate is
//!   written against this trait only.
//! - [`fjall_store`]: [`FjallStore`], the on-disk implementation over the
//!   fjall LSM engine, with a [`Durability`] mode chosen at open.
//! - [`mem_store`]: [`MemStore`], an in-memory implementation for tests and
//!   deterministic simulation.
//! - [`block_files`]: [`BlockFiles`], append-only `blkNNNNN.dat` files that
//!   hold raw blocks, addressed by [`BlockLocation`].
//! - [`error`]: [`StorageError`], the single error type.
//! - [`secret_file`]: [`write_secret`], the one writer of files that hold secrets (wallet
//!   key, RPC cookie, TLS private keys): random temporary name, `O_EXCL`, mode 0600 from
//!   creation, fsync, rename, directory fsync.
//!
//! Invariants:
//!
//! - A [`WriteBatch`] is applied entirely or not at all, both for readers
//!   and across crashes; within a batch the last operation on a key wins.
//! - Keys are 1..=[`kv::MAX_KEY_LEN`] bytes in every store, so the two
//!   [`KvStore`] implementations accept and reject exactly the same input.
//! - Once [`KvStore::write`] or [`BlockFiles::append`] returns, the data
//!   survives a kill of the process; surviving power loss needs
//!   [`Durability::PowerLoss`] (chosen per store and per block file set) or
//!   an explicit `sync`. A caller that stores a [`BlockLocation`] must make
//!   the block bytes durable first (sync the block files, or open them with
//!   [`Durability::PowerLoss`]); [`BlockFiles::synced_end`] says how far
//!   they are durable.
//! - A data directory is opened by one [`FjallStore`] at a time; a second
//!   open fails with [`StorageError::Locked`].
//! - Block records are `[magic | len u32 LE | payload]` with
//!   payload ≤ [`block_files::MAX_RECORD_LEN`]; only the last file is ever
//!   appended to, and only its tail can be torn by a crash.

pub mod block_files;
pub mod coins;
pub mod error;
pub mod fjall_store;
pub mod kv;
pub mod mem_store;
pub mod secret_file;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod crash_tests;

pub use block_files::{BlockFiles, BlockLocation, BlockPosition};
pub use error::StorageError;
pub use fjall_store::{Durability, FjallStore};
pub use kv::{BatchOp, KvStore, Partition, WriteBatch};
pub use mem_store::MemStore;
pub use secret_file::write_secret;
