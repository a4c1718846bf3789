//! Inbound eviction (sans I/O): when every inbound slot is taken, which inbound peer (if
//! any) makes room for a newcomer.
//!
//! The rule is Bitcoin Core's (`AttemptToEvictConnection`): an attacker who opens many
//! connections should not be able to push out the peers that are hard to fake. So before
//! choosing, [`select_victim`] protects, in this order:
//! 1. [`PROTECT_BY_NETGROUP`] peers from distinct network groups (by a keyed hash of the
//!    group, so an attacker cannot tell which groups win);
//! 2. [`PROTECT_BY_PING`] peers with the lowest ping time (latency cannot be faked);
//! 3. [`PROTECT_BY_TX`] peers that most recently sent a transaction the mempool accepted;
//! 4. [`PROTECT_BY_BLOCK`] peers that most recently sent a block that extended our chain;
//! 5. half of those left, the longest connected.
//!
//! (Unlike Core, steps 3 and 4 protect only peers that did deliver something: protecting
//! four peers that sent nothing would protect by chance.) Of the peers still unprotected,
//! the network group with the most connections loses its youngest connection (ties: the
//! group whose youngest connection is the youngest). Manual peers are never candidates.
//! With few inbound peers everyone is protected and the newcomer is refused instead.
//!
//! Every ordering breaks ties by connection age (older first, then the lower id), so the
//! choice is deterministic.

use crate::netaddr::netgroup;
use crate::sync::PeerId;
use sha2::{Digest, Sha256};
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Peers protected for coming from distinct network groups.
pub const PROTECT_BY_NETGROUP: usize = 4;
/// Peers protected for the lowest ping times.
pub const PROTECT_BY_PING: usize = 8;
/// Peers protected for the most recent accepted transactions.
pub const PROTECT_BY_TX: usize = 4;
/// Peers protected for the most recent new blocks.
pub const PROTECT_BY_BLOCK: usize = 4;

/// What eviction knows about one inbound peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) id: PeerId,
    /// Engine time (ms) the connection opened.
    pub(crate) connected_ms: u64,
    /// Lowest ping round trip seen (ms); `None` before the first pong.
    pub(crate) min_ping_ms: Option<u64>,
    /// Engine time of the last new block from this peer.
    pub(crate) last_block_ms: Option<u64>,
    /// Engine time of the last transaction from this peer that the mempool accepted.
    pub(crate) last_tx_ms: Option<u64>,
    /// Keyed hash of the peer's network group ([`netgroup_key`]).
    pub(crate) netgroup: u64,
    /// Never evicted (a manual peer).
    pub(crate) protected: bool,
}

/// The keyed hash of `ip`'s network group that eviction compares.
pub(crate) fn netgroup_key(key: &[u8; 32], ip: IpAddr) -> u64 {
    let g = netgroup(ip);
    let mut h = Sha256::new();
    h.update(key);
    h.update(g.to_string().as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Removes from `c` the `n` candidates that `key` orders first (after sorting; ties by
/// age, older first).
fn protect<K: Ord>(c: &mut Vec<Candidate>, n: usize, key: impl Fn(&Candidate) -> K) {
    c.sort_by_key(|x| (key(x), x.connected_ms, x.id));
    let n = n.min(c.len());
    c.drain(..n);
}

/// The inbound peer to disconnect to make room, or `None` when every candidate is
/// protected (see the module documentation).
pub(crate) fn select_victim(candidates: &[Candidate]) -> Option<PeerId> {
    let mut c: Vec<Candidate> = candidates
        .iter()
        .filter(|x| !x.protected)
        .copied()
        .collect();
    // 1. Distinct groups, highest keys first: one per group.
    c.sort_by_key(|x| (Reverse(x.netgroup), x.connected_ms, x.id));
    let mut seen = Vec::new();
    let mut keep = Vec::with_capacity(c.len());
    for x in c {
        if seen.len() < PROTECT_BY_NETGROUP && !seen.contains(&x.netgroup) {
            seen.push(x.netgroup);
        } else {
            keep.push(x);
        }
    }
    let mut c = keep;
    // 2. Fastest pings (none measured: last).
    protect(&mut c, PROTECT_BY_PING, |x| {
        x.min_ping_ms.unwrap_or(u64::MAX)
    });
    // 3. and 4. Most recent useful deliveries, among peers that delivered.
    for (n, last) in [
        (
            PROTECT_BY_TX,
            (|x: &Candidate| x.last_tx_ms) as fn(&Candidate) -> Option<u64>,
        ),
        (PROTECT_BY_BLOCK, |x: &Candidate| x.last_block_ms),
    ] {
        let delivered = c.iter().filter(|x| last(x).is_some()).count();
        protect(&mut c, n.min(delivered), |x| Reverse(last(x)));
    }
    // 5. The longest connected half.
    let half = c.len() / 2;
    protect(&mut c, half, |_| ());
    // The biggest group (ties: the one with the youngest member) loses its youngest.
    let mut groups: BTreeMap<u64, Vec<Candidate>> = BTreeMap::new();
    for x in c {
        groups.entry(x.netgroup).or_default().push(x);
    }
    let youngest = |g: &Vec<Candidate>| {
        g.iter()
            .max_by_key(|x| (x.connected_ms, x.id))
            .copied()
            .expect("groups are not empty")
    };
    groups
        .values()
        .max_by_key(|g| {
            let y = youngest(g);
            (g.len(), y.connected_ms, y.id)
        })
        .map(|g| youngest(g).id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u64, connected_ms: u64, netgroup: u64) -> Candidate {
        Candidate {
            id: PeerId(id),
            connected_ms,
            min_ping_ms: None,
            last_block_ms: None,
            last_tx_ms: None,
            netgroup,
            protected: false,
        }
    }

    /// 30 peers: ids 1..=30 connected in that order, netgroup 1 for ids 1..=20 (one
    /// crowded operator), distinct groups 100+id for the others.
    fn crowd() -> Vec<Candidate> {
        (1..=30)
            .map(|i| peer(i, i * 1_000, if i <= 20 { 1 } else { 100 + i }))
            .collect()
    }

    #[test]
    fn few_peers_are_all_protected() {
        // 4 by group + 8 by ping: twelve peers that delivered nothing are all protected.
        let protected = PROTECT_BY_NETGROUP + PROTECT_BY_PING;
        let c: Vec<Candidate> = (1..=protected as u64).map(|i| peer(i, i, i)).collect();
        assert_eq!(select_victim(&c), None);
        assert_eq!(select_victim(&[]), None);
        let c: Vec<Candidate> = (1..=protected as u64 + 1).map(|i| peer(i, i, i)).collect();
        // Groups 10-13 (highest keys) and the eight oldest are protected: 9 is left.
        assert_eq!(select_victim(&c), Some(PeerId(9)));
    }

    #[test]
    fn the_crowded_group_loses_its_youngest() {
        assert_eq!(select_victim(&crowd()), Some(PeerId(20)));
    }

    #[test]
    fn a_fast_ping_protects() {
        let mut c = crowd();
        c[19].min_ping_ms = Some(1);
        assert_eq!(select_victim(&c), Some(PeerId(19)));
    }

    #[test]
    fn recent_blocks_and_transactions_protect() {
        let mut c = crowd();
        c[19].last_block_ms = Some(50_000);
        c[18].last_tx_ms = Some(40_000);
        assert_eq!(select_victim(&c), Some(PeerId(18)));
    }

    #[test]
    fn manual_peers_are_never_evicted() {
        let mut c = crowd();
        for x in c.iter_mut().take(20) {
            x.protected = true;
        }
        // The rest are distinct groups: 4 by group, 6 left; 8 by ping protects all.
        assert_eq!(select_victim(&c), None);
    }

    #[test]
    fn among_equal_groups_the_youngest_connection_goes() {
        // 40 peers in 4 groups of 10, connected round robin.
        let c: Vec<Candidate> = (1..=40).map(|i| peer(i, i * 10, i % 4)).collect();
        let v = select_victim(&c).expect("someone goes");
        // Longevity protected the oldest half; the youngest overall is id 40.
        assert_eq!(v, PeerId(40));
    }

    #[test]
    fn the_longest_connected_half_is_protected() {
        // One group only: after 4+8 protections (group, ping), half of the rest by age.
        let c: Vec<Candidate> = (1..=40).map(|i| peer(i, 40_000 - i * 10, 7)).collect();
        // Connected oldest = id 40; the youngest (id 1) goes.
        assert_eq!(select_victim(&c), Some(PeerId(1)));
    }
}
