//! Comparison, equality and truncation of secret integers (Catrina–de Hoogh 2010), vectorised.
//!
//! A secret `a` is a signed `k`-bit integer (`−2^(k−1) ≤ a < 2^(k−1)`) encoded in GF(2^127 − 1).
//! The core is `a mod 2^m`: add `2^(k−1)` (now `a ≥ 0`), mask with `r = 2^m·r'' + r'` where `r'` has
//! `m` shared random bits and `r''` has `k + κ − m` random bits (κ = 40, statistical hiding), open
//! `c`, and correct `c mod 2^m − r'` by `2^m·[c mod 2^m < r']`, the bitwise comparison of a public
//! value with shared bits. The comparison runs as a tree over the bits from the most significant:
//! a block's `(lt, eq)` pair combines as `lt = lt_H + eq_H·lt_L`, `eq = eq_H·eq_L`, so `m` bits
//! cost `2(m − 1)` multiplications in `⌈log2 m⌉` levels, whatever the number of values.

use super::{ProtocolError, Security, Session, check_lengths};
use crate::field::{Field, Mp127};
use crate::transport::Transport;

/// Statistical security parameter κ: opened masked values are within 2^-κ of uniform.
pub const STATISTICAL_SECURITY: u32 = 40;

/// Largest bit length of the values compared or truncated, for any committee: the masked value
/// `2^(k−1) + a + 2^m·r'' + r'` with `r'' < (t+1)·2^(k+κ−m)` must stay below p = 2^127 − 1, so
/// `k ≤ 125 − κ − ⌈log2(t+1)⌉`; [`Session::max_comparison_bits`] gives the bound for one
/// committee (84 at t = 1, 83 at t = 2, 3), this constant the bound for the largest one (t = 63).
pub const MAX_COMPARISON_BITS: u32 = 125 - STATISTICAL_SECURITY - 6;

/// Shares of `m` random bits per value, of `r' = Σ 2^i·bit_i`, and of the high random part `r''`.
struct Masks {
    bits: Vec<Mp127>,
    low: Vec<Mp127>,
    high: Vec<Mp127>,
}

/// Which end of a vector [`Session::extremum`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Extremum {
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

/// The largest bit length a committee of `n` with threshold `t` can compare or truncate at a
/// security level: the high mask is the sum of `t + 1` dealt values (semi-honest) or of the
/// `C(n, t)` PRSS key sets' values (malicious, where a dealer could deal one out of range).
///
/// With `terms ≤ 2^L` values below `2^(k+κ−m)`, the masked value is below
/// `2^(k+1) + 2^(k+κ+L)`, which stays below p = 2^127 − 1 when `k ≤ 126 − κ − L`. The semi-honest
/// bound keeps one more bit of slack (`125 − κ − L`, unchanged since it was first published); the
/// malicious one uses the exact bound so that a committee of seven (`C(7, 3) = 35`, L = 6) still
/// reaches the 80 bits of the secret-float square root.
pub fn max_comparison_bits(n: usize, t: usize, security: Security) -> u32 {
    let (terms, top) = match security {
        Security::SemiHonest => (t + 1, 125),
        _ => (super::prss::key_sets(n, t), 126),
    };
    let terms = u32::try_from(terms).unwrap_or(u32::MAX).max(1);
    let log = terms.checked_next_power_of_two().map_or(32, u32::ilog2);
    (top - STATISTICAL_SECURITY).saturating_sub(log)
}

fn pow2(e: u32) -> Mp127 {
    Mp127::new(1u128 << e)
}

fn inverse_pow2(e: u32) -> Mp127 {
    // 2 has order 127 in the multiplicative group (2^127 ≡ 1), so 2^-e = 2^(127−e).
    Mp127::new(1u128 << ((127 - e % 127) % 127))
}

impl<T: Transport> Session<Mp127, T> {
    /// The largest bit length this committee can compare or truncate (see
    /// [`MAX_COMPARISON_BITS`]).
    pub fn max_comparison_bits(&self) -> u32 {
        max_comparison_bits(self.n(), self.t(), self.security())
    }

    fn check_bits(&self, k: u32, m: u32) -> Result<(), ProtocolError> {
        if k == 0 || k > self.max_comparison_bits() || m > k {
            return Err(ProtocolError::Usage(
                "comparison and truncation need 1 <= m <= k <= max_comparison_bits()",
            ));
        }
        Ok(())
    }

    /// `m` shared random bits per value (least significant first) and the shares of
    /// `r' = Σ 2^i·bit_i` and of `r''`, a random integer of `k + κ − m` bits.
    fn masks(&mut self, count: usize, k: u32, m: u32) -> Result<Masks, ProtocolError> {
        let m_usize = m as usize;
        let bits = self.random_bits(count * m_usize)?;
        let low: Vec<Mp127> = if m_usize == 0 {
            vec![Mp127::ZERO; count]
        } else {
            bits.chunks_exact(m_usize)
                .map(|b| {
                    b.iter()
                        .enumerate()
                        .fold(Mp127::ZERO, |acc, (i, bit)| acc + pow2(i as u32) * *bit)
                })
                .collect()
        };
        let high = self.random_bounded(count, k + STATISTICAL_SECURITY - m)?;
        Ok(Masks { bits, low, high })
    }

    /// Opens `a + offset + 2^shift·r'' + r'` and returns the opened values as integers.
    fn open_masked(
        &mut self,
        a: &[Mp127],
        offset: Mp127,
        shift: u32,
        low: &[Mp127],
        high: &[Mp127],
    ) -> Result<Vec<u128>, ProtocolError> {
        let scale = pow2(shift);
        let masked: Vec<Mp127> = a
            .iter()
            .zip(low)
            .zip(high)
            .map(|((a, l), h)| *a + offset + scale * *h + *l)
            .collect();
        // Masked with checked random bits and a bounded random integer: reveals nothing even if a
        // pending product is wrong, so it need not wait for the verification.
        Ok(self
            .open_unverified(&masked)?
            .into_iter()
            .map(Mp127::value)
            .collect())
    }

    /// `a mod 2^m` for signed `k`-bit `a`, exactly.
    pub fn mod2m(&mut self, a: &[Mp127], k: u32, m: u32) -> Result<Vec<Mp127>, ProtocolError> {
        self.check_bits(k, m)?;
        let Masks { bits, low, high } = self.masks(a.len(), k, m)?;
        let opened = self.open_masked(a, pow2(k - 1), m, &low, &high)?;
        let mask = (1u128 << m) - 1;
        let c_low: Vec<u128> = opened.iter().map(|c| c & mask).collect();
        let borrow = self.bit_lt(&c_low, &bits, m as usize)?;
        Ok(c_low
            .iter()
            .zip(&low)
            .zip(&borrow)
            .map(|((c, r), u)| Mp127::new(*c) - *r + pow2(m) * *u)
            .collect())
    }

    /// `⌊a / 2^m⌋` for signed `k`-bit `a`, exactly.
    pub fn trunc(&mut self, a: &[Mp127], k: u32, m: u32) -> Result<Vec<Mp127>, ProtocolError> {
        let rem = self.mod2m(a, k, m)?;
        let inv = inverse_pow2(m);
        Ok(a.iter().zip(&rem).map(|(a, r)| (*a - *r) * inv).collect())
    }

    /// `a / 2^m` rounded to one of the two nearest integers, up with probability equal to the
    /// dropped fraction (probabilistic truncation): `m` random bits and one opening, no bitwise
    /// comparison.
    pub fn trunc_pr(&mut self, a: &[Mp127], k: u32, m: u32) -> Result<Vec<Mp127>, ProtocolError> {
        self.check_bits(k, m)?;
        let Masks { low, high, .. } = self.masks(a.len(), k, m)?;
        let opened = self.open_masked(a, pow2(k - 1), m, &low, &high)?;
        let mask = (1u128 << m) - 1;
        let inv = inverse_pow2(m);
        Ok(a.iter()
            .zip(&opened)
            .zip(&low)
            .map(|((a, c), r)| (*a - (Mp127::new(c & mask) - *r)) * inv)
            .collect())
    }

    /// Shares of the bits `[a_i < 0]` for signed `k`-bit values.
    pub fn ltz(&mut self, a: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        self.check_bits(k, 1)?;
        let rem = self.mod2m(a, k, k - 1)?;
        let inv = inverse_pow2(k - 1);
        Ok(rem.iter().zip(a).map(|(r, a)| (*r - *a) * inv).collect())
    }

    /// Shares of `[a_i < b_i]` for signed `k`-bit values (the difference is compared at `k + 1`
    /// bits, so every pair of `k`-bit values is compared exactly).
    pub fn lt(&mut self, a: &[Mp127], b: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        check_lengths(a.len(), b.len())?;
        let diff: Vec<Mp127> = a.iter().zip(b).map(|(x, y)| *x - *y).collect();
        self.ltz(&diff, k + 1)
    }

    /// Shares of `[a_i <= b_i]`.
    pub fn le(&mut self, a: &[Mp127], b: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        Ok(self
            .lt(b, a, k)?
            .into_iter()
            .map(|x| Mp127::ONE - x)
            .collect())
    }

    /// Shares of `[a_i > b_i]`.
    pub fn gt(&mut self, a: &[Mp127], b: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        self.lt(b, a, k)
    }

    /// Shares of `[a_i >= b_i]`.
    pub fn ge(&mut self, a: &[Mp127], b: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        Ok(self
            .lt(a, b, k)?
            .into_iter()
            .map(|x| Mp127::ONE - x)
            .collect())
    }

    /// Shares of `[a_i = 0]` for signed `k`-bit values.
    pub fn eqz(&mut self, a: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        self.check_bits(k, k)?;
        let k_usize = k as usize;
        let Masks { bits, low, high } = self.masks(a.len(), k, k)?;
        // a + r' + 2^k·(1 + r''): positive, and ≡ a + r' (mod 2^k), which equals r' iff a = 0.
        let opened = self.open_masked(a, pow2(k), k, &low, &high)?;
        let mut level: Vec<Mp127> = Vec::with_capacity(a.len() * k_usize);
        for (c, r) in opened.iter().zip(bits.chunks_exact(k_usize.max(1))) {
            for (i, bit) in r.iter().enumerate() {
                let same = if (c >> i) & 1 == 1 {
                    *bit
                } else {
                    Mp127::ONE - *bit
                };
                level.push(same);
            }
        }
        self.product_tree(level, k_usize)
    }

    /// Shares of `[a_i = b_i]` for signed `k`-bit values.
    pub fn eq(&mut self, a: &[Mp127], b: &[Mp127], k: u32) -> Result<Vec<Mp127>, ProtocolError> {
        check_lengths(a.len(), b.len())?;
        let diff: Vec<Mp127> = a.iter().zip(b).map(|(x, y)| *x - *y).collect();
        self.eqz(&diff, k + 1)
    }

    /// `cond ? x : y` element-wise, for shared bits `cond`: one multiplication.
    pub fn select(
        &mut self,
        cond: &[Mp127],
        x: &[Mp127],
        y: &[Mp127],
    ) -> Result<Vec<Mp127>, ProtocolError> {
        check_lengths(cond.len(), x.len())?;
        check_lengths(x.len(), y.len())?;
        let diff: Vec<Mp127> = x.iter().zip(y).map(|(a, b)| *a - *b).collect();
        let picked = self.mul(cond, &diff)?;
        Ok(picked.iter().zip(y).map(|(p, b)| *p + *b).collect())
    }

    /// The minimum or maximum of each vector (all of one length ≥ 1) of signed `k`-bit values,
    /// by a tree of comparisons: `⌈log2 len⌉` levels, all vectors reduced together.
    pub fn extremum(
        &mut self,
        vectors: &[Vec<Mp127>],
        k: u32,
        which: Extremum,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        let len = vectors.first().map_or(0, Vec::len);
        if len == 0 {
            return Err(ProtocolError::Usage("MIN/MAX of an empty vector"));
        }
        for v in vectors {
            check_lengths(v.len(), len)?;
        }
        let mut level: Vec<Vec<Mp127>> = vectors.to_vec();
        let mut width = len;
        while width > 1 {
            let pairs = width / 2;
            let mut a = Vec::with_capacity(pairs * level.len());
            let mut b = Vec::with_capacity(pairs * level.len());
            for v in &level {
                for p in 0..pairs {
                    a.push(v[2 * p]);
                    b.push(v[2 * p + 1]);
                }
            }
            // keep = a where (Min: a < b) or (Max: a > b), else b.
            let choose_a = match which {
                Extremum::Min => self.lt(&a, &b, k)?,
                Extremum::Max => self.gt(&a, &b, k)?,
            };
            let kept = self.select(&choose_a, &a, &b)?;
            let mut next = Vec::with_capacity(level.len());
            for (vi, v) in level.iter().enumerate() {
                let mut row: Vec<Mp127> = kept[vi * pairs..(vi + 1) * pairs].to_vec();
                if width % 2 == 1 {
                    row.push(v[width - 1]);
                }
                next.push(row);
            }
            level = next;
            width = pairs + width % 2;
        }
        Ok(level.into_iter().map(|v| v[0]).collect())
    }

    /// `[c_j < r_j]` for public `m`-bit `c_j` and shared bits of `r_j` (least significant first,
    /// `m` per value).
    fn bit_lt(
        &mut self,
        c: &[u128],
        bits: &[Mp127],
        m: usize,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        if m == 0 {
            return Ok(vec![Mp127::ZERO; c.len()]);
        }
        // Leaves from the most significant bit: lt = [c_i < r_i], eq = [c_i = r_i].
        let mut lt = Vec::with_capacity(c.len() * m);
        let mut eq = Vec::with_capacity(c.len() * m);
        for (cj, r) in c.iter().zip(bits.chunks_exact(m)) {
            for i in (0..m).rev() {
                let bit = r[i];
                if (cj >> i) & 1 == 1 {
                    lt.push(Mp127::ZERO);
                    eq.push(bit);
                } else {
                    lt.push(bit);
                    eq.push(Mp127::ONE - bit);
                }
            }
        }
        let mut width = m;
        while width > 1 {
            let pairs = width / 2;
            let odd = width % 2;
            let last = pairs + odd == 1;
            let groups = c.len();
            let mut x = Vec::with_capacity(2 * groups * pairs);
            let mut y = Vec::with_capacity(2 * groups * pairs);
            for g in 0..groups {
                for p in 0..pairs {
                    x.push(eq[g * width + 2 * p]);
                    y.push(lt[g * width + 2 * p + 1]);
                }
            }
            if !last {
                for g in 0..groups {
                    for p in 0..pairs {
                        x.push(eq[g * width + 2 * p]);
                        y.push(eq[g * width + 2 * p + 1]);
                    }
                }
            }
            let products = self.mul(&x, &y)?;
            let next_width = pairs + odd;
            let mut next_lt = Vec::with_capacity(groups * next_width);
            let mut next_eq = Vec::with_capacity(groups * next_width);
            for g in 0..groups {
                for p in 0..pairs {
                    next_lt.push(lt[g * width + 2 * p] + products[g * pairs + p]);
                    if !last {
                        next_eq.push(products[groups * pairs + g * pairs + p]);
                    }
                }
                if odd == 1 {
                    next_lt.push(lt[g * width + width - 1]);
                    next_eq.push(eq[g * width + width - 1]);
                }
            }
            lt = next_lt;
            eq = next_eq;
            width = next_width;
        }
        Ok(lt)
    }

    /// The product of each consecutive group of `width` shared values, by a tree.
    fn product_tree(
        &mut self,
        mut level: Vec<Mp127>,
        mut width: usize,
    ) -> Result<Vec<Mp127>, ProtocolError> {
        if width == 0 {
            return Ok(level);
        }
        let groups = level.len() / width;
        while width > 1 {
            let pairs = width / 2;
            let odd = width % 2;
            let mut x = Vec::with_capacity(groups * pairs);
            let mut y = Vec::with_capacity(groups * pairs);
            for g in 0..groups {
                for p in 0..pairs {
                    x.push(level[g * width + 2 * p]);
                    y.push(level[g * width + 2 * p + 1]);
                }
            }
            let products = self.mul(&x, &y)?;
            let next_width = pairs + odd;
            let mut next = Vec::with_capacity(groups * next_width);
            for g in 0..groups {
                next.extend_from_slice(&products[g * pairs..(g + 1) * pairs]);
                if odd == 1 {
                    next.push(level[g * width + width - 1]);
                }
            }
            level = next;
            width = next_width;
        }
        Ok(level)
    }
}
