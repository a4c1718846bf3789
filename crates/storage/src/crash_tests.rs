//! Process-crash durability: a child process writes, acknowledges, and is
//! then SIGKILLed; the parent reopens the data and expects every
//! acknowledged write. This checks the page-cache guarantee of
//! `Durability::Process` and `BlockFiles::append` for real instead of
//! trusting the docs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::block_files::{BlockFiles, BlockLocation};
use crate::fjall_store::{Durability, FjallStore};
use crate::kv::{KvStore, Partition, WriteBatch};

const CHILD_DIR_ENV: &str = "PARTHENON_STORAGE_CRASH_CHILD_DIR";
/// The child acknowledges through a file, not stdout: the test harness may
/// capture a test's stdout, and a file rename is atomic.
const ACK_FILE: &str = "ack";
const MAGIC: [u8; 4] = *b"CRSH";
const BATCHES: u32 = 50;
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

/// Child side: write, acknowledge, then wait to be killed. No `sync` is
/// ever called, so only what reached the OS can survive.
fn run_child(dir: &Path) -> ! {
    let store = FjallStore::open(&dir.join("kv"), Durability::Process).unwrap();
    for i in 0..BATCHES {
        let mut b = WriteBatch::new();
        b.put(Partition::Coins, i.to_be_bytes(), vec![i as u8; 100]);
        b.put(Partition::Meta, &b"tip"[..], i.to_be_bytes());
        store.write(b).unwrap();
    }
    let blocks = BlockFiles::open(&dir.join("blocks"), MAGIC, 1 << 20).unwrap();
    let locs: Vec<u8> = (0..BATCHES)
        .flat_map(|i| blocks.append(&vec![i as u8; 1000]).unwrap().to_bytes())
        .collect();
    let tmp = dir.join("ack.tmp");
    std::fs::write(&tmp, locs).unwrap();
    std::fs::rename(&tmp, dir.join(ACK_FILE)).unwrap();
    // Bounded, so an orphaned child cannot outlive a crashed parent for long.
    std::thread::sleep(CHILD_DEADLINE);
    std::process::exit(0);
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        run_child(Path::new(&dir));
    }

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_tests::acknowledged_writes_survive_sigkill",
            "--exact",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let ack = dir.path().join(ACK_FILE);
    let started = Instant::now();
    while !ack.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited with {status} before acknowledging its writes");
        }
        if started.elapsed() > CHILD_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("child did not acknowledge within {CHILD_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "child must die by the signal, got {status}"
    );

    let store = FjallStore::open(&dir.path().join("kv"), Durability::Process).unwrap();
    for i in 0..BATCHES {
        assert_eq!(
            store.get(Partition::Coins, &i.to_be_bytes()).unwrap(),
            Some(vec![i as u8; 100]),
            "batch {i} lost"
        );
    }
    assert_eq!(
        store.get(Partition::Meta, b"tip").unwrap(),
        Some((BATCHES - 1).to_be_bytes().to_vec())
    );

    let blocks = BlockFiles::open(&dir.path().join("blocks"), MAGIC, 1 << 20).unwrap();
    let encoded = std::fs::read(&ack).unwrap();
    let locs: Vec<BlockLocation> = encoded
        .chunks(BlockLocation::ENCODED_LEN)
        .map(|c| BlockLocation::from_bytes(c).unwrap())
        .collect();
    assert_eq!(locs.len(), BATCHES as usize);
    for (i, loc) in locs.into_iter().enumerate() {
        assert_eq!(blocks.read(loc).unwrap(), vec![i as u8; 1000]);
    }
}
