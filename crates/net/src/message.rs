//! Messages: the payloads the protocol knows, their commands and their exact encodings.
//!
//! Payloads use the consensus encoding of `parthenon-primitives` (little-endian integers,
//! canonical CompactSize counts). Every list has a cap, checked against the declared count
//! and the bytes that remain before anything is allocated. Decoding is exact: trailing bytes
//! are an error, so a payload that decodes re-encodes to the same bytes.

mod address;
mod inventory;
#[cfg(test)]
mod tests;
mod version;

pub use address::PeerAddress;
pub use inventory::{InvKind, Inventory, INVENTORY_SIZE};
pub use version::{VersionMessage, MAX_USER_AGENT_LEN};

use crate::command::Command;
use parthenon_primitives::block::{HEADER_SIZE, MAX_BLOCK_SIZE};
use parthenon_primitives::encode::{write_compact_size, Decodable, DecodeError, Encodable, Reader};
use parthenon_primitives::{Block, BlockHeader, Hash256, Transaction};

/// Most addresses in one `addr` message.
pub const MAX_ADDRS: usize = 1_000;
/// Most entries in one `inv`, `getdata` or `notfound` message.
pub const MAX_INVENTORY: usize = 50_000;
/// Most hashes in a `getheaders` block locator.
pub const MAX_LOCATOR_HASHES: usize = 101;
/// Most headers in one `headers` message.
pub const MAX_HEADERS: usize = 2_000;

/// Bytes of the CompactSize encoding of `n`.
const fn count_len(n: usize) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Largest `version` payload: fixed fields plus the longest user agent.
pub const MAX_VERSION_PAYLOAD: usize = 4
    + 4
    + 8
    + 8
    + 2 * address::SOCKET_SIZE
    + 8
    + count_len(MAX_USER_AGENT_LEN)
    + MAX_USER_AGENT_LEN
    + 4;
/// Largest payload of a command this crate does not know. Such a payload is thrown away
/// unread; the cap leaves room for small extensions without letting an unknown command
/// make a connection buffer a block's worth of bytes.
pub const MAX_UNKNOWN_PAYLOAD: usize = 64 * 1024;

/// The largest payload a valid message with `command` can have, in bytes: what the
/// decoder's caps allow (a block or a transaction at most [`MAX_BLOCK_SIZE`], `addr` at
/// most [`MAX_ADDRS`] entries, `headers` at most [`MAX_HEADERS`], ...), and
/// [`MAX_UNKNOWN_PAYLOAD`] for commands it does not know.
///
/// A frame header announcing more is refused before a payload byte is buffered (see
/// [`FrameDecoder`](crate::FrameDecoder)): no legitimate peer sends it.
pub fn max_payload_len(command: &str) -> usize {
    match command {
        "version" => MAX_VERSION_PAYLOAD,
        "verack" | "getaddr" => 0,
        "ping" | "pong" => 8,
        "addr" => count_len(MAX_ADDRS) + MAX_ADDRS * PeerAddress::SIZE,
        "inv" | "getdata" | "notfound" => count_len(MAX_INVENTORY) + MAX_INVENTORY * INVENTORY_SIZE,
        "getheaders" => 4 + count_len(MAX_LOCATOR_HASHES) + MAX_LOCATOR_HASHES * 32 + 32,
        "headers" => count_len(MAX_HEADERS) + MAX_HEADERS * HEADER_SIZE,
        // A transaction lives in a block, so neither is larger than a block may be.
        "block" | "tx" => MAX_BLOCK_SIZE,
        _ => MAX_UNKNOWN_PAYLOAD,
    }
}

/// The commands of the messages this crate decodes; any other valid command decodes as
/// [`Message::Unknown`].
pub const COMMANDS: [&str; 13] = [
    "version",
    "verack",
    "ping",
    "pong",
    "getaddr",
    "addr",
    "inv",
    "getdata",
    "notfound",
    "getheaders",
    "headers",
    "block",
    "tx",
];

/// Why a payload is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The payload is not a valid encoding (truncated, trailing bytes, a count over its cap,
    /// a non-canonical CompactSize, an unknown asset, ...).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An inventory entry names a type that is neither a transaction nor a block.
    #[error("unknown inventory type {0}")]
    UnknownInvKind(u32),
    /// The `version` user agent is not UTF-8.
    #[error("user agent is not valid UTF-8")]
    UserAgentNotUtf8,
    /// The command is neither known nor a valid command name.
    #[error("invalid command name {0:?}")]
    BadCommand(String),
}

/// A protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `version`: the first message each side sends.
    Version(VersionMessage),
    /// `verack`: acknowledges the peer's `version`.
    Verack,
    /// `ping`: asks for a `pong` with the same nonce.
    Ping(u64),
    /// `pong`: answers a `ping`.
    Pong(u64),
    /// `getaddr`: asks for known peer addresses.
    GetAddr,
    /// `addr`: peer addresses (at most [`MAX_ADDRS`]).
    Addr(Vec<PeerAddress>),
    /// `inv`: announces transactions or blocks (at most [`MAX_INVENTORY`]).
    Inv(Vec<Inventory>),
    /// `getdata`: asks for transactions or blocks (at most [`MAX_INVENTORY`]).
    GetData(Vec<Inventory>),
    /// `notfound`: the requested items the peer does not have (at most [`MAX_INVENTORY`]).
    NotFound(Vec<Inventory>),
    /// `getheaders`: asks for the headers after the first locator hash on the peer's best
    /// chain, up to `stop` (zero: as many as fit in one `headers`).
    GetHeaders {
        /// The sender's protocol version.
        version: u32,
        /// Block hashes from the sender's tip back to genesis, denser near the tip
        /// (at most [`MAX_LOCATOR_HASHES`]; see [`locator_heights`](crate::locator_heights)).
        locator: Vec<Hash256>,
        /// The last block wanted, or zero.
        stop: Hash256,
    },
    /// `headers`: consecutive block headers (at most [`MAX_HEADERS`]).
    Headers(Vec<BlockHeader>),
    /// `block`: one block.
    Block(Block),
    /// `tx`: one transaction.
    Tx(Transaction),
    /// A message with a command this crate does not know. It is not an error: peers ignore
    /// it. Its payload is skipped, not kept.
    Unknown {
        /// The command received.
        command: Command,
        /// Length of the skipped payload.
        len: usize,
    },
}

impl Message {
    /// The command a frame carrying this message has.
    pub fn command(&self) -> &str {
        match self {
            Message::Version(_) => "version",
            Message::Verack => "verack",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::GetAddr => "getaddr",
            Message::Addr(_) => "addr",
            Message::Inv(_) => "inv",
            Message::GetData(_) => "getdata",
            Message::NotFound(_) => "notfound",
            Message::GetHeaders { .. } => "getheaders",
            Message::Headers(_) => "headers",
            Message::Block(_) => "block",
            Message::Tx(_) => "tx",
            Message::Unknown { command, .. } => command.as_str(),
        }
    }

    /// The payload's bytes. A [`Message::Unknown`] has an empty payload: its payload was
    /// never kept.
    pub fn encode_payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_payload(&mut out);
        out
    }

    /// Appends the payload's bytes to `out`.
    pub(crate) fn write_payload(&self, out: &mut Vec<u8>) {
        match self {
            Message::Version(v) => v.encode(out),
            Message::Verack | Message::GetAddr | Message::Unknown { .. } => {}
            Message::Ping(nonce) | Message::Pong(nonce) => {
                out.extend_from_slice(&nonce.to_le_bytes())
            }
            Message::Addr(addrs) => write_list(out, addrs),
            Message::Inv(items) | Message::GetData(items) | Message::NotFound(items) => {
                write_list(out, items)
            }
            Message::GetHeaders {
                version,
                locator,
                stop,
            } => {
                out.extend_from_slice(&version.to_le_bytes());
                write_compact_size(out, locator.len() as u64);
                for hash in locator {
                    out.extend_from_slice(&hash.0);
                }
                out.extend_from_slice(&stop.0);
            }
            Message::Headers(headers) => write_list(out, headers),
            Message::Block(block) => block.encode(out),
            Message::Tx(tx) => tx.encode(out),
        }
    }

    /// Decodes the payload of a frame with command `command`, exactly: bytes left over are an
    /// error. A valid command this crate does not know gives [`Message::Unknown`] whatever
    /// the payload.
    pub fn decode(command: &str, payload: &[u8]) -> Result<Message, MessageError> {
        let mut r = Reader::new(payload);
        let message = match command {
            "version" => Message::Version(VersionMessage::decode(&mut r)?),
            "verack" => Message::Verack,
            "ping" => Message::Ping(r.u64_le()?),
            "pong" => Message::Pong(r.u64_le()?),
            "getaddr" => Message::GetAddr,
            "addr" => {
                let n = r.count("address count", MAX_ADDRS, PeerAddress::SIZE)?;
                let mut addrs = Vec::with_capacity(n);
                for _ in 0..n {
                    addrs.push(PeerAddress::decode(&mut r)?);
                }
                Message::Addr(addrs)
            }
            "inv" => Message::Inv(read_inventory(&mut r)?),
            "getdata" => Message::GetData(read_inventory(&mut r)?),
            "notfound" => Message::NotFound(read_inventory(&mut r)?),
            "getheaders" => {
                let version = r.u32_le()?;
                let n = r.count("locator length", MAX_LOCATOR_HASHES, 32)?;
                let mut locator = Vec::with_capacity(n);
                for _ in 0..n {
                    locator.push(r.hash()?);
                }
                Message::GetHeaders {
                    version,
                    locator,
                    stop: r.hash()?,
                }
            }
            "headers" => {
                let n = r.count("header count", MAX_HEADERS, HEADER_SIZE)?;
                let mut headers = Vec::with_capacity(n);
                for _ in 0..n {
                    headers.push(BlockHeader::decode(&mut r)?);
                }
                Message::Headers(headers)
            }
            "block" => Message::Block(Block::decode(&mut r)?),
            "tx" => Message::Tx(Transaction::decode(&mut r)?),
            other => {
                let command =
                    Command::new(other).ok_or_else(|| MessageError::BadCommand(other.into()))?;
                return Ok(Message::Unknown {
                    command,
                    len: payload.len(),
                });
            }
        };
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes(r.remaining()).into());
        }
        Ok(message)
    }
}

/// Appends a CompactSize count and the items.
fn write_list<T: Encodable>(out: &mut Vec<u8>, items: &[T]) {
    write_compact_size(out, items.len() as u64);
    for item in items {
        item.encode(out);
    }
}

/// Reads the list of an `inv`, `getdata` or `notfound` message.
fn read_inventory(r: &mut Reader<'_>) -> Result<Vec<Inventory>, MessageError> {
    let n = r.count("inventory count", MAX_INVENTORY, INVENTORY_SIZE)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(Inventory::decode(r)?);
    }
    Ok(items)
}
