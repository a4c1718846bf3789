//! The `version` message: what each side says about itself when a connection opens.

use super::address::{read_socket, write_socket};
use super::MessageError;
use parthenon_primitives::encode::{write_var_bytes, Encodable, Reader};
use std::net::SocketAddr;

/// Longest user agent, in bytes.
pub const MAX_USER_AGENT_LEN: usize = 256;

/// The `version` payload.
///
/// Wire order: version u32, magic 4, services u64, timestamp i64, receiver (IP 16, port 2),
/// sender (IP 16, port 2), nonce u64, user agent (CompactSize-prefixed UTF-8, at most
/// [`MAX_USER_AGENT_LEN`] bytes), best height u32. Addresses are sent as IP and port only:
/// an IPv6 flow label or scope id is dropped, an IPv4-mapped IPv6 address decodes as IPv4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMessage {
    /// The sender's protocol version.
    pub version: u32,
    /// The magic of the network the sender is on.
    pub magic: [u8; 4],
    /// Services the sender offers (a bit field).
    pub services: u64,
    /// The sender's clock (seconds since the Unix epoch).
    pub timestamp: i64,
    /// The receiver's address as the sender sees it.
    pub receiver: SocketAddr,
    /// The sender's own address.
    pub sender: SocketAddr,
    /// A random value per connection: receiving one's own nonce reveals a connection to self.
    pub nonce: u64,
    /// Software name and version, e.g. `/parthenon:0.1.0/`.
    pub user_agent: String,
    /// Height of the sender's best chain.
    pub best_height: u32,
}

impl Encodable for VersionMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.services.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        write_socket(out, self.receiver);
        write_socket(out, self.sender);
        out.extend_from_slice(&self.nonce.to_le_bytes());
        write_var_bytes(out, self.user_agent.as_bytes());
        out.extend_from_slice(&self.best_height.to_le_bytes());
    }
}

impl VersionMessage {
    /// Reads the payload's fields (the caller checks that nothing follows).
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<VersionMessage, MessageError> {
        Ok(VersionMessage {
            version: r.u32_le()?,
            magic: r.array()?,
            services: r.u64_le()?,
            timestamp: i64::from_le_bytes(r.array()?),
            receiver: read_socket(r)?,
            sender: read_socket(r)?,
            nonce: r.u64_le()?,
            user_agent: String::from_utf8(r.var_bytes("user agent", MAX_USER_AGENT_LEN)?)
                .map_err(|_| MessageError::UserAgentNotUtf8)?,
            best_height: r.u32_le()?,
        })
    }
}
