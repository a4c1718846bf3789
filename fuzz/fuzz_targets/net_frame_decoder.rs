//! Fuzzes the streaming frame decoder with arbitrary bytes fed in arbitrary chunk sizes: no
//! input panics it or makes it take bytes it cannot account for, every frame it yields
//! re-encodes to exactly the bytes it came from, and every message decoded from a frame
//! re-encodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_net::{encode_frame, FrameDecoder, Message};
use parthenon_primitives::Network;

/// Chunk sizes from a small LCG over the first input byte: single bytes, short runs, long
/// runs and the whole remaining stream, so frames break at every kind of boundary.
struct Chunks(u32);

impl Chunks {
    fn next_len(&mut self, remaining: usize) -> usize {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let r = (self.0 >> 16) as usize;
        let len = match r % 4 {
            0 => 1,
            1 => 1 + r % 16,
            2 => 1 + r % 512,
            _ => remaining,
        };
        len.min(remaining)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let magic = Network::Dev.params().magic;
    let mut decoder = FrameDecoder::new(magic);
    let mut chunks = Chunks(u32::from(seed));
    let mut reencoded = Vec::new();
    let mut rest = stream;
    let mut failed = false;
    'feed: while !rest.is_empty() {
        let n = chunks.next_len(rest.len());
        let (mut chunk, tail) = rest.split_at(n);
        rest = tail;
        while !chunk.is_empty() {
            let taken = decoder.extend(chunk);
            chunk = &chunk[taken..];
            loop {
                match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        let bytes = frame.encode(magic);
                        if let Ok(message) = Message::decode(frame.command.as_str(), &frame.payload)
                        {
                            if !matches!(message, Message::Unknown { .. }) {
                                assert_eq!(encode_frame(magic, &message), bytes, "non-canonical");
                            }
                        }
                        reencoded.extend_from_slice(&bytes);
                    }
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break 'feed;
                    }
                }
            }
        }
    }
    assert_eq!(
        &stream[..reencoded.len()],
        &reencoded[..],
        "frame bytes changed"
    );
    if !failed {
        assert_eq!(
            reencoded.len() + decoder.buffered(),
            stream.len(),
            "bytes lost"
        );
    }
});
