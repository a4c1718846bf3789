use super::*;
use parthenon_primitives::{Block, Hash256, Network};

fn local(nonce: u64) -> LocalInfo {
    LocalInfo {
        nonce,
        best_height: 7,
        unix_time: 1_800_000_000,
        peer_addr: "127.0.0.1:1".parse().unwrap(),
        our_addr: "127.0.0.1:2".parse().unwrap(),
        ping_seed: [nonce as u8 ^ 0x5a; 32],
    }
}

fn config() -> PeerConfig {
    PeerConfig::new(Network::Dev.params().magic)
}

fn sent(actions: &[PeerAction]) -> Vec<&Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            PeerAction::Send(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn disconnect(actions: &[PeerAction]) -> Option<&DisconnectReason> {
    actions.iter().find_map(|a| match a {
        PeerAction::Disconnect(r) => Some(r),
        _ => None,
    })
}

/// Runs a full handshake between an outbound and an inbound peer by passing messages.
fn connected_pair() -> (Peer, Peer) {
    let (mut out, a0) = Peer::new(config(), Direction::Outbound, local(1), 0);
    let (mut inb, _) = Peer::new(config(), Direction::Inbound, local(2), 0);
    let mut to_in: Vec<Message> = sent(&a0).into_iter().cloned().collect();
    let mut to_out: Vec<Message> = Vec::new();
    for _ in 0..4 {
        for m in std::mem::take(&mut to_in) {
            to_out.extend(sent(&inb.on_message(m, 1)).into_iter().cloned());
        }
        for m in std::mem::take(&mut to_out) {
            to_in.extend(sent(&out.on_message(m, 1)).into_iter().cloned());
        }
    }
    (out, inb)
}

fn block() -> Block {
    Network::Dev.params().genesis_block()
}

#[test]
fn handshake_completes_on_both_sides_and_reports_the_peer() {
    let (out, inb) = connected_pair();
    assert!(out.is_ready() && inb.is_ready());
    assert_eq!(out.their_version().unwrap().nonce, 2);
    assert_eq!(inb.their_version().unwrap().best_height, 7);
}

#[test]
fn own_nonce_wrong_network_and_old_versions_disconnect() {
    let (mut p, _) = Peer::new(config(), Direction::Inbound, local(9), 0);
    let mut v = Peer::new(config(), Direction::Outbound, local(9), 0)
        .0
        .our_version();
    let a = p.on_message(Message::Version(v.clone()), 1);
    assert_eq!(disconnect(&a), Some(&DisconnectReason::SelfConnection));

    let (mut p, _) = Peer::new(config(), Direction::Inbound, local(1), 0);
    v.nonce = 5;
    v.magic = Network::Main.params().magic;
    let a = p.on_message(Message::Version(v.clone()), 1);
    assert!(matches!(
        disconnect(&a),
        Some(DisconnectReason::WrongNetwork { .. })
    ));

    let (mut p, _) = Peer::new(config(), Direction::Inbound, local(1), 0);
    v.magic = Network::Dev.params().magic;
    v.version = 0;
    let a = p.on_message(Message::Version(v), 1);
    assert!(matches!(
        disconnect(&a),
        Some(DisconnectReason::ObsoleteVersion { .. })
    ));
}

#[test]
fn messages_before_the_handshake_are_protocol_violations() {
    let (mut p, _) = Peer::new(config(), Direction::Inbound, local(1), 0);
    let a = p.on_message(Message::Ping(1), 1);
    assert!(matches!(
        a[0],
        PeerAction::Misbehaved {
            offence: Offence::ProtocolViolation,
            ..
        }
    ));
    assert!(!a.iter().any(|x| matches!(x, PeerAction::Send(_))));
}

#[test]
fn unsolicited_blocks_are_scored_and_dropped_requested_ones_delivered() {
    let (mut p, _) = connected_pair();
    let b = block();
    let a = p.on_message(Message::Block(b.clone()), 2);
    assert!(matches!(
        a[0],
        PeerAction::Misbehaved {
            offence: Offence::UnsolicitedData,
            ..
        }
    ));
    assert!(!a.iter().any(|x| matches!(x, PeerAction::Deliver(_))));
    p.request(
        Inventory {
            kind: InvKind::Block,
            hash: b.hash(),
        },
        3,
    );
    let a = p.on_message(Message::Block(b), 4);
    assert!(matches!(a[0], PeerAction::Deliver(Message::Block(_))));
    assert_eq!(p.requests_in_flight(), 0);
}

#[test]
fn ten_thousand_unsolicited_messages_end_in_a_ban() {
    let (mut p, _) = connected_pair();
    let header = block().header;
    let mut banned_after = None;
    for i in 0..10_000u32 {
        let a = p.on_message(Message::Headers(vec![header]), 10 + i as u64 / 100);
        if let Some(r) = disconnect(&a) {
            assert!(matches!(r, DisconnectReason::Misbehaving { .. }));
            banned_after = Some(i + 1);
            break;
        }
    }
    assert_eq!(
        banned_after,
        Some(10),
        "ten unsolicited header lists reach the threshold"
    );
    assert!(p.is_closed());
    assert!(
        p.on_message(Message::Ping(1), 100).is_empty(),
        "a closed peer is ignored"
    );
}

#[test]
fn a_message_flood_beyond_the_rate_limit_bans() {
    let (mut p, _) = connected_pair();
    let mut floods = 0;
    for _ in 0..10_000 {
        let a = p.on_message(Message::Ping(7), 5);
        floods += a
            .iter()
            .filter(|x| {
                matches!(
                    x,
                    PeerAction::Misbehaved {
                        offence: Offence::Flood,
                        ..
                    }
                )
            })
            .count();
        if p.is_closed() {
            break;
        }
    }
    assert!(p.is_closed());
    assert_eq!(floods, 2, "two flood offences reach the ban threshold");
    // At a sustainable rate nothing is scored.
    let (mut q, _) = connected_pair();
    for i in 0..5_000u64 {
        let a = q.on_message(Message::Ping(i), 10 + i * 3);
        assert!(!a.iter().any(|x| matches!(x, PeerAction::Misbehaved { .. })));
    }
}

#[test]
fn pings_are_answered_sent_and_time_out() {
    let (mut p, _) = connected_pair();
    assert_eq!(
        sent(&p.on_message(Message::Ping(42), 2)),
        vec![&Message::Pong(42)]
    );
    let a = p.on_tick(61_000);
    let Some(Message::Ping(n)) = sent(&a).first().cloned().cloned() else {
        panic!("no ping: {a:?}")
    };
    assert!(p.on_message(Message::Pong(n), 61_500).is_empty());
    let a = p.on_tick(122_000);
    assert!(matches!(sent(&a)[..], [Message::Ping(_)]));
    let a = p.on_tick(122_000 + 30_001);
    assert_eq!(disconnect(&a), Some(&DisconnectReason::PingTimeout(30_000)));
}

#[test]
fn ping_nonces_cannot_be_derived_from_the_version_nonce() {
    let (mut p, _) = connected_pair();
    let a = p.on_tick(61_000);
    let Some(Message::Ping(n)) = sent(&a).first().cloned().cloned() else {
        panic!("no ping: {a:?}")
    };
    // What a peer that saw our `version` nonce could compute for the first ping before:
    // answering with it (without reading the ping) must not count.
    let blind = local(1).nonce.rotate_left(17) ^ 1;
    assert_ne!(n, blind, "the ping nonce follows from the version nonce");
    assert!(p.on_message(Message::Pong(blind), 61_500).is_empty());
    let a = p.on_tick(61_000 + 30_001);
    assert_eq!(disconnect(&a), Some(&DisconnectReason::PingTimeout(30_000)));
    // Same version nonce, another seed: other pings.
    let mut other = local(1);
    other.ping_seed = [0xa5; 32];
    let ping = |local: LocalInfo| {
        let (mut out, _) = Peer::new(config(), Direction::Outbound, local, 0);
        let version = VersionMessage {
            version: PROTOCOL_VERSION,
            magic: config().magic,
            services: 1,
            timestamp: 0,
            receiver: "127.0.0.1:1".parse().unwrap(),
            sender: "127.0.0.1:2".parse().unwrap(),
            nonce: 99,
            user_agent: String::new(),
            best_height: 0,
        };
        out.on_message(Message::Version(version), 1);
        out.on_message(Message::Verack, 2);
        match sent(&out.on_tick(61_000))[..] {
            [Message::Ping(n)] => *n,
            ref other => panic!("no ping: {other:?}"),
        }
    };
    assert_ne!(ping(local(1)), ping(other));
}

#[test]
fn an_unfinished_handshake_times_out() {
    let (mut p, _) = Peer::new(config(), Direction::Outbound, local(1), 0);
    assert!(p.on_tick(30_000).is_empty());
    assert_eq!(
        disconnect(&p.on_tick(30_001)),
        Some(&DisconnectReason::HandshakeTimeout(30_000))
    );
}

#[test]
fn stalled_requests_are_listed_and_notfound_clears_them() {
    let (mut p, _) = connected_pair();
    let a = Inventory {
        kind: InvKind::Block,
        hash: Hash256([1; 32]),
    };
    let b = Inventory {
        kind: InvKind::Block,
        hash: Hash256([2; 32]),
    };
    p.request(a, 0);
    p.request(b, 5_000);
    assert_eq!(p.stalled_requests(6_000, 2_000), vec![a]);
    let out = p.on_message(Message::NotFound(vec![a]), 6_000);
    assert!(matches!(out[0], PeerAction::Deliver(Message::NotFound(_))));
    assert_eq!(p.stalled_requests(60_000, 2_000), vec![b]);
}

#[test]
fn malformed_input_bans_at_once() {
    let (mut p, _) = connected_pair();
    let a = p.on_frame_error(&FrameError::BadChecksum {
        declared: [0; 4],
        computed: [1; 4],
    });
    assert!(matches!(
        disconnect(&a),
        Some(DisconnectReason::Misbehaving { score: 100, .. })
    ));
}

fn scored(actions: &[PeerAction]) -> Vec<Offence> {
    actions
        .iter()
        .filter_map(|a| match a {
            PeerAction::Misbehaved { offence, .. } => Some(*offence),
            _ => None,
        })
        .collect()
}

/// What the old limiter scored Flood within a few milliseconds: thousands of requested
/// blocks and header answers, and the `getdata` requests of a syncing peer, all at once.
#[test]
fn solicited_answers_and_data_requests_spend_no_rate_tokens() {
    let (mut p, _) = connected_pair();
    let b = block();
    let inv = Inventory {
        kind: InvKind::Block,
        hash: b.hash(),
    };
    for i in 0..10_000u64 {
        p.request(inv, 5);
        let a = p.on_message(Message::Block(b.clone()), 5);
        assert!(
            matches!(a[..], [PeerAction::Deliver(Message::Block(_))]),
            "block {i}: {a:?}"
        );
        p.expect_headers(5);
        let a = p.on_message(Message::Headers(vec![b.header]), 5);
        assert!(scored(&a).is_empty(), "headers {i}: {a:?}");
        let a = p.on_message(Message::GetData(vec![inv]), 5);
        assert!(scored(&a).is_empty(), "getdata {i}: {a:?}");
        p.request(inv, 5);
        let a = p.on_message(Message::NotFound(vec![inv]), 5);
        assert!(scored(&a).is_empty(), "notfound {i}: {a:?}");
    }
    assert_eq!(p.score(), 0);
    // Unsolicited traffic still spends tokens: an `inv` flood at the same instant is scored.
    let mut floods = 0;
    for _ in 0..3_000 {
        floods += scored(&p.on_message(Message::Inv(vec![inv]), 5))
            .iter()
            .filter(|o| **o == Offence::Flood)
            .count();
    }
    assert!(floods > 0, "the unsolicited inv flood is scored");
}

#[test]
fn an_oversized_transaction_is_refused_and_scored_before_it_is_hashed() {
    let (mut p, _) = connected_pair();
    let mut tx = block().txs[0].clone();
    tx.inputs[0].prevout = parthenon_primitives::OutPoint {
        txid: Hash256([1; 32]),
        vout: 0,
    };
    let small = tx.clone();
    let pad =
        parthenon_primitives::TxOut::to_key(parthenon_primitives::Asset::Talanton, 1, [3; 32]);
    while tx.encoded_len() <= config().max_tx_size {
        tx.outputs.push(pad.clone());
    }
    // Requested by txid, yet refused on its length alone.
    p.request(
        Inventory {
            kind: InvKind::Tx,
            hash: tx.txid(),
        },
        1,
    );
    let a = p.on_message(Message::Tx(tx), 2);
    assert_eq!(scored(&a), vec![Offence::OversizedTransaction]);
    assert!(!a.iter().any(|x| matches!(x, PeerAction::DeliverTx(..))));
    // A requested transaction of normal size is delivered with the txid computed once.
    let txid = small.txid();
    p.request(
        Inventory {
            kind: InvKind::Tx,
            hash: txid,
        },
        3,
    );
    let a = p.on_message(Message::Tx(small), 4);
    assert!(matches!(&a[..], [PeerAction::DeliverTx(_, t)] if *t == txid));
}

#[test]
fn refused_transactions_are_free_within_the_byte_budget_and_scored_beyond_it() {
    let (mut p, _) = connected_pair();
    let burst = config().rejected_tx_burst_bytes as usize;
    let rate = config().rejected_tx_bytes_per_sec as u64;
    // A burst of refusals up to the budget costs nothing.
    assert!(p.charge_rejected_tx(burst, 10).is_empty());
    // The next byte at the same instant is scored, and so is every refusal beyond.
    assert_eq!(
        scored(&p.charge_rejected_tx(1_000, 10)),
        vec![Offence::RejectedTransactionFlood]
    );
    assert_eq!(
        scored(&p.charge_rejected_tx(1_000, 10)),
        vec![Offence::RejectedTransactionFlood]
    );
    // At the sustained rate nothing is scored: 1 KB every 1000/rate-per-KB ms.
    let step_ms = 1_000 * 1_000 / rate + 1;
    for i in 1..1_000u64 {
        assert!(p.charge_rejected_tx(1_000, 10 + i * step_ms).is_empty());
    }
}
