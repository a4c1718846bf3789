//! The chainstate: block index, active chain, coins (UTXO set), reorganisation and orphans.
//!
//! Invariant: the coins partition always equals the replay of the active chain from genesis
//! up to the stored tip. Every block connect or disconnect is ONE atomic write batch holding
//! the coins spent and created, the undo data and the new tip (and the running statistics),
//! so a crash at any moment leaves the previous or the next tip, never a mix.
//!
//! A block is reported connected only after its batch is written; with the store's default
//! durability ([`parthenon_storage::Durability::Process`]) that batch survives a crash of
//! the process. The coins cache is a read cache in front of the store: writes go through
//! to the store with each block's batch, which is what makes the crash guarantee hold.
//!
//! Block bytes live in the block files, outside the store, so a batch can outlive the bytes
//! it points at after a power loss. Two rules keep that recoverable: the block files are
//! synced before the store whenever the chainstate syncs, and every batch records how far
//! the block files were durable when it was written ([`BlockPosition`]); at open,
//! [`recovery`] re-reads every block past that point (and the last few of the active
//! chain) and rolls back to the last block whose data is intact.

use crate::block_index::{BlockIndex, BlockStatus, IndexEntry};
use crate::coin::Coin;
use crate::coins_cache::CoinsCache;
use crate::error::ChainError;
use crate::orphans::{OrphanPool, DEFAULT_MAX_ORPHANS, DEFAULT_MAX_ORPHAN_BYTES};
use crate::sig_cache::{SigCache, DEFAULT_SIG_CACHE_ENTRIES};
use crate::undo::BlockUndo;
use crate::validation::signatures::{collect_tx_checks, keep_first_in_block_order, SigCheck};
use crate::validation::{context, isolation, utxo, ValidationError};
use crate::workers::{Spawner, Workers};
use parking_lot::Mutex;
use parthenon_crypto::batch::{self, BatchItem};
use parthenon_primitives::encode::{deserialize, serialize};
use parthenon_primitives::{
    AssetAmounts, Block, BlockHash, ChainParams, ChainWork, Hash256, OutPoint, TxOut,
};
use parthenon_storage::coins::{delete_coin, put_coin, scan_coins};
use parthenon_storage::{BlockFiles, BlockPosition, KvStore, Partition, WriteBatch};
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

const META_TIP: &[u8] = b"tip";
const META_STATS: &[u8] = b"stats";
const META_SCHEMA: &[u8] = b"schema";
/// How far the block files were durable (a [`BlockPosition`]) when the batch holding this
/// record was written.
const META_BLOCKS_SYNCED: &[u8] = b"blocks_synced";

mod recovery;
/// Signature checks handed to a worker at a time while the UTXO stage goes on; each chunk
/// is verified as one BIP-340 batch, so it is large enough for the multi-scalar
/// multiplication to pay and small enough to overlap with the UTXO stage.
const SIGNATURE_CHUNK: usize = 256;

/// The first invalid signature of `checks` in order, if any: one batch verification, and
/// only when it fails, the exact per-signature result to name the culprit.
fn first_invalid(checks: Vec<SigCheck>) -> Option<SigCheck> {
    let items: Vec<BatchItem> = checks.iter().map(SigCheck::batch_item).collect();
    if batch::batch_is_valid(&items) {
        return None;
    }
    let valid = batch::verify_batch(&items);
    checks
        .into_iter()
        .zip(valid)
        .find(|(_, ok)| !ok)
        .map(|(c, _)| c)
}
/// Version of the on-disk layout and of the consensus rules the stored chain was validated
/// under; bumped on incompatible changes. 2: signature hashes commit to the sequences and the
/// network, so the spends of a version-1 chain no longer verify.
const SCHEMA_VERSION: u32 = 2;

/// Tunables of the chainstate.
#[derive(Debug, Clone)]
pub struct ChainstateConfig {
    /// Most orphan blocks held.
    pub max_orphans: usize,
    /// Most bytes of orphan blocks held.
    pub max_orphan_bytes: usize,
    /// Most coins held in the read cache.
    pub coins_cache_entries: usize,
    /// Whether to verify signatures when connecting blocks (off only for benchmarks).
    pub check_signatures: bool,
    /// Entries of the cache of signatures verified on mempool entry.
    pub sig_cache_entries: usize,
}

impl Default for ChainstateConfig {
    fn default() -> Self {
        ChainstateConfig {
            max_orphans: DEFAULT_MAX_ORPHANS,
            max_orphan_bytes: DEFAULT_MAX_ORPHAN_BYTES,
            coins_cache_entries: 1_000_000,
            check_signatures: true,
            sig_cache_entries: DEFAULT_SIG_CACHE_ENTRIES,
        }
    }
}

/// Running totals of the UTXO set, kept in the same batch as every connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainStats {
    /// Number of unspent coins.
    pub utxo_count: u64,
    /// Sum of unspent coins per asset.
    pub supply: AssetAmounts,
}

impl ChainStats {
    fn to_bytes(self) -> Vec<u8> {
        let mut v = self.utxo_count.to_le_bytes().to_vec();
        for a in self.supply.0 {
            v.extend_from_slice(&a.to_le_bytes());
        }
        v
    }
    fn from_bytes(b: &[u8]) -> Result<Self, ChainError> {
        if b.len() != 32 {
            return Err(ChainError::Corrupt(format!(
                "stats record of {} bytes",
                b.len()
            )));
        }
        let u = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Ok(ChainStats {
            utxo_count: u(0),
            supply: AssetAmounts([u(1), u(2), u(3)]),
        })
    }
}

/// What happened to the active chain while processing a block.
#[derive(Debug, Default, Clone)]
pub struct ChainUpdate {
    /// Blocks disconnected from the old tip downward, in that order.
    pub disconnected: Vec<Arc<Block>>,
    /// Blocks connected, in chain order, with their heights.
    pub connected: Vec<(Arc<Block>, u32)>,
}

/// Where a processed block ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockDisposition {
    /// It is on the active chain now.
    Active,
    /// Stored on a branch with less work than the active chain.
    SideBranch,
    /// Its parent is unknown; held in the orphan pool.
    Orphan,
    /// Already known.
    Duplicate,
}

/// The result of [`Chainstate::process_block`].
#[derive(Debug, Clone)]
pub struct ProcessOutcome {
    /// The block's hash.
    pub hash: BlockHash,
    /// Where it ended up.
    pub disposition: BlockDisposition,
    /// Changes to the active chain (a reorg shows disconnected blocks).
    pub update: ChainUpdate,
}

/// The node's view of the chain.
pub struct Chainstate {
    params: &'static ChainParams,
    /// The network's identity in every signature hash, computed once.
    genesis_hash: BlockHash,
    store: Arc<dyn KvStore>,
    blocks: BlockFiles,
    index: BlockIndex,
    active: Vec<BlockHash>,
    candidates: BTreeSet<(ChainWork, Reverse<u64>, BlockHash)>,
    arrival: HashMap<BlockHash, u64>,
    next_arrival: u64,
    cache: CoinsCache,
    orphans: OrphanPool,
    /// Blocks stored during the current `process_block` call, so connecting them does not
    /// read back and decode what was just written.
    just_stored: HashMap<BlockHash, Arc<Block>>,
    sig_cache: Arc<SigCache>,
    stats: ChainStats,
    workers: Workers,
    config: ChainstateConfig,
}

impl std::fmt::Debug for Chainstate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chainstate")
            .field("network", &self.params.network)
            .field("height", &self.height())
            .field("tip", &self.tip_hash())
            .finish()
    }
}

impl Chainstate {
    /// Opens the chainstate over `store` and `blocks`, writing the genesis block on first use
    /// and finishing any activation a crash interrupted.
    pub fn open(
        params: &'static ChainParams,
        store: Arc<dyn KvStore>,
        blocks: BlockFiles,
        workers: Workers,
        config: ChainstateConfig,
    ) -> Result<Self, ChainError> {
        let cache = CoinsCache::new(config.coins_cache_entries);
        let orphans = OrphanPool::new(config.max_orphans, config.max_orphan_bytes);
        let mut cs = Chainstate {
            params,
            genesis_hash: params.genesis_hash(),
            store,
            blocks,
            index: BlockIndex::new(),
            active: Vec::new(),
            candidates: BTreeSet::new(),
            arrival: HashMap::new(),
            next_arrival: 0,
            cache,
            orphans,
            just_stored: HashMap::new(),
            sig_cache: Arc::new(SigCache::new(config.sig_cache_entries)),
            stats: ChainStats::default(),
            workers,
            config,
        };
        match cs.store.get(Partition::Meta, META_SCHEMA)? {
            None => cs.write_genesis()?,
            Some(v) => cs.check_schema(&v)?,
        }
        cs.load()?;
        cs.recover_lost_blocks()?;
        cs.activate_best_chain()?;
        Ok(cs)
    }

    fn schema_record(&self) -> Vec<u8> {
        let mut v = SCHEMA_VERSION.to_le_bytes().to_vec();
        v.extend_from_slice(&self.params.magic);
        v
    }

    fn check_schema(&self, v: &[u8]) -> Result<(), ChainError> {
        let ours = self.schema_record();
        // Same network, older rules: say so, rather than "another network".
        if v.len() == ours.len() && v[4..] == ours[4..] {
            let found = u32::from_le_bytes(v[..4].try_into().expect("4 bytes"));
            if found < SCHEMA_VERSION {
                return Err(ChainError::OutdatedStore {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        if v != ours.as_slice() {
            return Err(ChainError::WrongStore {
                found: format!("schema record {}", hex_bytes(v)),
                expected: format!(
                    "the {} network, schema version {SCHEMA_VERSION}",
                    self.params.network
                ),
            });
        }
        Ok(())
    }

    fn write_genesis(&mut self) -> Result<(), ChainError> {
        let genesis = self.params.genesis_block();
        let location = self.blocks.append(&serialize(&genesis))?;
        let entry = IndexEntry {
            hash: genesis.hash(),
            header: genesis.header,
            height: 0,
            chain_work: ChainWork::from_bits(genesis.header.bits)
                .map_err(|e| ChainError::Corrupt(format!("genesis bits: {e}")))?,
            status: BlockStatus::Valid,
            location: Some(location),
        };
        let mut batch = WriteBatch::new();
        batch.put(
            Partition::BlockIndex,
            entry.hash.0.to_vec(),
            entry.to_bytes(),
        );
        batch.put(Partition::Meta, META_TIP, entry.hash.0.to_vec());
        batch.put(
            Partition::Meta,
            META_STATS,
            ChainStats::default().to_bytes(),
        );
        batch.put(Partition::Meta, META_SCHEMA, self.schema_record());
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;
        Ok(())
    }

    fn load(&mut self) -> Result<(), ChainError> {
        let mut entries = Vec::new();
        let mut bad = None;
        self.store
            .scan_prefix(Partition::BlockIndex, &[], &mut |k, v| {
                let Ok(hash) = <[u8; 32]>::try_from(k) else {
                    bad = Some(format!("block index key of {} bytes", k.len()));
                    return false;
                };
                match IndexEntry::from_bytes(Hash256(hash), v) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        bad = Some(format!("block index entry {}: {e}", Hash256(hash)));
                        return false;
                    }
                }
                true
            })?;
        if let Some(b) = bad {
            return Err(ChainError::Corrupt(b));
        }
        let tip = self
            .store
            .get(Partition::Meta, META_TIP)?
            .ok_or_else(|| ChainError::Corrupt("no tip record".into()))?;
        let tip = Hash256(
            tip.as_slice()
                .try_into()
                .map_err(|_| ChainError::Corrupt("tip record length".into()))?,
        );
        // Arrival order is not stored; the stored tip counts as seen first, so it keeps
        // precedence over candidates of equal work after a restart as it had before.
        self.arrival.insert(tip, 0);
        entries.sort_by_key(|e| e.height);
        for e in entries {
            self.add_candidate(&e);
            self.index.insert(e);
        }
        let tip_entry = self
            .index
            .get(&tip)
            .ok_or_else(|| ChainError::Corrupt(format!("tip {tip} is not in the block index")))?;
        let mut active = vec![Hash256::ZERO; tip_entry.height as usize + 1];
        let mut cur = Some(tip_entry);
        while let Some(e) = cur {
            active[e.height as usize] = e.hash;
            cur = if e.height == 0 {
                None
            } else {
                self.index.get(&e.header.prev_hash)
            };
            if e.height > 0 && cur.is_none() {
                return Err(ChainError::Corrupt(format!(
                    "ancestor of {} missing",
                    e.hash
                )));
            }
        }
        if active[0] != self.genesis_hash {
            return Err(ChainError::WrongStore {
                found: format!("a chain with genesis {}", active[0]),
                expected: format!("the {} network", self.params.network),
            });
        }
        self.active = active;
        let stats = self
            .store
            .get(Partition::Meta, META_STATS)?
            .ok_or_else(|| ChainError::Corrupt("no stats record".into()))?;
        self.stats = ChainStats::from_bytes(&stats)?;
        Ok(())
    }

    // ----- queries -----

    /// The network parameters.
    pub fn params(&self) -> &'static ChainParams {
        self.params
    }

    /// The network's genesis block hash, which every signature hash commits to.
    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis_hash
    }

    /// Height of the active tip.
    pub fn height(&self) -> u32 {
        (self.active.len() - 1) as u32
    }

    /// Hash of the active tip.
    pub fn tip_hash(&self) -> BlockHash {
        *self
            .active
            .last()
            .expect("the active chain always holds genesis")
    }

    /// Index entry of the active tip.
    pub fn tip(&self) -> &IndexEntry {
        self.index
            .get(&self.tip_hash())
            .expect("the tip is indexed")
    }

    /// Hash of the active block at `height`.
    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.active.get(height as usize).copied()
    }

    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .is_some_and(|e| self.active.get(e.height as usize) == Some(hash))
    }

    /// The index entry of `hash`.
    pub fn entry(&self, hash: &BlockHash) -> Option<&IndexEntry> {
        self.index.get(hash)
    }

    /// The block index.
    pub fn index(&self) -> &BlockIndex {
        &self.index
    }

    /// Running UTXO statistics.
    pub fn stats(&self) -> ChainStats {
        self.stats
    }

    /// Whether `hash` is held in the orphan pool (received, its parent not indexed yet).
    pub fn is_orphan(&self, hash: &BlockHash) -> bool {
        self.orphans.contains(hash)
    }

    /// The settings the chainstate was opened with.
    pub fn config(&self) -> &ChainstateConfig {
        &self.config
    }

    /// Orphan pool size in blocks and bytes.
    pub fn orphan_usage(&self) -> (usize, usize) {
        (self.orphans.len(), self.orphans.bytes())
    }

    /// The block files.
    pub fn block_files(&self) -> &BlockFiles {
        &self.blocks
    }

    /// Signatures verified on mempool entry, skipped when their block connects.
    pub fn sig_cache(&self) -> &SigCache {
        &self.sig_cache
    }

    /// The worker pool used for signature checks.
    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// Reads a stored block.
    pub fn read_block(&self, hash: &BlockHash) -> Result<Option<Block>, ChainError> {
        let Some(loc) = self.index.get(hash).and_then(|e| e.location) else {
            return Ok(None);
        };
        let bytes = self.blocks.read(loc)?;
        let block: Block =
            deserialize(&bytes).map_err(|e| ChainError::corrupt("stored block", e))?;
        if block.hash() != *hash {
            return Err(ChainError::Corrupt(format!(
                "block file entry for {hash} holds another block"
            )));
        }
        Ok(Some(block))
    }

    /// The unspent coin at `outpoint`, if any.
    pub fn coin(&self, outpoint: &OutPoint) -> Result<Option<Coin>, ChainError> {
        self.cache.get(&*self.store, outpoint)
    }

    /// Calls `f` for every unspent coin in key order; stops when `f` returns false.
    pub fn for_each_coin(
        &self,
        f: &mut dyn FnMut(OutPoint, Coin) -> bool,
    ) -> Result<(), ChainError> {
        let mut bad = None;
        scan_coins(&*self.store, &mut |op, v| match Coin::from_bytes(v) {
            Ok(c) => f(op, c),
            Err(e) => {
                bad = Some(format!("coin {op}: {e}"));
                false
            }
        })?;
        bad.map_or(Ok(()), |b| Err(ChainError::Corrupt(b)))
    }

    /// The context (height, required bits, median time) a block on the tip is checked in.
    pub fn next_block_context(&self) -> context::HeaderContext {
        self.index.child_context(self.tip(), self.params)
    }

    /// Makes everything written so far durable against power loss: the block files first,
    /// then the store, so the store never becomes durable pointing at block bytes that are
    /// not.
    pub fn sync(&self) -> Result<(), ChainError> {
        self.blocks.sync()?;
        let mut batch = WriteBatch::new();
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;
        self.store.sync()?;
        Ok(())
    }

    /// Records in `batch` how far the block files are durable now. Every batch carries it,
    /// so whatever state of the store survives a crash also says which block records it
    /// may reference without them being on the disk.
    fn put_sync_marker(&self, batch: &mut WriteBatch) {
        batch.put(
            Partition::Meta,
            META_BLOCKS_SYNCED,
            self.blocks.synced_end().to_bytes().to_vec(),
        );
    }

    // ----- block processing -----

    /// Validates and stores a block, connects it (and any orphans it completes) if it
    /// extends the chain with most work, reorganising when another branch wins.
    ///
    /// When the block turns out invalid, the error carries no [`ChainUpdate`]: the active
    /// chain is then the one it was before the call (a failed reorganisation goes back).
    ///
    /// `now_secs` is the current time for the future-timestamp rule.
    pub fn process_block(
        &mut self,
        block: Block,
        now_secs: u64,
    ) -> Result<ProcessOutcome, ChainError> {
        let hash = block.hash();
        if let Some(e) = self.index.get(&hash) {
            if e.status.is_invalid() {
                return Err(ChainError::KnownInvalid { hash });
            }
            return Ok(ProcessOutcome {
                hash,
                disposition: BlockDisposition::Duplicate,
                update: ChainUpdate::default(),
            });
        }
        if self.orphans.contains(&hash) {
            return Ok(ProcessOutcome {
                hash,
                disposition: BlockDisposition::Duplicate,
                update: ChainUpdate::default(),
            });
        }
        isolation::check_block(&block, self.params)
            .map_err(|source| ChainError::InvalidBlock { hash, source })?;
        if !self.index.contains(&block.header.prev_hash) {
            let size = block.encoded_len();
            self.orphans.insert(block, size);
            return Ok(ProcessOutcome {
                hash,
                disposition: BlockDisposition::Orphan,
                update: ChainUpdate::default(),
            });
        }
        let mut first_error = None;
        let mut queue = vec![block];
        while let Some(b) = queue.pop() {
            let h = b.hash();
            let accepted = self.accept_to_index(b, now_secs);
            // Orphans waiting on a block follow it into the index: as candidates when it is
            // accepted, as invalid-by-parent when it is marked invalid.
            if accepted.is_ok() || self.index.get(&h).is_some_and(|e| e.status.is_invalid()) {
                queue.extend(self.orphans.take_children(&h));
            }
            match accepted {
                Ok(()) => {}
                Err(e) if h == hash => first_error = Some(e),
                Err(e) => tracing::info!(block = %h, error = %e, "orphan block rejected"),
            }
        }
        let activation = self.activate_best_chain_collecting();
        self.just_stored.clear();
        let (update, activation_error) = activation?;
        if let Some(e) = first_error {
            return Err(e);
        }
        let disposition = if self.is_active(&hash) {
            BlockDisposition::Active
        } else {
            BlockDisposition::SideBranch
        };
        if let Some(e) = activation_error {
            // The offered block's own branch failed to connect.
            if self.index.get(&hash).is_some_and(|e| e.status.is_invalid()) {
                return Err(e);
            }
        }
        Ok(ProcessOutcome {
            hash,
            disposition,
            update,
        })
    }

    /// Context-checks a block whose parent is indexed, stores it and indexes it.
    fn accept_to_index(&mut self, block: Block, now_secs: u64) -> Result<(), ChainError> {
        let hash = block.hash();
        let parent = self
            .index
            .get(&block.header.prev_hash)
            .cloned()
            .ok_or_else(|| ChainError::Corrupt(format!("parent of {hash} vanished")))?;
        let work =
            ChainWork::from_bits(block.header.bits).map_err(|e| ChainError::InvalidBlock {
                hash,
                source: e.into(),
            })?;
        let mut entry = IndexEntry {
            hash,
            header: block.header,
            height: parent.height + 1,
            chain_work: parent.chain_work + work,
            status: BlockStatus::Valid,
            location: None,
        };
        if parent.status.is_invalid() {
            entry.status = BlockStatus::InvalidParent;
            self.persist_entry(&entry)?;
            self.index.insert(entry);
            return Err(ChainError::InvalidBlock {
                hash,
                source: ValidationError::InvalidParent {
                    parent: parent.hash,
                },
            });
        }
        let ctx = self.index.child_context(&parent, self.params);
        if let Err(source) = context::check_block_in_context(&block, &ctx, now_secs, self.params) {
            if source.marks_block_invalid() {
                entry.status = BlockStatus::Invalid;
                self.persist_entry(&entry)?;
                self.index.insert(entry);
            }
            return Err(ChainError::InvalidBlock { hash, source });
        }
        entry.location = Some(self.blocks.append(&serialize(&block))?);
        self.persist_entry(&entry)?;
        self.add_candidate(&entry);
        self.index.insert(entry);
        self.just_stored.insert(hash, Arc::new(block));
        Ok(())
    }

    fn persist_entry(&self, e: &IndexEntry) -> Result<(), ChainError> {
        let mut batch = WriteBatch::new();
        batch.put(Partition::BlockIndex, e.hash.0.to_vec(), e.to_bytes());
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;
        Ok(())
    }

    fn add_candidate(&mut self, e: &IndexEntry) {
        if e.status.is_invalid() || e.location.is_none() {
            return;
        }
        let seq = *self.arrival.entry(e.hash).or_insert_with(|| {
            self.next_arrival += 1;
            self.next_arrival
        });
        self.candidates.insert((e.chain_work, Reverse(seq), e.hash));
    }

    /// Marks `hash` invalid and every descendant invalid-by-parent, persistently.
    fn mark_invalid(&mut self, hash: BlockHash) -> Result<(), ChainError> {
        let mut marks = vec![(hash, BlockStatus::Invalid)];
        marks.extend(
            self.index
                .descendants(&hash)
                .into_iter()
                .map(|d| (d, BlockStatus::InvalidParent)),
        );
        let mut batch = WriteBatch::new();
        for (h, status) in marks {
            if let Some(e) = self.index.get_mut(&h) {
                let seq = self.arrival.get(&h).copied().unwrap_or(0);
                self.candidates.remove(&(e.chain_work, Reverse(seq), h));
                e.status = status;
                batch.put(Partition::BlockIndex, h.0.to_vec(), e.to_bytes());
            }
        }
        self.store.write(batch)?;
        Ok(())
    }

    fn activate_best_chain(&mut self) -> Result<ChainUpdate, ChainError> {
        let (update, err) = self.activate_best_chain_collecting()?;
        if let Some(e) = err {
            tracing::warn!(error = %e, "a branch failed to connect during activation");
        }
        Ok(update)
    }

    /// Moves the active chain to the valid branch with most work. Blocks that fail to connect
    /// are marked invalid (with their descendants) and the next best branch is tried; the
    /// last such validation failure is returned beside the update.
    fn activate_best_chain_collecting(
        &mut self,
    ) -> Result<(ChainUpdate, Option<ChainError>), ChainError> {
        let mut update = ChainUpdate::default();
        let mut last_error = None;
        loop {
            let tip_work = self.tip().chain_work;
            let Some(&(work, _, best)) = self.candidates.iter().next_back() else {
                break;
            };
            // Only more work displaces the tip, except after a branch failed to connect: then
            // the first seen candidate of equal work (the tip before the attempt) wins too,
            // so a failed reorganisation does not leave the chain on a later-seen branch.
            if best == self.tip_hash()
                || work < tip_work
                || (work == tip_work && last_error.is_none())
            {
                break;
            }
            // Path from `best` back to the active chain.
            let mut path = Vec::new();
            let mut cur = self.index.get(&best).cloned();
            while let Some(e) = cur {
                if self.is_active(&e.hash) {
                    break;
                }
                let parent = e.header.prev_hash;
                path.push(e);
                cur = self.index.get(&parent).cloned();
            }
            let fork_height = path.last().map(|e| e.height - 1).unwrap_or(self.height());
            while self.height() > fork_height {
                let b = self.disconnect_tip()?;
                update.disconnected.push(b);
            }
            for e in path.iter().rev() {
                match self.connect_entry(e) {
                    Ok(b) => update.connected.push((b, e.height)),
                    Err(ChainError::InvalidBlock { hash, source }) => {
                        tracing::warn!(block = %hash, error = %source, "block failed to connect; marking it invalid");
                        self.mark_invalid(hash)?;
                        last_error = Some(ChainError::InvalidBlock { hash, source });
                        break;
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        Ok((update, last_error))
    }

    fn connect_entry(&mut self, e: &IndexEntry) -> Result<Arc<Block>, ChainError> {
        let block = match self.just_stored.get(&e.hash) {
            Some(b) => b.clone(),
            None => Arc::new(self.read_block(&e.hash)?.ok_or_else(|| {
                ChainError::Corrupt(format!("block {} has no stored data", e.hash))
            })?),
        };
        self.connect_block(e, &block)?;
        Ok(block)
    }

    /// The UTXO stage of `block` at `height`: resolves every input, checks maturity,
    /// conservation and the coinbase claim, and queues signature checks on `spawner`.
    /// Returns the coins created and the undo data.
    fn check_against_coins<'s>(
        &self,
        block: &Block,
        height: u32,
        spawner: &Spawner<'_, 's>,
        first_bad_signature: &'s Mutex<Option<SigCheck>>,
    ) -> Result<(HashMap<OutPoint, Coin>, BlockUndo), ChainError> {
        let hash = block.hash();
        let invalid = |source| ChainError::InvalidBlock { hash, source };
        let mut created: HashMap<OutPoint, Coin> = HashMap::new();
        let mut undo = BlockUndo::default();
        let mut spent_here: HashSet<OutPoint> = HashSet::new();
        let mut fees = AssetAmounts::default();
        let mut pending = Vec::with_capacity(SIGNATURE_CHUNK);
        let cache = self.sig_cache.clone();
        let flush = |chunk: Vec<SigCheck>| {
            let cache = cache.clone();
            spawner.spawn(move || {
                let todo: Vec<SigCheck> = chunk
                    .into_iter()
                    .filter(|c| !cache.contains(&c.pubkey, &c.msg, &c.sig))
                    .collect();
                if let Some(bad) = first_invalid(todo) {
                    keep_first_in_block_order(first_bad_signature, bad);
                }
            })
        };
        for (tx_index, tx) in block.txs.iter().enumerate() {
            let txid = tx.txid();
            if tx_index > 0 {
                let mut coins = Vec::with_capacity(tx.inputs.len());
                for (input, txin) in tx.inputs.iter().enumerate() {
                    let op = txin.prevout;
                    let missing = || ValidationError::MissingInput {
                        txid,
                        input,
                        outpoint: op,
                    };
                    let coin = if let Some(c) = created.remove(&op) {
                        c
                    } else {
                        if !spent_here.insert(op) {
                            return Err(invalid(missing()));
                        }
                        let c = self.coin(&op)?.ok_or_else(|| invalid(missing()))?;
                        undo.spent.push((op, c.clone()));
                        c
                    };
                    coins.push(coin);
                }
                let fee = utxo::check_tx_against_coins(tx, txid, &coins, height, self.params)
                    .map_err(invalid)?;
                fees = fees
                    .checked_add_all(&fee)
                    .ok_or_else(|| invalid(ValidationError::AmountOverflow { txid }))?;
                if self.config.check_signatures {
                    let spent: Vec<&TxOut> = coins.iter().map(|c| &c.output).collect();
                    collect_tx_checks(&self.genesis_hash, tx, txid, tx_index, &spent, &mut pending)
                        .map_err(invalid)?;
                    // Full chunks go out even in the middle of a large transaction, so one
                    // transaction of many inputs is spread over the workers too.
                    while pending.len() >= SIGNATURE_CHUNK {
                        let rest = pending.split_off(SIGNATURE_CHUNK);
                        flush(std::mem::replace(&mut pending, rest));
                    }
                }
            }
            for (vout, out) in tx.outputs.iter().enumerate() {
                created.insert(
                    OutPoint::new(txid, vout as u32),
                    Coin {
                        output: out.clone(),
                        height,
                        is_coinbase: tx_index == 0,
                    },
                );
            }
        }
        if !pending.is_empty() {
            flush(pending);
        }
        utxo::check_coinbase_claim(&block.txs[0], &fees, height, self.params).map_err(invalid)?;
        Ok((created, undo))
    }

    /// Stages 3 and 4 against the UTXO set, then one atomic batch.
    ///
    /// Signature checks are handed to the worker pool in chunks while this thread goes on
    /// with the UTXO stage, so the two stages overlap; a UTXO-stage failure still takes
    /// precedence, and among bad signatures the first in block order is reported.
    fn connect_block(&mut self, entry: &IndexEntry, block: &Block) -> Result<(), ChainError> {
        let hash = entry.hash;
        let height = entry.height;
        let invalid = |source| ChainError::InvalidBlock { hash, source };
        let first_bad_signature: Mutex<Option<SigCheck>> = Mutex::new(None);
        let workers = self.workers.clone();
        let (created, undo) = workers.scope(|spawner| {
            self.check_against_coins(block, height, spawner, &first_bad_signature)
        })?;
        if let Some(bad) = first_bad_signature.into_inner() {
            return Err(invalid(bad.error()));
        }

        let mut stats = self.stats;
        let mut batch = WriteBatch::new();
        for (op, coin) in &undo.spent {
            delete_coin(&mut batch, op);
            stats.utxo_count -= 1;
            stats
                .supply
                .checked_sub(coin.output.asset, coin.output.amount)
                .ok_or_else(|| ChainError::Corrupt("supply would go negative".into()))?;
        }
        for (op, coin) in &created {
            put_coin(&mut batch, op, coin.to_bytes());
            stats.utxo_count += 1;
            stats
                .supply
                .checked_add(coin.output.asset, coin.output.amount)
                .ok_or_else(|| invalid(ValidationError::AmountOverflow { txid: op.txid }))?;
        }
        batch.put(Partition::Undo, hash.0.to_vec(), undo.to_bytes());
        batch.put(Partition::Meta, META_TIP, hash.0.to_vec());
        batch.put(Partition::Meta, META_STATS, stats.to_bytes());
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;

        self.stats = stats;
        self.cache
            .apply(undo.spent.iter().map(|(op, _)| op), created.into_iter());
        self.active.push(hash);
        Ok(())
    }

    /// Disconnects the tip using its undo data, in one atomic batch.
    fn disconnect_tip(&mut self) -> Result<Arc<Block>, ChainError> {
        let entry = self.tip().clone();
        if entry.height == 0 {
            return Err(ChainError::Corrupt("cannot disconnect genesis".into()));
        }
        let block = self.read_block(&entry.hash)?.ok_or_else(|| {
            ChainError::Corrupt(format!("block {} has no stored data", entry.hash))
        })?;
        let undo_bytes = self
            .store
            .get(Partition::Undo, &entry.hash.0)?
            .ok_or_else(|| ChainError::Corrupt(format!("no undo data for {}", entry.hash)))?;
        let undo =
            BlockUndo::from_bytes(&undo_bytes).map_err(|e| ChainError::corrupt("undo data", e))?;

        // Outputs spent inside the block never reached the coins table.
        let spent_inside: HashSet<OutPoint> = block
            .txs
            .iter()
            .skip(1)
            .flat_map(|t| t.inputs.iter().map(|i| i.prevout))
            .collect();
        let mut stats = self.stats;
        let mut batch = WriteBatch::new();
        let mut removed = Vec::new();
        for tx in &block.txs {
            let txid = tx.txid();
            for (vout, out) in tx.outputs.iter().enumerate() {
                let op = OutPoint::new(txid, vout as u32);
                if spent_inside.contains(&op) {
                    continue;
                }
                delete_coin(&mut batch, &op);
                removed.push(op);
                stats.utxo_count -= 1;
                stats
                    .supply
                    .checked_sub(out.asset, out.amount)
                    .ok_or_else(|| ChainError::Corrupt("supply would go negative".into()))?;
            }
        }
        for (op, coin) in &undo.spent {
            put_coin(&mut batch, op, coin.to_bytes());
            stats.utxo_count += 1;
            stats
                .supply
                .checked_add(coin.output.asset, coin.output.amount)
                .ok_or_else(|| ChainError::Corrupt("supply overflow on undo".into()))?;
        }
        batch.delete(Partition::Undo, entry.hash.0.to_vec());
        batch.put(Partition::Meta, META_TIP, entry.header.prev_hash.0.to_vec());
        batch.put(Partition::Meta, META_STATS, stats.to_bytes());
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;

        self.stats = stats;
        self.cache.apply(removed.iter(), undo.spent.into_iter());
        self.active.pop();
        Ok(Arc::new(block))
    }
}

impl Drop for Chainstate {
    /// The store fsyncs its journal when it closes; the block files go first so that this
    /// never makes a state durable whose block bytes are not.
    fn drop(&mut self) {
        if let Err(e) = self.blocks.sync() {
            tracing::error!(error = %e, "could not sync the block files on close");
        }
    }
}

fn hex_bytes(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}
