//! `parthenon node`: the running node (dev, test or main network).
//!
//! Opens (or creates) the data directory, loads or creates the node's wallet, joins the P2P
//! network ([`crate::p2p`]), on the dev network mines a block every `block_interval` paying
//! that wallet, serves the control socket, and on Ctrl-C,
//! SIGTERM or a `stop` request finishes the block in hand, syncs the stores to disk and
//! returns. Every connected block is logged with its height, hash, transaction count and
//! the time it took to connect; a block is logged only after its batch is in the store.
//! Beside the control socket it serves JSON-RPC ([`crate::rpc`], cookie in
//! `<datadir>/.cookie`) and, when asked, Prometheus metrics ([`crate::metrics`]).

use crate::control::{self, NodeState};
use crate::datadir::{DataDir, DataDirError};
use crate::metrics::{MetricsServer, NodeMetrics};
use crate::rpc::{self, RpcConfig, RpcContext, RpcServer};
use crate::wallet::{Wallet, WalletError};
use parking_lot::{Mutex, RwLock};
use parthenon_chain::clock::{Clock, SystemClock};
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::miner::{build_template, mine};
use parthenon_chain::{ChainstateConfig, Mempool, Workers};
use parthenon_primitives::{BlockHash, Network};
use parthenon_storage::Durability;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of a dev node.
#[derive(Debug, Clone)]
pub struct DevNodeConfig {
    /// The network: dev mines on an interval and offers `generate`; test and main only
    /// sync and relay (CPU mining at their difficulty would be pretend).
    pub network: Network,
    /// The data directory.
    pub datadir: DataDir,
    /// Time between mined blocks.
    pub block_interval: Duration,
    /// Whether to mine at all.
    pub mine: bool,
    /// Threads for the nonce search.
    pub mine_threads: usize,
    /// Threads for signature checks (0 = inline).
    pub verify_threads: usize,
    /// Store durability.
    pub durability: Durability,
    /// Before each block, the wallet spends this many of its mature coins back to itself
    /// (exercises transactions, undo data and the mempool on a lone dev node).
    pub self_spend_per_block: usize,
    /// The JSON-RPC server (listen address, extra credentials, limits).
    pub rpc: RpcConfig,
    /// Where to serve Prometheus metrics; `None` turns them off.
    pub metrics_listen: Option<SocketAddr>,
    /// The configured AES-256-GCM mode (`crypto.aes`; `PARTHENON_AES=software` still forces
    /// the software path). It governs the keystore's AES path and the P2P TLS cipher suites
    /// ([`crate::p2p::tls_cipher_suites`]).
    pub aes: parthenon_crypto::AesMode,
    /// The peer-to-peer network.
    pub p2p: crate::p2p::P2pSettings,
    /// What the mempool admits beyond consensus (minimum fee rate, dust).
    pub mempool_policy: parthenon_chain::MempoolPolicy,
}

/// Why the dev node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DevNodeError {
    /// The data directory could not be opened.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The wallet could not be loaded or created.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// The control socket could not be bound.
    #[error("cannot listen on control socket {path}: {source}")]
    Socket {
        /// The socket path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A worker pool could not start.
    #[error(transparent)]
    Workers(#[from] parthenon_chain::workers::WorkersError),
    /// The JSON-RPC server or the metrics endpoint could not start.
    #[error(transparent)]
    Server(#[from] rpc::ServerError),
    /// The P2P network could not start.
    #[error(transparent)]
    Network(#[from] crate::p2p::NetworkStartError),
    /// Syncing the stores at shutdown failed.
    #[error("flushing the chainstate at shutdown failed: {0}")]
    Flush(parthenon_chain::ChainError),
}

/// Runs the dev node until it is asked to stop.
pub async fn run(config: DevNodeConfig) -> Result<(), DevNodeError> {
    let params = config.network.params();
    let dev = config.network == Network::Dev;
    config.datadir.create()?;
    let started = Instant::now();
    let chain = config.datadir.open_chainstate(
        params,
        Workers::new(config.verify_threads)?,
        ChainstateConfig::default(),
        config.durability,
    )?;
    tracing::info!(
        datadir = %config.datadir.root().display(),
        height = chain.height(),
        tip = %chain.tip_hash(),
        open_ms = started.elapsed().as_millis() as u64,
        "chainstate opened"
    );
    match parthenon_crypto::active_backend(config.aes) {
        Ok(aes) => tracing::info!("keystore {aes}"),
        Err(e) => tracing::warn!(error = %e, "AES-256-GCM configuration"),
    }
    let wallet = Wallet::load_or_create(&config.datadir.wallet_path(), config.network)?;
    if dev && config.mine {
        tracing::info!(address = %wallet.address(), "mining to the node's wallet");
    }

    let state = NodeState {
        chain: Arc::new(RwLock::new(chain)),
        mempool: Arc::new(Mutex::new(Mempool::with_policy(
            DEFAULT_MEMPOOL_BYTES,
            config.mempool_policy,
        ))),
        shutdown: Arc::new(tokio::sync::Notify::new()),
    };
    // ---- JSON-RPC and metrics (begin) ----
    let metrics = config.metrics_listen.map(|_| Arc::new(NodeMetrics::new()));
    let dev_miner = DevMiner {
        state: state.clone(),
        payout: wallet.public_key(),
        workers: Workers::new(config.mine_threads)?,
        stop: Arc::new(AtomicBool::new(false)),
        extra_nonce: Arc::new(AtomicU64::new(0)),
        metrics: metrics.clone(),
    };
    let network = if config.p2p.enabled {
        let observer = metrics.clone().map(|m| {
            Arc::new(move |d: Duration| m.observe_block_connect(d))
                as parthenon_net::p2p::BlockConnectObserver
        });
        let shared = parthenon_net::p2p::P2pShared {
            chain: state.chain.clone(),
            mempool: state.mempool.clone(),
            clock: Arc::new(SystemClock),
            on_block_connected: observer,
        };
        let suites = crate::p2p::tls_cipher_suites(config.aes);
        let net =
            crate::p2p::start_network(&config.p2p, params, &config.datadir, shared, suites).await?;
        if let Some(m) = &metrics {
            m.set_network(net.handle.counters().clone());
            if let Some(r) = &net.rotator {
                m.set_certificate(r.clone());
            }
        }
        match net.listen {
            Some(addr) => {
                tracing::info!(p2p_listen = %addr, tls = net.rotator.is_some(), "P2P listening")
            }
            None => tracing::info!("P2P outbound only (no listen address)"),
        }
        Some(net)
    } else {
        tracing::info!("P2P network disabled");
        None
    };
    let rpc_ctx = RpcContext {
        state: state.clone(),
        miner: dev.then(|| dev_miner.clone()),
        aes: config.aes,
        p2p: network.as_ref().map(|n| n.handle.clone()),
        cert: network.as_ref().and_then(|n| n.rotator.clone()),
    };
    let cookie = rpc::cookie_path(&config.datadir);
    let rpc_server = RpcServer::start(&config.rpc, &cookie, rpc_ctx).await?;
    let metrics_server = match (config.metrics_listen, &metrics) {
        (Some(addr), Some(m)) => Some(MetricsServer::start(addr, m.clone(), state.clone()).await?),
        _ => None,
    };
    // ---- JSON-RPC and metrics (end) ----

    let socket = config.datadir.control_socket();
    let listener = control::bind(&socket).map_err(|source| DevNodeError::Socket {
        path: socket.clone(),
        source,
    })?;
    let server = tokio::spawn(control::serve(listener, state.clone()));

    let stop = dev_miner.stop.clone();
    let miner = (config.mine && dev).then(|| {
        tokio::spawn(mine_loop(
            dev_miner,
            Arc::new(wallet),
            config.block_interval,
            config.self_spend_per_block,
            network.as_ref().map(|n| n.handle.clone()),
        ))
    });

    wait_for_shutdown(&state.shutdown).await;
    tracing::info!("shutting down");
    stop.store(true, Ordering::SeqCst);
    if let Some(m) = miner {
        let _ = m.await;
    }
    if let Some(n) = network {
        n.shutdown().await;
    }
    // ---- JSON-RPC and metrics (begin) ----
    rpc_server.shutdown().await;
    if let Some(m) = metrics_server {
        m.shutdown().await;
    }
    // ---- JSON-RPC and metrics (end) ----
    server.abort();
    let _ = std::fs::remove_file(&socket);
    let chain = state.chain.read();
    chain.sync().map_err(DevNodeError::Flush)?;
    tracing::info!(height = chain.height(), tip = %chain.tip_hash(), "stopped cleanly");
    Ok(())
}

async fn wait_for_shutdown(requested: &tokio::sync::Notify) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = requested.notified() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = requested.notified() => {}
    }
}

/// Mines a block every `interval`, except while the P2P engine is downloading blocks of a
/// better chain: a block mined on a stale tip would only fork and be reorganised away. Only
/// blocks actually in flight pause it, so headers whose blocks nobody delivers (a peer
/// withholding them) cannot stop the miner.
async fn mine_loop(
    miner: DevMiner,
    wallet: Arc<Wallet>,
    interval: Duration,
    self_spend: usize,
    p2p: Option<parthenon_net::p2p::P2pHandle>,
) {
    let mut next = tokio::time::Instant::now() + interval;
    let mut was_syncing = false;
    while !miner.stopping() {
        tokio::time::sleep_until(next).await;
        next += interval;
        if miner.stopping() {
            break;
        }
        if let Some(h) = &p2p {
            let syncing = h.status().await.is_ok_and(|s| s.blocks_in_flight > 0);
            if syncing != was_syncing {
                if syncing {
                    tracing::info!("catching up with peers; mining paused");
                } else {
                    tracing::info!("caught up with peers; mining resumed");
                }
                was_syncing = syncing;
            }
            if syncing {
                continue;
            }
        }
        let miner = miner.clone();
        let wallet = wallet.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if self_spend > 0 {
                spend_to_self(&miner.state, &wallet, self_spend);
            }
            miner.mine_one()
        })
        .await;
        if tokio::time::Instant::now() > next {
            next = tokio::time::Instant::now() + interval;
        }
    }
}

/// Submits up to `n` transactions, each spending one mature wallet coin back to the wallet in
/// two outputs.
fn spend_to_self(state: &NodeState, wallet: &Wallet, n: usize) {
    let chain = state.chain.read();
    let mut mempool = state.mempool.lock();
    let key = wallet.public_key();
    let mut mine = Vec::new();
    if let Err(e) = chain.for_each_coin(&mut |op, c| {
        if c.output.key() == Some(key) && c.output.amount >= 2 {
            mine.push((op, c));
        }
        true
    }) {
        tracing::warn!(error = %e, "cannot list wallet coins");
        return;
    }
    let coins = crate::wallet::wallet_coins(
        mine,
        key,
        chain.height(),
        chain.params().coinbase_maturity,
        |op| mempool.spender_of(op).is_some(),
    );
    let policy = *mempool.policy();
    for coin in coins.iter().filter(|c| c.spendable).take(n) {
        let build = |fee| {
            wallet.build_send(
                std::slice::from_ref(coin),
                key,
                coin.asset,
                coin.amount / 2,
                fee,
            )
        };
        // Amounts are fixed-width, so the size (and the policy's minimum fee) does not
        // depend on the fee itself: measure once without, then pay the minimum.
        let built = build(0).and_then(|probe| {
            build(
                policy
                    .min_fee_rate
                    .saturating_mul(probe.encoded_len() as u64),
            )
        });
        let tx = match built {
            // Halved again and again, a coin ends up as dust the policy refuses.
            Ok(tx) if tx.outputs.iter().any(|o| o.amount < policy.dust_threshold) => continue,
            Ok(tx) => tx,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build a self-spend");
                continue;
            }
        };
        if let Err(e) = mempool.accept(tx, &chain) {
            tracing::warn!(error = %e, "self-spend rejected");
        }
    }
}

/// Mines blocks on the node's tip paying its wallet: the block-interval loop and the RPC
/// `generate` method share it.
#[derive(Clone)]
pub struct DevMiner {
    /// The node's state.
    pub state: NodeState,
    /// The key the coinbase pays (the node's wallet).
    pub payout: [u8; 32],
    /// Threads of the nonce search.
    pub workers: Workers,
    /// Set at shutdown: abandons the nonce search in hand.
    pub stop: Arc<AtomicBool>,
    /// Put in the coinbase so templates of the same second differ.
    pub extra_nonce: Arc<AtomicU64>,
    /// Where block-connect times are observed, when metrics are on.
    pub metrics: Option<Arc<NodeMetrics>>,
}

impl DevMiner {
    /// Whether the node is shutting down.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Mines one block on the current tip and processes it; its hash if it is now the tip
    /// (`None` when stopped, or when it lost a race with another block or was rejected).
    pub fn mine_one(&self) -> Option<BlockHash> {
        let state = &self.state;
        let now = SystemClock.now_secs();
        let template = {
            let chain = state.chain.read();
            let mempool = state.mempool.lock();
            build_template(
                &chain,
                &mempool,
                self.payout,
                now,
                self.extra_nonce.fetch_add(1, Ordering::Relaxed),
            )
        };
        let mut block = template.block;
        if !mine(&mut block, &self.workers, &self.stop) {
            return None;
        }
        let ntx = block.txs.len();
        let started = Instant::now();
        let mut chain = state.chain.write();
        match chain.process_block(block, now) {
            Ok(outcome) => {
                let elapsed = started.elapsed();
                let connect_ms = elapsed.as_secs_f64() * 1000.0;
                state
                    .mempool
                    .lock()
                    .apply_chain_update(&outcome.update, &chain);
                for (b, height) in &outcome.update.connected {
                    tracing::info!(
                        height,
                        hash = %b.hash(),
                        txs = b.txs.len(),
                        connect_ms = format!("{connect_ms:.2}"),
                        "block connected"
                    );
                }
                if outcome.update.connected.is_empty() {
                    tracing::warn!(txs = ntx, "mined block did not extend the chain");
                } else if let Some(m) = &self.metrics {
                    m.observe_block_connect(elapsed);
                }
                chain.is_active(&outcome.hash).then_some(outcome.hash)
            }
            Err(e) => {
                tracing::error!(error = %e, "mined block rejected");
                None
            }
        }
    }
}
