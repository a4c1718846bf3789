//! Fuzzes the `Block` decoder (the size a peer controls most): no input panics it, and any
//! input it accepts re-encodes to exactly the same bytes, with `encoded_len` agreeing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::{deserialize, serialize, Block};

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = deserialize::<Block>(data) {
        assert_eq!(serialize(&block), data, "non-canonical block");
        assert_eq!(block.encoded_len(), data.len());
        let _ = (block.hash(), block.compute_merkle_root());
    }
});
