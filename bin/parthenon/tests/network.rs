//! Real nodes on a real network: the `parthenon` binary started three or four times on
//! loopback with TLS (the default) and ephemeral ports, talking to each other.
//!
//! - blocks mined on A reach B (connected to A) and C (connected to B only) — relay through
//!   a hop;
//! - a transaction submitted to C is relayed to A, mined there, and every node then agrees
//!   that the spent coin is gone and the new outputs exist;
//! - a node that was stopped catches up from its stored tip after a restart;
//! - a fresh node joining late syncs 500 blocks headers-first.
//!
//! Blocks are mined with RPC `generate` on nodes started with `--no-mine`, so nothing depends
//! on a mining interval.

mod common;

use common::{wait_until, NodeProcess, Rpc};
use parthenon_node::wallet::{Wallet, WalletCoin};
use parthenon_primitives::{serialize, Asset};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a block or transaction may take to cross the loopback network.
const RELAY_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts a dev node that does not mine by itself, accepting peers on `listen` (ephemeral
/// when `None`) and connecting only to `connect` (`--connect`: no address discovery).
fn start(datadir: &Path, listen: Option<&str>, connect: &[&str]) -> (NodeProcess, Rpc) {
    let mut args = vec!["--no-mine"];
    for peer in connect {
        args.extend(["--connect", peer]);
    }
    let mut node = NodeProcess::start_listening(datadir, listen.unwrap_or("127.0.0.1:0"), &args);
    let rpc = node.rpc();
    (node, rpc)
}

/// Waits until every node in `nodes` has `tip` as its best block.
fn wait_for_tip(nodes: &[(&str, &Rpc)], tip: &str) {
    for (name, rpc) in nodes {
        wait_until(&format!("{name} reaches tip {tip}"), RELAY_TIMEOUT, || {
            rpc.tip() == tip
        });
    }
}

/// The peers of `rpc` that finished the handshake.
fn ready_peers(rpc: &Rpc) -> Vec<Value> {
    let peers = rpc.call("getpeerinfo", Value::Null);
    peers
        .as_array()
        .expect("getpeerinfo returns an array")
        .iter()
        .filter(|p| p["ready"] == true)
        .cloned()
        .collect()
}

/// Waits until `rpc` has at least `n` ready peers and returns them.
fn wait_for_peers(name: &str, rpc: &Rpc, n: usize) -> Vec<Value> {
    wait_until(
        &format!("{name} has {n} ready peers"),
        RELAY_TIMEOUT,
        || ready_peers(rpc).len() >= n,
    );
    ready_peers(rpc)
}

/// Mines `n` blocks on `rpc` and returns the last one's hash.
fn generate(rpc: &Rpc, n: u64) -> String {
    let hashes = rpc.call("generate", json!([n]));
    let hashes = hashes.as_array().expect("generate returns hashes");
    assert_eq!(hashes.len() as u64, n);
    hashes.last().unwrap().as_str().unwrap().to_string()
}

fn gettxout(rpc: &Rpc, txid: &str, vout: u32) -> Value {
    rpc.call("gettxout", json!([txid, vout]))
}

fn mempool(rpc: &Rpc) -> Vec<String> {
    rpc.call("getrawmempool", Value::Null)
        .as_array()
        .expect("array of txids")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn sigterm(node: NodeProcess) {
    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, _) = node.wait();
    assert!(status.success(), "node exit status {status:?}");
}

#[test]
fn blocks_and_transactions_cross_a_three_node_network_and_a_restarted_node_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir, c_dir) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    // Every node runs with --connect (no discovery), so the topology is exactly A - B - C:
    // A dials B and B dials A (B's port is chosen before A starts), C dials B; A never learns
    // of C, so whatever reaches C from A went through B.
    let b_p2p = common::free_loopback_addr();
    let (mut a, a_rpc) = start(&a_dir, None, &[&b_p2p]);
    let a_p2p = a.p2p_addr();
    let (b, b_rpc) = start(&b_dir, Some(&b_p2p), &[&a_p2p]);
    let (c, c_rpc) = start(&c_dir, None, &[&b_p2p]);
    let c_peers = wait_for_peers("C", &c_rpc, 1);
    assert!(
        c_peers.iter().all(|p| p["addr"] == b_p2p.as_str()),
        "C's only peer is B: {c_peers:?}"
    );
    wait_for_peers("B", &b_rpc, 2);
    let a_peers = wait_for_peers("A", &a_rpc, 1);
    assert!(
        a_peers
            .iter()
            .all(|p| p["direction"] == "inbound" || p["addr"] == b_p2p.as_str()),
        "A dials nobody but B: {a_peers:?}"
    );
    // TLS is the default: every peer connection is TLS 1.3.
    for (name, rpc) in [("A", &a_rpc), ("B", &b_rpc), ("C", &c_rpc)] {
        let info = rpc.call("getnetworkinfo", Value::Null);
        assert_eq!(info["tls"], true, "{name}: {info}");
        let peers = ready_peers(rpc);
        assert!(peers.iter().all(|p| p["tls"] == true), "{name}: {peers:?}");
    }

    // 1. Blocks mined on A reach B, and C through B, with identical tips.
    let all = [("A", &a_rpc), ("B", &b_rpc), ("C", &c_rpc)];
    let t = Instant::now();
    let tip = generate(&a_rpc, 5);
    wait_for_tip(&all, &tip);
    eprintln!("5 blocks reached B and C in {:?}", t.elapsed());
    for rpc in [&a_rpc, &b_rpc, &c_rpc] {
        assert_eq!(rpc.call("getblockcount", Value::Null), json!(5));
        assert_eq!(
            rpc.call("getblockhash", json!([3])),
            a_rpc.call("getblockhash", json!([3]))
        );
    }
    // Enough blocks for the first coinbase to mature (100 confirmations).
    let tip = generate(&a_rpc, 96);
    wait_for_tip(&all, &tip);

    // 2. A transaction submitted to C (which has no coins of its own) spending A's first
    // coinbase, signed with A's wallet key, goes C -> B -> A, is mined by A, and every node
    // agrees on the result.
    let h1 = a_rpc.call("getblockhash", json!([1]));
    let block1 = a_rpc.call("getblock", json!([h1, 1]));
    let coinbase = block1["txids"][0].as_str().unwrap().to_string();
    let coin = gettxout(&c_rpc, &coinbase, 0);
    assert_eq!(coin["asset"], "TALANTON", "{coin}");
    let amount = coin["amount"].as_u64().unwrap();
    let a_wallet = Wallet::load(&a_dir.join("wallet.key")).expect("A's wallet");
    assert_eq!(
        coin["key"],
        a_wallet.address(),
        "the coinbase pays A's wallet"
    );
    let b_wallet = Wallet::load(&b_dir.join("wallet.key")).expect("B's wallet");
    let spendable = WalletCoin {
        outpoint: format!("u{coinbase}:0"),
        asset: Asset::Talanton,
        amount,
        height: 1,
        coinbase: true,
        spendable: true,
    };
    let (pay, fee) = (10 * 100_000_000, 100_000);
    let tx = a_wallet
        .build_send(
            std::slice::from_ref(&spendable),
            b_wallet.public_key(),
            Asset::Talanton,
            pay,
            fee,
        )
        .expect("A's wallet signs");
    assert_eq!(tx.outputs.len(), 2, "payment and change");
    let txid = c_rpc.call("sendrawtransaction", json!([hex::encode(serialize(&tx))]));
    let txid = txid.as_str().unwrap().to_string();
    assert_eq!(txid, tx.txid().to_hex());
    let t = Instant::now();
    for (name, rpc) in all {
        wait_until(
            &format!("{name}'s mempool holds {txid}"),
            RELAY_TIMEOUT,
            || mempool(rpc).contains(&txid),
        );
    }
    eprintln!("transaction reached A through B in {:?}", t.elapsed());
    let tip = generate(&a_rpc, 1);
    let block = a_rpc.call("getblock", json!([tip, 1]));
    assert!(
        block["txids"].as_array().unwrap().contains(&json!(txid)),
        "A mined the relayed transaction: {block}"
    );
    wait_for_tip(&all, &tip);
    for (name, rpc) in all {
        assert_eq!(
            gettxout(rpc, &coinbase, 0),
            Value::Null,
            "{name}: spent coin"
        );
        let paid = gettxout(rpc, &txid, 0);
        assert_eq!(paid["amount"], json!(pay), "{name}: {paid}");
        assert_eq!(paid["key"], b_wallet.address(), "{name}: {paid}");
        let change = gettxout(rpc, &txid, 1);
        assert_eq!(
            change["amount"],
            json!(amount - pay - fee),
            "{name}: {change}"
        );
        assert_eq!(change["key"], a_wallet.address(), "{name}: {change}");
        // The mined transaction leaves every mempool.
        wait_until(&format!("{name}'s mempool empties"), RELAY_TIMEOUT, || {
            mempool(rpc).is_empty()
        });
    }

    // 3. B stops (RPC stop), A mines on, B restarts from its datadir and catches up.
    b_rpc.call("stop", Value::Null);
    drop(b_rpc);
    let (status, _) = b.wait();
    assert!(status.success(), "B exit status {status:?}");
    let b_height = 102; // B's tip when it stopped
    let tip = generate(&a_rpc, 10);
    let (b, b_rpc) = start(&b_dir, Some(&b_p2p), &[&a_p2p]);
    let resumed = b_rpc.call("getblockcount", Value::Null).as_u64().unwrap();
    assert!(
        resumed >= b_height,
        "B restarted from its stored tip ({resumed})"
    );
    // B catches up from A; C, which lost B, reconnects to it and follows.
    wait_for_tip(&[("B (restarted)", &b_rpc), ("C", &c_rpc)], &tip);
    assert_eq!(b_rpc.call("getblockcount", Value::Null), json!(112));

    sigterm(c);
    sigterm(b);
    sigterm(a);
    for d in [&a_dir, &b_dir, &c_dir] {
        assert_eq!(common::assert_consistent(d), 112, "{}", d.display());
    }
}

#[test]
fn a_late_joiner_syncs_500_blocks_headers_first() {
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, d_dir) = (dir.path().join("a"), dir.path().join("d"));
    let (mut a, a_rpc) = start(&a_dir, None, &[]);
    let a_p2p = a.p2p_addr();
    let tip = generate(&a_rpc, 500);
    assert_eq!(a_rpc.call("getblockcount", Value::Null), json!(500));

    let t = Instant::now();
    // D starts empty (a fresh datadir) and its RPC server comes up after its P2P engine, so
    // the sync may already be under way at the first call.
    let (mut d, d_rpc) = start(&d_dir, None, &[&a_p2p]);
    wait_until("D reaches A's tip", Duration::from_secs(60), || {
        d_rpc.tip() == tip
    });
    eprintln!("D synced 500 blocks in {:?}", t.elapsed());
    d.wait_for_log("peer connected", Duration::from_secs(5));
    for h in [1, 250, 500] {
        assert_eq!(
            d_rpc.call("getblockhash", json!([h])),
            a_rpc.call("getblockhash", json!([h])),
            "height {h}"
        );
    }
    // Headers first: D learnt the whole header chain, and its one peer delivered the blocks.
    let net = d_rpc.call("getnetworkinfo", Value::Null);
    assert_eq!(net["header_height"], json!(500), "{net}");
    let peers = ready_peers(&d_rpc);
    let delivered: u64 = peers
        .iter()
        .map(|p| p["blocks_delivered"].as_u64().unwrap())
        .sum();
    assert_eq!(delivered, 500, "every block came from a peer: {peers:?}");
    assert!(
        peers
            .iter()
            .filter(|p| p["direction"] == "outbound")
            .all(|p| p["addr"] == a_p2p.as_str()),
        "{peers:?}"
    );

    sigterm(d);
    sigterm(a);
    assert_eq!(common::assert_consistent(&d_dir), 500);
}
