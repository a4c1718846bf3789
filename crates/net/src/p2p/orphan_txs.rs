//! [`OrphanTxs`]: transactions whose inputs are not (yet) coins, held until their parents
//! confirm, in a pool bounded by count and bytes.
//!
//! The mempool accepts only transactions whose inputs are confirmed coins, so a child
//! relayed before its parent is mined waits here. The pool is retried after every block
//! and every accepted transaction; when full, the oldest entry goes. Entries expire after
//! [`ORPHAN_TX_EXPIRY_MS`], so a transaction spending a coin that never comes (a double
//! spend of a spent coin) is not kept forever.
//!
//! Entries are keyed by wtxid, not txid: signatures are not checked before the inputs are
//! known, so a copy of a transaction with a broken signature (same txid) must not stand in
//! for the real one. Several versions of one txid may be held; [`OrphanTxs::held_from`]
//! tells the relay whether a peer's announcement of a txid is one we already hold from it.

use crate::sync::PeerId;
use parthenon_primitives::{Hash256, Transaction, Txid};
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
    txid: Txid,
    from: PeerId,
    size: usize,
    added_ms: u64,
    seq: u64,
}

/// The orphan transaction pool (see this module's documentation).
#[derive(Debug)]
pub struct OrphanTxs {
    by_wtxid: HashMap<Hash256, Orphan>,
    /// The wtxids held for each txid.
    by_txid: HashMap<Txid, Vec<Hash256>>,
    by_age: BTreeMap<u64, Hash256>,
    bytes: usize,
    next_seq: u64,
    max_count: usize,
    max_bytes: usize,
}

impl OrphanTxs {
    /// A pool holding at most `max_count` transactions and `max_bytes` bytes.
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        OrphanTxs {
            by_wtxid: HashMap::new(),
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
        self.by_wtxid.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.by_wtxid.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether some version of `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.by_txid.contains_key(txid)
    }

    /// Whether a version of `txid` that `peer` sent is held (so its announcement of `txid`
    /// brings nothing new; another peer's may be the real transaction).
    pub fn held_from(&self, txid: &Txid, peer: PeerId) -> bool {
        self.by_txid.get(txid).is_some_and(|ws| {
            ws.iter()
                .any(|w| self.by_wtxid.get(w).is_some_and(|o| o.from == peer))
        })
    }

    fn remove(&mut self, wtxid: &Hash256) -> Option<Orphan> {
        let o = self.by_wtxid.remove(wtxid)?;
        self.by_age.remove(&o.seq);
        self.bytes -= o.size;
        if let Some(ws) = self.by_txid.get_mut(&o.txid) {
            ws.retain(|w| w != wtxid);
            if ws.is_empty() {
                self.by_txid.remove(&o.txid);
            }
        }
        Some(o)
    }

    /// Holds `tx`, received from `from` at `now_ms`, evicting the oldest entries to make
    /// room. A transaction larger than the whole pool, or one held already (same wtxid), is
    /// not held; returns whether it was.
    pub fn insert(&mut self, tx: Transaction, from: PeerId, now_ms: u64) -> bool {
        let size = tx.encoded_len();
        if size > self.max_bytes || self.max_count == 0 {
            return false;
        }
        let wtxid = tx.wtxid();
        if self.by_wtxid.contains_key(&wtxid) {
            return false;
        }
        let txid = tx.txid();
        while self.by_wtxid.len() >= self.max_count || self.bytes + size > self.max_bytes {
            let Some((_, oldest)) = self.by_age.first_key_value() else {
                break;
            };
            let oldest = *oldest;
            self.remove(&oldest);
        }
        self.next_seq += 1;
        self.by_age.insert(self.next_seq, wtxid);
        self.by_txid.entry(txid).or_default().push(wtxid);
        self.bytes += size;
        self.by_wtxid.insert(
            wtxid,
            Orphan {
                tx,
                txid,
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
        let order: Vec<Hash256> = std::mem::take(&mut self.by_age).into_values().collect();
        self.bytes = 0;
        self.by_txid.clear();
        order
            .into_iter()
            .filter_map(|w| self.by_wtxid.remove(&w))
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
        let old: Vec<Hash256> = self
            .by_wtxid
            .iter()
            .filter(|(_, o)| now_ms.saturating_sub(o.added_ms) > ORPHAN_TX_EXPIRY_MS)
            .map(|(w, _)| *w)
            .collect();
        for w in &old {
            self.remove(w);
        }
        old.len()
    }

    /// Drops everything `peer` sent (it was banned).
    pub fn forget_peer(&mut self, peer: PeerId) {
        let gone: Vec<Hash256> = self
            .by_wtxid
            .iter()
            .filter(|(_, o)| o.from == peer)
            .map(|(w, _)| *w)
            .collect();
        for w in gone {
            self.remove(&w);
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

    #[test]
    fn versions_of_one_txid_are_held_apart_by_wtxid() {
        let mut p = OrphanTxs::new(10, 1 << 20);
        let real = tx(1);
        let mut forged = real.clone();
        forged.inputs[0].signature = vec![9; 64];
        assert_eq!(real.txid(), forged.txid());
        assert!(p.insert(forged.clone(), PeerId(6), 0));
        assert!(p.held_from(&real.txid(), PeerId(6)));
        assert!(
            !p.held_from(&real.txid(), PeerId(7)),
            "another peer's announcement of the txid is still worth fetching"
        );
        assert!(
            p.insert(real.clone(), PeerId(7), 1),
            "the real one is held too"
        );
        assert!(
            !p.insert(real.clone(), PeerId(8), 2),
            "same wtxid: held once"
        );
        assert_eq!(p.len(), 2);
        p.forget_peer(PeerId(6));
        assert!(p.contains(&real.txid()) && p.len() == 1);
        let all = p.take_all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, real);
        assert!(!p.contains(&real.txid()) && p.bytes() == 0);
    }
}
