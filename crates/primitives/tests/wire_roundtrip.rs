//! Property tests of the consensus encoding: every wire type round-trips, has exactly one
//! encoding per value, rejects truncation, trailing bytes and absurd length prefixes, and no
//! input makes a decoder panic; plus the id, merkle, UTXO-key and compact-target invariants
//! that other crates rely on.

use parthenon_primitives::block::MAX_BLOCK_SIZE;
use parthenon_primitives::encode::{Decodable, Encodable};
use parthenon_primitives::outpoint::OUTPOINT_KEY_LEN;
use parthenon_primitives::pow::{target_from_compact, target_to_compact};
use parthenon_primitives::transaction::{MAX_SCRIPT_LEN, MAX_SIGNATURE_FIELD_LEN};
use parthenon_primitives::{
    deserialize, serialize, Asset, Block, BlockHeader, DecodeError, Hash256, Network, OutPoint,
    Transaction, TxIn, TxOut,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

fn outpoint() -> impl Strategy<Value = OutPoint> {
    prop_oneof![
        1 => Just(OutPoint::NULL),
        9 => (hash(), any::<u32>()).prop_map(|(t, v)| OutPoint::new(t, v)),
    ]
}

/// Bytes of length `0..=max`, biased towards `typical` (the length a valid field has), and
/// touching the CompactSize boundary at 253 bytes.
fn var_bytes(typical: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), typical),
        1 => vec(any::<u8>(), 250..=256),
        2 => vec(any::<u8>(), 0..=max),
    ]
}

fn txin() -> impl Strategy<Value = TxIn> {
    (
        outpoint(),
        var_bytes(64, MAX_SIGNATURE_FIELD_LEN),
        any::<u32>(),
    )
        .prop_map(|(prevout, signature, sequence)| TxIn {
            prevout,
            signature,
            sequence,
        })
}

fn asset() -> impl Strategy<Value = Asset> {
    prop::sample::select(Asset::ALL.to_vec())
}

fn txout() -> impl Strategy<Value = TxOut> {
    (asset(), any::<u64>(), var_bytes(32, MAX_SCRIPT_LEN)).prop_map(
        |(asset, amount, script_pubkey)| TxOut {
            asset,
            amount,
            script_pubkey,
        },
    )
}

fn transaction_with(inputs: std::ops::Range<usize>) -> impl Strategy<Value = Transaction> {
    (
        any::<u32>(),
        vec(txin(), inputs),
        vec(txout(), 0..8),
        any::<u32>(),
    )
        .prop_map(|(version, inputs, outputs, lock_time)| Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
}

fn transaction() -> impl Strategy<Value = Transaction> {
    transaction_with(0..8)
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        hash(),
        hash(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(version, prev_hash, merkle_root, time, bits, nonce)| BlockHeader {
                version,
                prev_hash,
                merkle_root,
                time,
                bits,
                nonce,
            },
        )
}

fn block_with(txs: std::ops::Range<usize>) -> impl Strategy<Value = Block> {
    (header(), vec(transaction(), txs)).prop_map(|(header, txs)| Block { header, txs })
}

fn block() -> impl Strategy<Value = Block> {
    block_with(0..6)
}

/// A small edit to a byte string: overwrite, insert or delete one byte at a position
/// (taken modulo the length).
#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<usize>().prop_map(Edit::Delete),
    ];
    vec(edit, 1..4)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        match *e {
            Edit::Set(i, b) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes[i % n] = b;
            }
            Edit::Insert(i, b) => {
                let n = bytes.len();
                bytes.insert(i % (n + 1), b);
            }
            Edit::Delete(i) if !bytes.is_empty() => {
                let n = bytes.len();
                bytes.remove(i % n);
            }
            _ => {}
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Round trip, no strict prefix decodes, one appended byte is `TrailingBytes(1)`.
fn check_wire<T>(v: &T, extra: u8) -> Result<Vec<u8>, TestCaseError>
where
    T: Encodable + Decodable + PartialEq + Debug,
{
    let bytes = serialize(v);
    let decoded = deserialize::<T>(&bytes);
    prop_assert_eq!(decoded.as_ref(), Ok(v));
    for n in 0..bytes.len() {
        let r = deserialize::<T>(&bytes[..n]);
        prop_assert!(
            r.is_err(),
            "strict prefix of {} of {} bytes decoded",
            n,
            bytes.len()
        );
    }
    let mut longer = bytes.clone();
    longer.push(extra);
    prop_assert_eq!(
        deserialize::<T>(&longer),
        Err(DecodeError::TrailingBytes(1))
    );
    Ok(bytes)
}

/// When `bytes` decode as a `T`, they are that value's one encoding.
fn check_canonical<T>(bytes: &[u8]) -> Result<bool, TestCaseError>
where
    T: Encodable + Decodable + Debug,
{
    match deserialize::<T>(bytes) {
        Ok(v) => {
            prop_assert_eq!(serialize(&v), bytes, "non-canonical encoding of {:?}", v);
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn check_canonical_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_canonical::<OutPoint>(bytes)?;
    check_canonical::<TxIn>(bytes)?;
    check_canonical::<TxOut>(bytes)?;
    check_canonical::<BlockHeader>(bytes)?;
    check_canonical::<Block>(bytes)?;
    if check_canonical::<Transaction>(bytes)? {
        let tx = deserialize::<Transaction>(bytes).expect("decoded just above");
        prop_assert_eq!(tx.encoded_len(), bytes.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn outpoint_round_trips(op in outpoint(), extra in any::<u8>()) {
        let bytes = check_wire(&op, extra)?;
        prop_assert_eq!(bytes.len(), 36);
    }

    #[test]
    fn txin_round_trips(i in txin(), extra in any::<u8>()) {
        check_wire(&i, extra)?;
    }

    #[test]
    fn txout_round_trips(o in txout(), extra in any::<u8>()) {
        check_wire(&o, extra)?;
    }

    #[test]
    fn transaction_round_trips(tx in transaction(), extra in any::<u8>()) {
        let bytes = check_wire(&tx, extra)?;
        prop_assert_eq!(bytes.len(), tx.encoded_len());
    }

    #[test]
    fn header_round_trips(h in header(), extra in any::<u8>()) {
        let bytes = check_wire(&h, extra)?;
        prop_assert_eq!(&bytes[..], &h.to_bytes()[..]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn block_round_trips(b in block(), extra in any::<u8>()) {
        let bytes = check_wire(&b, extra)?;
        prop_assert_eq!(bytes.len(), b.encoded_len());
    }
}

// ---------------------------------------------------------------------------------------------
// Ids and the merkle root
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn txid_ignores_signatures_and_wtxid_does_not(
        tx in transaction_with(1..8),
        which in any::<prop::sample::Index>(),
        sig in var_bytes(64, MAX_SIGNATURE_FIELD_LEN),
    ) {
        let mut other = tx.clone();
        let i = which.index(tx.inputs.len());
        prop_assume!(other.inputs[i].signature != sig);
        other.inputs[i].signature = sig;
        prop_assert_eq!(tx.txid(), other.txid());
        prop_assert_ne!(tx.wtxid(), other.wtxid());
    }

    #[test]
    fn txid_commits_to_everything_but_signatures(tx in transaction_with(1..8), which in 0..4u8) {
        let mut other = tx.clone();
        match which {
            0 => other.version ^= 1,
            1 => other.lock_time ^= 1,
            2 => other.inputs[0].sequence ^= 1,
            _ => other.inputs[0].prevout.vout ^= 1,
        }
        prop_assert_ne!(tx.txid(), other.txid());
        prop_assert_ne!(tx.wtxid(), other.wtxid());
    }

    #[test]
    fn merkle_root_changes_when_any_tx_changes(
        b in block_with(1..6),
        which in any::<prop::sample::Index>(),
        how in 0..4u8,
        out in txout(),
    ) {
        let mut other = b.clone();
        let tx = &mut other.txs[which.index(b.txs.len())];
        match how {
            0 => tx.lock_time = tx.lock_time.wrapping_add(1),
            1 => tx.outputs.push(out),
            // A signature is outside the txid but inside the wtxid the root commits to.
            2 if !tx.inputs.is_empty() => tx.inputs[0].signature.push(0),
            _ => tx.version = tx.version.wrapping_add(1),
        }
        prop_assert_ne!(b.compute_merkle_root(), other.compute_merkle_root());
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary and mutated input: no panic, and one encoding per value
// ---------------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn random_bytes_never_panic_and_decode_canonically(bytes in vec(any::<u8>(), 0..2000)) {
        check_canonical_all(&bytes)?;
    }

    #[test]
    fn fixed_size_random_bytes_decode_canonically(
        op in any::<[u8; 36]>(),
        h in vec(any::<u8>(), 80),
    ) {
        // Every 36 / 80 bytes are some outpoint / header.
        prop_assert!(check_canonical::<OutPoint>(&op)?);
        prop_assert!(check_canonical::<BlockHeader>(&h)?);
    }

    #[test]
    fn edited_transactions_never_panic_and_decode_canonically(
        tx in transaction(),
        e in edits(),
    ) {
        check_canonical_all(&apply(serialize(&tx), &e))?;
    }

    #[test]
    fn edited_txouts_decode_canonically(o in txout(), e in edits()) {
        check_canonical_all(&apply(serialize(&o), &e))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn edited_blocks_never_panic_and_decode_canonically(b in block(), e in edits()) {
        check_canonical_all(&apply(serialize(&b), &e))?;
    }
}

/// A reference encoder of a transaction whose CompactSize field number `widen` (in encoding
/// order: input count, each signature length, output count, each script length) is written
/// in a longer form than the shortest, `extra` (0..3) forms up; `None` writes every field
/// minimally. Returns the bytes and the value of the widened field.
fn encode_tx_widened(tx: &Transaction, widen: Option<usize>, extra: usize) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut field = 0;
    let mut widened = 0;
    let mut cs = |out: &mut Vec<u8>, n: u64| {
        let minimal = match n {
            0..=0xfc => 0,
            0xfd..=0xffff => 1,
            0x1_0000..=0xffff_ffff => 2,
            _ => 3,
        };
        let form = if widen == Some(field) {
            widened = n;
            (minimal + 1 + extra).min(3)
        } else {
            minimal
        };
        field += 1;
        match form {
            0 => out.push(n as u8),
            1 => {
                out.push(0xfd);
                out.extend_from_slice(&(n as u16).to_le_bytes());
            }
            2 => {
                out.push(0xfe);
                out.extend_from_slice(&(n as u32).to_le_bytes());
            }
            _ => {
                out.push(0xff);
                out.extend_from_slice(&n.to_le_bytes());
            }
        }
    };
    out.extend_from_slice(&tx.version.to_le_bytes());
    cs(&mut out, tx.inputs.len() as u64);
    for i in &tx.inputs {
        out.extend_from_slice(&serialize(&i.prevout));
        cs(&mut out, i.signature.len() as u64);
        out.extend_from_slice(&i.signature);
        out.extend_from_slice(&i.sequence.to_le_bytes());
    }
    cs(&mut out, tx.outputs.len() as u64);
    for o in &tx.outputs {
        out.push(o.asset.id());
        out.extend_from_slice(&o.amount.to_le_bytes());
        cs(&mut out, o.script_pubkey.len() as u64);
        out.extend_from_slice(&o.script_pubkey);
    }
    out.extend_from_slice(&tx.lock_time.to_le_bytes());
    (out, widened)
}

proptest! {
    /// Every length field of a transaction, written in any longer-than-shortest CompactSize
    /// form, makes the transaction (and a block holding it) undecodable: no second encoding.
    #[test]
    fn widened_compact_sizes_are_rejected(
        tx in transaction(),
        which in any::<prop::sample::Index>(),
        extra in 0..3usize,
        h in header(),
    ) {
        let (minimal, _) = encode_tx_widened(&tx, None, 0);
        prop_assert_eq!(&minimal, &serialize(&tx), "reference encoder disagrees");
        let fields = 2 + tx.inputs.len() + tx.outputs.len();
        let (wide, n) = encode_tx_widened(&tx, Some(which.index(fields)), extra);
        prop_assert_eq!(
            deserialize::<Transaction>(&wide),
            Err(DecodeError::NonCanonicalCompactSize(n))
        );
        let mut block = serialize(&h);
        block.push(1);
        block.extend_from_slice(&wide);
        prop_assert_eq!(
            deserialize::<Block>(&block),
            Err(DecodeError::NonCanonicalCompactSize(n))
        );
    }
}

/// Non-minimal CompactSize forms of small numbers are the classic second encoding of a value.
#[test]
fn non_minimal_compact_sizes_are_rejected_in_every_type() {
    let out = TxOut {
        asset: Asset::Drachma,
        amount: 5,
        script_pubkey: vec![7; 32],
    };
    let mut bytes = serialize(&out);
    assert_eq!(bytes[9], 32);
    // 32 as 0xfd 0x20 0x00.
    bytes.splice(9..10, [0xfd, 0x20, 0x00]);
    assert_eq!(
        deserialize::<TxOut>(&bytes),
        Err(DecodeError::NonCanonicalCompactSize(32))
    );

    let tx = Transaction {
        version: 1,
        inputs: vec![],
        outputs: vec![out],
        lock_time: 0,
    };
    let mut bytes = serialize(&tx);
    assert_eq!(bytes[4], 0);
    bytes.splice(4..5, [0xfe, 0, 0, 0, 0]);
    assert_eq!(
        deserialize::<Transaction>(&bytes),
        Err(DecodeError::NonCanonicalCompactSize(0))
    );
}

// ---------------------------------------------------------------------------------------------
// Oversized length prefixes
// ---------------------------------------------------------------------------------------------

/// CompactSize forms of the two largest counts: 0xfe + u32::MAX and 0xff + u64::MAX.
fn huge_counts() -> [(Vec<u8>, u64); 2] {
    let mut fe = vec![0xfe];
    fe.extend_from_slice(&u32::MAX.to_le_bytes());
    let mut ff = vec![0xff];
    ff.extend_from_slice(&u64::MAX.to_le_bytes());
    [(fe, u32::MAX as u64), (ff, u64::MAX)]
}

fn assert_too_large<T: Decodable + Debug>(bytes: &[u8], field: &str, declared: u64) {
    match deserialize::<T>(bytes) {
        Err(DecodeError::LengthTooLarge { what, len, max }) => {
            assert_eq!(what, field);
            assert_eq!(len, declared);
            assert!(max < declared);
        }
        other => panic!("{field} of {declared} in {} bytes: {other:?}", bytes.len()),
    }
}

#[test]
fn huge_declared_lengths_are_rejected_without_allocating() {
    let tail = [0u8; 16];
    for (count, n) in huge_counts() {
        // Transaction input count.
        let mut b = 1u32.to_le_bytes().to_vec();
        b.extend_from_slice(&count);
        b.extend_from_slice(&tail);
        assert_too_large::<Transaction>(&b, "input count", n);

        // Transaction output count, after zero inputs.
        let mut b = 1u32.to_le_bytes().to_vec();
        b.push(0);
        b.extend_from_slice(&count);
        b.extend_from_slice(&tail);
        assert_too_large::<Transaction>(&b, "output count", n);

        // Output script length.
        let mut b = vec![Asset::Obolos.id()];
        b.extend_from_slice(&7u64.to_le_bytes());
        b.extend_from_slice(&count);
        b.extend_from_slice(&tail);
        assert_too_large::<TxOut>(&b, "output script", n);

        // Input signature length, alone and inside a transaction.
        let mut sig = serialize(&OutPoint::NULL);
        sig.extend_from_slice(&count);
        sig.extend_from_slice(&tail);
        assert_too_large::<TxIn>(&sig, "input signature", n);
        let mut b = 1u32.to_le_bytes().to_vec();
        b.push(1);
        b.extend_from_slice(&sig);
        assert_too_large::<Transaction>(&b, "input signature", n);

        // Block transaction count.
        let mut b = serialize(&Network::Dev.params().genesis_block().header);
        b.extend_from_slice(&count);
        b.extend_from_slice(&tail);
        assert_too_large::<Block>(&b, "transaction count", n);
    }
}

/// An output of value 1 whose encoding is `n` bytes, when some script length gives that.
fn output_of_len(n: usize) -> Option<TxOut> {
    // asset (1) + amount (8) + CompactSize (1 below 253 bytes, 3 from 253) + script.
    let script_len = match n {
        10..=261 => n - 10,
        265..=532 => n - 12,
        _ => return None,
    };
    Some(TxOut {
        asset: Asset::Talanton,
        amount: 1,
        script_pubkey: vec![0xab; script_len],
    })
}

/// A block whose encoding is exactly `size` bytes: one transaction with no inputs and as many
/// outputs (scripts of at most `MAX_SCRIPT_LEN` bytes) as it takes.
fn block_of_size(size: usize) -> Block {
    let mut b = Network::Dev.params().genesis_block();
    b.txs = vec![Transaction {
        version: 1,
        inputs: vec![],
        outputs: vec![],
        lock_time: 0,
    }];
    let full = 9 + 3 + MAX_SCRIPT_LEN;
    loop {
        let left = size - b.encoded_len();
        if left == 0 {
            break;
        }
        let take = if output_of_len(left).is_some() {
            left
        } else if left > 2 * full {
            full
        } else {
            (10..=full)
                .rev()
                .find(|&a| output_of_len(a).is_some() && output_of_len(left - a).is_some())
                .expect("two outputs cover any remainder up to two full ones")
        };
        b.txs[0].outputs.push(output_of_len(take).unwrap());
    }
    b
}

#[test]
fn block_size_cap_is_exact() {
    let b = block_of_size(MAX_BLOCK_SIZE);
    let mut bytes = serialize(&b);
    assert_eq!(bytes.len(), MAX_BLOCK_SIZE);
    assert_eq!(deserialize::<Block>(&bytes).as_ref(), Ok(&b));
    // One byte more is over the cap, which is checked before the trailing-byte rule.
    bytes.push(0);
    assert_eq!(
        deserialize::<Block>(&bytes),
        Err(DecodeError::LengthTooLarge {
            what: "block size",
            len: MAX_BLOCK_SIZE as u64 + 1,
            max: MAX_BLOCK_SIZE as u64,
        })
    );
}

// ---------------------------------------------------------------------------------------------
// UTXO keys
// ---------------------------------------------------------------------------------------------

/// Strings near the canonical key form, so that some are accepted and many almost are.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "u[0-9a-f]{64}:(0|[1-9][0-9]{0,9})",
        // A valid txid with a messy vout: leading zeros, signs, spaces, overflow.
        "u[0-9a-f]{64}:[0-9+\\- ]{0,12}",
        "u[0-9a-f]{64}:0[0-9]{0,10}",
        // A near-valid txid with a valid vout.
        "u[0-9a-f]{62,66}:[1-9]",
        "[uU]?[0-9a-fA-F]{62,66}:?[0-9+\\- ]{0,12}",
        ".{0,80}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn outpoint_key_forms_round_trip(op in outpoint()) {
        let text = op.to_key_text();
        prop_assert_eq!(OutPoint::parse_key_text(&text), Ok(op));
        prop_assert_eq!(text.parse::<OutPoint>(), Ok(op));
        prop_assert_eq!(op.to_string(), text);
        prop_assert_eq!(OutPoint::from_db_key(&op.db_key()), Ok(op));
    }

    #[test]
    fn accepted_key_text_is_canonical(s in key_text()) {
        if let Ok(op) = OutPoint::parse_key_text(&s) {
            prop_assert_eq!(op.to_key_text(), s);
        }
    }

    #[test]
    fn accepted_db_key_is_canonical(
        k in prop_oneof![
            vec(any::<u8>(), 0..64),
            vec(any::<u8>(), OUTPOINT_KEY_LEN - 1..=OUTPOINT_KEY_LEN + 1),
            vec(any::<u8>(), OUTPOINT_KEY_LEN - 1).prop_map(|mut k| { k.insert(0, b'u'); k }),
        ],
    ) {
        match OutPoint::from_db_key(&k) {
            Ok(op) => prop_assert_eq!(&op.db_key()[..], &k[..]),
            Err(_) => prop_assert!(k.len() != OUTPOINT_KEY_LEN || k[0] != b'u'),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compact targets
// ---------------------------------------------------------------------------------------------

/// Bits with a plausible exponent (most random u32s overflow 256 bits) and all-random ones.
fn bits() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => (0u32..=0x22, 0u32..0x0100_0000).prop_map(|(e, m)| (e << 24) | m),
        1 => any::<u32>(),
    ]
}

proptest! {
    #[test]
    fn compact_target_round_trips(bits in bits()) {
        if let Ok(target) = target_from_compact(bits) {
            let again = target_to_compact(target);
            prop_assert_eq!(target_from_compact(again), Ok(target), "{:#010x} -> {:#010x}", bits, again);
            // The re-encoding is the canonical form: encoding it again is a fixed point.
            prop_assert_eq!(target_to_compact(target_from_compact(again).unwrap()), again);
        }
    }
}

#[test]
fn network_limits_are_canonical_compact_targets() {
    for net in Network::ALL {
        let bits = net.params().pow_limit_bits;
        assert_eq!(target_to_compact(target_from_compact(bits).unwrap()), bits);
    }
}
