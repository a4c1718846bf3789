//! Headers-first initial block download, sans I/O.
//!
//! The pieces, each fed by the driver (which owns the sockets, the clock and the
//! [`Chainstate`](parthenon_chain::Chainstate)):
//! - [`HeadersPresync`]: in front of the header chain, stores only header chains that prove
//!   enough work, pre-syncing (validating and counting, in O(1) memory per peer) the others;
//! - [`HeaderChain`]: validates the headers of `headers` messages against the chain rules,
//!   holds them as a tree beyond the chainstate's blocks (bounded), tracks the best (most
//!   work) header, and gives `getheaders` locators and the [`DownloadPlan`];
//! - [`BlockDownloader`]: spreads block requests over the ready peers, at most `per_peer` in
//!   flight each and never beyond a window above the last stored block, and finds stalling
//!   peers, whose requests go to others;
//! - [`SyncProgress`]: height, blocks per second and ETA as one log line.
//!
//! A driver loop, in outline:
//! 1. send `getheaders` with [`HeaderChain::locator`] to a peer (and `Peer::expect_headers`);
//!    feed the answer to [`HeaderChain::accept_headers`], scoring
//!    [`HeadersError::offence`] on error; ask again from [`AcceptedHeaders::last`] while the
//!    answers are full;
//! 2. [`BlockDownloader::set_plan`] with [`HeaderChain::download_plan`]; send each
//!    [`BlockDownloader::assign`] batch as one `getdata` (and `Peer::request` each block);
//! 3. on a block: [`BlockDownloader::received`], `Chainstate::process_block`, a fresh plan
//!    (which moves to the next best branch by itself when a block turns out invalid); now and
//!    then [`HeaderChain::prune`] to free the headers of stored blocks;
//! 4. on a timer: disconnect the peers [`BlockDownloader::stalled`] reports, reassign, and
//!    log [`SyncProgress`]; on a disconnect, [`BlockDownloader::peer_gone`].
//!
//! No clocks and no randomness: times are milliseconds passed in by the caller.

pub mod download;
pub mod headers;
pub mod presync;
pub mod progress;

pub use download::{
    BlockDownloader, DownloadConfig, DownloadConfigError, DEFAULT_PER_PEER,
    DEFAULT_STALL_TIMEOUT_MS, DEFAULT_WINDOW, MAX_TIMEOUT_DOUBLINGS,
};
pub use headers::{
    AcceptedHeaders, HeaderChain, HeaderTip, HeadersError, BYTES_PER_HEADER,
    DEFAULT_MAX_FORK_HEADERS_PER_PEER, DEFAULT_MAX_HEADERS,
};
pub use presync::{HeadersPresync, PresyncOutcome, DEFAULT_MAX_BUFFERED_HEADERS};
pub use progress::{SyncProgress, DEFAULT_PROGRESS_WINDOW_MS, MAX_SAMPLES};

use parthenon_primitives::BlockHash;
use std::fmt;

/// A connection, as the driver numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer#{}", self.0)
    }
}

/// The next blocks to fetch along the best header chain ([`HeaderChain::download_plan`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownloadPlan {
    /// Height of the last block of the best header chain that the chainstate stores (the
    /// window starts above it).
    pub base_height: u32,
    /// Height of the best header.
    pub target_height: u32,
    /// `(height, hash)` of the blocks to fetch, lowest first: heights above `base_height`
    /// within the window, leaving out blocks the chainstate holds as orphans.
    pub blocks: Vec<(u32, BlockHash)>,
}
