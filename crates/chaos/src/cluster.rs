//! The simulated network: `n` whole nodes on turmoil hosts, driven step by step.
//!
//! Each host runs the real P2P engine ([`parthenon_net::p2p::start`]) over
//! [`TurmoilTransport`] on its node's real [`Chainstate`] (in-memory store, block files in a
//! temporary directory) and [`Mempool`]. Between simulation steps the driver acts for the
//! node's operator: the node's miner builds a template from its chainstate and mempool
//! ([`miner::build_template`]), finds the nonce and processes the block exactly as the dev
//! node's miner does, and the node's wallet ([`Wallet`]) picks coins and signs transactions
//! that go into the node's mempool and are announced by its engine, as `sendrawtransaction`
//! does. Every node's clock follows the simulated time.
//!
//! All randomness of a run comes from one [`ChaCha8Rng`] seeded with the run's seed: it seeds
//! turmoil (link latencies, its own choices) and every engine (nonces, address choice), and
//! the scenarios draw their faults and workload from it.

use crate::pacing::{Pace, PaceStats, PacedTransport};
use crate::record::Recorder;
use parking_lot::{Mutex, RwLock};
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{miner, Chainstate, ChainstateConfig, Clock, ManualClock, Mempool, Workers};
use parthenon_crypto::{KeyPair, SigHashCache};
use parthenon_net::netaddr::Subnet;
use parthenon_net::p2p::{self, P2pConfig, P2pHandle, P2pShared};
use parthenon_net::transport::{PeerSpec, Transport, TurmoilTransport};
use parthenon_node::wallet::{wallet_coins, Wallet, WalletCoin};
use parthenon_primitives::{Block, BlockHash, Network, Transaction, TxOut, Txid};
use parthenon_storage::{BlockFiles, MemStore};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tempfile::TempDir;
use turmoil::Sim;

/// The port every simulated node listens on.
pub const PORT: u16 = 7333;
/// Most nodes a run may have (each has its own premined coins).
pub const MAX_NODES: usize = 12;
/// Fewest nodes a run may have (a partition needs two sides).
pub const MIN_NODES: usize = 3;
/// Unix time of simulated time zero: well after every premined block's time.
fn clock_base() -> u64 {
    params().genesis_time as u64 + 100_000
}

/// The dev network's parameters: blocks take about two hashes to mine.
pub fn params() -> &'static parthenon_primitives::ChainParams {
    Network::Dev.params()
}

/// The fixed secret of node `i`'s wallet.
fn wallet_secret(i: usize) -> [u8; 32] {
    let mut s = [0x5au8; 32];
    s[31] = i as u8 + 1;
    s
}

/// A fresh chainstate over an in-memory store, its block files in a new temporary directory.
fn open_chain() -> Result<(Chainstate, TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let files = BlockFiles::open(&dir.path().join("blocks"), params().magic, 16 << 20)
        .map_err(|e| format!("block files: {e}"))?;
    let chain = Chainstate::open(
        params(),
        Arc::new(MemStore::new()),
        files,
        Workers::inline(),
        ChainstateConfig::default(),
    )
    .map_err(|e| format!("open chainstate: {e}"))?;
    Ok((chain, dir))
}

/// Writes a dev key file for node `i` and loads it as the node's wallet.
fn load_wallet(dir: &TempDir, i: usize) -> Result<Wallet, String> {
    let path = dir.path().join("wallet.json");
    let text = serde_json::json!({
        "version": 1,
        "network": "dev",
        "secret_key": hex::encode(wallet_secret(i)),
    });
    std::fs::write(&path, text.to_string()).map_err(|e| format!("write key file: {e}"))?;
    Wallet::load(&path).map_err(|e| format!("load wallet: {e}"))
}

/// Blocks of the common history every run starts from: `coinbase_maturity + 3 n` blocks
/// whose coinbases pay the `n` wallets in turn, so every wallet owns three mature coinbases
/// (one output per asset each) when the simulation starts. Built once per `n` by the real
/// miner on a scratch chainstate.
fn premine(n: usize) -> Result<Arc<Vec<Block>>, String> {
    static CACHE: OnceLock<Mutex<BTreeMap<usize, Arc<Vec<Block>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(b) = cache.lock().get(&n) {
        return Ok(b.clone());
    }
    let (mut chain, _dir) = open_chain()?;
    let empty = Mempool::new(DEFAULT_MEMPOOL_BYTES);
    let keys: Vec<[u8; 32]> = (0..n)
        .map(|i| {
            KeyPair::from_secret_bytes(&wallet_secret(i))
                .map(|k| k.public_key().to_bytes())
                .map_err(|e| format!("wallet key {i}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let len = params().coinbase_maturity as usize + 3 * n;
    let mut blocks = Vec::with_capacity(len);
    for h in 1..=len {
        let time = params().genesis_time as u64 + h as u64;
        let mut block = miner::build_template(&chain, &empty, keys[h % n], time, h as u64).block;
        if !miner::mine(&mut block, &Workers::inline(), &AtomicBool::new(false)) {
            return Err(format!("premine: no nonce at height {h}"));
        }
        chain
            .process_block(block.clone(), clock_base())
            .map_err(|e| format!("premine block {h}: {e}"))?;
        blocks.push(block);
    }
    let blocks = Arc::new(blocks);
    cache.lock().insert(n, blocks.clone());
    Ok(blocks)
}

/// Engine settings of a simulated node: short timers so that a run covers many rounds of
/// reconnects, stalls and pings in little simulated time.
fn engine_config(seed: u64) -> P2pConfig {
    let mut c = P2pConfig::new(params());
    c.tick_ms = 50;
    c.block_stall_timeout_ms = 2_000;
    c.reconnect_base_ms = 100;
    c.reconnect_max_ms = 1_000;
    c.seed = Some(seed);
    c.peer.handshake_timeout_ms = 5_000;
    c.peer.ping_interval_ms = 2_000;
    c.peer.ping_timeout_ms = 5_000;
    c
}

/// One simulated node: what its host's engine shares with the operator (miner, wallet).
pub struct SimNode {
    /// The host name (`node0`, …).
    pub name: String,
    /// Chainstate, mempool and clock, shared with the engine.
    pub shared: P2pShared,
    clock: Arc<ManualClock>,
    /// The node's wallet.
    pub wallet: Wallet,
    /// The engine's handle while its host runs.
    pub handle: Arc<Mutex<Option<P2pHandle>>>,
    /// Every address or subnet the engine has banned (polled every 500 ms).
    pub banned: Arc<Mutex<Vec<Subnet>>>,
    /// How many times the host's engine started (restarts after a bounce).
    pub starts: Arc<AtomicU64>,
    /// What the node's paced connections did (all zero when it is not paced).
    pub paced: Arc<PaceStats>,
    /// How the node's sending is limited, if it is.
    pub paced_setting: Option<Pace>,
    /// Disconnects counted by engines of this node that have since been restarted.
    pub disconnects_before: u64,
    mined: u64,
    _dir: TempDir,
}

impl SimNode {
    /// The active tip.
    pub fn tip(&self) -> BlockHash {
        self.shared.chain.read().tip_hash()
    }

    /// The active height.
    pub fn height(&self) -> u32 {
        self.shared.chain.read().height()
    }

    /// Disconnects counted by every engine this node has run.
    pub fn disconnects(&self) -> u64 {
        self.disconnects_before
            + self
                .handle
                .lock()
                .as_ref()
                .map_or(0, |h| h.counters().disconnects())
    }

    /// Bans counted by the running engine.
    pub fn bans(&self) -> u64 {
        self.handle
            .lock()
            .as_ref()
            .map_or(0, |h| h.counters().bans())
    }

    /// The wallet's coins with whether each can be spent now.
    pub fn wallet_coins(&self) -> Result<Vec<WalletCoin>, String> {
        let chain = self.shared.chain.read();
        let mempool = self.shared.mempool.lock();
        let key = self.wallet.public_key();
        let mut mine = Vec::new();
        chain
            .for_each_coin(&mut |op, c| {
                if c.output.key() == Some(key) {
                    mine.push((op, c));
                }
                true
            })
            .map_err(|e| format!("{}: list wallet coins: {e}", self.name))?;
        Ok(wallet_coins(
            mine,
            key,
            chain.height(),
            chain.params().coinbase_maturity,
            |op| mempool.spender_of(op).is_some(),
        ))
    }
}

/// Settings of the simulated network a scenario asks for.
#[derive(Debug, Clone, Copy)]
pub struct NetSettings {
    /// Least latency of a message.
    pub min_latency: Duration,
    /// Most latency of a message.
    pub max_latency: Duration,
    /// Blocks one peer may have in flight (the engine's download setting); `None`: the
    /// engine's default.
    pub per_peer: Option<usize>,
    /// How each node's sending is limited (`None`: not at all).
    pub pace: [Option<Pace>; MAX_NODES],
}

impl Default for NetSettings {
    fn default() -> Self {
        NetSettings {
            min_latency: Duration::from_millis(1),
            max_latency: Duration::from_millis(50),
            per_peer: None,
            pace: [None; MAX_NODES],
        }
    }
}

/// The simulation and its nodes.
pub struct Cluster<'a> {
    /// The turmoil simulation.
    pub sim: Sim<'a>,
    /// The nodes, by number.
    pub nodes: Vec<SimNode>,
    /// The run's one RNG.
    pub rng: ChaCha8Rng,
    /// Trace, fault counts, windows, invariants checked.
    pub rec: Recorder,
    /// Height of the common history the run started from.
    pub premine_height: u32,
    last_tips: Vec<BlockHash>,
}

impl<'a> Cluster<'a> {
    /// `n` nodes, fully meshed (each `--addnode`s every other), on the premined history.
    /// `net` draws the network's latency settings from the run's RNG.
    pub fn new(
        seed: u64,
        n: usize,
        net: impl FnOnce(&mut ChaCha8Rng) -> NetSettings,
    ) -> Result<Self, String> {
        if !(MIN_NODES..=MAX_NODES).contains(&n) {
            return Err(format!(
                "{n} nodes: a run has {MIN_NODES} to {MAX_NODES} nodes"
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let net = net(&mut rng);
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(rng.random())
            .simulation_duration(Duration::from_secs(24 * 3600))
            .min_message_latency(net.min_latency)
            .max_message_latency(net.max_latency);
        let mut sim = builder.build();
        let blocks = premine(n)?;
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let (mut chain, dir) = open_chain()?;
            for b in blocks.iter() {
                chain
                    .process_block(b.clone(), clock_base())
                    .map_err(|e| format!("node{i}: premined block: {e}"))?;
            }
            let clock = Arc::new(ManualClock::new(clock_base()));
            let shared = P2pShared {
                chain: Arc::new(RwLock::new(chain)),
                mempool: Arc::new(Mutex::new(Mempool::new(DEFAULT_MEMPOOL_BYTES))),
                clock: clock.clone(),
                on_block_connected: None,
            };
            let wallet = load_wallet(&dir, i)?;
            nodes.push(SimNode {
                name: node_name(i),
                shared,
                clock,
                wallet,
                handle: Arc::default(),
                banned: Arc::default(),
                starts: Arc::default(),
                paced: Arc::default(),
                paced_setting: net.pace[i],
                disconnects_before: 0,
                mined: 0,
                _dir: dir,
            });
        }
        for (i, node) in nodes.iter().enumerate() {
            let mut cfg = engine_config(rng.random());
            if let Some(n) = net.per_peer {
                cfg.download.per_peer = n;
            }
            cfg.listen = Some((Ipv4Addr::UNSPECIFIED, PORT).into());
            cfg.addnode = (0..n)
                .filter(|&j| j != i)
                .map(|j| PeerSpec::new(node_name(j), PORT))
                .collect();
            // Only the named peers: no dials from the address book.
            cfg.max_outbound = 0;
            let shared = node.shared.clone();
            let slot = node.handle.clone();
            let banned = node.banned.clone();
            let starts = node.starts.clone();
            let pace = net.pace[i];
            let paced = node.paced.clone();
            sim.host(node_name(i), move || {
                let cfg = cfg.clone();
                let shared = shared.clone();
                let slot = slot.clone();
                let banned = banned.clone();
                let starts = starts.clone();
                let paced = paced.clone();
                async move {
                    starts.fetch_add(1, Ordering::Relaxed);
                    let turmoil =
                        TurmoilTransport::new().with_connect_timeout(Duration::from_secs(2));
                    let transport: Arc<dyn Transport> = match pace {
                        Some(p) => Arc::new(PacedTransport::new(turmoil, p, paced)),
                        None => Arc::new(turmoil),
                    };
                    let node = p2p::start(cfg, shared, transport).await?;
                    let handle = node.handle;
                    *slot.lock() = Some(handle.clone());
                    let poll = handle.clone();
                    tokio::spawn(async move {
                        loop {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            let Ok(list) = poll.banned().await else { break };
                            let mut seen = banned.lock();
                            for b in list {
                                if !seen.contains(&b.subnet) {
                                    seen.push(b.subnet);
                                }
                            }
                        }
                    });
                    node.task
                        .await
                        .map_err(|e| format!("the engine task failed: {e}"))?;
                    Err("the engine stopped by itself".into())
                }
            });
        }
        let premine_height = blocks.len() as u32;
        let last_tips = nodes.iter().map(SimNode::tip).collect();
        Ok(Cluster {
            sim,
            nodes,
            rng,
            rec: Recorder::new(n),
            premine_height,
            last_tips,
        })
    }

    /// The record so far, with the simulated time it covers.
    pub fn record(&self) -> Recorder {
        let mut r = self.rec.clone();
        r.sim_seconds = self.now();
        r
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes (never, a run has at least [`MIN_NODES`]).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Simulated seconds since the start.
    pub fn now(&self) -> f64 {
        self.sim.elapsed().as_secs_f64()
    }

    /// One simulation step (turmoil's tick); the nodes' clocks follow.
    pub fn step(&mut self) -> Result<(), String> {
        let secs = clock_base() + self.sim.elapsed().as_secs();
        for n in &self.nodes {
            n.clock.set(secs);
        }
        self.sim
            .step()
            .map_err(|e| format!("a host failed at {:.3}s: {e}", self.now()))?;
        self.observe();
        Ok(())
    }

    /// Records every node whose tip changed since the last look.
    fn observe(&mut self) {
        let at = self.now();
        for i in 0..self.nodes.len() {
            let tip = self.nodes[i].tip();
            if tip != self.last_tips[i] {
                self.last_tips[i] = tip;
                let height = self.nodes[i].height();
                self.rec.tip(at, i, height, &tip);
            }
        }
    }

    /// Advances the simulation by `d`.
    pub fn run_for(&mut self, d: Duration) -> Result<(), String> {
        let end = self.sim.elapsed() + d;
        while self.sim.elapsed() < end {
            self.step()?;
        }
        Ok(())
    }

    /// Steps until `cond` holds; an error naming `what` after `limit` of simulated time.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        cond: impl Fn(&Self) -> bool,
    ) -> Result<Duration, String> {
        let start = self.sim.elapsed();
        loop {
            if cond(self) {
                return Ok(self.sim.elapsed() - start);
            }
            if self.sim.elapsed() - start >= limit {
                return Err(format!(
                    "not {what} within {limit:?} of simulated time; {}",
                    self.describe()
                ));
            }
            for _ in 0..20 {
                self.step()?;
            }
        }
    }

    /// Every node's height, tip and connection counters, for error messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let peers = n
                    .handle
                    .lock()
                    .as_ref()
                    .map(|h| h.counters().peer_summary());
                format!(
                    "{}@{} {} [{}]",
                    n.name,
                    n.height(),
                    n.tip(),
                    peers.unwrap_or_else(|| "engine not running".into())
                )
            })
            .collect();
        format!("nodes: {}", parts.join("; "))
    }

    /// Node `i`'s miner mines one block on its tip, paying its wallet, with what its mempool
    /// offers; returns the block.
    pub fn mine(&mut self, i: usize) -> Result<Block, String> {
        let node = &mut self.nodes[i];
        node.mined += 1;
        let extra_nonce = ((i as u64) << 40) | node.mined;
        let mut chain = node.shared.chain.write();
        let mut mempool = node.shared.mempool.lock();
        let now = node.clock.now_secs();
        let mut block =
            miner::build_template(&chain, &mempool, node.wallet.public_key(), now, extra_nonce)
                .block;
        if !miner::mine(&mut block, &Workers::inline(), &AtomicBool::new(false)) {
            return Err(format!("{}: no nonce found", node.name));
        }
        let outcome = chain
            .process_block(block.clone(), now)
            .map_err(|e| format!("{}: own block rejected: {e}", node.name))?;
        mempool.apply_chain_update(&outcome.update, &chain);
        let height = chain.height();
        drop(mempool);
        drop(chain);
        let at = self.now();
        self.rec.event(
            at,
            format!(
                "mine node{i} {} height {height} txs {}",
                block.hash(),
                block
                    .txs
                    .iter()
                    .map(|t| t.txid().to_string()[..8].to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
        *self.rec.workload.entry("blocks mined").or_default() += 1;
        self.observe();
        Ok(block)
    }

    /// Node `from`'s wallet pays part of one random spendable coin to node `to`'s wallet
    /// (a random fee of 1,000 to 1,000,000 base units, so blocks order transactions by fee
    /// rate); the transaction enters `from`'s mempool and its engine
    /// announces it. `None` when the wallet has nothing to spend.
    pub fn send(&mut self, from: usize, to: usize) -> Result<Option<Txid>, String> {
        let coins: Vec<WalletCoin> = self.nodes[from]
            .wallet_coins()?
            .into_iter()
            .filter(|c| c.spendable && c.amount > 4_000_000)
            .collect();
        if coins.is_empty() {
            return Ok(None);
        }
        let coin = coins[self.rng.random_range(0..coins.len())].clone();
        let amount = self.rng.random_range(1..coin.amount / 2);
        let fee = self.rng.random_range(1_000..=1_000_000);
        let to_key = self.nodes[to].wallet.public_key();
        let tx = self.wallet_payment(from, &coin, to_key, amount, fee)?;
        let txid = self.submit(from, tx)?;
        *self.rec.workload.entry("transactions sent").or_default() += 1;
        Ok(Some(txid))
    }

    /// Node `owner`'s wallet builds and signs a payment of `amount` (plus `fee`) of `coin`'s
    /// asset to `to`, spending `coin`.
    ///
    /// The wallet signs with fresh operating-system randomness as BIP-340's auxiliary data;
    /// the signatures are then made again over the same signature hashes with auxiliary data
    /// from the run's RNG, so that a seed replays byte for byte (a BIP-340 signature is
    /// valid whatever the auxiliary data, and the signature hash does not cover signatures).
    pub fn wallet_payment(
        &mut self,
        owner: usize,
        coin: &WalletCoin,
        to: [u8; 32],
        amount: u64,
        fee: u64,
    ) -> Result<Transaction, String> {
        let wallet = &self.nodes[owner].wallet;
        let mut tx = wallet
            .build_send(std::slice::from_ref(coin), to, coin.asset, amount, fee)
            .map_err(|e| format!("node{owner}: build a payment: {e}"))?;
        let spent = TxOut::to_key(coin.asset, coin.amount, wallet.public_key());
        let key = KeyPair::from_secret_bytes(&wallet_secret(owner))
            .map_err(|e| format!("node{owner}: wallet key: {e}"))?;
        let genesis = params().genesis_hash();
        let msgs: Vec<[u8; 32]> = {
            let spent_refs = vec![&spent; tx.inputs.len()];
            let cache = SigHashCache::new(&genesis, &tx, &spent_refs)
                .map_err(|e| format!("node{owner}: signature hash: {e}"))?;
            (0..tx.inputs.len())
                .map(|k| cache.sighash(k))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("node{owner}: signature hash: {e}"))?
        };
        for (input, msg) in tx.inputs.iter_mut().zip(msgs) {
            let aux: [u8; 32] = self.rng.random();
            input.signature = key.sign_with_aux(&msg, &aux).0.to_vec();
        }
        Ok(tx)
    }

    /// Offers `tx` to node `i`'s mempool and has its engine announce it, as
    /// `sendrawtransaction` does.
    pub fn submit(&mut self, i: usize, tx: Transaction) -> Result<Txid, String> {
        let node = &self.nodes[i];
        let txid = {
            let chain = node.shared.chain.read();
            node.shared
                .mempool
                .lock()
                .accept(tx, &chain)
                .map_err(|e| format!("{}: transaction refused: {e}", node.name))?
        };
        if let Some(h) = node.handle.lock().as_ref() {
            h.announce_tx(txid);
        }
        let at = self.now();
        self.rec.event(at, format!("tx node{i} {txid}"));
        Ok(txid)
    }

    /// Cuts every link between nodes of different groups (`group[i]` is node `i`'s group);
    /// returns how many links were cut.
    pub fn partition(&mut self, group: &[usize]) -> u64 {
        let mut cut = 0;
        for a in 0..self.len() {
            for b in a + 1..self.len() {
                if group[a] != group[b] {
                    self.sim.partition(node_name(a), node_name(b));
                    cut += 1;
                }
            }
        }
        cut
    }

    /// Repairs every link between nodes.
    pub fn heal_all(&mut self) {
        for a in 0..self.len() {
            for b in a + 1..self.len() {
                self.sim.repair(node_name(a), node_name(b));
            }
        }
    }

    /// Whether every node in `among` is on the same tip.
    pub fn agree(&self, among: &[usize]) -> bool {
        among
            .windows(2)
            .all(|w| self.nodes[w[0]].tip() == self.nodes[w[1]].tip())
    }

    /// A uniformly random node.
    pub fn random_node(&mut self) -> usize {
        self.rng.random_range(0..self.len())
    }

    /// Some background load: with probability `p_mine` a random node mines a block, with
    /// probability `p_tx` a random wallet pays another.
    pub fn workload(&mut self, p_mine: f64, p_tx: f64) -> Result<(), String> {
        if self.rng.random_bool(p_tx) {
            let from = self.random_node();
            let to = (from + 1 + self.rng.random_range(0..self.len() - 1)) % self.len();
            self.send(from, to)?;
        }
        if self.rng.random_bool(p_mine) {
            let i = self.random_node();
            self.mine(i)?;
        }
        Ok(())
    }
}

/// The turmoil host name of node `i`.
pub fn node_name(i: usize) -> String {
    format!("node{i}")
}
