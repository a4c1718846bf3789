//! In-memory [`KvStore`] for unit tests and deterministic simulation.

use std::collections::BTreeMap;
use std::ops::Bound;

use parking_lot::RwLock;

use crate::error::StorageError;
use crate::kv::{is_storable_key, BatchOp, KvStore, Partition, WriteBatch};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`KvStore`] kept entirely in memory; nothing survives a drop.
///
/// All partitions sit behind one lock, so a batch spanning several
/// partitions is applied under a single write guard and readers see it
/// entirely or not at all, matching fjall's cross-keyspace atomicity.
#[derive(Debug, Default)]
pub struct MemStore {
    partitions: RwLock<[Map; Partition::ALL.len()]>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries in partition `p`.
    pub fn len(&self, p: Partition) -> usize {
        self.partitions.read()[p.index()].len()
    }

    /// True when no partition holds any entry.
    pub fn is_empty(&self) -> bool {
        self.partitions.read().iter().all(Map::is_empty)
    }
}

impl KvStore for MemStore {
    fn get(&self, p: Partition, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        // Recursive read: `get` may be called from inside a `scan_prefix`
        // callback, and a plain read would block behind a queued writer
        // while this thread already holds a read guard.
        Ok(self.partitions.read_recursive()[p.index()]
            .get(key)
            .cloned())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        batch.validate()?;
        let mut parts = self.partitions.write();
        for op in batch.into_last_ops() {
            match op {
                BatchOp::Put {
                    partition,
                    key,
                    value,
                } => {
                    parts[partition.index()].insert(key, value);
                }
                BatchOp::Delete { partition, key } => {
                    parts[partition.index()].remove(&key);
                }
            }
        }
        Ok(())
    }

    fn scan_prefix(
        &self,
        p: Partition,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        if !prefix.is_empty() && !is_storable_key(prefix) {
            return Ok(());
        }
        let parts = self.partitions.read_recursive();
        let range = parts[p.index()].range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded));
        for (k, v) in range {
            if !k.starts_with(prefix) || !f(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        // Nothing is ever durable here; succeeding keeps callers uniform.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;
    use std::sync::Arc;

    #[test]
    fn conformance_suite() {
        conformance::check_store(&MemStore::new());
    }

    #[test]
    fn conformance_suite_through_arc_dyn() {
        let store: Arc<dyn KvStore> = Arc::new(MemStore::new());
        conformance::check_store(&store);
    }

    #[test]
    fn batches_are_atomic_for_concurrent_readers() {
        conformance::check_atomic_visibility(Arc::new(MemStore::new()));
    }

    #[test]
    fn get_inside_scan_callback_does_not_deadlock() {
        let store = MemStore::new();
        let mut b = WriteBatch::new();
        b.put(Partition::Coins, b"a".to_vec(), b"1".to_vec());
        b.put(Partition::Coins, b"b".to_vec(), b"2".to_vec());
        store.write(b).unwrap();
        let mut seen = Vec::new();
        store
            .scan_prefix(Partition::Coins, b"", &mut |k, _| {
                seen.push(store.get(Partition::Coins, k).unwrap());
                true
            })
            .unwrap();
        assert_eq!(seen, [Some(b"1".to_vec()), Some(b"2".to_vec())]);
    }

    #[test]
    fn len_and_is_empty_track_contents() {
        let store = MemStore::new();
        assert!(store.is_empty());
        let mut b = WriteBatch::new();
        b.put(Partition::Undo, b"u".to_vec(), b"x".to_vec());
        store.write(b).unwrap();
        assert!(!store.is_empty());
        assert_eq!(store.len(Partition::Undo), 1);
        assert_eq!(store.len(Partition::Coins), 0);
    }
}
