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
    /// Starts `parthenon node --dev --datadir DIR --rpc-listen 127.0.0.1:0 --p2p-listen
    /// 127.0.0.1:0 EXTRA…` (ephemeral RPC and P2P ports, so nodes of tests running at once do
    /// not collide).
    pub fn start(datadir: &Path, extra: &[&str]) -> NodeProcess {
        let mut child = Command::new(bin())
            .args(["node", "--dev", "--datadir"])
            .arg(datadir)
            .args(["--rpc-listen", "127.0.0.1:0"])
            .args(["--p2p-listen", "127.0.0.1:0"])
            .args(extra)
            .env("PARTHENON_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let blocks = Arc::new(Mutex::new(Vec::new()));
        let sink = blocks.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(b) = parse_connected(&line) {
                    sink.lock().unwrap().push(b);
                }
            }
        });
        NodeProcess {
            child,
            blocks,
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
