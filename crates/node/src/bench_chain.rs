//! `parthenon bench chain`: connect a generated chain on the on-disk fjall store and report
//! transactions and inputs per second with signature checks on and off.
//!
//! The chain: 101 coinbase-only blocks (so the first coinbase matures), one fan-out block
//! splitting that coinbase into `txs_per_block` coins, then `blocks` blocks of
//! `txs_per_block` one-input-two-output transactions, each spending an output of the
//! previous block, all signed for real. Only those `blocks` are timed. In the same run the
//! bench measures libsecp256k1 single verification on one thread, the baseline against
//! which the signature-checked rate is read.

use crate::datadir::{DataDir, DataDirError};
use parthenon_chain::miner::{coinbase_transaction, mine};
use parthenon_chain::{ChainError, ChainstateConfig, Workers};
use parthenon_crypto::{sign_all_inputs, KeyPair};
use parthenon_primitives::block::merkle_root;
use parthenon_primitives::{
    Asset, AssetAmounts, Block, BlockHash, BlockHeader, Network, OutPoint, Transaction, TxIn, TxOut,
};
use parthenon_storage::Durability;
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Settings of the chain benchmark.
#[derive(Debug, Clone)]
pub struct BenchChainConfig {
    /// Timed blocks.
    pub blocks: usize,
    /// Transactions per timed block.
    pub txs_per_block: usize,
    /// Signature-check threads (0 = inline on the connecting thread).
    pub threads: usize,
    /// Where to put the temporary data directories (default: the system temp dir).
    pub dir: Option<PathBuf>,
}

/// One timed connect run.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectRun {
    /// Whether signatures were verified.
    pub check_signatures: bool,
    /// Seconds to connect the timed blocks.
    pub seconds: f64,
    /// Transactions per second.
    pub tx_per_s: f64,
    /// Inputs per second.
    pub inputs_per_s: f64,
}

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchChainReport {
    /// Timed blocks.
    pub blocks: usize,
    /// Transactions per timed block.
    pub txs_per_block: usize,
    /// Timed inputs in all.
    pub inputs: usize,
    /// Signature-check threads.
    pub threads: usize,
    /// Seconds spent generating and signing the chain.
    pub generate_seconds: f64,
    /// libsecp256k1 single verifications per second on one thread, measured in this run.
    pub libsecp_single_verify_per_s_1t: f64,
    /// The connect runs.
    pub runs: Vec<ConnectRun>,
}

/// Benchmark failures.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A temporary directory could not be made.
    #[error("cannot create a temporary directory: {0}")]
    TempDir(std::io::Error),
    /// The data directory failed.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// A generated block was rejected (a bug in the generator or the chain).
    #[error("generated block {height} rejected: {source}")]
    Rejected {
        /// Its height.
        height: u32,
        /// Why.
        source: ChainError,
    },
    /// Worker pool failure.
    #[error(transparent)]
    Workers(#[from] parthenon_chain::workers::WorkersError),
}

/// A generated chain (also synced over the network by [`crate::bench_sync`]).
pub(crate) struct Generated {
    /// The 101 coinbase-only blocks and the fan-out block.
    pub(crate) prefix: Vec<Block>,
    /// The blocks of one-input-two-output transactions.
    pub(crate) timed: Vec<Block>,
}

fn make_block(prev: BlockHash, height: u32, mut txs: Vec<Transaction>, payout: [u8; 32]) -> Block {
    let params = Network::Dev.params();
    let coinbase = coinbase_transaction(
        params,
        height,
        payout,
        &AssetAmounts::default(),
        b"bench".to_vec(),
    );
    txs.insert(0, coinbase);
    let header = BlockHeader {
        version: 1,
        prev_hash: prev,
        merkle_root: merkle_root(txs.iter().map(|t| t.wtxid()).collect()),
        time: params.genesis_time + height,
        bits: params.pow_limit_bits,
        nonce: 0,
    };
    let mut block = Block { header, txs };
    mine(&mut block, &Workers::inline(), &AtomicBool::new(false));
    block
}

/// Generates and signs the chain described by `cfg` (its `threads` and `dir` are unused).
pub(crate) fn generate(cfg: &BenchChainConfig, key: &KeyPair) -> Generated {
    let params = Network::Dev.params();
    let me = key.public_key().to_bytes();
    let mut prev = params.genesis_block().hash();
    let mut prefix = Vec::new();
    for height in 1..=101 {
        let b = make_block(prev, height, vec![], me);
        prev = b.hash();
        prefix.push(b);
    }
    let first_cb = &prefix[0].txs[0];
    let funds = first_cb.outputs[0].clone();
    let per = funds.amount / cfg.txs_per_block as u64;
    let mut fan = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::new(first_cb.txid(), 0),
            signature: vec![],
            sequence: u32::MAX,
        }],
        outputs: (0..cfg.txs_per_block)
            .map(|_| TxOut::to_key(Asset::Talanton, per, me))
            .collect(),
        lock_time: 0,
    };
    let genesis = params.genesis_hash();
    sign_all_inputs(&genesis, &mut fan, &[&funds], &[key]).expect("one key per input");
    let fan_txid = fan.txid();
    let b = make_block(prev, 102, vec![fan], me);
    prev = b.hash();
    prefix.push(b);

    let mut coins: Vec<(OutPoint, u64)> = (0..cfg.txs_per_block)
        .map(|j| (OutPoint::new(fan_txid, j as u32), per))
        .collect();
    let mut timed = Vec::with_capacity(cfg.blocks);
    for i in 0..cfg.blocks {
        let height = 103 + i as u32;
        let txs: Vec<Transaction> = coins
            .par_iter()
            .map(|(op, amount)| {
                let spent = TxOut::to_key(Asset::Talanton, *amount, me);
                let mut tx = Transaction {
                    version: 1,
                    inputs: vec![TxIn {
                        prevout: *op,
                        signature: vec![],
                        sequence: u32::MAX,
                    }],
                    outputs: vec![
                        TxOut::to_key(Asset::Talanton, amount - 1, me),
                        TxOut::to_key(Asset::Talanton, 1, me),
                    ],
                    lock_time: 0,
                };
                sign_all_inputs(&genesis, &mut tx, &[&spent], &[key]).expect("one key per input");
                tx
            })
            .collect();
        coins = txs
            .iter()
            .zip(&coins)
            .map(|(t, (_, a))| (OutPoint::new(t.txid(), 0), a - 1))
            .collect();
        let b = make_block(prev, height, txs, me);
        prev = b.hash();
        timed.push(b);
    }
    Generated { prefix, timed }
}

fn single_verify_rate(key: &KeyPair) -> f64 {
    let n = 5_000;
    let items: Vec<([u8; 32], [u8; 64])> = (0..n as u32)
        .map(|i| {
            let mut m = [0u8; 32];
            m[..4].copy_from_slice(&i.to_le_bytes());
            (m, key.sign(&m).0)
        })
        .collect();
    let pk = key.public_key().to_bytes();
    let t = Instant::now();
    let ok = items
        .iter()
        .filter(|(m, s)| parthenon_crypto::verify(&pk, m, s).is_ok())
        .count();
    assert_eq!(ok, n, "every generated signature verifies");
    n as f64 / t.elapsed().as_secs_f64()
}

fn connect_run(
    cfg: &BenchChainConfig,
    chain_blocks: &Generated,
    check_signatures: bool,
) -> Result<ConnectRun, BenchError> {
    let params = Network::Dev.params();
    let tmp = match &cfg.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("parthenon-bench-")
            .tempdir_in(d),
        None => tempfile::Builder::new()
            .prefix("parthenon-bench-")
            .tempdir(),
    }
    .map_err(BenchError::TempDir)?;
    let datadir = DataDir::new(tmp.path());
    let config = ChainstateConfig {
        check_signatures,
        ..ChainstateConfig::default()
    };
    let mut chain = datadir.open_chainstate(
        params,
        Workers::new(cfg.threads)?,
        config,
        Durability::Process,
    )?;
    let now = params.genesis_time as u64 + 10_000_000;
    for b in &chain_blocks.prefix {
        let height = chain.height() + 1;
        chain
            .process_block(b.clone(), now)
            .map_err(|source| BenchError::Rejected { height, source })?;
    }
    let blocks = chain_blocks.timed.clone();
    let t = Instant::now();
    for b in blocks {
        let height = chain.height() + 1;
        chain
            .process_block(b, now)
            .map_err(|source| BenchError::Rejected { height, source })?;
    }
    chain.sync().map_err(|source| BenchError::Rejected {
        height: chain.height(),
        source,
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let txs = (cfg.blocks * cfg.txs_per_block) as f64;
    Ok(ConnectRun {
        check_signatures,
        seconds,
        tx_per_s: txs / seconds,
        inputs_per_s: txs / seconds,
    })
}

/// Runs the benchmark, calling `progress` with a line of text at each phase.
pub fn run(
    cfg: &BenchChainConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchChainReport, BenchError> {
    let key = KeyPair::from_secret_bytes(&[0x42; 32]).expect("valid fixed key");
    progress(&format!(
        "generating and signing {} blocks x {} transactions…",
        cfg.blocks, cfg.txs_per_block
    ));
    let t = Instant::now();
    let generated = generate(cfg, &key);
    let generate_seconds = t.elapsed().as_secs_f64();
    progress("measuring libsecp256k1 single verification (1 thread)…");
    let baseline = single_verify_rate(&key);
    let mut runs = Vec::new();
    for check in [true, false] {
        progress(&format!(
            "connecting on fjall, signatures {}…",
            if check { "on" } else { "off" }
        ));
        runs.push(connect_run(cfg, &generated, check)?);
    }
    Ok(BenchChainReport {
        blocks: cfg.blocks,
        txs_per_block: cfg.txs_per_block,
        inputs: cfg.blocks * cfg.txs_per_block,
        threads: cfg.threads,
        generate_seconds,
        libsecp_single_verify_per_s_1t: baseline,
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_generated_chain_connects_with_and_without_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BenchChainConfig {
            blocks: 2,
            txs_per_block: 5,
            threads: 0,
            dir: Some(dir.path().to_path_buf()),
        };
        let report = run(&cfg, &mut |_| {}).unwrap();
        assert_eq!(report.inputs, 10);
        assert_eq!(report.runs.len(), 2);
        assert!(report.runs.iter().all(|r| r.inputs_per_s > 0.0));
    }
}
