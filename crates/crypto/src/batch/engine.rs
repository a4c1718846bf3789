//! The CPU batch verification engine: per-signature checks, the randomised batch equation,
//! and the search for the invalid signatures of a failing batch.

use std::sync::OnceLock;

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::PrimeField;
use k256::{Scalar, U256};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use super::glv::{constants, endo, split, Half};
use super::msm::msm;
use super::point::Affine;
use super::BatchItem;

/// Sub-batches of at most this many signatures are verified one by one with libsecp256k1
/// instead of by another batch equation: at 8 signatures the equation (lifts already done)
/// measured about as costly as 8 single verifications, so below that it cannot pay.
pub(crate) const SINGLE_MAX: usize = 8;

/// A parallel split never makes sub-batches smaller than this: below it the per-batch
/// fixed costs (bucket reduction, the shared inversions) outweigh the second core.
const MIN_CHUNK: usize = 32;

/// Domain separation of the randomizer seed hash.
const SEED_TAG: &[u8] = b"ParthenonChain/BIP0340/batch-randomizers/v1";

/// One signature that passed the per-signature checks, with everything the batch equation
/// needs.
pub(crate) struct Prepared {
    /// Position in the caller's batch.
    pub(crate) index: usize,
    /// `R = lift_x(r)`.
    r: Affine,
    /// `P = lift_x(pk)`.
    p: Affine,
    /// The challenge `e = int(hash_BIP0340/challenge(r || pk || m)) mod n`.
    e: Scalar,
    /// `s`, checked below n.
    s: Scalar,
    /// The unreduced challenge hash followed by the bytes of `s`: a commitment to the whole
    /// item (`r`, `pk`, `m` through the hash), fed into the randomizer seed.
    commitment: [u8; 64],
}

/// SHA-256 state after absorbing `SHA256(tag) || SHA256(tag)` for the BIP-340 challenge tag.
fn challenge_prefix() -> &'static Sha256 {
    static PREFIX: OnceLock<Sha256> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let tag = Sha256::digest(b"BIP0340/challenge");
        let mut h = Sha256::new();
        h.update(tag);
        h.update(tag);
        h
    })
}

/// BIP-340 `lift_x`: the point with x coordinate `x` and even y, if `x < p` and `x^3 + 7` is
/// a square.
///
/// Decompression is delegated to libsecp256k1 (parsing the compressed encoding `02 || x`,
/// which is exactly `lift_x`), whose field square root was faster than `k256`'s when the
/// two were compared during development; with two lifts per signature this is the largest
/// single cost of batch verification.
pub(crate) fn lift_x(x: &[u8; 32]) -> Option<Affine> {
    let mut compressed = [0u8; 33];
    compressed[0] = 0x02;
    compressed[1..].copy_from_slice(x);
    let key = secp256k1::PublicKey::from_byte_array_compressed(compressed).ok()?;
    let full = key.serialize_uncompressed();
    let (px, py) = full[1..].split_at(32);
    let px: &[u8; 32] = px.try_into().ok()?;
    let py: &[u8; 32] = py.try_into().ok()?;
    Some(Affine {
        x: Option::from(k256::FieldElement::from_bytes(px.into()))?,
        y: Option::from(k256::FieldElement::from_bytes(py.into()))?,
    })
}

/// The per-signature checks of BIP-340 (`pk` a valid x, `r` a valid x below p, `s < n`) and
/// the challenge. `None` means the signature is invalid on its own.
pub(crate) fn prepare(index: usize, item: &BatchItem) -> Option<Prepared> {
    let (r_bytes, s_bytes) = item.sig.split_at(32);
    let r_bytes: &[u8; 32] = r_bytes.try_into().ok()?;
    let s_bytes: &[u8; 32] = s_bytes.try_into().ok()?;
    let s = Option::<Scalar>::from(Scalar::from_repr((*s_bytes).into()))?;
    let p = lift_x(&item.pubkey)?;
    let r = lift_x(r_bytes)?;
    let mut h = challenge_prefix().clone();
    h.update(r_bytes);
    h.update(item.pubkey);
    h.update(item.msg);
    let digest = h.finalize();
    let e = <Scalar as Reduce<U256>>::reduce_bytes(&digest);
    let mut commitment = [0u8; 64];
    commitment[..32].copy_from_slice(&digest);
    commitment[32..].copy_from_slice(s_bytes);
    Some(Prepared {
        index,
        r,
        p,
        e,
        s,
        commitment,
    })
}

/// Single verification with libsecp256k1, the reference the batch result must equal.
pub(crate) fn verify_single(item: &BatchItem) -> bool {
    crate::schnorr::verify(&item.pubkey, &item.msg, &item.sig).is_ok()
}

/// A fresh randomizer stream for one batch equation: ChaCha20 keyed with
/// `SHA256(tag || 32 bytes from the OS-seeded thread CSPRNG || commitments of all items)`.
///
/// The OS randomness makes the randomizers unpredictable to whoever built the batch; hashing
/// the batch in (as BIP-340 suggests) keeps them unpredictable even if that generator were
/// weak or its state repeated.
fn randomizer_rng(cands: &[Prepared]) -> ChaCha20Rng {
    let mut os = [0u8; 32];
    rand::rng().fill_bytes(&mut os);
    let mut h = Sha256::new();
    h.update(SEED_TAG);
    h.update(os);
    for c in cands {
        h.update(c.commitment);
    }
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// A uniformly random non-zero 128-bit randomizer.
fn randomizer(rng: &mut ChaCha20Rng) -> u128 {
    loop {
        let a = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if a != 0 {
            return a;
        }
    }
}

/// Appends `h * p` to the multi-scalar multiplication inputs.
fn push_half(points: &mut Vec<Affine>, scalars: &mut Vec<u128>, p: Affine, h: Half) {
    if h.magnitude != 0 {
        points.push(if h.negative { p.neg() } else { p });
        scalars.push(h.magnitude);
    }
}

/// Checks the randomised BIP-340 batch equation
/// `(sum a_i s_i) G == sum a_i R_i + sum (a_i e_i) P_i` with `a_1 = 1` and the other `a_i`
/// random 128-bit values, as one multi-scalar multiplication that must give infinity:
/// `sum a_i R_i + sum (a_i e_i) P_i - (sum a_i s_i) G`, with the 256-bit scalars split by
/// the endomorphism.
///
/// `None` if the endomorphism split did not fit (never expected); the caller then verifies
/// each signature on its own.
pub(crate) fn equation_holds(cands: &[Prepared]) -> Option<bool> {
    if cands.is_empty() {
        return Some(true);
    }
    let consts = constants();
    let mut rng = randomizer_rng(cands);
    let mut points = Vec::with_capacity(3 * cands.len() + 2);
    let mut scalars = Vec::with_capacity(3 * cands.len() + 2);
    let mut s_sum = Scalar::ZERO;
    for (j, c) in cands.iter().enumerate() {
        let a = if j == 0 { 1 } else { randomizer(&mut rng) };
        let a_scalar = Scalar::from(a);
        s_sum += a_scalar * c.s;
        points.push(c.r);
        scalars.push(a);
        let (k1, k2) = split(&(a_scalar * c.e))?;
        push_half(&mut points, &mut scalars, c.p, k1);
        push_half(&mut points, &mut scalars, endo(&c.p, &consts.beta), k2);
    }
    let (g1, g2) = split(&-s_sum)?;
    push_half(&mut points, &mut scalars, consts.g, g1);
    push_half(&mut points, &mut scalars, consts.lambda_g, g2);
    Some(msm(&points, &scalars).is_infinity())
}

/// The positions (in the caller's batch) of the invalid signatures among `cands`.
///
/// `known_failed` says the batch equation over exactly `cands` already failed. Sub-batches
/// are halved with fresh randomizers each time; at [`SINGLE_MAX`] or below each signature is
/// verified on its own with libsecp256k1, so the outcome equals single verification.
fn find_invalid(
    items: &[BatchItem],
    cands: &[Prepared],
    known_failed: bool,
    parallel: bool,
) -> Vec<usize> {
    let singles = |cands: &[Prepared]| {
        cands
            .iter()
            .filter(|c| !verify_single(&items[c.index]))
            .map(|c| c.index)
            .collect::<Vec<_>>()
    };
    if cands.len() <= SINGLE_MAX {
        return singles(cands);
    }
    if !known_failed {
        match equation_holds(cands) {
            Some(true) => return Vec::new(),
            Some(false) => {}
            None => return singles(cands),
        }
    }
    let (left, right) = cands.split_at(cands.len() / 2);
    if parallel {
        let (mut a, b) = rayon::join(
            || find_invalid(items, left, false, true),
            || find_invalid(items, right, false, true),
        );
        a.extend(b);
        a
    } else {
        let mut a = find_invalid(items, left, false, false);
        // If the left half is clean, the failure of the whole lies in the right half.
        let right_failed = a.is_empty();
        a.extend(find_invalid(items, right, right_failed, false));
        a
    }
}

/// Prepares `items` (positions offset by `base`), returning the candidates and the positions
/// that failed the per-signature checks.
fn prepare_all(items: &[BatchItem], base: usize) -> (Vec<Prepared>, Vec<usize>) {
    let mut cands = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match prepare(base + i, item) {
            Some(p) => cands.push(p),
            None => bad.push(base + i),
        }
    }
    (cands, bad)
}

/// How many sub-batches to spread `n` signatures over with `threads` threads.
fn chunk_count(n: usize, threads: usize) -> usize {
    threads.min(n / MIN_CHUNK).max(1)
}

/// Exact per-item validity of `items` with batch verification.
///
/// With `threads > 1` the caller must be running inside the rayon pool to use (the work is
/// split into `threads` sub-batches with `rayon` primitives, which run on the current pool).
pub(crate) fn verify_exact(items: &[BatchItem], threads: usize) -> Vec<bool> {
    let chunks = chunk_count(items.len(), threads);
    let mut valid = vec![true; items.len()];
    let invalid: Vec<usize> = if chunks <= 1 {
        let (cands, mut bad) = prepare_all(items, 0);
        bad.extend(find_invalid(items, &cands, false, false));
        bad
    } else {
        use rayon::prelude::*;
        let size = items.len().div_ceil(chunks);
        items
            .par_chunks(size)
            .enumerate()
            .flat_map_iter(|(k, chunk)| {
                let (cands, mut bad) = prepare_all(chunk, k * size);
                bad.extend(find_invalid(items, &cands, false, true));
                bad
            })
            .collect()
    };
    for i in invalid {
        valid[i] = false;
    }
    valid
}

/// Whether every signature of `items` is valid (no search for the invalid ones).
///
/// Same threading contract as [`verify_exact`].
pub(crate) fn all_valid(items: &[BatchItem], threads: usize) -> bool {
    let check = |chunk: &[BatchItem]| -> bool {
        if chunk.len() <= SINGLE_MAX {
            return chunk.iter().all(verify_single);
        }
        let mut cands = Vec::with_capacity(chunk.len());
        for (i, item) in chunk.iter().enumerate() {
            match prepare(i, item) {
                Some(p) => cands.push(p),
                None => return false,
            }
        }
        equation_holds(&cands).unwrap_or_else(|| chunk.iter().all(verify_single))
    };
    let chunks = chunk_count(items.len(), threads);
    if chunks <= 1 {
        check(items)
    } else {
        use rayon::prelude::*;
        let size = items.len().div_ceil(chunks);
        items.par_chunks(size).all(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    use rand::rngs::StdRng;

    /// `lift_x` through libsecp256k1 agrees with a direct `k256` computation.
    #[test]
    fn lift_x_matches_k256() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut on_curve = 0;
        for _ in 0..300 {
            let mut x = [0u8; 32];
            rng.fill_bytes(&mut x);
            let ours = lift_x(&x);
            let fe = Option::<k256::FieldElement>::from(k256::FieldElement::from_bytes(&x.into()));
            let reference = fe.and_then(|fx| {
                let rhs = (fx.square().mul(&fx) + k256::FieldElement::from_u64(7)).normalize();
                Option::<k256::FieldElement>::from(rhs.sqrt()).map(|y| {
                    let y = y.normalize();
                    if bool::from(y.is_odd()) {
                        y.negate(1).normalize()
                    } else {
                        y
                    }
                })
            });
            match (ours, reference) {
                (None, None) => {}
                (Some(p), Some(y)) => {
                    on_curve += 1;
                    let (px, py) = p.to_xy_bytes();
                    assert_eq!(px, x);
                    assert_eq!(py, <[u8; 32]>::from(y.to_bytes()));
                }
                (a, b) => panic!("lift_x disagrees: {a:?} vs {b:?}"),
            }
        }
        assert!(on_curve > 100, "about half of random x lift");
        // x = p and above are rejected even though p mod p = 0 would lift.
        let mut p = [0xffu8; 32];
        p[27] = 0xfe;
        p[28..].copy_from_slice(&[0xff, 0xff, 0xfc, 0x2f]);
        assert!(lift_x(&p).is_none());
    }

    /// The prepared point for a real key equals the key's point from k256.
    #[test]
    fn prepared_point_matches_secret_times_g() {
        let pair = KeyPair::generate_with(&mut StdRng::seed_from_u64(8));
        let mut sk = pair.secret_bytes();
        let scalar = Option::<Scalar>::from(Scalar::from_repr(sk.into())).unwrap();
        sk.fill(0);
        let point = (k256::ProjectivePoint::GENERATOR * scalar).to_affine();
        let enc = point.to_encoded_point(false);
        let lifted = lift_x(&pair.public_key().to_bytes()).unwrap();
        let (x, y) = lifted.to_xy_bytes();
        assert_eq!(enc.x().unwrap().as_slice(), x);
        // BIP-340 keys are x-only: the lifted point is either k*G or -(k*G).
        let y_ref: [u8; 32] = enc.y().unwrap().as_slice().try_into().unwrap();
        let neg = Affine::from_xy_bytes(&x, &y_ref)
            .unwrap()
            .neg()
            .to_xy_bytes()
            .1;
        assert!(y == y_ref || y == neg);
    }
}
