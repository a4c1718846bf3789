//! Fuzzes the `TxOut` decoder (asset byte, amount, bounded script): no input panics it, and any
//! input it accepts re-encodes to exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::transaction::MAX_SCRIPT_LEN;
use parthenon_primitives::{deserialize, serialize, TxOut};

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = deserialize::<TxOut>(data) {
        assert_eq!(serialize(&out), data, "non-canonical output {out:?}");
        assert!(out.script_pubkey.len() <= MAX_SCRIPT_LEN);
    }
});
