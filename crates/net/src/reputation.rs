//! Misbehaviour scores and timed bans.
//!
//! Each offence has a named cost; a peer whose accumulated score reaches
//! [`BAN_THRESHOLD`] is disconnected and its address banned for [`DEFAULT_BAN_SECS`].
//! Costs are chosen so that anything only a broken or hostile implementation sends
//! (malformed data, invalid blocks) bans at once, while things an honest peer can do by
//! accident (an unrequested transaction, a slow reply) need to repeat before they do.

use std::collections::HashMap;
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

/// Banned addresses with their expiry (seconds on the caller's clock).
#[derive(Debug, Clone, Default)]
pub struct BanList {
    until: HashMap<IpAddr, u64>,
}

impl BanList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bans `ip` until `now + secs` (extending an existing ban, never shortening it).
    pub fn ban(&mut self, ip: IpAddr, now: u64, secs: u64) {
        let t = now.saturating_add(secs);
        let e = self.until.entry(ip).or_insert(t);
        *e = (*e).max(t);
    }

    /// Lifts a ban; returns whether there was one.
    pub fn unban(&mut self, ip: &IpAddr) -> bool {
        self.until.remove(ip).is_some()
    }

    /// Whether `ip` is banned at `now`.
    pub fn is_banned(&self, ip: &IpAddr, now: u64) -> bool {
        self.until.get(ip).is_some_and(|t| *t > now)
    }

    /// Drops expired bans.
    pub fn expire(&mut self, now: u64) {
        self.until.retain(|_, t| *t > now);
    }

    /// Current bans `(ip, until)`, sorted by address.
    pub fn entries(&self) -> Vec<(IpAddr, u64)> {
        let mut v: Vec<_> = self.until.iter().map(|(ip, t)| (*ip, *t)).collect();
        v.sort();
        v
    }
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
        assert!(b.unban(&ip));
        assert!(!b.is_banned(&ip, 1));
    }
}
