//! The per-peer protocol state machine, sans I/O.
//!
//! A [`Peer`] takes decoded messages, frame errors and clock ticks (milliseconds on the
//! driver's monotonic clock) and returns [`PeerAction`]s: messages to send, a disconnect,
//! a misbehaviour score, or a message delivered to the node. The async driver only moves
//! bytes, so handshakes, pings, rate limits and unsolicited-data rules are tested here
//! without sockets.
//!
//! Rules:
//! - handshake: the outbound side sends `version` first; each side answers a `version`
//!   with `verack`; the peer is ready once it has both sent and received `verack`. A wrong
//!   network, our own nonce (a connection to ourselves) or an obsolete protocol version
//!   disconnects; anything else before the handshake is a protocol violation;
//! - liveness: a ready peer is pinged every `ping_interval_ms`; no matching `pong` within
//!   `ping_timeout_ms` disconnects, and so does an unfinished handshake after
//!   `handshake_timeout_ms`;
//! - blocks and transactions are accepted only when requested ([`Peer::request`]), headers
//!   only after a `getheaders` ([`Peer::expect_headers`]); anything else scores
//!   [`Offence::UnsolicitedData`] and is dropped;
//! - every message the peer sends on its own initiative spends a token from a bucket
//!   refilled at `rate_per_sec`; an empty bucket scores [`Offence::Flood`]. Answers to what we
//!   asked for (requested blocks and transactions, the `headers` answering our `getheaders`,
//!   a `notfound` for requested items, the `pong` to our ping) and requests for data
//!   (`getdata`, `getheaders`, whose cost is what they make us send, bounded by the send
//!   queue) spend nothing, so a sync at full speed in either direction never trips it;
//! - a transaction larger than `max_tx_size` is refused from its encoded length, before it is
//!   hashed, and scores [`Offence::OversizedTransaction`];
//! - the bytes of transactions the mempool refuses are charged to a second bucket
//!   (`rejected_tx_burst_bytes`, refilled at `rejected_tx_bytes_per_sec`,
//!   [`Peer::charge_rejected_tx`]): an honest peer relaying the odd double spend or low-fee
//!   transaction stays far inside it, a peer making us validate junk scores
//!   [`Offence::RejectedTransactionFlood`] for every transaction beyond it.

#[cfg(test)]
mod tests;

use crate::frame::FrameError;
use crate::message::{InvKind, Inventory, Message, MessageError, VersionMessage};
use crate::reputation::{Offence, Score};
use parthenon_primitives::BlockHash;
use parthenon_primitives::{Transaction, Txid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Settings shared by all peers of a node.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The network's magic bytes.
    pub magic: [u8; 4],
    /// Our protocol version.
    pub protocol_version: u32,
    /// The oldest protocol version we talk to.
    pub min_protocol_version: u32,
    /// Services we offer.
    pub services: u64,
    /// Our user agent.
    pub user_agent: String,
    /// Time allowed for the handshake.
    pub handshake_timeout_ms: u64,
    /// Time between pings.
    pub ping_interval_ms: u64,
    /// Time a ping may go unanswered.
    pub ping_timeout_ms: u64,
    /// Messages a peer may send in a burst.
    pub rate_burst: u32,
    /// Sustained messages per second.
    pub rate_per_sec: u32,
    /// Largest transaction accepted from a peer, in encoded bytes (the mempool's standard
    /// size); a larger one is refused before it is hashed.
    pub max_tx_size: usize,
    /// Bytes of transactions the mempool refused that a peer may send in a burst.
    pub rejected_tx_burst_bytes: u32,
    /// Sustained bytes per second of refused transactions.
    pub rejected_tx_bytes_per_sec: u32,
}

/// The protocol version this node speaks.
pub const PROTOCOL_VERSION: u32 = 1;

impl PeerConfig {
    /// Defaults for a network with `magic`.
    pub fn new(magic: [u8; 4]) -> Self {
        PeerConfig {
            magic,
            protocol_version: PROTOCOL_VERSION,
            min_protocol_version: PROTOCOL_VERSION,
            services: 1,
            user_agent: format!("/parthenon:{}/", env!("CARGO_PKG_VERSION")),
            handshake_timeout_ms: 30_000,
            ping_interval_ms: 60_000,
            ping_timeout_ms: 30_000,
            rate_burst: 2_000,
            rate_per_sec: 500,
            max_tx_size: parthenon_chain::mempool::MAX_STANDARD_TX_SIZE,
            rejected_tx_burst_bytes: 1 << 20,
            rejected_tx_bytes_per_sec: 100 << 10,
        }
    }
}

pub use crate::transport::Direction;

/// What we tell the peer about ourselves in `version`.
#[derive(Debug, Clone)]
pub struct LocalInfo {
    /// Our nonce for this connection.
    pub nonce: u64,
    /// Our best height.
    pub best_height: u32,
    /// Unix time in seconds.
    pub unix_time: i64,
    /// The peer's address as we see it.
    pub peer_addr: SocketAddr,
    /// Our own address.
    pub our_addr: SocketAddr,
    /// Seed of this connection's ping nonces. The engine draws it from its RNG (seeded from
    /// the OS, or fixed in a simulation) apart from `nonce`, so a peer that sees our
    /// `version` still cannot predict the pings and answer them without reading.
    pub ping_seed: [u8; 32],
}

/// Why a peer is disconnected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisconnectReason {
    /// The peer sent our own nonce back: we connected to ourselves.
    #[error("connected to ourselves")]
    SelfConnection,
    /// The peer is on another network.
    #[error("peer is on another network (magic {got:02x?})")]
    WrongNetwork {
        /// The peer's magic.
        got: [u8; 4],
    },
    /// The peer's protocol version is too old.
    #[error("peer speaks protocol version {version}, older than the minimum {min}")]
    ObsoleteVersion {
        /// The peer's version.
        version: u32,
        /// Our minimum.
        min: u32,
    },
    /// The handshake did not finish in time.
    #[error("handshake not finished within {0} ms")]
    HandshakeTimeout(u64),
    /// A ping went unanswered.
    #[error("no pong within {0} ms")]
    PingTimeout(u64),
    /// The misbehaviour score reached the ban threshold.
    #[error("misbehaviour score {score} after {last:?}")]
    Misbehaving {
        /// The score.
        score: u32,
        /// The last offence.
        last: Offence,
    },
}

/// What the driver must do after feeding the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerAction {
    /// Send this message to the peer.
    Send(Message),
    /// The peer misbehaved; `ban` is true when its score reached the threshold (a
    /// [`PeerAction::Disconnect`] follows then).
    Misbehaved {
        /// The offence.
        offence: Offence,
        /// The score after it.
        score: u32,
        /// Whether to ban.
        ban: bool,
    },
    /// Close the connection.
    Disconnect(DisconnectReason),
    /// The handshake finished; this is what the peer said about itself.
    Connected(Box<VersionMessage>),
    /// A message for the node (sync, relay, address book).
    Deliver(Message),
    /// A requested transaction for the node, with the txid the state machine computed to
    /// match it against the request (so it is hashed once here, not again by the driver).
    DeliverTx(Box<Transaction>, Txid),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Ready,
    Closed,
}

/// One peer's protocol state.
#[derive(Debug)]
pub struct Peer {
    config: PeerConfig,
    direction: Direction,
    local: LocalInfo,
    phase: Phase,
    their_version: Option<VersionMessage>,
    got_verack: bool,
    connected_at_ms: u64,
    next_ping_at_ms: u64,
    outstanding_ping: Option<(u64, u64)>,
    ping_nonces: StdRng,
    score: Score,
    tokens: f64,
    refilled_at_ms: u64,
    reject_budget: f64,
    reject_refilled_at_ms: u64,
    requested: HashMap<Inventory, u64>,
    headers_requested_at: Option<u64>,
    /// Lowest ping round trip seen (inbound eviction protects fast peers).
    min_ping_ms: Option<u64>,
}

impl Peer {
    /// A new connection at `now_ms`; an outbound peer's first action sends our `version`.
    pub fn new(
        config: PeerConfig,
        direction: Direction,
        local: LocalInfo,
        now_ms: u64,
    ) -> (Peer, Vec<PeerAction>) {
        let tokens = config.rate_burst as f64;
        let reject_budget = config.rejected_tx_burst_bytes as f64;
        let ping_nonces = StdRng::from_seed(local.ping_seed);
        let peer = Peer {
            config,
            direction,
            local,
            phase: Phase::Handshaking,
            their_version: None,
            got_verack: false,
            connected_at_ms: now_ms,
            next_ping_at_ms: 0,
            outstanding_ping: None,
            ping_nonces,
            score: Score::default(),
            tokens,
            refilled_at_ms: now_ms,
            reject_budget,
            reject_refilled_at_ms: now_ms,
            requested: HashMap::new(),
            headers_requested_at: None,
            min_ping_ms: None,
        };
        let actions = match direction {
            Direction::Outbound => vec![PeerAction::Send(Message::Version(peer.our_version()))],
            Direction::Inbound => Vec::new(),
        };
        (peer, actions)
    }

    fn our_version(&self) -> VersionMessage {
        VersionMessage {
            version: self.config.protocol_version,
            magic: self.config.magic,
            services: self.config.services,
            timestamp: self.local.unix_time,
            receiver: self.local.peer_addr,
            sender: self.local.our_addr,
            nonce: self.local.nonce,
            user_agent: self.config.user_agent.clone(),
            best_height: self.local.best_height,
        }
    }

    /// Whether the handshake finished and the connection is open.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Whether the state machine asked for a disconnect.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The direction of the connection.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// What the peer said in its `version`.
    pub fn their_version(&self) -> Option<&VersionMessage> {
        self.their_version.as_ref()
    }

    /// The lowest ping round trip measured so far (ms).
    pub fn min_ping_ms(&self) -> Option<u64> {
        self.min_ping_ms
    }

    /// The misbehaviour score.
    pub fn score(&self) -> u32 {
        self.score.value()
    }

    /// Number of block and transaction requests not answered yet.
    pub fn requests_in_flight(&self) -> usize {
        self.requested.len()
    }

    /// Records that we asked this peer for `inv` at `now_ms`, so its answer is solicited.
    pub fn request(&mut self, inv: Inventory, now_ms: u64) {
        self.requested.insert(inv, now_ms);
    }

    /// Forgets a request (it was answered elsewhere or given up).
    pub fn cancel_request(&mut self, inv: &Inventory) {
        self.requested.remove(inv);
    }

    /// Records that we sent `getheaders`, so one `headers` answer is solicited.
    pub fn expect_headers(&mut self, now_ms: u64) {
        self.headers_requested_at = Some(now_ms);
    }

    /// Requests older than `timeout_ms` at `now_ms` (the peer is stalling them).
    pub fn stalled_requests(&self, now_ms: u64, timeout_ms: u64) -> Vec<Inventory> {
        let mut v: Vec<Inventory> = self
            .requested
            .iter()
            .filter(|(_, at)| now_ms.saturating_sub(**at) > timeout_ms)
            .map(|(inv, _)| *inv)
            .collect();
        v.sort_by_key(|i| (i.kind as u8, i.hash));
        v
    }

    /// Scores an offence the node found (an invalid block or transaction from this peer).
    pub fn misbehaved(&mut self, offence: Offence) -> Vec<PeerAction> {
        let mut out = Vec::new();
        self.punish(offence, &mut out);
        out
    }

    fn punish(&mut self, offence: Offence, out: &mut Vec<PeerAction>) {
        let ban = self.score.add(offence);
        out.push(PeerAction::Misbehaved {
            offence,
            score: self.score.value(),
            ban,
        });
        if ban {
            self.close(
                DisconnectReason::Misbehaving {
                    score: self.score.value(),
                    last: offence,
                },
                out,
            );
        }
    }

    fn close(&mut self, reason: DisconnectReason, out: &mut Vec<PeerAction>) {
        if self.phase != Phase::Closed {
            self.phase = Phase::Closed;
            out.push(PeerAction::Disconnect(reason));
        }
    }

    /// The frame decoder failed: the stream cannot be resynchronised, so this bans.
    pub fn on_frame_error(&mut self, _error: &FrameError) -> Vec<PeerAction> {
        self.misbehaved(Offence::MalformedMessage)
    }

    /// A frame's payload did not decode.
    pub fn on_message_error(&mut self, _error: &MessageError) -> Vec<PeerAction> {
        self.misbehaved(Offence::MalformedMessage)
    }

    /// The mempool refused a transaction of `bytes` from this peer at `now_ms`: charges its
    /// size to the refused-transaction budget, scoring
    /// [`Offence::RejectedTransactionFlood`] when the budget is spent.
    pub fn charge_rejected_tx(&mut self, bytes: usize, now_ms: u64) -> Vec<PeerAction> {
        let elapsed = now_ms.saturating_sub(self.reject_refilled_at_ms) as f64 / 1000.0;
        self.reject_refilled_at_ms = now_ms;
        self.reject_budget = (self.reject_budget
            + elapsed * self.config.rejected_tx_bytes_per_sec as f64)
            .min(self.config.rejected_tx_burst_bytes as f64)
            - bytes as f64;
        let mut out = Vec::new();
        if self.reject_budget < 0.0 {
            self.reject_budget = 0.0;
            self.punish(Offence::RejectedTransactionFlood, &mut out);
        }
        out
    }

    fn take_token(&mut self, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.refilled_at_ms) as f64 / 1000.0;
        self.refilled_at_ms = now_ms;
        self.tokens = (self.tokens + elapsed * self.config.rate_per_sec as f64)
            .min(self.config.rate_burst as f64);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether `msg` answers something we asked this peer for, or asks us for data: such
    /// messages spend no rate-limit token (see the [module docs](self)). `block_hash` is the
    /// hash of `msg` when it is a block (computed once by the caller).
    fn is_exempt_from_rate(&self, msg: &Message, block_hash: Option<BlockHash>) -> bool {
        match msg {
            Message::Block(_) => block_hash.is_some_and(|hash| {
                self.requested.contains_key(&Inventory {
                    kind: InvKind::Block,
                    hash,
                })
            }),
            Message::Headers(_) => self.headers_requested_at.is_some(),
            Message::NotFound(items) => items.iter().all(|i| self.requested.contains_key(i)),
            Message::Pong(n) => self.outstanding_ping.is_some_and(|(nonce, _)| nonce == *n),
            Message::GetData(_) | Message::GetHeaders { .. } => true,
            _ => false,
        }
    }

    /// Feeds one decoded message received at `now_ms`.
    pub fn on_message(&mut self, msg: Message, now_ms: u64) -> Vec<PeerAction> {
        let mut out = Vec::new();
        if self.phase == Phase::Closed {
            return out;
        }
        // A transaction is refused on its length before anything else is spent on it.
        if let Message::Tx(t) = &msg {
            if t.encoded_len() > self.config.max_tx_size {
                self.punish(Offence::OversizedTransaction, &mut out);
                return out;
            }
        }
        let block_hash = match &msg {
            Message::Block(b) => Some(b.hash()),
            _ => None,
        };
        // A transaction is solicited when its txid was requested: hash it once, here.
        let txid = match &msg {
            Message::Tx(t) => Some(t.txid()),
            _ => None,
        };
        let solicited_tx = txid.is_some_and(|hash| {
            self.requested.contains_key(&Inventory {
                kind: InvKind::Tx,
                hash,
            })
        });
        let exempt = self.phase == Phase::Ready
            && (solicited_tx || self.is_exempt_from_rate(&msg, block_hash));
        if !exempt && !self.take_token(now_ms) {
            self.punish(Offence::Flood, &mut out);
            return out;
        }
        match (self.phase, msg) {
            (_, Message::Version(v)) => self.on_version(v, now_ms, &mut out),
            (_, Message::Verack) => self.on_verack(now_ms, &mut out),
            (_, Message::Unknown { .. }) => {}
            (Phase::Handshaking, _) => self.punish(Offence::ProtocolViolation, &mut out),
            (_, Message::Ping(n)) => out.push(PeerAction::Send(Message::Pong(n))),
            (_, Message::Pong(n)) => {
                if let Some((_, sent)) = self.outstanding_ping.filter(|(nonce, _)| *nonce == n) {
                    self.outstanding_ping = None;
                    let rtt = now_ms.saturating_sub(sent);
                    self.min_ping_ms = Some(self.min_ping_ms.map_or(rtt, |m| m.min(rtt)));
                }
            }
            (_, Message::Block(b)) => {
                let inv = Inventory {
                    kind: InvKind::Block,
                    hash: block_hash.unwrap_or_else(|| b.hash()),
                };
                self.deliver_if_requested(inv, Message::Block(b), &mut out);
            }
            (_, Message::Tx(t)) => {
                let txid = txid.unwrap_or_else(|| t.txid());
                let inv = Inventory {
                    kind: InvKind::Tx,
                    hash: txid,
                };
                if self.requested.remove(&inv).is_some() {
                    out.push(PeerAction::DeliverTx(Box::new(t), txid));
                } else {
                    self.punish(Offence::UnsolicitedData, &mut out);
                }
            }
            (_, Message::Headers(h)) => {
                if self.headers_requested_at.take().is_some() {
                    out.push(PeerAction::Deliver(Message::Headers(h)));
                } else {
                    self.punish(Offence::UnsolicitedData, &mut out);
                }
            }
            (_, Message::NotFound(items)) => {
                for i in &items {
                    self.requested.remove(i);
                }
                out.push(PeerAction::Deliver(Message::NotFound(items)));
            }
            (_, other) => out.push(PeerAction::Deliver(other)),
        }
        out
    }

    fn deliver_if_requested(&mut self, inv: Inventory, msg: Message, out: &mut Vec<PeerAction>) {
        if self.requested.remove(&inv).is_some() {
            out.push(PeerAction::Deliver(msg));
        } else {
            self.punish(Offence::UnsolicitedData, out);
        }
    }

    fn on_version(&mut self, v: VersionMessage, now_ms: u64, out: &mut Vec<PeerAction>) {
        if self.their_version.is_some() {
            self.punish(Offence::ProtocolViolation, out);
            return;
        }
        if v.magic != self.config.magic {
            return self.close(DisconnectReason::WrongNetwork { got: v.magic }, out);
        }
        if v.nonce == self.local.nonce {
            return self.close(DisconnectReason::SelfConnection, out);
        }
        if v.version < self.config.min_protocol_version {
            return self.close(
                DisconnectReason::ObsoleteVersion {
                    version: v.version,
                    min: self.config.min_protocol_version,
                },
                out,
            );
        }
        if self.direction == Direction::Inbound {
            out.push(PeerAction::Send(Message::Version(self.our_version())));
        }
        out.push(PeerAction::Send(Message::Verack));
        self.their_version = Some(v);
        self.maybe_ready(now_ms, out);
    }

    fn on_verack(&mut self, now_ms: u64, out: &mut Vec<PeerAction>) {
        if self.their_version.is_none() || self.got_verack {
            self.punish(Offence::ProtocolViolation, out);
            return;
        }
        self.got_verack = true;
        self.maybe_ready(now_ms, out);
    }

    fn maybe_ready(&mut self, now_ms: u64, out: &mut Vec<PeerAction>) {
        if self.phase == Phase::Handshaking && self.got_verack {
            if let Some(v) = &self.their_version {
                self.phase = Phase::Ready;
                self.next_ping_at_ms = now_ms + self.config.ping_interval_ms;
                out.push(PeerAction::Connected(Box::new(v.clone())));
            }
        }
    }

    /// Advances timers to `now_ms`: handshake timeout, pings and ping timeout.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<PeerAction> {
        let mut out = Vec::new();
        match self.phase {
            Phase::Closed => {}
            Phase::Handshaking => {
                if now_ms.saturating_sub(self.connected_at_ms) > self.config.handshake_timeout_ms {
                    self.close(
                        DisconnectReason::HandshakeTimeout(self.config.handshake_timeout_ms),
                        &mut out,
                    );
                }
            }
            Phase::Ready => {
                if let Some((_, sent)) = self.outstanding_ping {
                    if now_ms.saturating_sub(sent) > self.config.ping_timeout_ms {
                        self.close(
                            DisconnectReason::PingTimeout(self.config.ping_timeout_ms),
                            &mut out,
                        );
                    }
                } else if now_ms >= self.next_ping_at_ms {
                    // Unpredictable: a peer must read the ping to answer it.
                    let nonce: u64 = self.ping_nonces.random();
                    self.outstanding_ping = Some((nonce, now_ms));
                    self.next_ping_at_ms = now_ms + self.config.ping_interval_ms;
                    out.push(PeerAction::Send(Message::Ping(nonce)));
                }
            }
        }
        out
    }
}
