//! The ParthenonChain peer-to-peer wire protocol, sans I/O.
//!
//! This crate owns the bytes two peers exchange, and nothing that moves them: no sockets, no
//! clocks, no randomness. Peer state machines and sync are built on it.
//! - [`command`]: [`Command`], a validated command name (1–12 printable ASCII characters,
//!   NUL-padded to 12 bytes on the wire);
//! - [`frame`]: the frame `magic | command | length | checksum | payload`,
//!   [`encode_frame`], and [`FrameDecoder`], which splits a byte stream into [`Frame`]s or
//!   stops at the first [`FrameError`];
//! - [`message`]: [`Message`], every payload the protocol knows, with its command, its
//!   encoding and its exact decoder ([`MessageError`]); unknown commands decode as
//!   [`Message::Unknown`] and are ignored, not rejected;
//! - [`locator`]: [`locator_heights`], the heights a `getheaders` block locator names;
//! - [`peer`]: [`peer::Peer`], the per-peer state machine (handshake, pings, rate limit,
//!   solicited data) that turns messages and ticks into actions;
//! - [`reputation`]: misbehaviour costs, scores and timed bans.
//!
//! Invariants:
//! - every decoder is bounded: a frame's payload is at most [`MAX_MESSAGE_SIZE`] (checked
//!   from the header, before any payload byte is buffered), the decoder never holds more than
//!   one frame, and every list count is checked against its cap and the bytes that remain
//!   before anything is allocated;
//! - encodings are canonical: whatever [`Message::decode`] accepts re-encodes to the same
//!   payload (except [`Message::Unknown`], whose payload is skipped), and every frame the
//!   decoder yields re-encodes to the bytes it came from.

pub mod command;
pub mod frame;
pub mod locator;
pub mod message;
pub mod peer;
pub mod reputation;
#[cfg(test)]
mod strategies;

pub use command::Command;
pub use frame::{encode_frame, Frame, FrameDecoder, FrameError, HEADER_LEN, MAX_MESSAGE_SIZE};
pub use locator::locator_heights;
pub use message::{InvKind, Inventory, Message, MessageError, PeerAddress, VersionMessage};
