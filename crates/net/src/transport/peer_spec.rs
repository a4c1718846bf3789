//! [`PeerSpec`]: a peer to dial, as an operator writes it (`HOST:PORT[#FINGERPRINT]`).

use super::fingerprint::{CertFingerprint, FingerprintParseError};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// Longest host name accepted (the DNS limit).
const MAX_HOST_LEN: usize = 253;

/// A peer to dial: where it is and, optionally, which certificate it must present.
///
/// Written `HOST:PORT` or `HOST:PORT#FINGERPRINT`, where HOST is an IPv4 address, a bracketed
/// IPv6 address (`[::1]`) or a host name, and FINGERPRINT the SHA-256 of the peer's TLS
/// certificate ([`CertFingerprint`]). [`parse_peer_spec`] reads it; [`fmt::Display`] writes it
/// back in the same form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerSpec {
    /// The host: an IP address (IPv6 without brackets) or a host name.
    pub host: String,
    /// The TCP port, never 0.
    pub port: u16,
    /// The certificate fingerprint the peer must present, if pinned. Only TLS transports can
    /// honour a pin; plaintext ones refuse to dial a pinned peer.
    pub pin: Option<CertFingerprint>,
}

impl PeerSpec {
    /// A peer at `host:port`, unpinned. `host` is taken as given (IPv6 without brackets).
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            pin: None,
        }
    }

    /// This peer, pinned to `fingerprint`.
    pub fn pinned(mut self, fingerprint: CertFingerprint) -> Self {
        self.pin = Some(fingerprint);
        self
    }

    /// The address part, `host:port` (`[v6]:port` for IPv6), without the pin.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.addr())?;
        if let Some(pin) = &self.pin {
            write!(f, "#{pin}")?;
        }
        Ok(())
    }
}

impl FromStr for PeerSpec {
    type Err = PeerSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_peer_spec(text)
    }
}

/// Why a text is not a `HOST:PORT[#FINGERPRINT]` peer. Every variant names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerSpecError {
    /// No `:PORT` after the host.
    #[error("peer `{spec}`: missing port (write HOST:PORT, e.g. 1.2.3.4:7333 or [::1]:7333)")]
    MissingPort {
        /// The text given.
        spec: String,
    },
    /// The port is not a number from 1 to 65535.
    #[error("peer `{spec}`: port `{port}` is not a number from 1 to 65535")]
    BadPort {
        /// The text given.
        spec: String,
        /// The port part.
        port: String,
    },
    /// Nothing before `:PORT`.
    #[error("peer `{spec}`: missing host before the port")]
    EmptyHost {
        /// The text given.
        spec: String,
    },
    /// An IPv6 address written without brackets, so the port cannot be told apart.
    #[error("peer `{spec}`: put an IPv6 address in brackets, e.g. [::1]:7333")]
    UnbracketedIpv6 {
        /// The text given.
        spec: String,
    },
    /// The text in brackets is not an IPv6 address, or the brackets are not closed.
    #[error("peer `{spec}`: `{host}` is not a bracketed IPv6 address")]
    BadIpv6 {
        /// The text given.
        spec: String,
        /// The bracketed part.
        host: String,
    },
    /// The host is neither an IP address nor a valid host name.
    #[error(
        "peer `{spec}`: `{host}` is not an IP address or host name (letters, digits, '-' and '.')"
    )]
    BadHost {
        /// The text given.
        spec: String,
        /// The host part.
        host: String,
    },
    /// The part after `#` is not a SHA-256 fingerprint.
    #[error("peer `{spec}`: certificate fingerprint `{fingerprint}` {reason}")]
    BadFingerprint {
        /// The text given.
        spec: String,
        /// The part after `#`.
        fingerprint: String,
        /// What is wrong with it.
        #[source]
        reason: FingerprintParseError,
    },
}

/// Reads a peer written `HOST:PORT` or `HOST:PORT#FINGERPRINT` (see [`PeerSpec`]).
///
/// Accepted: `1.2.3.4:7333`, `[::1]:7333`, `seed.example:7333#<64 hex digits>`. Rejected, with
/// an error naming the text: a missing or out-of-range port (0 included), an unbracketed IPv6
/// address, a host with characters a host name cannot have, a fingerprint that is not 64 hex
/// digits.
pub fn parse_peer_spec(text: &str) -> Result<PeerSpec, PeerSpecError> {
    let spec = || text.to_owned();
    let (addr, pin) = match text.split_once('#') {
        Some((addr, fingerprint)) => {
            let pin = fingerprint.parse::<CertFingerprint>().map_err(|reason| {
                PeerSpecError::BadFingerprint {
                    spec: spec(),
                    fingerprint: fingerprint.to_owned(),
                    reason,
                }
            })?;
            (addr, Some(pin))
        }
        None => (text, None),
    };

    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(PeerSpecError::BadIpv6 {
                spec: spec(),
                host: addr.to_owned(),
            });
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(PeerSpecError::BadIpv6 {
                spec: spec(),
                host: format!("[{v6}]"),
            });
        }
        let Some(port) = after.strip_prefix(':') else {
            return Err(PeerSpecError::MissingPort { spec: spec() });
        };
        (v6, port)
    } else {
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(PeerSpecError::MissingPort { spec: spec() });
        };
        if host.contains(':') {
            return Err(PeerSpecError::UnbracketedIpv6 { spec: spec() });
        }
        if host.is_empty() {
            return Err(PeerSpecError::EmptyHost { spec: spec() });
        }
        if host.parse::<IpAddr>().is_err() && !is_host_name(host) {
            return Err(PeerSpecError::BadHost {
                spec: spec(),
                host: host.to_owned(),
            });
        }
        (host, port)
    };

    let port = match port.parse::<u16>() {
        Ok(port) if port != 0 => port,
        _ => {
            return Err(PeerSpecError::BadPort {
                spec: spec(),
                port: port.to_owned(),
            })
        }
    };
    Ok(PeerSpec {
        host: host.to_owned(),
        port,
        pin,
    })
}

/// Whether `host` is a syntactically valid DNS host name: dot-separated labels of 1–63
/// letters, digits and hyphens, not starting or ending with a hyphen.
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
