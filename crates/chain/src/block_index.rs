//! The block index: every block the node has accepted (or found invalid), with its height,
//! cumulative chain work, validity and place in the block files.

use crate::validation::context::HeaderContext;
use parthenon_primitives::encode::{Decodable, DecodeError, Encodable, Reader};
use parthenon_primitives::params::MEDIAN_TIME_SPAN;
use parthenon_primitives::pow::retarget;
use parthenon_primitives::{BlockHash, BlockHeader, ChainParams, ChainWork};
use parthenon_storage::BlockLocation;
use std::collections::HashMap;

/// What the node knows about a block's validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockStatus {
    /// Passed isolation and context checks; its data is in the block files. Whether it
    /// connects against the UTXO set is known once it has been on the active chain.
    Valid,
    /// Breaks a consensus rule.
    Invalid,
    /// An ancestor breaks a consensus rule.
    InvalidParent,
}

impl BlockStatus {
    /// Whether this block or an ancestor is invalid.
    pub fn is_invalid(self) -> bool {
        !matches!(self, BlockStatus::Valid)
    }
    fn to_byte(self) -> u8 {
        match self {
            BlockStatus::Valid => 0,
            BlockStatus::Invalid => 1,
            BlockStatus::InvalidParent => 2,
        }
    }
    fn from_byte(b: u8) -> Result<Self, DecodeError> {
        match b {
            0 => Ok(BlockStatus::Valid),
            1 => Ok(BlockStatus::Invalid),
            2 => Ok(BlockStatus::InvalidParent),
            _ => Err(DecodeError::LengthTooLarge {
                what: "block status",
                len: b as u64,
                max: 2,
            }),
        }
    }
}

/// One block in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The block hash.
    pub hash: BlockHash,
    /// The header.
    pub header: BlockHeader,
    /// Height (genesis = 0).
    pub height: u32,
    /// Work of this block and all its ancestors.
    pub chain_work: ChainWork,
    /// Validity.
    pub status: BlockStatus,
    /// Where its bytes are, if stored (invalid blocks are not).
    pub location: Option<BlockLocation>,
}

impl IndexEntry {
    /// The database value (the key is the hash).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(140);
        self.header.encode(&mut out);
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.chain_work.to_be_bytes());
        out.push(self.status.to_byte());
        match self.location {
            Some(loc) => {
                out.push(1);
                out.extend_from_slice(&loc.to_bytes());
            }
            None => out.push(0),
        }
        out
    }

    /// Parses a database value stored under `hash`.
    pub fn from_bytes(hash: BlockHash, b: &[u8]) -> Result<IndexEntry, DecodeError> {
        let mut r = Reader::new(b);
        let header = BlockHeader::decode(&mut r)?;
        let height = r.u32_le()?;
        let chain_work = ChainWork::from_be_bytes(r.array()?);
        let status = BlockStatus::from_byte(r.u8()?)?;
        let location = match r.u8()? {
            0 => None,
            1 => {
                let raw: [u8; 16] = r.array()?;
                Some(
                    BlockLocation::from_bytes(&raw).map_err(|_| DecodeError::LengthTooLarge {
                        what: "block location",
                        len: 16,
                        max: 16,
                    })?,
                )
            }
            other => {
                return Err(DecodeError::LengthTooLarge {
                    what: "block location flag",
                    len: other as u64,
                    max: 1,
                })
            }
        };
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes(r.remaining()));
        }
        Ok(IndexEntry {
            hash,
            header,
            height,
            chain_work,
            status,
            location,
        })
    }
}

/// All indexed blocks, with parent → children links.
#[derive(Debug, Default)]
pub struct BlockIndex {
    entries: HashMap<BlockHash, IndexEntry>,
    children: HashMap<BlockHash, Vec<BlockHash>>,
}

impl BlockIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, e: IndexEntry) {
        if !self.entries.contains_key(&e.hash) {
            self.children
                .entry(e.header.prev_hash)
                .or_default()
                .push(e.hash);
        }
        self.entries.insert(e.hash, e);
    }

    /// The entry of `hash`.
    pub fn get(&self, hash: &BlockHash) -> Option<&IndexEntry> {
        self.entries.get(hash)
    }

    /// Mutable access to the entry of `hash`.
    pub fn get_mut(&mut self, hash: &BlockHash) -> Option<&mut IndexEntry> {
        self.entries.get_mut(hash)
    }

    /// Whether `hash` is indexed.
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.entries.contains_key(hash)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries (arbitrary order).
    pub fn entries(&self) -> impl Iterator<Item = &IndexEntry> {
        self.entries.values()
    }

    /// Every descendant of `hash` (not `hash` itself).
    pub fn descendants(&self, hash: &BlockHash) -> Vec<BlockHash> {
        let mut out = Vec::new();
        let mut stack = vec![*hash];
        while let Some(h) = stack.pop() {
            if let Some(kids) = self.children.get(&h) {
                out.extend(kids.iter().copied());
                stack.extend(kids.iter().copied());
            }
        }
        out
    }

    /// The ancestor of `hash` at `height` (walking parent links).
    pub fn ancestor(&self, hash: &BlockHash, height: u32) -> Option<&IndexEntry> {
        let mut e = self.entries.get(hash)?;
        while e.height > height {
            e = self.entries.get(&e.header.prev_hash)?;
        }
        (e.height == height).then_some(e)
    }

    /// Median time of `hash` and up to 10 of its ancestors.
    pub fn median_time_past(&self, hash: &BlockHash) -> u32 {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cur = self.entries.get(hash);
        while let Some(e) = cur {
            times.push(e.header.time);
            if times.len() == MEDIAN_TIME_SPAN {
                break;
            }
            cur = self.entries.get(&e.header.prev_hash);
        }
        median_time(times)
    }

    /// The compact target required of a child of `parent`.
    pub fn next_bits(&self, parent: &IndexEntry, params: &ChainParams) -> u32 {
        required_bits(&parent.header, parent.height, params, |height| {
            self.ancestor(&parent.hash, height).map(|e| e.header.time)
        })
    }

    /// The context a child of `parent` is validated in.
    pub fn child_context(&self, parent: &IndexEntry, params: &ChainParams) -> HeaderContext {
        HeaderContext {
            height: parent.height + 1,
            expected_bits: self.next_bits(parent, params),
            median_time_past: self.median_time_past(&parent.hash),
            parent_time: parent.header.time,
        }
    }
}

/// The median of the times of a block and up to 10 of its ancestors (`times`, in any order;
/// 0 when empty). Shared by [`BlockIndex::median_time_past`] and header-only chains that hold
/// ancestors elsewhere.
pub fn median_time(mut times: Vec<u32>) -> u32 {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

/// The compact target required of a child of a block with `parent_header` at `parent_height`.
/// `ancestor_time(h)` gives the time of that block's ancestor at height `h` (only asked at a
/// retarget boundary). Shared by [`BlockIndex::next_bits`] and header-only chains that hold
/// ancestors elsewhere.
///
/// At a height `H` that is a multiple of the interval `N`, the window `H-N .. H-1` is
/// measured over its full `N` spacings: from the previous window's last block (`H-N-1`) to
/// this window's last block (the parent, `H-1`), i.e. `parent.time - time(H - N - 1)`,
/// against `N × spacing` (Bitcoin measures from the window's first block, `N-1` spacings
/// against `N`, an off-by-one that biases the target and enables the time-warp attack). The
/// first window has no previous window: it is measured from genesis over its `N-1` spacings,
/// against `(N-1) × spacing`. The factor is clamped to `[1/4, 4]` and the result capped at
/// the network's limit.
pub fn required_bits(
    parent_header: &BlockHeader,
    parent_height: u32,
    params: &ChainParams,
    ancestor_time: impl FnOnce(u32) -> Option<u32>,
) -> u32 {
    if !params.retarget {
        return params.pow_limit_bits;
    }
    let height = parent_height + 1;
    if !height.is_multiple_of(params.retarget_interval) {
        return parent_header.bits;
    }
    let anchor_height = parent_height.saturating_sub(params.retarget_interval);
    let spacings = (parent_height - anchor_height) as i64;
    let anchor_time = ancestor_time(anchor_height).unwrap_or(0);
    let actual = parent_header.time as i64 - anchor_time as i64;
    retarget(
        parent_header.bits,
        actual,
        spacings * params.target_spacing_secs as i64,
        params.pow_limit_bits,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::{Hash256, Network};

    fn entry(prev: BlockHash, height: u32, time: u32) -> IndexEntry {
        let header = BlockHeader {
            version: 1,
            prev_hash: prev,
            merkle_root: Hash256::ZERO,
            time,
            bits: 0x207fffff,
            nonce: height,
        };
        IndexEntry {
            hash: header.hash(),
            header,
            height,
            chain_work: ChainWork::default(),
            status: BlockStatus::Valid,
            location: Some(BlockLocation {
                file: 0,
                offset: 8,
                len: 100,
            }),
        }
    }

    #[test]
    fn entry_round_trips() {
        let e = entry(Hash256([1; 32]), 5, 100);
        assert_eq!(IndexEntry::from_bytes(e.hash, &e.to_bytes()), Ok(e.clone()));
        let mut bad = e.to_bytes();
        bad.push(0);
        assert!(IndexEntry::from_bytes(e.hash, &bad).is_err());
    }

    #[test]
    fn median_time_and_ancestors() {
        let mut idx = BlockIndex::new();
        let mut prev = Hash256::ZERO;
        let times = [10, 50, 20, 40, 30, 60, 70, 80, 90, 15, 100, 110];
        for (h, t) in times.iter().enumerate() {
            let e = entry(prev, h as u32, *t);
            prev = e.hash;
            idx.insert(e);
        }
        // last 11 times: 50,20,40,30,60,70,80,90,15,100,110 -> sorted median 60
        assert_eq!(idx.median_time_past(&prev), 60);
        assert_eq!(idx.ancestor(&prev, 0).map(|e| e.header.time), Some(10));
        assert_eq!(
            idx.descendants(&idx.ancestor(&prev, 9).unwrap().hash.clone())
                .len(),
            2
        );
        let p = Network::Dev.params();
        assert_eq!(idx.next_bits(idx.get(&prev).unwrap(), p), p.pow_limit_bits);
    }

    /// `required_bits` at a child of height `height` on main, every block `spacing` seconds
    /// after the previous (ancestor at `h` has time `h * spacing`), the parent carrying
    /// `bits`; returns the result and the ancestor heights asked for.
    fn bits_at(height: u32, spacing: u32, bits: u32) -> (u32, Vec<u32>) {
        let p = Network::Main.params();
        let parent = BlockHeader {
            version: 1,
            prev_hash: Hash256::ZERO,
            merkle_root: Hash256::ZERO,
            time: (height - 1) * spacing,
            bits,
            nonce: 0,
        };
        let mut asked = Vec::new();
        let out = required_bits(&parent, height - 1, p, |h| {
            asked.push(h);
            Some(h * spacing)
        });
        (out, asked)
    }

    fn target(bits: u32) -> parthenon_primitives::pow::U256 {
        parthenon_primitives::pow::target_from_compact(bits).unwrap()
    }

    /// A target well inside main's limit, exactly representable after * 4 and / 4.
    const BITS: u32 = 0x1d00_ffff;

    #[test]
    fn retarget_happens_only_at_window_starts() {
        // 2015 and 2017 keep the parent's bits whatever the times; nothing is looked up.
        for height in [2015, 2017, 4031, 4033] {
            assert_eq!(bits_at(height, 1, BITS), (BITS, vec![]), "height {height}");
        }
    }

    #[test]
    fn a_window_is_measured_over_its_full_2016_spacings() {
        // Height 4032: from the previous window's last block (2015) to the parent (4031),
        // 2016 spacings of exactly 600 s: the target stays. (Measuring from the window's
        // first block, 4032 - 2016, counts 2015 spacings and would make it harder.)
        assert_eq!(bits_at(4032, 600, BITS), (BITS, vec![2015]));
        // Twice as fast: exactly half the target.
        let (half, _) = bits_at(4032, 300, BITS);
        assert_eq!(target(half), target(BITS) >> 1);
    }

    #[test]
    fn the_first_window_is_measured_from_genesis_over_2015_spacings() {
        assert_eq!(bits_at(2016, 600, BITS), (BITS, vec![0]));
        let (half, _) = bits_at(2016, 300, BITS);
        assert_eq!(target(half), target(BITS) >> 1);
    }

    #[test]
    fn the_retarget_factor_is_clamped_to_a_quarter_and_four() {
        // A window of 1 s per block: 600 times too fast, clamped to 4x harder.
        let (harder, _) = bits_at(4032, 1, BITS);
        assert_eq!(target(harder), target(BITS) >> 2);
        // Exactly 4x too fast and exactly 4x too slow are the clamp's edges.
        let (edge, _) = bits_at(4032, 150, BITS);
        assert_eq!(target(edge), target(BITS) >> 2);
        // 100 times too slow: clamped to 4x easier.
        let (easier, _) = bits_at(4032, 60_000, BITS);
        assert_eq!(target(easier), target(BITS) << 2);
        let (edge, _) = bits_at(4032, 2_400, BITS);
        assert_eq!(target(edge), target(BITS) << 2);
        // Never easier than the network's limit.
        let limit = Network::Main.params().pow_limit_bits;
        assert_eq!(bits_at(4032, 60_000, limit).0, limit);
    }
}
