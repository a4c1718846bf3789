//! What the node tells and does about its own security, on real processes: the `crypto.aes`
//! setting governs the P2P TLS cipher suites as well as the keystore (reported per use in
//! `getnetworkinfo`, per connection in `getpeerinfo`), and an RPC server bound beyond
//! loopback warns that its credentials travel in clear text.

mod common;

use common::{NodeProcess, Rpc};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);
const CHACHA: &str = "TLS13_CHACHA20_POLY1305_SHA256";
const AES_256: &str = "TLS13_AES_256_GCM_SHA384";

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < TIMEOUT, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The suite of the one connection `rpc`'s node has to the peer at `addr` (either way).
fn suite_with(rpc: &Rpc, addr_contains: Option<&str>) -> Option<String> {
    let peers = rpc.call("getpeerinfo", Value::Null);
    peers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| addr_contains.is_none_or(|a| p["addr"].as_str() == Some(a)))
        .and_then(|p| p["tls_cipher_suite"].as_str().map(str::to_owned))
}

fn stop(node: NodeProcess) {
    // SAFETY: kill(2) on the child's pid, which this test owns.
    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, _) = node.wait();
    assert!(status.success());
}

#[test]
fn crypto_aes_software_keeps_aes_off_p2p_connections_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    // `soft` is configured software; `auto` and `peer` are left to the CPU.
    let mut soft = NodeProcess::start(
        &tmp.path().join("soft"),
        &["--no-mine", "--aes", "software"],
    );
    let mut auto = NodeProcess::start(&tmp.path().join("auto"), &["--no-mine"]);
    let mut peer = NodeProcess::start(&tmp.path().join("peer"), &["--no-mine"]);
    let soft_p2p = soft.p2p_addr();
    let peer_p2p = peer.p2p_addr();
    let (rs, ra, rp) = (soft.rpc(), auto.rpc(), peer.rpc());

    // getnetworkinfo reports each use of AES separately.
    let info = rs.call("getnetworkinfo", Value::Null)["aes_gcm"].clone();
    assert_eq!(info["configured"], json!("software"), "{info}");
    assert_eq!(info["keystore"]["hardware"], json!(false), "{info}");
    assert!(
        info["keystore"]["path"]
            .as_str()
            .unwrap()
            .contains("software"),
        "{info}"
    );
    assert_eq!(info["p2p_tls"]["cipher_suites"], json!([CHACHA]), "{info}");
    assert_eq!(info["p2p_tls"]["aes"], json!(false), "{info}");
    let auto_info = ra.call("getnetworkinfo", Value::Null)["aes_gcm"].clone();
    assert_eq!(auto_info["configured"], json!("auto"));
    // What `auto` chooses depends on the CPU (and PARTHENON_AES): the keystore and TLS agree.
    let hardware = auto_info["keystore"]["hardware"].as_bool().unwrap();
    let auto_suites = if hardware {
        json!([AES_256, "TLS13_AES_128_GCM_SHA256", CHACHA])
    } else {
        json!([CHACHA])
    };
    assert_eq!(
        auto_info["p2p_tls"]["cipher_suites"], auto_suites,
        "{auto_info}"
    );
    assert_eq!(auto_info["p2p_tls"]["aes"], json!(hardware));

    // auto dials soft, and auto dials peer.
    ra.call("addnode", json!([soft_p2p, "add"]));
    ra.call("addnode", json!([peer_p2p, "add"]));
    wait_until("auto connected to both", || {
        suite_with(&ra, Some(&soft_p2p)).is_some() && suite_with(&ra, Some(&peer_p2p)).is_some()
    });
    // With the software node, both ends negotiated ChaCha20-Poly1305.
    assert_eq!(suite_with(&ra, Some(&soft_p2p)).as_deref(), Some(CHACHA));
    wait_until("soft sees auto", || suite_with(&rs, None).is_some());
    assert_eq!(suite_with(&rs, None).as_deref(), Some(CHACHA));
    // Between two auto nodes, the first suite of the policy: AES-256-GCM on an AES-NI CPU.
    let expected = if hardware { AES_256 } else { CHACHA };
    assert_eq!(suite_with(&ra, Some(&peer_p2p)).as_deref(), Some(expected));
    wait_until("peer sees auto", || suite_with(&rp, None).is_some());
    assert_eq!(suite_with(&rp, None).as_deref(), Some(expected));

    // Loopback RPC servers do not warn of clear text.
    for node in [&soft, &auto, &peer] {
        let log = node.log.lock().unwrap();
        assert!(
            !log.iter().any(|l| l.contains("clear text")),
            "a loopback RPC server warned: {log:?}"
        );
    }
    for node in [soft, auto, peer] {
        stop(node);
    }
}

#[test]
fn an_rpc_server_beyond_loopback_warns_that_credentials_travel_in_clear_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(common::bin())
        .args(["node", "--dev", "--no-mine", "--no-p2p", "--datadir"])
        .arg(tmp.path().join("exposed"))
        .args(["--rpc-listen", "0.0.0.0:0"])
        .env("PARTHENON_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut listening = None;
    let warning = loop {
        let line = rx
            .recv_timeout(TIMEOUT.saturating_sub(start.elapsed()))
            .expect("the node warned before the timeout");
        if line.contains("JSON-RPC server listening") {
            listening = Some(line.clone());
        }
        if line.contains("clear text") {
            break line;
        }
    };
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("SSH tunnel"), "{warning}");
    assert!(warning.contains("127.0.0.1"), "{warning}");
    // Stop it over RPC (a signal this early could beat the node's handler).
    let listening = listening.expect("the listening line comes before the warning");
    let addr: std::net::SocketAddr = common::log_field(&listening, "addr=")
        .unwrap()
        .parse()
        .unwrap();
    let cookie = common::log_field(&listening, "cookie=").unwrap();
    let rpc = Rpc {
        client: parthenon_node::rpc::client::RpcClient::new(
            format!("http://127.0.0.1:{}/", addr.port())
                .parse()
                .unwrap(),
            Some(
                parthenon_node::rpc::Credentials::from_cookie_file(std::path::Path::new(&cookie))
                    .unwrap(),
            ),
        ),
    };
    rpc.call("stop", Value::Null);
    assert!(child.wait().unwrap().success());
    drop(rx);
    reader.join().unwrap();
}
