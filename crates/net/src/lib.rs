//! The ParthenonChain peer-to-peer wire protocol, and the transports that carry it.
//!
//! This crate owns the bytes two peers exchange. The wire-protocol modules are sans I/O (no
//! sockets, no clocks, no randomness); peer state machines and sync are built on them, and
//! [`transport`] and [`tls`] move the bytes.
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
//! - [`p2p`]: the engine that runs it all over real connections: peer manager, address
//!   book, headers-first sync, block and transaction relay, bans ([`p2p::start`]);
//! - [`reputation`]: misbehaviour costs, scores and timed bans of addresses and subnets;
//! - [`netaddr`]: routability, network groups and the [`netaddr::Subnet`] range of bans;
//! - [`sync`]: headers-first initial sync (sans I/O): the header chain, the block download
//!   scheduler (window, per-peer limits, stalls) and the progress line;
//! - [`transport`]: the one seam the peer layer uses for connections, [`Transport`] (dial a
//!   [`PeerSpec`], accept on a [`Listener`], get a [`Connection`]), over real TCP
//!   ([`TcpTransport`]) or turmoil's simulated network (`TurmoilTransport`, feature `sim`);
//! - [`tls`]: TLS 1.3 (rustls, ring) over any transport, [`TlsTransport`], and the node's
//!   self-signed certificate, [`NodeIdentity`], whose fingerprint peers pin
//!   (`HOST:PORT#FINGERPRINT`); certificate rotation from files without a restart
//!   ([`tls::CertRotator`]), and public-CA dials ([`TlsTransport::dial_verified`]).
//!
//! Invariants:
//! - every decoder is bounded: a frame's payload is at most the largest valid message of its
//!   command ([`message::max_payload_len`]; a block, [`MAX_MESSAGE_SIZE`], is the largest),
//!   and before the handshake at most a `version` ([`frame::MAX_HANDSHAKE_PAYLOAD`]) —
//!   checked from the header, before any payload byte is buffered; the decoder never holds
//!   more than one frame, and every list count is checked against its cap and the bytes that
//!   remain before anything is allocated;
//! - encodings are canonical: whatever [`Message::decode`] accepts re-encodes to the same
//!   payload (except [`Message::Unknown`], whose payload is skipped), and every frame the
//!   decoder yields re-encodes to the bytes it came from.

pub mod command;
pub mod frame;
pub mod locator;
pub mod message;
pub mod netaddr;
pub mod p2p;
pub mod peer;
pub mod reputation;
#[cfg(test)]
mod strategies;
pub mod sync;
pub mod tls;
pub mod transport;

pub use command::Command;
pub use frame::{encode_frame, Frame, FrameDecoder, FrameError, HEADER_LEN, MAX_MESSAGE_SIZE};
pub use locator::locator_heights;
pub use message::{InvKind, Inventory, Message, MessageError, PeerAddress, VersionMessage};
pub use tls::{load_or_generate, NodeIdentity, TlsTransport};
pub use transport::{
    parse_peer_spec, CertFingerprint, Connection, Listener, PeerSpec, TcpTransport, Transport,
    TransportError,
};
