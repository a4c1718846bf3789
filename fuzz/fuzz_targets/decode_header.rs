//! Fuzzes the `BlockHeader` decoder: exactly the 80-byte inputs decode, and each re-encodes
//! (both through `serialize` and `to_bytes`) to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::block::HEADER_SIZE;
use parthenon_primitives::{deserialize, serialize, BlockHeader};

fuzz_target!(|data: &[u8]| {
    match deserialize::<BlockHeader>(data) {
        Ok(h) => {
            assert_eq!(serialize(&h), data);
            assert_eq!(&h.to_bytes()[..], data);
        }
        Err(e) => assert_ne!(data.len(), HEADER_SIZE, "80 bytes rejected: {e}"),
    }
});
