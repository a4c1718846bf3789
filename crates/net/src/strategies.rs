//! Proptest strategies for every message, shared by the frame and message tests.

use crate::command::Command;
use crate::message::{InvKind, Inventory, Message, PeerAddress, VersionMessage};
use parthenon_primitives::{
    Asset, Block, BlockHeader, Hash256, OutPoint, Transaction, TxIn, TxOut,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub(crate) fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

/// Any IP that survives the wire unchanged: IPv4, or IPv6 that is not IPv4-mapped (which
/// decodes as IPv4).
pub(crate) fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>()
            .prop_map(Ipv6Addr::from)
            .prop_filter("IPv4-mapped", |v6| v6.to_ipv4_mapped().is_none())
            .prop_map(IpAddr::V6),
    ]
}

pub(crate) fn socket() -> impl Strategy<Value = SocketAddr> {
    (ip(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

pub(crate) fn peer_address() -> impl Strategy<Value = PeerAddress> {
    (any::<u32>(), any::<u64>(), ip(), any::<u16>()).prop_map(|(time, services, ip, port)| {
        PeerAddress {
            time,
            services,
            ip,
            port,
        }
    })
}

pub(crate) fn inventory() -> impl Strategy<Value = Inventory> {
    (prop_oneof![Just(InvKind::Tx), Just(InvKind::Block)], hash())
        .prop_map(|(kind, hash)| Inventory { kind, hash })
}

pub(crate) fn version_message() -> impl Strategy<Value = VersionMessage> {
    (
        (any::<u32>(), any::<[u8; 4]>(), any::<u64>(), any::<i64>()),
        (socket(), socket(), any::<u64>()),
        // Up to 64 characters of up to 4 bytes each: at most the 256-byte cap.
        ("\\PC{0,64}", any::<u32>()),
    )
        .prop_map(
            |(
                (version, magic, services, timestamp),
                (receiver, sender, nonce),
                (user_agent, best_height),
            )| VersionMessage {
                version,
                magic,
                services,
                timestamp,
                receiver,
                sender,
                nonce,
                user_agent,
                best_height,
            },
        )
}

pub(crate) fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        hash(),
        hash(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(version, prev_hash, merkle_root, time, bits, nonce)| BlockHeader {
                version,
                prev_hash,
                merkle_root,
                time,
                bits,
                nonce,
            },
        )
}

pub(crate) fn transaction() -> impl Strategy<Value = Transaction> {
    let input = (hash(), any::<u32>(), vec(any::<u8>(), 0..80), any::<u32>()).prop_map(
        |(txid, vout, signature, sequence)| TxIn {
            prevout: OutPoint::new(txid, vout),
            signature,
            sequence,
        },
    );
    let output = (
        prop::sample::select(Asset::ALL.to_vec()),
        any::<u64>(),
        vec(any::<u8>(), 0..40),
    )
        .prop_map(|(asset, amount, script_pubkey)| TxOut {
            asset,
            amount,
            script_pubkey,
        });
    (
        any::<u32>(),
        vec(input, 0..3),
        vec(output, 0..3),
        any::<u32>(),
    )
        .prop_map(|(version, inputs, outputs, lock_time)| Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
}

pub(crate) fn block() -> impl Strategy<Value = Block> {
    (header(), vec(transaction(), 0..4)).prop_map(|(header, txs)| Block { header, txs })
}

/// A valid command that is not one of the known ones.
pub(crate) fn unknown_command() -> impl Strategy<Value = Command> {
    "[!-~]{1,12}"
        .prop_filter("known command", |c| {
            !crate::message::COMMANDS.contains(&c.as_str())
        })
        .prop_map(|c| Command::new(&c).expect("printable ASCII, 1 to 12 bytes"))
}

/// Every message this crate decodes, with small lists.
pub(crate) fn known_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        version_message().prop_map(Message::Version),
        Just(Message::Verack),
        any::<u64>().prop_map(Message::Ping),
        any::<u64>().prop_map(Message::Pong),
        Just(Message::GetAddr),
        vec(peer_address(), 0..8).prop_map(Message::Addr),
        vec(inventory(), 0..8).prop_map(Message::Inv),
        vec(inventory(), 0..8).prop_map(Message::GetData),
        vec(inventory(), 0..8).prop_map(Message::NotFound),
        (any::<u32>(), vec(hash(), 0..12), hash()).prop_map(|(version, locator, stop)| {
            Message::GetHeaders {
                version,
                locator,
                stop,
            }
        }),
        vec(header(), 0..6).prop_map(Message::Headers),
        block().prop_map(Message::Block),
        transaction().prop_map(Message::Tx),
    ]
}
