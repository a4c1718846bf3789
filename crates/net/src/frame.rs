//! Framing: how a message travels on a connection.
//!
//! ```text
//! magic (4) | command (12, NUL-padded ASCII) | payload length (u32 LE) | checksum (4) | payload
//! ```
//!
//! The magic is the network's [`ChainParams::magic`](parthenon_primitives::ChainParams), the
//! checksum the first four bytes of SHA-256d(payload), and the payload at most what the
//! largest valid message with that command can be ([`max_payload_len`]; a block, the
//! largest, is [`MAX_MESSAGE_SIZE`]). [`encode_frame`] writes a frame; [`FrameDecoder`] reads
//! them from a byte stream, bounded, checking the length against the command before taking
//! a payload byte.

mod decoder;
#[cfg(test)]
mod tests;

pub use decoder::FrameDecoder;

use crate::command::{wire_field, Command, COMMAND_LEN};
use crate::message::{max_payload_len, Message, MAX_VERSION_PAYLOAD};
use parthenon_primitives::hash::sha256d;

/// Bytes of a frame header: magic, command, length, checksum.
pub const HEADER_LEN: usize = 4 + COMMAND_LEN + 4 + 4;
/// Largest payload any frame may carry: a block of the consensus maximum size. Each command
/// has its own, usually much smaller, limit ([`max_payload_len`]).
pub const MAX_MESSAGE_SIZE: usize = parthenon_primitives::block::MAX_BLOCK_SIZE;
/// Largest payload of any frame before the peer has sent its `version` and `verack`: the
/// largest `version`, so a connection that has not said who it is buffers a few hundred
/// bytes, not a block.
pub const MAX_HANDSHAKE_PAYLOAD: usize = MAX_VERSION_PAYLOAD;

/// Why a byte stream is not a sequence of valid frames. Every one of these leaves the stream
/// out of step, so the decoder stops at the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame starts with another network's magic (or is not a frame at all).
    #[error("wrong network magic {got:02x?}, expected {expected:02x?}")]
    WrongMagic {
        /// The four bytes received.
        got: [u8; 4],
        /// This network's magic.
        expected: [u8; 4],
    },
    /// The command field is not a valid command name (see [`Command`]).
    #[error("invalid command field {field:02x?}")]
    BadCommand {
        /// The 12 bytes received.
        field: [u8; COMMAND_LEN],
    },
    /// The header declares a payload longer than the largest valid message with its command
    /// ([`max_payload_len`]), or, before the handshake, longer than
    /// [`MAX_HANDSHAKE_PAYLOAD`]. No payload byte was taken.
    #[error("{command} payload of {len} bytes exceeds the maximum {max}")]
    Oversized {
        /// The frame's command.
        command: Command,
        /// The declared payload length.
        len: usize,
        /// The limit that applied.
        max: usize,
    },
    /// The payload does not hash to the header's checksum.
    #[error("payload checksum {computed:02x?} does not match the header's {declared:02x?}")]
    BadChecksum {
        /// The checksum in the header.
        declared: [u8; 4],
        /// The checksum of the payload received.
        computed: [u8; 4],
    },
}

/// One frame: a command and its still-undecoded payload
/// (decode it with [`Message::decode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the payload is.
    pub command: Command,
    /// The payload; a peer accepts at most [`max_payload_len`] of the command.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The frame's bytes on a network with magic `magic`.
    pub fn encode(&self, magic: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&[0; HEADER_LEN]);
        out.extend_from_slice(&self.payload);
        seal(&mut out, magic, self.command.as_str());
        out
    }
}

/// The frame carrying `message` on a network with magic `magic`.
///
/// Every message within the decoders' caps fits in [`MAX_MESSAGE_SIZE`]. A
/// [`Message::Unknown`] is sent with an empty payload: its payload was never kept.
pub fn encode_frame(magic: [u8; 4], message: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 80);
    out.extend_from_slice(&[0; HEADER_LEN]);
    message.write_payload(&mut out);
    seal(&mut out, magic, message.command());
    out
}

/// The checksum of a payload: the first four bytes of its SHA-256d.
pub fn checksum(payload: &[u8]) -> [u8; 4] {
    let h = sha256d(payload);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// Fills in the header of `out`, which holds [`HEADER_LEN`] reserved (zeroed) bytes followed by the
/// payload. A payload too long for the u32 length field gets length `u32::MAX`, which every
/// decoder rejects as oversized rather than misreading a wrapped length.
fn seal(out: &mut [u8], magic: [u8; 4], command: &str) {
    let (header, payload) = out.split_at_mut(HEADER_LEN);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    header[0..4].copy_from_slice(&magic);
    header[4..16].copy_from_slice(&wire_field(command));
    header[16..20].copy_from_slice(&len.to_le_bytes());
    header[20..24].copy_from_slice(&checksum(payload));
}

/// A header that passed every check that needs no payload.
#[derive(Debug)]
struct FrameHeader {
    command: Command,
    len: usize,
    checksum: [u8; 4],
}

impl FrameHeader {
    /// Checks magic, command and length, in the order they appear; the length against the
    /// command's own limit, and against [`MAX_HANDSHAKE_PAYLOAD`] if `handshake` is true.
    fn parse(
        bytes: &[u8; HEADER_LEN],
        magic: [u8; 4],
        handshake: bool,
    ) -> Result<FrameHeader, FrameError> {
        let got: [u8; 4] = array(&bytes[0..4]);
        if got != magic {
            return Err(FrameError::WrongMagic {
                got,
                expected: magic,
            });
        }
        let field: [u8; COMMAND_LEN] = array(&bytes[4..16]);
        let command = Command::from_wire(&field).ok_or(FrameError::BadCommand { field })?;
        let len = u32::from_le_bytes(array(&bytes[16..20])) as usize;
        let mut max = max_payload_len(command.as_str());
        if handshake {
            max = max.min(MAX_HANDSHAKE_PAYLOAD);
        }
        if len > max {
            return Err(FrameError::Oversized { command, len, max });
        }
        Ok(FrameHeader {
            command,
            len,
            checksum: array(&bytes[20..24]),
        })
    }
}

/// Copies a fixed-length sub-slice of the header into an array.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(bytes);
    a
}
