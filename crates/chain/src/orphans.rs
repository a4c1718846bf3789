//! Blocks whose parent is not known yet, bounded by count and bytes.
//!
//! When full, the oldest orphan is evicted: a peer flooding blocks with unknown parents can
//! only push out other orphans, never grow memory. When a block is indexed, its waiting
//! children are taken out and processed.

use parthenon_primitives::{Block, BlockHash};
use std::collections::{HashMap, VecDeque};

/// Default limit on the number of orphans held.
pub const DEFAULT_MAX_ORPHANS: usize = 128;
/// Default limit on the bytes of orphans held.
pub const DEFAULT_MAX_ORPHAN_BYTES: usize = 64 * 1024 * 1024;

/// A bounded pool of orphan blocks.
#[derive(Debug)]
pub struct OrphanPool {
    blocks: HashMap<BlockHash, (Block, usize)>,
    by_parent: HashMap<BlockHash, Vec<BlockHash>>,
    arrival: VecDeque<BlockHash>,
    bytes: usize,
    max_count: usize,
    max_bytes: usize,
}

impl OrphanPool {
    /// A pool holding at most `max_count` blocks and `max_bytes` bytes.
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        OrphanPool {
            blocks: HashMap::new(),
            by_parent: HashMap::new(),
            arrival: VecDeque::new(),
            bytes: 0,
            max_count,
            max_bytes,
        }
    }

    /// Number of orphans held.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is held.
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Adds an orphan of encoded size `size`, evicting the oldest ones to stay within bounds.
    /// A block larger than the whole byte budget is not kept. Returns whether it was kept.
    pub fn insert(&mut self, block: Block, size: usize) -> bool {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) || size > self.max_bytes || self.max_count == 0 {
            return false;
        }
        while self.blocks.len() + 1 > self.max_count || self.bytes + size > self.max_bytes {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            self.remove(&oldest);
        }
        self.by_parent
            .entry(block.header.prev_hash)
            .or_default()
            .push(hash);
        self.arrival.push_back(hash);
        self.bytes += size;
        self.blocks.insert(hash, (block, size));
        true
    }

    /// Removes and returns the orphans whose parent is `parent`.
    pub fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let Some(kids) = self.by_parent.remove(parent) else {
            return Vec::new();
        };
        kids.iter()
            .filter_map(|h| {
                let (b, size) = self.blocks.remove(h)?;
                self.bytes -= size;
                self.arrival.retain(|a| a != h);
                Some(b)
            })
            .collect()
    }

    fn remove(&mut self, hash: &BlockHash) {
        if let Some((b, size)) = self.blocks.remove(hash) {
            self.bytes -= size;
            if let Some(v) = self.by_parent.get_mut(&b.header.prev_hash) {
                v.retain(|h| h != hash);
                if v.is_empty() {
                    self.by_parent.remove(&b.header.prev_hash);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::{BlockHeader, Hash256};

    fn block(prev: u8, nonce: u32) -> Block {
        Block {
            header: BlockHeader {
                version: 1,
                prev_hash: Hash256([prev; 32]),
                merkle_root: Hash256::ZERO,
                time: 0,
                bits: 0,
                nonce,
            },
            txs: vec![],
        }
    }

    #[test]
    fn bounds_hold_and_oldest_is_evicted() {
        let mut p = OrphanPool::new(3, 250);
        for n in 0..10 {
            p.insert(block(1, n), 100);
            assert!(
                p.len() <= 3 && p.bytes() <= 250,
                "len {} bytes {}",
                p.len(),
                p.bytes()
            );
        }
        assert_eq!(p.len(), 2); // 250 bytes hold two 100-byte blocks
        assert!(!p.insert(block(2, 99), 251));
        let kids = p.take_children(&Hash256([1; 32]));
        assert_eq!(
            kids.iter().map(|b| b.header.nonce).collect::<Vec<_>>(),
            vec![8, 9]
        );
        assert!(p.is_empty() && p.bytes() == 0);
    }
}
