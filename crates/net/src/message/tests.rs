use super::*;
use crate::strategies::{known_message, unknown_command};
use parthenon_primitives::encode::serialize;
use proptest::prelude::*;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A CompactSize count followed by `n` copies of `item`.
fn list_payload(n: usize, item: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_compact_size(&mut out, n as u64);
    for _ in 0..n {
        out.extend_from_slice(item);
    }
    out
}

fn assert_too_large(command: &str, payload: &[u8], len: u64, max: u64) {
    match Message::decode(command, payload) {
        Err(MessageError::Decode(DecodeError::LengthTooLarge {
            len: got_len,
            max: got_max,
            ..
        })) => assert_eq!((got_len, got_max), (len, max), "{command}"),
        other => panic!("{command}: expected LengthTooLarge, got {other:?}"),
    }
}

#[test]
fn counts_over_the_caps_are_rejected() {
    let addr = [0u8; PeerAddress::SIZE];
    assert_too_large("addr", &list_payload(MAX_ADDRS + 1, &addr), 1_001, 1_000);
    let mut inv = [0u8; INVENTORY_SIZE];
    inv[0] = 1;
    for command in ["inv", "getdata", "notfound"] {
        let payload = list_payload(MAX_INVENTORY + 1, &inv);
        assert_too_large(command, &payload, 50_001, 50_000);
    }
    let mut getheaders = 1u32.to_le_bytes().to_vec();
    getheaders.extend(list_payload(MAX_LOCATOR_HASHES + 1, &[0; 32]));
    getheaders.extend([0; 32]);
    assert_too_large("getheaders", &getheaders, 102, 101);
    let headers = list_payload(MAX_HEADERS + 1, &[0; HEADER_SIZE]);
    assert_too_large("headers", &headers, 2_001, 2_000);
}

#[test]
fn huge_counts_are_rejected_before_allocation() {
    // A 2^64-1 count in a 9-byte payload: allocating for it would abort the process.
    let mut huge = vec![0xff];
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    for command in ["addr", "inv", "getdata", "notfound", "headers"] {
        assert_too_large(command, &huge, u64::MAX, 0);
    }
    let mut getheaders = 1u32.to_le_bytes().to_vec();
    getheaders.extend(&huge);
    assert_too_large("getheaders", &getheaders, u64::MAX, 0);
}

fn sample_version(user_agent: &str) -> VersionMessage {
    VersionMessage {
        version: 1,
        magic: [0xde, 0x70, 0x1a, 0x5c],
        services: 1,
        timestamp: -5,
        receiver: "[2001:db8::1]:27333".parse().expect("socket address"),
        sender: "10.0.0.1:27333".parse().expect("socket address"),
        nonce: 0x0102_0304_0506_0708,
        user_agent: user_agent.to_string(),
        best_height: 42,
    }
}

#[test]
fn version_layout_is_pinned() {
    let v = sample_version("/parthenon:0.1.0/");
    let bytes = serialize(&v);
    assert_eq!(bytes.len(), 4 + 4 + 8 + 8 + 18 + 18 + 8 + 1 + 17 + 4);
    assert_eq!(&bytes[0..4], &1u32.to_le_bytes());
    assert_eq!(&bytes[4..8], &v.magic);
    assert_eq!(&bytes[16..24], &(-5i64).to_le_bytes());
    assert_eq!(
        &bytes[24..40],
        &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(
        &bytes[40..42],
        &27333u16.to_be_bytes(),
        "port is big-endian"
    );
    assert_eq!(
        &bytes[42..58],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
        "IPv4 is IPv4-mapped"
    );
    assert_eq!(bytes[68], 17, "user agent length");
    assert_eq!(
        Message::decode("version", &bytes),
        Ok(Message::Version(v.clone()))
    );
}

#[test]
fn version_user_agent_is_bounded_and_utf8() {
    let at_cap = sample_version(&"a".repeat(MAX_USER_AGENT_LEN));
    let bytes = serialize(&at_cap);
    assert_eq!(
        Message::decode("version", &bytes),
        Ok(Message::Version(at_cap))
    );
    let over = serialize(&sample_version(&"a".repeat(MAX_USER_AGENT_LEN + 1)));
    assert_too_large("version", &over, 257, 256);
    let mut not_utf8 = serialize(&sample_version("ab"));
    let ua_start = 4 + 4 + 8 + 8 + 18 + 18 + 8 + 1;
    not_utf8[ua_start] = 0xff;
    assert_eq!(
        Message::decode("version", &not_utf8),
        Err(MessageError::UserAgentNotUtf8)
    );
}

#[test]
fn ipv4_mapped_ipv6_decodes_as_ipv4() {
    let mapped = PeerAddress {
        time: 7,
        services: 1,
        ip: IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
        port: 1,
    };
    let bytes = Message::Addr(vec![mapped]).encode_payload();
    let decoded = Message::decode("addr", &bytes).expect("valid addr");
    let Message::Addr(addrs) = &decoded else {
        panic!("not addr: {decoded:?}")
    };
    assert_eq!(addrs[0].ip, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(decoded.encode_payload(), bytes, "same bytes either way");
}

#[test]
fn unknown_inventory_kind_is_rejected() {
    let mut entry = [0u8; INVENTORY_SIZE];
    entry[0] = 3;
    assert_eq!(
        Message::decode("inv", &list_payload(1, &entry)),
        Err(MessageError::UnknownInvKind(3))
    );
}

#[test]
fn unknown_commands_are_skipped_and_invalid_ones_rejected() {
    assert_eq!(
        Message::decode("sendcmpct", &[1, 2, 3]),
        Ok(Message::Unknown {
            command: Command::new("sendcmpct").expect("valid"),
            len: 3
        })
    );
    let unknown = Message::decode("feefilter", &[]).expect("unknown is not an error");
    assert_eq!(unknown.command(), "feefilter");
    assert_eq!(unknown.encode_payload(), Vec::<u8>::new());
    assert_eq!(
        Message::decode("no spaces", &[]),
        Err(MessageError::BadCommand("no spaces".into()))
    );
    assert_eq!(
        Message::decode("", &[]),
        Err(MessageError::BadCommand(String::new()))
    );
}

#[test]
fn commands_are_distinct_and_match_the_variants() {
    let unique: HashSet<_> = COMMANDS.iter().collect();
    assert_eq!(unique.len(), COMMANDS.len());
    for c in COMMANDS {
        assert!(Command::new(c).is_some(), "{c} is a valid command name");
        assert!(
            !matches!(Message::decode(c, &[]), Ok(Message::Unknown { .. })),
            "{c} is decoded, not skipped"
        );
    }
}

proptest! {
    #[test]
    fn every_message_round_trips(m in known_message()) {
        prop_assert!(COMMANDS.contains(&m.command()));
        let payload = m.encode_payload();
        prop_assert_eq!(Message::decode(m.command(), &payload), Ok(m));
    }

    #[test]
    fn trailing_bytes_and_truncations_are_errors(m in known_message(), extra in any::<u8>()) {
        let mut payload = m.encode_payload();
        for n in 0..payload.len() {
            prop_assert!(Message::decode(m.command(), &payload[..n]).is_err(), "prefix {}", n);
        }
        payload.push(extra);
        prop_assert_eq!(
            Message::decode(m.command(), &payload),
            Err(MessageError::Decode(DecodeError::TrailingBytes(1)))
        );
    }

    #[test]
    fn unknown_commands_decode_as_unknown(command in unknown_command(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(
            Message::decode(command.as_str(), &payload),
            Ok(Message::Unknown { command, len: payload.len() })
        );
    }

    #[test]
    fn random_payloads_never_panic_and_accepted_ones_are_canonical(
        command in prop::sample::select(COMMANDS.to_vec()),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Ok(m) = Message::decode(command, &payload) {
            prop_assert_eq!(m.command(), command);
            prop_assert_eq!(m.encode_payload(), payload);
        }
    }
}
