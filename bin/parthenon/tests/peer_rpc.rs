//! The operator's peer RPC methods on two real nodes: `addnode`, `getpeerinfo`,
//! `getconnectioncount`, `disconnectnode`, `setban`, `listbanned`, `clearbanned`, their
//! error codes, bans kept across a restart, and a second node refused on a P2P address in use with an error naming the
//! flag to change.

mod common;

use common::{run, NodeProcess, Rpc};
use parthenon_node::rpc::client::RpcClientError;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(20);

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < TIMEOUT, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(rpc: &Rpc) -> u64 {
    rpc.call("getconnectioncount", Value::Null)
        .as_u64()
        .unwrap()
}

/// The error code of a call that must fail.
fn code(rpc: &Rpc, method: &str, params: Value) -> i64 {
    match rpc.try_call(method, params) {
        Err(RpcClientError::Remote { code, .. }) => code,
        other => panic!("{method}: expected an error, got {other:?}"),
    }
}

#[test]
fn operator_manages_peers_and_bans_over_rpc() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = NodeProcess::start(&tmp.path().join("a"), &["--no-mine"]);
    let mut b = NodeProcess::start(&tmp.path().join("b"), &["--no-mine"]);
    let a_p2p = a.p2p_addr();
    let (ra, rb) = (a.rpc(), b.rpc());
    assert_eq!(count(&ra), 0);

    // addnode: B keeps a connection to A.
    assert_eq!(rb.call("addnode", json!([a_p2p, "add"])), Value::Null);
    wait_until("A and B connected", || count(&ra) == 1 && count(&rb) == 1);
    assert_eq!(code(&rb, "addnode", json!([a_p2p, "add"])), -23);
    assert_eq!(code(&rb, "addnode", json!(["no-port", "add"])), -32602);
    assert_eq!(code(&rb, "addnode", json!([a_p2p, "sometimes"])), -32602);
    let peers = rb.call("getpeerinfo", Value::Null);
    let peer = &peers.as_array().unwrap()[0];
    assert_eq!(peer["addr"], a_p2p.as_str());
    assert_eq!(peer["direction"], "outbound");
    assert_eq!(peer["manual"], true);
    assert_eq!(peer["tls"], true);
    let info = ra.call("getnetworkinfo", Value::Null);
    assert_eq!(info["connections_in"], 1, "{info}");
    assert_eq!(
        peer["cert_fingerprint"], info["cert_fingerprint"],
        "B sees A's certificate"
    );

    // disconnectnode on A: B, a manual peer, reconnects by itself.
    let inbound = ra.call("getpeerinfo", Value::Null)[0]["addr"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ra.call("disconnectnode", json!([inbound.clone()])),
        Value::Null
    );
    assert_eq!(code(&ra, "disconnectnode", json!([inbound])), -29);
    assert_eq!(
        code(&ra, "disconnectnode", json!(["not an address"])),
        -32602
    );
    wait_until("B reconnects", || {
        let p = ra.call("getpeerinfo", Value::Null);
        p.as_array().unwrap().len() == 1 && p[0]["ready"] == true
    });

    // setban of a subnet: A drops B (127.0.0.1, inside it) and refuses it while the ban
    // lasts.
    assert_eq!(
        ra.call("setban", json!(["127.0.0.0/8", "add", 600])),
        Value::Null
    );
    let banned = ra.call("listbanned", Value::Null);
    assert_eq!(banned[0]["address"], "127.0.0.0/8", "{banned}");
    wait_until("A drops B", || count(&ra) == 0);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&ra), 0, "a banned address is refused");
    assert_eq!(
        code(&ra, "setban", json!(["10.0.0.1/8", "add"])),
        -32602,
        "host bits set"
    );
    assert_eq!(code(&ra, "setban", json!(["10.0.0.0/33", "add"])), -32602);
    assert_eq!(code(&ra, "setban", json!(["10.1.2.3", "remove"])), -29);

    // clearbanned: B gets back in.
    assert_eq!(ra.call("clearbanned", Value::Null), Value::Null);
    assert_eq!(ra.call("listbanned", Value::Null), json!([]));
    wait_until("B back after the ban is lifted", || count(&ra) == 1);

    // addnode remove: B stops keeping A.
    assert_eq!(rb.call("addnode", json!([a_p2p, "remove"])), Value::Null);
    assert_eq!(code(&rb, "addnode", json!([a_p2p, "remove"])), -24);

    // A second node on A's P2P address is refused, naming the flag to change.
    let out = run(&[
        "node",
        "--dev",
        "--no-mine",
        "--datadir",
        tmp.path().join("c").to_str().unwrap(),
        "--rpc-listen",
        "127.0.0.1:0",
        "--p2p-listen",
        &a_p2p,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--p2p-listen"), "{err}");

    // Bans outlive the process: a restarted node still lists them.
    ra.call("setban", json!(["10.9.9.9", "add", 3600]));
    for (node, rpc) in [(a, ra), (b, rb)] {
        rpc.call("stop", Value::Null);
        let (status, _) = node.wait();
        assert!(status.success(), "{status}");
    }
    let mut a = NodeProcess::start(&tmp.path().join("a"), &["--no-mine"]);
    let ra = a.rpc();
    let banned = ra.call("listbanned", Value::Null);
    assert_eq!(banned[0]["address"], "10.9.9.9", "{banned}");
    ra.call("stop", Value::Null);
    assert!(a.wait().0.success());
}
