//! Fuzzes `OutPoint::parse_key_text`, the one parser of the UTXO key text users type: no
//! string panics it, and any string it accepts is the canonical form of the parsed outpoint
//! (so two spellings can never name one coin).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::OutPoint;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(op) = OutPoint::parse_key_text(s) {
        assert_eq!(op.to_key_text(), s);
        assert_eq!(OutPoint::from_db_key(&op.db_key()), Ok(op));
    }
});
