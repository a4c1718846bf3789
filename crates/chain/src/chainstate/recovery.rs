//! Start-up recovery from block data lost after the state that points at it became durable.
//!
//! With the default durability the store can become durable ahead of the block files (fjall
//! fsyncs its journal when it rotates it), and a disk can be damaged after a clean stop; a
//! power loss then leaves a tip whose block bytes are missing, cut short or zeroed. At open
//! the chainstate re-reads every block that may be affected and, when some are not intact,
//! rolls the active chain back to the last block below them, in one atomic batch:
//!
//! - which blocks are re-read: every indexed block whose record ends past the point the
//!   block files were known durable (the `blocks_synced` record of the batch that survived),
//!   or within the last [`RECHECK_TAIL_BYTES`] of the last file, and the last
//!   [`RECHECK_ACTIVE_BLOCKS`] blocks of the active chain;
//! - intact means: the record header matches the index, the payload decodes to a block with
//!   the indexed hash, and its transactions match the header's merkle root;
//! - a lost block and all its descendants leave the block index (so block download fetches
//!   them again); when one was active, the coins go back to the state below it — through the
//!   undo data (the coins the lost blocks created are the coins of their heights; the coins
//!   they spent are in their undo records), or, when an undo record is missing too, by
//!   replaying the active chain below the lost block from the block files.

use super::*;
use crate::replay;
use parthenon_storage::StorageError;

/// Active blocks at the tip re-read at every open, whatever the durability record says (as
/// Bitcoin Core's `-checkblocks` default): they catch damage after a clean stop.
const RECHECK_ACTIVE_BLOCKS: u32 = 6;

/// Bytes before the end of the last block file whose records are re-read at every open: a
/// record whose header survived but whose payload was partly zeroed or overwritten lies
/// there.
const RECHECK_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// How the coins were brought back below the lost blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RollbackPath {
    /// Every lost block's undo record was present.
    Undo,
    /// An undo record was missing too; the coins were rebuilt from the block files.
    Replay {
        /// The first height without undo data.
        missing_undo: u32,
    },
}

impl Chainstate {
    /// Finds blocks whose data is not intact and rolls back past them; see the module docs.
    pub(super) fn recover_lost_blocks(&mut self) -> Result<(), ChainError> {
        let opened = self.blocks.opened_end();
        let recorded = match self.store.get(Partition::Meta, META_BLOCKS_SYNCED)? {
            Some(v) => BlockPosition::from_bytes(&v)?,
            // Written before the record existed: trust only files sealed before the last.
            None => BlockPosition {
                file: opened.file,
                offset: 0,
            },
        };
        let window = BlockPosition {
            file: opened.file,
            offset: opened.offset.saturating_sub(RECHECK_TAIL_BYTES),
        };
        let trusted = recorded.min(window);

        let mut suspects: HashSet<BlockHash> = self
            .index
            .entries()
            .filter(|e| e.location.is_some_and(|l| l.end() > trusted))
            .map(|e| e.hash)
            .collect();
        let tip_height = self.height();
        let from = tip_height.saturating_sub(RECHECK_ACTIVE_BLOCKS - 1);
        suspects.extend(&self.active[from as usize..]);

        let mut lost: Vec<(BlockHash, String)> = Vec::new();
        for hash in suspects {
            if let Some(reason) = self.damage(&hash)? {
                lost.push((hash, reason));
            }
        }
        if lost.is_empty() {
            if recorded != self.blocks.synced_end() {
                let mut batch = WriteBatch::new();
                self.put_sync_marker(&mut batch);
                self.store.write(batch)?;
            }
            return Ok(());
        }

        let mut batch = WriteBatch::new();
        let genesis = self.active[0];
        if let Some(i) = lost.iter().position(|(h, _)| *h == genesis) {
            let (_, reason) = lost.swap_remove(i);
            self.restore_genesis(&mut batch)?;
            tracing::warn!(%reason, "genesis block data lost; stored it again");
        }
        let mut dropped: HashSet<BlockHash> = HashSet::new();
        for (hash, _) in &lost {
            dropped.insert(*hash);
            dropped.extend(self.index.descendants(hash));
        }
        for hash in &dropped {
            batch.delete(Partition::BlockIndex, hash.0.to_vec());
        }
        let first_lost_active = lost
            .iter()
            .filter(|(h, _)| self.is_active(h))
            .filter_map(|(h, reason)| Some((self.index.get(h)?.height, h, reason)))
            .min_by_key(|(height, _, _)| *height);
        let side = lost.iter().filter(|(h, _)| !self.is_active(h)).count();

        let path = match first_lost_active {
            Some((height, _, _)) => Some(self.roll_back_coins(height, &mut batch)?),
            None => None,
        };
        self.put_sync_marker(&mut batch);
        self.store.write(batch)?;
        self.store.sync()?;

        if let (Some((height, hash, reason)), Some(path)) = (first_lost_active, path) {
            let how = match path {
                RollbackPath::Undo => "through the undo data".to_string(),
                RollbackPath::Replay { missing_undo } => format!(
                    "by replaying blocks 1..={} from the block files (undo data of height \
                     {missing_undo} was missing too)",
                    height - 1
                ),
            };
            tracing::warn!(
                "block data for heights {height}..{tip_height} lost (block {hash}: {reason}; \
                 {} unreadable blocks in all); rolled back to height {} {how}, will \
                 re-download from peers",
                lost.len(),
                height - 1
            );
        }
        if side > 0 {
            tracing::warn!(
                blocks = side,
                dropped = dropped.len(),
                "data of blocks off the active chain lost; dropped them and their \
                 descendants from the block index"
            );
        }

        self.index = BlockIndex::new();
        self.active.clear();
        self.candidates.clear();
        self.arrival.clear();
        self.next_arrival = 0;
        self.cache = CoinsCache::new(self.config.coins_cache_entries);
        self.load()
    }

    /// Why the stored data of `hash` is not intact, or `None` when it is. I/O errors other
    /// than a missing file are returned as errors: a failing disk is not lost data.
    fn damage(&self, hash: &BlockHash) -> Result<Option<String>, ChainError> {
        match self.read_block(hash) {
            Ok(Some(block)) if block.compute_merkle_root() != block.header.merkle_root => Ok(Some(
                "its transactions do not match the header's merkle root".into(),
            )),
            Ok(_) => Ok(None),
            Err(e @ ChainError::Storage(StorageError::Corrupt { .. })) => Ok(Some(e.to_string())),
            Err(ChainError::Storage(StorageError::Io { path, source }))
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(Some(format!("block file {} is missing", path.display())))
            }
            Err(ChainError::Corrupt(reason)) => Ok(Some(reason)),
            Err(other) => Err(other),
        }
    }

    /// Appends the genesis block again and points its index entry at the new record.
    fn restore_genesis(&mut self, batch: &mut WriteBatch) -> Result<(), ChainError> {
        let genesis = self.params.genesis_block();
        let location = self.blocks.append(&serialize(&genesis))?;
        self.blocks.sync()?;
        let entry = self
            .index
            .get_mut(&genesis.hash())
            .ok_or_else(|| ChainError::Corrupt("genesis is not in the block index".into()))?;
        entry.location = Some(location);
        batch.put(
            Partition::BlockIndex,
            entry.hash.0.to_vec(),
            entry.to_bytes(),
        );
        Ok(())
    }

    /// Queues in `batch` the coins, statistics, undo records and tip of the active chain cut
    /// below `height`.
    fn roll_back_coins(
        &self,
        height: u32,
        batch: &mut WriteBatch,
    ) -> Result<RollbackPath, ChainError> {
        let mut undos = Vec::new();
        let mut missing_undo = None;
        for h in height..=self.height() {
            let hash = self.active[h as usize];
            batch.delete(Partition::Undo, hash.0.to_vec());
            let undo = self
                .store
                .get(Partition::Undo, &hash.0)?
                .and_then(|b| BlockUndo::from_bytes(&b).ok());
            match undo {
                Some(u) => undos.push(u),
                None => {
                    missing_undo.get_or_insert(h);
                }
            }
        }
        let corrupt = || ChainError::Corrupt("coin statistics do not match the coins".into());
        let path = match missing_undo {
            None => {
                // The coins table is the replay of the active chain, so the coins the cut
                // blocks created are exactly the coins of their heights.
                let mut stats = self.stats;
                let mut doomed = Vec::new();
                self.for_each_coin(&mut |op, coin| {
                    if coin.height >= height {
                        doomed.push((op, coin));
                    }
                    true
                })?;
                for (op, coin) in doomed {
                    delete_coin(batch, &op);
                    stats.utxo_count = stats.utxo_count.checked_sub(1).ok_or_else(corrupt)?;
                    stats
                        .supply
                        .checked_sub(coin.output.asset, coin.output.amount)
                        .ok_or_else(corrupt)?;
                }
                for (op, coin) in undos.into_iter().flat_map(|u| u.spent) {
                    // Coins created and spent above the cut never come back.
                    if coin.height < height {
                        stats.utxo_count += 1;
                        stats
                            .supply
                            .checked_add(coin.output.asset, coin.output.amount)
                            .ok_or_else(corrupt)?;
                        put_coin(batch, &op, coin.to_bytes());
                    }
                }
                batch.put(Partition::Meta, META_STATS, stats.to_bytes());
                RollbackPath::Undo
            }
            Some(missing_undo) => {
                let (coins, problems) = replay::replay_coins(self, height - 1)?;
                if let Some(p) = problems.first() {
                    return Err(ChainError::Corrupt(format!(
                        "cannot rebuild the coins below lost block data: {p}"
                    )));
                }
                self.for_each_coin(&mut |op, _| {
                    delete_coin(batch, &op);
                    true
                })?;
                let mut stats = ChainStats::default();
                for (op, coin) in coins {
                    stats.utxo_count += 1;
                    stats
                        .supply
                        .checked_add(coin.output.asset, coin.output.amount)
                        .ok_or_else(corrupt)?;
                    put_coin(batch, &op, coin.to_bytes());
                }
                batch.put(Partition::Meta, META_STATS, stats.to_bytes());
                RollbackPath::Replay { missing_undo }
            }
        };
        batch.put(
            Partition::Meta,
            META_TIP,
            self.active[height as usize - 1].0.to_vec(),
        );
        Ok(path)
    }
}
