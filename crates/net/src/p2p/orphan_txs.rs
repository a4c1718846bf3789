//! [`OrphanTxs`]: transactions whose inputs are not (yet) coins, held until their parents
//! confirm, in a pool bounded by count and bytes.
//!
//! The mempool accepts only transactions whose inputs are confirmed coins, so a child
//! relayed before its parent is mined waits here. The pool is retried after every block
//! and every accepted transaction; when full, the oldest entry goes. Entries expire after
//! [`ORPHAN_TX_EXPIRY_MS`], so a transaction spending a coin that never comes (a double
//! spend of a spent coin) is not kept forever.

use crate::sync::PeerId;
use parthenon_primitives::{Transaction, Txid};
use std::collections::{BTreeMap, HashMap};

/// Most orphan transactions held.
pub const DEFAULT_MAX_ORPHAN_TXS: usize = 100;
/// Most bytes of orphan transactions held.
pub const DEFAULT_MAX_ORPHAN_TX_BYTES: usize = 5 << 20;
/// How long an orphan transaction is kept (20 minutes).
pub const ORPHAN_TX_EXPIRY_MS: u64 = 20 * 60 * 1000;

#[derive(Debug)]
struct Orphan {
    tx: Transaction,
    from: PeerId,
    size: usize,
    added_ms: u64,
    seq: u64,
}

/// The orphan transaction pool (see this module's documentation).
#[derive(Debug)]
pub struct OrphanTxs {
    by_txid: HashMap<Txid, Orphan>,
    by_age: BTreeMap<u64, Txid>,
    bytes: usize,
    next_seq: u64,
    max_count: usize,
    max_bytes: usize,
}

impl OrphanTxs {
    /// A pool holding at most `max_count` transactions and `max_bytes` bytes.
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        OrphanTxs {
            by_txid: HashMap::new(),
            by_age: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
            max_count,
            max_bytes,
        }
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.by_txid.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_txid.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.by_txid.contains_key(txid)
    }

    /// Holds `tx`, received from `from` at `now_ms`, evicting the oldest entries to make
    /// room. A transaction larger than the whole pool is not held; returns whether it was.
    pub fn insert(&mut self, tx: Transaction, from: PeerId, now_ms: u64) -> bool {
        let txid = tx.txid();
        let size = tx.encoded_len();
        if self.by_txid.contains_key(&txid) || size > self.max_bytes || self.max_count == 0 {
            return false;
        }
        while self.by_txid.len() >= self.max_count || self.bytes + size > self.max_bytes {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some(o) = self.by_txid.remove(&oldest) {
                self.bytes -= o.size;
            }
        }
        self.next_seq += 1;
        self.by_age.insert(self.next_seq, txid);
        self.bytes += size;
        self.by_txid.insert(
            txid,
            Orphan {
                tx,
                from,
                size,
                added_ms: now_ms,
                seq: self.next_seq,
            },
        );
        true
    }

    /// Removes and returns every held transaction, oldest first, with the peer that sent it
    /// (to retry them against the mempool; those still missing inputs come back).
    pub fn take_all(&mut self) -> Vec<(Transaction, PeerId, u64)> {
        let order: Vec<Txid> = std::mem::take(&mut self.by_age).into_values().collect();
        self.bytes = 0;
        order
            .into_iter()
            .filter_map(|t| self.by_txid.remove(&t))
            .map(|o| (o.tx, o.from, o.added_ms))
            .collect()
    }

    /// Puts back a transaction taken by [`take_all`](Self::take_all), keeping its age.
    pub fn restore(&mut self, tx: Transaction, from: PeerId, added_ms: u64) {
        // Called oldest first, so the new sequence numbers keep the age order.
        self.insert(tx, from, added_ms);
    }

    /// Drops entries older than [`ORPHAN_TX_EXPIRY_MS`] at `now_ms`; returns how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let old: Vec<(u64, Txid)> = self
            .by_txid
            .iter()
            .filter(|(_, o)| now_ms.saturating_sub(o.added_ms) > ORPHAN_TX_EXPIRY_MS)
            .map(|(t, o)| (o.seq, *t))
            .collect();
        for (seq, txid) in &old {
            self.by_age.remove(seq);
            if let Some(o) = self.by_txid.remove(txid) {
                self.bytes -= o.size;
            }
        }
        old.len()
    }

    /// Drops everything `peer` sent (it was banned).
    pub fn forget_peer(&mut self, peer: PeerId) {
        let gone: Vec<(u64, Txid)> = self
            .by_txid
            .iter()
            .filter(|(_, o)| o.from == peer)
            .map(|(t, o)| (o.seq, *t))
            .collect();
        for (seq, txid) in gone {
            self.by_age.remove(&seq);
            if let Some(o) = self.by_txid.remove(&txid) {
                self.bytes -= o.size;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::{Asset, OutPoint, TxIn, TxOut};

    fn tx(n: u32) -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint {
                    txid: parthenon_primitives::Hash256([n as u8; 32]),
                    vout: n,
                },
                signature: vec![0; 64],
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut::to_key(Asset::Talanton, 1, [2; 32])],
            lock_time: 0,
        }
    }

    #[test]
    fn bounded_by_count_oldest_goes_first() {
        let mut p = OrphanTxs::new(3, 1 << 20);
        for n in 0..5 {
            assert!(p.insert(tx(n), PeerId(1), n as u64));
        }
        assert_eq!(p.len(), 3);
        assert!(!p.contains(&tx(0).txid()) && !p.contains(&tx(1).txid()));
        let all: Vec<Txid> = p.take_all().into_iter().map(|(t, ..)| t.txid()).collect();
        assert_eq!(all, [tx(2).txid(), tx(3).txid(), tx(4).txid()]);
        assert!(p.is_empty() && p.bytes() == 0);
    }

    #[test]
    fn bounded_by_bytes_and_expiry_and_peer() {
        let size = tx(0).encoded_len();
        let mut p = OrphanTxs::new(100, size * 2);
        p.insert(tx(0), PeerId(1), 0);
        p.insert(tx(1), PeerId(2), 10);
        p.insert(tx(2), PeerId(2), ORPHAN_TX_EXPIRY_MS);
        assert_eq!(p.len(), 2);
        assert_eq!(p.bytes(), size * 2);
        assert_eq!(p.expire(ORPHAN_TX_EXPIRY_MS + 11), 1);
        assert!(p.contains(&tx(2).txid()));
        p.forget_peer(PeerId(2));
        assert!(p.is_empty() && p.bytes() == 0);
        let big = OrphanTxs::new(10, 1).insert(tx(5), PeerId(1), 0);
        assert!(!big, "larger than the pool");
    }
}
