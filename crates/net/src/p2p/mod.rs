//! The peer-to-peer engine: connections, sync and relay on top of the sans-I/O pieces.
//!
//! [`start`] binds the listener (if any) and spawns one engine task plus two small tasks per
//! connection (a reader that decodes frames, a writer that sends queued frames). The engine
//! owns every [`Peer`](crate::peer::Peer) state machine, the [`HeaderChain`](crate::sync::HeaderChain),
//! the `BlockDownloader`, the [`AddressBook`], bans and the
//! [`OrphanTxs`], and talks to the rest of the node through a [`P2pHandle`].
//!
//! What it does:
//! - **connections**: the listener asks the [`InboundLimits`] gate before any handshake
//!   (banned addresses and subnets, too many handshakes or connections from one host or
//!   site are closed at once); accepts inbound peers up to `max_inbound`, evicting an
//!   unprotected inbound peer (`eviction`) to make room when full; keeps the
//!   `--connect`/`--addnode` peers connected with exponential backoff; unless `--connect`
//!   is given, fills up to `max_outbound` connections from the address book, which `addr`
//!   gossip (rate limited per peer) and inbound peers' advertised ports feed and which is
//!   written to disk every minute and at shutdown. A connection to ourselves (our own nonce
//!   coming back on an inbound `version`) is closed and its address forgotten.
//! - **sync**: on every handshake and on every `inv` of an unknown block it asks for headers
//!   (`getheaders` with a block locator); validated headers give a download plan; blocks are
//!   requested by `getdata`, spread over all ready peers within a bounded window, and a peer
//!   that does not deliver in time is disconnected and its blocks go to others. A progress
//!   line (height, blocks/s, ETA) is logged during initial sync.
//! - **relay**: every new tip is announced by `inv` once the node is not downloading;
//!   transactions are fetched on `inv`, offered to the mempool and announced onward; those
//!   whose inputs are not coins yet wait in the bounded orphan pool and are retried after
//!   every block and every accepted transaction.
//! - **defence**: every message is rate limited and scored by the state machine; invalid
//!   blocks and transactions are scored here; a score of 100 disconnects and bans the
//!   peer's host (its IPv4 address, its IPv6 /64) for `ban_secs`. Every queue is bounded
//!   in bytes: a frame larger than its command's largest valid message (before the
//!   handshake: than a `version`) is refused from its header; a reader waits when the event
//!   queue or its own receive budget is full (TCP flow control then slows the peer); a peer
//!   whose send queue is over `send_buffer_bytes` is paused — its socket is not read, its
//!   requests wait, blocks it asked for are read from disk one at a time as its queue
//!   drains — and disconnected if it reads nothing for `send_stall_timeout_ms` or lets its
//!   send queue fill.
//!
//! Bans, automatic and manual, are kept in the ban list file (`SUBNET UNTIL` lines) when
//! one is configured, so a restart does not lift them.
//!
//! Manual peers (`--connect`, `--addnode`, RPC `addnode`) are dialled even when their IP
//! address is banned: the operator asked for them by name.
//!
//! Time comes from `tokio::time` and the injected [`Clock`], randomness from a seeded RNG,
//! so the same code runs in a turmoil simulation.

mod addr_rate;
mod address_book;
mod backoff;
mod connection;
mod counters;
mod engine;
mod eviction;
mod handle;
mod inbound_gate;
mod orphan_txs;
mod persist;

pub use addr_rate::{ADDR_TOKENS_PER_SEC, ADDR_TOKEN_BURST};
pub use address_book::{
    gossip_time, AddOutcome, AddressBook, AddressBookError, BUCKET_SIZE, GOSSIP_TIME_PENALTY_SECS,
    MAX_ADDRESSES, NEW_BUCKETS, NEW_BUCKETS_PER_SOURCE_GROUP, STALE_SECS, TRIED_BUCKETS,
    TRIED_BUCKETS_PER_GROUP,
};
pub use backoff::Backoff;
pub use counters::{NetCounters, Traffic};
pub use eviction::{PROTECT_BY_BLOCK, PROTECT_BY_NETGROUP, PROTECT_BY_PING, PROTECT_BY_TX};
pub use handle::{
    AddNodeAction, BannedAddress, DisconnectTarget, NetStatus, P2pHandle, P2pRequestError, PeerInfo,
};
pub use inbound_gate::{
    InboundLimits, DEFAULT_MAX_HANDSHAKES_PER_HOST, DEFAULT_MAX_HANDSHAKES_PER_SITE,
    DEFAULT_MAX_INBOUND_PER_HOST, DEFAULT_MAX_INBOUND_PER_SITE,
};
pub use orphan_txs::{
    OrphanTxs, DEFAULT_MAX_ORPHAN_TXS, DEFAULT_MAX_ORPHAN_TX_BYTES, ORPHAN_TX_EXPIRY_MS,
};
pub use persist::StateFileError;

use crate::peer::PeerConfig;
use crate::reputation::DEFAULT_BAN_SECS;
use crate::sync::{BlockDownloader, DownloadConfig, DownloadConfigError, DEFAULT_STALL_TIMEOUT_MS};
use crate::transport::{PeerSpec, Transport, TransportError};
use parking_lot::{Mutex, RwLock};
use parthenon_chain::{Chainstate, Clock, Mempool};
use parthenon_primitives::ChainParams;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Default tick of the engine's timers (pings, stalls, dials, announcements).
pub const DEFAULT_TICK_MS: u64 = 200;
/// Default frames queued to one peer before it counts as not reading.
pub const DEFAULT_OUTBOX_LEN: usize = 4_096;
/// Default bytes queued to one peer over which the node stops reading and serving it
/// (Bitcoin Core's default send buffer, 1 MB).
pub const DEFAULT_SEND_BUFFER_BYTES: usize = 1_000_000;
/// Default bytes of one peer's decoded messages the engine holds or has queued, over which
/// its socket is not read (Bitcoin Core's default receive buffer, 5 MB: more than a block).
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 5_000_000;
/// Default bytes of decoded messages waiting in the event queue from all connections.
pub const DEFAULT_EVENT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Default time a peer's send queue may stay over its budget without the peer reading a
/// byte before it is disconnected.
pub const DEFAULT_SEND_STALL_TIMEOUT_MS: u64 = 20_000;
/// Connection events queued from all readers to the engine (also bounded in bytes by
/// [`P2pConfig::event_queue_bytes`]).
const EVENT_QUEUE_LEN: usize = 1_024;
/// Requests queued from handles to the engine.
const REQUEST_QUEUE_LEN: usize = 256;
/// First wait before redialling a peer.
pub const DEFAULT_RECONNECT_BASE_MS: u64 = 1_000;
/// Longest wait before redialling a peer.
pub const DEFAULT_RECONNECT_MAX_MS: u64 = 5 * 60 * 1000;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// The network.
    pub params: &'static ChainParams,
    /// Where to accept peers; `None`: outbound only.
    pub listen: Option<SocketAddr>,
    /// Only these peers, no discovery (`--connect`).
    pub connect: Vec<PeerSpec>,
    /// These peers besides discovered ones (`--addnode`).
    pub addnode: Vec<PeerSpec>,
    /// Most outbound connections to discovered addresses.
    pub max_outbound: usize,
    /// Most inbound connections.
    pub max_inbound: usize,
    /// Where the address book lives; `None`: in memory only.
    pub address_book: Option<PathBuf>,
    /// Where bans are kept across restarts; `None`: in memory only.
    pub ban_list: Option<PathBuf>,
    /// How long a misbehaving peer's address is banned.
    pub ban_secs: u64,
    /// Time a peer may take to deliver a requested block.
    pub block_stall_timeout_ms: u64,
    /// First wait before redialling.
    pub reconnect_base_ms: u64,
    /// Longest wait before redialling.
    pub reconnect_max_ms: u64,
    /// Timer tick.
    pub tick_ms: u64,
    /// Per-peer protocol settings.
    pub peer: PeerConfig,
    /// Block download limits.
    pub download: DownloadConfig,
    /// Orphan transactions held at most.
    pub max_orphan_txs: usize,
    /// Bytes of orphan transactions held at most.
    pub max_orphan_tx_bytes: usize,
    /// Frames queued to one peer at most.
    pub outbox_len: usize,
    /// Bytes queued to one peer over which the node pauses it: its socket is not read and
    /// its requests are not served until it has read enough (see [`DEFAULT_SEND_BUFFER_BYTES`]).
    pub send_buffer_bytes: usize,
    /// Bytes of one peer's decoded messages the engine holds or has queued at most.
    pub recv_buffer_bytes: usize,
    /// Bytes of decoded messages in the event queue (all connections) at most.
    pub event_queue_bytes: usize,
    /// Time a paused peer may go without reading before it is disconnected.
    pub send_stall_timeout_ms: u64,
    /// Seed of the engine's RNG (nonces, address choice); `None`: from the OS.
    pub seed: Option<u64>,
    /// The certificate the TLS transport serves (reported by [`P2pHandle::status`] as it
    /// is after any rotation); `None` over plaintext.
    pub certificate: Option<crate::tls::CertRotator>,
    /// Per-address limits on inbound handshakes and connections.
    pub inbound_limits: InboundLimits,
    /// Whether gossiped addresses that are not publicly routable (loopback, private, ...)
    /// enter the address book: by default only on the dev network, which runs on loopback.
    pub allow_unroutable_addrs: bool,
    /// The address sent as ours in `version`: a public address the operator configured.
    /// `None`: the unspecified address with our listen port, which identifies nothing.
    pub external_addr: Option<SocketAddr>,
}

impl P2pConfig {
    /// Defaults for `params`: no listener, no fixed peers, 8 outbound, 117 inbound.
    pub fn new(params: &'static ChainParams) -> Self {
        P2pConfig {
            params,
            listen: None,
            connect: Vec::new(),
            addnode: Vec::new(),
            max_outbound: 8,
            max_inbound: 117,
            address_book: None,
            ban_list: None,
            ban_secs: DEFAULT_BAN_SECS,
            block_stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
            reconnect_base_ms: DEFAULT_RECONNECT_BASE_MS,
            reconnect_max_ms: DEFAULT_RECONNECT_MAX_MS,
            tick_ms: DEFAULT_TICK_MS,
            peer: PeerConfig::new(params.magic),
            download: DownloadConfig::default(),
            max_orphan_txs: DEFAULT_MAX_ORPHAN_TXS,
            max_orphan_tx_bytes: DEFAULT_MAX_ORPHAN_TX_BYTES,
            outbox_len: DEFAULT_OUTBOX_LEN,
            send_buffer_bytes: DEFAULT_SEND_BUFFER_BYTES,
            recv_buffer_bytes: DEFAULT_RECV_BUFFER_BYTES,
            event_queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
            send_stall_timeout_ms: DEFAULT_SEND_STALL_TIMEOUT_MS,
            seed: None,
            certificate: None,
            inbound_limits: InboundLimits::default(),
            allow_unroutable_addrs: params.network == parthenon_primitives::Network::Dev,
            external_addr: None,
        }
    }
}

/// Called with the time a block (or a reorganisation) took to connect.
pub type BlockConnectObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// What the engine shares with the rest of the node.
#[derive(Clone)]
pub struct P2pShared {
    /// The chainstate (one writer, many readers).
    pub chain: Arc<RwLock<Chainstate>>,
    /// The mempool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// Wall-clock time (Unix seconds) for timestamps and consensus time checks.
    pub clock: Arc<dyn Clock>,
    /// Told how long each block received from peers took to connect (metrics).
    pub on_block_connected: Option<BlockConnectObserver>,
}

impl std::fmt::Debug for P2pShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pShared").finish_non_exhaustive()
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum P2pStartError {
    /// The listen address could not be bound.
    #[error("cannot listen for peers on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the transport said.
        #[source]
        source: TransportError,
    },
    /// The address book or ban list file could not be read.
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    /// The download limits are unusable.
    #[error(transparent)]
    Download(#[from] DownloadConfigError),
}

/// The running engine.
#[derive(Debug)]
pub struct P2pNode {
    /// Talks to the engine.
    pub handle: P2pHandle,
    /// The address actually listened on (the real port when bound to port 0).
    pub listen: Option<SocketAddr>,
    /// Ends when the engine stops.
    pub task: JoinHandle<()>,
}

/// Binds the listener and starts the engine on the current tokio runtime.
pub async fn start(
    config: P2pConfig,
    shared: P2pShared,
    transport: Arc<dyn Transport>,
) -> Result<P2pNode, P2pStartError> {
    let downloader =
        BlockDownloader::new(config.download, shared.chain.read().config().max_orphans)?;
    let mut rng = match config.seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_os_rng(),
    };
    let book_key: [u8; 32] = rng.random();
    let book = match &config.address_book {
        Some(p) => AddressBook::load(p, book_key, config.allow_unroutable_addrs)?,
        None => AddressBook::in_memory(book_key).allow_unroutable(config.allow_unroutable_addrs),
    };
    let bans = match &config.ban_list {
        Some(p) => persist::load_bans(p, shared.clock.now_secs())?,
        None => crate::reputation::BanList::new(),
    };
    let gate = Arc::new(inbound_gate::InboundGate::new(
        config.inbound_limits,
        bans.clone(),
        shared.clock.clone(),
    ));
    let counters = Arc::new(NetCounters::default());
    let (conns_tx, conns_rx) = mpsc::channel(64);
    let mut listen = None;
    if let Some(addr) = config.listen {
        let mut listener = transport
            .bind_gated(addr, gate.clone())
            .await
            .map_err(|source| P2pStartError::Bind { addr, source })?;
        let bound = listener.local_addr();
        listen = Some(bound);
        tracing::info!(listen = %bound, "accepting peers");
        let tx = conns_tx.clone();
        let refusals = counters.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok(c) => {
                        if tx.send(engine::NewConn::Inbound(c)).await.is_err() {
                            return;
                        }
                    }
                    Err(e @ TransportError::Accept { .. }) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e @ TransportError::Refused { .. }) => {
                        refusals.record_inbound_refused();
                        tracing::debug!(error = %e, "inbound connection refused");
                    }
                    Err(e) => tracing::debug!(error = %e, "inbound connection failed"),
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
    }
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE_LEN);
    let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE_LEN);
    let engine = engine::Engine::new(
        config,
        shared,
        transport,
        counters.clone(),
        rng,
        listen,
        book,
        bans,
        gate,
        downloader,
        events_tx,
        conns_tx,
    );
    let task = tokio::spawn(engine.run(req_rx, conns_rx, events_rx));
    Ok(P2pNode {
        handle: P2pHandle {
            requests: req_tx,
            counters,
        },
        listen,
        task,
    })
}
