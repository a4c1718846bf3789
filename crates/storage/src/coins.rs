//! The coins partition, addressed only through [`OutPoint`]'s one key format.
//!
//! Every read, write and scan of a UTXO entry goes through these functions, and they use
//! only [`OutPoint::db_key`] and [`OutPoint::from_db_key`]; no other code builds a coins key.

use crate::error::StorageError;
use crate::kv::{KvStore, Partition, WriteBatch};
use parthenon_primitives::outpoint::OUTPOINT_KEY_PREFIX;
use parthenon_primitives::OutPoint;

/// The key under which `outpoint` is stored (its [`OutPoint::db_key`]).
pub fn coin_key(outpoint: &OutPoint) -> [u8; parthenon_primitives::outpoint::OUTPOINT_KEY_LEN] {
    outpoint.db_key()
}

/// Adds "store `value` for `outpoint`" to `batch`.
pub fn put_coin(batch: &mut WriteBatch, outpoint: &OutPoint, value: Vec<u8>) {
    batch.put(Partition::Coins, coin_key(outpoint).to_vec(), value);
}

/// Adds "remove `outpoint`" to `batch`.
pub fn delete_coin(batch: &mut WriteBatch, outpoint: &OutPoint) {
    batch.delete(Partition::Coins, coin_key(outpoint).to_vec());
}

/// Reads the stored value of `outpoint`.
pub fn get_coin<S: KvStore + ?Sized>(
    store: &S,
    outpoint: &OutPoint,
) -> Result<Option<Vec<u8>>, StorageError> {
    store.get(Partition::Coins, &coin_key(outpoint))
}

/// Calls `f(outpoint, value)` for every stored coin in key order; stops when `f` returns
/// false. A key that is not a valid outpoint key is reported as corruption.
pub fn scan_coins<S: KvStore + ?Sized>(
    store: &S,
    f: &mut dyn FnMut(OutPoint, &[u8]) -> bool,
) -> Result<(), StorageError> {
    let mut bad_key: Option<usize> = None;
    store.scan_prefix(Partition::Coins, &[OUTPOINT_KEY_PREFIX], &mut |k, v| {
        match OutPoint::from_db_key(k) {
            Ok(op) => f(op, v),
            Err(_) => {
                bad_key = Some(k.len());
                false
            }
        }
    })?;
    match bad_key {
        Some(len) => Err(StorageError::CorruptEntry {
            partition: Partition::Coins,
            reason: format!("a {len}-byte key that is not an outpoint key"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem_store::MemStore;
    use parthenon_primitives::Hash256;

    #[test]
    fn coins_are_stored_under_the_outpoint_db_key() {
        let store = MemStore::new();
        let op = OutPoint::new(Hash256([7; 32]), 3);
        let mut b = WriteBatch::new();
        put_coin(&mut b, &op, vec![1, 2, 3]);
        store.write(b).unwrap();
        assert_eq!(
            store.get(Partition::Coins, &op.db_key()).unwrap(),
            Some(vec![1, 2, 3])
        );
        assert_eq!(get_coin(&store, &op).unwrap(), Some(vec![1, 2, 3]));
        let mut seen = vec![];
        scan_coins(&store, &mut |o, v| {
            seen.push((o, v.to_vec()));
            true
        })
        .unwrap();
        assert_eq!(seen, vec![(op, vec![1, 2, 3])]);
        let mut b = WriteBatch::new();
        delete_coin(&mut b, &op);
        store.write(b).unwrap();
        assert_eq!(get_coin(&store, &op).unwrap(), None);
    }
}
