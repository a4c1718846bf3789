//! Signatures already verified, so a transaction checked on mempool entry is not checked
//! again when its block arrives.
//!
//! An entry is the SHA-256 of `pubkey | message | signature`: the message is the signature
//! hash, which commits to the transaction and every coin it spends, so a hit means exactly
//! this signature over exactly this spend was valid. Only successes are stored. The cache is
//! bounded; when full, it is cleared (a miss only costs a verification).

use parking_lot::Mutex;
use parthenon_primitives::hash::sha256;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default number of entries (about 3 MiB).
pub const DEFAULT_SIG_CACHE_ENTRIES: usize = 100_000;

/// A bounded set of verified signatures.
#[derive(Debug)]
pub struct SigCache {
    entries: Mutex<HashSet<[u8; 32]>>,
    capacity: usize,
    /// Lookups answered from the cache (verifications skipped), since start.
    hits: AtomicU64,
    /// Lookups not in the cache (the caller verifies), since start.
    misses: AtomicU64,
}

impl SigCache {
    /// A cache of at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize) -> Self {
        SigCache {
            entries: Mutex::new(HashSet::new()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn key(pubkey: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) -> [u8; 32] {
        let mut buf = [0u8; 128];
        buf[..32].copy_from_slice(pubkey);
        buf[32..64].copy_from_slice(msg);
        buf[64..].copy_from_slice(sig);
        sha256(&buf)
    }

    /// Records a signature that verified.
    pub fn insert(&self, pubkey: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) {
        if self.capacity == 0 {
            return;
        }
        let mut e = self.entries.lock();
        if e.len() >= self.capacity {
            e.clear();
        }
        e.insert(Self::key(pubkey, msg, sig));
    }

    /// Whether this exact signature was verified before (counted as a hit or a miss).
    pub fn contains(&self, pubkey: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) -> bool {
        let hit = self.capacity > 0 && self.entries.lock().contains(&Self::key(pubkey, msg, sig));
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// Lookups answered from the cache since start: signature verifications skipped.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that missed since start: signatures the caller had to verify.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_the_exact_triple_and_stays_bounded() {
        let c = SigCache::new(2);
        c.insert(&[1; 32], &[2; 32], &[3; 64]);
        assert!(c.contains(&[1; 32], &[2; 32], &[3; 64]));
        assert!(!c.contains(&[1; 32], &[2; 32], &[4; 64]));
        assert!(!c.contains(&[9; 32], &[2; 32], &[3; 64]));
        assert_eq!((c.hits(), c.misses()), (1, 2));
        c.insert(&[5; 32], &[2; 32], &[3; 64]);
        c.insert(&[6; 32], &[2; 32], &[3; 64]);
        assert!(c.len() <= 2);
        let off = SigCache::new(0);
        off.insert(&[1; 32], &[2; 32], &[3; 64]);
        assert!(!off.contains(&[1; 32], &[2; 32], &[3; 64]));
    }
}
