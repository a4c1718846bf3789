//! `parthenon bench sync`: how fast a fresh node syncs a chain with transactions from one
//! peer over loopback, through the real P2P engine, over TLS 1.3 and over plaintext TCP.
//!
//! The chain is the one `parthenon bench chain` generates ([`crate::bench_chain`]): 101
//! coinbase-only blocks, a fan-out block, then `blocks` blocks of `txs_per_block` signed
//! one-input-two-output transactions. It is stored in a source node's chainstate (fjall, a
//! temporary data directory; the source imports it without signature checks, as it is not
//! what is measured). Then, in this process and on one tokio runtime:
//!
//! 1. **local import** (the baseline): the same blocks, already in memory, are connected
//!    into a fresh chainstate with the destination's settings — validation and storage with
//!    no network;
//! 2. for plaintext TCP and then TLS 1.3: a source engine listens on `127.0.0.1:0`, a fresh
//!    empty destination engine `--connect`s to it (pinning the source's certificate over
//!    TLS), and the time is taken from the destination's start until its tip equals the
//!    source's tip. Headers-first sync, block download, validation and storage are all in
//!    the figure.
//!
//! The three runs are repeated `rounds` times, the order rotating each round (so none
//! always runs first on a warm or cold machine); each figure is the median round.
//!
//! Reported: seconds, blocks/s and transactions/s (non-coinbase) of each run, the bytes the
//! destination received, and the ratios TLS / plaintext and plaintext / local import (of
//! times: above 1 means slower).

use crate::bench_chain::{self, BenchChainConfig, BenchError};
use crate::datadir::DataDir;
use parking_lot::{Mutex, RwLock};
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{Chainstate, ChainstateConfig, Mempool, SystemClock, Workers};
use parthenon_crypto::KeyPair;
use parthenon_net::p2p::{self, P2pConfig, P2pShared, P2pStartError};
use parthenon_net::{NodeIdentity, PeerSpec, TcpTransport, TlsTransport, Transport};
use parthenon_primitives::{Block, BlockHash, Network};
use parthenon_storage::Durability;
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default timed blocks.
pub const DEFAULT_BLOCKS: usize = 2_000;
/// Default transactions per timed block.
pub const DEFAULT_TXS_PER_BLOCK: usize = 100;
/// A sync that takes longer than this is reported as a failure.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default rounds.
pub const DEFAULT_ROUNDS: usize = 3;
/// How often the destination's tip is read during a sync.
const POLL: Duration = Duration::from_millis(5);

/// Settings of the sync benchmark.
#[derive(Debug, Clone)]
pub struct BenchSyncConfig {
    /// Blocks with transactions (after the 102-block prefix).
    pub blocks: usize,
    /// Transactions per such block.
    pub txs_per_block: usize,
    /// Signature-check threads of the destination (0 = inline).
    pub threads: usize,
    /// Whether the destination checks signatures (off: transport, validation without
    /// signatures, and storage only).
    pub check_signatures: bool,
    /// Where to put the temporary data directories (default: the system temp dir).
    pub dir: Option<PathBuf>,
    /// Rounds of the three runs (the order rotates each round); each figure is the
    /// median round.
    pub rounds: usize,
}

/// One timed sync (or the local import baseline).
#[derive(Debug, Clone, Serialize)]
pub struct SyncRun {
    /// `local import`, `plaintext TCP` or `TLS 1.3`.
    pub mode: String,
    /// Seconds until the destination's tip was the source's tip (the median round).
    pub seconds: f64,
    /// Seconds of every round, in round order.
    pub rounds_seconds: Vec<f64>,
    /// Blocks connected per second.
    pub blocks_per_s: f64,
    /// Non-coinbase transactions connected per second.
    pub txs_per_s: f64,
    /// Bytes the destination received from its peer (network runs only).
    pub bytes_received: Option<u64>,
}

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSyncReport {
    /// Blocks synced in all (prefix included).
    pub blocks: usize,
    /// Transactions per block with transactions.
    pub txs_per_block: usize,
    /// Non-coinbase transactions synced in all.
    pub transactions: usize,
    /// Serialized size of the synced blocks.
    pub chain_bytes: u64,
    /// Destination signature-check threads.
    pub threads: usize,
    /// Whether the destination checked signatures.
    pub check_signatures: bool,
    /// Seconds spent generating and signing the chain.
    pub generate_seconds: f64,
    /// Rounds of the three runs.
    pub rounds: usize,
    /// Local import, plaintext TCP, TLS 1.3 (figures of the median round).
    pub runs: Vec<SyncRun>,
    /// TLS sync time / plaintext sync time.
    pub tls_over_plaintext: f64,
    /// Plaintext sync time / local import time: what the network path costs over
    /// connecting the same blocks from memory.
    pub plaintext_over_local: f64,
}

/// Benchmark failures.
#[derive(Debug, thiserror::Error)]
pub enum BenchSyncError {
    /// Making or storing the chain failed, as in `bench chain`.
    #[error(transparent)]
    Chain(#[from] BenchError),
    /// The tokio runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A TLS identity could not be made.
    #[error("TLS identity: {0}")]
    Identity(#[from] parthenon_net::tls::IdentityError),
    /// rustls refused the configuration.
    #[error(transparent)]
    Tls(#[from] parthenon_net::tls::TlsSetupError),
    /// An engine could not start.
    #[error("P2P engine: {0}")]
    Start(#[from] P2pStartError),
    /// The destination did not reach the source's tip in time.
    #[error("{mode}: the destination reached height {height} of {target} in {secs} s")]
    Timeout {
        /// The transport.
        mode: &'static str,
        /// The destination's height when it gave up.
        height: u32,
        /// The source's height.
        target: u32,
        /// Seconds waited.
        secs: u64,
    },
}

/// The two transports compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plaintext,
    Tls,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Plaintext => "plaintext TCP",
            Mode::Tls => "TLS 1.3",
        }
    }
}

fn temp_dir(cfg: &BenchSyncConfig, name: &str) -> Result<tempfile::TempDir, BenchSyncError> {
    let mut b = tempfile::Builder::new();
    b.prefix(name);
    match &cfg.dir {
        Some(d) => b.tempdir_in(d),
        None => b.tempdir(),
    }
    .map_err(|e| BenchError::TempDir(e).into())
}

fn open_chain(
    dir: &tempfile::TempDir,
    threads: usize,
    check_signatures: bool,
) -> Result<Chainstate, BenchSyncError> {
    let config = ChainstateConfig {
        check_signatures,
        ..ChainstateConfig::default()
    };
    let workers = Workers::new(threads).map_err(BenchError::from)?;
    let chain = DataDir::new(dir.path())
        .open_chainstate(Network::Dev.params(), workers, config, Durability::Process)
        .map_err(BenchError::from)?;
    Ok(chain)
}

/// A time far enough after the generated blocks' timestamps for none to be "too new".
fn connect_time() -> u64 {
    Network::Dev.params().genesis_time as u64 + 10_000_000
}

fn import(chain: &mut Chainstate, blocks: Vec<Block>) -> Result<(), BenchSyncError> {
    let now = connect_time();
    for b in blocks {
        let height = chain.height() + 1;
        chain
            .process_block(b, now)
            .map_err(|source| BenchError::Rejected { height, source })?;
    }
    Ok(())
}

fn run_figures(
    mode: &str,
    rounds_seconds: Vec<f64>,
    blocks: usize,
    txs: usize,
    bytes: Option<u64>,
) -> SyncRun {
    let mut sorted = rounds_seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let seconds = sorted[sorted.len() / 2];
    SyncRun {
        mode: mode.to_string(),
        seconds,
        rounds_seconds,
        blocks_per_s: blocks as f64 / seconds,
        txs_per_s: txs as f64 / seconds,
        bytes_received: bytes,
    }
}

fn shared(chain: Arc<RwLock<Chainstate>>) -> P2pShared {
    P2pShared {
        chain,
        mempool: Arc::new(Mutex::new(Mempool::new(DEFAULT_MEMPOOL_BYTES))),
        clock: Arc::new(SystemClock),
        on_block_connected: None,
    }
}

/// Syncs `dest` from `source` (whose tip is `target` at `target_height`) over `mode`; returns the seconds and the bytes `dest` received.
async fn sync_over(
    mode: Mode,
    source: Arc<RwLock<Chainstate>>,
    dest: Chainstate,
    target: BlockHash,
    target_height: u32,
) -> Result<(f64, u64), BenchSyncError> {
    let params = Network::Dev.params();
    let (source_transport, dest_transport, pin): (Arc<dyn Transport>, Arc<dyn Transport>, _) =
        match mode {
            Mode::Plaintext => (
                Arc::new(TcpTransport::new()),
                Arc::new(TcpTransport::new()),
                None,
            ),
            Mode::Tls => {
                let source_id = NodeIdentity::generate()?;
                let dest_id = NodeIdentity::generate()?;
                (
                    Arc::new(TlsTransport::new(TcpTransport::new(), &source_id)?),
                    Arc::new(TlsTransport::new(TcpTransport::new(), &dest_id)?),
                    Some(source_id.fingerprint()),
                )
            }
        };
    let mut source_config = P2pConfig::new(params);
    source_config.listen = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let source_node = p2p::start(source_config, shared(source), source_transport).await?;
    let port = source_node
        .listen
        .expect("a listening engine reports its address")
        .port();
    let mut peer = PeerSpec::new("127.0.0.1", port);
    if let Some(fp) = pin {
        peer = peer.pinned(fp);
    }
    let mut dest_config = P2pConfig::new(params);
    dest_config.connect = vec![peer];
    let dest = Arc::new(RwLock::new(dest));

    let started = Instant::now();
    let dest_node = p2p::start(dest_config, shared(dest.clone()), dest_transport).await?;
    let outcome = loop {
        let tip = dest.read().tip_hash();
        if tip == target {
            break Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > SYNC_TIMEOUT {
            break Err(BenchSyncError::Timeout {
                mode: mode.label(),
                height: dest.read().height(),
                target: target_height,
                secs: SYNC_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(POLL).await;
    };
    let bytes = dest_node
        .handle
        .counters()
        .received()
        .values()
        .map(|t| t.bytes)
        .sum();
    dest_node.handle.shutdown().await;
    let _ = dest_node.task.await;
    source_node.handle.shutdown().await;
    let _ = source_node.task.await;
    outcome.map(|secs| (secs, bytes))
}

/// Runs the benchmark, calling `progress` with a line of text at each phase.
pub fn run(
    cfg: &BenchSyncConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchSyncReport, BenchSyncError> {
    let key = KeyPair::from_secret_bytes(&[0x42; 32]).expect("valid fixed key");
    progress(&format!(
        "generating and signing 102 + {} blocks x {} transactions…",
        cfg.blocks, cfg.txs_per_block
    ));
    let t = Instant::now();
    let generated = bench_chain::generate(
        &BenchChainConfig {
            blocks: cfg.blocks,
            txs_per_block: cfg.txs_per_block,
            threads: cfg.threads,
            dir: cfg.dir.clone(),
        },
        &key,
    );
    let generate_seconds = t.elapsed().as_secs_f64();
    let blocks: Vec<Block> = generated
        .prefix
        .into_iter()
        .chain(generated.timed)
        .collect();
    let block_count = blocks.len();
    let transactions: usize = blocks.iter().map(|b| b.txs.len() - 1).sum();
    let chain_bytes: u64 = blocks.iter().map(|b| b.encoded_len() as u64).sum();

    progress("storing the chain in the source node's chainstate…");
    let source_dir = temp_dir(cfg, "parthenon-bench-sync-source-")?;
    let mut source = open_chain(&source_dir, cfg.threads, false)?;
    import(&mut source, blocks.clone())?;
    let target = source.tip_hash();
    let target_height = source.height();
    let source = Arc::new(RwLock::new(source));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchSyncError::Runtime)?;
    // Seconds of each round: local import, plaintext, TLS; and the bytes received.
    let mut seconds: [Vec<f64>; 3] = Default::default();
    let mut bytes: [u64; 3] = [0; 3];
    let rounds = cfg.rounds.max(1);
    for round in 0..rounds {
        for k in 0..3 {
            let which = (round + k) % 3;
            let dir = temp_dir(cfg, "parthenon-bench-sync-dest-")?;
            let mut dest = open_chain(&dir, cfg.threads, cfg.check_signatures)?;
            if which == 0 {
                progress(&format!(
                    "round {}/{rounds}: baseline, connecting the same blocks from memory into a fresh chainstate…",
                    round + 1
                ));
                let blocks = blocks.clone();
                let t = Instant::now();
                import(&mut dest, blocks)?;
                seconds[0].push(t.elapsed().as_secs_f64());
                continue;
            }
            let mode = if which == 1 {
                Mode::Plaintext
            } else {
                Mode::Tls
            };
            progress(&format!(
                "round {}/{rounds}: syncing {target_height} blocks over {} from a source engine into an empty one…",
                round + 1,
                mode.label()
            ));
            let (secs, received) =
                runtime.block_on(sync_over(mode, source.clone(), dest, target, target_height))?;
            seconds[which].push(secs);
            bytes[which] = received;
        }
    }
    let [local, plain, tls] = seconds;
    let runs = vec![
        run_figures("local import", local, block_count, transactions, None),
        run_figures(
            Mode::Plaintext.label(),
            plain,
            block_count,
            transactions,
            Some(bytes[1]),
        ),
        run_figures(
            Mode::Tls.label(),
            tls,
            block_count,
            transactions,
            Some(bytes[2]),
        ),
    ];
    let secs = |label: &str| {
        runs.iter()
            .find(|r| r.mode == label)
            .map(|r| r.seconds)
            .expect("every run is present")
    };
    let tls_over_plaintext = secs(Mode::Tls.label()) / secs(Mode::Plaintext.label());
    let plaintext_over_local = secs(Mode::Plaintext.label()) / secs("local import");
    Ok(BenchSyncReport {
        blocks: block_count,
        txs_per_block: cfg.txs_per_block,
        transactions,
        chain_bytes,
        threads: cfg.threads,
        check_signatures: cfg.check_signatures,
        generate_seconds,
        rounds,
        runs,
        tls_over_plaintext,
        plaintext_over_local,
    })
}

/// The report as a text table.
pub fn render_table(report: &BenchSyncReport) -> String {
    let mut out = format!(
        "bench sync: {} blocks ({} transactions, {:.1} MB), one peer over loopback, \
         destination on fjall with {} signature threads, signatures {}, median of {} rounds\n",
        report.blocks,
        report.transactions,
        report.chain_bytes as f64 / 1e6,
        report.threads,
        if report.check_signatures {
            "checked"
        } else {
            "not checked"
        },
        report.rounds
    );
    out.push_str(&format!(
        "{:<16} {:>10} {:>12} {:>12} {:>14}  {}\n",
        "run", "seconds", "blocks/s", "tx/s", "MB received", "every round (s)"
    ));
    for r in &report.runs {
        let mb = r
            .bytes_received
            .map(|b| format!("{:.1}", b as f64 / 1e6))
            .unwrap_or_else(|| "-".to_string());
        let rounds: Vec<String> = r.rounds_seconds.iter().map(|s| format!("{s:.2}")).collect();
        out.push_str(&format!(
            "{:<16} {:>10.2} {:>12.0} {:>12.0} {:>14}  {}\n",
            r.mode,
            r.seconds,
            r.blocks_per_s,
            r.txs_per_s,
            mb,
            rounds.join(" ")
        ));
    }
    out.push_str(&format!(
        "TLS / plaintext time = {:.3}; plaintext / local import time = {:.3}\n",
        report.tls_over_plaintext, report.plaintext_over_local
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_chain_syncs_over_both_transports() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BenchSyncConfig {
            blocks: 3,
            txs_per_block: 4,
            threads: 0,
            check_signatures: true,
            dir: Some(dir.path().to_path_buf()),
            rounds: 2,
        };
        let report = run(&cfg, &mut |_| {}).unwrap();
        assert_eq!(report.blocks, 102 + 3);
        // The fan-out transaction, then 4 per block.
        assert_eq!(report.transactions, 1 + 3 * 4);
        let modes: Vec<&str> = report.runs.iter().map(|r| r.mode.as_str()).collect();
        assert_eq!(modes, ["local import", "plaintext TCP", "TLS 1.3"]);
        for r in &report.runs[1..] {
            // At least every block crossed the wire.
            assert!(r.bytes_received.unwrap() > report.chain_bytes, "{r:?}");
        }
        assert!(report.runs.iter().all(|r| r.blocks_per_s > 0.0));
        assert!(report.runs.iter().all(|r| r.rounds_seconds.len() == 2));
        let table = render_table(&report);
        assert!(table.contains("TLS / plaintext time"), "{table}");
    }
}
