//! Headers pre-sync: a header chain is stored only once it has proved enough work.
//!
//! Any header that links to a known block and has valid proof of work could otherwise be
//! stored, so a peer on a network where work is cheap (or anyone with a little hash power
//! below the tip) could fill the header store with forks nobody will ever build on. In the
//! spirit of Bitcoin Core's headers pre-sync, [`HeadersPresync`] stands in front of the
//! [`HeaderChain`] and decides, per `headers` message and per peer:
//!
//! - a message whose first header's parent already has at least the anti-DoS work
//!   ([`HeaderChain::anti_dos_work`]: the network's minimum chain work, or the tip's work less
//!   a day of blocks, whichever is more) goes straight to the store: every header after it
//!   has more work still;
//! - otherwise the headers are **pre-synced**: validated with the full header rules (proof
//!   of work, exact required difficulty, median time past, future time limit) against an
//!   O(1) per-peer state — the fork point, the last header, its height and cumulative work,
//!   the last 11 timestamps and the retarget anchors — and counted, but not stored. The
//!   peer is asked to continue from its last header;
//! - when a pre-synced chain reaches the anti-DoS work, the peer is asked again from the
//!   fork point (**redownload**). The redownloaded headers are validated the same way and
//!   buffered until they reach the anti-DoS work themselves, then stored together. The
//!   buffer of one peer never exceeds the length the pre-sync counted (a peer that serves a
//!   different, longer chain the second time is dropped from redownload), and all buffers
//!   together never exceed `max_buffered` headers.
//!
//! Why this is sound without Core's commitments: pre-sync costs O(1) memory whatever the
//! peer sends, so low-work header spam costs the node CPU for validation only (the peer
//! pays in bandwidth and, on networks with real difficulty, in hashes for every header). A
//! chain is stored only after the *stored* headers themselves were seen to reach the work:
//! a peer that pre-syncs a real chain and then redownloads a fake one never gets the fake
//! one stored; it can only make the node buffer, for a while, as many headers as the real
//! chain has (bounded per peer and in total). Core's commitments let it release headers
//! before the end of the redownload, saving that buffer; this design pays the buffer (80
//! bytes a header) instead.

use super::headers::{AcceptedHeaders, HeaderChain, HeadersError};
use super::PeerId;
use crate::message::MAX_HEADERS;
use parthenon_chain::block_index::{median_time, required_bits};
use parthenon_chain::validation::context::{self, HeaderContext};
use parthenon_chain::validation::{isolation, ValidationError};
use parthenon_chain::Chainstate;
use parthenon_primitives::params::MEDIAN_TIME_SPAN;
use parthenon_primitives::{BlockHash, BlockHeader, ChainParams, ChainWork};
use std::collections::{HashMap, VecDeque};

/// Default cap on the headers buffered for redownload, all peers together.
pub const DEFAULT_MAX_BUFFERED_HEADERS: usize = 1_000_000;

/// A chain being validated header by header without storing it: the last header and what
/// the rules need to check its child.
#[derive(Debug, Clone)]
struct Cursor {
    hash: BlockHash,
    header: BlockHeader,
    height: u32,
    chain_work: ChainWork,
    /// Timestamps of the last (up to) [`MEDIAN_TIME_SPAN`] headers, newest last.
    times: VecDeque<u32>,
    /// `(height, time)` of the headers of the last two windows at a retarget boundary and
    /// just before one, for the retarget rule's window anchor.
    anchors: Vec<(u32, u32)>,
}

impl Cursor {
    /// A cursor at the known header `hash` (held or indexed).
    fn at(headers: &HeaderChain, chain: &Chainstate, hash: BlockHash) -> Option<Cursor> {
        let node = headers.node(chain, &hash)?;
        let params = chain.params();
        let mut times = VecDeque::with_capacity(MEDIAN_TIME_SPAN);
        let mut cur = Some(node);
        while let Some(n) = cur {
            times.push_front(n.header.time);
            if times.len() == MEDIAN_TIME_SPAN || n.height == 0 {
                break;
            }
            cur = headers.node(chain, &n.header.prev_hash);
        }
        let mut anchors = Vec::new();
        if params.retarget && params.retarget_interval > 0 {
            // The retarget rule asks for the time of a block at or just before a window
            // start: keep those of the current and the previous window.
            let n = params.retarget_interval;
            let boundary = node.height - node.height % n;
            let wanted = [
                boundary.checked_sub(n + 1),
                boundary.checked_sub(n),
                boundary.checked_sub(1),
                Some(boundary),
            ];
            for h in wanted.into_iter().flatten() {
                if let Some(t) = headers
                    .ancestor(chain, &hash, h)
                    .and_then(|a| headers.node(chain, &a))
                {
                    anchors.push((h, t.header.time));
                }
            }
        }
        Some(Cursor {
            hash,
            header: node.header,
            height: node.height,
            chain_work: node.chain_work,
            times,
            anchors,
        })
    }

    /// Checks `header` as the child of the cursor's header and moves onto it.
    fn advance(
        &mut self,
        header: &BlockHeader,
        hash: BlockHash,
        params: &ChainParams,
        now_secs: u64,
    ) -> Result<(), ValidationError> {
        isolation::check_header_pow(header, params)?;
        let anchors = &self.anchors;
        let expected_bits = required_bits(&self.header, self.height, params, |h| {
            anchors.iter().find(|(ah, _)| *ah == h).map(|(_, t)| *t)
        });
        let ctx = HeaderContext {
            height: self.height + 1,
            expected_bits,
            median_time_past: median_time(self.times.iter().copied().collect()),
            parent_time: self.header.time,
        };
        context::check_header_in_context(header, &ctx, now_secs, params)?;
        let work = ChainWork::from_bits(header.bits)?;
        self.hash = hash;
        self.header = *header;
        self.height += 1;
        self.chain_work = self.chain_work + work;
        if self.times.len() == MEDIAN_TIME_SPAN {
            self.times.pop_front();
        }
        self.times.push_back(header.time);
        if params.retarget && params.retarget_interval > 0 {
            let n = params.retarget_interval;
            let r = self.height % n;
            if r == 0 || r == n - 1 {
                // Keep the anchors of the last two windows (at most four).
                let height = self.height;
                self.anchors
                    .retain(|(h, _)| h.saturating_add(2 * n) > height);
                self.anchors.push((self.height, header.time));
            }
        }
        Ok(())
    }
}

/// Where one peer's low-work chain stands.
#[derive(Debug, Clone)]
enum PeerSync {
    /// Counting headers without keeping them.
    Presync {
        /// The known header the chain forks from.
        fork: BlockHash,
        cursor: Cursor,
        /// Headers validated so far.
        counted: usize,
    },
    /// The chain proved its work; its headers are fetched again from the fork point and
    /// buffered until they prove it themselves.
    Redownload {
        fork: BlockHash,
        cursor: Cursor,
        /// At most this many headers may be buffered (what the pre-sync counted).
        limit: usize,
        buffer: Vec<BlockHeader>,
    },
}

/// What to do after a `headers` message ([`HeadersPresync::on_headers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresyncOutcome {
    /// Headers went to the store (the pre-sync state of the peer, if any, is done). Continue
    /// from [`AcceptedHeaders::last`] when the message was full.
    Stored(AcceptedHeaders),
    /// The headers were validated and counted, not stored. When `full`, ask the peer for
    /// the headers after `last` (locator: `last`, then the fork point); otherwise its chain
    /// ended with too little work and was forgotten.
    Presyncing {
        /// The last header validated.
        last: BlockHash,
        /// The known header the chain forks from.
        fork: BlockHash,
        /// Whether the message was full (the peer likely has more).
        full: bool,
        /// Headers of this chain validated so far.
        counted: usize,
    },
    /// The chain proved its work: ask the peer again from `fork`.
    Redownload {
        /// The known header the chain forks from.
        fork: BlockHash,
    },
    /// Redownloaded headers were buffered; ask for the headers after `last`.
    Buffering {
        /// The last header buffered.
        last: BlockHash,
        /// The known header the chain forks from.
        fork: BlockHash,
    },
    /// The peer's redownload broke off (it ended short of the work, or ran past what the
    /// pre-sync counted, or the buffers are full); its buffer was dropped.
    RedownloadFailed,
}

/// The pre-sync in front of the header store (see the [module docs](self)).
#[derive(Debug)]
pub struct HeadersPresync {
    params: &'static ChainParams,
    peers: HashMap<PeerId, PeerSync>,
    max_buffered: usize,
    /// Headers validated and not stored, ever (for status and tests).
    counted_total: u64,
}

impl HeadersPresync {
    /// A pre-sync for `params` with the default buffer cap.
    pub fn new(params: &'static ChainParams) -> Self {
        HeadersPresync {
            params,
            peers: HashMap::new(),
            max_buffered: DEFAULT_MAX_BUFFERED_HEADERS,
            counted_total: 0,
        }
    }

    /// Sets the cap on redownloaded headers buffered, all peers together.
    pub fn set_max_buffered(&mut self, max: usize) {
        self.max_buffered = max;
    }

    /// Headers validated but not stored so far (pre-synced).
    pub fn counted_total(&self) -> u64 {
        self.counted_total
    }

    /// Headers buffered for redownload, all peers together.
    pub fn buffered(&self) -> usize {
        self.peers
            .values()
            .map(|s| match s {
                PeerSync::Redownload { buffer, .. } => buffer.len(),
                PeerSync::Presync { .. } => 0,
            })
            .sum()
    }

    /// Approximate memory held, in bytes: a fixed state per peer plus 80 bytes per
    /// buffered header.
    pub fn approx_bytes(&self) -> usize {
        self.peers.len() * std::mem::size_of::<PeerSync>() + self.buffered() * 80
    }

    /// The most work any peer's pre-synced or buffered chain has shown so far.
    pub fn best_claimed_work(&self) -> Option<ChainWork> {
        self.peers
            .values()
            .map(|s| match s {
                PeerSync::Presync { cursor, .. } | PeerSync::Redownload { cursor, .. } => {
                    cursor.chain_work
                }
            })
            .max()
    }

    /// Whether `peer` is pre-syncing or redownloading.
    pub fn is_active(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    /// Forgets `peer` (it disconnected).
    pub fn peer_gone(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
    }

    /// Handles one `headers` message from `peer`: stores it in `store`, or pre-syncs it, or
    /// buffers it (see the [module docs](self)). `now_unix_ms` is for the future-time rule.
    pub fn on_headers(
        &mut self,
        peer: PeerId,
        store: &mut HeaderChain,
        chain: &Chainstate,
        headers: &[BlockHeader],
        now_unix_ms: u64,
    ) -> Result<PresyncOutcome, HeadersError> {
        if headers.len() > MAX_HEADERS {
            return Err(HeadersError::TooMany {
                count: headers.len(),
                max: MAX_HEADERS,
            });
        }
        let Some(first) = headers.first() else {
            return Ok(PresyncOutcome::Stored(AcceptedHeaders {
                added: 0,
                last: None,
                full: false,
                best_changed: false,
            }));
        };
        let full = headers.len() == MAX_HEADERS;
        let threshold = store.anti_dos_work(chain);
        // A continuation of this peer's pre-sync or redownload?
        let continues = match self.peers.get(&peer) {
            Some(PeerSync::Presync { cursor, .. }) | Some(PeerSync::Redownload { cursor, .. }) => {
                cursor.hash == first.prev_hash
            }
            None => false,
        };
        if !continues {
            self.peers.remove(&peer);
            let Some(parent) = store.node(chain, &first.prev_hash) else {
                return Err(HeadersError::Unconnected {
                    index: 0,
                    hash: first.hash(),
                    prev: first.prev_hash,
                });
            };
            if parent.chain_work >= threshold {
                return store
                    .accept_headers_from(Some(peer), chain, headers, now_unix_ms)
                    .map(PresyncOutcome::Stored);
            }
            let cursor =
                Cursor::at(store, chain, first.prev_hash).ok_or(HeadersError::Unconnected {
                    index: 0,
                    hash: first.hash(),
                    prev: first.prev_hash,
                })?;
            // A single message that proves the work by itself is stored at once.
            let mut probe = cursor.clone();
            self.validate(&mut probe, headers, now_unix_ms)?;
            if probe.chain_work >= threshold {
                return store
                    .accept_headers_from(Some(peer), chain, headers, now_unix_ms)
                    .map(PresyncOutcome::Stored);
            }
            self.counted_total += headers.len() as u64;
            if !full {
                return Ok(PresyncOutcome::Presyncing {
                    last: probe.hash,
                    fork: first.prev_hash,
                    full,
                    counted: headers.len(),
                });
            }
            let last = probe.hash;
            self.peers.insert(
                peer,
                PeerSync::Presync {
                    fork: first.prev_hash,
                    cursor: probe,
                    counted: headers.len(),
                },
            );
            return Ok(PresyncOutcome::Presyncing {
                last,
                fork: first.prev_hash,
                full,
                counted: headers.len(),
            });
        }
        let mut state = self.peers.remove(&peer).expect("checked above");
        match &mut state {
            PeerSync::Presync {
                fork,
                cursor,
                counted,
            } => {
                let mut next = cursor.clone();
                self.validate(&mut next, headers, now_unix_ms)?;
                *counted += headers.len();
                self.counted_total += headers.len() as u64;
                *cursor = next;
                if cursor.chain_work >= threshold {
                    let fork = *fork;
                    let start =
                        Cursor::at(store, chain, fork).ok_or(HeadersError::Unconnected {
                            index: 0,
                            hash: first.hash(),
                            prev: fork,
                        })?;
                    tracing::info!(%peer, headers = *counted, "pre-synced header chain proved its work; fetching it again");
                    self.peers.insert(
                        peer,
                        PeerSync::Redownload {
                            fork,
                            cursor: start,
                            limit: *counted,
                            buffer: Vec::new(),
                        },
                    );
                    return Ok(PresyncOutcome::Redownload { fork });
                }
                let outcome = PresyncOutcome::Presyncing {
                    last: cursor.hash,
                    fork: *fork,
                    full,
                    counted: *counted,
                };
                if full {
                    self.peers.insert(peer, state);
                }
                Ok(outcome)
            }
            PeerSync::Redownload {
                fork,
                cursor,
                limit,
                buffer,
            } => {
                let others: usize = self.buffered();
                if buffer.len() + headers.len() > *limit
                    || others + buffer.len() + headers.len() > self.max_buffered
                {
                    tracing::info!(%peer, "header redownload ran past its pre-synced length or the buffer cap; dropped");
                    return Ok(PresyncOutcome::RedownloadFailed);
                }
                let mut next = cursor.clone();
                self.validate(&mut next, headers, now_unix_ms)?;
                *cursor = next;
                buffer.extend_from_slice(headers);
                if cursor.chain_work >= threshold {
                    let buffer = std::mem::take(buffer);
                    return Self::store_buffer(peer, store, chain, &buffer, full, now_unix_ms)
                        .map(PresyncOutcome::Stored);
                }
                if !full {
                    return Ok(PresyncOutcome::RedownloadFailed);
                }
                let outcome = PresyncOutcome::Buffering {
                    last: cursor.hash,
                    fork: *fork,
                };
                self.peers.insert(peer, state);
                Ok(outcome)
            }
        }
    }

    /// Validates `headers` as a chain continuing `cursor`, advancing it.
    fn validate(
        &self,
        cursor: &mut Cursor,
        headers: &[BlockHeader],
        now_unix_ms: u64,
    ) -> Result<(), HeadersError> {
        let now_secs = now_unix_ms / 1000;
        for (index, header) in headers.iter().enumerate() {
            let hash = header.hash();
            if header.prev_hash != cursor.hash {
                return Err(HeadersError::Unconnected {
                    index,
                    hash,
                    prev: header.prev_hash,
                });
            }
            let height = cursor.height + 1;
            cursor
                .advance(header, hash, self.params, now_secs)
                .map_err(|source| HeadersError::Invalid {
                    index,
                    hash,
                    height,
                    source,
                })?;
        }
        Ok(())
    }

    /// Stores a redownloaded chain, a message's worth at a time.
    fn store_buffer(
        peer: PeerId,
        store: &mut HeaderChain,
        chain: &Chainstate,
        buffer: &[BlockHeader],
        full: bool,
        now_unix_ms: u64,
    ) -> Result<AcceptedHeaders, HeadersError> {
        let mut total = AcceptedHeaders {
            added: 0,
            last: buffer.last().map(BlockHeader::hash),
            full,
            best_changed: false,
        };
        for part in buffer.chunks(MAX_HEADERS) {
            let acc = store.accept_headers_from(Some(peer), chain, part, now_unix_ms)?;
            total.added += acc.added;
            total.best_changed |= acc.best_changed;
        }
        Ok(total)
    }
}
