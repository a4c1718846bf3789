//! Fuzzes the `Transaction` decoder: no input panics it, and any input it accepts is the one
//! canonical encoding of the decoded value (re-encoding gives the same bytes back), so a
//! second encoding of a transaction — a malleability bug — is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::{deserialize, serialize, Transaction};

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = deserialize::<Transaction>(data) {
        assert_eq!(serialize(&tx), data, "non-canonical transaction {tx:?}");
        assert_eq!(tx.encoded_len(), data.len());
        // The ids are total functions of a decoded transaction.
        let _ = (tx.txid(), tx.wtxid(), tx.output_totals(), tx.is_coinbase());
    }
});
