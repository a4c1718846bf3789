//! A bounded read cache of coins in front of the store.
//!
//! Writes are not deferred here: each block's coin changes go to the store in the block's own
//! atomic batch, and the cache is then updated to match, so the cache never holds a state
//! the store does not. When full, the cache is cleared rather than tracking recency: the
//! coins a node reads most (just created, soon spent) are re-inserted by the next blocks.

use crate::coin::Coin;
use crate::error::ChainError;
use parking_lot::Mutex;
use parthenon_primitives::OutPoint;
use parthenon_storage::coins::get_coin;
use parthenon_storage::KvStore;
use std::collections::HashMap;

/// The coins cache.
#[derive(Debug)]
pub struct CoinsCache {
    map: Mutex<HashMap<OutPoint, Coin>>,
    capacity: usize,
}

impl CoinsCache {
    /// A cache of at most `capacity` coins.
    pub fn new(capacity: usize) -> Self {
        CoinsCache {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The coin at `op`, from the cache or the store.
    pub fn get<S: KvStore + ?Sized>(
        &self,
        store: &S,
        op: &OutPoint,
    ) -> Result<Option<Coin>, ChainError> {
        if let Some(c) = self.map.lock().get(op) {
            return Ok(Some(c.clone()));
        }
        let Some(bytes) = get_coin(store, op)? else {
            return Ok(None);
        };
        let coin = Coin::from_bytes(&bytes).map_err(|e| ChainError::corrupt("stored coin", e))?;
        self.insert(*op, coin.clone());
        Ok(Some(coin))
    }

    fn insert(&self, op: OutPoint, coin: Coin) {
        let mut m = self.map.lock();
        if m.len() >= self.capacity {
            m.clear();
        }
        if self.capacity > 0 {
            m.insert(op, coin);
        }
    }

    /// Mirrors a batch that was written: `removed` coins are gone, `added` exist.
    pub fn apply<'a>(
        &self,
        removed: impl Iterator<Item = &'a OutPoint>,
        added: impl Iterator<Item = (OutPoint, Coin)>,
    ) {
        let mut m = self.map.lock();
        for op in removed {
            m.remove(op);
        }
        for (op, c) in added {
            if m.len() >= self.capacity {
                m.clear();
            }
            if self.capacity > 0 {
                m.insert(op, c);
            }
        }
    }

    /// Number of cached coins.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }
}
