//! The dev node as an operator uses it: it mines with no configuration, stops cleanly on
//! SIGTERM with exit code 0, resumes from its stored tip, and answers `chain info` and the
//! wallet while it runs.

mod common;

use common::{run, NodeProcess};
use std::time::Duration;

fn info(datadir: &std::path::Path) -> serde_json::Value {
    let out = run(&["chain", "info", "--datadir", datadir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "chain info: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sigterm_stops_cleanly_and_restart_resumes_from_the_stored_tip() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let node = NodeProcess::start(&datadir, &["--block-interval", "0.02"]);
    node.wait_for_blocks(5, Duration::from_secs(30));

    // While the node runs (and holds the store), chain info asks it.
    let live = info(&datadir);
    assert_eq!(live["network"], "dev");
    assert!(live["height"].as_u64().unwrap() >= 5);

    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, blocks) = node.wait();
    assert!(status.success(), "exit status {status:?}");
    let (last_height, last_hash) = blocks.last().cloned().unwrap();

    let stopped = info(&datadir);
    assert_eq!(stopped["height"].as_u64().unwrap(), last_height as u64);
    assert_eq!(stopped["best_hash"], last_hash.as_str());
    assert_eq!(
        stopped["utxo_count"].as_u64().unwrap(),
        3 * last_height as u64
    );
    let supply_talanton = stopped["supply"]["TALANTON"].as_u64().unwrap();
    assert_eq!(supply_talanton, 50 * 100_000_000 * last_height as u64);

    let node = NodeProcess::start(&datadir, &["--block-interval", "0.02"]);
    node.wait_for_blocks(1, Duration::from_secs(30));
    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, blocks) = node.wait();
    assert!(status.success());
    assert_eq!(
        blocks[0].0,
        last_height + 1,
        "restart did not resume from the stored tip"
    );
}

#[test]
fn wallet_send_reaches_a_block_and_moves_the_balance() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let d = datadir.to_str().unwrap();
    let node = NodeProcess::start(&datadir, &["--block-interval", "0.01"]);
    node.wait_for_blocks(102, Duration::from_secs(60));

    let to = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    let out = run(&[
        "wallet",
        "send",
        "--datadir",
        d,
        "--to",
        to,
        "--amount",
        "12.5",
        "--asset",
        "obolos",
        "--fee",
        "0.001",
    ]);
    assert!(
        out.status.success(),
        "send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let txid = sent["txid"].as_str().unwrap().to_string();
    assert_eq!(txid.len(), 64);

    // The payment appears as a coin once a block confirms it.
    let outpoint = format!("u{txid}:0");
    let start = std::time::Instant::now();
    let coin = loop {
        let out = run(&["chain", "coin", &outpoint, "--datadir", d]);
        if out.status.success() {
            break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{outpoint} never confirmed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(coin["asset"], "OBOLOS");
    assert_eq!(coin["amount"], 1_250_000_000u64);
    assert_eq!(coin["key"], to);

    // A malformed outpoint is a clear error, not a lookup.
    let bad = run(&["chain", "coin", &format!("u{txid}:01"), "--datadir", d]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("vout"));

    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, _) = node.wait();
    assert!(status.success());
    let height = common::assert_consistent(&datadir);
    assert!(height > 101);
}
