//! The header chain: validated headers beyond the chainstate's blocks, and the best of them.
//!
//! Headers-first sync learns the shape of the chain (80 bytes a block) before downloading any
//! block, so blocks can then be fetched from several peers at once and only along the chain
//! with most work. [`HeaderChain`] holds the headers the chainstate has no block for yet, as a
//! tree hanging off the chainstate's block index: every held header's parent is either held
//! too or indexed by the chainstate.
//!
//! Each header is checked with the chain crate's own rules before it is held: proof of work
//! within the network limit ([`isolation::check_header_pow`]), the required difficulty
//! ([`required_bits`], the retarget rule of [`BlockIndex::next_bits`](parthenon_chain::block_index::BlockIndex::next_bits)),
//! a time after the median of the previous 11 and at most 2 hours ahead of now
//! ([`context::check_header_in_context`]). Ancestors are looked up in the held headers first,
//! then in the chainstate's block index.
//!
//! Memory is bounded: at most `max_headers` headers are held ([`DEFAULT_MAX_HEADERS`] by
//! default). When the cap is reached, headers off the best chain are evicted first, the
//! forks with the least work first ([`HeaderChain::evict_low_work_forks`]); only when the
//! best chain alone fills the store does [`HeadersError::Full`] refuse more, until
//! [`HeaderChain::prune`] drops the headers whose blocks the chainstate has stored. Each peer
//! may add at most `max_fork_headers_per_peer` headers that did not become the best chain
//! when they arrived ([`HeadersError::PeerBudget`] beyond that). A held header costs about
//! [`BYTES_PER_HEADER`] bytes (the 80-byte header, its hash as the map key, height, chain
//! work, arrival number, sender, hash-map slack, and its hash again in the best branch), so
//! the default cap bounds the header chain to about 240 MiB — about 19 years of main-network
//! blocks at 10 minutes each.
//!
//! What may be stored at all is decided before this type, by
//! [`HeadersPresync`](super::HeadersPresync): headers of a chain with too little work are
//! only validated and counted.

use super::{DownloadPlan, PeerId};
use crate::locator_heights;
use crate::message::MAX_HEADERS;
use crate::reputation::Offence;
use parthenon_chain::block_index::{median_time, required_bits};
use parthenon_chain::validation::context::{self, HeaderContext};
use parthenon_chain::validation::{isolation, ValidationError};
use parthenon_chain::Chainstate;
use parthenon_primitives::params::MEDIAN_TIME_SPAN;
use parthenon_primitives::{BlockHash, BlockHeader, ChainParams, ChainWork};
use std::collections::{HashMap, HashSet, VecDeque};

/// Default cap on the headers a [`HeaderChain`] holds beyond the chainstate's blocks.
pub const DEFAULT_MAX_HEADERS: usize = 1_000_000;

/// Approximate memory one held header costs, in bytes (see the [module docs](self)).
pub const BYTES_PER_HEADER: usize = 250;

/// Default cap on the headers one peer may add that were not the best chain on arrival.
pub const DEFAULT_MAX_FORK_HEADERS_PER_PEER: usize = DEFAULT_MAX_HEADERS / 8;

/// A header at the end of a chain: its hash, height and the cumulative work up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderTip {
    /// The block hash.
    pub hash: BlockHash,
    /// Its height (genesis = 0).
    pub height: u32,
    /// Work of this block and all its ancestors.
    pub chain_work: ChainWork,
}

/// Why a `headers` message was refused, in whole or from one header on.
///
/// Headers before the one named were valid and are kept; nothing from the named header on
/// is. [`HeadersError::offence`] says what to score the peer that sent them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadersError {
    /// More headers in one message than the protocol allows.
    #[error("{count} headers in one message, more than the maximum {max}")]
    TooMany {
        /// Headers in the message.
        count: usize,
        /// [`MAX_HEADERS`].
        max: usize,
    },
    /// A header links to neither a known header nor an earlier header of the message; the
    /// whole message is refused.
    #[error("header {hash} (#{index} in the message) links to unknown block {prev}")]
    Unconnected {
        /// Its position in the message.
        index: usize,
        /// Its hash.
        hash: BlockHash,
        /// The unknown parent it names.
        prev: BlockHash,
    },
    /// A header breaks a consensus rule (proof of work, difficulty, time), builds on a block
    /// known to be invalid, or is one.
    #[error("header {hash} (#{index} in the message) at height {height}: {source}")]
    Invalid {
        /// Its position in the message.
        index: usize,
        /// Its hash.
        hash: BlockHash,
        /// The height it would have.
        height: u32,
        /// The rule it breaks.
        #[source]
        source: ValidationError,
    },
    /// The chainstate already found this block invalid.
    #[error("header {hash} (#{index} in the message) is a block known to be invalid")]
    KnownInvalid {
        /// Its position in the message.
        index: usize,
        /// Its hash.
        hash: BlockHash,
    },
    /// The header chain holds its cap of headers, all on the best chain; not the peer's
    /// fault.
    #[error("header {hash} (#{index} in the message) refused: {max} headers already held")]
    Full {
        /// Its position in the message.
        index: usize,
        /// Its hash.
        hash: BlockHash,
        /// The cap.
        max: usize,
    },
    /// The peer already added its cap of headers off the best chain.
    #[error("header {hash} (#{index} in the message) refused: the peer added {max} fork headers")]
    PeerBudget {
        /// Its position in the message.
        index: usize,
        /// Its hash.
        hash: BlockHash,
        /// The per-peer cap.
        max: usize,
    },
}

impl HeadersError {
    /// What to score the peer that sent the message, if anything: unconnected headers are
    /// [`Offence::UnconnectedHeaders`]; a rule broken for good is [`Offence::InvalidBlock`];
    /// a too-new timestamp (it may become valid), a full header chain and a spent per-peer
    /// budget score nothing.
    pub fn offence(&self) -> Option<Offence> {
        match self {
            HeadersError::TooMany { .. } => Some(Offence::MalformedMessage),
            HeadersError::Unconnected { .. } => Some(Offence::UnconnectedHeaders),
            HeadersError::Invalid { source, .. } => source
                .marks_block_invalid()
                .then_some(Offence::InvalidBlock),
            HeadersError::KnownInvalid { .. } => Some(Offence::InvalidBlock),
            HeadersError::Full { .. } | HeadersError::PeerBudget { .. } => None,
        }
    }
}

/// What [`HeaderChain::accept_headers`] did with a valid message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedHeaders {
    /// Headers newly held (headers already known are skipped).
    pub added: usize,
    /// The hash of the message's last header: continue a `getheaders` from it (see
    /// [`HeaderChain::locator_from`]) when the message was full.
    pub last: Option<BlockHash>,
    /// Whether the message held [`MAX_HEADERS`] headers, so the peer likely has more.
    pub full: bool,
    /// Whether the best header changed.
    pub best_changed: bool,
}

/// One held header.
#[derive(Debug, Clone)]
struct Entry {
    header: BlockHeader,
    height: u32,
    chain_work: ChainWork,
    /// Arrival order: among equal work, the header seen first is best.
    seq: u64,
    /// The peer that sent it, when it counts against that peer's fork budget (it did not
    /// become the best header on arrival).
    fork_of: Option<PeerId>,
}

/// A header found in the held headers or the chainstate's block index.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) header: BlockHeader,
    pub(super) height: u32,
    pub(super) chain_work: ChainWork,
    /// Whether the chainstate knows it (or an ancestor) to be invalid.
    pub(super) invalid: bool,
}

/// Validated headers beyond the chainstate's blocks, with the best (most-work) one.
///
/// Every method that needs the chainstate's block index takes it as `chain`; between calls
/// the chainstate may change freely (blocks connected, reorganisations). See the
/// [module docs](self) for the rules and the memory bound.
#[derive(Debug)]
pub struct HeaderChain {
    params: &'static ChainParams,
    max_headers: usize,
    max_fork_headers_per_peer: usize,
    /// Per peer: held headers counting against its fork budget.
    fork_headers: HashMap<PeerId, usize>,
    /// Headers evicted so far (forks with the least work, to make room).
    evicted: u64,
    entries: HashMap<BlockHash, Entry>,
    next_seq: u64,
    /// The most-work header ever accepted and not invalidated (first seen among equals);
    /// it may have been pruned since (then the chainstate stores its block).
    best: Option<HeaderTip>,
    /// Hashes of the best header's chain at heights `branch_start..=best.height`, all held.
    branch: VecDeque<BlockHash>,
    /// Height of `branch[0]`.
    branch_start: u32,
    /// The block at `branch_start - 1`, indexed by the chainstate.
    branch_root: BlockHash,
}

impl HeaderChain {
    /// An empty header chain for `params`, holding at most [`DEFAULT_MAX_HEADERS`].
    pub fn new(params: &'static ChainParams) -> Self {
        Self::with_max_headers(params, DEFAULT_MAX_HEADERS)
    }

    /// An empty header chain for `params`, holding at most `max_headers`.
    pub fn with_max_headers(params: &'static ChainParams, max_headers: usize) -> Self {
        HeaderChain {
            params,
            max_headers,
            max_fork_headers_per_peer: DEFAULT_MAX_FORK_HEADERS_PER_PEER.min(max_headers),
            fork_headers: HashMap::new(),
            evicted: 0,
            entries: HashMap::new(),
            next_seq: 0,
            best: None,
            branch: VecDeque::new(),
            branch_start: 0,
            branch_root: BlockHash::ZERO,
        }
    }

    /// Number of headers held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no header is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cap on held headers.
    pub fn max_headers(&self) -> usize {
        self.max_headers
    }

    /// Sets the cap on headers one peer may add off the best chain.
    pub fn set_max_fork_headers_per_peer(&mut self, max: usize) {
        self.max_fork_headers_per_peer = max;
    }

    /// Headers held that count against `peer`'s fork budget.
    pub fn fork_headers_of(&self, peer: PeerId) -> usize {
        self.fork_headers.get(&peer).copied().unwrap_or(0)
    }

    /// Headers evicted so far to make room (forks with the least work).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Approximate memory the held headers take, in bytes ([`BYTES_PER_HEADER`] each).
    pub fn approx_bytes(&self) -> usize {
        self.entries.len() * BYTES_PER_HEADER
    }

    /// The work a header chain must prove before its headers are stored: the network's
    /// minimum chain work, or the active tip's work less a day (144 blocks) of blocks at the
    /// tip's difficulty, whichever is more. A fork within a day of the tip is stored at once
    /// (it may win a race); anything lower is pre-synced first
    /// ([`HeadersPresync`](super::HeadersPresync)).
    pub fn anti_dos_work(&self, chain: &Chainstate) -> ChainWork {
        let tip = chain.tip();
        let block = ChainWork::from_bits(tip.header.bits).unwrap_or_default();
        let day = ChainWork(
            block
                .0
                .saturating_mul(parthenon_primitives::pow::U256::from(144u32)),
        );
        let relative = ChainWork(tip.chain_work.0.saturating_sub(day.0));
        relative.max(self.params.minimum_chain_work())
    }

    /// Whether `hash` is a held header.
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.entries.contains_key(hash)
    }

    /// The held header `hash` with its height and chain work.
    pub fn get(&self, hash: &BlockHash) -> Option<(BlockHeader, HeaderTip)> {
        self.entries.get(hash).map(|e| {
            (
                e.header,
                HeaderTip {
                    hash: *hash,
                    height: e.height,
                    chain_work: e.chain_work,
                },
            )
        })
    }

    pub(super) fn node(&self, chain: &Chainstate, hash: &BlockHash) -> Option<Node> {
        if let Some(e) = self.entries.get(hash) {
            return Some(Node {
                header: e.header,
                height: e.height,
                chain_work: e.chain_work,
                invalid: false,
            });
        }
        chain.entry(hash).map(|e| Node {
            header: e.header,
            height: e.height,
            chain_work: e.chain_work,
            invalid: e.status.is_invalid(),
        })
    }

    /// Whether `hash` is a held header or a block the chainstate has indexed.
    pub fn knows(&self, chain: &Chainstate, hash: &BlockHash) -> bool {
        self.entries.contains_key(hash) || chain.entry(hash).is_some()
    }

    /// The chain with most work: the best held header if it has more work than the
    /// chainstate's tip, else that tip.
    pub fn best_tip(&self, chain: &Chainstate) -> HeaderTip {
        let tip = chain.tip();
        match self.best {
            Some(best) if best.chain_work > tip.chain_work => best,
            _ => HeaderTip {
                hash: tip.hash,
                height: tip.height,
                chain_work: tip.chain_work,
            },
        }
    }

    /// Whether the best chain is a held header chain (the chainstate's tip is behind it).
    fn best_is_held(&self, chain: &Chainstate) -> bool {
        self.best_tip(chain).hash != chain.tip_hash()
    }

    /// The ancestor of `hash` (a held header or an indexed block) at `height`.
    pub fn ancestor(&self, chain: &Chainstate, hash: &BlockHash, height: u32) -> Option<BlockHash> {
        let mut cur = *hash;
        loop {
            if let Some(e) = self.entries.get(&cur) {
                if e.height < height {
                    return None;
                }
                if e.height == height {
                    return Some(cur);
                }
                // On the best branch the answer is one index away.
                if let Some(i) = e.height.checked_sub(self.branch_start) {
                    if self.branch.get(i as usize) == Some(&cur) {
                        if let Some(j) = height.checked_sub(self.branch_start) {
                            return self.branch.get(j as usize).copied();
                        }
                        cur = self.branch_root;
                        continue;
                    }
                }
                cur = e.header.prev_hash;
                continue;
            }
            let e = chain.entry(&cur)?;
            if e.height < height {
                return None;
            }
            if chain.is_active(&cur) {
                return chain.hash_at(height);
            }
            return chain.index().ancestor(&cur, height).map(|a| a.hash);
        }
    }

    /// The hash at `height` on the best chain.
    fn best_hash_at(&self, chain: &Chainstate, height: u32) -> Option<BlockHash> {
        if !self.best_is_held(chain) {
            return chain.hash_at(height);
        }
        match height.checked_sub(self.branch_start) {
            Some(i) => self.branch.get(i as usize).copied(),
            None => self.ancestor(chain, &self.branch_root, height),
        }
    }

    /// The block locator of our best chain, for `getheaders`: hashes at
    /// [`locator_heights`] of the best header's height, highest first.
    pub fn locator(&self, chain: &Chainstate) -> Vec<BlockHash> {
        let tip = self.best_tip(chain);
        locator_heights(tip.height)
            .into_iter()
            .filter_map(|h| self.best_hash_at(chain, h))
            .collect()
    }

    /// The block locator of the chain ending at `hash` (a held header or an indexed block),
    /// to continue a `getheaders` after a full `headers` message on any branch; empty when
    /// `hash` is unknown.
    pub fn locator_from(&self, chain: &Chainstate, hash: &BlockHash) -> Vec<BlockHash> {
        let Some(node) = self.node(chain, hash) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut cur = *hash;
        for h in locator_heights(node.height) {
            match self.ancestor(chain, &cur, h) {
                Some(a) => {
                    out.push(a);
                    cur = a;
                }
                None => break,
            }
        }
        out
    }

    /// The context a child of `parent` (at `parent_hash`) is checked in.
    fn child_context(
        &self,
        chain: &Chainstate,
        parent_hash: &BlockHash,
        parent: &Node,
    ) -> HeaderContext {
        if !self.entries.contains_key(parent_hash) {
            if let Some(e) = chain.entry(parent_hash) {
                return chain.index().child_context(e, self.params);
            }
        }
        let expected_bits = required_bits(&parent.header, parent.height, self.params, |h| {
            self.ancestor(chain, parent_hash, h)
                .and_then(|a| self.node(chain, &a))
                .map(|n| n.header.time)
        });
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cur = Some(*parent);
        while let Some(n) = cur {
            times.push(n.header.time);
            if times.len() == MEDIAN_TIME_SPAN || n.height == 0 {
                break;
            }
            cur = self.node(chain, &n.header.prev_hash);
        }
        HeaderContext {
            height: parent.height + 1,
            expected_bits,
            median_time_past: median_time(times),
            parent_time: parent.header.time,
        }
    }

    /// Validates the headers of one `headers` message and holds the new ones.
    ///
    /// First every header must link to a known header, an indexed block or an earlier header
    /// of the message; otherwise the whole message is refused with
    /// [`HeadersError::Unconnected`] and nothing is held. Then the headers are checked in
    /// order; the first that fails is named in the error and neither it nor anything after it
    /// is held (the valid ones before it are). `now_unix_ms` is the wall-clock time in
    /// milliseconds since the Unix epoch, for the future-timestamp rule.
    pub fn accept_headers(
        &mut self,
        chain: &Chainstate,
        headers: &[BlockHeader],
        now_unix_ms: u64,
    ) -> Result<AcceptedHeaders, HeadersError> {
        self.accept_headers_from(None, chain, headers, now_unix_ms)
    }

    /// [`HeaderChain::accept_headers`] for headers sent by `peer`: the headers that do not
    /// become the best header on arrival count against the peer's fork budget.
    pub fn accept_headers_from(
        &mut self,
        peer: Option<PeerId>,
        chain: &Chainstate,
        headers: &[BlockHeader],
        now_unix_ms: u64,
    ) -> Result<AcceptedHeaders, HeadersError> {
        if headers.len() > MAX_HEADERS {
            return Err(HeadersError::TooMany {
                count: headers.len(),
                max: MAX_HEADERS,
            });
        }
        let hashes: Vec<BlockHash> = headers.iter().map(BlockHeader::hash).collect();
        let mut in_message = HashSet::with_capacity(headers.len());
        for (index, header) in headers.iter().enumerate() {
            let prev = header.prev_hash;
            if !in_message.contains(&prev) && !self.knows(chain, &prev) {
                return Err(HeadersError::Unconnected {
                    index,
                    hash: hashes[index],
                    prev,
                });
            }
            in_message.insert(hashes[index]);
        }
        let now_secs = now_unix_ms / 1000;
        let mut out = AcceptedHeaders {
            added: 0,
            last: hashes.last().copied(),
            full: headers.len() == MAX_HEADERS,
            best_changed: false,
        };
        for (index, (header, &hash)) in headers.iter().zip(&hashes).enumerate() {
            if let Some(e) = chain.entry(&hash) {
                if e.status.is_invalid() {
                    return Err(HeadersError::KnownInvalid { index, hash });
                }
                continue;
            }
            if self.entries.contains_key(&hash) {
                continue;
            }
            let unconnected = HeadersError::Unconnected {
                index,
                hash,
                prev: header.prev_hash,
            };
            let parent = self.node(chain, &header.prev_hash).ok_or(unconnected)?;
            let height = parent.height + 1;
            let invalid = |source| HeadersError::Invalid {
                index,
                hash,
                height,
                source,
            };
            if parent.invalid {
                return Err(invalid(ValidationError::InvalidParent {
                    parent: header.prev_hash,
                }));
            }
            isolation::check_header_pow(header, self.params).map_err(invalid)?;
            let ctx = self.child_context(chain, &header.prev_hash, &parent);
            context::check_header_in_context(header, &ctx, now_secs, self.params)
                .map_err(invalid)?;
            let work = ChainWork::from_bits(header.bits).map_err(|e| invalid(e.into()))?;
            let chain_work = parent.chain_work + work;
            let becomes_best = self.best.is_none_or(|b| chain_work > b.chain_work);
            let fork_of = if becomes_best { None } else { peer };
            if let Some(p) = fork_of {
                if self.fork_headers_of(p) >= self.max_fork_headers_per_peer {
                    return Err(HeadersError::PeerBudget {
                        index,
                        hash,
                        max: self.max_fork_headers_per_peer,
                    });
                }
            }
            if self.entries.len() >= self.max_headers {
                self.evict_low_work_forks(self.max_headers / 10 + 1);
                if self.entries.len() >= self.max_headers {
                    return Err(HeadersError::Full {
                        index,
                        hash,
                        max: self.max_headers,
                    });
                }
                // The parent may have been on an evicted fork.
                if !self.knows(chain, &header.prev_hash) {
                    return Err(HeadersError::Full {
                        index,
                        hash,
                        max: self.max_headers,
                    });
                }
            }
            let entry = Entry {
                header: *header,
                height,
                chain_work,
                seq: self.next_seq,
                fork_of,
            };
            self.next_seq += 1;
            let tip = HeaderTip {
                hash,
                height,
                chain_work,
            };
            if let Some(p) = fork_of {
                *self.fork_headers.entry(p).or_default() += 1;
            }
            self.entries.insert(hash, entry);
            out.added += 1;
            if becomes_best {
                self.set_best(tip);
                out.best_changed = true;
            }
        }
        Ok(out)
    }

    /// Drops a held header, keeping the per-peer fork counts right.
    fn remove_entry(&mut self, hash: &BlockHash) -> Option<Entry> {
        let e = self.entries.remove(hash)?;
        if let Some(p) = e.fork_of {
            if let Some(n) = self.fork_headers.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    self.fork_headers.remove(&p);
                }
            }
        }
        Some(e)
    }

    /// Evicts at least `want` held headers off the best header's branch (fewer if fewer are
    /// held), the forks with the least work first: each header is ranked by the most work
    /// of any held descendant (the work of the best fork through it), and every header
    /// ranked at or below the cut goes — a set closed under descendants, since a
    /// descendant's rank never exceeds its ancestor's. The best branch is never touched.
    /// Returns how many went. Costs a sort of the held headers.
    pub fn evict_low_work_forks(&mut self, want: usize) -> usize {
        let on_best: HashSet<BlockHash> = self.branch.iter().copied().collect();
        let mut by_height: Vec<(u32, BlockHash)> = self
            .entries
            .iter()
            .filter(|(h, _)| !on_best.contains(*h))
            .map(|(h, e)| (e.height, *h))
            .collect();
        if by_height.is_empty() || want == 0 {
            return 0;
        }
        // Highest first, so every child is ranked before its parent.
        by_height.sort_unstable_by(|a, b| b.cmp(a));
        let mut rank: HashMap<BlockHash, ChainWork> = HashMap::with_capacity(by_height.len());
        for (_, hash) in &by_height {
            let e = &self.entries[hash];
            let own = rank
                .get(hash)
                .copied()
                .unwrap_or(e.chain_work)
                .max(e.chain_work);
            rank.insert(*hash, own);
            if !on_best.contains(&e.header.prev_hash)
                && self.entries.contains_key(&e.header.prev_hash)
            {
                let p = rank.entry(e.header.prev_hash).or_insert(own);
                *p = (*p).max(own);
            }
        }
        let mut ranks: Vec<ChainWork> = by_height.iter().map(|(_, h)| rank[h]).collect();
        ranks.sort_unstable();
        let cut = ranks[want.min(ranks.len()) - 1];
        let doomed: Vec<BlockHash> = by_height
            .iter()
            .map(|(_, h)| *h)
            .filter(|h| rank[h] <= cut)
            .collect();
        for h in &doomed {
            self.remove_entry(h);
        }
        self.evicted += doomed.len() as u64;
        doomed.len()
    }

    /// Makes `tip` (a held header) the best and brings the best branch up to date.
    fn set_best(&mut self, tip: HeaderTip) {
        let parent = self.entries.get(&tip.hash).map(|e| e.header.prev_hash);
        let extends = self.best.is_some_and(|b| Some(b.hash) == parent);
        self.best = Some(tip);
        if let (true, Some(parent)) = (extends, parent) {
            if self.branch.is_empty() {
                self.branch_start = tip.height;
                self.branch_root = parent;
            }
            self.branch.push_back(tip.hash);
            return;
        }
        // Another branch: walk back through the held headers.
        let mut branch = VecDeque::new();
        let mut cur = tip.hash;
        while let Some(e) = self.entries.get(&cur) {
            branch.push_front(cur);
            cur = e.header.prev_hash;
        }
        self.branch_start = tip.height + 1 - branch.len() as u32;
        self.branch_root = cur;
        self.branch = branch;
    }

    /// Drops the held headers the chainstate has caught up with: those whose blocks it
    /// stores, and those it found invalid with all their held descendants (the best header
    /// moves to the best remaining one if it was among them). Costs a sort of the held
    /// headers: call it every so often while blocks connect (e.g. each time the download
    /// window has moved by its length) to free memory; [`HeaderChain::download_plan`] calls
    /// it by itself when it meets an invalid block.
    pub fn prune(&mut self, chain: &Chainstate) {
        let mut by_height: Vec<(u32, BlockHash, BlockHash)> = self
            .entries
            .iter()
            .map(|(h, e)| (e.height, *h, e.header.prev_hash))
            .collect();
        by_height.sort_unstable();
        let mut bad = HashSet::new();
        for (_, hash, prev) in by_height {
            let own = chain.entry(&hash).map(|e| e.status.is_invalid());
            let parent_bad =
                bad.contains(&prev) || chain.entry(&prev).is_some_and(|e| e.status.is_invalid());
            match own {
                Some(true) => {
                    bad.insert(hash);
                }
                _ if parent_bad => {
                    bad.insert(hash);
                }
                Some(false) => {}
                None => continue,
            }
            self.remove_entry(&hash);
        }
        let Some(best) = self.best else {
            return;
        };
        let best_bad = bad.contains(&best.hash)
            || chain
                .entry(&best.hash)
                .is_some_and(|e| e.status.is_invalid());
        if best_bad {
            self.best = None;
            self.branch.clear();
            let next = self
                .entries
                .iter()
                .max_by(|(_, a), (_, b)| a.chain_work.cmp(&b.chain_work).then(b.seq.cmp(&a.seq)))
                .map(|(hash, e)| HeaderTip {
                    hash: *hash,
                    height: e.height,
                    chain_work: e.chain_work,
                });
            if let Some(tip) = next {
                self.set_best(tip);
            }
            return;
        }
        while let Some(&front) = self.branch.front() {
            if self.entries.contains_key(&front) {
                break;
            }
            self.branch.pop_front();
            self.branch_root = front;
            self.branch_start += 1;
        }
    }

    /// What to download next: the blocks of the best header chain the chainstate neither
    /// stores nor holds as orphans, at heights `base + 1 ..= base + window`, where `base` is
    /// the height of the last block of that chain the chainstate stores (the fork point when
    /// the best header chain leaves the active chain).
    ///
    /// When the chainstate has found a block of the best header chain invalid (which it may
    /// do while connecting another block, e.g. a waiting orphan), this first
    /// [prunes](HeaderChain::prune) and plans along the best remaining branch.
    pub fn download_plan(&mut self, chain: &Chainstate, window: u32) -> DownloadPlan {
        loop {
            if let Some(plan) = self.plan_best_branch(chain, window) {
                return plan;
            }
            // Pruning drops the best header (a descendant of the invalid block) and moves to
            // the next best, so this ends; should it change nothing, there is nothing to plan.
            let before = (self.best, self.entries.len());
            self.prune(chain);
            if (self.best, self.entries.len()) == before {
                return DownloadPlan {
                    base_height: chain.height(),
                    target_height: chain.height(),
                    blocks: Vec::new(),
                };
            }
        }
    }

    /// The plan along the best branch, or `None` when the branch holds a block the chainstate
    /// found invalid.
    fn plan_best_branch(&self, chain: &Chainstate, window: u32) -> Option<DownloadPlan> {
        let tip = self.best_tip(chain);
        if !self.best_is_held(chain) {
            return Some(DownloadPlan {
                base_height: chain.height(),
                target_height: tip.height,
                blocks: Vec::new(),
            });
        }
        let invalid = |h: &BlockHash| chain.entry(h).is_some_and(|e| e.status.is_invalid());
        if invalid(&self.branch_root) || invalid(&tip.hash) {
            return None;
        }
        let stored = |h: &BlockHash| {
            chain
                .entry(h)
                .is_some_and(|e| !e.status.is_invalid() && e.location.is_some())
        };
        // A stored block's parent is indexed, so stored blocks form a prefix of the branch.
        let first_missing = self.branch.partition_point(stored);
        let base_height = self.branch_start + first_missing as u32 - 1;
        let last = base_height.saturating_add(window);
        let mut blocks = Vec::new();
        for (i, hash) in self.branch.iter().enumerate().skip(first_missing) {
            let height = self.branch_start + i as u32;
            if height > last {
                break;
            }
            if invalid(hash) {
                return None;
            }
            if chain.is_orphan(hash) || stored(hash) {
                continue;
            }
            blocks.push((height, *hash));
        }
        Some(DownloadPlan {
            base_height,
            target_height: tip.height,
            blocks,
        })
    }
}
