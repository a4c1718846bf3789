//! Block data lost under a stored chainstate: the tail of the last block file cut off or
//! zeroed after a stop (what a power loss does to bytes that were never fsynced). Opening
//! rolls the chain back to the last block whose data is intact, with coins equal to a replay
//! of the chain, and the lost blocks connect again when they are offered anew (as block
//! download fetches them from peers). Also: block bytes are durable before the state that
//! references them, in each durability mode.

mod common;

use common::*;
use parthenon_chain::{Chainstate, Coin, Workers};
use parthenon_primitives::{Block, OutPoint};
use parthenon_storage::{
    BlockFiles, BlockPosition, Durability, FjallStore, KvStore, MemStore, Partition, WriteBatch,
};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A chain of 110 blocks whose last seven carry spends (of coinbases, and of outputs
/// created in the block before), so undo data matters; with the coin set at every height.
struct Built {
    store: Arc<MemStore>,
    dir: tempfile::TempDir,
    blocks: Vec<Block>,
    coins_at: Vec<BTreeMap<OutPoint, Coin>>,
}

const HEIGHT: u32 = 110;

fn build() -> Built {
    let mut tc = TestChain::new();
    let owner = miner_key();
    let alice = key(2);
    let mut blocks = vec![params().genesis_block()];
    let mut coins_at = vec![coin_set(&tc.chain)];
    let mut previous_spend: Option<parthenon_primitives::Transaction> = None;
    for h in 1..=HEIGHT {
        let mut txs = Vec::new();
        if h > 103 {
            let cb = &blocks[(h - 103) as usize];
            txs.push(spend(&coinbase_coins(cb), &owner, pubkey(&alice), no_fee()));
            if let Some(prev) = previous_spend.take() {
                txs.push(spend(&outputs_of(&prev), &alice, pubkey(&owner), no_fee()));
            }
            previous_spend = Some(txs[0].clone());
        }
        let b = tc.mine_txs(txs);
        assert_eq!(tc.chain.height(), h);
        blocks.push(b);
        coins_at.push(coin_set(&tc.chain));
    }
    let TestChain { chain, store, dir } = tc;
    drop(chain);
    Built {
        store,
        dir,
        blocks,
        coins_at,
    }
}

fn last_block_file(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.pop().expect("a block file")
}

/// Where the payload of `block` is stored.
fn location(b: &Built, height: u32) -> parthenon_storage::BlockLocation {
    let chain = open_chain(params(), b.store.clone(), b.dir.path(), config()).unwrap();
    let loc = chain
        .entry(&b.blocks[height as usize].hash())
        .and_then(|e| e.location)
        .expect("stored block");
    drop(chain);
    loc
}

fn reopen(b: &Built) -> Chainstate {
    open_chain(params(), b.store.clone(), b.dir.path(), config()).expect("open after damage")
}

/// The chain is back at `height` exactly as it was then, blocks above it are unknown, and
/// offering them again brings it back to the full height with the same coins.
fn assert_rolled_back_and_resyncs(b: &Built, mut chain: Chainstate, height: u32) {
    assert_eq!(chain.height(), height);
    assert_eq!(chain.tip_hash(), b.blocks[height as usize].hash());
    assert_eq!(coin_set(&chain), b.coins_at[height as usize]);
    assert_consistent(&chain);
    for lost in &b.blocks[height as usize + 1..] {
        assert!(
            chain.entry(&lost.hash()).is_none(),
            "a lost block stays indexed, so block download would never fetch it"
        );
    }
    for lost in &b.blocks[height as usize + 1..] {
        chain.process_block(lost.clone(), now()).unwrap();
    }
    assert_eq!(chain.height(), HEIGHT);
    assert_eq!(coin_set(&chain), b.coins_at[HEIGHT as usize]);
    assert_consistent(&chain);
    drop(chain);
    let chain = reopen(b);
    assert_eq!(chain.height(), HEIGHT);
    assert_consistent(&chain);
}

#[test]
fn truncated_tail_rolls_back_to_the_last_intact_block_and_the_rest_connects_again() {
    let b = build();
    // Cut the file ten bytes into the payload of block 108: 108, 109 and 110 are lost.
    let loc = location(&b, 108);
    let file = last_block_file(b.dir.path());
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(loc.offset + 10)
        .unwrap();
    let chain = reopen(&b);
    assert_rolled_back_and_resyncs(&b, chain, 107);
}

#[test]
fn zeroed_tail_rolls_back_to_the_last_intact_block() {
    let b = build();
    // Zero from the middle of block 109's payload to the end of the file; the file keeps its
    // length, as after a power loss that grew the file but lost the data.
    let loc = location(&b, 109);
    let file = last_block_file(b.dir.path());
    let len = std::fs::metadata(&file).unwrap().len();
    let from = loc.offset + u64::from(loc.len) / 2;
    let mut f = OpenOptions::new().write(true).open(&file).unwrap();
    f.seek(SeekFrom::Start(from)).unwrap();
    f.write_all(&vec![0u8; (len - from) as usize]).unwrap();
    drop(f);
    let chain = reopen(&b);
    assert_rolled_back_and_resyncs(&b, chain, 108);
}

#[test]
fn damage_inside_the_tip_record_is_found_even_when_the_file_was_synced() {
    let b = build();
    // Flip bytes inside the tip's payload without touching any record header: the file is
    // as long as the durability record says, only the re-check of the tip finds it.
    let loc = location(&b, HEIGHT);
    let file = last_block_file(b.dir.path());
    let mut f = OpenOptions::new().write(true).open(&file).unwrap();
    f.seek(SeekFrom::Start(loc.offset + u64::from(loc.len) - 40))
        .unwrap();
    f.write_all(&[0xAB; 8]).unwrap();
    drop(f);
    let chain = reopen(&b);
    assert_rolled_back_and_resyncs(&b, chain, HEIGHT - 1);
}

#[test]
fn missing_undo_data_of_a_lost_block_rebuilds_the_coins_by_replay() {
    let b = build();
    let loc = location(&b, 108);
    // The undo record of the lost block 109 is gone as well.
    let mut batch = WriteBatch::new();
    batch.delete(Partition::Undo, b.blocks[109].hash().0.to_vec());
    b.store.write(batch).unwrap();
    let file = last_block_file(b.dir.path());
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(loc.offset - 8)
        .unwrap();
    let chain = reopen(&b);
    assert_rolled_back_and_resyncs(&b, chain, 107);
}

#[test]
fn lost_data_of_a_side_branch_block_drops_it_and_keeps_the_tip() {
    let b = build();
    let mut chain = reopen(&b);
    let fork = BlockBuilder::on(&chain, b.blocks[108].hash())
        .tag(b"side")
        .build();
    chain.process_block(fork.clone(), now()).unwrap();
    let loc = chain.entry(&fork.hash()).unwrap().location.unwrap();
    drop(chain);
    let file = last_block_file(b.dir.path());
    OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(loc.offset - 8)
        .unwrap();
    let chain = reopen(&b);
    assert_eq!(chain.height(), HEIGHT);
    assert!(chain.entry(&fork.hash()).is_none());
    assert_consistent(&chain);
}

#[test]
fn power_loss_mode_syncs_each_block_before_the_batch_that_references_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FjallStore::open(&dir.path().join("db"), Durability::PowerLoss).unwrap());
    let blocks = BlockFiles::open(&dir.path().join("blocks"), params().magic, BLOCK_FILE_SIZE)
        .unwrap()
        .with_durability(Durability::PowerLoss);
    let mut chain =
        Chainstate::open(params(), store.clone(), blocks, Workers::inline(), config()).unwrap();
    for _ in 0..3 {
        let block = BlockBuilder::on_tip(&chain).build();
        chain.process_block(block, now()).unwrap();
        let end = chain.tip().location.unwrap().end();
        assert!(chain.block_files().synced_end() >= end);
        let recorded = store
            .get(Partition::Meta, b"blocks_synced")
            .unwrap()
            .expect("durability record");
        assert_eq!(BlockPosition::from_bytes(&recorded).unwrap(), end);
    }
}

#[test]
fn default_mode_sync_puts_block_bytes_on_disk_before_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FjallStore::open(&dir.path().join("db"), Durability::Process).unwrap());
    let mut chain = open_chain(params(), store.clone(), dir.path(), config()).unwrap();
    let block = BlockBuilder::on_tip(&chain).build();
    chain.process_block(block, now()).unwrap();
    let end = chain.tip().location.unwrap().end();
    // No fsync per block in this mode...
    assert!(chain.block_files().synced_end() < end);
    // ...but a sync covers the block files first and records it with the store.
    chain.sync().unwrap();
    assert_eq!(chain.block_files().synced_end(), end);
    let recorded = store
        .get(Partition::Meta, b"blocks_synced")
        .unwrap()
        .unwrap();
    assert_eq!(BlockPosition::from_bytes(&recorded).unwrap(), end);
}
