//! Variable-time secp256k1 point arithmetic over `k256`'s field, for the batch verifier.
//!
//! Everything here handles public data only (signatures, keys, randomizers are not secret
//! against the verifier), so branching on values is fine.
//!
//! Magnitudes: `k256::FieldElement` uses lazy reduction. Every coordinate stored in an
//! [`Affine`] or [`Jacobian`] has magnitude 1 (the result of a multiplication, a square or
//! `normalize_weak`), so any of them may be negated with `negate(1)` and multiplied directly.
//! Debug builds of `k256` check these magnitudes at run time, so the tests (which run in
//! debug) catch a violation.

use k256::FieldElement;

/// `a - b` where `b` has magnitude at most `b_mag`; the result has magnitude
/// `mag(a) + b_mag + 1`.
#[inline(always)]
fn sub(a: &FieldElement, b: &FieldElement, b_mag: u32) -> FieldElement {
    *a + b.negate(b_mag)
}

/// Whether `v` is zero modulo p (any magnitude up to the field maximum).
#[inline(always)]
pub(crate) fn is_zero(v: &FieldElement) -> bool {
    bool::from(v.normalizes_to_zero())
}

/// A finite affine point with coordinates of magnitude 1.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affine {
    /// x coordinate.
    pub(crate) x: FieldElement,
    /// y coordinate.
    pub(crate) y: FieldElement,
}

impl Affine {
    /// `-self`.
    #[inline(always)]
    pub(crate) fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: self.y.negate(1).normalize_weak(),
        }
    }

    /// Whether `self` and `other` are the same point.
    #[cfg(test)]
    pub(crate) fn eq(&self, other: &Self) -> bool {
        is_zero(&sub(&self.x, &other.x, 1)) && is_zero(&sub(&self.y, &other.y, 1))
    }

    /// The point from big-endian coordinates; `None` if a coordinate is not below p or the
    /// point is not on the curve.
    pub(crate) fn from_xy_bytes(x: &[u8; 32], y: &[u8; 32]) -> Option<Self> {
        let x = Option::<FieldElement>::from(FieldElement::from_bytes(x.into()))?;
        let y = Option::<FieldElement>::from(FieldElement::from_bytes(y.into()))?;
        let p = Self { x, y };
        p.is_on_curve().then_some(p)
    }

    /// Whether `y^2 == x^3 + 7`.
    pub(crate) fn is_on_curve(&self) -> bool {
        let rhs = self.x.square().mul(&self.x) + FieldElement::from_u64(7);
        is_zero(&sub(&self.y.square(), &rhs.normalize_weak(), 1))
    }

    /// Big-endian `(x, y)` bytes (fully normalised).
    #[cfg(test)]
    pub(crate) fn to_xy_bytes(self) -> ([u8; 32], [u8; 32]) {
        (self.x.to_bytes().into(), self.y.to_bytes().into())
    }
}

/// A point in Jacobian coordinates `(X/Z^2, Y/Z^3)`, or the point at infinity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jacobian {
    x: FieldElement,
    y: FieldElement,
    z: FieldElement,
    infinity: bool,
}

impl Jacobian {
    /// The point at infinity.
    pub(crate) const INFINITY: Self = Self {
        x: FieldElement::ZERO,
        y: FieldElement::ONE,
        z: FieldElement::ZERO,
        infinity: true,
    };

    /// Whether this is the point at infinity.
    pub(crate) fn is_infinity(&self) -> bool {
        self.infinity || is_zero(&self.z)
    }

    /// Converts to affine coordinates (one inversion); `None` for infinity.
    #[cfg(test)]
    pub(crate) fn to_affine(self) -> Option<Affine> {
        if self.is_infinity() {
            return None;
        }
        let zi = Option::<FieldElement>::from(self.z.invert())?;
        let zi2 = zi.square();
        Some(Affine {
            x: self.x.mul(&zi2),
            y: self.y.mul(&zi2.mul(&zi)),
        })
    }

    /// `2 * self` (a = 0 doubling, 2M + 5S).
    pub(crate) fn double(&self) -> Self {
        if self.infinity {
            return *self;
        }
        // y = 0 has no affine point on secp256k1 (7 is not a cube modulo p), so doubling
        // never yields infinity for a finite point.
        let a = self.x.square();
        let b = self.y.square();
        let c = b.square();
        let t = self.x + b;
        let d = sub(&sub(&t.square(), &a, 1), &c, 1)
            .double()
            .normalize_weak();
        let e = a.mul_single(3);
        let f = e.square();
        let x3 = sub(&f, &d.double(), 2).normalize_weak();
        let y3 = sub(&e.mul(&sub(&d, &x3, 1)), &c.mul_single(8), 8).normalize_weak();
        let z3 = self.y.mul(&self.z).double().normalize_weak();
        Self {
            x: x3,
            y: y3,
            z: z3,
            infinity: false,
        }
    }

    /// `self + q` for an affine `q` (mixed addition, 8M + 3S).
    pub(crate) fn add_affine(&self, q: &Affine) -> Self {
        if self.infinity {
            return Self::from(*q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z.mul(&z1z1));
        self.finish_add(&self.x, &self.y, u2, s2, &self.z)
    }

    /// `self + q` (general Jacobian addition, 12M + 4S).
    pub(crate) fn add(&self, q: &Self) -> Self {
        if self.infinity {
            return *q;
        }
        if q.infinity {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z.mul(&z2z2));
        let s2 = q.y.mul(&self.z.mul(&z1z1));
        let z = self.z.mul(&q.z);
        self.finish_add(&u1, &s1, u2, s2, &z)
    }

    /// Common tail of both additions: the inputs scaled to a common `Z` (`u1, s1` from self,
    /// `u2, s2` from the other point) and the product of the `Z`s without `H`.
    #[inline(always)]
    fn finish_add(
        &self,
        u1: &FieldElement,
        s1: &FieldElement,
        u2: FieldElement,
        s2: FieldElement,
        z: &FieldElement,
    ) -> Self {
        let h = sub(&u2, u1, 1);
        let r = sub(&s2, s1, 1);
        if is_zero(&h) {
            return if is_zero(&r) {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let hh = h.square();
        let hhh = h.mul(&hh);
        let v = u1.mul(&hh);
        let x3 = sub(&sub(&r.square(), &hhh, 1), &v.double(), 2).normalize_weak();
        let y3 = sub(&r.mul(&sub(&v, &x3, 1)), &s1.mul(&hhh), 1).normalize_weak();
        let z3 = z.mul(&h);
        Self {
            x: x3,
            y: y3,
            z: z3,
            infinity: false,
        }
    }
}

impl From<Affine> for Jacobian {
    fn from(p: Affine) -> Self {
        Self {
            x: p.x,
            y: p.y,
            z: FieldElement::ONE,
            infinity: false,
        }
    }
}

/// An affine point or infinity, the element type of batched affine additions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    /// The point; meaningless when `infinity` is set.
    pub(crate) p: Affine,
    /// Whether this is the point at infinity.
    pub(crate) infinity: bool,
}

impl Slot {
    /// The point at infinity.
    pub(crate) const INFINITY: Self = Self {
        p: Affine {
            x: FieldElement::ZERO,
            y: FieldElement::ZERO,
        },
        infinity: true,
    };

    /// A finite point.
    #[inline(always)]
    pub(crate) fn point(p: Affine) -> Self {
        Self { p, infinity: false }
    }
}

/// A pair of a batched affine addition that needs the inversion: the slope is
/// `num / den`, and `x1 + x2 = 2 * x1 + den` (chord, `den = x2 - x1`) or `2 * x1` (tangent).
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Product of the denominators of the earlier pending pairs (Montgomery's trick).
    prefix: FieldElement,
    /// Slope numerator: `y2 - y1` (chord) or `3 * x1^2` (tangent); magnitude at most 3.
    num: FieldElement,
    /// Slope denominator: `x2 - x1` (chord) or `2 * y1` (tangent); magnitude at most 3.
    den: FieldElement,
    /// Whether the slope is a tangent (the two points are equal).
    tangent: bool,
    /// Output slot, which holds the first operand until the pass back fills in the sum.
    dst: u32,
}

/// Scratch space for [`add_pairs`], kept between calls to avoid reallocating.
#[derive(Default)]
pub(crate) struct PairScratch {
    pending: Vec<Pending>,
}

/// Adds `src(a) + src(b)` for every `(a, b, dst)` in `pairs`, writing the sums to
/// `dst_buf[dst]`, with a single field inversion for the whole batch (Montgomery's trick).
///
/// Handles every case exactly: equal points (doubling), opposite points and operands at
/// infinity. Each operand is read once: the pass back needs only the first operand (parked
/// in its output slot) and the slope's numerator and denominator.
pub(crate) fn add_pairs(
    src: impl Fn(u32) -> Slot,
    pairs: &[(u32, u32, u32)],
    dst_buf: &mut [Slot],
    scratch: &mut PairScratch,
) {
    scratch.pending.clear();
    let mut acc = FieldElement::ONE;
    for &(a, b, dst) in pairs {
        let (p, q) = (src(a), src(b));
        let out = &mut dst_buf[dst as usize];
        if p.infinity || q.infinity {
            *out = if p.infinity { q } else { p };
            continue;
        }
        let dx = sub(&q.p.x, &p.p.x, 1);
        let (num, den, tangent) = if !is_zero(&dx) {
            (sub(&q.p.y, &p.p.y, 1), dx, false)
        } else if is_zero(&(q.p.y + p.p.y)) {
            *out = Slot::INFINITY;
            continue;
        } else {
            (p.p.x.square().mul_single(3), p.p.y.double(), true)
        };
        *out = p;
        scratch.pending.push(Pending {
            prefix: acc,
            num,
            den,
            tangent,
            dst,
        });
        acc = acc.mul(&den);
    }
    if scratch.pending.is_empty() {
        return;
    }
    // A product of non-zero denominators is non-zero, so the inversion always succeeds.
    let mut inv = Option::<FieldElement>::from(acc.invert()).unwrap_or(FieldElement::ZERO);
    for pend in scratch.pending.iter().rev() {
        let out = &mut dst_buf[pend.dst as usize];
        let (x1, y1) = (out.p.x, out.p.y);
        let inv_i = inv.mul(&pend.prefix);
        inv = inv.mul(&pend.den);
        let lambda = pend.num.mul(&inv_i);
        // x3 = lambda^2 - x1 - x2
        let mut x3 = sub(&lambda.square(), &x1.double(), 2);
        if !pend.tangent {
            x3 = sub(&x3, &pend.den, 3);
        }
        let x3 = x3.normalize_weak();
        let y3 = sub(&lambda.mul(&sub(&x1, &x3, 1)), &y1, 1).normalize_weak();
        out.p = Affine { x: x3, y: y3 };
    }
}
