//! [`P2pHandle`]: how the rest of the node talks to the running engine (RPC methods, the
//! miner, shutdown), and the reports it answers with.

use super::counters::NetCounters;
use crate::netaddr::Subnet;
use crate::sync::PeerId;
use crate::transport::PeerSpec;
use parthenon_primitives::Txid;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// One connected peer, as `getpeerinfo` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    /// The engine's number for the connection.
    pub id: u64,
    /// The peer's address.
    pub addr: SocketAddr,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The peer certificate's SHA-256 fingerprint (outbound TLS only).
    pub cert_fingerprint: Option<String>,
    /// The TLS 1.3 cipher suite this connection negotiated (e.g.
    /// `TLS13_CHACHA20_POLY1305_SHA256`); `None` on plaintext.
    pub tls_cipher_suite: Option<String>,
    /// Whether it was configured by `--connect`/`--addnode`/`addnode`.
    pub manual: bool,
    /// Whether the handshake finished.
    pub ready: bool,
    /// The peer's user agent.
    pub user_agent: Option<String>,
    /// The peer's protocol version.
    pub version: Option<u32>,
    /// The height the peer announced in its `version`.
    pub start_height: Option<u32>,
    /// Misbehaviour score.
    pub ban_score: u32,
    /// Block and transaction requests not answered yet.
    pub requests_in_flight: usize,
    /// Blocks this peer delivered during sync.
    pub blocks_delivered: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Seconds since the connection opened.
    pub connected_secs: u64,
}

/// A banned address or subnet, as `listbanned` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BannedAddress {
    /// The address (a single address) or subnet.
    pub subnet: Subnet,
    /// Unix time the ban ends.
    pub banned_until: u64,
}

/// The engine's state in numbers (`getnetworkinfo`, `getblockchaininfo`).
#[derive(Debug, Clone, Serialize)]
pub struct NetStatus {
    /// Where the engine accepts peers.
    pub listen: Option<SocketAddr>,
    /// Whether connections are TLS.
    pub tls: bool,
    /// The node certificate's fingerprint, for peers that pin it.
    pub cert_fingerprint: Option<String>,
    /// Inbound connections.
    pub inbound: usize,
    /// Outbound connections.
    pub outbound: usize,
    /// Height of the best header known.
    pub header_height: u32,
    /// Whether the node is still catching up with the best header chain.
    pub initial_block_download: bool,
    /// Blocks requested and not received yet.
    pub blocks_in_flight: usize,
    /// Addresses in the address book.
    pub known_addresses: usize,
    /// Orphan transactions held.
    pub orphan_txs: usize,
    /// Headers held in the header store (beyond the chainstate's blocks).
    pub headers_held: usize,
    /// Approximate memory of the header store and the pre-sync state, in bytes.
    pub header_store_bytes: usize,
    /// Headers of low-work chains validated and counted, not stored, so far.
    pub headers_presynced: u64,
    /// Conditions that keep the node from syncing, for `getblockchaininfo`'s `warnings`
    /// (e.g. a header store that refuses headers).
    pub warnings: Vec<String>,
}

/// What `addnode` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddNodeAction {
    /// Keep a connection to the peer (reconnecting with backoff).
    Add,
    /// Stop keeping it (an open connection stays until it drops).
    Remove,
    /// Try one connection now.
    OneTry,
}

/// Why a request to the engine failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P2pRequestError {
    /// The engine has stopped.
    #[error("the P2P network is not running")]
    Stopped,
    /// `addnode add` for a peer already added.
    #[error("peer {0} is already added")]
    AlreadyAdded(String),
    /// `addnode remove` for a peer that was not added.
    #[error("peer {0} was not added")]
    NotAdded(String),
    /// `disconnectnode` / `setban remove` for something unknown.
    #[error("{0}")]
    NotFound(String),
}

/// A request to the engine.
#[derive(Debug)]
pub(crate) enum Request {
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Status(oneshot::Sender<NetStatus>),
    AddNode(
        PeerSpec,
        AddNodeAction,
        oneshot::Sender<Result<(), P2pRequestError>>,
    ),
    Disconnect(
        DisconnectTarget,
        oneshot::Sender<Result<(), P2pRequestError>>,
    ),
    Ban(Subnet, u64, oneshot::Sender<()>),
    Unban(Subnet, oneshot::Sender<Result<(), P2pRequestError>>),
    ListBanned(oneshot::Sender<Vec<BannedAddress>>),
    ClearBanned(oneshot::Sender<()>),
    AnnounceTx(Txid),
    Shutdown(oneshot::Sender<()>),
}

/// Which connection `disconnectnode` closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectTarget {
    /// By the peer's address.
    Addr(SocketAddr),
    /// By the engine's connection number.
    Id(PeerId),
}

/// A cheap, cloneable handle to the running engine.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) counters: Arc<NetCounters>,
}

impl P2pHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, P2pRequestError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| P2pRequestError::Stopped)?;
        rx.await.map_err(|_| P2pRequestError::Stopped)
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, P2pRequestError> {
        self.ask(Request::Peers).await
    }

    /// The engine's state in numbers.
    pub async fn status(&self) -> Result<NetStatus, P2pRequestError> {
        self.ask(Request::Status).await
    }

    /// Adds, removes or tries a manual peer.
    pub async fn add_node(
        &self,
        peer: PeerSpec,
        action: AddNodeAction,
    ) -> Result<(), P2pRequestError> {
        self.ask(|r| Request::AddNode(peer, action, r)).await?
    }

    /// Closes a connection.
    pub async fn disconnect(&self, target: DisconnectTarget) -> Result<(), P2pRequestError> {
        self.ask(|r| Request::Disconnect(target, r)).await?
    }

    /// Bans `subnet` (an [`IpAddr`](std::net::IpAddr) converts to its single address) for
    /// `secs` seconds,
    /// closing the connections from inside it.
    pub async fn ban(&self, subnet: impl Into<Subnet>, secs: u64) -> Result<(), P2pRequestError> {
        let subnet = subnet.into();
        self.ask(|r| Request::Ban(subnet, secs, r)).await
    }

    /// Lifts the ban of exactly `subnet`.
    pub async fn unban(&self, subnet: impl Into<Subnet>) -> Result<(), P2pRequestError> {
        let subnet = subnet.into();
        self.ask(|r| Request::Unban(subnet, r)).await?
    }

    /// The banned addresses.
    pub async fn banned(&self) -> Result<Vec<BannedAddress>, P2pRequestError> {
        self.ask(Request::ListBanned).await
    }

    /// Lifts every ban.
    pub async fn clear_banned(&self) -> Result<(), P2pRequestError> {
        self.ask(Request::ClearBanned).await
    }

    /// Announces a transaction the node accepted into its mempool by itself (RPC, wallet).
    /// Blocks need no call: the engine announces every new tip.
    pub fn announce_tx(&self, txid: Txid) {
        // A full queue means the engine is far behind; the transaction is still in the
        // mempool and goes out with the next block that includes it.
        let _ = self.requests.try_send(Request::AnnounceTx(txid));
    }

    /// Traffic and peer counters (for metrics; no round trip to the engine).
    pub fn counters(&self) -> &Arc<NetCounters> {
        &self.counters
    }

    /// Stops the engine: closes every connection and writes the address book. Returns when
    /// it has stopped.
    pub async fn shutdown(&self) {
        let _ = self.ask(Request::Shutdown).await;
    }
}
