//! Misbehaviour scores and timed bans of addresses and subnets.
//!
//! Each offence has a named cost; a peer whose accumulated score reaches
//! [`BAN_THRESHOLD`] is disconnected and its address banned for [`DEFAULT_BAN_SECS`].
//! Costs are chosen so that anything only a broken or hostile implementation sends
//! (malformed data, invalid blocks) bans at once, while things an honest peer can do by
//! accident (an unrequested transaction, a slow reply) need to repeat before they do.

pub use crate::netaddr::Subnet;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Score at which a peer is disconnected and banned.
pub const BAN_THRESHOLD: u32 = 100;
/// How long a ban lasts by default (24 hours).
pub const DEFAULT_BAN_SECS: u64 = 24 * 60 * 60;

/// Why a peer is being scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offence {
    /// A message that does not decode, a bad checksum or an oversized frame.
    MalformedMessage,
    /// A block that breaks a consensus rule.
    InvalidBlock,
    /// A transaction that breaks a consensus rule.
    InvalidTransaction,
    /// A block, header list or transaction nobody asked for.
    UnsolicitedData,
    /// More messages than the rate limit allows.
    Flood,
    /// A protocol message before the handshake finished, or a second `version`.
    ProtocolViolation,
    /// Headers that do not connect to anything we know.
    UnconnectedHeaders,
    /// A transaction longer than the largest one we accept, refused from its encoded length
    /// (an honest node running this policy never relays one).
    OversizedTransaction,
    /// More bytes of transactions the mempool refused (policy or consensus) than the
    /// per-peer budget allows: validating them is work the peer makes us do for nothing.
    RejectedTransactionFlood,
    /// A requested block not delivered within its deadline (the peer is disconnected too).
    Stalling,
}

impl Offence {
    /// The score this offence adds.
    pub const fn cost(self) -> u32 {
        match self {
            Offence::MalformedMessage => 100,
            Offence::InvalidBlock => 100,
            Offence::InvalidTransaction => 10,
            Offence::UnsolicitedData => 10,
            Offence::Flood => 50,
            Offence::ProtocolViolation => 20,
            Offence::UnconnectedHeaders => 20,
            Offence::OversizedTransaction => 20,
            Offence::RejectedTransactionFlood => 10,
            Offence::Stalling => 20,
        }
    }
}

/// Accumulated misbehaviour of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score(u32);

impl Score {
    /// Adds `offence`; returns true when the peer should now be banned.
    pub fn add(&mut self, offence: Offence) -> bool {
        self.0 = self.0.saturating_add(offence.cost());
        self.0 >= BAN_THRESHOLD
    }

    /// The current score.
    pub fn value(self) -> u32 {
        self.0
    }
}

/// Most bans held. Past it, the ban that ends soonest makes room (and is counted in
/// [`BanList::evicted`]): an attacker who earns bans from many addresses cannot grow the
/// node's memory, at worst shorten the oldest bans.
pub const MAX_BANS: usize = 10_000;

/// Banned addresses and subnets with their expiry (seconds on the caller's clock).
///
/// Bans are [`Subnet`]s: a single address is a /32 or /128. An address is banned when any
/// banned subnet contains it; the lookup masks the address once per prefix length in use
/// (at most 33 or 129), not once per ban.
#[derive(Debug, Clone)]
pub struct BanList {
    until: HashMap<Subnet, u64>,
    /// How many bans use each (is IPv4, prefix length): the lengths to try in a lookup.
    prefixes: BTreeMap<(bool, u8), usize>,
    max: usize,
    evicted: u64,
}

impl Default for BanList {
    fn default() -> Self {
        BanList::with_capacity(MAX_BANS)
    }
}

impl BanList {
    /// An empty list holding up to [`MAX_BANS`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list holding up to `max` bans (at least one).
    pub fn with_capacity(max: usize) -> Self {
        BanList {
            until: HashMap::new(),
            prefixes: BTreeMap::new(),
            max: max.max(1),
            evicted: 0,
        }
    }

    /// Bans `subnet` (an [`IpAddr`] converts to its single address) until `now + secs`,
    /// extending an existing ban, never shortening it. When the list is full, the ban that
    /// ends soonest (it may be this one) is dropped.
    pub fn ban(&mut self, subnet: impl Into<Subnet>, now: u64, secs: u64) {
        let subnet = subnet.into();
        let t = now.saturating_add(secs);
        if let Some(e) = self.until.get_mut(&subnet) {
            *e = (*e).max(t);
            return;
        }
        if self.until.len() >= self.max {
            // O(n) only when full and only per new ban: bans are earned one connection at
            // a time, so this is never hot.
            let soonest = self
                .until
                .iter()
                .min_by_key(|(s, t)| (**t, **s))
                .map(|(s, t)| (*s, *t));
            match soonest {
                Some((s, old)) if old <= t => {
                    self.remove(&s);
                    self.evicted += 1;
                }
                _ => {
                    self.evicted += 1;
                    return;
                }
            }
        }
        self.until.insert(subnet, t);
        *self.prefixes.entry(prefix_key(&subnet)).or_default() += 1;
    }

    fn remove(&mut self, subnet: &Subnet) -> bool {
        if self.until.remove(subnet).is_none() {
            return false;
        }
        let key = prefix_key(subnet);
        if let Some(n) = self.prefixes.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.prefixes.remove(&key);
            }
        }
        true
    }

    /// Lifts the ban of exactly `subnet`; returns whether there was one.
    pub fn unban(&mut self, subnet: impl Into<Subnet>) -> bool {
        self.remove(&subnet.into())
    }

    /// Whether `ip` is banned at `now` (by its own ban or a subnet's).
    pub fn is_banned(&self, ip: &IpAddr, now: u64) -> bool {
        let ip = crate::netaddr::canonical(*ip);
        let v4 = ip.is_ipv4();
        self.prefixes
            .keys()
            .filter(|(is_v4, _)| *is_v4 == v4)
            .any(|(_, prefix)| {
                self.until
                    .get(&Subnet::new(ip, *prefix))
                    .is_some_and(|t| *t > now)
            })
    }

    /// Drops expired bans.
    pub fn expire(&mut self, now: u64) {
        let gone: Vec<Subnet> = self
            .until
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            self.remove(&s);
        }
    }

    /// Current bans `(subnet, until)`, sorted by subnet.
    pub fn entries(&self) -> Vec<(Subnet, u64)> {
        let mut v: Vec<_> = self.until.iter().map(|(s, t)| (*s, *t)).collect();
        v.sort();
        v
    }

    /// Number of bans held.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether no ban is held.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Bans dropped (or refused) because the list was full, since it was made.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

fn prefix_key(s: &Subnet) -> (bool, u8) {
    (s.network().is_ipv4(), s.prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_data_bans_at_once_but_one_unsolicited_tx_does_not() {
        let mut s = Score::default();
        assert!(!s.add(Offence::UnsolicitedData));
        assert!(s.add(Offence::MalformedMessage));
        let mut t = Score::default();
        for _ in 0..9 {
            assert!(!t.add(Offence::UnsolicitedData));
        }
        assert!(t.add(Offence::UnsolicitedData));
    }

    #[test]
    fn bans_expire_and_extend_but_never_shorten() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut b = BanList::new();
        b.ban(ip, 100, 50);
        assert!(b.is_banned(&ip, 149));
        assert!(!b.is_banned(&ip, 150));
        b.ban(ip, 100, 10);
        assert!(
            b.is_banned(&ip, 149),
            "a shorter ban does not shorten the first"
        );
        b.expire(200);
        assert!(b.entries().is_empty());
        b.ban(ip, 0, 5);
        assert!(b.unban(ip));
        assert!(!b.is_banned(&ip, 1));
    }

    #[test]
    fn a_subnet_ban_covers_every_address_in_it() {
        let mut b = BanList::new();
        let net: Subnet = "1.2.3.0/24".parse().unwrap();
        b.ban(net, 0, 100);
        assert!(b.is_banned(&"1.2.3.200".parse().unwrap(), 10));
        assert!(b.is_banned(&"::ffff:1.2.3.1".parse().unwrap(), 10));
        assert!(!b.is_banned(&"1.2.4.1".parse().unwrap(), 10));
        let v6: Subnet = "2001:db8:0:1::/64".parse().unwrap();
        b.ban(v6, 0, 100);
        assert!(b.is_banned(&"2001:db8:0:1::abcd".parse().unwrap(), 10));
        assert!(!b.is_banned(&"2001:db8:0:2::1".parse().unwrap(), 10));
        assert!(
            !b.unban("1.2.3.4".parse::<IpAddr>().unwrap()),
            "only exact bans lift"
        );
        assert!(b.unban(net));
        assert!(!b.is_banned(&"1.2.3.200".parse().unwrap(), 10));
    }

    #[test]
    fn a_full_ban_list_drops_the_ban_that_ends_soonest() {
        let mut b = BanList::with_capacity(3);
        for i in 0..3u8 {
            b.ban(IpAddr::from([10, 0, 0, i]), 0, 100 + u64::from(i));
        }
        b.ban(IpAddr::from([10, 0, 0, 9]), 0, 1_000);
        assert_eq!(b.len(), 3);
        assert_eq!(b.evicted(), 1);
        assert!(
            !b.is_banned(&IpAddr::from([10, 0, 0, 0]), 1),
            "the soonest went"
        );
        assert!(b.is_banned(&IpAddr::from([10, 0, 0, 9]), 1));
        b.ban(IpAddr::from([10, 0, 0, 8]), 0, 1);
        assert!(
            !b.is_banned(&IpAddr::from([10, 0, 0, 8]), 0),
            "shorter than all: not kept"
        );
        assert_eq!((b.len(), b.evicted()), (3, 2));
    }
}
