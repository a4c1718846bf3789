//! The engine task: owns every peer's state machine, the header chain, the block
//! downloader, the address book, bans and the orphan transactions, and reacts to connection
//! events, requests from the node and a periodic tick. One task, so no locks among these.
//!
//! Lock order, as everywhere in the node: the chainstate before the mempool.
//!
//! The methods are split by concern: [`connections`] (accept, dial, drop, events into the
//! state machines), [`sync`] (headers and blocks), [`relay`] (addresses and transactions),
//! [`requests`] (what the node asks through the handle); the timer is here.

mod connections;
mod relay;
mod requests;
mod serve;
mod sync;

use super::addr_rate::AddrTokens;
use super::address_book::AddressBook;
use super::backoff::Backoff;
use super::connection::{self, ConnEvent, ConnLimits, ConnTasks, Received};
use super::counters::NetCounters;
use super::handle::{
    AddNodeAction, BannedAddress, DisconnectTarget, NetStatus, P2pRequestError, PeerInfo, Request,
};
use super::inbound_gate::InboundGate;
use super::orphan_txs::OrphanTxs;
use super::{P2pConfig, P2pShared};
use crate::message::{InvKind, Inventory, Message, PeerAddress, MAX_ADDRS, MAX_HEADERS};
use crate::peer::{LocalInfo, Peer, PeerAction};
use crate::reputation::{BanList, Offence};
use crate::sync::{
    BlockDownloader, HeaderChain, HeadersError, HeadersPresync, PeerId, PresyncOutcome,
    SyncProgress,
};
use crate::transport::{
    Connection, ConnectionSecurity, Direction, PeerSpec, Transport, TransportError,
};
use parthenon_chain::{ChainError, MempoolError, ValidationError};
use parthenon_primitives::{Block, BlockHash, Hash256, Transaction};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most transactions requested from one peer at a time.
const MAX_TX_REQUESTS_PER_PEER: usize = 1_000;
/// A transaction request unanswered this long is dropped (the peer may have evicted it).
const TX_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// A `getheaders` unanswered this long may be sent again.
const HEADERS_TIMEOUT_MS: u64 = 60_000;
/// Rejected transaction ids remembered (not fetched again), cleared when full.
const MAX_RECENT_REJECTS: usize = 50_000;
/// New outbound dials started per tick at most.
const DIALS_PER_TICK: usize = 2;
/// How often the address book is written.
const BOOK_SAVE_INTERVAL_MS: u64 = 60_000;
/// How often the sync progress line is logged.
const PROGRESS_LOG_INTERVAL_MS: u64 = 5_000;
/// A connection that lasted this long counts as a success for the reconnect backoff.
const STABLE_CONNECTION_MS: u64 = 60_000;

/// A connection handed to the engine.
#[derive(Debug)]
pub(crate) enum NewConn {
    Inbound(Connection),
    Dialled {
        key: DialKey,
        result: Result<Connection, TransportError>,
    },
}

/// What a dial was for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DialKey {
    /// A manual peer, by its `HOST:PORT`.
    Manual(String),
    /// An address from the book.
    Book(SocketAddr),
}

/// A peer the operator named (`--connect`, `--addnode`, RPC `addnode`).
#[derive(Debug)]
struct ManualPeer {
    spec: PeerSpec,
    backoff: Backoff,
    /// `addnode onetry`: forgotten after one attempt.
    one_try: bool,
}

/// One open connection.
struct Slot {
    peer: Peer,
    conn: ConnTasks,
    addr: SocketAddr,
    direction: Direction,
    security: ConnectionSecurity,
    manual: Option<String>,
    book_addr: Option<SocketAddr>,
    nonce: u64,
    /// Where an inbound peer says it accepts connections (its IP, its advertised port), so
    /// the address book does not dial it a second time.
    listen_addr: Option<SocketAddr>,
    opened_ms: u64,
    headers_sent_ms: Option<u64>,
    headers_again: bool,
    answered_getaddr: bool,
    /// How many gossiped addresses this peer may still make us process.
    addr_tokens: AddrTokens,
    /// When this peer last gave us a block that extended our chain (eviction protects it).
    last_block_ms: Option<u64>,
    /// When this peer last gave us a transaction the mempool took (eviction protects it).
    last_tx_ms: Option<u64>,
    /// Set when the slot must go (its outbox overflowed); reaped after the current event.
    doomed: Option<String>,
    /// The peer's messages held while it is paused, in order (see [`serve`]).
    deferred: VecDeque<Received>,
    /// Items of the peer's `getdata` not served yet, served as its send queue drains.
    getdata: VecDeque<Inventory>,
    /// Items of the peer's `getdata` we do not have, sent as one `notfound` at the end.
    notfound: Vec<Inventory>,
    /// While the send queue is over budget: the bytes sent when that was last seen to
    /// change, and when.
    send_progress: Option<(u64, u64)>,
}

/// The engine (see the [module docs](self)).
pub(crate) struct Engine {
    cfg: P2pConfig,
    shared: P2pShared,
    transport: Arc<dyn Transport>,
    counters: Arc<NetCounters>,
    rng: StdRng,
    epoch: tokio::time::Instant,
    listen: Option<SocketAddr>,
    slots: BTreeMap<PeerId, Slot>,
    next_id: u64,
    events_tx: mpsc::Sender<(PeerId, ConnEvent)>,
    conns_tx: mpsc::Sender<NewConn>,
    book: AddressBook,
    bans: BanList,
    /// Bans changed since the ban list file was last written.
    bans_dirty: bool,
    /// The listener's gate (bans, per-address limits), shared with the accept task.
    gate: Arc<InboundGate>,
    /// Keys the network-group hash of inbound eviction.
    eviction_key: [u8; 32],
    manual: BTreeMap<String, ManualPeer>,
    connect_only: bool,
    dialling: BTreeSet<DialKey>,
    self_addrs: BTreeSet<SocketAddr>,
    headers: HeaderChain,
    presync: HeadersPresync,
    /// When the header store last refused headers (full, or a peer's budget spent), and
    /// why; cleared when headers are stored again.
    header_store_refused: Option<(u64, String)>,
    downloader: BlockDownloader,
    progress: SyncProgress,
    last_progress_log_ms: u64,
    last_book_save_ms: u64,
    connected_since_prune: usize,
    orphans: OrphanTxs,
    recent_rejects: HashSet<Hash256>,
    announced_tip: BlockHash,
    /// The event queue's byte budget, shared by every connection's reader.
    event_budget: Arc<tokio::sync::Semaphore>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: P2pConfig,
        shared: P2pShared,
        transport: Arc<dyn Transport>,
        counters: Arc<NetCounters>,
        rng: StdRng,
        listen: Option<SocketAddr>,
        book: AddressBook,
        bans: BanList,
        gate: Arc<InboundGate>,
        downloader: BlockDownloader,
        events_tx: mpsc::Sender<(PeerId, ConnEvent)>,
        conns_tx: mpsc::Sender<NewConn>,
    ) -> Self {
        let connect_only = !cfg.connect.is_empty();
        let cfg_event_bytes = cfg
            .event_queue_bytes
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        let mut manual = BTreeMap::new();
        for spec in cfg.connect.iter().chain(&cfg.addnode) {
            manual.insert(
                spec.addr(),
                ManualPeer {
                    spec: spec.clone(),
                    backoff: Backoff::default(),
                    one_try: false,
                },
            );
        }
        let announced_tip = shared.chain.read().tip_hash();
        let headers = HeaderChain::new(cfg.params);
        let cfg_params = cfg.params;
        let orphans = OrphanTxs::new(cfg.max_orphan_txs, cfg.max_orphan_tx_bytes);
        let mut rng = rng;
        let eviction_key: [u8; 32] = rng.random();
        Engine {
            cfg,
            shared,
            transport,
            counters,
            rng,
            epoch: tokio::time::Instant::now(),
            listen,
            slots: BTreeMap::new(),
            next_id: 1,
            events_tx,
            conns_tx,
            book,
            bans,
            bans_dirty: false,
            gate,
            eviction_key,
            manual,
            connect_only,
            dialling: BTreeSet::new(),
            self_addrs: BTreeSet::new(),
            headers,
            presync: HeadersPresync::new(cfg_params),
            header_store_refused: None,
            downloader,
            progress: SyncProgress::default(),
            last_progress_log_ms: 0,
            last_book_save_ms: 0,
            connected_since_prune: 0,
            orphans,
            recent_rejects: HashSet::new(),
            announced_tip,
            event_budget: Arc::new(tokio::sync::Semaphore::new(cfg_event_bytes)),
        }
    }

    /// The budgets of a new connection.
    fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            outbox_len: self.cfg.outbox_len,
            send_budget: self.cfg.send_buffer_bytes,
            recv_budget: self.cfg.recv_buffer_bytes,
            queue_budget: self.event_budget.clone(),
            queue_bytes: self.cfg.event_queue_bytes,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn now_unix(&self) -> u64 {
        self.shared.clock.now_secs()
    }

    /// Runs until a shutdown request or until every handle is gone.
    pub(crate) async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut conns: mpsc::Receiver<NewConn>,
        mut events: mpsc::Receiver<(PeerId, ConnEvent)>,
    ) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(self.cfg.tick_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop_reply = None;
        loop {
            // Biased, in this order, so the run is reproducible in simulation and neither
            // requests nor timers starve behind a busy stream of peer messages.
            tokio::select! {
                biased;
                req = requests.recv() => match req {
                    Some(Request::Shutdown(reply)) => { stop_reply = Some(reply); break; }
                    Some(r) => self.on_request(r),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
                Some(c) = conns.recv() => self.on_new_conn(c),
                Some((id, ev)) = events.recv() => self.on_event(id, ev),
            }
            self.reap();
        }
        self.stop();
        if let Some(r) = stop_reply {
            let _ = r.send(());
        }
    }

    fn stop(&mut self) {
        let ids: Vec<PeerId> = self.slots.keys().copied().collect();
        for id in ids {
            self.drop_peer(id, "node shutting down");
        }
        if let Err(e) = self.book.save_if_dirty() {
            tracing::warn!(error = %e, "cannot write the address book");
        }
        self.save_bans_if_dirty();
        tracing::info!("P2P network stopped");
    }

    // ----- timer -----

    fn on_tick(&mut self) {
        let now = self.now_ms();
        let ids: Vec<PeerId> = self.slots.keys().copied().collect();
        for id in ids {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let stale: Vec<Inventory> = slot
                .peer
                .stalled_requests(now, TX_REQUEST_TIMEOUT_MS)
                .into_iter()
                .filter(|i| i.kind == InvKind::Tx)
                .collect();
            for i in &stale {
                slot.peer.cancel_request(i);
            }
            let actions = slot.peer.on_tick(now);
            self.apply(id, actions);
        }
        self.tick_send_queues(now);
        for pid in self
            .downloader
            .stalled(now, self.cfg.block_stall_timeout_ms)
        {
            tracing::warn!(%pid, "peer stalled the block download; its blocks go to others");
            self.punish(pid, Offence::Stalling);
            self.drop_peer(pid, "stalled block download");
        }
        self.maintain_outbound(now);
        let now_unix = self.now_unix();
        let bans = self.bans.len();
        self.bans.expire(now_unix);
        if self.bans.len() != bans {
            self.bans_changed();
        }
        self.save_bans_if_dirty();
        self.orphans.expire(now);
        if self.connected_since_prune >= 500
            || (self.connected_since_prune > 0 && self.downloader.is_idle())
        {
            self.headers.prune(&self.shared.chain.read());
            self.connected_since_prune = 0;
        }
        self.assign_downloads();
        self.check_tip();
        if now.saturating_sub(self.last_book_save_ms) >= BOOK_SAVE_INTERVAL_MS {
            self.last_book_save_ms = now;
            if let Err(e) = self.book.save_if_dirty() {
                tracing::warn!(error = %e, "cannot write the address book");
            }
        }
    }
}
