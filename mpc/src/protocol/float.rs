//! Secret floating-point numbers, for the few values at the end of a query (means, variances,
//! regression coefficients) whose magnitudes no fixed-point format could hold.
//!
//! A value is `(−1)^s · m · 2^e`, with the mantissa `m` in `[2^(K−1), 2^K)` (K = 31), a small
//! signed exponent `e`, a sign bit `s` and a zero bit `z` (zero has `m = 0`, `e = ZERO_EXPONENT`,
//! `s = 0`); all four are secret. Conversion from an integer normalises with one vectorised batch
//! of comparisons against powers of two; products and quotients renormalise with one comparison;
//! quotients and square roots run Newton iterations in fixed point with 38 fractional bits on the
//! normalised mantissas; sums align the smaller operand with a secret power of two. Every
//! operation works on whole vectors in a constant number of rounds.
//!
//! Precision: conversion and each operation round the mantissa to K bits, so the relative error
//! of one operation is below 2^-29; see `docs/protocol.md` for the query-level tolerance.

use super::{ProtocolError, Session, check_lengths};
use crate::field::{Field, Mp127};
use crate::transport::Transport;

/// Mantissa bits K (odd, so that square roots of `2^(K+1)`-scaled mantissas stay exact).
pub const MANTISSA_BITS: u32 = 31;
/// Fractional bits of the fixed-point Newton iterations.
const NEWTON_BITS: u32 = 38;
/// Bits that bound `|e|` (exponents stay within ±2^10).
const EXPONENT_BITS: u32 = 12;
/// The exponent of zero: below every exponent a non-zero value can have.
pub const ZERO_EXPONENT: i64 = -(1 << 10);

/// A vector of secret floating-point numbers (shares of each component).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretFloats {
    /// Mantissas in `[2^(K−1), 2^K)`, or 0 for zero.
    pub mantissa: Vec<Mp127>,
    /// Signed exponents.
    pub exponent: Vec<Mp127>,
    /// Sign bits (1 = negative).
    pub sign: Vec<Mp127>,
    /// Zero bits (1 = the value is zero).
    pub zero: Vec<Mp127>,
}

impl SecretFloats {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.mantissa.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.mantissa.is_empty()
    }

    /// The components back to back (mantissas, exponents, signs, zero bits), for opening.
    pub fn to_flat(&self) -> Vec<Mp127> {
        let mut out = Vec::with_capacity(4 * self.len());
        out.extend_from_slice(&self.mantissa);
        out.extend_from_slice(&self.exponent);
        out.extend_from_slice(&self.sign);
        out.extend_from_slice(&self.zero);
        out
    }

    /// Concatenates two vectors of floats.
    pub fn concat(mut self, other: &SecretFloats) -> SecretFloats {
        self.mantissa.extend_from_slice(&other.mantissa);
        self.exponent.extend_from_slice(&other.exponent);
        self.sign.extend_from_slice(&other.sign);
        self.zero.extend_from_slice(&other.zero);
        self
    }

    /// The values at `range`.
    pub fn slice(&self, range: core::ops::Range<usize>) -> SecretFloats {
        SecretFloats {
            mantissa: self.mantissa[range.clone()].to_vec(),
            exponent: self.exponent[range.clone()].to_vec(),
            sign: self.sign[range.clone()].to_vec(),
            zero: self.zero[range].to_vec(),
        }
    }
}

/// Decodes opened components (as produced by [`SecretFloats::to_flat`]) into `f64`s.
pub fn decode_floats(flat: &[Mp127]) -> Vec<f64> {
    let n = flat.len() / 4;
    (0..n)
        .map(|i| {
            if flat[3 * n + i] == Mp127::ONE {
                return 0.0;
            }
            let m = flat[i].value() as f64;
            let e = flat[n + i].to_signed() as i32;
            let sign = if flat[2 * n + i] == Mp127::ONE {
                -1.0
            } else {
                1.0
            };
            sign * m * 2f64.powi(e)
        })
        .collect()
}

fn pow2(e: u32) -> Mp127 {
    Mp127::new(1u128 << e)
}

fn fixed(value: f64, fraction_bits: u32) -> Mp127 {
    let scaled = (value * 2f64.powi(fraction_bits as i32)).round() as i128;
    Mp127::from_i64(scaled as i64)
}

impl<T: Transport> Session<Mp127, T> {
    /// For non-negative `a < 2^bits`: the one-hot encoding of its bit length, `h[ℓ] = [len(a) = ℓ]`
    /// for `ℓ ∈ 0..=bits` (`ℓ = 0` iff `a = 0`), row-major per value.
    fn bit_length_one_hot(&mut self, a: &[Mp127], bits: u32) -> Result<Vec<Mp127>, ProtocolError> {
        let b = bits as usize;
        // c_i = [a < 2^i] for i in 0..bits; c_bits = 1.
        let mut diffs = Vec::with_capacity(a.len() * b);
        for v in a {
            for i in 0..bits {
                diffs.push(*v - pow2(i));
            }
        }
        let below = self.ltz(&diffs, bits + 1)?;
        let mut one_hot = Vec::with_capacity(a.len() * (b + 1));
        for c in below.chunks_exact(b.max(1)).take(a.len()) {
            one_hot.push(c[0]);
            for l in 1..b {
                one_hot.push(c[l] - c[l - 1]);
            }
            one_hot.push(Mp127::ONE - c[b - 1]);
        }
        Ok(one_hot)
    }

    /// Normalises non-negative integers `a < 2^bits` into non-negative floats.
    fn normalize(&mut self, a: &[Mp127], bits: u32) -> Result<SecretFloats, ProtocolError> {
        let k = MANTISSA_BITS;
        let width = bits.max(k);
        let one_hot = self.bit_length_one_hot(a, width)?;
        let w = width as usize + 1;
        let mut scale = Vec::with_capacity(a.len());
        let mut exponent = Vec::with_capacity(a.len());
        let mut zero = Vec::with_capacity(a.len());
        for h in one_hot.chunks_exact(w) {
            let mut s = Mp127::ZERO;
            let mut e = h[0] * Mp127::from_i64(ZERO_EXPONENT);
            for (l, bit) in h.iter().enumerate().skip(1) {
                s += *bit * pow2(width - l as u32);
                e += *bit * Mp127::from_i64(l as i64 - k as i64);
            }
            scale.push(s);
            exponent.push(e);
            zero.push(h[0]);
        }
        // a·2^(width−ℓ) ∈ [2^(width−1), 2^width): drop the low width − K bits exactly.
        let scaled = self.mul(a, &scale)?;
        let mantissa = if width > k {
            self.trunc(&scaled, width + 1, width - k)?
        } else {
            scaled
        };
        Ok(SecretFloats {
            mantissa,
            exponent,
            sign: vec![Mp127::ZERO; a.len()],
            zero,
        })
    }

    /// Converts signed integers with `|a| < 2^bits` to floats.
    pub fn float_from_int(
        &mut self,
        a: &[Mp127],
        bits: u32,
    ) -> Result<SecretFloats, ProtocolError> {
        let sign = self.ltz(a, bits + 1)?;
        let signed_a = self.mul(&sign, a)?;
        let magnitude: Vec<Mp127> = a
            .iter()
            .zip(&signed_a)
            .map(|(v, sv)| *v - *sv - *sv)
            .collect();
        Ok(SecretFloats {
            sign,
            ..self.normalize(&magnitude, bits)?
        })
    }

    /// Public constants as floats (shares of a public value: every party holds the value).
    pub fn float_constants(&self, values: &[f64]) -> SecretFloats {
        let mut out = SecretFloats::default();
        for &v in values {
            if v == 0.0 || !v.is_finite() {
                out.mantissa.push(Mp127::ZERO);
                out.exponent.push(Mp127::from_i64(ZERO_EXPONENT));
                out.sign.push(Mp127::ZERO);
                out.zero.push(Mp127::ONE);
                continue;
            }
            let (mut m, mut e) = (v.abs(), 0i64);
            while m >= 1.0 {
                m /= 2.0;
                e += 1;
            }
            while m < 0.5 {
                m *= 2.0;
                e -= 1;
            }
            let mantissa = (m * 2f64.powi(MANTISSA_BITS as i32)).round() as u128;
            let (mantissa, e) = if mantissa >= 1u128 << MANTISSA_BITS {
                (mantissa >> 1, e + 1)
            } else {
                (mantissa, e)
            };
            out.mantissa.push(Mp127::new(mantissa));
            out.exponent.push(Mp127::from_i64(e - MANTISSA_BITS as i64));
            out.sign
                .push(if v < 0.0 { Mp127::ONE } else { Mp127::ZERO });
            out.zero.push(Mp127::ZERO);
        }
        out
    }

    /// Forces zero values into the canonical zero representation.
    fn canonical_zero(&mut self, f: SecretFloats) -> Result<SecretFloats, ProtocolError> {
        let len = f.len();
        let not_zero: Vec<Mp127> = f.zero.iter().map(|z| Mp127::ONE - *z).collect();
        let zero_e = Mp127::from_i64(ZERO_EXPONENT);
        let mut x = not_zero.clone();
        x.extend_from_slice(&not_zero);
        x.extend_from_slice(&not_zero);
        let mut y = f.mantissa.clone();
        y.extend(f.exponent.iter().map(|e| *e - zero_e));
        y.extend_from_slice(&f.sign);
        let p = self.mul(&x, &y)?;
        Ok(SecretFloats {
            mantissa: p[..len].to_vec(),
            exponent: p[len..2 * len].iter().map(|e| *e + zero_e).collect(),
            sign: p[2 * len..].to_vec(),
            zero: f.zero,
        })
    }

    /// `x·y` element-wise.
    pub fn float_mul(
        &mut self,
        x: &SecretFloats,
        y: &SecretFloats,
    ) -> Result<SecretFloats, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        let k = MANTISSA_BITS;
        let len = x.len();
        let mut left = x.mantissa.clone();
        left.extend_from_slice(&x.sign);
        left.extend_from_slice(&x.zero);
        let mut right = y.mantissa.clone();
        right.extend_from_slice(&y.sign);
        right.extend_from_slice(&y.zero);
        let p = self.mul(&left, &right)?;
        let product = &p[..len];
        let sign: Vec<Mp127> = (0..len)
            .map(|i| x.sign[i] + y.sign[i] - p[len + i] - p[len + i])
            .collect();
        let zero: Vec<Mp127> = (0..len)
            .map(|i| x.zero[i] + y.zero[i] - p[2 * len + i])
            .collect();
        let (mantissa, carry) = self.renormalize(product, 2 * k, k)?;
        let exponent = (0..len)
            .map(|i| x.exponent[i] + y.exponent[i] + carry[i] + Mp127::from_u64(k as u64 - 1))
            .collect();
        self.canonical_zero(SecretFloats {
            mantissa,
            exponent,
            sign,
            zero,
        })
    }

    /// For `p ∈ [2^(bits−2), 2^bits)`: `b = [p ≥ 2^(bits−1)]` and the mantissa
    /// `⌊p·2^(1−b) / 2^(bits−K)⌋ ∈ [2^(K−1), 2^K)`.
    fn renormalize(
        &mut self,
        p: &[Mp127],
        bits: u32,
        k: u32,
    ) -> Result<(Vec<Mp127>, Vec<Mp127>), ProtocolError> {
        let shifted: Vec<Mp127> = p.iter().map(|v| *v - pow2(bits - 1)).collect();
        let below = self.ltz(&shifted, bits + 1)?;
        // p·(2 − b) = p + p·(1 − b) = p + p·below.
        let extra = self.mul(p, &below)?;
        let doubled: Vec<Mp127> = p.iter().zip(&extra).map(|(a, b)| *a + *b).collect();
        let mantissa = self.trunc(&doubled, bits + 2, bits - k)?;
        let carry = below.iter().map(|b| Mp127::ONE - *b).collect();
        Ok((mantissa, carry))
    }

    /// `(a·b) / 2^f` for fixed-point values with `f` fractional bits and `|a·b| < 2^(k−1)`.
    fn fixed_mul(
        &mut self,
        a: &[Mp127],
        b: &[Mp127],
        k: u32,
        f: u32,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        let p = self.mul(a, b)?;
        self.trunc_pr(&p, k, f)
    }

    /// `x / y` element-wise; `y` must be non-zero (a zero divisor gives an unspecified value:
    /// callers guard divisions).
    pub fn float_div(
        &mut self,
        x: &SecretFloats,
        y: &SecretFloats,
    ) -> Result<SecretFloats, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        let (k, f) = (MANTISSA_BITS, NEWTON_BITS);
        let len = x.len();
        // Y = m_y / 2^K ∈ [1/2, 1) with f fractional bits; w ≈ 1/Y ∈ (1, 2].
        let y_fixed: Vec<Mp127> = y.mantissa.iter().map(|m| *m * pow2(f - k)).collect();
        let two = fixed(2.0, f);
        let mut w: Vec<Mp127> = y_fixed.iter().map(|v| fixed(2.9142, f) - *v - *v).collect();
        for _ in 0..4 {
            let yw = self.fixed_mul(&y_fixed, &w, 2 * f + 2, f)?;
            let correction: Vec<Mp127> = yw.iter().map(|v| two - *v).collect();
            w = self.fixed_mul(&w, &correction, 2 * f + 3, f)?;
        }
        let mut left = x.mantissa.clone();
        left.extend_from_slice(&x.sign);
        let mut right = w;
        right.extend_from_slice(&y.sign);
        let p = self.mul(&left, &right)?;
        // Q = m_x·w ≈ m_x·2^(f+K)/m_y ∈ (2^(K+f−1), 2^(K+f+1)).
        let (mantissa, carry) = self.renormalize(&p[..len], k + f + 1, k)?;
        let exponent = (0..len)
            .map(|i| x.exponent[i] - y.exponent[i] + carry[i] - Mp127::from_u64(k as u64))
            .collect();
        let sign = (0..len)
            .map(|i| x.sign[i] + y.sign[i] - p[len + i] - p[len + i])
            .collect();
        self.canonical_zero(SecretFloats {
            mantissa,
            exponent,
            sign,
            zero: x.zero.clone(),
        })
    }

    /// `√x` element-wise for non-negative `x`.
    pub fn float_sqrt(&mut self, x: &SecretFloats) -> Result<SecretFloats, ProtocolError> {
        let (k, f) = (MANTISSA_BITS, NEWTON_BITS);
        // Make the exponent even: m' = m·(1 + odd) ∈ [2^(K−1), 2^(K+1)), e' = e − odd.
        let odd = self.mod2m(&x.exponent, EXPONENT_BITS, 1)?;
        let extra = self.mul(&x.mantissa, &odd)?;
        let m2: Vec<Mp127> = x
            .mantissa
            .iter()
            .zip(&extra)
            .map(|(m, e)| *m + *e)
            .collect();
        // u = m'/2^(K+1) ∈ [1/4, 1) with f fractional bits; y ≈ 1/√u ∈ (1, 2].
        let u: Vec<Mp127> = m2.iter().map(|m| *m * pow2(f - k - 1)).collect();
        // y0 = 9/4 − (5/4)·u: within 15% of 1/√u on [1/4, 1], close enough for Newton; the
        // coefficients are dyadic so y0 is exact (u's encoding is a multiple of 2^(f−K−1)).
        let mut y: Vec<Mp127> = m2
            .iter()
            .map(|m| Mp127::from_u64(9) * pow2(f - 2) - Mp127::from_u64(5) * *m * pow2(f - k - 3))
            .collect();
        let three = fixed(3.0, f);
        for _ in 0..5 {
            let y2 = self.fixed_mul(&y, &y, 2 * f + 3, f)?;
            let uy2 = self.fixed_mul(&u, &y2, 2 * f + 3, f)?;
            let c: Vec<Mp127> = uy2.iter().map(|v| three - *v).collect();
            // y·(3 − u·y²)/2: one more fractional bit dropped for the halving.
            y = self.fixed_mul(&y, &c, 2 * f + 4, f + 1)?;
        }
        let root = self.fixed_mul(&u, &y, 2 * f + 3, f)?;
        // √u ∈ [1/2, 1) with f fractional bits → K-bit mantissa.
        let mantissa = self.trunc(&root, f + 2, f - k)?;
        let half = Mp127::from_u64(2).inverse().unwrap_or(Mp127::ONE);
        let exponent = x
            .exponent
            .iter()
            .zip(&odd)
            .map(|(e, o)| {
                (*e - *o + Mp127::from_u64(k as u64 + 1)) * half - Mp127::from_u64(k as u64)
            })
            .collect();
        self.canonical_zero(SecretFloats {
            mantissa,
            exponent,
            sign: vec![Mp127::ZERO; x.len()],
            zero: x.zero.clone(),
        })
    }

    /// `−x` element-wise.
    pub fn float_neg(&mut self, x: &SecretFloats) -> SecretFloats {
        // Flip the sign of non-zero values: s' = (1 − s)·(1 − z) = 1 − s − z + s·z, and s·z = 0
        // for canonical values.
        SecretFloats {
            sign: x
                .sign
                .iter()
                .zip(&x.zero)
                .map(|(s, z)| Mp127::ONE - *s - *z)
                .collect(),
            ..x.clone()
        }
    }

    /// `x + y` element-wise.
    pub fn float_add(
        &mut self,
        x: &SecretFloats,
        y: &SecretFloats,
    ) -> Result<SecretFloats, ProtocolError> {
        check_lengths(x.len(), y.len())?;
        let k = MANTISSA_BITS;
        let len = x.len();
        // Order by magnitude with one comparison of (e − ZERO_EXPONENT)·2^K + m.
        let key = |f: &SecretFloats, i: usize| {
            (f.exponent[i] - Mp127::from_i64(ZERO_EXPONENT)) * pow2(k) + f.mantissa[i]
        };
        let diff: Vec<Mp127> = (0..len).map(|i| key(x, i) - key(y, i)).collect();
        let x_smaller = self.ltz(&diff, k + EXPONENT_BITS + 2)?;
        // a = larger, b = smaller: a = x + s·(y − x), b = y + s·(x − y).
        let mut cond = Vec::with_capacity(3 * len);
        let mut delta = Vec::with_capacity(3 * len);
        for _ in 0..3 {
            cond.extend_from_slice(&x_smaller);
        }
        delta.extend((0..len).map(|i| y.mantissa[i] - x.mantissa[i]));
        delta.extend((0..len).map(|i| y.exponent[i] - x.exponent[i]));
        delta.extend((0..len).map(|i| y.sign[i] - x.sign[i]));
        let moved = self.mul(&cond, &delta)?;
        let a_m: Vec<Mp127> = (0..len).map(|i| x.mantissa[i] + moved[i]).collect();
        let a_e: Vec<Mp127> = (0..len).map(|i| x.exponent[i] + moved[len + i]).collect();
        let a_s: Vec<Mp127> = (0..len).map(|i| x.sign[i] + moved[2 * len + i]).collect();
        let b_m: Vec<Mp127> = (0..len).map(|i| y.mantissa[i] - moved[i]).collect();
        let b_e: Vec<Mp127> = (0..len).map(|i| y.exponent[i] - moved[len + i]).collect();
        let b_s: Vec<Mp127> = (0..len).map(|i| y.sign[i] - moved[2 * len + i]).collect();
        // d = e_a − e_b ≥ 0; B = m_b·2^(K+1−d) (0 when d > K+1), A = m_a·2^(K+1).
        let d: Vec<Mp127> = (0..len).map(|i| a_e[i] - b_e[i]).collect();
        let span = k + 2;
        let mut shifted = Vec::with_capacity(len * span as usize);
        for di in &d {
            for j in 1..=span {
                shifted.push(*di - Mp127::from_u64(j as u64));
            }
        }
        let below = self.ltz(&shifted, EXPONENT_BITS + 2)?;
        let mut pow = Vec::with_capacity(len);
        for c in below.chunks_exact(span as usize) {
            // one-hot h_d = c_(d+1) − c_d with c_0 = 0.
            let mut p = c[0] * pow2(k + 1);
            for dd in 1..span as usize {
                p += (c[dd] - c[dd - 1]) * pow2(k + 1 - dd as u32);
            }
            pow.push(p);
        }
        let mut left = b_m.clone();
        let mut right = pow;
        left.extend_from_slice(&a_s);
        right.extend_from_slice(&b_s);
        let p = self.mul(&left, &right)?;
        let b_aligned = &p[..len];
        let opposite: Vec<Mp127> = (0..len)
            .map(|i| a_s[i] + b_s[i] - p[len + i] - p[len + i])
            .collect();
        let signed_b = self.mul(&opposite, b_aligned)?;
        let sum: Vec<Mp127> = (0..len)
            .map(|i| a_m[i] * pow2(k + 1) + b_aligned[i] - signed_b[i] - signed_b[i])
            .collect();
        // |sum| < 2^(2K+2); value = sum·2^(e_a − K − 1).
        let normalized = self.normalize(&sum, 2 * k + 2)?;
        // A zero sum gets its canonical exponent from canonical_zero below.
        let exponent = (0..len)
            .map(|i| normalized.exponent[i] + a_e[i] - Mp127::from_u64(k as u64 + 1))
            .collect();
        self.canonical_zero(SecretFloats {
            exponent,
            sign: a_s,
            ..normalized
        })
    }

    /// `round(x·2^f)` as signed integers (fixed point with `f` fractional bits), for values with
    /// `|x·2^f| < 2^bits`, `1 ≤ bits ≤ max_comparison_bits − K − 3`. Smaller values round towards
    /// the nearest representable value (probabilistically), below `2^-(f+1)` to 0.
    pub fn float_to_fixed(
        &mut self,
        x: &SecretFloats,
        f: u32,
        bits: u32,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        let k = MANTISSA_BITS;
        let down = k + 1;
        if bits == 0 || bits + down + 2 > self.max_comparison_bits() {
            return Err(ProtocolError::Usage(
                "float_to_fixed: bits out of range for this committee",
            ));
        }
        let len = x.len();
        // P = m·2^(e + f + down) with the shift e + f + down ∈ [0, span) picked by a one-hot
        // (0 when the value is below the smallest representable step), then drop `down` bits.
        let span = bits + down + 1 - k;
        let offset = Mp127::from_u64(u64::from(f + down));
        // c_j = [shift < j] for j = 0..=span; the one-hot of the shift is c_(j+1) − c_j.
        let mut shifted = Vec::with_capacity(len * (span as usize + 1));
        for e in &x.exponent {
            for j in 0..=span {
                shifted.push(*e + offset - Mp127::from_u64(u64::from(j)));
            }
        }
        let below = self.ltz(&shifted, EXPONENT_BITS + 2)?;
        let factor: Vec<Mp127> = below
            .chunks_exact(span as usize + 1)
            .map(|c| {
                (0..span as usize).fold(Mp127::ZERO, |acc, j| {
                    acc + (c[j + 1] - c[j]) * pow2(j as u32)
                })
            })
            .collect();
        let p = self.mul(&x.mantissa, &factor)?;
        let magnitude = self.trunc_pr(&p, bits + down + 1, down)?;
        // Apply the sign: v·(1 − 2s).
        let signed = self.mul(&x.sign, &magnitude)?;
        Ok(magnitude
            .iter()
            .zip(&signed)
            .map(|(v, sv)| *v - *sv - *sv)
            .collect())
    }

    /// `x − y` element-wise.
    pub fn float_sub(
        &mut self,
        x: &SecretFloats,
        y: &SecretFloats,
    ) -> Result<SecretFloats, ProtocolError> {
        let neg = self.float_neg(y);
        self.float_add(x, &neg)
    }
}
