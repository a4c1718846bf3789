//! The block download scheduler: which peer fetches which block, and who is stalling.
//!
//! [`BlockDownloader`] is fed a [`DownloadPlan`] (from
//! [`HeaderChain::download_plan`](super::HeaderChain::download_plan)) and the ready peers; it
//! hands out `getdata` requests so that
//! - each peer has at most `per_peer` blocks in flight;
//! - nothing above `base + window` is requested, `base` being the last block of the best
//!   header chain the chainstate stores. Blocks arriving out of order inside the window wait
//!   in the chainstate's orphan pool, so `window` must not exceed its capacity
//!   ([`BlockDownloader::new`] checks it; the default window equals
//!   [`DEFAULT_MAX_ORPHANS`]). Held blocks that the pool evicts anyway (its byte budget is
//!   64 MiB) simply reappear in the next plan and are fetched again;
//! - the lowest missing block — the one the window waits on — goes to the fastest peer with
//!   room, then each peer in order of speed takes the next lowest blocks, a run at a time.
//!
//! Stalls: every request has its own deadline, fixed when it is sent and not moved by the
//! delivery of anything else: `timeout × position`, where `position` is the request's place
//! in the peer's queue at the time (1 for a request sent to an idle peer, `per_peer` for the
//! last of a full batch), since a peer serves a `getdata` in order. A peer trickling one block
//! now and then therefore cannot hold the block the window waits on indefinitely. The timeout
//! doubles for each time that block was already taken from a stalling peer, up to
//! 2^[`MAX_TIMEOUT_DOUBLINGS`] times: the block the window waits on, once reassigned, gets
//! more time rather than churning through every peer on a slow network.
//! [`BlockDownloader::stalled`] takes every overdue peer's requests back for the other peers
//! and reports the peers so the driver scores and disconnects them. When every peer is
//! overdue, only the worst (the most overdue) is reported, so the node keeps its other
//! sources and the driver can dial a replacement; a node whose only peer stalls drops it and
//! dials again rather than wait forever.
//!
//! The driver's order of calls for a block received: [`BlockDownloader::received`], then
//! `Chainstate::process_block`, then [`BlockDownloader::set_plan`] with a fresh plan. A block
//! the plan still lists after that (the chainstate rejected or evicted it) is requested again.

use super::{DownloadPlan, PeerId};
use parthenon_chain::orphans::DEFAULT_MAX_ORPHANS;
use parthenon_primitives::BlockHash;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Default number of blocks one peer may have in flight.
pub const DEFAULT_PER_PEER: usize = 16;
/// Default number of blocks the download window spans above the last stored block.
pub const DEFAULT_WINDOW: u32 = 128;
/// Default time a peer may go without delivering a requested block (10 s).
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 10_000;
/// Most times a block's stall timeout doubles after being taken from stalling peers.
pub const MAX_TIMEOUT_DOUBLINGS: u32 = 3;

// Blocks inside the window wait in the orphan pool: the default window must fit in it.
const _: () = assert!(DEFAULT_WINDOW as usize <= DEFAULT_MAX_ORPHANS);

/// Limits of the download scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadConfig {
    /// Most blocks in flight from one peer.
    pub per_peer: usize,
    /// Most blocks above the last stored block of the best header chain that are requested
    /// or held.
    pub window: u32,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            per_peer: DEFAULT_PER_PEER,
            window: DEFAULT_WINDOW,
        }
    }
}

/// Why a [`DownloadConfig`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadConfigError {
    /// `per_peer` is zero: nothing could ever be requested.
    #[error("per-peer request limit is zero")]
    ZeroPerPeer,
    /// `window` is zero: nothing could ever be requested.
    #[error("download window is zero")]
    ZeroWindow,
    /// The window is wider than the orphan pool that must hold its out-of-order blocks.
    #[error("download window of {window} blocks exceeds the orphan pool's {max_orphans}")]
    WindowExceedsOrphanPool {
        /// The window.
        window: u32,
        /// The orphan pool's capacity in blocks.
        max_orphans: usize,
    },
}

/// One block in flight.
#[derive(Debug, Clone, Copy)]
struct Request {
    peer: PeerId,
    height: u32,
    sent_at_ms: u64,
    /// Place in the peer's queue when sent (1 = first): the deadline is this many timeouts.
    position: u32,
}

/// What the downloader knows of one peer.
#[derive(Debug, Clone, Default)]
struct PeerState {
    in_flight: BTreeSet<(u32, BlockHash)>,
    last_delivery_ms: Option<u64>,
    /// Moving average of the time the peer takes per block, in ms.
    ms_per_block: Option<u64>,
    delivered: u64,
}

impl PeerState {
    /// When the peer started on `request` for the speed measurement: when it was sent, or
    /// when the peer last delivered, whichever is later. (Not used for stall deadlines.)
    fn waiting_since(&self, request: &Request) -> u64 {
        request.sent_at_ms.max(self.last_delivery_ms.unwrap_or(0))
    }
}

/// A block that needs special care: taken from stalling peers, or refused by some.
#[derive(Debug, Clone, Default)]
struct Trouble {
    stalls: u32,
    not_from: Vec<PeerId>,
}

/// The block download scheduler (see the [module docs](self)).
#[derive(Debug)]
pub struct BlockDownloader {
    config: DownloadConfig,
    base_height: u32,
    target_height: u32,
    /// Blocks to fetch, by height, within the window.
    plan: Vec<(u32, BlockHash)>,
    in_flight: HashMap<BlockHash, Request>,
    /// Delivered since the last plan.
    received: HashSet<BlockHash>,
    trouble: HashMap<BlockHash, Trouble>,
    peers: BTreeMap<PeerId, PeerState>,
}

impl BlockDownloader {
    /// A scheduler with `config`, for a chainstate whose orphan pool holds `max_orphans`
    /// blocks (`ChainstateConfig::max_orphans`).
    pub fn new(config: DownloadConfig, max_orphans: usize) -> Result<Self, DownloadConfigError> {
        if config.per_peer == 0 {
            return Err(DownloadConfigError::ZeroPerPeer);
        }
        if config.window == 0 {
            return Err(DownloadConfigError::ZeroWindow);
        }
        if config.window as usize > max_orphans {
            return Err(DownloadConfigError::WindowExceedsOrphanPool {
                window: config.window,
                max_orphans,
            });
        }
        Ok(BlockDownloader {
            config,
            base_height: 0,
            target_height: 0,
            plan: Vec::new(),
            in_flight: HashMap::new(),
            received: HashSet::new(),
            trouble: HashMap::new(),
            peers: BTreeMap::new(),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> DownloadConfig {
        self.config
    }

    /// Height of the last stored block of the best header chain, as of the last plan.
    pub fn base_height(&self) -> u32 {
        self.base_height
    }

    /// Height of the best header, as of the last plan.
    pub fn target_height(&self) -> u32 {
        self.target_height
    }

    /// Whether there is nothing left to fetch or wait for.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
            && self
                .plan
                .iter()
                .all(|(_, hash)| self.received.contains(hash))
    }

    /// Number of blocks in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The blocks in flight from `peer`, lowest height first, with their heights.
    pub fn in_flight_from(&self, peer: PeerId) -> Vec<(u32, BlockHash)> {
        self.peers
            .get(&peer)
            .map(|s| s.in_flight.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The peer `hash` is requested from, if it is in flight.
    pub fn holder(&self, hash: &BlockHash) -> Option<PeerId> {
        self.in_flight.get(hash).map(|r| r.peer)
    }

    /// The peers the downloader knows (seen by [`BlockDownloader::assign`], not gone).
    pub fn peers(&self) -> Vec<PeerId> {
        self.peers.keys().copied().collect()
    }

    /// Blocks `peer` delivered so far.
    pub fn delivered_by(&self, peer: PeerId) -> u64 {
        self.peers.get(&peer).map_or(0, |s| s.delivered)
    }

    /// Replaces what to fetch. Requests in flight for blocks the plan no longer lists (they
    /// were stored some other way, or the best chain moved to another branch) are dropped and
    /// returned, so the driver can `Peer::cancel_request` them. Blocks the plan lists above
    /// `base_height + window` are ignored.
    pub fn set_plan(&mut self, plan: DownloadPlan) -> Vec<(PeerId, BlockHash)> {
        let last = plan.base_height.saturating_add(self.config.window);
        self.base_height = plan.base_height;
        self.target_height = plan.target_height;
        self.plan = plan
            .blocks
            .into_iter()
            .filter(|(h, _)| *h > plan.base_height && *h <= last)
            .collect();
        self.plan.sort_unstable();
        self.received.clear();
        let wanted: HashSet<BlockHash> = self.plan.iter().map(|(_, h)| *h).collect();
        let stale: Vec<BlockHash> = self
            .in_flight
            .keys()
            .filter(|h| !wanted.contains(*h))
            .copied()
            .collect();
        let mut cancelled = Vec::with_capacity(stale.len());
        for hash in stale {
            if let Some(peer) = self.take_request(&hash) {
                cancelled.push((peer, hash));
            }
        }
        cancelled.sort_unstable();
        self.trouble.retain(|h, _| wanted.contains(h));
        cancelled
    }

    /// Removes the request for `hash`; returns the peer that held it.
    fn take_request(&mut self, hash: &BlockHash) -> Option<PeerId> {
        let r = self.in_flight.remove(hash)?;
        if let Some(s) = self.peers.get_mut(&r.peer) {
            s.in_flight.remove(&(r.height, *hash));
        }
        Some(r.peer)
    }

    /// Hands out requests to `ready` peers (in any order) at `now_ms`: for each peer the
    /// block hashes to send in one `getdata`, lowest height first. The driver sends them and
    /// records each with `Peer::request`. Peers not seen before become known.
    pub fn assign(&mut self, ready: &[PeerId], now_ms: u64) -> Vec<(PeerId, Vec<BlockHash>)> {
        for &p in ready {
            self.peers.entry(p).or_default();
        }
        let mut wanted: Vec<Option<(u32, BlockHash)>> = self
            .plan
            .iter()
            .filter(|(_, h)| !self.in_flight.contains_key(h) && !self.received.contains(h))
            .map(|x| Some(*x))
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut order: Vec<PeerId> = ready.to_vec();
        order.sort_unstable();
        order.dedup();
        // Fastest first; peers without a measurement after those with one.
        order.sort_by_key(|p| (self.peers[p].ms_per_block.unwrap_or(u64::MAX), *p));
        let mut out = Vec::new();
        for peer in order {
            let room = self
                .config
                .per_peer
                .saturating_sub(self.peers[&peer].in_flight.len());
            let mut batch = Vec::new();
            for slot in wanted.iter_mut() {
                if batch.len() == room {
                    break;
                }
                let Some((height, hash)) = *slot else {
                    continue;
                };
                if self
                    .trouble
                    .get(&hash)
                    .is_some_and(|t| t.not_from.contains(&peer))
                {
                    continue;
                }
                *slot = None;
                batch.push((height, hash));
            }
            if batch.is_empty() {
                continue;
            }
            let state = self.peers.get_mut(&peer).expect("registered above");
            for &(height, hash) in &batch {
                state.in_flight.insert((height, hash));
                self.in_flight.insert(
                    hash,
                    Request {
                        peer,
                        height,
                        sent_at_ms: now_ms,
                        position: state.in_flight.len() as u32,
                    },
                );
            }
            out.push((peer, batch.into_iter().map(|(_, h)| h).collect()));
        }
        out
    }

    /// A block arrived at `now_ms`. Returns the peer that held its request, if any (its
    /// speed is measured from it).
    pub fn received(&mut self, hash: &BlockHash, now_ms: u64) -> Option<PeerId> {
        if self.plan.iter().any(|(_, h)| h == hash) {
            self.received.insert(*hash);
        }
        let request = *self.in_flight.get(hash)?;
        self.take_request(hash);
        if let Some(s) = self.peers.get_mut(&request.peer) {
            let took = now_ms.saturating_sub(s.waiting_since(&request));
            s.ms_per_block = Some(match s.ms_per_block {
                Some(avg) => (avg * 3 + took) / 4,
                None => took,
            });
            s.last_delivery_ms = Some(now_ms);
            s.delivered += 1;
        }
        Some(request.peer)
    }

    /// `peer` answered `notfound` for these blocks: they go back to the queue and are not
    /// asked of this peer again (while the plan lists them).
    pub fn not_found(&mut self, peer: PeerId, hashes: &[BlockHash]) {
        for hash in hashes {
            if self.in_flight.get(hash).is_some_and(|r| r.peer == peer) {
                self.take_request(hash);
                self.trouble.entry(*hash).or_default().not_from.push(peer);
            }
        }
    }

    /// `peer` announced a new tip: blocks it answered `notfound` for earlier may be there
    /// now, so it is no longer passed over for them (a block every connected peer once
    /// lacked would otherwise never be fetched).
    pub fn peer_has_new_blocks(&mut self, peer: PeerId) {
        for t in self.trouble.values_mut() {
            t.not_from.retain(|p| *p != peer);
        }
    }

    /// `peer` disconnected: its requests go back to the queue (returned, lowest first).
    pub fn peer_gone(&mut self, peer: PeerId) -> Vec<BlockHash> {
        let Some(state) = self.peers.remove(&peer) else {
            return Vec::new();
        };
        for (_, hash) in &state.in_flight {
            self.in_flight.remove(hash);
        }
        state.in_flight.into_iter().map(|(_, h)| h).collect()
    }

    /// Peers holding an overdue request at `now_ms` with a base timeout of `timeout_ms`
    /// (see the [module docs](self)). Their requests go back to the queue for the other
    /// peers, they are forgotten, and the driver should score and disconnect them. When every
    /// known peer is overdue, only the most overdue one is reported.
    pub fn stalled(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<PeerId> {
        // Per stalling peer: by how much its most overdue request is late.
        let mut stalling: BTreeMap<PeerId, u64> = BTreeMap::new();
        for (hash, r) in &self.in_flight {
            if !self.peers.contains_key(&r.peer) {
                continue;
            }
            let doublings = self
                .trouble
                .get(hash)
                .map_or(0, |t| t.stalls.min(MAX_TIMEOUT_DOUBLINGS));
            let limit = timeout_ms
                .saturating_mul(u64::from(r.position.max(1)))
                .saturating_mul(1 << doublings);
            let waited = now_ms.saturating_sub(r.sent_at_ms);
            if waited > limit {
                let late = stalling.entry(r.peer).or_default();
                *late = (*late).max(waited - limit);
            }
        }
        if stalling.is_empty() {
            return Vec::new();
        }
        let report: Vec<PeerId> = if stalling.len() >= self.peers.len() {
            // Nobody to hand the requests to: give up on the worst only.
            stalling
                .iter()
                .max_by_key(|(p, late)| (**late, std::cmp::Reverse(**p)))
                .map(|(p, _)| vec![*p])
                .unwrap_or_default()
        } else {
            stalling.into_keys().collect()
        };
        for peer in &report {
            for hash in self.peer_gone(*peer) {
                self.trouble.entry(hash).or_default().stalls += 1;
            }
        }
        report
    }
}
