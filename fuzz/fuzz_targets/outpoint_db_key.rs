//! Fuzzes `OutPoint::from_db_key`, which reads UTXO keys back from the database: no input
//! panics it, and any key it accepts is exactly the `db_key` of the parsed outpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parthenon_primitives::OutPoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = OutPoint::from_db_key(data) {
        assert_eq!(&op.db_key()[..], data);
        assert_eq!(OutPoint::parse_key_text(&op.to_key_text()), Ok(op));
    }
});
