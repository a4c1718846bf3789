//! Multi-scalar multiplication `sum k_i * P_i` for 128-bit scalars (Pippenger's bucket method).
//!
//! Scalars are recoded into signed base-`2^c` digits in `[-2^(c-1), 2^(c-1)]`, so each window
//! needs only `2^(c-1)` buckets (a negative digit adds `-P`, which is free in affine form).
//! Per window:
//! - large inputs: the points of each bucket are summed as a balanced tree of **affine**
//!   additions, all pairs of one tree level (over every bucket) sharing one field inversion
//!   (Montgomery's trick): about 5M + 1S per addition instead of 8M + 3S for a mixed
//!   Jacobian addition;
//! - small inputs (where the per-level inversion does not pay): mixed Jacobian additions
//!   into Jacobian buckets.
//!
//! The buckets are then reduced with running sums, `sum_j j * B_j`, in Jacobian coordinates,
//! and the windows are combined from the top (Horner: `acc = 2^c * acc + W`).

use super::point::{add_pairs, Affine, Jacobian, PairScratch, Slot};

/// Number of scalar bits (the randomizers and the endomorphism halves are below 2^128).
const SCALAR_BITS: u32 = 128;

/// From this many points on, buckets are accumulated with batched affine additions.
const AFFINE_MIN_POINTS: usize = 96;

/// Point entries of one group of windows accumulated together. Each tree level of a group
/// costs one inversion, so small inputs group many windows; but the working set must stay
/// in the L2 cache: grouping all windows at 1024 signatures was measured ~20% slower than
/// one window at a time, despite 15x fewer inversions.
const GROUP_SLOTS: usize = 1024;

/// Window width `c` for `n` points, tuned by measurement on the x86-64 development machine
/// (at 1024 signatures, 3074 points, c = 8 and 9 measured equal within noise; at 4096
/// signatures c = 10 was best).
fn window_bits(n: usize) -> u32 {
    match n {
        0..=15 => 3,
        16..=47 => 4,
        48..=159 => 5,
        160..=511 => 6,
        512..=1535 => 7,
        1536..=4095 => 8,
        4096..=8191 => 9,
        8192..=24575 => 10,
        24576..=65535 => 11,
        _ => 12,
    }
}

/// Signed base-`2^c` digits of every scalar, window-major (`digits[w * n + i]`).
fn recode(scalars: &[u128], c: u32, windows: u32) -> Vec<i16> {
    let n = scalars.len();
    let mut digits = vec![0i16; n * windows as usize];
    let mask = (1u128 << c) - 1;
    let half = 1i32 << (c - 1);
    for (i, &k) in scalars.iter().enumerate() {
        let mut carry = 0i32;
        for w in 0..windows {
            let shift = w * c;
            let raw = if shift >= SCALAR_BITS {
                0
            } else {
                ((k >> shift) & mask) as i32
            };
            let mut d = raw + carry;
            carry = 0;
            if d > half {
                d -= 1 << c;
                carry = 1;
            }
            digits[w as usize * n + i] = d as i16;
        }
        debug_assert_eq!(carry, 0, "top window absorbs the final carry");
    }
    digits
}

/// Sign flag of a sorted entry (point index in the low bits).
const NEGATE: u32 = 1 << 31;

/// Reusable buffers of the affine bucket accumulation.
#[derive(Default)]
struct Workspace {
    /// Sorted point entries (index | sign) of the current group of windows.
    entries: Vec<u32>,
    /// Partial sums of the current tree level.
    cur: Vec<Slot>,
    /// Buffers of one level.
    level: Level,
}

/// Buffers of one tree level.
#[derive(Default)]
struct Level {
    /// Active bucket runs `(start, len, bucket)` of the level being built (input).
    active: Vec<(u32, u32, u32)>,
    /// Pairs to add: `(src, src, dst)`.
    pairs: Vec<(u32, u32, u32)>,
    /// Unpaired last points of odd runs: `(src, dst)`.
    copies: Vec<(u32, u32)>,
    /// Runs reduced to one point: `(dst, bucket)`.
    finals: Vec<(u32, u32)>,
    /// Runs still longer than one point after this level.
    next_active: Vec<(u32, u32, u32)>,
    /// Output sums.
    next: Vec<Slot>,
    /// Inversion scratch.
    scratch: PairScratch,
}

/// `sum scalars[i] * points[i]`.
pub(crate) fn msm(points: &[Affine], scalars: &[u128]) -> Jacobian {
    assert_eq!(points.len(), scalars.len(), "one scalar per point");
    let n = points.len();
    if n == 0 {
        return Jacobian::INFINITY;
    }
    let c = window_bits(n);
    // One spare bit for the carry of the signed recoding.
    let windows = (SCALAR_BITS + 1).div_ceil(c) as usize;
    let digits = recode(scalars, c, windows as u32);
    let m = 1usize << (c - 1);

    let mut window_sums = vec![Jacobian::INFINITY; windows];
    if n >= AFFINE_MIN_POINTS {
        // Several windows share each tree level (and so its inversion), as many as fit in
        // about GROUP_SLOTS working slots.
        let group = (GROUP_SLOTS / n).clamp(1, windows);
        let mut ws = Workspace::default();
        let mut buckets = vec![Slot::INFINITY; group * m];
        for first in (0..windows).step_by(group) {
            let last = (first + group).min(windows);
            let span = last - first;
            accumulate_affine(
                points,
                &digits[first * n..last * n],
                m,
                &mut buckets[..span * m],
                &mut ws,
            );
            for (k, sum) in window_sums[first..last].iter_mut().enumerate() {
                *sum = reduce_affine_buckets(&buckets[k * m..(k + 1) * m]);
            }
        }
    } else {
        let mut buckets = vec![Jacobian::INFINITY; m];
        for (w, sum) in window_sums.iter_mut().enumerate() {
            accumulate_jacobian(points, &digits[w * n..(w + 1) * n], &mut buckets);
            *sum = reduce_jacobian_buckets(&buckets);
        }
    }
    // Horner from the top window: acc = 2^c * acc + W.
    let mut acc = Jacobian::INFINITY;
    for sum in window_sums.iter().rev() {
        for _ in 0..c {
            acc = acc.double();
        }
        acc = acc.add(sum);
    }
    acc
}

/// For each of the `digits.len() / points.len()` consecutive windows `w` in `digits`, fills
/// `buckets[w * m + j - 1]` with the sum of the points whose digit in window `w` is `±j`
/// (signed), by levels of batched affine additions shared by all those windows.
fn accumulate_affine(
    points: &[Affine],
    digits: &[i16],
    m: usize,
    buckets: &mut [Slot],
    ws: &mut Workspace,
) {
    let n = points.len();
    let nb = buckets.len();
    // Counting sort of the (window, point) pairs by bucket, as point indices with the sign
    // in the top bit (the first tree level reads the points directly, never copying them).
    let bucket_of = |k: usize, d: i16| (k / n) * m + d.unsigned_abs() as usize - 1;
    let mut start = vec![0u32; nb + 1];
    for (k, &d) in digits.iter().enumerate() {
        if d != 0 {
            start[bucket_of(k, d) + 1] += 1;
        }
    }
    for b in 0..nb {
        start[b + 1] += start[b];
    }
    ws.entries.clear();
    ws.entries.resize(start[nb] as usize, 0);
    let mut fill = start.clone();
    for (k, &d) in digits.iter().enumerate() {
        if d != 0 {
            let b = bucket_of(k, d);
            ws.entries[fill[b] as usize] = (k % n) as u32 | if d < 0 { NEGATE } else { 0 };
            fill[b] += 1;
        }
    }
    let entries = &ws.entries;
    let entry = |e: u32| -> Slot {
        let p = &points[(e & !NEGATE) as usize];
        Slot::point(if e & NEGATE != 0 { p.neg() } else { *p })
    };

    ws.level.active.clear();
    for (b, bucket) in buckets.iter_mut().enumerate() {
        let (s, len) = (start[b], start[b + 1] - start[b]);
        match len {
            0 => *bucket = Slot::INFINITY,
            1 => *bucket = entry(entries[s as usize]),
            _ => ws.level.active.push((s, len, b as u32)),
        }
    }

    // Balanced tree: each level halves every active bucket's run of points.
    let mut first = true;
    while !ws.level.active.is_empty() {
        if first {
            tree_level(|k| entry(entries[k as usize]), buckets, &mut ws.level);
            first = false;
        } else {
            let cur = &ws.cur;
            tree_level(|k| cur[k as usize], buckets, &mut ws.level);
        }
        std::mem::swap(&mut ws.cur, &mut ws.level.next);
        std::mem::swap(&mut ws.level.active, &mut ws.level.next_active);
    }
}

/// One level of the bucket trees: pairs up the runs of `ws.active` (read through `src`),
/// writes the halved runs to `ws.next` / `ws.next_active` and finished buckets to `buckets`.
fn tree_level(src: impl Fn(u32) -> Slot + Copy, buckets: &mut [Slot], ws: &mut Level) {
    ws.pairs.clear();
    ws.copies.clear();
    ws.finals.clear();
    ws.next_active.clear();
    let mut out = 0u32;
    for &(s, len, b) in &ws.active {
        let new_start = out;
        for k in 0..len / 2 {
            ws.pairs.push((s + 2 * k, s + 2 * k + 1, out));
            out += 1;
        }
        if len % 2 == 1 {
            ws.copies.push((s + len - 1, out));
            out += 1;
        }
        let new_len = len.div_ceil(2);
        if new_len == 1 {
            ws.finals.push((new_start, b));
        } else {
            ws.next_active.push((new_start, new_len, b));
        }
    }
    ws.next.clear();
    ws.next.resize(out as usize, Slot::INFINITY);
    add_pairs(src, &ws.pairs, &mut ws.next, &mut ws.scratch);
    for &(from, to) in &ws.copies {
        ws.next[to as usize] = src(from);
    }
    for &(at, b) in &ws.finals {
        buckets[b as usize] = ws.next[at as usize];
    }
}

/// `sum_j j * buckets[j - 1]` for affine buckets.
fn reduce_affine_buckets(buckets: &[Slot]) -> Jacobian {
    let mut running = Jacobian::INFINITY;
    let mut total = Jacobian::INFINITY;
    for b in buckets.iter().rev() {
        if !b.infinity {
            running = running.add_affine(&b.p);
        }
        total = total.add(&running);
    }
    total
}

/// Fills `buckets[j - 1]` with the signed sum of the points whose digit is `±j`, using mixed
/// Jacobian additions (no inversions; for small inputs).
fn accumulate_jacobian(points: &[Affine], digits: &[i16], buckets: &mut [Jacobian]) {
    buckets.fill(Jacobian::INFINITY);
    for (p, &d) in points.iter().zip(digits) {
        if d != 0 {
            let b = &mut buckets[d.unsigned_abs() as usize - 1];
            *b = b.add_affine(&if d < 0 { p.neg() } else { *p });
        }
    }
}

/// `sum_j j * buckets[j - 1]` for Jacobian buckets.
fn reduce_jacobian_buckets(buckets: &[Jacobian]) -> Jacobian {
    let mut running = Jacobian::INFINITY;
    let mut total = Jacobian::INFINITY;
    for b in buckets.iter().rev() {
        running = running.add(b);
        total = total.add(&running);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    use k256::{ProjectivePoint, Scalar};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn to_affine(p: ProjectivePoint) -> Affine {
        let enc = p.to_affine().to_encoded_point(false);
        let x: [u8; 32] = enc.x().unwrap().as_slice().try_into().unwrap();
        let y: [u8; 32] = enc.y().unwrap().as_slice().try_into().unwrap();
        Affine::from_xy_bytes(&x, &y).unwrap()
    }

    /// Compares our MSM with k256's own scalar multiplication on the same inputs.
    fn check(bases: &[Scalar], scalars: &[u128]) {
        let points: Vec<Affine> = bases
            .iter()
            .map(|b| to_affine(ProjectivePoint::GENERATOR * b))
            .collect();
        let reference = bases
            .iter()
            .zip(scalars)
            .fold(ProjectivePoint::IDENTITY, |acc, (b, &k)| {
                acc + ProjectivePoint::GENERATOR * (*b * Scalar::from(k))
            });
        let ours = msm(&points, scalars);
        match ours.to_affine() {
            None => assert_eq!(reference, ProjectivePoint::IDENTITY, "n = {}", bases.len()),
            Some(p) => {
                assert_ne!(reference, ProjectivePoint::IDENTITY);
                assert!(p.eq(&to_affine(reference)), "n = {}", bases.len());
            }
        }
    }

    #[test]
    fn recode_round_trips() {
        let mut rng = StdRng::seed_from_u64(5);
        for c in 3..=12u32 {
            let windows = (SCALAR_BITS + 1).div_ceil(c);
            let ks: Vec<u128> = (0..50)
                .map(|_| rng.random::<u128>())
                .chain([0, 1, u128::MAX, u128::MAX >> 1, 1 << 127])
                .collect();
            let digits = recode(&ks, c, windows);
            for (i, &k) in ks.iter().enumerate() {
                // Horner modulo 2^128: the digits represent k exactly, so the wrapped sum
                // is k.
                let mut v: u128 = 0;
                for w in (0..windows as usize).rev() {
                    let d = digits[w * ks.len() + i];
                    assert!(i32::from(d).abs() <= 1 << (c - 1));
                    v = v.wrapping_shl(c).wrapping_add(i128::from(d) as u128);
                }
                assert_eq!(v, k, "c = {c}");
            }
        }
    }

    #[test]
    fn matches_reference_for_random_inputs() {
        let mut rng = StdRng::seed_from_u64(9);
        for &n in &[1usize, 2, 3, 7, 20, 95, 96, 97, 300] {
            let bases: Vec<Scalar> = (0..n).map(|_| Scalar::from(rng.random::<u64>())).collect();
            let scalars: Vec<u128> = (0..n).map(|_| rng.random()).collect();
            check(&bases, &scalars);
        }
    }

    #[test]
    fn handles_repeated_and_opposite_points() {
        // Many copies of few points force doublings, cancellations and infinity operands
        // inside the batched affine additions.
        let mut rng = StdRng::seed_from_u64(10);
        let few = [Scalar::from(3u64), -Scalar::from(3u64), Scalar::from(5u64)];
        for &n in &[150usize, 400] {
            let bases: Vec<Scalar> = (0..n).map(|i| few[i % 3]).collect();
            let small: Vec<u128> = (0..n).map(|_| rng.random_range(0..6)).collect();
            check(&bases, &small);
            let big: Vec<u128> = (0..n).map(|_| rng.random()).collect();
            check(&bases, &big);
            // Equal scalars on P and -P cancel exactly: the sum is infinity.
            let equal: Vec<u128> = (0..n).map(|i| (i as u128 / 3) * 977 + 1).collect();
            let mut cancel_bases = Vec::new();
            let mut cancel_scalars = Vec::new();
            for (i, &k) in equal.iter().enumerate().take(n / 2) {
                cancel_bases.push(Scalar::from(i as u64 + 1));
                cancel_bases.push(-Scalar::from(i as u64 + 1));
                cancel_scalars.push(k);
                cancel_scalars.push(k);
            }
            check(&cancel_bases, &cancel_scalars);
        }
    }
}
