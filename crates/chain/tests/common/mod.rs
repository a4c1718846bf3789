//! Shared harness of the chain integration tests: chainstates over a `MemStore` (or a
//! `FjallStore`) in a temporary directory, a block builder that builds on any indexed parent,
//! a spend builder that signs with `sign_all_inputs`, and coin-set snapshots.
//!
//! Every test uses the dev network (easiest target: a block takes about two hashes) and an
//! explicit time, [`now`], comfortably after every block time the builder produces.

#![allow(dead_code, unreachable_pub)]

use parthenon_chain::{
    miner, ChainError, Chainstate, ChainstateConfig, Coin, ProcessOutcome, Workers,
};
use parthenon_crypto::{sign_all_inputs, KeyPair};
use parthenon_primitives::block::merkle_root;
use parthenon_primitives::{
    Asset, AssetAmounts, Block, BlockHash, BlockHeader, ChainParams, Network, OutPoint,
    Transaction, TxIn, TxOut,
};
use parthenon_storage::{BlockFiles, KvStore, MemStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tempfile::TempDir;

/// Size limit of one block file.
pub const BLOCK_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// The dev network's parameters.
pub fn params() -> &'static ChainParams {
    Network::Dev.params()
}

/// The time every block is processed at: far after the builder's block times (genesis time
/// plus one second per height), so the future-time rule never interferes.
pub fn now() -> u64 {
    params().genesis_time as u64 + 1_000_000
}

/// A small configuration with signature checks on.
pub fn config() -> ChainstateConfig {
    ChainstateConfig::default()
}

/// A deterministic key pair (`n` > 0).
pub fn key(n: u8) -> KeyPair {
    assert!(n > 0, "the zero secret is not a key");
    let mut secret = [0u8; 32];
    secret[31] = n;
    secret[0] = 0x11;
    KeyPair::from_secret_bytes(&secret).expect("a valid secret key")
}

/// The x-only public key bytes of `kp`.
pub fn pubkey(kp: &KeyPair) -> [u8; 32] {
    kp.public_key().to_bytes()
}

/// The key most blocks pay their coinbase to.
pub fn miner_key() -> KeyPair {
    key(1)
}

/// Opens a chainstate over `store` with its block files in `dir/blocks`, checking
/// signatures inline.
pub fn open_chain(
    params: &'static ChainParams,
    store: Arc<dyn KvStore>,
    dir: &Path,
    config: ChainstateConfig,
) -> Result<Chainstate, ChainError> {
    open_chain_with(params, store, dir, Workers::inline(), config)
}

/// Opens a chainstate over `store` with its block files in `dir/blocks` on `workers`.
pub fn open_chain_with(
    params: &'static ChainParams,
    store: Arc<dyn KvStore>,
    dir: &Path,
    workers: Workers,
    config: ChainstateConfig,
) -> Result<Chainstate, ChainError> {
    let blocks = BlockFiles::open(&dir.join("blocks"), params.magic, BLOCK_FILE_SIZE)?;
    Chainstate::open(params, store, blocks, workers, config)
}

/// A dev chainstate over an in-memory store.
pub struct TestChain {
    /// The chainstate.
    pub chain: Chainstate,
    /// Its store, for raw inspection.
    pub store: Arc<MemStore>,
    /// Holds the block files.
    pub dir: TempDir,
}

impl TestChain {
    /// A fresh dev chain (genesis only) with the default configuration.
    pub fn new() -> Self {
        Self::with_config(config())
    }

    /// A fresh dev chain with `config`.
    pub fn with_config(config: ChainstateConfig) -> Self {
        Self::with_workers(Workers::inline(), config)
    }

    /// A fresh chain (genesis only) of `params`, checking signatures inline.
    pub fn with_params(params: &'static ChainParams) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemStore::new());
        let chain = open_chain(params, store.clone(), dir.path(), config()).expect("open");
        TestChain { chain, store, dir }
    }

    /// A fresh dev chain checking signatures on `workers`.
    pub fn with_workers(workers: Workers, config: ChainstateConfig) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemStore::new());
        let chain =
            open_chain_with(params(), store.clone(), dir.path(), workers, config).expect("open");
        TestChain { chain, store, dir }
    }

    /// Closes the chainstate and opens it again over the same store and block files.
    pub fn reopen(self) -> Self {
        let TestChain { chain, store, dir } = self;
        let config = ChainstateConfig::default();
        drop(chain);
        let chain = open_chain(params(), store.clone(), dir.path(), config).expect("reopen");
        TestChain { chain, store, dir }
    }

    /// Processes `block` at [`now`].
    pub fn process(&mut self, block: Block) -> Result<ProcessOutcome, ChainError> {
        self.chain.process_block(block, now())
    }

    /// Processes `block`, which must become the new tip.
    pub fn connect(&mut self, block: Block) -> ProcessOutcome {
        let hash = block.hash();
        let out = self
            .process(block)
            .unwrap_or_else(|e| panic!("block {hash} rejected: {e}"));
        assert_eq!(self.chain.tip_hash(), hash, "block {hash} is not the tip");
        out
    }

    /// Builds and connects `n` coinbase-only blocks on the tip paying `payout`; returns them.
    pub fn mine_empty(&mut self, n: usize, payout: [u8; 32]) -> Vec<Block> {
        (0..n)
            .map(|_| {
                let b = BlockBuilder::on_tip(&self.chain).payout(payout).build();
                self.connect(b.clone());
                b
            })
            .collect()
    }

    /// Builds and connects one block with `txs` on the tip.
    pub fn mine_txs(&mut self, txs: Vec<Transaction>) -> Block {
        let b = BlockBuilder::on_tip(&self.chain).txs(txs).build();
        self.connect(b.clone());
        b
    }
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds a block on any indexed parent.
#[derive(Clone, Debug)]
pub struct BlockBuilder {
    parent: BlockHash,
    height: u32,
    bits: u32,
    time: u32,
    payout: [u8; 32],
    tag: Vec<u8>,
    fees: AssetAmounts,
    txs: Vec<Transaction>,
}

impl BlockBuilder {
    /// A block on `parent` (which `chain` must have indexed): the next height, the required
    /// bits, the parent's time + 1, a coinbase paying exactly the subsidy to [`miner_key`].
    pub fn on(chain: &Chainstate, parent: BlockHash) -> Self {
        let p = chain
            .entry(&parent)
            .unwrap_or_else(|| panic!("parent {parent} is not indexed"));
        BlockBuilder {
            parent,
            height: p.height + 1,
            bits: chain.index().next_bits(p, chain.params()),
            time: p.header.time + 1,
            payout: pubkey(&miner_key()),
            tag: Vec::new(),
            fees: AssetAmounts::default(),
            txs: Vec::new(),
        }
    }

    /// A dev-network block on `parent` at `parent_height`, which need not be indexed
    /// anywhere (for delivering blocks out of order): dev bits never change.
    pub fn child_of(parent: &Block, parent_height: u32) -> Self {
        BlockBuilder {
            parent: parent.hash(),
            height: parent_height + 1,
            bits: params().pow_limit_bits,
            time: parent.header.time + 1,
            payout: pubkey(&miner_key()),
            tag: Vec::new(),
            fees: AssetAmounts::default(),
            txs: Vec::new(),
        }
    }

    /// A block on the active tip.
    pub fn on_tip(chain: &Chainstate) -> Self {
        Self::on(chain, chain.tip_hash())
    }

    /// Pays the coinbase to `key`.
    pub fn payout(mut self, key: [u8; 32]) -> Self {
        self.payout = key;
        self
    }

    /// Puts `tag` into the coinbase data, so that otherwise equal siblings differ.
    pub fn tag(mut self, tag: &[u8]) -> Self {
        self.tag = tag.to_vec();
        self
    }

    /// Adds `fees` to the coinbase's claim.
    pub fn fees(mut self, fees: AssetAmounts) -> Self {
        self.fees = fees;
        self
    }

    /// Sets the header time.
    pub fn time(mut self, time: u32) -> Self {
        self.time = time;
        self
    }

    /// Appends one transaction.
    pub fn tx(mut self, tx: Transaction) -> Self {
        self.txs.push(tx);
        self
    }

    /// Appends transactions.
    pub fn txs(mut self, txs: Vec<Transaction>) -> Self {
        self.txs.extend(txs);
        self
    }

    /// The height the block will have.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The block with its merkle root set but not mined (for tampering, then [`seal`]).
    pub fn unsealed(self) -> Block {
        let mut data = self.tag.clone();
        data.extend_from_slice(&self.height.to_le_bytes());
        let outputs = Asset::ALL
            .into_iter()
            .map(|a| {
                TxOut::to_key(
                    a,
                    params().subsidy(self.height, a) + self.fees.get(a),
                    self.payout,
                )
            })
            .collect();
        let coinbase = Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::NULL,
                signature: data,
                sequence: u32::MAX,
            }],
            outputs,
            lock_time: self.height,
        };
        let mut txs = vec![coinbase];
        txs.extend(self.txs);
        let header = BlockHeader {
            version: 1,
            prev_hash: self.parent,
            merkle_root: merkle_root(txs.iter().map(|t| t.wtxid()).collect()),
            time: self.time,
            bits: self.bits,
            nonce: 0,
        };
        Block { header, txs }
    }

    /// The finished, mined block.
    pub fn build(self) -> Block {
        let mut b = self.unsealed();
        mine(&mut b);
        b
    }
}

/// Recomputes the merkle root of `block` and mines it.
pub fn seal(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root();
    mine(block);
}

/// Finds a nonce meeting the header's target.
pub fn mine(block: &mut Block) {
    block.header.nonce = 0;
    assert!(
        miner::mine(block, &Workers::inline(), &AtomicBool::new(false)),
        "no nonce found"
    );
}

/// A coin as a spend builder needs it: where it is and what it holds.
pub type Spendable = (OutPoint, TxOut);

/// Every output of `tx` as spendable coins.
pub fn outputs_of(tx: &Transaction) -> Vec<Spendable> {
    let txid = tx.txid();
    tx.outputs
        .iter()
        .enumerate()
        .map(|(i, o)| (OutPoint::new(txid, i as u32), o.clone()))
        .collect()
}

/// The coinbase outputs of `block`.
pub fn coinbase_coins(block: &Block) -> Vec<Spendable> {
    outputs_of(&block.txs[0])
}

/// A transaction spending `coins` (input `i` signed by `keys[i]`) into `outputs`.
pub fn spend_with(coins: &[Spendable], keys: &[&KeyPair], outputs: Vec<TxOut>) -> Transaction {
    let mut tx = Transaction {
        version: 1,
        inputs: coins
            .iter()
            .map(|(op, _)| TxIn {
                prevout: *op,
                signature: Vec::new(),
                sequence: u32::MAX,
            })
            .collect(),
        outputs,
        lock_time: 0,
    };
    let spent: Vec<&TxOut> = coins.iter().map(|(_, o)| o).collect();
    sign_all_inputs(&params().genesis_hash(), &mut tx, &spent, keys).expect("signing");
    tx
}

/// A transaction spending `coins`, all owned by `owner`, into one output per asset held,
/// paying `to` everything except `fee`.
pub fn spend(coins: &[Spendable], owner: &KeyPair, to: [u8; 32], fee: AssetAmounts) -> Transaction {
    let mut totals = AssetAmounts::default();
    for (_, o) in coins {
        totals.checked_add(o.asset, o.amount).expect("no overflow");
    }
    let outputs = totals
        .iter()
        .filter(|&(_, v)| v > 0)
        .map(|(a, v)| TxOut::to_key(a, v.checked_sub(fee.get(a)).expect("fee within inputs"), to))
        .collect();
    let keys = vec![owner; coins.len()];
    spend_with(coins, &keys, outputs)
}

/// Fee amounts per asset.
pub fn fee(talanton: u64, drachma: u64, obolos: u64) -> AssetAmounts {
    AssetAmounts([talanton, drachma, obolos])
}

/// No fee.
pub fn no_fee() -> AssetAmounts {
    AssetAmounts::default()
}

/// A fee that meets the default mempool policy for the transactions these tests build
/// (under 1,000 bytes at 1 base unit per byte), paid in TALANTON.
pub fn relay_fee() -> AssetAmounts {
    fee(1_000, 0, 0)
}

/// The whole coin set of `chain`, in key order.
pub fn coin_set(chain: &Chainstate) -> BTreeMap<OutPoint, Coin> {
    let mut m = BTreeMap::new();
    chain
        .for_each_coin(&mut |op, c| {
            m.insert(op, c);
            true
        })
        .expect("coin scan");
    m
}

/// Asserts the replay of the active chain matches the stored coins and statistics.
pub fn assert_consistent(chain: &Chainstate) {
    let report = parthenon_chain::replay::verify_chainstate(chain).expect("replay");
    assert!(
        report.is_consistent(),
        "chainstate inconsistent at height {}: {:?}",
        report.height,
        report.problems
    );
    assert_eq!(report.height, chain.height());
}

/// Asserts every asset's supply equals the cumulative subsidy up to the tip (holds when every
/// coinbase claims exactly the subsidy and no transaction pays a fee).
pub fn assert_supply_is_subsidy(chain: &Chainstate) {
    let h = chain.height();
    for a in Asset::ALL {
        assert_eq!(
            chain.stats().supply.get(a),
            params().cumulative_subsidy(h, a),
            "{a:?} supply at height {h}"
        );
    }
}

/// The hashes of `blocks`.
pub fn hashes(blocks: &[Block]) -> Vec<BlockHash> {
    blocks.iter().map(Block::hash).collect()
}
