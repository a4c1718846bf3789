//! `parthenon devnet` as an operator runs it: it starts real node processes, prints a table
//! of their data directories and RPC URLs that `parthenon rpc` can use as printed, and on
//! SIGTERM stops every node and exits 0. (The nodes do not sync with each other until the
//! P2P engine lands, so nothing here asserts cross-node sync.)

mod common;

use common::{bin, run};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The devnet process; SIGTERMed and reaped on drop if a test fails half-way, so no node is
/// left running.
struct Devnet(Option<Child>);

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

/// One row of the printed table: name, datadir, P2P address, RPC URL.
type Row = (String, String, String, String);

#[test]
fn devnet_starts_two_answering_nodes_and_stops_them_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let devnet_dir = dir.path().join("devnet");
    let mut child = Command::new(bin())
        .args(["devnet", "--nodes", "2", "--block-interval", "0.2", "--dir"])
        .arg(&devnet_dir)
        .env("PARTHENON_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("devnet starts");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut devnet = Devnet(Some(child));

    // stdout: the table, line by line; stderr: the nodes' prefixed logs, kept whole.
    let (tx, rx) = mpsc::channel::<String>();
    let out_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });

    let mut rows: Vec<Row> = Vec::new();
    let mut example = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while example.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("devnet printed its table in time");
        if line.starts_with("node") {
            let cols: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert_eq!(cols.len(), 4, "table row {line:?}");
            rows.push((
                cols[0].clone(),
                cols[1].clone(),
                cols[2].clone(),
                cols[3].clone(),
            ));
        } else if let Some(cmd) = line.strip_prefix("try: ") {
            example = Some(cmd.to_owned());
        }
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "node0");
    assert_eq!(rows[1].0, "node1");
    assert_ne!(rows[0].2, rows[1].2, "P2P addresses must differ");
    assert_ne!(rows[0].3, rows[1].3, "RPC URLs must differ");
    let example = example.unwrap();
    assert!(
        example.contains(&rows[0].1) && example.contains(&rows[0].3),
        "{example}"
    );

    // Both nodes answer JSON-RPC at the printed URL, with the cookie in the printed datadir.
    for (name, datadir, _, url) in &rows {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = run(&[
                "rpc",
                "--datadir",
                datadir,
                "--rpc-url",
                url,
                "getblockchaininfo",
            ]);
            if out.status.success() {
                let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert!(info.is_object(), "{name}: {info}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not answer RPC at {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let mut child = devnet.0.take().unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait for devnet");
    out_reader.join().unwrap();
    let log = err_reader.join().unwrap();
    assert!(status.success(), "devnet exit status {status:?}\n{log}");
    assert!(log.contains("[node0] "), "node0's log is prefixed:\n{log}");
    assert!(log.contains("[node1] "), "node1's log is prefixed:\n{log}");
    assert!(log.contains("all nodes stopped cleanly"), "{log}");

    // Every node released its data directory: the chainstate opens and is consistent.
    for (_, datadir, _, _) in &rows {
        common::assert_consistent(std::path::Path::new(datadir));
    }
}
