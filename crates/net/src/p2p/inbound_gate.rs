//! [`InboundGate`]: what the listener asks before it spends anything on an inbound
//! connection, and what the engine asks before it gives one a slot.
//!
//! Refused right after `accept`, before the TLS handshake: banned addresses and subnets,
//! and a host (an IPv4 address, an IPv6 /64) or a site (an IPv4 /24, an IPv6 /48) with too
//! many handshakes in progress or too many inbound connections open. So one address cannot
//! hold the listener's handshake slots with connections that never finish, and cannot take
//! more than its share of the inbound slots. Loopback peers are exempt from the limits by
//! default (a Tor or proxy front end, the tests and devnets all connect from 127.0.0.1);
//! [`InboundLimits::limit_loopback`] applies them there too.
//!
//! The engine owns the ban list and hands the gate a copy whenever it changes; the gate is
//! shared with the listener's task behind a mutex held for a few map look-ups.

use crate::netaddr::{canonical, host_subnet, is_loopback, site_subnet, Subnet};
use crate::reputation::BanList;
use crate::transport::{AcceptGate, AcceptRefusal, AdmitTicket};
use parking_lot::Mutex;
use parthenon_chain::Clock;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Default TLS handshakes in progress from one host.
pub const DEFAULT_MAX_HANDSHAKES_PER_HOST: usize = 2;
/// Default TLS handshakes in progress from one site (/24, /48).
pub const DEFAULT_MAX_HANDSHAKES_PER_SITE: usize = 8;
/// Default inbound connections from one host.
pub const DEFAULT_MAX_INBOUND_PER_HOST: usize = 4;
/// Default inbound connections from one site (/24, /48).
pub const DEFAULT_MAX_INBOUND_PER_SITE: usize = 16;

/// Per-address limits on inbound connections (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundLimits {
    /// Handshakes in progress from one host (IPv4 address, IPv6 /64).
    pub max_handshakes_per_host: usize,
    /// Handshakes in progress from one site (IPv4 /24, IPv6 /48).
    pub max_handshakes_per_site: usize,
    /// Inbound connections open from one host.
    pub max_inbound_per_host: usize,
    /// Inbound connections open from one site.
    pub max_inbound_per_site: usize,
    /// Whether loopback peers count too (by default they are exempt).
    pub limit_loopback: bool,
}

impl Default for InboundLimits {
    fn default() -> Self {
        InboundLimits {
            max_handshakes_per_host: DEFAULT_MAX_HANDSHAKES_PER_HOST,
            max_handshakes_per_site: DEFAULT_MAX_HANDSHAKES_PER_SITE,
            max_inbound_per_host: DEFAULT_MAX_INBOUND_PER_HOST,
            max_inbound_per_site: DEFAULT_MAX_INBOUND_PER_SITE,
            limit_loopback: false,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    handshakes: HashMap<Subnet, usize>,
    inbound: HashMap<Subnet, usize>,
}

impl Counts {
    fn add(map: &mut HashMap<Subnet, usize>, keys: [Subnet; 2]) {
        for k in keys {
            *map.entry(k).or_default() += 1;
        }
    }

    fn sub(map: &mut HashMap<Subnet, usize>, keys: [Subnet; 2]) {
        for k in keys {
            if let Some(n) = map.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&k);
                }
            }
        }
    }
}

/// Bans and per-address limits, asked by the listener and the engine.
pub(crate) struct InboundGate {
    limits: InboundLimits,
    clock: Arc<dyn Clock>,
    bans: Mutex<BanList>,
    counts: Arc<Mutex<Counts>>,
}

impl std::fmt::Debug for InboundGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundGate")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Releases one handshake's count when dropped.
struct HandshakeTicket {
    counts: Arc<Mutex<Counts>>,
    keys: [Subnet; 2],
}

impl Drop for HandshakeTicket {
    fn drop(&mut self) {
        Counts::sub(&mut self.counts.lock().handshakes, self.keys);
    }
}

impl InboundGate {
    /// A gate with `limits`, `bans` (a copy of the engine's) and the node's clock.
    pub(crate) fn new(limits: InboundLimits, bans: BanList, clock: Arc<dyn Clock>) -> Self {
        InboundGate {
            limits,
            clock,
            bans: Mutex::new(bans),
            counts: Arc::new(Mutex::new(Counts::default())),
        }
    }

    /// Replaces the gate's copy of the ban list.
    pub(crate) fn set_bans(&self, bans: BanList) {
        *self.bans.lock() = bans;
    }

    fn keys(ip: IpAddr) -> [Subnet; 2] {
        [host_subnet(ip), site_subnet(ip)]
    }

    fn limited(&self, ip: IpAddr) -> bool {
        self.limits.limit_loopback || !is_loopback(ip)
    }

    /// Refusal if `map` already holds `per_host`/`per_site` for `keys`.
    fn over(
        map: &HashMap<Subnet, usize>,
        keys: [Subnet; 2],
        per_host: usize,
        per_site: usize,
    ) -> Option<usize> {
        let [host, site] = keys;
        if map.get(&host).copied().unwrap_or(0) >= per_host {
            return Some(per_host);
        }
        (map.get(&site).copied().unwrap_or(0) >= per_site).then_some(per_site)
    }

    /// Counts a new inbound connection of `ip` (handshake done, slot taken), or refuses it
    /// when its host or site is at its limit. Every `Ok` is matched by one
    /// [`inbound_closed`](Self::inbound_closed).
    pub(crate) fn inbound_opened(&self, ip: IpAddr) -> Result<(), AcceptRefusal> {
        let ip = canonical(ip);
        let keys = Self::keys(ip);
        let mut counts = self.counts.lock();
        if self.limited(ip) {
            let l = &self.limits;
            if let Some(n) = Self::over(
                &counts.inbound,
                keys,
                l.max_inbound_per_host,
                l.max_inbound_per_site,
            ) {
                return Err(AcceptRefusal::TooManyConnections(n));
            }
        }
        Counts::add(&mut counts.inbound, keys);
        Ok(())
    }

    /// Uncounts an inbound connection of `ip` that [`inbound_opened`](Self::inbound_opened)
    /// counted.
    pub(crate) fn inbound_closed(&self, ip: IpAddr) {
        Counts::sub(&mut self.counts.lock().inbound, Self::keys(canonical(ip)));
    }
}

impl AcceptGate for InboundGate {
    fn admit(&self, peer: SocketAddr) -> Result<AdmitTicket, AcceptRefusal> {
        let ip = canonical(peer.ip());
        if self.bans.lock().is_banned(&ip, self.clock.now_secs()) {
            return Err(AcceptRefusal::Banned);
        }
        let keys = Self::keys(ip);
        let mut counts = self.counts.lock();
        if self.limited(ip) {
            let l = &self.limits;
            if let Some(n) = Self::over(
                &counts.inbound,
                keys,
                l.max_inbound_per_host,
                l.max_inbound_per_site,
            ) {
                return Err(AcceptRefusal::TooManyConnections(n));
            }
            if let Some(n) = Self::over(
                &counts.handshakes,
                keys,
                l.max_handshakes_per_host,
                l.max_handshakes_per_site,
            ) {
                return Err(AcceptRefusal::TooManyHandshakes(n));
            }
        }
        Counts::add(&mut counts.handshakes, keys);
        Ok(Box::new(HandshakeTicket {
            counts: self.counts.clone(),
            keys,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_chain::ManualClock;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn gate(limits: InboundLimits) -> InboundGate {
        InboundGate::new(limits, BanList::new(), Arc::new(ManualClock::new(1_000)))
    }

    #[test]
    fn one_host_gets_its_handshakes_then_waits_for_one_to_end() {
        let g = gate(InboundLimits::default());
        let a = g.admit(sa("1.2.3.4:1")).unwrap();
        let _b = g.admit(sa("1.2.3.4:2")).unwrap();
        assert_eq!(
            g.admit(sa("1.2.3.4:3")).err(),
            Some(AcceptRefusal::TooManyHandshakes(2))
        );
        assert!(
            g.admit(sa("5.6.7.8:1")).is_ok(),
            "another host is not held up"
        );
        drop(a);
        assert!(
            g.admit(sa("1.2.3.4:4")).is_ok(),
            "a finished handshake frees its count"
        );
    }

    #[test]
    fn a_site_and_an_ipv6_slash_64_count_as_one() {
        let g = gate(InboundLimits::default());
        let mut held = Vec::new();
        for i in 1..=8 {
            held.push(g.admit(sa(&format!("1.2.3.{i}:1"))).unwrap());
        }
        assert_eq!(
            g.admit(sa("1.2.3.99:1")).err(),
            Some(AcceptRefusal::TooManyHandshakes(8))
        );
        let _x = g.admit(sa("[2a00::1]:1")).unwrap();
        let _y = g.admit(sa("[2a00::ffff:2]:1")).unwrap();
        assert!(g.admit(sa("[2a00::3:3]:1")).is_err(), "one /64 is one host");
    }

    #[test]
    fn inbound_connections_per_host_are_capped_and_loopback_is_exempt_by_default() {
        let g = gate(InboundLimits::default());
        for _ in 0..4 {
            g.inbound_opened("9.9.9.9".parse().unwrap()).unwrap();
        }
        assert_eq!(
            g.inbound_opened("9.9.9.9".parse().unwrap()),
            Err(AcceptRefusal::TooManyConnections(4))
        );
        assert_eq!(
            g.admit(sa("9.9.9.9:5")).err(),
            Some(AcceptRefusal::TooManyConnections(4)),
            "refused before its handshake too"
        );
        g.inbound_closed("9.9.9.9".parse().unwrap());
        assert!(g.admit(sa("9.9.9.9:5")).is_ok());
        let mut held = Vec::new();
        for _ in 0..50 {
            g.inbound_opened("127.0.0.1".parse().unwrap()).unwrap();
            held.push(g.admit(sa("127.0.0.1:1")).unwrap());
        }
        let strict = gate(InboundLimits {
            limit_loopback: true,
            ..InboundLimits::default()
        });
        let _a = strict.admit(sa("127.0.0.1:1")).unwrap();
        let _b = strict.admit(sa("127.0.0.1:2")).unwrap();
        assert!(strict.admit(sa("127.0.0.1:3")).is_err());
    }

    #[test]
    fn banned_addresses_and_subnets_are_refused() {
        let g = gate(InboundLimits::default());
        let mut bans = BanList::new();
        bans.ban("10.1.0.0/16".parse::<Subnet>().unwrap(), 1_000, 60);
        g.set_bans(bans);
        assert_eq!(g.admit(sa("10.1.2.3:1")).err(), Some(AcceptRefusal::Banned));
        assert!(g.admit(sa("10.2.0.1:1")).is_ok());
    }
}
