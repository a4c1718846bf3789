//! A chainstate on disk survives a restart unchanged, and a store of one network is refused
//! by another.

mod common;

use common::*;
use parthenon_chain::block_index::{BlockStatus, IndexEntry};
use parthenon_chain::{BlockDisposition, ChainError, Chainstate, Coin};
use parthenon_primitives::{serialize, ChainWork, Network, OutPoint, TxOut};
use parthenon_storage::coins::{delete_coin, put_coin};
use parthenon_storage::{Durability, FjallStore, KvStore, MemStore, Partition, WriteBatch};
use std::path::Path;
use std::sync::Arc;

fn open_fjall(dir: &Path) -> Chainstate {
    let store = FjallStore::open(&dir.join("db"), Durability::Process).expect("open store");
    open_chain(params(), Arc::new(store), dir, config()).expect("open chainstate")
}

struct Snapshot {
    tip: parthenon_primitives::BlockHash,
    height: u32,
    stats: parthenon_chain::ChainStats,
    coins: std::collections::BTreeMap<parthenon_primitives::OutPoint, parthenon_chain::Coin>,
}

fn snapshot(c: &Chainstate) -> Snapshot {
    Snapshot {
        tip: c.tip_hash(),
        height: c.height(),
        stats: c.stats(),
        coins: coin_set(c),
    }
}

#[test]
fn reopened_fjall_chainstate_has_the_same_tip_stats_and_coins() {
    let dir = tempfile::tempdir().unwrap();
    let owner = miner_key();
    let alice = key(2);
    let side;
    let before = {
        let mut chain = open_fjall(dir.path());
        let mut blocks = Vec::new();
        for _ in 0..103 {
            let b = BlockBuilder::on_tip(&chain).build();
            chain.process_block(b.clone(), now()).unwrap();
            blocks.push(b);
        }
        // Two blocks with transactions: a spend and a spend of its outputs.
        let tx1 = spend(
            &coinbase_coins(&blocks[0]),
            &owner,
            pubkey(&alice),
            no_fee(),
        );
        let tx2 = spend(&outputs_of(&tx1), &alice, pubkey(&owner), fee(10, 20, 30));
        let tx3 = spend(
            &coinbase_coins(&blocks[1]),
            &owner,
            pubkey(&alice),
            no_fee(),
        );
        let b = BlockBuilder::on_tip(&chain).tx(tx1).build();
        chain.process_block(b, now()).unwrap();
        let b = BlockBuilder::on_tip(&chain)
            .txs(vec![tx2, tx3])
            .fees(fee(10, 20, 30))
            .build();
        chain.process_block(b, now()).unwrap();
        // A side block of equal work to the tip, to be extended after the restart.
        let parent = chain.hash_at(chain.height() - 1).unwrap();
        side = BlockBuilder::on(&chain, parent).tag(b"side").build();
        assert_eq!(
            chain
                .process_block(side.clone(), now())
                .unwrap()
                .disposition,
            BlockDisposition::SideBranch
        );
        assert_consistent(&chain);
        assert_supply_is_subsidy(&chain);
        snapshot(&chain)
        // The chainstate and its store close here.
    };

    let mut chain = open_fjall(dir.path());
    let after = snapshot(&chain);
    assert_eq!(after.tip, before.tip);
    assert_eq!(after.height, before.height);
    assert_eq!(after.height, 105);
    assert_eq!(after.stats, before.stats);
    assert_eq!(after.coins, before.coins);
    assert_consistent(&chain);
    assert_eq!(
        chain.entry(&side.hash()).map(|e| e.height),
        Some(after.height)
    );

    // The reopened chain keeps working: extending the side block reorganises, which needs
    // the undo data written before the restart.
    let b = BlockBuilder::on(&chain, side.hash()).tag(b"side").build();
    let out = chain.process_block(b.clone(), now()).unwrap();
    assert_eq!(out.disposition, BlockDisposition::Active);
    assert_eq!(out.update.disconnected.len(), 1);
    assert_eq!(out.update.disconnected[0].hash(), before.tip);
    assert_eq!(chain.tip_hash(), b.hash());
    assert_consistent(&chain);
    drop(chain);

    // And once more after that reorg.
    let chain = open_fjall(dir.path());
    assert_eq!(chain.tip_hash(), b.hash());
    assert_eq!(chain.height(), 106);
    assert_consistent(&chain);
    assert_supply_is_subsidy(&chain);
}

#[test]
fn store_written_for_dev_is_refused_by_main() {
    // In memory.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<MemStore> = Arc::new(MemStore::new());
    {
        let mut chain = open_chain(params(), store.clone(), dir.path(), config()).unwrap();
        let b = BlockBuilder::on_tip(&chain).build();
        chain.process_block(b, now()).unwrap();
    }
    let main = Network::Main.params();
    let other_dir = tempfile::tempdir().unwrap();
    match open_chain(
        main,
        store.clone() as Arc<dyn KvStore>,
        other_dir.path(),
        config(),
    ) {
        Err(ChainError::WrongStore { .. }) => {}
        other => panic!("expected WrongStore, got {:?}", other.map(|c| c.height())),
    }
    // The refusal wrote nothing: the dev chain still opens.
    let chain = open_chain(params(), store, dir.path(), config()).unwrap();
    assert_eq!(chain.height(), 1);

    // On disk.
    let dir = tempfile::tempdir().unwrap();
    drop(open_fjall(dir.path()));
    // The dev block files refuse main's magic on their own...
    let store = FjallStore::open(&dir.path().join("db"), Durability::Process).unwrap();
    assert!(matches!(
        open_chain(main, Arc::new(store), dir.path(), config()),
        Err(ChainError::Storage(_))
    ));
    // ...and the store refuses main even next to fresh block files.
    let store = FjallStore::open(&dir.path().join("db"), Durability::Process).unwrap();
    match open_chain(main, Arc::new(store), other_dir.path(), config()) {
        Err(ChainError::WrongStore { .. }) => {}
        other => panic!("expected WrongStore, got {:?}", other.map(|c| c.height())),
    }
    assert_eq!(open_fjall(dir.path()).height(), 0);
}

#[test]
fn after_a_restart_a_failed_reorg_still_returns_to_the_stored_tip() {
    // Tip A3 and an equal-work side branch B1..B3 whose tip sorts first in the block index
    // partition (so a reload meets it first). After a restart, B4 (more work, invalid) is
    // offered: the chain must come back to A3, the tip it had, not settle on B3.
    for attempt in 0u8..64 {
        let mut tc = TestChain::new();
        tc.mine_empty(5, pubkey(&miner_key()));
        let fork = tc.chain.tip_hash();
        let mut a = fork;
        for _ in 0..3 {
            let b = BlockBuilder::on(&tc.chain, a).tag(b"A").build();
            a = b.hash();
            tc.connect(b);
        }
        let mut b3 = fork;
        for _ in 0..3 {
            let b = BlockBuilder::on(&tc.chain, b3)
                .tag(&[b'B', attempt])
                .build();
            b3 = b.hash();
            tc.process(b).unwrap();
        }
        if b3.0 > a.0 {
            continue;
        }
        let mut tc = tc.reopen();
        assert_eq!(tc.chain.tip_hash(), a, "a restart alone keeps the tip");
        let before = coin_set(&tc.chain);
        let b4 = BlockBuilder::on(&tc.chain, b3)
            .tag(b"B")
            .fees(fee(0, 0, 1))
            .build();
        assert!(matches!(
            tc.process(b4),
            Err(ChainError::InvalidBlock { .. })
        ));
        assert_eq!(tc.chain.tip_hash(), a);
        assert_eq!(coin_set(&tc.chain), before);
        assert_consistent(&tc.chain);
        return;
    }
    panic!("no attempt produced a side tip sorting before the active tip");
}

#[test]
fn invalid_marks_survive_a_restart() {
    let mut tc = TestChain::new();
    tc.mine_empty(3, pubkey(&miner_key()));
    let bad = BlockBuilder::on_tip(&tc.chain).fees(fee(1, 0, 0)).build();
    assert!(tc.process(bad.clone()).is_err());
    let child = BlockBuilder::on(&tc.chain, bad.hash()).build();
    assert!(tc.process(child.clone()).is_err());
    let mut tc = tc.reopen();
    for b in [bad, child] {
        assert!(matches!(
            tc.process(b.clone()),
            Err(ChainError::KnownInvalid { hash }) if hash == b.hash()
        ));
    }
    assert_eq!(tc.chain.height(), 3);
    assert_consistent(&tc.chain);
}

#[test]
fn block_indexed_but_not_connected_before_a_crash_is_connected_on_open() {
    // The state a crash leaves between storing a block and connecting it: the block is in
    // the block files and the index, the tip record still names its parent.
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(101, pubkey(&miner_key()));
    let tx = spend(
        &coinbase_coins(&blocks[0]),
        &miner_key(),
        pubkey(&key(2)),
        no_fee(),
    );
    let x = BlockBuilder::on_tip(&tc.chain).tx(tx).build();
    let parent = tc.chain.tip().clone();
    let location = tc.chain.block_files().append(&serialize(&x)).unwrap();
    let entry = IndexEntry {
        hash: x.hash(),
        header: x.header,
        height: parent.height + 1,
        chain_work: parent.chain_work + ChainWork::from_bits(x.header.bits).unwrap(),
        status: BlockStatus::Valid,
        location: Some(location),
    };
    let mut batch = WriteBatch::new();
    batch.put(Partition::BlockIndex, x.hash().0.to_vec(), entry.to_bytes());
    tc.store.write(batch).unwrap();

    let tc = tc.reopen();
    assert_eq!(tc.chain.tip_hash(), x.hash());
    assert_eq!(tc.chain.height(), 102);
    assert_consistent(&tc.chain);
    assert_supply_is_subsidy(&tc.chain);
}

#[test]
fn replay_reports_missing_extra_and_altered_coins() {
    let mut tc = TestChain::new();
    let blocks = tc.mine_empty(4, pubkey(&miner_key()));
    assert_consistent(&tc.chain);
    let report = |tc: &TestChain| parthenon_chain::replay::verify_chainstate(&tc.chain).unwrap();

    // A coin missing from the store.
    let (gone, gone_out) = coinbase_coins(&blocks[0])[0].clone();
    let mut batch = WriteBatch::new();
    delete_coin(&mut batch, &gone);
    tc.store.write(batch).unwrap();
    let r = report(&tc);
    assert!(!r.is_consistent());
    assert_eq!(r.stored_utxos + 1, r.replayed_utxos);
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("missing from the store")));

    // Put it back altered.
    let altered = Coin {
        output: TxOut::to_key(gone_out.asset, gone_out.amount + 1, [3; 32]),
        height: 1,
        is_coinbase: true,
    };
    let mut batch = WriteBatch::new();
    put_coin(&mut batch, &gone, altered.to_bytes());
    tc.store.write(batch).unwrap();
    let r = report(&tc);
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("differs from the replay")));

    // Restore it, and add a coin that no block created.
    let original = Coin {
        output: gone_out,
        height: 1,
        is_coinbase: true,
    };
    let extra = OutPoint::new(parthenon_primitives::Hash256([9; 32]), 0);
    let mut batch = WriteBatch::new();
    put_coin(&mut batch, &gone, original.to_bytes());
    put_coin(&mut batch, &extra, original.to_bytes());
    tc.store.write(batch).unwrap();
    let r = report(&tc);
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains(&extra.to_string()) && p.contains("not in the replay")));
    assert_eq!(r.stored_utxos, r.replayed_utxos + 1);

    // Remove the extra one: consistent again.
    let mut batch = WriteBatch::new();
    delete_coin(&mut batch, &extra);
    tc.store.write(batch).unwrap();
    assert!(report(&tc).is_consistent());
}

#[test]
fn a_store_written_under_the_previous_rules_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut chain = open_fjall(dir.path());
        let b = BlockBuilder::on_tip(&chain).build();
        chain.process_block(b, now()).unwrap();
    }
    // What a node before the signature-hash change wrote: schema version 1, this network.
    {
        let store = FjallStore::open(&dir.path().join("db"), Durability::Process).unwrap();
        let mut old = 1u32.to_le_bytes().to_vec();
        old.extend_from_slice(&params().magic);
        let mut batch = WriteBatch::new();
        batch.put(Partition::Meta, b"schema".to_vec(), old);
        store.write(batch).unwrap();
    }
    let store = FjallStore::open(&dir.path().join("db"), Durability::Process).unwrap();
    match open_chain(params(), Arc::new(store), dir.path(), config()) {
        Err(e @ ChainError::OutdatedStore { .. }) => {
            assert!(matches!(
                e,
                ChainError::OutdatedStore {
                    found: 1,
                    expected: 2
                }
            ));
            let text = e.to_string();
            assert!(text.contains("delete"), "{text}");
            assert!(text.contains("chainstate/ and blocks/"), "{text}");
        }
        other => panic!(
            "expected OutdatedStore, got {:?}",
            other.map(|c| c.height())
        ),
    }
}
