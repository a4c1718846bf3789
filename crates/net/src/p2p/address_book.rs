//! [`AddressBook`]: peer addresses learned from `addr` gossip and from peers that connected,
//! kept across restarts in a small text file.
//!
//! The book is bounded ([`MAX_ADDRESSES`]); when full, the address seen longest ago makes
//! room. The file holds one `ADDRESS LAST_SEEN_UNIX` line per address, is written to a
//! temporary file and renamed over the old one (a crash leaves the old or the new book,
//! never half of one), and lines that do not parse are skipped with a warning so a damaged
//! file costs only its damaged lines.

use super::backoff::Backoff;
use super::persist::{parse_pair, read_if_exists, write_atomically, StateFileError};
use rand::seq::IteratorRandom;
use rand::Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Most addresses held.
pub const MAX_ADDRESSES: usize = 4_096;
/// Why the address book could not be read or written.
pub type AddressBookError = StateFileError;

/// What the book knows of one address.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    last_seen: u64,
    backoff: Backoff,
}

/// Known peer addresses (see this module's documentation).
#[derive(Debug, Default)]
pub struct AddressBook {
    entries: BTreeMap<SocketAddr, Entry>,
    path: Option<PathBuf>,
    dirty: bool,
}

impl AddressBook {
    /// An empty book that is not persisted.
    pub fn in_memory() -> Self {
        AddressBook::default()
    }

    /// The book stored at `path` (empty when the file does not exist yet).
    pub fn load(path: &Path) -> Result<Self, AddressBookError> {
        let mut book = AddressBook {
            path: Some(path.to_path_buf()),
            ..AddressBook::default()
        };
        let Some(text) = read_if_exists(path)? else {
            return Ok(book);
        };
        let mut bad = 0usize;
        for line in text.lines() {
            match parse_pair::<SocketAddr, u64>(line) {
                Some((addr, seen)) => book.add(addr, seen),
                None if line.trim().is_empty() => {}
                None => bad += 1,
            }
        }
        if bad > 0 {
            tracing::warn!(path = %path.display(), bad, "skipped unreadable address book lines");
        }
        book.dirty = false;
        Ok(book)
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
        self.entries.contains_key(addr)
    }

    /// Adds `addr` (or refreshes when it was seen later than recorded). Addresses nobody can
    /// dial (port 0, unspecified or multicast IPs) are ignored.
    pub fn add(&mut self, addr: SocketAddr, last_seen: u64) {
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return;
        }
        if let Some(e) = self.entries.get_mut(&addr) {
            if last_seen > e.last_seen {
                e.last_seen = last_seen;
                self.dirty = true;
            }
            return;
        }
        if self.entries.len() >= MAX_ADDRESSES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(a, e)| (e.last_seen, **a))
                .map(|(a, _)| *a);
            match oldest {
                Some(o) if self.entries[&o].last_seen < last_seen => {
                    self.entries.remove(&o);
                }
                _ => return,
            }
        }
        self.entries.insert(
            addr,
            Entry {
                last_seen,
                backoff: Backoff::default(),
            },
        );
        self.dirty = true;
    }

    /// Forgets `addr` (e.g. it turned out to be this node).
    pub fn remove(&mut self, addr: &SocketAddr) {
        if self.entries.remove(addr).is_some() {
            self.dirty = true;
        }
    }

    /// Records a failed dial or a lost connection to `addr` at `now_ms`.
    pub fn failed(&mut self, addr: &SocketAddr, now_ms: u64, base_ms: u64, max_ms: u64) {
        if let Some(e) = self.entries.get_mut(addr) {
            e.backoff.failed(now_ms, base_ms, max_ms);
        }
    }

    /// Records that `addr` answered (handshake done) at Unix time `now_unix`.
    pub fn connected(&mut self, addr: &SocketAddr, now_unix: u64) {
        if let Some(e) = self.entries.get_mut(addr) {
            e.backoff.succeeded();
            e.last_seen = now_unix;
            self.dirty = true;
        }
    }

    /// A random address whose backoff allows a dial at `now_ms` and that `skip` does not
    /// exclude (connected, banned, being dialled).
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

    /// Writes the book to its file if it changed since the last write.
    pub fn save_if_dirty(&mut self) -> Result<(), AddressBookError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let mut text = String::with_capacity(self.entries.len() * 32);
        for (addr, e) in &self.entries {
            text.push_str(&format!("{addr} {}\n", e.last_seen));
        }
        write_atomically(&path, &text)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn survives_a_restart_and_skips_damaged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.txt");
        let mut book = AddressBook::load(&path).unwrap();
        assert!(book.is_empty());
        book.add(a("10.0.0.1:7333"), 100);
        book.add(a("[2001:db8::1]:7333"), 200);
        book.save_if_dirty().unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("garbage line\n10.0.0.2:notaport 5\n");
        std::fs::write(&path, text).unwrap();
        let book = AddressBook::load(&path).unwrap();
        assert_eq!(book.len(), 2);
        assert!(book.contains(&a("[2001:db8::1]:7333")));
    }

    #[test]
    fn undialable_addresses_are_ignored() {
        let mut book = AddressBook::in_memory();
        book.add(a("0.0.0.0:7333"), 1);
        book.add(a("10.0.0.1:0"), 1);
        book.add(a("224.0.0.1:7333"), 1);
        assert!(book.is_empty());
    }

    #[test]
    fn full_book_evicts_the_stalest() {
        let mut book = AddressBook::in_memory();
        for i in 0..MAX_ADDRESSES {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i as u32);
            book.add(SocketAddr::from((ip, 7333)), 1_000 + i as u64);
        }
        book.add(a("192.168.1.1:7333"), 10);
        assert!(!book.contains(&a("192.168.1.1:7333")), "older than all");
        book.add(a("192.168.1.2:7333"), 1_000_000);
        assert!(book.contains(&a("192.168.1.2:7333")));
        assert!(!book.contains(&a("10.0.0.0:7333")), "the stalest went");
        assert_eq!(book.len(), MAX_ADDRESSES);
    }

    #[test]
    fn backoff_hides_failed_addresses() {
        let mut book = AddressBook::in_memory();
        book.add(a("10.0.0.1:7333"), 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(book.pick(0, &mut rng, |_| false).is_some());
        book.failed(&a("10.0.0.1:7333"), 0, 1_000, 60_000);
        assert!(book.pick(500, &mut rng, |_| false).is_none());
        assert!(book.pick(1_000, &mut rng, |_| false).is_some());
        assert!(book.pick(1_000, &mut rng, |_| true).is_none());
    }
}
