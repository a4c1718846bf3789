//! Helpers shared by the end-to-end tests: spawning the real `parthenon` binary and
//! reading the blocks it reports connected.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_parthenon")
}

/// Runs `parthenon ARGS…` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("PARTHENON_LOG", "warn")
        .output()
        .expect("parthenon runs")
}

/// A node child process whose "block connected" log lines are collected.
pub struct NodeProcess {
    /// The process.
    pub child: Child,
    /// `(height, hash)` of every block it logged as connected.
    pub blocks: Arc<Mutex<Vec<(u32, String)>>>,
    /// Every line it logged so far.
    pub log: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

/// Parses `height=H hash=X` from a "block connected" log line.
pub fn parse_connected(line: &str) -> Option<(u32, String)> {
    if !line.contains("block connected") {
        return None;
    }
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(|v| v.trim_matches('"').to_string())
    };
    Some((field("height=")?.parse().ok()?, field("hash=")?))
}

impl NodeProcess {
    /// Starts `parthenon node --dev --datadir DIR --rpc-listen 127.0.0.1:0 EXTRA…` (an
    /// ephemeral RPC port, so nodes of tests running at once do not collide).
    pub fn start(datadir: &Path, extra: &[&str]) -> NodeProcess {
        Self::start_listening(datadir, "127.0.0.1:0", extra)
    }

    /// [`NodeProcess::start`] accepting peers on `p2p_listen` instead of an ephemeral port.
    pub fn start_listening(datadir: &Path, p2p_listen: &str, extra: &[&str]) -> NodeProcess {
        let mut child = Command::new(bin())
            .args(["node", "--dev", "--datadir"])
            .arg(datadir)
            .args(["--rpc-listen", "127.0.0.1:0", "--p2p-listen", p2p_listen])
            .args(extra)
            .env("PARTHENON_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let blocks = Arc::new(Mutex::new(Vec::new()));
        let sink = blocks.clone();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(b) = parse_connected(&line) {
                    sink.lock().unwrap().push(b);
                }
                log_sink.lock().unwrap().push(line);
            }
        });
        NodeProcess {
            child,
            blocks,
            log,
            reader: Some(reader),
        }
    }

    /// Waits until at least `n` blocks were reported (panics after `timeout`).
    pub fn wait_for_blocks(&self, n: usize, timeout: Duration) {
        let start = Instant::now();
        while self.blocks.lock().unwrap().len() < n {
            assert!(
                start.elapsed() < timeout,
                "node reported fewer than {n} blocks in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the node logs a line containing `needle` and returns that line (panics
    /// after `timeout`, or when the process exits first).
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment to drain what the process wrote before it exited.
                std::thread::sleep(Duration::from_millis(100));
                if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                    return line.clone();
                }
                panic!(
                    "node exited ({status}) before logging {needle:?}; log:\n{}",
                    self.log.lock().unwrap().join("\n")
                );
            }
            assert!(
                start.elapsed() < timeout,
                "node did not log {needle:?} in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address the node accepts peers on (from its `P2P listening` log line).
    pub fn p2p_addr(&mut self) -> String {
        let line = self.wait_for_log("P2P listening", Duration::from_secs(30));
        log_field(&line, "p2p_listen=").expect("p2p_listen in the P2P listening line")
    }

    /// A JSON-RPC client of the node, from the address and cookie path its RPC server logs.
    pub fn rpc(&mut self) -> Rpc {
        let line = self.wait_for_log("JSON-RPC server listening", Duration::from_secs(30));
        let addr = log_field(&line, "addr=").expect("addr in the RPC line");
        let cookie = log_field(&line, "cookie=").expect("cookie in the RPC line");
        let credentials = parthenon_node::rpc::Credentials::from_cookie_file(Path::new(&cookie))
            .expect("readable RPC cookie");
        let url = format!("http://{addr}/").parse().expect("RPC URL");
        Rpc {
            client: parthenon_node::rpc::client::RpcClient::new(url, Some(credentials)),
        }
    }

    /// Waits for the process to exit and for its log to be read to the end.
    pub fn wait(mut self) -> (std::process::ExitStatus, Vec<(u32, String)>) {
        let status = self.child.wait().expect("wait for node");
        if let Some(r) = self.reader.take() {
            r.join().expect("log reader");
        }
        let blocks = self.blocks.lock().unwrap().clone();
        (status, blocks)
    }
}

/// A loopback address with a port that was free a moment ago (bound, then released), for a
/// node that must be named before it starts.
pub fn free_loopback_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").to_string()
}

/// The value of `name` (e.g. `"addr="`) in a log line, quotes removed.
pub fn log_field(line: &str, name: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .map(|v| v.trim_matches('"').to_string())
}

/// A JSON-RPC client of one running node.
#[derive(Clone)]
pub struct Rpc {
    /// The client.
    pub client: parthenon_node::rpc::client::RpcClient,
}

impl Rpc {
    /// Calls `method`; panics if the call fails.
    pub fn call(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("RPC {method}: {e}"))
    }

    /// Calls `method`.
    pub fn try_call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, parthenon_node::rpc::client::RpcClientError> {
        self.client.call_blocking(method, params)
    }

    /// The hash of the active tip.
    pub fn tip(&self) -> String {
        self.call("getbestblockhash", serde_json::Value::Null)
            .as_str()
            .expect("hash string")
            .to_string()
    }
}

/// `chain verify` must report a consistent chainstate; returns the verified height.
pub fn assert_consistent(datadir: &Path) -> u64 {
    let out = run(&["chain", "verify", "--datadir", datadir.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify output: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "chain verify failed: {report:#}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
    report["height"].as_u64().unwrap()
}

/// The active block hash at `height`.
pub fn block_hash(datadir: &Path, height: u32) -> String {
    let out = run(&[
        "chain",
        "block-hash",
        "--datadir",
        datadir.to_str().unwrap(),
        "--height",
        &height.to_string(),
    ]);
    assert!(
        out.status.success(),
        "block-hash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
