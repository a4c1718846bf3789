//! [`AddressBook`]: peer addresses learned from `addr` gossip and from peers we connected
//! to, kept across restarts in a small text file.
//!
//! The book is a fixed table of [`MAX_ADDRESSES`] slots in buckets of [`BUCKET_SIZE`], in
//! the spirit of Bitcoin Core's address manager (a full manager with ASN diversity is meant
//! to replace it behind the same few methods):
//! - **new** slots ([`NEW_BUCKETS`] buckets) hold gossiped addresses. The bucket is chosen
//!   by a keyed hash of the *source's* network group and the address's group, so one source
//!   group reaches only [`NEW_BUCKETS_PER_SOURCE_GROUP`] of the new buckets: however much
//!   one peer (or one /16) gossips, it fills at most that share of the book;
//! - **tried** slots ([`TRIED_BUCKETS`] buckets) hold addresses we connected to ourselves;
//!   gossip never evicts them and never outranks their times;
//! - the slot inside a bucket is a keyed hash of the address, so inserting is O(1): one
//!   hash, one look at one slot. A slot held by a live entry is kept (first come, first
//!   kept); only an entry that is stale or keeps failing gives way. The key is secret (from
//!   the engine's RNG), so an attacker cannot aim addresses at chosen slots.
//!
//! Gossiped times are not trusted beyond what the sender can prove: a time in the future or
//! absurdly old counts as five days ago, and every gossiped time is pushed back
//! [`GOSSIP_TIME_PENALTY_SECS`], so a gossiped entry always looks older than the moment we
//! heard it. Addresses that are not publicly routable ([`is_routable`]) are refused from
//! gossip unless the network allows them (the dev network runs on loopback).
//!
//! The file holds one `ADDRESS LAST_SEEN SOURCE` line per address (`SOURCE` the gossiping
//! IP, or `tried`); it is written to a temporary file and renamed over the old one, and
//! lines that do not parse are skipped with a warning so a damaged file costs only its
//! damaged lines. Lines of older versions (`ADDRESS LAST_SEEN`) load as self-announced.

use super::backoff::Backoff;
use super::persist::{read_if_exists, write_atomically, StateFileError, MAX_LINE};
use crate::netaddr::{canonical, is_routable, netgroup, Subnet};
use rand::seq::IteratorRandom;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Slots per bucket.
pub const BUCKET_SIZE: usize = 64;
/// Buckets of gossiped addresses.
pub const NEW_BUCKETS: usize = 48;
/// Buckets of addresses we connected to.
pub const TRIED_BUCKETS: usize = 16;
/// Most addresses held (new and tried slots together).
pub const MAX_ADDRESSES: usize = (NEW_BUCKETS + TRIED_BUCKETS) * BUCKET_SIZE;
/// New buckets one source network group can reach (6 of 48: an eighth of the book).
pub const NEW_BUCKETS_PER_SOURCE_GROUP: u64 = 6;
/// Tried buckets the addresses of one network group can reach.
pub const TRIED_BUCKETS_PER_GROUP: u64 = 4;
/// How far back every gossiped time is pushed (Bitcoin Core: two hours).
pub const GOSSIP_TIME_PENALTY_SECS: u64 = 2 * 60 * 60;
/// A gossiped time this far in the future is a lie.
const MAX_FUTURE_SECS: u64 = 10 * 60;
/// What a lying time counts as: this long ago.
const LIAR_AGE_SECS: u64 = 5 * 24 * 60 * 60;
/// An entry not seen for this long may be replaced by any newcomer, and is not taken in.
pub const STALE_SECS: u64 = 30 * 24 * 60 * 60;
/// An untried entry that failed this many dials in a row may be replaced.
const MAX_FAILURES: u32 = 3;

/// Why the address book could not be read or written.
pub type AddressBookError = StateFileError;

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Gossiped by (or self-announced from) this IP.
    Gossip(IpAddr),
    /// We connected to it ourselves.
    Tried,
}

/// What the book knows of one address.
#[derive(Debug, Clone, Copy)]
struct Entry {
    last_seen: u64,
    backoff: Backoff,
    origin: Origin,
    slot: usize,
}

impl Entry {
    /// Whether any newcomer may take this entry's slot at `now`.
    fn is_terrible(&self, now: u64) -> bool {
        if self.last_seen.saturating_add(STALE_SECS) < now {
            return true;
        }
        self.origin != Origin::Tried && self.backoff.failures >= MAX_FAILURES
    }
}

/// What [`AddressBook::add_gossip`] did with one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Taken into an empty (or terrible entry's) slot.
    Added,
    /// Already known; its time may have been refreshed.
    Known,
    /// Not taken: its slot holds a live entry.
    SlotTaken,
    /// Not taken: not dialable, not routable on this network, or stale.
    Refused,
}

/// Known peer addresses (see this module's documentation).
#[derive(Debug)]
pub struct AddressBook {
    key: [u8; 32],
    slots: Vec<Option<SocketAddr>>,
    entries: HashMap<SocketAddr, Entry>,
    allow_unroutable: bool,
    path: Option<PathBuf>,
    dirty: bool,
}

impl AddressBook {
    /// An empty book that is not persisted. `key` keeps slot choice secret: give it from
    /// the node's (seeded) RNG.
    pub fn in_memory(key: [u8; 32]) -> Self {
        AddressBook {
            key,
            slots: vec![None; MAX_ADDRESSES],
            entries: HashMap::new(),
            allow_unroutable: false,
            path: None,
            dirty: false,
        }
    }

    /// The book stored at `path` (empty when the file does not exist yet), keyed by `key`.
    /// `allow_unroutable` as [`Self::allow_unroutable`] (it also decides which stored lines
    /// are taken back in).
    pub fn load(
        path: &Path,
        key: [u8; 32],
        allow_unroutable: bool,
    ) -> Result<Self, AddressBookError> {
        let mut book = AddressBook::in_memory(key).allow_unroutable(allow_unroutable);
        book.path = Some(path.to_path_buf());
        let Some(text) = read_if_exists(path)? else {
            return Ok(book);
        };
        let (mut bad, mut read) = (0usize, 0usize);
        for line in text.lines() {
            match parse_line(line) {
                Some((addr, seen, Origin::Tried)) => {
                    read += 1;
                    book.insert_tried(addr, seen);
                }
                Some((addr, seen, Origin::Gossip(source))) => {
                    read += 1;
                    book.insert_new(addr, seen, source, seen);
                }
                None if line.trim().is_empty() => {}
                None => bad += 1,
            }
        }
        if bad > 0 {
            tracing::warn!(path = %path.display(), bad, "skipped unreadable address book lines");
        }
        // This run's key places entries differently: lines that lost their slot to another
        // (or that this network refuses) go from the file at the next write.
        book.dirty = bad > 0 || read != book.len();
        Ok(book)
    }

    /// Whether addresses that are not publicly routable (loopback, private, ...) are taken
    /// from gossip: on test networks that run on one machine or a LAN.
    pub fn allow_unroutable(mut self, allow: bool) -> Self {
        self.allow_unroutable = allow;
        self
    }

    /// Number of addresses held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `addr` is held.
    pub fn contains(&self, addr: &SocketAddr) -> bool {
        self.entries.contains_key(&canonical_addr(*addr))
    }

    /// Takes in `addr`, gossiped by `source` with the time `claimed` (Unix seconds), at Unix
    /// time `now`. O(1). See the module documentation for what is refused and how the time
    /// is discounted.
    pub fn add_gossip(
        &mut self,
        addr: SocketAddr,
        claimed: u64,
        source: IpAddr,
        now: u64,
    ) -> AddOutcome {
        let addr = canonical_addr(addr);
        if !self.dialable(&addr) {
            return AddOutcome::Refused;
        }
        let seen = gossip_time(claimed, now);
        if seen.saturating_add(STALE_SECS) < now {
            return AddOutcome::Refused;
        }
        if let Some(e) = self.entries.get_mut(&addr) {
            if seen > e.last_seen {
                e.last_seen = seen;
                self.dirty = true;
            }
            return AddOutcome::Known;
        }
        self.insert_new(addr, seen, canonical(source), now)
    }

    fn dialable(&self, addr: &SocketAddr) -> bool {
        let ip = addr.ip();
        addr.port() != 0
            && !ip.is_unspecified()
            && !ip.is_multicast()
            && (self.allow_unroutable || is_routable(ip))
    }

    fn insert_new(&mut self, addr: SocketAddr, seen: u64, source: IpAddr, now: u64) -> AddOutcome {
        let addr = canonical_addr(addr);
        if self.entries.contains_key(&addr) || !self.dialable(&addr) {
            return AddOutcome::Refused;
        }
        let src = netgroup(source);
        let group = netgroup(addr.ip());
        let (group, src) = (group_bytes(&group), group_bytes(&src));
        let choice =
            self.hash(&[b"new-choice".as_slice(), &group, &src]) % NEW_BUCKETS_PER_SOURCE_GROUP;
        let bucket = self.hash(&[b"new-bucket".as_slice(), &src, &choice.to_le_bytes()])
            % NEW_BUCKETS as u64;
        let slot = bucket as usize * BUCKET_SIZE + self.slot_in_bucket(b"new-slot", bucket, &addr);
        if !self.make_room(slot, now) {
            return AddOutcome::SlotTaken;
        }
        self.place(
            addr,
            Entry {
                last_seen: seen,
                backoff: Backoff::default(),
                origin: Origin::Gossip(source),
                slot,
            },
        );
        AddOutcome::Added
    }

    /// Puts `addr` in its tried slot (the occupant goes back to the new table if it can).
    fn insert_tried(&mut self, addr: SocketAddr, seen: u64) {
        let addr = canonical_addr(addr);
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return;
        }
        let old = self.take(&addr);
        let group = group_bytes(&netgroup(addr.ip()));
        let choice =
            self.hash(&[b"tried-choice".as_slice(), &addr_bytes(&addr)]) % TRIED_BUCKETS_PER_GROUP;
        let bucket = self.hash(&[b"tried-bucket".as_slice(), &group, &choice.to_le_bytes()])
            % TRIED_BUCKETS as u64;
        let slot = NEW_BUCKETS * BUCKET_SIZE
            + bucket as usize * BUCKET_SIZE
            + self.slot_in_bucket(b"tried-slot", bucket, &addr);
        if let Some(occupant) = self.slots[slot] {
            let e = self.take(&occupant).expect("a slot's address has an entry");
            // The displaced address was good once: give it a new slot if one is free.
            let _ = self.insert_new(occupant, e.last_seen, occupant.ip(), e.last_seen);
        }
        self.place(
            addr,
            Entry {
                last_seen: seen,
                backoff: old.map(|e| e.backoff).unwrap_or_default(),
                origin: Origin::Tried,
                slot,
            },
        );
    }

    /// Frees `slot` if it is empty or holds a terrible entry; false if it holds a live one.
    fn make_room(&mut self, slot: usize, now: u64) -> bool {
        let Some(occupant) = self.slots[slot] else {
            return true;
        };
        if self.entries[&occupant].is_terrible(now) {
            self.take(&occupant);
            true
        } else {
            false
        }
    }

    fn place(&mut self, addr: SocketAddr, e: Entry) {
        debug_assert!(self.slots[e.slot].is_none());
        self.slots[e.slot] = Some(addr);
        self.entries.insert(addr, e);
        self.dirty = true;
    }

    fn take(&mut self, addr: &SocketAddr) -> Option<Entry> {
        let e = self.entries.remove(addr)?;
        self.slots[e.slot] = None;
        self.dirty = true;
        Some(e)
    }

    fn slot_in_bucket(&self, tag: &[u8], bucket: u64, addr: &SocketAddr) -> usize {
        (self.hash(&[tag, bucket.to_le_bytes().as_slice(), &addr_bytes(addr)]) % BUCKET_SIZE as u64)
            as usize
    }

    /// A keyed hash of `parts` (SHA-256 of the secret key and the length-prefixed parts).
    fn hash(&self, parts: &[&[u8]]) -> u64 {
        let mut h = Sha256::new();
        h.update(self.key);
        for p in parts {
            h.update((p.len() as u32).to_le_bytes());
            h.update(p);
        }
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }

    /// Forgets `addr` (e.g. it turned out to be this node).
    pub fn remove(&mut self, addr: &SocketAddr) {
        self.take(&canonical_addr(*addr));
    }

    /// Records a failed dial or a lost connection to `addr` at `now_ms`.
    pub fn failed(&mut self, addr: &SocketAddr, now_ms: u64, base_ms: u64, max_ms: u64) {
        if let Some(e) = self.entries.get_mut(&canonical_addr(*addr)) {
            e.backoff.failed(now_ms, base_ms, max_ms);
        }
    }

    /// Records that `addr`, an address of this book, answered (handshake done) at Unix time
    /// `now_unix`: it moves to the tried table. Addresses not in the book are not added
    /// (only the book's own dials prove an address).
    pub fn connected(&mut self, addr: &SocketAddr, now_unix: u64) {
        let addr = canonical_addr(*addr);
        let Some(e) = self.entries.get_mut(&addr) else {
            return;
        };
        e.backoff.succeeded();
        if e.origin == Origin::Tried {
            e.last_seen = now_unix;
            self.dirty = true;
        } else {
            self.insert_tried(addr, now_unix);
        }
    }

    /// A random address whose backoff allows a dial at `now_ms` and that `skip` does not
    /// exclude (connected, banned, being dialled). O(n), but only once per dial.
    pub fn pick<R: Rng>(
        &self,
        now_ms: u64,
        rng: &mut R,
        skip: impl Fn(&SocketAddr) -> bool,
    ) -> Option<SocketAddr> {
        self.entries
            .iter()
            .filter(|(a, e)| e.backoff.ready(now_ms) && !skip(a))
            .map(|(a, _)| *a)
            .choose(rng)
    }

    /// Up to `n` addresses with their last-seen times, chosen at random (a `getaddr` answer).
    pub fn sample<R: Rng>(&self, n: usize, rng: &mut R) -> Vec<(SocketAddr, u64)> {
        self.entries
            .iter()
            .map(|(a, e)| (*a, e.last_seen))
            .choose_multiple(rng, n)
    }

    /// Every address held with its last-seen time.
    #[cfg(test)]
    fn addresses(&self) -> Vec<(SocketAddr, u64)> {
        let mut v: Vec<_> = self
            .entries
            .iter()
            .map(|(a, e)| (*a, e.last_seen))
            .collect();
        v.sort();
        v
    }

    /// Writes the book to its file if it changed since the last write.
    pub fn save_if_dirty(&mut self) -> Result<(), AddressBookError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let mut text = String::with_capacity(self.entries.len() * 48);
        for (addr, e) in &self.entries {
            match e.origin {
                Origin::Tried => text.push_str(&format!("{addr} {} tried\n", e.last_seen)),
                Origin::Gossip(src) => text.push_str(&format!("{addr} {} {src}\n", e.last_seen)),
            }
        }
        write_atomically(&path, &text)?;
        self.dirty = false;
        Ok(())
    }
}

/// The time a gossiped `claimed` time counts as at `now` (see the module documentation).
pub fn gossip_time(claimed: u64, now: u64) -> u64 {
    let honest = claimed > 100_000_000 && claimed <= now.saturating_add(MAX_FUTURE_SECS);
    let base = if honest {
        claimed.min(now)
    } else {
        now.saturating_sub(LIAR_AGE_SECS)
    };
    base.saturating_sub(GOSSIP_TIME_PENALTY_SECS)
}

fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(addr.ip()), addr.port())
}

fn group_bytes(s: &Subnet) -> Vec<u8> {
    let mut v = match s.network() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    v.push(s.prefix());
    v
}

fn addr_bytes(a: &SocketAddr) -> Vec<u8> {
    let mut v = match a.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    v.extend_from_slice(&a.port().to_le_bytes());
    v
}

/// `ADDRESS LAST_SEEN [SOURCE|tried]`.
fn parse_line(line: &str) -> Option<(SocketAddr, u64, Origin)> {
    if line.len() > MAX_LINE {
        return None;
    }
    let mut parts = line.split_ascii_whitespace();
    let addr: SocketAddr = parts.next()?.parse().ok()?;
    let seen: u64 = parts.next()?.parse().ok()?;
    let origin = match parts.next() {
        None => Origin::Gossip(addr.ip()),
        Some("tried") => Origin::Tried,
        Some(src) => Origin::Gossip(src.parse().ok()?),
    };
    parts.next().is_none().then_some((addr, seen, origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::net::Ipv4Addr;

    const NOW: u64 = 1_800_000_000;
    const KEY: [u8; 32] = [7; 32];

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn v4(n: u32) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::from(n), 7333))
    }

    #[test]
    fn survives_a_restart_and_skips_damaged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.txt");
        let mut book = AddressBook::load(&path, KEY, false).unwrap();
        assert!(book.is_empty());
        book.add_gossip(a("1.0.0.1:7333"), NOW, ip("5.5.5.5"), NOW);
        book.add_gossip(a("[2a00::1]:7333"), NOW, ip("5.5.5.5"), NOW);
        book.connected(&a("1.0.0.1:7333"), NOW);
        book.save_if_dirty().unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("1.0.0.1:7333 1800000000 tried"), "{text}");
        text.push_str("garbage line\n10.0.0.2:notaport 5\n8.8.8.8:7333 1799990000\n");
        std::fs::write(&path, text).unwrap();
        let book = AddressBook::load(&path, [9; 32], false).unwrap();
        assert_eq!(book.len(), 3);
        assert!(book.contains(&a("[2a00::1]:7333")));
        assert!(
            book.contains(&a("8.8.8.8:7333")),
            "a line of the old format"
        );
    }

    #[test]
    fn undialable_and_unroutable_addresses_are_refused_from_gossip() {
        let mut book = AddressBook::in_memory(KEY);
        for bad in [
            "0.0.0.0:7333",
            "1.0.0.1:0",
            "224.0.0.1:7333",
            "127.0.0.1:7333",
            "10.0.0.1:7333",
            "192.168.1.1:7333",
            "[::1]:7333",
            "[fe80::1]:7333",
        ] {
            assert_eq!(
                book.add_gossip(a(bad), NOW, ip("5.5.5.5"), NOW),
                AddOutcome::Refused,
                "{bad}"
            );
        }
        assert!(book.is_empty());
        let mut dev = AddressBook::in_memory(KEY).allow_unroutable(true);
        assert_eq!(
            dev.add_gossip(a("127.0.0.1:7333"), NOW, ip("127.0.0.1"), NOW),
            AddOutcome::Added
        );
        assert_eq!(
            dev.add_gossip(a("0.0.0.0:7333"), NOW, ip("127.0.0.1"), NOW),
            AddOutcome::Refused
        );
    }

    #[test]
    fn gossiped_times_are_discounted_and_never_outrank_a_tried_address() {
        assert_eq!(
            gossip_time(NOW + 3_600, NOW),
            NOW - LIAR_AGE_SECS - GOSSIP_TIME_PENALTY_SECS
        );
        assert_eq!(gossip_time(NOW + 60, NOW), NOW - GOSSIP_TIME_PENALTY_SECS);
        assert_eq!(
            gossip_time(NOW - 100, NOW),
            NOW - 100 - GOSSIP_TIME_PENALTY_SECS
        );
        assert_eq!(
            gossip_time(5, NOW),
            NOW - LIAR_AGE_SECS - GOSSIP_TIME_PENALTY_SECS
        );
        let mut book = AddressBook::in_memory(KEY);
        book.add_gossip(a("1.0.0.1:7333"), NOW, ip("5.5.5.5"), NOW);
        book.connected(&a("1.0.0.1:7333"), NOW);
        book.add_gossip(a("1.0.0.1:7333"), NOW + 500, ip("6.6.6.6"), NOW);
        assert_eq!(book.addresses(), vec![(a("1.0.0.1:7333"), NOW)]);
        assert_eq!(
            book.add_gossip(a("1.0.0.2:7333"), NOW - STALE_SECS, ip("5.5.5.5"), NOW),
            AddOutcome::Refused,
            "already stale"
        );
    }

    #[test]
    fn one_source_group_fills_at_most_its_share_of_the_book() {
        let mut book = AddressBook::in_memory(KEY);
        // An attacker gossips 200,000 distinct addresses from many groups.
        for i in 0..200_000u32 {
            let addr = v4(0x0100_0000 + i * 7_919);
            book.add_gossip(addr, NOW, ip("66.66.1.1"), NOW);
        }
        let share = NEW_BUCKETS_PER_SOURCE_GROUP as usize * BUCKET_SIZE;
        assert!(book.len() <= share, "{} > {share}", book.len());
        assert!(
            book.len() > share / 2,
            "the reachable buckets fill: {}",
            book.len()
        );
        // Honest sources from many groups still find room.
        let mut honest = 0;
        for g in 0..200u32 {
            let source = IpAddr::from(Ipv4Addr::from(0x5000_0000 + (g << 16)));
            for k in 0..10u32 {
                let addr = v4(0x3000_0000 + (g << 16) + k);
                if book.add_gossip(addr, NOW, source, NOW) == AddOutcome::Added {
                    honest += 1;
                }
            }
        }
        assert!(honest > 1_000, "honest addresses taken in: {honest}");
        // More attacker gossip does not displace them.
        let before = book.len();
        for i in 0..50_000u32 {
            book.add_gossip(v4(0x0200_0000 + i * 13), NOW, ip("66.66.2.2"), NOW);
        }
        assert_eq!(book.len(), before, "nothing live was replaced");
    }

    #[test]
    fn stale_or_failing_entries_give_way() {
        let mut book = AddressBook::in_memory(KEY);
        let src = ip("5.5.5.5");
        // Fill what this source can reach with entries seen long ago.
        let old = NOW - STALE_SECS + 10;
        for i in 0..20_000u32 {
            book.add_gossip(v4(0x0100_0000 + i * 31), old, src, old);
        }
        let stale_count = book.len();
        let mut later = 0;
        for i in 0..20_000u32 {
            if book.add_gossip(v4(0x0900_0000 + i * 31), NOW, src, NOW) == AddOutcome::Added {
                later += 1;
            }
        }
        assert!(
            later > stale_count / 2,
            "stale entries replaced: {later} of {stale_count}"
        );
        assert!(book.len() <= NEW_BUCKETS_PER_SOURCE_GROUP as usize * BUCKET_SIZE);
    }

    #[test]
    fn connected_addresses_move_to_tried_and_backoff_hides_failures() {
        let mut book = AddressBook::in_memory(KEY);
        book.add_gossip(a("1.0.0.1:7333"), NOW, ip("5.5.5.5"), NOW);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(book.pick(0, &mut rng, |_| false).is_some());
        book.failed(&a("1.0.0.1:7333"), 0, 1_000, 60_000);
        assert!(book.pick(500, &mut rng, |_| false).is_none());
        assert!(book.pick(1_000, &mut rng, |_| false).is_some());
        assert!(book.pick(1_000, &mut rng, |_| true).is_none());
        book.connected(&a("1.0.0.1:7333"), NOW);
        assert_eq!(book.entries[&a("1.0.0.1:7333")].origin, Origin::Tried);
        assert!(book.entries[&a("1.0.0.1:7333")].slot >= NEW_BUCKETS * BUCKET_SIZE);
        book.connected(&a("9.9.9.9:7333"), NOW);
        assert!(
            !book.contains(&a("9.9.9.9:7333")),
            "only the book's own addresses"
        );
        book.remove(&a("1.0.0.1:7333"));
        assert!(book.is_empty());
        assert!(book.slots.iter().all(Option::is_none));
    }
}
