//! Peer addresses: IP and port as 18 bytes on the wire, with the services and last-seen time
//! that `addr` gossips.

use parthenon_primitives::encode::{Decodable, DecodeError, Encodable, Reader};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A peer address as `addr` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    /// When the peer was last seen (seconds since the Unix epoch).
    pub time: u32,
    /// Services the peer offers (a bit field).
    pub services: u64,
    /// The peer's IP address. On the wire it is 16 bytes, IPv4 as IPv4-mapped IPv6
    /// (`::ffff:a.b.c.d`); such an address always decodes as [`IpAddr::V4`].
    pub ip: IpAddr,
    /// The peer's port.
    pub port: u16,
}

impl PeerAddress {
    /// Bytes of an encoded address: time (4), services (8), IP (16), port (2).
    pub const SIZE: usize = 4 + 8 + SOCKET_SIZE;
}

impl Encodable for PeerAddress {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.time.to_le_bytes());
        out.extend_from_slice(&self.services.to_le_bytes());
        write_socket(out, SocketAddr::new(self.ip, self.port));
    }
}

impl Decodable for PeerAddress {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let time = r.u32_le()?;
        let services = r.u64_le()?;
        let socket = read_socket(r)?;
        Ok(PeerAddress {
            time,
            services,
            ip: socket.ip(),
            port: socket.port(),
        })
    }
}

/// Bytes of an encoded IP and port.
pub(crate) const SOCKET_SIZE: usize = 16 + 2;

/// Appends the 16-byte IP (IPv4 mapped into IPv6) and the port in network byte order
/// (big-endian, as in a socket address). An IPv6 flow label and scope id are not sent.
pub(crate) fn write_socket(out: &mut Vec<u8>, addr: SocketAddr) {
    let v6 = match addr.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    out.extend_from_slice(&v6.octets());
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Reads what [`write_socket`] writes; an IPv4-mapped address becomes IPv4.
pub(crate) fn read_socket(r: &mut Reader<'_>) -> Result<SocketAddr, DecodeError> {
    let v6 = Ipv6Addr::from(r.array::<16>()?);
    let ip = match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    };
    let port = u16::from_be_bytes(r.array()?);
    Ok(SocketAddr::new(ip, port))
}
