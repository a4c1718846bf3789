//! [`KvStore`] backed by the fjall 3 LSM engine, one keyspace per partition.

use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable};

use crate::error::StorageError;
use crate::kv::{is_storable_key, BatchOp, KvStore, Partition, WriteBatch};

/// How much of a committed batch survives which kind of failure.
///
/// fjall appends every batch to a write-ahead journal (checksummed per
/// batch) before applying it to the memtables; the modes differ only in how
/// far the journal bytes are pushed before [`KvStore::write`] returns.
/// Whatever the mode, recovery replays whole batches only: a batch is
/// either entirely present after a crash or entirely absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// The journal's user-space buffer is flushed to the OS (`write(2)`)
    /// before `write` returns (fjall `PersistMode::Buffer`).
    ///
    /// Survives a crash, panic or SIGKILL of the process: the bytes are in
    /// the kernel page cache. Lost on OS crash or power loss: every batch
    /// the kernel had not yet written back, i.e. possibly all batches since
    /// the last [`KvStore::sync`] (fjall also fsyncs on journal rotation and
    /// on clean close). Call `sync` at points that must survive power loss.
    #[default]
    Process,
    /// The journal is fsynced (`fsync(2)`, fjall `PersistMode::SyncAll`)
    /// before `write` returns.
    ///
    /// Survives process crash, OS crash and power loss, provided the disk
    /// honours flushes. Costs one fsync per batch.
    PowerLoss,
}

impl Durability {
    fn persist_mode(self) -> PersistMode {
        match self {
            Durability::Process => PersistMode::Buffer,
            Durability::PowerLoss => PersistMode::SyncAll,
        }
    }
}

/// A fjall database holding one keyspace per [`Partition`].
///
/// fjall takes an exclusive lock on `<path>/lock` for the life of the
/// database, so a second open of the same directory — from another process
/// or from this one — fails with [`StorageError::Locked`] instead of
/// corrupting the store.
pub struct FjallStore {
    db: Database,
    keyspaces: [Keyspace; Partition::ALL.len()],
    path: PathBuf,
    durability: Durability,
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl FjallStore {
    /// Opens (creating if needed) the database in directory `path`.
    ///
    /// Recovery of the journal after a crash happens here. Returns
    /// [`StorageError::Locked`] if the directory is already open elsewhere.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StorageError> {
        let path = path.to_path_buf();
        let db = Database::builder(&path)
            .open()
            .map_err(|source| match source {
                fjall::Error::Locked => StorageError::Locked { path: path.clone() },
                source => StorageError::Fjall {
                    action: "open database".into(),
                    path: path.clone(),
                    source,
                },
            })?;

        let open_keyspace = |p: Partition| {
            db.keyspace(p.name(), KeyspaceCreateOptions::default)
                .map_err(|source| StorageError::Fjall {
                    action: format!("open keyspace `{p}`"),
                    path: path.clone(),
                    source,
                })
        };
        let keyspaces = [
            open_keyspace(Partition::ALL[0])?,
            open_keyspace(Partition::ALL[1])?,
            open_keyspace(Partition::ALL[2])?,
            open_keyspace(Partition::ALL[3])?,
        ];

        tracing::info!(path = %path.display(), ?durability, "opened fjall store");
        Ok(Self {
            db,
            keyspaces,
            path,
            durability,
        })
    }

    /// Directory of the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Durability mode chosen at open.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn keyspace(&self, p: Partition) -> &Keyspace {
        &self.keyspaces[p.index()]
    }

    /// Wraps a fjall error; takes the action text by value so callers build
    /// it inside `map_err` closures, keeping the success path allocation-free.
    fn fjall_err(&self, action: String, source: fjall::Error) -> StorageError {
        StorageError::Fjall {
            action,
            path: self.path.clone(),
            source,
        }
    }
}

impl KvStore for FjallStore {
    fn get(&self, p: Partition, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        // fjall asserts on out-of-range key lengths; such keys are never stored anyway.
        if !is_storable_key(key) {
            return Ok(None);
        }
        // Read through a snapshot: `Keyspace::get` reads at `SeqNo::MAX` and
        // can observe a batch that is only partly inserted into the memtables.
        self.db
            .snapshot()
            .get(self.keyspace(p), key)
            .map(|v| v.map(|slice| slice.to_vec()))
            .map_err(|e| self.fjall_err(format!("get from partition `{p}`"), e))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        batch.validate()?;
        if batch.is_empty() {
            return Ok(());
        }
        // Per-batch durability: fjall flushes (and, for PowerLoss, fsyncs)
        // the journal while still holding its writer lock, before the batch
        // becomes visible to readers.
        let mut fb = self
            .db
            .batch()
            .durability(Some(self.durability.persist_mode()));
        for op in batch.into_last_ops() {
            match op {
                BatchOp::Put {
                    partition,
                    key,
                    value,
                } => fb.insert(self.keyspace(partition), key, value),
                BatchOp::Delete { partition, key } => fb.remove(self.keyspace(partition), key),
            }
        }
        fb.commit()
            .map_err(|e| self.fjall_err("commit write batch".into(), e))
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
        // `Keyspace::prefix` reads at `SeqNo::MAX` (fjall 3.1.13
        // src/keyspace/mod.rs) and would show half-committed batches; a
        // database snapshot reads only fully published ones and pins that
        // view for the whole scan.
        let snapshot = self.db.snapshot();
        for guard in snapshot.prefix(self.keyspace(p), prefix) {
            let (k, v) = guard
                .into_inner()
                .map_err(|e| self.fjall_err(format!("prefix scan of partition `{p}`"), e))?;
            if !f(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| self.fjall_err("fsync journal".into(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;
    use std::sync::Arc;

    fn open(dir: &Path) -> FjallStore {
        FjallStore::open(dir, Durability::Process).unwrap()
    }

    #[test]
    fn conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        conformance::check_store(&open(dir.path()));
    }

    #[test]
    fn conformance_suite_power_loss_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = FjallStore::open(dir.path(), Durability::PowerLoss).unwrap();
        assert_eq!(store.durability(), Durability::PowerLoss);
        conformance::check_store(&store);
    }

    #[test]
    fn batches_are_atomic_for_concurrent_readers() {
        let dir = tempfile::tempdir().unwrap();
        conformance::check_atomic_visibility(Arc::new(open(dir.path())));
    }

    #[test]
    fn data_survives_drop_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            let mut b = WriteBatch::new();
            b.put(Partition::Coins, b"utxo".to_vec(), b"coin".to_vec());
            b.put(Partition::Meta, b"tip".to_vec(), b"h1".to_vec());
            store.write(b).unwrap();
            let mut b = WriteBatch::new();
            b.delete(Partition::Meta, b"tip".to_vec());
            b.put(Partition::Meta, b"tip2".to_vec(), b"h2".to_vec());
            store.write(b).unwrap();
        }
        let store = open(dir.path());
        assert_eq!(store.path(), dir.path());
        assert_eq!(
            store.get(Partition::Coins, b"utxo").unwrap(),
            Some(b"coin".to_vec())
        );
        assert_eq!(store.get(Partition::Meta, b"tip").unwrap(), None);
        assert_eq!(
            store.get(Partition::Meta, b"tip2").unwrap(),
            Some(b"h2".to_vec())
        );
    }

    #[test]
    fn second_open_while_first_is_open_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let first = open(dir.path());
        match FjallStore::open(dir.path(), Durability::Process) {
            Err(StorageError::Locked { path }) => assert_eq!(path, dir.path()),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        // The lock dies with the first handle.
        open(dir.path());
    }
}
