//! BIP-340 batch verification against single verification: the official vectors, random
//! batches with every kind of invalid signature at random positions, and two invalid
//! signatures that cancel out in an unrandomised sum.

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::sec1::FromEncodedPoint;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, EncodedPoint, ProjectivePoint, Scalar, U256};
use parthenon_crypto::batch::{
    batch_is_valid_in, batch_is_valid_threads, bench, verify_batch_in, verify_batch_threads,
    BatchError, BatchResult,
};
use parthenon_crypto::{
    batch_is_valid, verify, verify_batch, BatchItem, BatchVerifier, CpuBatchVerifier, KeyPair,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/bip340_test_vectors.csv"
);

/// The secp256k1 field prime p, big-endian.
const P: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[27] = 0xfe;
    p[28] = 0xff;
    p[29] = 0xff;
    p[30] = 0xfc;
    p[31] = 0x2f;
    p
};

/// The group order n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

fn single(item: &BatchItem) -> bool {
    verify(&item.pubkey, &item.msg, &item.sig).is_ok()
}

fn two_threads() -> CpuBatchVerifier {
    CpuBatchVerifier::new(2).expect("two-thread pool")
}

/// Checks every entry point against single verification of each item.
fn assert_matches_single(items: &[BatchItem], what: &str) {
    let expected: Vec<bool> = items.iter().map(single).collect();
    assert_eq!(verify_batch(items), expected, "{what}: verify_batch");
    let all = expected.iter().all(|&v| v);
    assert_eq!(batch_is_valid(items), all, "{what}: batch_is_valid");
    let par = two_threads();
    assert_eq!(
        par.verify_batch(items).as_slice(),
        &expected[..],
        "{what}: 2 threads"
    );
    assert_eq!(
        par.batch_is_valid(items),
        all,
        "{what}: 2 threads, all valid"
    );
}

/// A pool of key pairs: keys repeat across a batch, as they do on chain (same address
/// spending several outputs), which also exercises equal points inside the MSM.
fn keys(n: usize, seed: u64) -> Vec<KeyPair> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| KeyPair::generate_with(&mut rng)).collect()
}

fn sign(pair: &KeyPair, rng: &mut StdRng) -> BatchItem {
    let mut msg = [0u8; 32];
    let mut aux = [0u8; 32];
    rng.fill_bytes(&mut msg);
    rng.fill_bytes(&mut aux);
    BatchItem {
        pubkey: pair.public_key().to_bytes(),
        msg,
        sig: pair.sign_with_aux(&msg, &aux).0,
    }
}

fn valid_items(pool: &[KeyPair], n: usize, rng: &mut StdRng) -> Vec<BatchItem> {
    (0..n)
        .map(|_| sign(&pool[rng.random_range(0..pool.len())], rng))
        .collect()
}

fn fixed<const L: usize>(hex_str: &str) -> [u8; L] {
    hex::decode(hex_str)
        .expect("hex")
        .try_into()
        .expect("length")
}

/// (item, expected result, index) for every official BIP-340 vector with a 32-byte message.
fn vectors() -> Vec<(BatchItem, bool, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(VECTORS)
        .expect("open vendored BIP-340 vectors");
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.expect("CSV row");
        let item = BatchItem {
            pubkey: fixed(&record[2]),
            msg: fixed(&record[4]),
            sig: fixed(&record[5]),
        };
        let expected = match &record[6] {
            "TRUE" => true,
            "FALSE" => false,
            other => panic!("unexpected result {other:?}"),
        };
        out.push((item, expected, record[0].to_string()));
    }
    assert_eq!(out.len(), 15, "every vendored vector read");
    out
}

#[test]
fn bip340_vectors_alone() {
    let par = two_threads();
    for (item, expected, index) in vectors() {
        let one = [item];
        assert_eq!(verify_batch(&one), [expected], "vector {index}");
        assert_eq!(batch_is_valid(&one), expected, "vector {index}");
        assert_eq!(
            par.verify_batch(&one).as_slice(),
            [expected],
            "vector {index}"
        );
        assert_eq!(single(&item), expected, "vector {index}: single");
    }
}

#[test]
fn bip340_vectors_mixed_into_valid_batches() {
    let pool = keys(8, 1);
    let mut rng = StdRng::seed_from_u64(2);
    let vectors = vectors();
    // Each vector at a random position of a batch of valid signatures, at a size that runs
    // the batch equation (and its halving search) rather than the single-signature fallback.
    for (item, expected, index) in &vectors {
        let mut items = valid_items(&pool, 40, &mut rng);
        let at = rng.random_range(0..=items.len());
        items.insert(at, *item);
        let mut want = vec![true; items.len()];
        want[at] = *expected;
        assert_eq!(verify_batch(&items), want, "vector {index} at {at}");
        assert_eq!(batch_is_valid(&items), *expected, "vector {index} at {at}");
        assert_eq!(
            two_threads().verify_batch(&items).as_slice(),
            &want[..],
            "vector {index} at {at}, 2 threads"
        );
    }
    // All vectors in one batch, shuffled among valid signatures.
    let mut items = valid_items(&pool, 100, &mut rng);
    let mut want = vec![true; items.len()];
    for (item, expected, _) in &vectors {
        let at = rng.random_range(0..=items.len());
        items.insert(at, *item);
        want.insert(at, *expected);
    }
    assert_eq!(verify_batch(&items), want);
    assert!(!batch_is_valid(&items));
    assert_matches_single(&items, "all vectors");
}

/// x coordinate of a point that exists on the curve (taken from a fresh signature).
fn on_curve_x(rng: &mut StdRng) -> [u8; 32] {
    KeyPair::generate_with(rng).public_key().to_bytes()
}

/// An x below p that is not the x coordinate of any point.
fn off_curve_x(rng: &mut StdRng) -> [u8; 32] {
    loop {
        let mut x = [0u8; 32];
        rng.fill_bytes(&mut x);
        let mut compressed = [2u8; 33];
        compressed[1..].copy_from_slice(&x);
        if x < P && secp256k1::PublicKey::from_slice(&compressed).is_err() {
            return x;
        }
    }
}

/// `value + k` as a 32-byte big-endian integer (k small, no overflow past 2^256 expected).
fn plus(value: &[u8; 32], k: u8) -> [u8; 32] {
    let mut out = *value;
    let mut carry = u16::from(k);
    for b in out.iter_mut().rev() {
        let t = u16::from(*b) + carry;
        *b = t as u8;
        carry = t >> 8;
    }
    out
}

/// The ways a signature is made invalid.
#[derive(Clone, Copy, Debug)]
enum Corruption {
    /// `s + 1 mod n`: in range but wrong.
    BadS,
    /// `r` replaced by another valid x coordinate.
    BadR,
    /// Signed by a different key.
    WrongKey,
    /// A different message.
    WrongMessage,
    /// `r` below p but not on the curve.
    ROffCurve,
    /// `r >= p`.
    RAtLeastP,
    /// `s >= n`.
    SAtLeastN,
    /// Public key `>= p`.
    KeyAtLeastP,
    /// Public key below p but not on the curve.
    KeyOffCurve,
}

const CORRUPTIONS: [Corruption; 9] = [
    Corruption::BadS,
    Corruption::BadR,
    Corruption::WrongKey,
    Corruption::WrongMessage,
    Corruption::ROffCurve,
    Corruption::RAtLeastP,
    Corruption::SAtLeastN,
    Corruption::KeyAtLeastP,
    Corruption::KeyOffCurve,
];

fn corrupt(item: &mut BatchItem, how: Corruption, rng: &mut StdRng) {
    let set_r = |item: &mut BatchItem, r: [u8; 32]| item.sig[..32].copy_from_slice(&r);
    let set_s = |item: &mut BatchItem, s: [u8; 32]| item.sig[32..].copy_from_slice(&s);
    match how {
        Corruption::BadS => {
            let s: [u8; 32] = item.sig[32..].try_into().unwrap();
            let s = Option::<Scalar>::from(Scalar::from_repr(s.into())).unwrap() + Scalar::ONE;
            set_s(item, s.to_bytes().into());
        }
        Corruption::BadR => set_r(item, on_curve_x(rng)),
        Corruption::WrongKey => item.pubkey = on_curve_x(rng),
        Corruption::WrongMessage => {
            item.msg[rng.random_range(0..32)] ^= 1 << rng.random_range(0..8)
        }
        Corruption::ROffCurve => set_r(item, off_curve_x(rng)),
        Corruption::RAtLeastP => set_r(item, plus(&P, rng.random_range(0..0x20))),
        Corruption::SAtLeastN => {
            let s = if rng.random_bool(0.5) {
                plus(&N, rng.random_range(0..0x20))
            } else {
                [0xff; 32]
            };
            set_s(item, s);
        }
        Corruption::KeyAtLeastP => item.pubkey = plus(&P, rng.random_range(0..0x20)),
        Corruption::KeyOffCurve => item.pubkey = off_curve_x(rng),
    }
}

/// A batch of `n` signatures with `bad` corrupted ones at random positions.
fn random_batch(seed: u64, n: usize, bad: usize) -> Vec<BatchItem> {
    let mut rng = StdRng::seed_from_u64(seed);
    let pool = keys(rng.random_range(1..=32), seed ^ 0x9e37);
    let mut items = valid_items(&pool, n, &mut rng);
    for _ in 0..bad.min(n) {
        let at = rng.random_range(0..n);
        let how = CORRUPTIONS[rng.random_range(0..CORRUPTIONS.len())];
        corrupt(&mut items[at], how, &mut rng);
    }
    items
}

#[test]
fn every_corruption_is_caught_at_every_size_class() {
    let mut rng = StdRng::seed_from_u64(11);
    let pool = keys(16, 12);
    for &n in &[1usize, 3, 5, 9, 40, 200] {
        for how in CORRUPTIONS {
            let mut items = valid_items(&pool, n, &mut rng);
            let at = rng.random_range(0..n);
            corrupt(&mut items[at], how, &mut rng);
            assert!(!single(&items[at]), "{how:?} must invalidate");
            let mut want = vec![true; n];
            want[at] = false;
            assert_eq!(verify_batch(&items), want, "{how:?}, n = {n}");
            assert!(!batch_is_valid(&items), "{how:?}, n = {n}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn small_batches_match_single(seed in any::<u64>(), n in 1usize..=80, bad in 0usize..=6) {
        let items = random_batch(seed, n, bad);
        let expected: Vec<bool> = items.iter().map(single).collect();
        prop_assert_eq!(verify_batch(&items), expected.clone());
        prop_assert_eq!(batch_is_valid(&items), expected.iter().all(|&v| v));
        prop_assert_eq!(two_threads().verify_batch(&items).into_vec(), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn medium_batches_match_single(seed in any::<u64>(), n in 81usize..=700, bad in 0usize..=8) {
        let items = random_batch(seed, n, bad);
        let expected: Vec<bool> = items.iter().map(single).collect();
        prop_assert_eq!(verify_batch(&items), expected.clone());
        prop_assert_eq!(two_threads().verify_batch(&items).into_vec(), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2, ..ProptestConfig::default() })]

    #[test]
    fn large_batches_match_single(seed in any::<u64>(), n in 4000usize..=5000, bad in 0usize..=4) {
        let items = random_batch(seed, n, bad);
        let expected: Vec<bool> = items.iter().map(single).collect();
        prop_assert_eq!(two_threads().verify_batch(&items).into_vec(), expected.clone());
        prop_assert_eq!(batch_is_valid(&items), expected.iter().all(|&v| v));
    }
}

/// BIP-340 challenge `e = int(hash_BIP0340/challenge(r || pk || m)) mod n`.
fn challenge(r: &[u8], pk: &[u8; 32], msg: &[u8; 32]) -> Scalar {
    let tag = Sha256::digest(b"BIP0340/challenge");
    let digest = Sha256::new()
        .chain_update(tag)
        .chain_update(tag)
        .chain_update(r)
        .chain_update(pk)
        .chain_update(msg)
        .finalize();
    <Scalar as Reduce<U256>>::reduce_bytes(&digest)
}

/// `lift_x` with k256 (even y), through the SEC1 compressed encoding.
fn lift(x: &[u8]) -> ProjectivePoint {
    let mut compressed = [2u8; 33];
    compressed[1..].copy_from_slice(x);
    let enc = EncodedPoint::from_bytes(compressed).unwrap();
    ProjectivePoint::from(
        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&enc)).unwrap(),
    )
}

fn s_of(item: &BatchItem) -> Scalar {
    let s: [u8; 32] = item.sig[32..].try_into().unwrap();
    Option::<Scalar>::from(Scalar::from_repr(s.into())).unwrap()
}

#[test]
fn cancelling_invalid_pair_is_rejected() {
    let mut rng = StdRng::seed_from_u64(21);
    let pair = KeyPair::generate_with(&mut rng);
    let a = sign(&pair, &mut rng);
    let b = sign(&pair, &mut rng);
    // Shift s1 up and s2 down by the same d: neither verifies any more, but
    // (s1' + s2') G = (s1 + s2) G = R1 + R2 + (e1 + e2) P still holds, so a batch equation
    // without randomizers (all a_i = 1) would accept both.
    let d = Scalar::from(0x1234_5678_9abc_def0_u64);
    let mut a_bad = a;
    let mut b_bad = b;
    a_bad.sig[32..].copy_from_slice(&(s_of(&a) + d).to_bytes());
    b_bad.sig[32..].copy_from_slice(&(s_of(&b) - d).to_bytes());
    assert!(!single(&a_bad) && !single(&b_bad));

    let p = lift(&a.pubkey);
    let lhs = ProjectivePoint::GENERATOR * (s_of(&a_bad) + s_of(&b_bad));
    let rhs = lift(&a_bad.sig[..32])
        + lift(&b_bad.sig[..32])
        + p * (challenge(&a_bad.sig[..32], &a.pubkey, &a.msg)
            + challenge(&b_bad.sig[..32], &b.pubkey, &b.msg));
    assert_eq!(lhs, rhs, "the pair satisfies the unrandomised sum");

    // Two items are below the single-verification cut-off of the halving search; the larger
    // batch below is where the randomised equation itself must reject the pair (with all
    // a_i = 1 it would report every item valid).
    let pair_only = [a_bad, b_bad];
    assert_eq!(verify_batch(&pair_only), [false, false]);
    assert!(!batch_is_valid(&pair_only));

    // Inside a batch large enough for the batch equation, at spread positions.
    let pool = keys(4, 22);
    let mut items = valid_items(&pool, 60, &mut rng);
    items.insert(7, a_bad);
    items.insert(50, b_bad);
    let mut want = vec![true; items.len()];
    want[7] = false;
    want[50] = false;
    assert_eq!(verify_batch(&items), want);
    assert!(!batch_is_valid(&items));
    assert_eq!(two_threads().verify_batch(&items).as_slice(), &want[..]);
    assert!(!two_threads().batch_is_valid(&items));
    // Repeated trials: fresh randomizers each time, never accepted.
    for _ in 0..20 {
        assert!(!batch_is_valid(&items));
    }
}

#[test]
fn empty_and_repeated_batches() {
    assert_eq!(verify_batch(&[]), Vec::<bool>::new());
    assert!(batch_is_valid(&[]));
    let par = two_threads();
    assert!(par.verify_batch(&[]).is_empty());
    assert!(par.batch_is_valid(&[]));

    // One valid signature many times: equal points all over the buckets.
    let mut rng = StdRng::seed_from_u64(31);
    let item = sign(&KeyPair::generate_with(&mut rng), &mut rng);
    let same = vec![item; 300];
    assert_matches_single(&same, "repeated valid");
    let mut bad = item;
    bad.msg[0] ^= 1;
    let same_bad = vec![bad; 300];
    assert_eq!(verify_batch(&same_bad), vec![false; 300]);
    let mut mixed = same.clone();
    mixed[123] = bad;
    assert_matches_single(&mixed, "one invalid among repeats");
}

#[test]
fn verifier_api() {
    let mut rng = StdRng::seed_from_u64(41);
    let pool = keys(4, 42);
    let mut items = valid_items(&pool, 50, &mut rng);
    items[3].sig[40] ^= 0x10;
    items[44].msg[1] ^= 0x01;

    assert_eq!(CpuBatchVerifier::new(0).unwrap().threads(), 1);
    assert_eq!(CpuBatchVerifier::new(1).unwrap().threads(), 1);
    assert_eq!(two_threads().threads(), 2);

    let result = CpuBatchVerifier::new(0).unwrap().verify_batch(&items);
    assert_eq!(result.len(), 50);
    assert!(!result.is_empty());
    assert!(!result.all_valid());
    assert_eq!(result.invalid_indices(), [3, 44]);
    assert_eq!(result.is_valid(3), Some(false));
    assert_eq!(result.is_valid(4), Some(true));
    assert_eq!(result.is_valid(50), None);

    let pool3 = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    assert_eq!(verify_batch_in(&pool3, &items), result.as_slice());
    assert!(!batch_is_valid_in(&pool3, &items));
    let shared = CpuBatchVerifier::with_pool(std::sync::Arc::new(pool3));
    assert_eq!(shared.threads(), 3);
    assert_eq!(shared.verify_batch(&items), result);
    assert_eq!(
        verify_batch_threads(&items, 2).unwrap(),
        result.clone().into_vec()
    );
    assert!(!batch_is_valid_threads(&items, 2).unwrap());
    assert_eq!(BatchResult::from(result.clone().into_vec()), result);

    // The trait object form, as a node would hold it.
    let dynamic: Box<dyn BatchVerifier> = Box::new(two_threads());
    assert_eq!(dynamic.verify_batch(&items), result);
    items[3] = items[2];
    items[44] = items[43];
    assert!(dynamic.batch_is_valid(&items));
}

#[test]
fn bench_rejects_empty_size() {
    assert!(matches!(bench(&[0], 1), Err(BatchError::EmptyBenchSize)));
}
