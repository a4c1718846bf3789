//! The Prometheus endpoint: chain height, UTXO and mempool gauges, block-connect histogram.

mod rpc_common;

use parthenon_node::metrics::{MetricsServer, NodeMetrics};
use rpc_common::{loopback0, mine, open_state};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` over a fresh connection: status and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The value of the sample line `name value`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_chain_and_block_connect_times() {
    let metrics = Arc::new(NodeMetrics::new());
    let (_dir, _datadir, state, miner, _key) = open_state(Some(metrics.clone()));
    let server = MetricsServer::start(loopback0(), metrics, state.clone())
        .await
        .unwrap();
    let addr = server.local_addr();

    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&text, "parthenon_chain_height"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, "parthenon_block_connect_seconds_count"),
        Some(0.0),
        "{text}"
    );

    mine(&miner, 4).await;
    let (_, text) = get(addr, "/metrics").await;
    assert_eq!(sample(&text, "parthenon_chain_height"), Some(4.0), "{text}");
    let utxos = state.chain.read().stats().utxo_count as f64;
    assert!(utxos > 0.0);
    assert_eq!(sample(&text, "parthenon_utxo_count"), Some(utxos), "{text}");
    assert_eq!(
        sample(&text, "parthenon_mempool_transactions"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "parthenon_mempool_bytes"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "parthenon_block_connect_seconds_count"),
        Some(4.0),
        "{text}"
    );
    assert!(
        sample(&text, "parthenon_block_connect_seconds_sum").unwrap() > 0.0,
        "{text}"
    );
    assert!(
        text.contains("# TYPE parthenon_block_connect_seconds histogram"),
        "{text}"
    );
    // Nothing about peers yet: those come with the P2P layer.
    assert!(!text.contains("peer"), "{text}");

    assert_eq!(get(addr, "/").await.0, 404);
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
