use super::*;
use crate::message::VersionMessage;
use crate::strategies::known_message;
use parthenon_primitives::Network;
use proptest::prelude::*;

const MAGIC: [u8; 4] = [0xde, 0x70, 0x1a, 0x5c];

/// Feeds `chunks` one after the other, draining frames as they complete, as a driver would.
fn decode_chunks(decoder: &mut FrameDecoder, chunks: &[&[u8]]) -> Result<Vec<Frame>, FrameError> {
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let taken = decoder.extend(rest);
            rest = &rest[taken..];
            while let Some(frame) = decoder.next_frame()? {
                frames.push(frame);
            }
        }
    }
    Ok(frames)
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    decode_chunks(&mut FrameDecoder::new(MAGIC), &[bytes])
}

fn to_message(frame: &Frame) -> Message {
    Message::decode(frame.command.as_str(), &frame.payload).expect("valid message")
}

/// A header for `command` declaring `len` payload bytes with checksum `sum`.
fn raw_header(magic: [u8; 4], command: &[u8; 12], len: u32, sum: [u8; 4]) -> Vec<u8> {
    let mut h = magic.to_vec();
    h.extend_from_slice(command);
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&sum);
    h
}

#[test]
fn ping_frame_layout_is_pinned() {
    let bytes = encode_frame(MAGIC, &Message::Ping(0x0102_0304_0506_0708));
    let payload = 0x0102_0304_0506_0708u64.to_le_bytes();
    let mut expected = raw_header(MAGIC, b"ping\0\0\0\0\0\0\0\0", 8, checksum(&payload));
    expected.extend_from_slice(&payload);
    assert_eq!(bytes, expected);
    // The checksum of an empty payload is Bitcoin's well-known 5df6e0e2.
    assert_eq!(checksum(&[]), [0x5d, 0xf6, 0xe0, 0xe2]);
}

#[test]
fn wrong_magic_is_reported_from_the_header() {
    let main = Network::Main.params().magic;
    let bytes = encode_frame(main, &Message::Verack);
    assert_eq!(
        decode_all(&bytes),
        Err(FrameError::WrongMagic {
            got: main,
            expected: MAGIC
        })
    );
}

#[test]
fn bad_checksum_is_reported_when_the_payload_is_complete() {
    let mut bytes = encode_frame(MAGIC, &Message::Pong(9));
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let mut decoder = FrameDecoder::new(MAGIC);
    assert_eq!(decoder.extend(&bytes[..last]), last);
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.extend(&bytes[last..]), 1);
    assert!(matches!(
        decoder.next_frame(),
        Err(FrameError::BadChecksum { .. })
    ));
    assert!(
        matches!(decoder.next_frame(), Err(FrameError::BadChecksum { .. })),
        "errors are sticky"
    );
    assert_eq!(decoder.extend(&bytes), 0, "no bytes taken after an error");
}

#[test]
fn four_gib_length_is_rejected_before_any_payload_byte() {
    let mut bytes = raw_header(MAGIC, b"block\0\0\0\0\0\0\0", u32::MAX, [0; 4]);
    bytes.extend_from_slice(&[0; 1000]);
    let mut decoder = FrameDecoder::new(MAGIC);
    assert_eq!(decoder.extend(&bytes), HEADER_LEN, "takes the header only");
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::Oversized {
            command: Command::new("block").expect("valid"),
            len: u32::MAX as usize,
            max: MAX_MESSAGE_SIZE
        })
    );
    let just_over = raw_header(
        MAGIC,
        b"block\0\0\0\0\0\0\0",
        MAX_MESSAGE_SIZE as u32 + 1,
        [0; 4],
    );
    assert!(matches!(
        decode_all(&just_over),
        Err(FrameError::Oversized { .. })
    ));
}

/// The largest payload each command's decoder can accept, built from the caps.
fn largest_valid_payloads() -> Vec<(&'static str, usize)> {
    use crate::message::{
        PeerAddress, INVENTORY_SIZE, MAX_ADDRS, MAX_HEADERS, MAX_INVENTORY, MAX_LOCATOR_HASHES,
    };
    let list = |n: usize, size: usize| {
        let mut v = Vec::new();
        parthenon_primitives::encode::write_compact_size(&mut v, n as u64);
        v.len() + n * size
    };
    let version = VersionMessage {
        version: 1,
        magic: MAGIC,
        services: u64::MAX,
        timestamp: i64::MAX,
        receiver: "[::1]:1".parse().expect("address"),
        sender: "[::1]:1".parse().expect("address"),
        nonce: 1,
        user_agent: "a".repeat(crate::message::MAX_USER_AGENT_LEN),
        best_height: 1,
    };
    vec![
        ("version", Message::Version(version).encode_payload().len()),
        ("verack", 0),
        ("ping", 8),
        ("addr", list(MAX_ADDRS, PeerAddress::SIZE)),
        ("inv", list(MAX_INVENTORY, INVENTORY_SIZE)),
        ("getdata", list(MAX_INVENTORY, INVENTORY_SIZE)),
        ("notfound", list(MAX_INVENTORY, INVENTORY_SIZE)),
        ("getheaders", 4 + list(MAX_LOCATOR_HASHES, 32) + 32),
        ("headers", list(MAX_HEADERS, 80)),
        ("block", parthenon_primitives::block::MAX_BLOCK_SIZE),
    ]
}

#[test]
fn each_command_is_limited_to_its_largest_valid_message() {
    for (command, largest) in largest_valid_payloads() {
        assert_eq!(
            crate::message::max_payload_len(command),
            largest,
            "{command}"
        );
        let mut field = [0u8; 12];
        field[..command.len()].copy_from_slice(command.as_bytes());
        // One byte more than the largest valid message: refused from the header alone.
        let mut bytes = raw_header(MAGIC, &field, largest as u32 + 1, [0; 4]);
        bytes.extend_from_slice(&[0; 64]);
        let mut decoder = FrameDecoder::new(MAGIC);
        assert_eq!(decoder.extend(&bytes), HEADER_LEN, "{command}: header only");
        assert_eq!(decoder.buffered(), HEADER_LEN);
        assert_eq!(
            decoder.next_frame(),
            Err(FrameError::Oversized {
                command: Command::new(command).expect("valid"),
                len: largest + 1,
                max: largest
            }),
            "{command}"
        );
    }
    // The old 32 MiB cap let a 4 MiB `ping` through; now 9 bytes is too many.
    let bytes = raw_header(MAGIC, b"ping\0\0\0\0\0\0\0\0", 4 << 20, [0; 4]);
    assert!(matches!(
        decode_all(&bytes),
        Err(FrameError::Oversized { max: 8, .. })
    ));
}

#[test]
fn before_the_handshake_only_handshake_sized_payloads_are_taken() {
    let big_inv = raw_header(
        MAGIC,
        b"inv\0\0\0\0\0\0\0\0\0",
        MAX_HANDSHAKE_PAYLOAD as u32 + 1,
        [0; 4],
    );
    let mut decoder = FrameDecoder::awaiting_handshake(MAGIC);
    assert!(decoder.in_handshake());
    assert_eq!(decoder.extend(&big_inv), HEADER_LEN);
    assert!(matches!(
        decoder.next_frame(),
        Err(FrameError::Oversized { max, .. }) if max == MAX_HANDSHAKE_PAYLOAD
    ));
    // A `version` of the largest size and a `verack` lift the cap, in either order.
    let version = Frame {
        command: Command::new("version").expect("valid"),
        payload: vec![0; MAX_HANDSHAKE_PAYLOAD],
    };
    let inv = Message::Inv(vec![
        crate::message::Inventory {
            kind: crate::message::InvKind::Tx,
            hash: parthenon_primitives::Hash256::ZERO,
        };
        100
    ]);
    let mut bytes = encode_frame(MAGIC, &Message::Verack);
    bytes.extend(version.encode(MAGIC));
    bytes.extend(encode_frame(MAGIC, &inv));
    let mut decoder = FrameDecoder::awaiting_handshake(MAGIC);
    let frames = decode_chunks(&mut decoder, &[&bytes]).expect("valid frames");
    assert_eq!(frames.len(), 3);
    assert!(!decoder.in_handshake());
    assert_eq!(to_message(&frames[2]), inv);
    // A `version` alone does not.
    let mut bytes = encode_frame(MAGIC, &Message::Verack);
    bytes.extend(encode_frame(MAGIC, &inv));
    let mut decoder = FrameDecoder::awaiting_handshake(MAGIC);
    assert!(matches!(
        decode_chunks(&mut decoder, &[&bytes]),
        Err(FrameError::Oversized { .. })
    ));
}

#[test]
fn a_maximal_frame_is_accepted_and_nothing_beyond_it_is_buffered() {
    let payload = vec![0u8; MAX_MESSAGE_SIZE];
    let frame = Frame {
        command: Command::new("block").expect("valid"),
        payload,
    };
    let mut bytes = frame.encode(MAGIC);
    bytes.extend_from_slice(&encode_frame(MAGIC, &Message::Verack));
    let mut decoder = FrameDecoder::new(MAGIC);
    let taken = decoder.extend(&bytes);
    assert_eq!(taken, HEADER_LEN + MAX_MESSAGE_SIZE);
    assert_eq!(decoder.buffered(), HEADER_LEN + MAX_MESSAGE_SIZE);
    assert_eq!(decoder.extend(&bytes[taken..]), 0, "frame waiting");
    assert_eq!(decoder.next_frame(), Ok(Some(frame)));
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(decoder.extend(&bytes[taken..]), HEADER_LEN);
    let verack = decoder.next_frame().expect("valid").expect("complete");
    assert_eq!(to_message(&verack), Message::Verack);
}

#[test]
fn bad_commands_are_rejected() {
    let sum = checksum(&[]);
    for field in [
        b"ping\0x\0\0\0\0\0\0",
        b"\0\0\0\0\0\0\0\0\0\0\0\0",
        b"p\xe9ng\0\0\0\0\0\0\0\0",
        b"pi ng\0\0\0\0\0\0\0",
    ] {
        let bytes = raw_header(MAGIC, field, 0, sum);
        assert_eq!(
            decode_all(&bytes),
            Err(FrameError::BadCommand { field: *field })
        );
    }
}

#[test]
fn unknown_commands_frame_and_decode_as_unknown() {
    let frame = Frame {
        command: Command::new("sendcmpct").expect("valid"),
        payload: vec![1, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    let mut frames = decode_all(&frame.encode(MAGIC)).expect("valid frame");
    assert_eq!(frames.len(), 1);
    let received = frames.remove(0);
    assert_eq!(received.payload, frame.payload);
    assert_eq!(
        to_message(&received),
        Message::Unknown {
            command: frame.command,
            len: 9
        }
    );
}

proptest! {
    #[test]
    fn every_message_round_trips_through_a_frame(m in known_message()) {
        let bytes = encode_frame(MAGIC, &m);
        let frames = decode_all(&bytes).expect("valid frame");
        prop_assert_eq!(frames.len(), 1);
        prop_assert_eq!(frames[0].encode(MAGIC), bytes);
        prop_assert_eq!(to_message(&frames[0]), m);
    }

    #[test]
    fn every_truncation_needs_more_bytes_then_completes(m in known_message()) {
        let bytes = encode_frame(MAGIC, &m);
        for n in 0..bytes.len() {
            let mut decoder = FrameDecoder::new(MAGIC);
            prop_assert_eq!(decoder.extend(&bytes[..n]), n);
            prop_assert_eq!(decoder.next_frame(), Ok(None), "prefix {}", n);
            prop_assert_eq!(decoder.extend(&bytes[n..]), bytes.len() - n);
            let frame = decoder.next_frame().expect("valid").expect("complete");
            prop_assert_eq!(to_message(&frame), m.clone());
        }
    }

    #[test]
    fn every_split_point_decodes_identically(a in known_message(), b in known_message()) {
        let mut bytes = encode_frame(MAGIC, &a);
        bytes.extend(encode_frame(MAGIC, &b));
        let whole = decode_all(&bytes).expect("valid frames");
        prop_assert_eq!(whole.len(), 2);
        for split in 0..=bytes.len() {
            let mut decoder = FrameDecoder::new(MAGIC);
            let parts = decode_chunks(&mut decoder, &[&bytes[..split], &bytes[split..]]);
            prop_assert_eq!(parts.as_ref(), Ok(&whole), "split at {}", split);
        }
    }

    #[test]
    fn random_bytes_never_panic_and_frames_re_encode(
        prefix_valid in any::<bool>(),
        noise in proptest::collection::vec(any::<u8>(), 0..512),
        chunk in 1usize..64,
    ) {
        // Half the runs start with the right magic so that the header checks are reached.
        let mut bytes = if prefix_valid { MAGIC.to_vec() } else { Vec::new() };
        bytes.extend(noise);
        let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
        let mut decoder = FrameDecoder::new(MAGIC);
        if let Ok(frames) = decode_chunks(&mut decoder, &chunks) {
            let encoded: Vec<u8> = frames.iter().flat_map(|f| f.encode(MAGIC)).collect();
            prop_assert_eq!(&bytes[..encoded.len()], &encoded[..]);
            prop_assert_eq!(encoded.len() + decoder.buffered(), bytes.len());
        }
    }
}
