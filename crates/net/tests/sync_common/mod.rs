//! Shared harness of the sync tests: a real dev-network chainstate over a `MemStore` with its
//! block files in a temporary directory, chains of mined blocks built without a chainstate
//! (dev bits never change), a peer that answers `getheaders` from its chain, and a small
//! seeded RNG (splitmix64) for delivery orders.

#![allow(dead_code, unreachable_pub)]

use parthenon_chain::{miner, Chainstate, ChainstateConfig, Workers};
use parthenon_crypto::KeyPair;
use parthenon_primitives::block::merkle_root;
use parthenon_primitives::{
    Asset, Block, BlockHash, BlockHeader, ChainParams, Network, OutPoint, Transaction, TxIn, TxOut,
};
use parthenon_storage::{BlockFiles, MemStore};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tempfile::TempDir;

/// The dev network's parameters.
pub fn params() -> &'static ChainParams {
    Network::Dev.params()
}

/// Unix time (seconds) every block is processed at: far after every block time built here
/// (genesis time plus one second per height).
pub fn now_secs() -> u64 {
    params().genesis_time as u64 + 1_000_000
}

/// [`now_secs`] in milliseconds, as the header chain takes it.
pub fn now_ms() -> u64 {
    now_secs() * 1000
}

/// A chainstate over an in-memory store, with block files in a temporary directory.
pub struct TestChain {
    /// The chainstate.
    pub chain: Chainstate,
    /// Holds the block files.
    pub dir: TempDir,
}

impl TestChain {
    /// A fresh dev chainstate (genesis only).
    pub fn new() -> Self {
        Self::with_params(params())
    }

    /// A fresh chainstate for `params` (genesis only).
    pub fn with_params(params: &'static ChainParams) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocks =
            BlockFiles::open(&dir.path().join("blocks"), params.magic, 16 << 20).expect("files");
        let chain = Chainstate::open(
            params,
            Arc::new(MemStore::new()),
            blocks,
            Workers::inline(),
            ChainstateConfig::default(),
        )
        .expect("open chainstate");
        TestChain { chain, dir }
    }

    /// Processes `block` at [`now_secs`], which must not fail.
    pub fn process(&mut self, block: &Block) {
        let hash = block.hash();
        self.chain
            .process_block(block.clone(), now_secs())
            .unwrap_or_else(|e| panic!("block {hash} rejected: {e}"));
    }
}

/// The key coinbases pay to.
pub fn payout() -> [u8; 32] {
    let mut secret = [0x11u8; 32];
    secret[31] = 1;
    KeyPair::from_secret_bytes(&secret)
        .expect("a valid secret")
        .public_key()
        .to_bytes()
}

/// An unmined block at `height` on `parent` with `bits`, `time` and a coinbase paying the
/// subsidy; `tag` goes into the coinbase data so siblings differ.
pub fn unmined(parent: &BlockHeader, height: u32, bits: u32, time: u32, tag: &[u8]) -> Block {
    let mut data = tag.to_vec();
    data.extend_from_slice(&height.to_le_bytes());
    let coinbase = Transaction {
        version: 1,
        inputs: vec![TxIn {
            prevout: OutPoint::NULL,
            signature: data,
            sequence: u32::MAX,
        }],
        outputs: Asset::ALL
            .into_iter()
            .map(|a| TxOut::to_key(a, params().subsidy(height, a), payout()))
            .collect(),
        lock_time: height,
    };
    let header = BlockHeader {
        version: 1,
        prev_hash: parent.hash(),
        merkle_root: merkle_root(vec![coinbase.wtxid()]),
        time,
        bits,
        nonce: 0,
    };
    Block {
        header,
        txs: vec![coinbase],
    }
}

/// Finds a nonce meeting the header's target.
pub fn mine(block: &mut Block) {
    block.header.nonce = 0;
    assert!(
        miner::mine(block, &Workers::inline(), &AtomicBool::new(false)),
        "no nonce found"
    );
}

/// `n` mined dev blocks on `parent` (at `parent_height`), each one second after its parent.
pub fn build_chain(parent: &BlockHeader, parent_height: u32, n: usize, tag: &[u8]) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::with_capacity(n);
    let mut prev = *parent;
    for i in 0..n {
        let height = parent_height + 1 + i as u32;
        let mut b = unmined(&prev, height, params().pow_limit_bits, prev.time + 1, tag);
        mine(&mut b);
        prev = b.header;
        out.push(b);
    }
    out
}

/// The dev genesis header.
pub fn genesis() -> BlockHeader {
    params().genesis_block().header
}

/// The headers of `blocks`.
pub fn headers(blocks: &[Block]) -> Vec<BlockHeader> {
    blocks.iter().map(|b| b.header).collect()
}

/// A peer's view of its best chain: headers by height (genesis first).
pub struct HeaderServer {
    chain: Vec<BlockHeader>,
    heights: HashMap<BlockHash, usize>,
}

impl HeaderServer {
    /// A server whose best chain is genesis followed by `blocks`.
    pub fn new(blocks: &[Block]) -> Self {
        let mut chain = vec![genesis()];
        chain.extend(headers(blocks));
        let heights = chain
            .iter()
            .enumerate()
            .map(|(i, h)| (h.hash(), i))
            .collect();
        HeaderServer { chain, heights }
    }

    /// The answer to `getheaders` with `locator`: up to `max` headers after the first
    /// locator hash on this chain.
    pub fn serve(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        let start = locator
            .iter()
            .find_map(|h| self.heights.get(h))
            .map_or(0, |h| h + 1);
        self.chain.iter().skip(start).take(max).copied().collect()
    }

    /// The hash at `height`.
    pub fn hash_at(&self, height: u32) -> BlockHash {
        self.chain[height as usize].hash()
    }
}

/// splitmix64: a small seeded generator for delivery orders.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Shuffles `v` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// `n` dev headers with no block behind them on `parent` (at any height), each one second
/// after its parent, with proof of work; `tag` goes into the merkle root so that chains with
/// different tags differ. Cheap: what a header spammer sends.
pub fn header_only_chain(parent: &BlockHeader, n: usize, tag: u64) -> Vec<BlockHeader> {
    use parthenon_primitives::hash::sha256d;
    use parthenon_primitives::pow::check_proof_of_work;
    let mut out = Vec::with_capacity(n);
    let mut prev = *parent;
    for i in 0..n as u64 {
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&tag.to_le_bytes());
        seed[8..].copy_from_slice(&i.to_le_bytes());
        let mut h = BlockHeader {
            version: 1,
            prev_hash: prev.hash(),
            merkle_root: sha256d(&seed),
            time: prev.time + 1,
            bits: params().pow_limit_bits,
            nonce: 0,
        };
        while check_proof_of_work(&h.hash(), h.bits, params().pow_limit_bits).is_err() {
            h.nonce += 1;
        }
        prev = h;
        out.push(h);
    }
    out
}
