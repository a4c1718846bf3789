//! Fuzzes the decoders of what the chainstate stores (coins, undo records, block-index
//! entries): a damaged store must give an error, never a panic, and whatever decodes must
//! re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_chain::block_index::IndexEntry;
use parthenon_chain::undo::BlockUndo;
use parthenon_chain::Coin;
use parthenon_primitives::Hash256;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Coin::from_bytes(data) {
        assert_eq!(c.to_bytes(), data);
    }
    if let Ok(u) = BlockUndo::from_bytes(data) {
        assert_eq!(u.to_bytes(), data);
    }
    if let Ok(e) = IndexEntry::from_bytes(Hash256::ZERO, data) {
        assert_eq!(e.to_bytes(), data);
    }
});
