//! Behaviour every [`KvStore`] must share, run against each implementation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::error::StorageError;
use crate::fjall_store::{Durability, FjallStore};
use crate::kv::{KvStore, Partition, WriteBatch, MAX_KEY_LEN};
use crate::mem_store::MemStore;

fn put<S: KvStore + ?Sized>(s: &S, p: Partition, k: &[u8], v: &[u8]) {
    let mut b = WriteBatch::new();
    b.put(p, k, v);
    s.write(b).unwrap();
}

fn get<S: KvStore + ?Sized>(s: &S, p: Partition, k: &[u8]) -> Option<Vec<u8>> {
    s.get(p, k).unwrap()
}

/// Every entry under `prefix`, in the order the store reports them.
pub(crate) fn dump<S: KvStore + ?Sized>(
    s: &S,
    p: Partition,
    prefix: &[u8],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    s.scan_prefix(p, prefix, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    out
}

/// The shared conformance suite; `s` must start empty.
pub(crate) fn check_store<S: KvStore + ?Sized>(s: &S) {
    basic_put_get_delete(s);
    later_op_wins(s);
    invalid_batch_applies_nothing(s);
    prefix_scan_order_and_early_stop(s);
    partitions_are_isolated(s);
    s.sync().unwrap();
}

fn basic_put_get_delete<S: KvStore + ?Sized>(s: &S) {
    let p = Partition::Coins;
    assert_eq!(get(s, p, b"basic"), None);
    put(s, p, b"basic", b"one");
    assert_eq!(get(s, p, b"basic"), Some(b"one".to_vec()));
    put(s, p, b"basic", b"two");
    assert_eq!(get(s, p, b"basic"), Some(b"two".to_vec()));
    put(s, p, b"empty-value", b"");
    assert_eq!(get(s, p, b"empty-value"), Some(Vec::new()));

    let mut b = WriteBatch::new();
    b.delete(p, &b"basic"[..]);
    b.delete(p, &b"empty-value"[..]);
    b.delete(p, &b"never-existed"[..]);
    s.write(b).unwrap();
    assert_eq!(get(s, p, b"basic"), None);
    assert_eq!(get(s, p, b"empty-value"), None);

    s.write(WriteBatch::new()).unwrap();
    // Keys that can never be stored are simply absent.
    assert_eq!(get(s, p, b""), None);
    assert_eq!(get(s, p, &vec![1u8; MAX_KEY_LEN + 1]), None);
}

fn later_op_wins<S: KvStore + ?Sized>(s: &S) {
    let p = Partition::Undo;
    put(s, p, b"del-then-put", b"old");

    let mut b = WriteBatch::new();
    b.put(p, &b"put-put"[..], &b"first"[..]);
    b.put(p, &b"put-put"[..], &b"second"[..]);
    b.put(p, &b"put-del"[..], &b"gone"[..]);
    b.delete(p, &b"put-del"[..]);
    b.delete(p, &b"del-then-put"[..]);
    b.put(p, &b"del-then-put"[..], &b"new"[..]);
    s.write(b).unwrap();

    assert_eq!(get(s, p, b"put-put"), Some(b"second".to_vec()));
    assert_eq!(get(s, p, b"put-del"), None);
    assert_eq!(get(s, p, b"del-then-put"), Some(b"new".to_vec()));
}

fn invalid_batch_applies_nothing<S: KvStore + ?Sized>(s: &S) {
    let p = Partition::Meta;
    let mut b = WriteBatch::new();
    b.put(p, &b"valid-first"[..], &b"v"[..]);
    b.put(p, Vec::new(), &b"v"[..]);
    assert!(matches!(
        s.write(b),
        Err(StorageError::InvalidKey {
            partition: Partition::Meta,
            len: 0,
            ..
        })
    ));
    assert_eq!(get(s, p, b"valid-first"), None);
}

fn prefix_scan_order_and_early_stop<S: KvStore + ?Sized>(s: &S) {
    let p = Partition::BlockIndex;
    // Inserted out of order, split over batches, with neighbours on both
    // sides of the prefix range and a 0xff tail that must not end the range.
    let keys: [&[u8]; 9] = [
        b"pb",
        b"q",
        b"p\xff\xff",
        b"p",
        b"o\xff",
        b"pab",
        b"p\x00",
        b"pa",
        b"\xff",
    ];
    for chunk in keys.chunks(4) {
        let mut b = WriteBatch::new();
        for k in chunk {
            b.put(p, *k, [k.len() as u8]);
        }
        s.write(b).unwrap();
    }

    let scanned: Vec<Vec<u8>> = dump(s, p, b"p").into_iter().map(|(k, _)| k).collect();
    let expected: Vec<&[u8]> = vec![b"p", b"p\x00", b"pa", b"pab", b"pb", b"p\xff\xff"];
    assert_eq!(scanned, expected);
    let whole = dump(s, p, b"pa");
    assert_eq!(
        whole,
        [(b"pa".to_vec(), vec![2]), (b"pab".to_vec(), vec![3])]
    );

    let mut all: Vec<&[u8]> = keys.to_vec();
    all.sort();
    let everything: Vec<Vec<u8>> = dump(s, p, b"").into_iter().map(|(k, _)| k).collect();
    assert_eq!(everything, all);

    let mut calls = 0;
    s.scan_prefix(p, b"p", &mut |_, _| {
        calls += 1;
        calls < 2
    })
    .unwrap();
    assert_eq!(
        calls, 2,
        "scan must stop as soon as the callback returns false"
    );

    assert!(dump(s, p, b"zz").is_empty());
    assert!(dump(s, p, &vec![b'p'; MAX_KEY_LEN + 1]).is_empty());
}

fn partitions_are_isolated<S: KvStore + ?Sized>(s: &S) {
    let mut b = WriteBatch::new();
    for p in Partition::ALL {
        b.put(p, &b"shared"[..], p.name());
    }
    s.write(b).unwrap();
    for p in Partition::ALL {
        assert_eq!(get(s, p, b"shared"), Some(p.name().as_bytes().to_vec()));
        assert_eq!(dump(s, p, b"shared").len(), 1);
    }

    let mut b = WriteBatch::new();
    b.delete(Partition::Coins, &b"shared"[..]);
    s.write(b).unwrap();
    assert_eq!(get(s, Partition::Coins, b"shared"), None);
    for p in [Partition::BlockIndex, Partition::Undo, Partition::Meta] {
        assert_eq!(get(s, p, b"shared"), Some(p.name().as_bytes().to_vec()));
    }
}

/// A writer keeps setting two keys to the same value in one batch; a
/// concurrent scanner must never see them differ.
pub(crate) fn check_atomic_visibility<S: KvStore>(s: Arc<S>) {
    const ROUNDS: u32 = 300;
    let p = Partition::Coins;
    let writer = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                let mut b = WriteBatch::new();
                b.put(p, &b"atom/a"[..], i.to_be_bytes());
                b.put(p, &b"atom/b"[..], i.to_be_bytes());
                s.write(b).unwrap();
            }
        })
    };
    while !writer.is_finished() {
        let seen = dump(&*s, p, b"atom/");
        match seen.as_slice() {
            [] => {}
            [(_, a), (_, b)] => assert_eq!(a, b, "torn batch observed"),
            other => panic!("unexpected scan result {other:?}"),
        }
    }
    writer.join().unwrap();
    let last = (ROUNDS - 1).to_be_bytes().to_vec();
    assert_eq!(get(&*s, p, b"atom/a"), Some(last.clone()));
    assert_eq!(get(&*s, p, b"atom/b"), Some(last));
}

/// One generated operation: `value == None` means delete.
type ModelOp = (usize, Vec<u8>, Option<Vec<u8>>);

fn op_strategy() -> impl Strategy<Value = ModelOp> {
    (
        0..Partition::ALL.len(),
        // A tiny alphabet makes collisions, overwrites and shared prefixes common.
        prop::collection::vec(0u8..3, 1..4),
        prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..4)),
    )
}

type Model = BTreeMap<(Partition, Vec<u8>), Vec<u8>>;

fn assert_matches_model<S: KvStore + ?Sized>(s: &S, model: &Model) {
    for p in Partition::ALL {
        for prefix in [&[][..], &[0], &[1, 2], &[2, 2, 2]] {
            let expected: Vec<(Vec<u8>, Vec<u8>)> = model
                .iter()
                .filter(|((mp, k), _)| *mp == p && k.starts_with(prefix))
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(
                dump(s, p, prefix),
                expected,
                "partition {p}, prefix {prefix:?}"
            );
        }
    }
}

/// Deletes every entry of every partition in one batch.
fn clear<S: KvStore + ?Sized>(s: &S) {
    let mut batch = WriteBatch::new();
    for p in Partition::ALL {
        for (k, _) in dump(s, p, b"") {
            batch.delete(p, k);
        }
    }
    s.write(batch).unwrap();
}

/// Random batch sequences give the same contents in both stores and in a
/// `BTreeMap` model, before and after a fjall reopen.
///
/// One fjall database serves all cases (cleared in between): creating a
/// fresh one costs dozens of fsyncs, which would dominate the test time.
#[test]
fn stores_agree_with_btreemap_model() {
    let dir = tempfile::tempdir().unwrap();
    let fjall = RefCell::new(Some(
        FjallStore::open(dir.path(), Durability::Process).unwrap(),
    ));
    let strategy = prop::collection::vec(prop::collection::vec(op_strategy(), 0..8), 1..10);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(48));

    let result = runner.run(&strategy, |batches| {
        let mut slot = fjall.borrow_mut();
        let store = slot.as_ref().unwrap();
        clear(store);
        let mem = MemStore::new();
        let mut model = Model::new();

        for ops in &batches {
            let mut batch = WriteBatch::new();
            for (pi, key, value) in ops {
                let p = Partition::ALL[*pi];
                match value {
                    Some(v) => {
                        batch.put(p, key.clone(), v.clone());
                        model.insert((p, key.clone()), v.clone());
                    }
                    None => {
                        batch.delete(p, key.clone());
                        model.remove(&(p, key.clone()));
                    }
                }
            }
            mem.write(batch.clone()).unwrap();
            store.write(batch).unwrap();
        }

        assert_matches_model(&mem, &model);
        assert_matches_model(store, &model);
        for ((p, k), v) in &model {
            prop_assert_eq!(get(store, *p, k), Some(v.clone()));
        }

        // Recovery from the journal must rebuild exactly the same state.
        drop(slot.take());
        let reopened = FjallStore::open(dir.path(), Durability::Process).unwrap();
        assert_matches_model(&reopened, &model);
        *slot = Some(reopened);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
