//! What the node needs to know about an IP address to defend itself: which addresses are
//! worth gossiping ([`is_routable`]), which addresses one operator most likely controls
//! together ([`netgroup`] for diversity, [`host_subnet`] for per-host limits), and
//! [`Subnet`], a CIDR range (`1.2.3.0/24`, `2001:db8::/64`) for bans.
//!
//! The groupings follow what costs an attacker money: IPv4 addresses come by the /24 and
//! are scarce across /16s; an IPv6 host is routinely given a whole /64 and a site a /48, so
//! one IPv6 address says little and its /64 says "one host". (No crate is used for the
//! CIDR type: it is prefix masking on `u32`/`u128`, smaller than a dependency.)

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A network range: an address with all bits past `prefix` zero, and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    network: IpAddr,
    prefix: u8,
}

/// Why a text is not a [`Subnet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an IP address or a subnet (ADDRESS/PREFIX, e.g. 1.2.3.0/24 or 2001:db8::/64)"
)]
pub struct SubnetParseError(pub String);

impl Subnet {
    /// The range of `prefix` leading bits of `ip` (longer prefixes are capped at the
    /// address length); the bits past the prefix are cleared.
    pub fn new(ip: IpAddr, prefix: u8) -> Self {
        let ip = canonical(ip);
        match ip {
            IpAddr::V4(v4) => {
                let prefix = prefix.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Subnet {
                    network: IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask)),
                    prefix,
                }
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Subnet {
                    network: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix,
                }
            }
        }
    }

    /// The single address `ip` (/32 or /128).
    pub fn host(ip: IpAddr) -> Self {
        Subnet::new(ip, 128)
    }

    /// The first address of the range.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether the range is a single address.
    pub fn is_host(&self) -> bool {
        self.prefix == max_prefix(self.network)
    }

    /// Whether `ip` lies in the range.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        ip.is_ipv4() == self.network.is_ipv4() && Subnet::new(ip, self.prefix) == *self
    }
}

impl fmt::Display for Subnet {
    /// A single address prints as the address; a range as `NETWORK/PREFIX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

impl FromStr for Subnet {
    type Err = SubnetParseError;

    /// `ADDRESS` (one address) or `ADDRESS/PREFIX`; host bits past the prefix must be zero
    /// (`1.2.3.4/24` is refused: the operator likely meant something else).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || SubnetParseError(s.to_string());
        let (ip, prefix) = match s.split_once('/') {
            None => {
                let ip: IpAddr = s.parse().map_err(|_| err())?;
                (ip, max_prefix(ip))
            }
            Some((ip, prefix)) => {
                let ip: IpAddr = ip.parse().map_err(|_| err())?;
                let prefix: u8 = prefix.parse().map_err(|_| err())?;
                if prefix > max_prefix(ip) {
                    return Err(err());
                }
                (ip, prefix)
            }
        };
        let subnet = Subnet::new(ip, prefix);
        if subnet.network != canonical(ip) {
            return Err(err());
        }
        Ok(subnet)
    }
}

impl serde::Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<IpAddr> for Subnet {
    fn from(ip: IpAddr) -> Self {
        Subnet::host(ip)
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into IPv4, so one host
/// has one form in every table.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// The range one host most likely controls: the address itself for IPv4, its /64 for IPv6.
/// Automatic bans and per-host connection limits apply to it.
pub fn host_subnet(ip: IpAddr) -> Subnet {
    match canonical(ip) {
        v4 @ IpAddr::V4(_) => Subnet::host(v4),
        v6 => Subnet::new(v6, 64),
    }
}

/// The range one operator cheaply holds many addresses of: /24 for IPv4, /48 for IPv6.
/// Per-network connection limits apply to it.
pub fn site_subnet(ip: IpAddr) -> Subnet {
    match canonical(ip) {
        v4 @ IpAddr::V4(_) => Subnet::new(v4, 24),
        v6 => Subnet::new(v6, 48),
    }
}

/// The network group of `ip` for diversity (address-book buckets, eviction): its /16 for
/// IPv4, its /32 for IPv6. Peers in one group are assumed to be one operator's.
pub fn netgroup(ip: IpAddr) -> Subnet {
    match canonical(ip) {
        v4 @ IpAddr::V4(_) => Subnet::new(v4, 16),
        v6 => Subnet::new(v6, 32),
    }
}

/// Whether `ip` can be reached across the public Internet: not loopback, private,
/// link-local, shared (CGNAT), documentation, benchmarking, reserved, multicast or
/// unspecified. Addresses that are not routable are refused from gossip on public networks.
pub fn is_routable(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space, RFC 6598
                || (a == 198 && (b == 18 || b == 19)) // benchmarking, RFC 2544
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, RFC 6890
                || a >= 240) // reserved, RFC 1112
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), RFC 3879
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation, RFC 3849
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only, RFC 6666
                || s[0] == 0) // IPv4-compatible and other reserved low space
        }
    }
}

/// Whether `ip` is a loopback address (127.0.0.0/8, ::1).
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_print_and_contain() {
        let s: Subnet = "1.2.3.0/24".parse().unwrap();
        assert!(s.contains(&ip("1.2.3.77")));
        assert!(!s.contains(&ip("1.2.4.1")));
        assert!(s.contains(&ip("::ffff:1.2.3.9")), "mapped IPv4 is IPv4");
        assert_eq!(s.to_string(), "1.2.3.0/24");
        let h: Subnet = "10.0.0.1".parse().unwrap();
        assert!(h.is_host());
        assert_eq!(h.to_string(), "10.0.0.1");
        assert_eq!("10.0.0.1/32".parse::<Subnet>().unwrap(), h);
        let v6: Subnet = "2001:db8:1:2::/64".parse().unwrap();
        assert!(v6.contains(&ip("2001:db8:1:2:ffff::1")));
        assert!(!v6.contains(&ip("2001:db8:1:3::1")));
        assert!(!v6.contains(&ip("1.2.3.4")));
        for bad in ["1.2.3.4/24", "1.2.3.0/33", "x", "1.2.3.0/", "::/129"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
        assert!("0.0.0.0/0"
            .parse::<Subnet>()
            .unwrap()
            .contains(&ip("8.8.8.8")));
    }

    #[test]
    fn groups_follow_what_an_operator_holds() {
        assert_eq!(
            host_subnet(ip("2001:db8::1")),
            host_subnet(ip("2001:db8::ffff"))
        );
        assert_ne!(host_subnet(ip("1.2.3.4")), host_subnet(ip("1.2.3.5")));
        assert_eq!(site_subnet(ip("1.2.3.4")), site_subnet(ip("1.2.3.200")));
        assert_eq!(netgroup(ip("1.2.3.4")), netgroup(ip("1.2.200.1")));
        assert_ne!(netgroup(ip("1.2.3.4")), netgroup(ip("1.3.3.4")));
    }

    #[test]
    fn only_public_addresses_are_routable() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.1.2.3",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_routable(ip(bad)), "{bad}");
        }
        for good in ["1.2.3.4", "8.8.8.8", "2a00:1450::1", "::ffff:8.8.4.4"] {
            assert!(is_routable(ip(good)), "{good}");
        }
    }
}
