//! Shared harness of the P2P engine tests: an engine node over any transport with an
//! in-memory dev chainstate (from `sync_common`), short timers, mining straight onto a node's
//! chainstate (the engine announces the new tip by itself on its next tick), waiting for
//! conditions with a timeout and a clear message, and a digest of a chainstate's UTXO set.
//!
//! A test file that uses it declares `mod sync_common;` before `mod p2p_common;`.

#![allow(dead_code, unreachable_pub)]

use crate::sync_common::{now_secs, payout, TestChain};
use parking_lot::{Mutex, RwLock};
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{miner, Chainstate, ManualClock, Mempool, Workers};
use parthenon_net::p2p::{self, P2pConfig, P2pHandle, P2pShared};
use parthenon_net::transport::Transport;
use parthenon_primitives::hash::sha256d;
use parthenon_primitives::{Block, BlockHash, Hash256, Network};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// Engine settings for tests: dev network, fast ticks, short stall/reconnect/ping/send timers,
/// a fixed RNG seed, no discovery beyond what the test configures.
pub fn test_config(seed: u64) -> P2pConfig {
    let mut c = P2pConfig::new(Network::Dev.params());
    c.tick_ms = 50;
    c.block_stall_timeout_ms = 1_000;
    c.reconnect_base_ms = 100;
    c.reconnect_max_ms = 1_000;
    c.seed = Some(seed);
    c.peer.handshake_timeout_ms = 5_000;
    c.peer.ping_interval_ms = 2_000;
    c.peer.ping_timeout_ms = 3_000;
    c.send_stall_timeout_ms = 2_000;
    c
}

/// What a node shares with its engine, plus the directory of its block files.
pub struct NodeState {
    /// Chainstate, mempool and clock, as the engine sees them.
    pub shared: P2pShared,
    /// Holds the block files.
    pub dir: TempDir,
}

impl NodeState {
    /// A fresh dev chainstate (genesis only, inline workers) and an empty mempool; the clock
    /// stands still at [`now_secs`], far after every block time used by the tests.
    pub fn new() -> Self {
        let TestChain { chain, dir } = TestChain::new();
        NodeState {
            shared: P2pShared {
                chain: Arc::new(RwLock::new(chain)),
                mempool: Arc::new(Mutex::new(Mempool::new(DEFAULT_MEMPOOL_BYTES))),
                clock: Arc::new(ManualClock::new(now_secs())),
                on_block_connected: None,
            },
            dir,
        }
    }

    /// The active tip's hash.
    pub fn tip(&self) -> BlockHash {
        self.shared.chain.read().tip_hash()
    }

    /// The active chain's height.
    pub fn height(&self) -> u32 {
        self.shared.chain.read().height()
    }

    /// Mines `n` blocks on this chainstate's tip, as the node's own miner would; `tag`
    /// (e.g. the node's number) goes into every coinbase so that blocks of different
    /// miners at the same height differ. Returns the new blocks.
    pub fn mine(&self, n: usize, tag: u64) -> Vec<Block> {
        mine_on(&self.shared, n, tag)
    }

    /// Processes blocks received out of band (which must connect).
    pub fn process(&self, blocks: &[Block]) {
        let mut chain = self.shared.chain.write();
        for b in blocks {
            let outcome = chain
                .process_block(b.clone(), now_secs())
                .unwrap_or_else(|e| panic!("block {} rejected: {e}", b.hash()));
            self.shared
                .mempool
                .lock()
                .apply_chain_update(&outcome.update, &chain);
        }
    }

    /// Digest of the UTXO set (see [`utxo_digest`]).
    pub fn utxo_digest(&self) -> Hash256 {
        utxo_digest(&self.shared.chain.read())
    }
}

impl Default for NodeState {
    fn default() -> Self {
        Self::new()
    }
}

/// Mines `n` blocks on the tip of `shared`'s chainstate (see [`NodeState::mine`]).
pub fn mine_on(shared: &P2pShared, n: usize, tag: u64) -> Vec<Block> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut chain = shared.chain.write();
        let mut mempool = shared.mempool.lock();
        let height = chain.height() + 1;
        let extra_nonce = (tag << 32) | u64::from(height);
        let mut block = miner::build_template(
            &chain,
            &mempool,
            payout(),
            shared.clock.now_secs(),
            extra_nonce,
        )
        .block;
        assert!(
            miner::mine(&mut block, &Workers::inline(), &AtomicBool::new(false)),
            "no nonce found"
        );
        let outcome = chain
            .process_block(block.clone(), shared.clock.now_secs())
            .unwrap_or_else(|e| panic!("own block at height {height} rejected: {e}"));
        assert_eq!(outcome.update.connected.len(), 1, "own block connects");
        mempool.apply_chain_update(&outcome.update, &chain);
        out.push(block);
    }
    out
}

/// SHA-256d over every unspent coin (outpoint and coin bytes) in key order: two
/// chainstates with the same UTXO set have the same digest.
pub fn utxo_digest(chain: &Chainstate) -> Hash256 {
    let mut bytes = Vec::new();
    let mut count = 0u64;
    chain
        .for_each_coin(&mut |op, coin| {
            bytes.extend_from_slice(op.to_string().as_bytes());
            bytes.extend_from_slice(&coin.to_bytes());
            count += 1;
            true
        })
        .expect("read the UTXO set");
    bytes.extend_from_slice(&count.to_le_bytes());
    sha256d(&bytes)
}

/// A running engine with its chainstate.
pub struct TestNode {
    /// Chainstate, mempool, clock.
    pub state: NodeState,
    /// Talks to the engine.
    pub handle: P2pHandle,
    /// Where it accepts peers.
    pub listen: Option<SocketAddr>,
    /// The engine task.
    pub task: JoinHandle<()>,
}

impl TestNode {
    /// Starts an engine with `config` over `transport` on `state`.
    pub async fn start(config: P2pConfig, state: NodeState, transport: Arc<dyn Transport>) -> Self {
        let node = p2p::start(config, state.shared.clone(), transport)
            .await
            .expect("start the P2P engine");
        TestNode {
            state,
            handle: node.handle,
            listen: node.listen,
            task: node.task,
        }
    }

    /// The listen address (the node must listen).
    pub fn addr(&self) -> SocketAddr {
        self.listen.expect("the node listens")
    }

    /// The active tip's hash.
    pub fn tip(&self) -> BlockHash {
        self.state.tip()
    }

    /// Asserts the engine still answers requests (it has not crashed or hung).
    pub async fn assert_responsive(&self, context: &str) {
        let status = tokio::time::timeout(Duration::from_secs(5), self.handle.status())
            .await
            .unwrap_or_else(|_| panic!("{context}: the engine did not answer within 5 s"))
            .unwrap_or_else(|e| panic!("{context}: the engine stopped: {e}"));
        assert!(
            !self.task.is_finished(),
            "{context}: the engine task ended (status {status:?})"
        );
    }
}

/// Polls `cond` every 20 ms (of tokio time: simulated under turmoil) until it holds; panics
/// with `what` and `timeout` when it does not hold in time.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `node`'s tip is `tip`.
pub async fn wait_for_tip(node: &TestNode, tip: BlockHash, timeout: Duration, context: &str) {
    let what = format!("{context}: the node's tip is {tip}");
    wait_until(&what, timeout, || async { node.tip() == tip }).await;
    // Seen the same from a different angle: the height matches the block's.
    let height = node.state.height();
    let entry_height = node.state.shared.chain.read().entry(&tip).map(|e| e.height);
    assert_eq!(entry_height, Some(height), "{context}: tip entry height");
}

/// Waits until `node` has a ready (handshaken) peer that is a manual peer.
pub async fn wait_for_manual_peer(node: &TestNode, timeout: Duration, context: &str) {
    let what = format!("{context}: a manual peer is connected and ready");
    wait_until(&what, timeout, || async {
        node.handle
            .peers()
            .await
            .map(|p| p.iter().any(|p| p.manual && p.ready))
            .unwrap_or(false)
    })
    .await;
}
