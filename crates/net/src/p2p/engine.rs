//! The engine task: owns every peer's state machine, the header chain, the block
//! downloader, the address book, bans and the orphan transactions, and reacts to connection
//! events, requests from the node and a periodic tick. One task, so no locks among these.
//!
//! Lock order, as everywhere in the node: the chainstate before the mempool.

use super::address_book::AddressBook;
use super::backoff::Backoff;
use super::connection::{self, ConnEvent, ConnTasks};
use super::counters::NetCounters;
use super::handle::{
    AddNodeAction, BannedAddress, DisconnectTarget, NetStatus, P2pRequestError, PeerInfo, Request,
};
use super::orphan_txs::OrphanTxs;
use super::{P2pConfig, P2pShared};
use crate::message::{InvKind, Inventory, Message, PeerAddress, MAX_ADDRS, MAX_HEADERS};
use crate::peer::{LocalInfo, Peer, PeerAction};
use crate::reputation::{BanList, Offence};
use crate::sync::{BlockDownloader, HeaderChain, HeadersError, PeerId, SyncProgress};
use crate::transport::{
    Connection, ConnectionSecurity, Direction, PeerSpec, Transport, TransportError,
};
use parthenon_chain::{ChainError, MempoolError, ValidationError};
use parthenon_primitives::{Block, BlockHash, Hash256, Transaction};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most blocks served for one `getdata`; the rest are answered `notfound`.
const MAX_BLOCKS_PER_GETDATA: usize = 128;
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
    /// Set when the slot must go (its outbox overflowed); reaped after the current event.
    doomed: Option<String>,
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
    manual: BTreeMap<String, ManualPeer>,
    connect_only: bool,
    dialling: BTreeSet<DialKey>,
    self_addrs: BTreeSet<SocketAddr>,
    headers: HeaderChain,
    downloader: BlockDownloader,
    progress: SyncProgress,
    last_progress_log_ms: u64,
    last_book_save_ms: u64,
    connected_since_prune: usize,
    orphans: OrphanTxs,
    recent_rejects: HashSet<Hash256>,
    announced_tip: BlockHash,
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
        downloader: BlockDownloader,
        events_tx: mpsc::Sender<(PeerId, ConnEvent)>,
        conns_tx: mpsc::Sender<NewConn>,
    ) -> Self {
        let connect_only = !cfg.connect.is_empty();
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
        let orphans = OrphanTxs::new(cfg.max_orphan_txs, cfg.max_orphan_tx_bytes);
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
            manual,
            connect_only,
            dialling: BTreeSet::new(),
            self_addrs: BTreeSet::new(),
            headers,
            downloader,
            progress: SyncProgress::default(),
            last_progress_log_ms: 0,
            last_book_save_ms: 0,
            connected_since_prune: 0,
            orphans,
            recent_rejects: HashSet::new(),
            announced_tip,
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
        tracing::info!("P2P network stopped");
    }

    // ----- connections -----

    fn on_new_conn(&mut self, c: NewConn) {
        match c {
            NewConn::Inbound(conn) => {
                let ip = conn.peer_addr.ip();
                if self.bans.is_banned(&ip, self.now_unix()) {
                    tracing::debug!(peer = %conn.peer_addr, "refused inbound connection: banned");
                    return;
                }
                let inbound = self.count(Direction::Inbound);
                if inbound >= self.cfg.max_inbound {
                    tracing::debug!(
                        peer = %conn.peer_addr,
                        limit = self.cfg.max_inbound,
                        "refused inbound connection: limit reached"
                    );
                    return;
                }
                self.add_slot(conn, None, None);
            }
            NewConn::Dialled { key, result } => {
                self.dialling.remove(&key);
                let now = self.now_ms();
                match (result, key) {
                    (Ok(conn), DialKey::Manual(k)) => {
                        let keep = self.manual.get(&k).is_some_and(|m| !m.one_try);
                        if !keep {
                            self.manual.remove(&k);
                        }
                        self.add_slot(conn, keep.then_some(k), None);
                    }
                    (Ok(conn), DialKey::Book(a)) => self.add_slot(conn, None, Some(a)),
                    (Err(e), DialKey::Manual(k)) => {
                        tracing::info!(peer = %k, error = %e, "cannot connect to peer");
                        let (base, max) = (self.cfg.reconnect_base_ms, self.cfg.reconnect_max_ms);
                        match self.manual.get_mut(&k) {
                            Some(m) if m.one_try => {
                                self.manual.remove(&k);
                            }
                            Some(m) => m.backoff.failed(now, base, max),
                            None => {}
                        }
                    }
                    (Err(e), DialKey::Book(a)) => {
                        tracing::debug!(peer = %a, error = %e, "cannot connect to address");
                        self.book.failed(
                            &a,
                            now,
                            self.cfg.reconnect_base_ms,
                            self.cfg.reconnect_max_ms,
                        );
                    }
                }
            }
        }
    }

    fn count(&self, d: Direction) -> usize {
        self.slots.values().filter(|s| s.direction == d).count()
    }

    fn add_slot(
        &mut self,
        conn: Connection,
        manual: Option<String>,
        book_addr: Option<SocketAddr>,
    ) {
        let id = PeerId(self.next_id);
        self.next_id += 1;
        let now = self.now_ms();
        let nonce: u64 = self.rng.random();
        let our_addr = SocketAddr::new(conn.local_addr.ip(), self.listen.map_or(0, |l| l.port()));
        let local = LocalInfo {
            nonce,
            best_height: self.shared.chain.read().height(),
            unix_time: self.now_unix() as i64,
            peer_addr: conn.peer_addr,
            our_addr,
        };
        let (peer, actions) = Peer::new(self.cfg.peer.clone(), conn.direction, local, now);
        tracing::debug!(%id, peer = %conn.peer_addr, direction = %conn.direction, "connection open");
        let tasks = connection::spawn(
            id,
            conn.stream,
            self.cfg.params.magic,
            self.events_tx.clone(),
            self.counters.clone(),
            self.cfg.outbox_len,
        );
        self.slots.insert(
            id,
            Slot {
                peer,
                conn: tasks,
                addr: conn.peer_addr,
                direction: conn.direction,
                security: conn.security,
                manual,
                book_addr,
                nonce,
                listen_addr: None,
                opened_ms: now,
                headers_sent_ms: None,
                headers_again: false,
                answered_getaddr: false,
                doomed: None,
            },
        );
        self.update_peer_counts();
        self.apply(id, actions);
    }

    fn update_peer_counts(&self) {
        self.counters.set_peers(
            self.count(Direction::Inbound),
            self.count(Direction::Outbound),
        );
    }

    /// Closes a connection and gives its block requests to others.
    fn drop_peer(&mut self, id: PeerId, reason: &str) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let now = self.now_ms();
        let ready = slot.peer.is_ready();
        tracing::info!(%id, peer = %slot.addr, direction = %slot.direction, reason, "peer disconnected");
        slot.conn.close();
        self.counters.record_disconnect();
        let (base, max) = (self.cfg.reconnect_base_ms, self.cfg.reconnect_max_ms);
        let stable = ready && now.saturating_sub(slot.opened_ms) >= STABLE_CONNECTION_MS;
        if let Some(k) = &slot.manual {
            if let Some(m) = self.manual.get_mut(k) {
                if stable {
                    m.backoff.succeeded();
                }
                m.backoff.failed(now, base, max);
            }
        }
        if let Some(a) = &slot.book_addr {
            if stable {
                self.book.connected(a, self.shared.clock.now_secs());
            }
            self.book.failed(a, now, base, max);
        }
        self.downloader.peer_gone(id);
        self.update_peer_counts();
        self.assign_downloads();
    }

    fn reap(&mut self) {
        let doomed: Vec<(PeerId, String)> = self
            .slots
            .iter()
            .filter_map(|(id, s)| s.doomed.clone().map(|r| (*id, r)))
            .collect();
        for (id, reason) in doomed {
            self.drop_peer(id, &reason);
        }
    }

    fn dial(&mut self, key: DialKey, spec: PeerSpec) {
        self.dialling.insert(key.clone());
        let transport = self.transport.clone();
        let tx = self.conns_tx.clone();
        tokio::spawn(async move {
            let result = transport.dial(&spec).await;
            let _ = tx.send(NewConn::Dialled { key, result }).await;
        });
    }

    fn maintain_outbound(&mut self, now: u64) {
        let connected: BTreeSet<String> = self
            .slots
            .values()
            .filter_map(|s| s.manual.clone())
            .collect();
        let due: Vec<(String, PeerSpec)> = self
            .manual
            .iter()
            .filter(|(k, m)| {
                !connected.contains(*k)
                    && !self.dialling.contains(&DialKey::Manual((*k).clone()))
                    && m.backoff.ready(now)
            })
            .map(|(k, m)| (k.clone(), m.spec.clone()))
            .collect();
        for (k, spec) in due {
            self.dial(DialKey::Manual(k), spec);
        }
        if self.connect_only {
            return;
        }
        let outbound = self
            .slots
            .values()
            .filter(|s| s.direction == Direction::Outbound && s.manual.is_none())
            .count()
            + self
                .dialling
                .iter()
                .filter(|k| matches!(k, DialKey::Book(_)))
                .count();
        let now_unix = self.now_unix();
        let budget = self
            .cfg
            .max_outbound
            .saturating_sub(outbound)
            .min(DIALS_PER_TICK);
        for _ in 0..budget {
            let busy: BTreeSet<SocketAddr> = self
                .slots
                .values()
                .flat_map(|s| [Some(s.addr), s.listen_addr])
                .flatten()
                .collect();
            let pick = self.book.pick(now, &mut self.rng, |a| {
                busy.contains(a)
                    || self.manual.contains_key(&a.to_string())
                    || self.dialling.contains(&DialKey::Book(*a))
                    || self.self_addrs.contains(a)
                    || Some(*a) == self.listen
                    || self.bans.is_banned(&a.ip(), now_unix)
            });
            let Some(addr) = pick else { break };
            self.dial(
                DialKey::Book(addr),
                PeerSpec::new(addr.ip().to_string(), addr.port()),
            );
        }
    }

    // ----- events from connections -----

    fn on_event(&mut self, id: PeerId, ev: ConnEvent) {
        let now = self.now_ms();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let actions = match ev {
            ConnEvent::Message(m) => slot.peer.on_message(m, now),
            ConnEvent::Frame(e) => {
                tracing::info!(%id, peer = %slot.addr, error = %e, "unreadable byte stream");
                slot.peer.on_frame_error(&e)
            }
            ConnEvent::BadMessage(e) => {
                tracing::info!(%id, peer = %slot.addr, error = %e, "malformed message");
                slot.peer.on_message_error(&e)
            }
            ConnEvent::Closed(e) => {
                let reason = match e {
                    Some(e) => format!("connection error: {e}"),
                    None => "closed by peer".to_string(),
                };
                self.drop_peer(id, &reason);
                return;
            }
        };
        self.apply(id, actions);
    }

    fn apply(&mut self, id: PeerId, actions: Vec<PeerAction>) {
        for a in actions {
            if !self.slots.contains_key(&id) {
                return;
            }
            match a {
                PeerAction::Send(m) => self.send(id, &m),
                PeerAction::Misbehaved {
                    offence,
                    score,
                    ban,
                } => {
                    let addr = self.slots[&id].addr;
                    tracing::warn!(%id, peer = %addr, ?offence, score, ban, "peer misbehaved");
                    if ban {
                        self.bans.ban(addr.ip(), self.now_unix(), self.cfg.ban_secs);
                        self.counters.record_ban();
                        self.orphans.forget_peer(id);
                    }
                }
                PeerAction::Disconnect(reason) => {
                    self.drop_peer(id, &reason.to_string());
                    return;
                }
                PeerAction::Connected(v) => self.on_connected(id, *v),
                PeerAction::Deliver(m) => self.on_deliver(id, m),
            }
        }
    }

    fn punish(&mut self, id: PeerId, offence: Offence) {
        if let Some(slot) = self.slots.get_mut(&id) {
            let actions = slot.peer.misbehaved(offence);
            self.apply(id, actions);
        }
    }

    fn send(&mut self, id: PeerId, m: &Message) {
        let frame = connection::frame(self.cfg.params.magic, m, &self.counters);
        self.send_frame(id, frame);
    }

    fn send_frame(&mut self, id: PeerId, frame: Arc<Vec<u8>>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if slot.doomed.is_some() {
            return;
        }
        if let Err(e) = slot.conn.outbox.try_send(frame) {
            slot.doomed = Some(match e {
                mpsc::error::TrySendError::Full(_) => {
                    "send queue full (the peer does not read)".to_string()
                }
                mpsc::error::TrySendError::Closed(_) => "connection closed".to_string(),
            });
        }
    }

    /// Sends `m` to every ready peer but `except`.
    fn broadcast(&mut self, m: &Message, except: Option<PeerId>) {
        let frame = connection::frame(self.cfg.params.magic, m, &self.counters);
        let ids: Vec<PeerId> = self
            .slots
            .iter()
            .filter(|(id, s)| Some(**id) != except && s.peer.is_ready())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_frame(id, frame.clone());
        }
    }

    fn on_connected(&mut self, id: PeerId, v: crate::message::VersionMessage) {
        let now_unix = self.now_unix();
        let (direction, addr, book_addr) = {
            let s = &self.slots[&id];
            (s.direction, s.addr, s.book_addr)
        };
        // A connection to ourselves: our own outbound connection's nonce came back in.
        if direction == Direction::Inbound {
            let own = self
                .slots
                .iter()
                .find(|(_, s)| s.direction == Direction::Outbound && s.nonce == v.nonce)
                .map(|(oid, s)| (*oid, s.addr));
            if let Some((oid, oaddr)) = own {
                tracing::info!(addr = %oaddr, "connected to ourselves; forgetting the address");
                self.self_addrs.insert(oaddr);
                self.book.remove(&oaddr);
                self.drop_peer(oid, "connection to ourselves");
                self.drop_peer(id, "connection to ourselves");
                return;
            }
            if v.sender.port() != 0 {
                let listen = SocketAddr::new(addr.ip(), v.sender.port());
                self.book.add(listen, now_unix);
                if let Some(s) = self.slots.get_mut(&id) {
                    s.listen_addr = Some(listen);
                }
            }
        }
        if let Some(a) = book_addr {
            self.book.connected(&a, now_unix);
        }
        tracing::info!(
            %id,
            peer = %addr,
            %direction,
            user_agent = %v.user_agent,
            height = v.best_height,
            "peer connected"
        );
        if direction == Direction::Outbound {
            self.send(id, &Message::GetAddr);
        }
        self.request_headers(id);
    }

    fn request_headers(&mut self, id: PeerId) {
        let now = self.now_ms();
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if let Some(sent) = slot.headers_sent_ms {
            if now.saturating_sub(sent) < HEADERS_TIMEOUT_MS {
                slot.headers_again = true;
                return;
            }
        }
        slot.headers_sent_ms = Some(now);
        slot.headers_again = false;
        slot.peer.expect_headers(now);
        let locator = self.headers.locator(&self.shared.chain.read());
        self.send(
            id,
            &Message::GetHeaders {
                version: self.cfg.peer.protocol_version,
                locator,
                stop: Hash256::ZERO,
            },
        );
    }

    fn on_deliver(&mut self, id: PeerId, m: Message) {
        match m {
            Message::Headers(h) => self.on_headers(id, h),
            Message::Block(b) => self.on_block(id, b),
            Message::Tx(t) => self.on_tx(id, t),
            Message::Inv(items) => self.on_inv(id, items),
            Message::GetData(items) => self.on_getdata(id, items),
            Message::NotFound(items) => {
                let blocks: Vec<BlockHash> = items
                    .iter()
                    .filter(|i| i.kind == InvKind::Block)
                    .map(|i| i.hash)
                    .collect();
                if !blocks.is_empty() {
                    self.downloader.not_found(id, &blocks);
                    self.assign_downloads();
                }
            }
            Message::GetHeaders { locator, stop, .. } => self.on_getheaders(id, &locator, stop),
            Message::GetAddr => self.on_getaddr(id),
            Message::Addr(list) => {
                let now_unix = self.now_unix();
                for a in list {
                    // A time in the future is a lie; count it as now.
                    let seen = (a.time as u64).min(now_unix);
                    self.book.add(SocketAddr::new(a.ip, a.port), seen);
                }
            }
            // Handled by the state machine, or nothing to do.
            _ => {}
        }
    }

    // ----- headers and blocks -----

    fn on_headers(&mut self, id: PeerId, headers: Vec<parthenon_primitives::BlockHeader>) {
        let again = match self.slots.get_mut(&id) {
            Some(s) => {
                s.headers_sent_ms = None;
                std::mem::take(&mut s.headers_again)
            }
            None => return,
        };
        if headers.is_empty() {
            if again {
                self.request_headers(id);
            }
            return;
        }
        let now_unix_ms = self.now_unix() * 1000;
        let result = {
            let chain = self.shared.chain.read();
            self.headers.accept_headers(&chain, &headers, now_unix_ms)
        };
        match result {
            Ok(acc) => {
                tracing::debug!(%id, added = acc.added, full = acc.full, "headers accepted");
                if acc.full {
                    if let Some(last) = acc.last {
                        self.continue_headers(id, last);
                    }
                } else if again {
                    self.request_headers(id);
                }
                if acc.added > 0 || acc.best_changed {
                    self.replan();
                }
            }
            Err(HeadersError::Full { .. }) => {
                tracing::warn!(%id, "header store full; waiting for blocks before more headers");
            }
            Err(e) => {
                tracing::warn!(%id, error = %e, "headers refused");
                if let Some(o) = e.offence() {
                    self.punish(id, o);
                }
            }
        }
    }

    /// Asks `id` for the headers after `last` (its previous answer was full).
    fn continue_headers(&mut self, id: PeerId, last: BlockHash) {
        let now = self.now_ms();
        let locator = self.headers.locator_from(&self.shared.chain.read(), &last);
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        slot.headers_sent_ms = Some(now);
        slot.peer.expect_headers(now);
        self.send(
            id,
            &Message::GetHeaders {
                version: self.cfg.peer.protocol_version,
                locator,
                stop: Hash256::ZERO,
            },
        );
    }

    /// Recomputes the blocks to fetch and hands them out.
    fn replan(&mut self) {
        let plan = {
            let chain = self.shared.chain.read();
            let tip = self.headers.best_tip(&chain);
            self.counters.set_header_height(tip.height);
            self.headers
                .download_plan(&chain, self.downloader.config().window)
        };
        for (pid, hash) in self.downloader.set_plan(plan) {
            if let Some(s) = self.slots.get_mut(&pid) {
                s.peer.cancel_request(&Inventory {
                    kind: InvKind::Block,
                    hash,
                });
            }
        }
        self.assign_downloads();
    }

    fn assign_downloads(&mut self) {
        let now = self.now_ms();
        let ready: Vec<PeerId> = self
            .slots
            .iter()
            .filter(|(_, s)| s.peer.is_ready() && s.doomed.is_none())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            return;
        }
        for (pid, hashes) in self.downloader.assign(&ready, now) {
            let items: Vec<Inventory> = hashes
                .iter()
                .map(|h| Inventory {
                    kind: InvKind::Block,
                    hash: *h,
                })
                .collect();
            if let Some(s) = self.slots.get_mut(&pid) {
                for i in &items {
                    s.peer.request(*i, now);
                }
            }
            self.send(pid, &Message::GetData(items));
        }
    }

    fn on_block(&mut self, id: PeerId, block: Block) {
        let now = self.now_ms();
        let hash = block.hash();
        self.downloader.received(&hash, now);
        let ntx = block.txs.len();
        let started = tokio::time::Instant::now();
        let now_secs = self.now_unix();
        let result = {
            let mut chain = self.shared.chain.write();
            let r = chain.process_block(block, now_secs);
            if let Ok(outcome) = &r {
                self.shared
                    .mempool
                    .lock()
                    .apply_chain_update(&outcome.update, &chain);
            }
            r.map(|o| (o, chain.height()))
        };
        match result {
            Ok((outcome, height)) => {
                let connected = outcome.update.connected.len();
                if connected > 0 {
                    self.connected_since_prune += connected;
                    if let Some(observe) = &self.shared.on_block_connected {
                        observe(started.elapsed());
                    }
                    let syncing = !self.downloader.is_idle();
                    for (b, h) in &outcome.update.connected {
                        if syncing {
                            tracing::debug!(height = h, hash = %b.hash(), "block connected");
                        } else {
                            tracing::info!(
                                height = h,
                                hash = %b.hash(),
                                txs = b.txs.len(),
                                %id,
                                "block connected"
                            );
                        }
                    }
                    if !outcome.update.disconnected.is_empty() {
                        tracing::info!(
                            disconnected = outcome.update.disconnected.len(),
                            connected,
                            height,
                            "chain reorganised"
                        );
                    }
                    self.record_progress(height);
                    self.retry_orphan_txs();
                }
                tracing::trace!(%hash, txs = ntx, disposition = ?outcome.disposition, "block processed");
            }
            Err(e) => {
                let offence = match &e {
                    ChainError::InvalidBlock { source, .. } => {
                        (!matches!(source, ValidationError::TimeTooNew { .. }))
                            .then_some(Offence::InvalidBlock)
                    }
                    ChainError::KnownInvalid { .. } => Some(Offence::InvalidBlock),
                    _ => None,
                };
                match offence {
                    Some(o) => {
                        tracing::warn!(%id, block = %hash, error = %e, "invalid block from peer");
                        self.punish(id, o);
                    }
                    None => tracing::error!(block = %hash, error = %e, "cannot process block"),
                }
            }
        }
        self.replan();
        self.check_tip();
    }

    fn record_progress(&mut self, height: u32) {
        let now = self.now_ms();
        let target = self.counters.header_height().max(height);
        self.progress.record(now, height, target);
        if target > height
            && now.saturating_sub(self.last_progress_log_ms) >= PROGRESS_LOG_INTERVAL_MS
        {
            self.last_progress_log_ms = now;
            tracing::info!("{}", self.progress);
        }
    }

    /// Announces a new tip once the node is not downloading blocks.
    fn check_tip(&mut self) {
        if !self.downloader.is_idle() {
            return;
        }
        let (tip, height) = {
            let chain = self.shared.chain.read();
            (chain.tip_hash(), chain.height())
        };
        if tip == self.announced_tip {
            return;
        }
        if self.progress.target_height() > 0 && self.progress.height() < height {
            self.record_progress(height);
        }
        self.announced_tip = tip;
        self.broadcast(
            &Message::Inv(vec![Inventory {
                kind: InvKind::Block,
                hash: tip,
            }]),
            None,
        );
        self.retry_orphan_txs();
    }

    fn on_getheaders(&mut self, id: PeerId, locator: &[BlockHash], stop: BlockHash) {
        let headers = {
            let chain = self.shared.chain.read();
            let start = locator
                .iter()
                .find(|h| chain.is_active(h))
                .and_then(|h| chain.entry(h))
                .map_or(1, |e| e.height + 1);
            let end = chain
                .height()
                .min(start.saturating_add(MAX_HEADERS as u32 - 1));
            let mut out = Vec::new();
            for h in start..=end {
                let Some(e) = chain.hash_at(h).and_then(|x| chain.entry(&x)) else {
                    break;
                };
                out.push(e.header);
                if e.hash == stop {
                    break;
                }
            }
            out
        };
        self.send(id, &Message::Headers(headers));
    }

    fn on_getdata(&mut self, id: PeerId, items: Vec<Inventory>) {
        let mut missing = Vec::new();
        let mut blocks_served = 0;
        for item in items {
            match item.kind {
                InvKind::Block => {
                    if blocks_served >= MAX_BLOCKS_PER_GETDATA {
                        missing.push(item);
                        continue;
                    }
                    let read = self.shared.chain.read().read_block(&item.hash);
                    match read {
                        Ok(Some(b)) => {
                            blocks_served += 1;
                            self.send(id, &Message::Block(b));
                        }
                        Ok(None) => missing.push(item),
                        Err(e) => {
                            tracing::error!(block = %item.hash, error = %e, "cannot read block");
                            missing.push(item);
                        }
                    }
                }
                InvKind::Tx => {
                    let tx = self
                        .shared
                        .mempool
                        .lock()
                        .get(&item.hash)
                        .map(|e| e.tx.as_ref().clone());
                    match tx {
                        Some(t) => self.send(id, &Message::Tx(t)),
                        None => missing.push(item),
                    }
                }
            }
        }
        if !missing.is_empty() {
            self.send(id, &Message::NotFound(missing));
        }
    }

    fn on_getaddr(&mut self, id: PeerId) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        // Once per connection: repeated answers would let a peer map the whole book.
        if std::mem::replace(&mut slot.answered_getaddr, true) {
            return;
        }
        let list: Vec<PeerAddress> = self
            .book
            .sample(MAX_ADDRS, &mut self.rng)
            .into_iter()
            .map(|(a, seen)| PeerAddress {
                time: seen.min(u32::MAX as u64) as u32,
                services: 1,
                ip: a.ip(),
                port: a.port(),
            })
            .collect();
        self.send(id, &Message::Addr(list));
    }

    // ----- transactions -----

    fn on_inv(&mut self, id: PeerId, items: Vec<Inventory>) {
        let mut want_headers = false;
        let mut want_txs = Vec::new();
        let mut held = Vec::new();
        {
            let chain = self.shared.chain.read();
            let mempool = self.shared.mempool.lock();
            let in_flight = self
                .slots
                .get(&id)
                .map_or(0, |s| s.peer.requests_in_flight());
            for item in &items {
                match item.kind {
                    InvKind::Block => {
                        if !self.headers.knows(&chain, &item.hash) {
                            want_headers = true;
                        } else if self.headers.contains(&item.hash) {
                            held.push(item.hash);
                        }
                    }
                    InvKind::Tx => {
                        if in_flight + want_txs.len() < MAX_TX_REQUESTS_PER_PEER
                            && !mempool.contains(&item.hash)
                            && !self.orphans.contains(&item.hash)
                            && !self.recent_rejects.contains(&item.hash)
                        {
                            want_txs.push(*item);
                        }
                    }
                }
            }
        }
        if want_headers {
            self.request_headers(id);
        }
        if !held.is_empty() {
            // Blocks whose headers we hold but which are not stored: the peer has them now.
            self.downloader.peer_has_new_blocks(id);
            self.assign_downloads();
        }
        if !want_txs.is_empty() {
            let now = self.now_ms();
            if let Some(s) = self.slots.get_mut(&id) {
                for i in &want_txs {
                    s.peer.request(*i, now);
                }
            }
            self.send(id, &Message::GetData(want_txs));
        }
    }

    /// Offers `tx` to the mempool; what happened.
    fn accept_tx(&mut self, tx: Transaction) -> Result<(), (Transaction, MempoolError)> {
        let chain = self.shared.chain.read();
        let mut mempool = self.shared.mempool.lock();
        match mempool.accept(tx.clone(), &chain) {
            Ok(_) => Ok(()),
            Err(e) => Err((tx, e)),
        }
    }

    fn remember_reject(&mut self, txid: Hash256) {
        if self.recent_rejects.len() >= MAX_RECENT_REJECTS {
            self.recent_rejects.clear();
        }
        self.recent_rejects.insert(txid);
    }

    fn on_tx(&mut self, id: PeerId, tx: Transaction) {
        let txid = tx.txid();
        match self.accept_tx(tx) {
            Ok(()) => {
                tracing::debug!(%id, %txid, "transaction accepted");
                self.relay_tx(txid, Some(id));
                self.retry_orphan_txs();
            }
            Err((tx, MempoolError::Invalid(e)))
                if matches!(*e, ValidationError::MissingInput { .. }) =>
            {
                let now = self.now_ms();
                self.orphans.insert(tx, id, now);
            }
            Err((_, MempoolError::Invalid(e))) => {
                tracing::info!(%id, %txid, error = %e, "invalid transaction from peer");
                self.remember_reject(txid);
                self.punish(id, Offence::InvalidTransaction);
            }
            Err((_, MempoolError::AlreadyKnown(_))) => {}
            Err((_, MempoolError::Chain(e))) => {
                tracing::error!(%txid, error = %e, "cannot check transaction");
            }
            Err((_, e)) => {
                tracing::debug!(%id, %txid, error = %e, "transaction not accepted");
                self.remember_reject(txid);
            }
        }
    }

    fn relay_tx(&mut self, txid: Hash256, except: Option<PeerId>) {
        self.broadcast(
            &Message::Inv(vec![Inventory {
                kind: InvKind::Tx,
                hash: txid,
            }]),
            except,
        );
    }

    /// Offers the orphan transactions to the mempool again until none gets in.
    fn retry_orphan_txs(&mut self) {
        loop {
            if self.orphans.is_empty() {
                return;
            }
            let mut progress = false;
            for (tx, from, added) in self.orphans.take_all() {
                let txid = tx.txid();
                match self.accept_tx(tx) {
                    Ok(()) => {
                        progress = true;
                        self.relay_tx(txid, Some(from));
                    }
                    Err((tx, MempoolError::Invalid(e)))
                        if matches!(*e, ValidationError::MissingInput { .. }) =>
                    {
                        self.orphans.restore(tx, from, added);
                    }
                    Err((_, MempoolError::Invalid(_))) => {
                        self.remember_reject(txid);
                        self.punish(from, Offence::InvalidTransaction);
                    }
                    Err(_) => self.remember_reject(txid),
                }
            }
            if !progress {
                return;
            }
        }
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
        for pid in self
            .downloader
            .stalled(now, self.cfg.block_stall_timeout_ms)
        {
            tracing::warn!(%pid, "peer stalled the block download; its blocks go to others");
            self.drop_peer(pid, "stalled block download");
        }
        self.maintain_outbound(now);
        let now_unix = self.now_unix();
        self.bans.expire(now_unix);
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

    // ----- requests from the node -----

    fn on_request(&mut self, r: Request) {
        match r {
            Request::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Request::AddNode(spec, action, reply) => {
                let _ = reply.send(self.add_node(spec, action));
            }
            Request::Disconnect(target, reply) => {
                let id = match &target {
                    DisconnectTarget::Id(id) => self.slots.contains_key(id).then_some(*id),
                    DisconnectTarget::Addr(a) => self
                        .slots
                        .iter()
                        .find(|(_, s)| s.addr == *a)
                        .map(|(id, _)| *id),
                };
                let result = match id {
                    Some(id) => {
                        self.drop_peer(id, "disconnected by the operator");
                        Ok(())
                    }
                    None => Err(P2pRequestError::NotFound(format!(
                        "no connected peer {target:?}"
                    ))),
                };
                let _ = reply.send(result);
            }
            Request::Ban(ip, secs, reply) => {
                self.bans.ban(ip, self.now_unix(), secs);
                self.counters.record_ban();
                self.save_bans();
                let ids: Vec<PeerId> = self
                    .slots
                    .iter()
                    .filter(|(_, s)| s.addr.ip() == ip)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.drop_peer(id, "banned by the operator");
                }
                let _ = reply.send(());
            }
            Request::Unban(ip, reply) => {
                let result = if self.bans.unban(&ip) {
                    self.save_bans();
                    Ok(())
                } else {
                    Err(P2pRequestError::NotFound(format!("{ip} is not banned")))
                };
                let _ = reply.send(result);
            }
            Request::ListBanned(reply) => {
                let now = self.now_unix();
                self.bans.expire(now);
                let list = self
                    .bans
                    .entries()
                    .into_iter()
                    .map(|(ip, until)| BannedAddress {
                        ip,
                        banned_until: until,
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Request::ClearBanned(reply) => {
                self.bans = BanList::new();
                self.save_bans();
                let _ = reply.send(());
            }
            Request::AnnounceTx(txid) => self.relay_tx(txid, None),
            Request::Shutdown(reply) => {
                // Handled by the run loop; answered here only if it ever gets this far.
                let _ = reply.send(());
            }
        }
    }

    fn save_bans(&self) {
        if let Some(path) = &self.cfg.ban_list {
            if let Err(e) = super::persist::save_bans(path, &self.bans) {
                tracing::warn!(error = %e, "cannot write the ban list");
            }
        }
    }

    fn add_node(&mut self, spec: PeerSpec, action: AddNodeAction) -> Result<(), P2pRequestError> {
        let key = spec.addr();
        match action {
            AddNodeAction::Add => {
                if self.manual.contains_key(&key) {
                    return Err(P2pRequestError::AlreadyAdded(key));
                }
                self.manual.insert(
                    key,
                    ManualPeer {
                        spec,
                        backoff: Backoff::default(),
                        one_try: false,
                    },
                );
                let now = self.now_ms();
                self.maintain_outbound(now);
                Ok(())
            }
            AddNodeAction::Remove => match self.manual.remove(&key) {
                Some(_) => Ok(()),
                None => Err(P2pRequestError::NotAdded(key)),
            },
            AddNodeAction::OneTry => {
                if !self.manual.contains_key(&key) {
                    self.manual.insert(
                        key.clone(),
                        ManualPeer {
                            spec: spec.clone(),
                            backoff: Backoff::default(),
                            one_try: true,
                        },
                    );
                }
                if !self.dialling.contains(&DialKey::Manual(key.clone())) {
                    self.dial(DialKey::Manual(key), spec);
                }
                Ok(())
            }
        }
    }

    fn peer_infos(&self) -> Vec<PeerInfo> {
        let now = self.now_ms();
        self.slots
            .iter()
            .map(|(id, s)| {
                let v = s.peer.their_version();
                let (tls, fp) = match s.security {
                    ConnectionSecurity::Plaintext => (false, None),
                    ConnectionSecurity::Tls { peer_fingerprint } => {
                        (true, peer_fingerprint.map(|f| f.to_string()))
                    }
                };
                PeerInfo {
                    id: id.0,
                    addr: s.addr,
                    direction: s.direction.as_str().to_string(),
                    tls,
                    cert_fingerprint: fp,
                    manual: s.manual.is_some(),
                    ready: s.peer.is_ready(),
                    user_agent: v.map(|v| v.user_agent.clone()),
                    version: v.map(|v| v.version),
                    start_height: v.map(|v| v.best_height),
                    ban_score: s.peer.score(),
                    requests_in_flight: s.peer.requests_in_flight(),
                    blocks_delivered: self.downloader.delivered_by(*id),
                    bytes_received: s.conn.bytes.received.load(Ordering::Relaxed),
                    bytes_sent: s.conn.bytes.sent.load(Ordering::Relaxed),
                    connected_secs: now.saturating_sub(s.opened_ms) / 1000,
                }
            })
            .collect()
    }

    fn status(&self) -> NetStatus {
        let height = self.shared.chain.read().height();
        let header_height = self.counters.header_height().max(height);
        NetStatus {
            listen: self.listen,
            tls: self.cfg.local_fingerprint.is_some(),
            cert_fingerprint: self.cfg.local_fingerprint.map(|f| f.to_string()),
            inbound: self.count(Direction::Inbound),
            outbound: self.count(Direction::Outbound),
            header_height,
            initial_block_download: header_height > height || !self.downloader.is_idle(),
            blocks_in_flight: self.downloader.in_flight(),
            known_addresses: self.book.len(),
            orphan_txs: self.orphans.len(),
        }
    }
}
