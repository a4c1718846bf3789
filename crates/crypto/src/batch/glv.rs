//! The secp256k1 endomorphism (GLV): `lambda * (x, y) = (beta * x, y)`.
//!
//! A scalar `k` is split as `k = k1 + lambda * k2 (mod n)` with `|k1|, |k2| < 2^128`, so
//! `k * P = k1 * P + k2 * (lambda * P)` replaces one 256-bit scalar by two 128-bit ones at the
//! cost of one field multiplication (`beta * x`). The split uses the short lattice basis
//! `v1 = (a1, b1)`, `v2 = (a2, b2)` of `{(a, b) : a + b * lambda = 0 mod n}` found by the
//! extended Euclidean algorithm (Gallant, Lambert, Vanstone 2001), with the rounded divisions
//! `round(k * b2 / n)` and `round(-k * b1 / n)` computed as `(k * g) >> 384` for precomputed
//! `g = round(2^384 * b / n)`.

use std::sync::OnceLock;

use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::PrimeField;
use k256::{FieldElement, Scalar};

use super::point::Affine;

/// `lambda`, a primitive cube root of unity modulo n, big-endian.
const LAMBDA: [u8; 32] = hex32("5363ad4cc05c30e0a5261c028812645a122e22ea20816678df02967c1b23bd72");
/// `beta`, the cube root of unity modulo p with `lambda * (x, y) = (beta * x, y)`.
const BETA: [u8; 32] = hex32("7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501ee");
/// `-b1 mod n` where `b1 = -0xe4437ed6010e88286f547fa90abfe4c3`.
const MINUS_B1: [u8; 32] =
    hex32("00000000000000000000000000000000e4437ed6010e88286f547fa90abfe4c3");
/// `-b2 mod n` where `b2 = 0x3086d221a7d46bcde86c90e49284eb15`.
const MINUS_B2: [u8; 32] =
    hex32("fffffffffffffffffffffffffffffffe8a280ac50774346dd765cda83db1562c");
/// `round(2^384 * b2 / n)`, little-endian 64-bit limbs.
const G1: [u64; 4] = limbs(hex32(
    "3086d221a7d46bcde86c90e49284eb153daa8a1471e8ca7fe893209a45dbb031",
));
/// `round(2^384 * -b1 / n)`, little-endian 64-bit limbs.
const G2: [u64; 4] = limbs(hex32(
    "e4437ed6010e88286f547fa90abfe4c4221208ac9df506c61571b4ae8ac47f71",
));
/// x coordinate of the generator G.
const GX: [u8; 32] = hex32("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
/// y coordinate of the generator G.
const GY: [u8; 32] = hex32("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8");

/// Parses 64 hex digits at compile time.
const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 64, "want 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

/// Big-endian bytes to little-endian 64-bit limbs.
const fn limbs(b: [u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    let mut i = 0;
    while i < 4 {
        let mut w = 0u64;
        let mut j = 0;
        while j < 8 {
            w = (w << 8) | b[(3 - i) * 8 + j] as u64;
            j += 1;
        }
        out[i] = w;
        i += 1;
    }
    out
}

/// Curve and endomorphism constants in arithmetic form, built once.
pub(crate) struct Constants {
    /// `lambda` as a scalar.
    lambda: Scalar,
    /// `-b1 mod n`.
    minus_b1: Scalar,
    /// `-b2 mod n`.
    minus_b2: Scalar,
    /// `beta` as a field element.
    pub(crate) beta: FieldElement,
    /// The generator G.
    pub(crate) g: Affine,
    /// `lambda * G`.
    pub(crate) lambda_g: Affine,
}

/// The shared [`Constants`].
pub(crate) fn constants() -> &'static Constants {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let scalar = |b: [u8; 32]| {
            Option::<Scalar>::from(Scalar::from_repr(b.into())).expect("constant below n")
        };
        let beta = Option::<FieldElement>::from(FieldElement::from_bytes(&BETA.into()))
            .expect("constant below p");
        let g = Affine::from_xy_bytes(&GX, &GY).expect("G is on the curve");
        Constants {
            lambda: scalar(LAMBDA),
            minus_b1: scalar(MINUS_B1),
            minus_b2: scalar(MINUS_B2),
            beta,
            g,
            lambda_g: endo(&g, &beta),
        }
    })
}

/// `lambda * p`, i.e. `(beta * x, y)`.
#[inline(always)]
pub(crate) fn endo(p: &Affine, beta: &FieldElement) -> Affine {
    Affine {
        x: p.x.mul(beta),
        y: p.y,
    }
}

/// A signed 128-bit scalar: the multiple of a point is `magnitude` times the point, negated
/// when `negative` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Half {
    /// Absolute value.
    pub(crate) magnitude: u128,
    /// Sign.
    pub(crate) negative: bool,
}

/// `round(k * g / 2^384)` for `k, g < 2^256`; `None` if it does not fit in 128 bits.
fn mul_shift_384(k: &[u64; 4], g: &[u64; 4]) -> Option<u128> {
    let mut wide = [0u64; 8];
    for (i, &ki) in k.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &gj) in g.iter().enumerate() {
            let t = u128::from(ki) * u128::from(gj) + u128::from(wide[i + j]) + carry;
            wide[i + j] = t as u64;
            carry = t >> 64;
        }
        wide[i + 4] = carry as u64;
    }
    let q = u128::from(wide[6]) | (u128::from(wide[7]) << 64);
    // Round half up with bit 383. Since `k < n` and both constants are below `0.9 * 2^256`,
    // `q < 0.9 * 2^128` and the increment cannot overflow; checked anyway.
    q.checked_add(u128::from(wide[5] >> 63))
}

/// Splits `k` into `k1 + lambda * k2 (mod n)` with both halves below 2^128 in absolute value.
///
/// Returns `None` if a half does not fit in 128 bits, which the lattice bounds rule out for
/// every `k` (the tests check edge cases and random scalars); callers treat `None` as "do not
/// use the endomorphism" rather than relying on that proof.
pub(crate) fn split(k: &Scalar) -> Option<(Half, Half)> {
    let c = constants();
    let kl = limbs(k.to_bytes().into());
    let c1 = Scalar::from(mul_shift_384(&kl, &G1)?);
    let c2 = Scalar::from(mul_shift_384(&kl, &G2)?);
    let k2 = c1 * c.minus_b1 + c2 * c.minus_b2;
    let k1 = *k - k2 * c.lambda;
    Some((to_half(&k1)?, to_half(&k2)?))
}

/// A scalar as a signed 128-bit value (`s` or `-(n - s)`), if it fits.
pub(crate) fn to_half(s: &Scalar) -> Option<Half> {
    let negative = bool::from(s.is_high());
    let v = if negative { -*s } else { *s };
    let b: [u8; 32] = v.to_bytes().into();
    if b[..16].iter().any(|&x| x != 0) {
        return None;
    }
    let mut lo = [0u8; 16];
    lo.copy_from_slice(&b[16..]);
    Some(Half {
        magnitude: u128::from_be_bytes(lo),
        negative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::Reduce;
    use k256::U256;
    use rand::rngs::StdRng;
    use rand::{RngCore, SeedableRng};

    fn from_half(h: Half) -> Scalar {
        let s = Scalar::from(h.magnitude);
        if h.negative {
            -s
        } else {
            s
        }
    }

    fn check(k: Scalar) {
        let (k1, k2) = split(&k).expect("halves fit in 128 bits");
        let lambda = constants().lambda;
        assert_eq!(
            from_half(k1) + from_half(k2) * lambda,
            k,
            "k1 + lambda k2 == k"
        );
    }

    #[test]
    fn split_recombines_and_fits() {
        let lambda = constants().lambda;
        let edge = [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            lambda,
            -lambda,
            Scalar::from(u128::MAX),
            -Scalar::from(u128::MAX),
            Scalar::from(u64::MAX) * Scalar::from(u128::MAX),
        ];
        for k in edge {
            check(k);
        }
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..20_000 {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            check(<Scalar as Reduce<U256>>::reduce_bytes(&b.into()));
        }
    }

    #[test]
    fn lambda_is_a_cube_root_of_unity_matching_beta() {
        let c = constants();
        assert_eq!(c.lambda * c.lambda * c.lambda, Scalar::ONE);
        assert_ne!(c.lambda, Scalar::ONE);
        let b3 = c.beta.square().mul(&c.beta);
        assert!(super::super::point::is_zero(&(b3 - FieldElement::ONE)));
        // lambda * G computed with k256's own scalar multiplication equals (beta x, y).
        let reference = (k256::ProjectivePoint::GENERATOR * c.lambda).to_affine();
        let ours = c.lambda_g.to_xy_bytes();
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let enc = reference.to_encoded_point(false);
        assert_eq!(enc.x().unwrap().as_slice(), ours.0);
        assert_eq!(enc.y().unwrap().as_slice(), ours.1);
        assert!(c.lambda_g.is_on_curve());
    }
}
