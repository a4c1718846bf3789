//! Block data lost under a stored chain, end to end with the real binary: the tail of the
//! last block file is cut off or zeroed (what a power loss does to block bytes that never
//! reached the disk) after a clean stop or after a SIGKILL. `chain verify` and the node both
//! start, roll back to the last intact block with one log line, the coins equal a replay of
//! the chain, and a node with a peer downloads the lost blocks again.

mod common;

use common::{assert_consistent, run, NodeProcess, Rpc};
use serde_json::{json, Value};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The log line of a rollback starts with this.
const ROLLBACK_LINE: &str = "block data for heights";

fn last_block_file(datadir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(datadir.join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    files.sort();
    files.pop().expect("a block file")
}

/// Cuts the last `bytes` bytes off the last block file.
fn truncate_tail(datadir: &Path, bytes: u64) {
    let path = last_block_file(datadir);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > bytes, "block file of {len} bytes");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - bytes)
        .unwrap();
}

/// Overwrites the last `bytes` bytes of the last block file with zeros.
fn zero_tail(datadir: &Path, bytes: u64) {
    let path = last_block_file(datadir);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > bytes, "block file of {len} bytes");
    let mut f = OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(len - bytes)).unwrap();
    f.write_all(&vec![0u8; bytes as usize]).unwrap();
}

/// Runs `chain verify` on the damaged directory: it must succeed, report a consistent
/// chainstate below `old_height`, and log the rollback once. Returns the new height.
fn verify_after_damage(datadir: &Path, old_height: u64) -> u64 {
    let out = run(&["chain", "verify", "--datadir", datadir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify output: {e}: {stderr}"));
    assert!(
        out.status.success(),
        "chain verify failed: {report:#} {stderr}"
    );
    assert_eq!(report["problems"], json!([]), "{report:#}");
    let height = report["height"].as_u64().unwrap();
    assert!(
        height < old_height && height + 30 > old_height,
        "rolled back from {old_height} to {height}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(ROLLBACK_LINE))
        .collect();
    assert_eq!(lines.len(), 1, "one rollback line: {stderr}");
    assert!(
        lines[0].contains(&format!("..{old_height} lost"))
            && lines[0].contains(&format!("rolled back to height {height}"))
            && lines[0].contains("will re-download from peers"),
        "{}",
        lines[0]
    );
    // The rollback was written: a second open finds nothing to do.
    let again = run(&["chain", "verify", "--datadir", datadir.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains(ROLLBACK_LINE));
    height
}

fn start(datadir: &Path, connect: &[&str]) -> (NodeProcess, Rpc) {
    let mut args = vec!["--no-mine"];
    for peer in connect {
        args.extend(["--connect", peer]);
    }
    let mut node = NodeProcess::start(datadir, &args);
    let rpc = node.rpc();
    (node, rpc)
}

fn generate(rpc: &Rpc, n: u64) -> String {
    let hashes = rpc.call("generate", json!([n]));
    hashes
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn height(rpc: &Rpc) -> u64 {
    rpc.call("getblockcount", Value::Null).as_u64().unwrap()
}

fn stop(node: NodeProcess, rpc: Rpc) {
    rpc.call("stop", Value::Null);
    let (status, _) = node.wait();
    assert!(status.success(), "exit status {status:?}");
}

fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A stopped node with 40 blocks whose last block file is then damaged by `damage`: the
/// chain rolls back, and the node starts and mines on from the rolled-back tip.
fn clean_stop_then(damage: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    let (node, rpc) = start(&datadir, &[]);
    generate(&rpc, 40);
    stop(node, rpc);
    assert_eq!(assert_consistent(&datadir), 40);

    damage(&datadir);
    let rolled_back = verify_after_damage(&datadir, 40);

    let (node, rpc) = start(&datadir, &[]);
    assert_eq!(height(&rpc), rolled_back);
    generate(&rpc, 3);
    assert_eq!(height(&rpc), rolled_back + 3);
    stop(node, rpc);
    assert_eq!(assert_consistent(&datadir), rolled_back + 3);
}

#[test]
fn truncated_tail_after_a_clean_stop_rolls_back_and_the_node_starts() {
    clean_stop_then(|d| truncate_tail(d, 700));
}

#[test]
fn zeroed_tail_after_a_clean_stop_rolls_back_and_the_node_starts() {
    clean_stop_then(|d| zero_tail(d, 700));
}

#[test]
fn damaged_tail_after_sigkill_of_a_node_spending_coins_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("node");
    let mut node = NodeProcess::start(
        &datadir,
        &[
            "--block-interval",
            "0.005",
            "--verify-threads",
            "0",
            "--self-spend",
            "3",
        ],
    );
    // Past coinbase maturity, so the lost blocks hold spends and their undo data matters.
    node.wait_for_blocks(108, Duration::from_secs(120));
    node.child.kill().expect("SIGKILL");
    let (_, blocks) = node.wait();
    let reported = blocks.iter().map(|(h, _)| *h).max().unwrap() as u64;
    let stored = assert_consistent(&datadir);
    assert!(stored >= reported);

    zero_tail(&datadir, 3000);
    let rolled_back = verify_after_damage(&datadir, stored);
    assert!(rolled_back > 100);

    let (node, rpc) = start(&datadir, &[]);
    assert_eq!(height(&rpc), rolled_back);
    stop(node, rpc);
}

#[test]
fn a_damaged_node_downloads_the_lost_blocks_again_from_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    let (mut a, a_rpc) = start(&a_dir, &[]);
    let a_p2p = a.p2p_addr();
    let tip = generate(&a_rpc, 40);

    let (b, b_rpc) = start(&b_dir, &[&a_p2p]);
    wait_until("B syncs from A", Duration::from_secs(60), || {
        b_rpc.tip() == tip
    });
    stop(b, b_rpc);

    truncate_tail(&b_dir, 700);
    let (mut b, b_rpc) = start(&b_dir, &[&a_p2p]);
    let line = b.wait_for_log(ROLLBACK_LINE, Duration::from_secs(30));
    assert!(line.contains("..40 lost"), "{line}");
    wait_until(
        "B downloads the lost blocks again",
        Duration::from_secs(60),
        || b_rpc.tip() == tip,
    );
    let peers = b_rpc.call("getpeerinfo", Value::Null);
    let delivered: u64 = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["blocks_delivered"].as_u64().unwrap_or(0))
        .sum();
    assert!(delivered > 0, "the lost blocks came from A: {peers}");
    // The rollback line names the height the chain went back to.
    let back_to = line
        .split("rolled back to height ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|h| h.parse::<u64>().ok())
        .expect("height in the rollback line");
    assert_eq!(delivered, 40 - back_to, "{line}");

    stop(b, b_rpc);
    stop(a, a_rpc);
    assert_eq!(assert_consistent(&a_dir), 40);
    assert_eq!(assert_consistent(&b_dir), 40);
}
