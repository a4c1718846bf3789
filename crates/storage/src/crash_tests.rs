//! Process-crash durability: a child process writes, reports, and is then
//! SIGKILLed; the parent reopens the data and expects every acknowledged
//! write. This checks the page-cache guarantee of `Durability::Process` and
//! `BlockFiles::append` for real instead of trusting the docs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::block_files::{BlockFiles, BlockLocation};
use crate::fjall_store::{Durability, FjallStore};
use crate::kv::{KvStore, Partition, WriteBatch};

const CHILD_DIR_ENV: &str = "PARTHENON_STORAGE_CRASH_CHILD_DIR";
const READY: &str = "CRASH-CHILD-READY";
const MAGIC: [u8; 4] = *b"CRSH";
const BATCHES: u32 = 50;

/// Child side: write, acknowledge on stdout, then wait to be killed. No
/// `sync` is ever called, so only what reached the OS can survive.
fn run_child(dir: &Path) -> ! {
    let store = FjallStore::open(&dir.join("kv"), Durability::Process).unwrap();
    for i in 0..BATCHES {
        let mut b = WriteBatch::new();
        b.put(Partition::Coins, i.to_be_bytes(), vec![i as u8; 100]);
        b.put(Partition::Meta, &b"tip"[..], i.to_be_bytes());
        store.write(b).unwrap();
    }
    let blocks = BlockFiles::open(&dir.join("blocks"), MAGIC, 1 << 20).unwrap();
    let locs: Vec<String> = (0..BATCHES)
        .map(|i| {
            let loc = blocks.append(&vec![i as u8; 1000]).unwrap();
            loc.to_bytes().iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();
    println!("{READY} {}", locs.join(","));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
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
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();

    let stdout = child.stdout.take().unwrap();
    let ready_line = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with(READY))
        .expect("child exited before acknowledging its writes");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "child must die by the signal");

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
    let encoded = ready_line.trim_start_matches(READY).trim();
    let locs: Vec<BlockLocation> = encoded
        .split(',')
        .map(|hex| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            BlockLocation::from_bytes(&bytes).unwrap()
        })
        .collect();
    assert_eq!(locs.len(), BATCHES as usize);
    for (i, loc) in locs.into_iter().enumerate() {
        assert_eq!(blocks.read(loc).unwrap(), vec![i as u8; 1000]);
    }
}
