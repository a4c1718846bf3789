//! The key-value store contract the chainstate is written against.
//!
//! Two implementations exist: [`crate::mem_store::MemStore`] (tests and
//! simulation) and [`crate::fjall_store::FjallStore`] (the node). Both must
//! behave identically for every valid input; the shared conformance suite in
//! this crate's tests checks that.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::StorageError;

/// Longest key any store accepts. fjall encodes key lengths as `u16` and
/// panics beyond that, so the limit is enforced here for every store alike.
pub const MAX_KEY_LEN: usize = u16::MAX as usize;

/// Longest value any store accepts (fjall encodes value lengths as `u32`).
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// Named partitions (fjall keyspaces). Each is an independent ordered map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    /// Block headers and their metadata, keyed by block hash.
    BlockIndex,
    /// The unspent transaction output set.
    Coins,
    /// Per-block undo data needed to disconnect a block.
    Undo,
    /// Small singletons: chain tip, schema version, flags.
    Meta,
}

impl Partition {
    /// Every partition, in a fixed order (the order stores index them by).
    pub const ALL: [Partition; 4] = [
        Partition::BlockIndex,
        Partition::Coins,
        Partition::Undo,
        Partition::Meta,
    ];

    /// On-disk name; doubles as the fjall keyspace name, so never change it.
    pub const fn name(self) -> &'static str {
        match self {
            Partition::BlockIndex => "block_index",
            Partition::Coins => "coins",
            Partition::Undo => "undo",
            Partition::Meta => "meta",
        }
    }

    /// Position in [`Partition::ALL`], used to index per-partition arrays.
    pub(crate) const fn index(self) -> usize {
        match self {
            Partition::BlockIndex => 0,
            Partition::Coins => 1,
            Partition::Undo => 2,
            Partition::Meta => 3,
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Insert or overwrite `key` with `value`.
    Put {
        /// Target partition.
        partition: Partition,
        /// Key bytes.
        key: Vec<u8>,
        /// Value bytes.
        value: Vec<u8>,
    },
    /// Remove `key`; removing an absent key is not an error.
    Delete {
        /// Target partition.
        partition: Partition,
        /// Key bytes.
        key: Vec<u8>,
    },
}

impl BatchOp {
    /// The partition this operation targets.
    pub fn partition(&self) -> Partition {
        match self {
            BatchOp::Put { partition, .. } | BatchOp::Delete { partition, .. } => *partition,
        }
    }

    /// The key this operation targets.
    pub fn key(&self) -> &[u8] {
        match self {
            BatchOp::Put { key, .. } | BatchOp::Delete { key, .. } => key,
        }
    }
}

/// An ordered list of puts and deletes applied atomically by [`KvStore::write`].
#[derive(Default, Debug, Clone)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues an insert/overwrite of `key` in partition `p`.
    pub fn put(&mut self, p: Partition, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Put {
            partition: p,
            key: key.into(),
            value: value.into(),
        });
    }

    /// Queues a removal of `key` from partition `p`.
    pub fn delete(&mut self, p: Partition, key: impl Into<Vec<u8>>) {
        self.ops.push(BatchOp::Delete {
            partition: p,
            key: key.into(),
        });
    }

    /// Number of queued operations (duplicates on one key count separately).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The queued operations in insertion order.
    pub fn ops(&self) -> impl Iterator<Item = &BatchOp> {
        self.ops.iter()
    }

    /// Checks every key and value against the limits shared by all stores,
    /// so an invalid batch is rejected whole before anything is applied.
    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        for op in &self.ops {
            let key_len = op.key().len();
            if key_len == 0 || key_len > MAX_KEY_LEN {
                return Err(StorageError::InvalidKey {
                    partition: op.partition(),
                    len: key_len,
                    max: MAX_KEY_LEN,
                });
            }
            if let BatchOp::Put {
                partition, value, ..
            } = op
            {
                if value.len() > MAX_VALUE_LEN {
                    return Err(StorageError::ValueTooLarge {
                        partition: *partition,
                        len: value.len(),
                        max: MAX_VALUE_LEN,
                    });
                }
            }
        }
        Ok(())
    }

    /// Consumes the batch, keeping only the last operation for each
    /// `(partition, key)`, in original order.
    ///
    /// fjall gives every item of a batch the same sequence number, so two
    /// items on one key would tie; collapsing them first makes "later op
    /// wins" hold by construction instead of relying on engine tie-breaking.
    pub(crate) fn into_last_ops(self) -> Vec<BatchOp> {
        let mut last: HashMap<(Partition, &[u8]), usize> = HashMap::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            last.insert((op.partition(), op.key()), i);
        }
        if last.len() == self.ops.len() {
            return self.ops;
        }
        let mut keep = vec![false; self.ops.len()];
        for &i in last.values() {
            keep[i] = true;
        }
        self.ops
            .into_iter()
            .zip(keep)
            .filter_map(|(op, k)| k.then_some(op))
            .collect()
    }
}

/// An ordered, partitioned key-value store with atomic multi-partition batches.
///
/// Keys must be `1..=MAX_KEY_LEN` bytes; [`KvStore::write`] rejects a batch
/// containing any other key with [`StorageError::InvalidKey`] and applies
/// nothing. Lookups of such keys simply find nothing.
pub trait KvStore: Send + Sync + 'static {
    /// Returns the value stored under `key` in partition `p`, if any.
    fn get(&self, p: Partition, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Applies every op or none (later ops on the same key win).
    ///
    /// Readers never observe a partially applied batch.
    fn write(&self, batch: WriteBatch) -> Result<(), StorageError>;

    /// Calls `f(key, value)` for every entry whose key starts with `prefix`, in key order; stops early when `f` returns false.
    ///
    /// The scan sees the store as of its start. `f` must not call
    /// [`KvStore::write`] on the same store: the in-memory store holds its
    /// read lock for the whole scan, so that would deadlock.
    fn scan_prefix(
        &self,
        p: Partition,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError>;

    /// Makes everything written so far durable against power loss (fsync).
    fn sync(&self) -> Result<(), StorageError>;
}

impl<T: KvStore + ?Sized> KvStore for Arc<T> {
    fn get(&self, p: Partition, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        (**self).get(p, key)
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        (**self).write(batch)
    }

    fn scan_prefix(
        &self,
        p: Partition,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        (**self).scan_prefix(p, prefix, f)
    }

    fn sync(&self) -> Result<(), StorageError> {
        (**self).sync()
    }
}

/// True if `key` could ever have been stored, i.e. is worth looking up.
pub(crate) fn is_storable_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_and_indices_are_stable() {
        let names: Vec<_> = Partition::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["block_index", "coins", "undo", "meta"]);
        for (i, p) in Partition::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(p.to_string(), p.name());
        }
    }

    #[test]
    fn batch_records_ops_in_order() {
        let mut b = WriteBatch::new();
        assert!(b.is_empty());
        b.put(Partition::Coins, b"k".to_vec(), b"v".to_vec());
        b.delete(Partition::Meta, &b"m"[..]);
        assert_eq!(b.len(), 2);
        let ops: Vec<_> = b.ops().cloned().collect();
        assert_eq!(
            ops,
            [
                BatchOp::Put {
                    partition: Partition::Coins,
                    key: b"k".to_vec(),
                    value: b"v".to_vec()
                },
                BatchOp::Delete {
                    partition: Partition::Meta,
                    key: b"m".to_vec()
                },
            ]
        );
    }

    #[test]
    fn last_ops_keep_only_final_op_per_key() {
        let mut b = WriteBatch::new();
        b.put(Partition::Coins, b"a".to_vec(), b"1".to_vec());
        b.put(Partition::Meta, b"a".to_vec(), b"m".to_vec());
        b.delete(Partition::Coins, b"a".to_vec());
        b.put(Partition::Coins, b"b".to_vec(), b"2".to_vec());
        b.put(Partition::Coins, b"a".to_vec(), b"3".to_vec());
        let ops = b.into_last_ops();
        let keys: Vec<_> = ops
            .iter()
            .map(|o| (o.partition(), o.key().to_vec()))
            .collect();
        assert_eq!(
            keys,
            [
                (Partition::Meta, b"a".to_vec()),
                (Partition::Coins, b"b".to_vec()),
                (Partition::Coins, b"a".to_vec()),
            ]
        );
        assert_eq!(
            ops[2],
            BatchOp::Put {
                partition: Partition::Coins,
                key: b"a".to_vec(),
                value: b"3".to_vec()
            }
        );
    }

    #[test]
    fn validate_rejects_empty_and_oversized_keys() {
        let mut b = WriteBatch::new();
        b.put(Partition::Undo, Vec::new(), b"v".to_vec());
        assert!(matches!(
            b.validate(),
            Err(StorageError::InvalidKey {
                partition: Partition::Undo,
                len: 0,
                ..
            })
        ));

        let mut b = WriteBatch::new();
        b.delete(Partition::Coins, vec![7u8; MAX_KEY_LEN + 1]);
        assert!(matches!(
            b.validate(),
            Err(StorageError::InvalidKey { len, .. }) if len == MAX_KEY_LEN + 1
        ));

        let mut b = WriteBatch::new();
        b.put(Partition::Coins, vec![7u8; MAX_KEY_LEN], Vec::new());
        assert!(b.validate().is_ok());
    }
}
