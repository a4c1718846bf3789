//! A node in-process for the RPC tests: a dev chainstate in a temporary directory, a few
//! blocks mined to a test key, and the JSON-RPC server on 127.0.0.1:0.

#![allow(dead_code, unreachable_pub, missing_docs)]

use parking_lot::{Mutex, RwLock};
use parthenon_chain::mempool::DEFAULT_MEMPOOL_BYTES;
use parthenon_chain::{ChainstateConfig, Mempool, Workers};
use parthenon_crypto::{sign_all_inputs, KeyPair};
use parthenon_node::control::NodeState;
use parthenon_node::dev_node::DevMiner;
use parthenon_node::metrics::NodeMetrics;
use parthenon_node::rpc::client::{RpcClient, RpcClientError, RpcUrl};
use parthenon_node::rpc::{cookie_path, Credentials, RpcConfig, RpcContext, RpcServer};
use parthenon_node::DataDir;
use parthenon_primitives::{
    serialize, Asset, BlockHash, Network, OutPoint, Transaction, TxIn, TxOut,
};
use parthenon_storage::Durability;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub datadir: DataDir,
    pub state: NodeState,
    pub miner: DevMiner,
    pub key: KeyPair,
    pub server: Option<RpcServer>,
    pub client: RpcClient,
}

pub fn loopback0() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Opens a dev chainstate in a temporary directory (no server yet).
pub fn open_state(
    metrics: Option<Arc<NodeMetrics>>,
) -> (tempfile::TempDir, DataDir, NodeState, DevMiner, KeyPair) {
    let dir = tempfile::tempdir().unwrap();
    let datadir = DataDir::new(dir.path().join("node"));
    let chain = datadir
        .open_chainstate(
            Network::Dev.params(),
            Workers::inline(),
            ChainstateConfig::default(),
            Durability::Process,
        )
        .unwrap();
    let state = NodeState {
        chain: Arc::new(RwLock::new(chain)),
        mempool: Arc::new(Mutex::new(Mempool::new(DEFAULT_MEMPOOL_BYTES))),
        shutdown: Arc::new(tokio::sync::Notify::new()),
    };
    let key = KeyPair::generate();
    let miner = DevMiner {
        state: state.clone(),
        payout: key.public_key().to_bytes(),
        workers: Workers::inline(),
        stop: Arc::new(AtomicBool::new(false)),
        extra_nonce: Arc::new(AtomicU64::new(0)),
        metrics,
    };
    (dir, datadir, state, miner, key)
}

/// Mines `n` blocks on a blocking thread; their hashes.
pub async fn mine(miner: &DevMiner, n: usize) -> Vec<BlockHash> {
    let m = miner.clone();
    tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|_| m.mine_one().expect("a mined block extends the chain"))
            .collect()
    })
    .await
    .unwrap()
}

impl TestNode {
    /// A node with `blocks` mined blocks; `generate` enabled when `with_miner`.
    pub async fn start(
        blocks: usize,
        with_miner: bool,
        config: impl FnOnce(&mut RpcConfig),
    ) -> TestNode {
        let (dir, datadir, state, miner, key) = open_state(None);
        mine(&miner, blocks).await;
        let mut rpc = RpcConfig::new(loopback0());
        config(&mut rpc);
        let ctx = RpcContext {
            state: state.clone(),
            miner: with_miner.then(|| miner.clone()),
            aes: parthenon_crypto::AesMode::Auto,
            p2p: None,
            cert: None,
        };
        let server = RpcServer::start(&rpc, &cookie_path(&datadir), ctx)
            .await
            .unwrap();
        let cookie = Credentials::from_cookie_file(server.cookie_path()).unwrap();
        let client = RpcClient::new(url_of(server.local_addr()), Some(cookie));
        TestNode {
            dir,
            datadir,
            state,
            miner,
            key,
            server: Some(server),
            client,
        }
    }

    pub fn server(&self) -> &RpcServer {
        self.server.as_ref().unwrap()
    }

    pub fn url(&self) -> RpcUrl {
        url_of(self.server().local_addr())
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcClientError> {
        self.client.call(method, params).await
    }

    /// The result of a call that must succeed.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params.clone())
            .await
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }

    /// The error code of a call that must fail on the node.
    pub async fn code(&self, method: &str, params: Value) -> i64 {
        match self.call(method, params.clone()).await {
            Err(RpcClientError::Remote { code, .. }) => code,
            other => panic!("{method} {params}: expected an RPC error, got {other:?}"),
        }
    }

    /// A transaction spending the coinbase output `(txid, vout)` of the test key (amount
    /// `amount` of `asset`) back to the key minus `fee`.
    pub fn spend(&self, prevout: OutPoint, asset: Asset, amount: u64, fee: u64) -> Transaction {
        let me = self.key.public_key().to_bytes();
        let mut tx = Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout,
                signature: Vec::new(),
                sequence: u32::MAX,
            }],
            outputs: vec![TxOut::to_key(asset, amount - fee, me)],
            lock_time: 0,
        };
        let spent = TxOut::to_key(asset, amount, me);
        let genesis = Network::Dev.params().genesis_hash();
        sign_all_inputs(&genesis, &mut tx, &[&spent], &[&self.key]).unwrap();
        tx
    }
}

pub fn url_of(addr: SocketAddr) -> RpcUrl {
    format!("http://{addr}/").parse().unwrap()
}

pub fn tx_hex(tx: &Transaction) -> String {
    hex::encode(serialize(tx))
}
