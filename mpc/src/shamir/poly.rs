//! Dense univariate polynomials, for decoding and for dealing with known coefficients.

use crate::field::Field;

/// A polynomial `Σ c_k·x^k`, lowest coefficient first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polynomial<F: Field> {
    coefficients: Vec<F>,
}

impl<F: Field> Polynomial<F> {
    /// The polynomial with these coefficients (lowest first); trailing zeros are dropped.
    pub fn new(mut coefficients: Vec<F>) -> Self {
        while coefficients.last().is_some_and(|c| c.is_zero()) {
            coefficients.pop();
        }
        Polynomial { coefficients }
    }

    /// Coefficients, lowest first, without trailing zeros.
    pub fn coefficients(&self) -> &[F] {
        &self.coefficients
    }

    /// Degree; the zero polynomial reports `None`.
    pub fn degree(&self) -> Option<usize> {
        self.coefficients.len().checked_sub(1)
    }

    /// Value at `x` (Horner).
    pub fn eval(&self, x: F) -> F {
        self.coefficients
            .iter()
            .rev()
            .fold(F::ZERO, |acc, &c| acc * x + c)
    }

    /// Quotient and remainder of division by `divisor`; `None` if `divisor` is zero.
    pub fn div_rem(&self, divisor: &Polynomial<F>) -> Option<(Polynomial<F>, Polynomial<F>)> {
        let d_deg = divisor.degree()?;
        let lead_inv = divisor.coefficients[d_deg].inverse()?;
        let mut rem = self.coefficients.clone();
        if rem.len() <= d_deg {
            return Some((Polynomial::new(Vec::new()), self.clone()));
        }
        let mut quotient = vec![F::ZERO; rem.len() - d_deg];
        for k in (0..quotient.len()).rev() {
            let factor = rem[k + d_deg] * lead_inv;
            quotient[k] = factor;
            for (j, &dc) in divisor.coefficients.iter().enumerate() {
                rem[k + j] -= factor * dc;
            }
        }
        rem.truncate(d_deg);
        Some((Polynomial::new(quotient), Polynomial::new(rem)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Mp127;

    fn p(c: &[i64]) -> Polynomial<Mp127> {
        Polynomial::new(c.iter().map(|&v| Mp127::from_i64(v)).collect())
    }

    #[test]
    fn evaluation_and_division() {
        // (x^2 + 3x + 2) = (x + 1)(x + 2)
        let f = p(&[2, 3, 1]);
        assert_eq!(f.eval(Mp127::from_u64(5)), Mp127::from_u64(42));
        let (q, r) = f.div_rem(&p(&[1, 1])).unwrap();
        assert_eq!(q, p(&[2, 1]));
        assert_eq!(r.degree(), None);
        // x^3 + 1 = (x − 1)(x^2 + x + 1) + 2
        let (q, r) = p(&[1, 0, 0, 1]).div_rem(&p(&[-1, 1])).unwrap();
        assert_eq!(q, p(&[1, 1, 1]));
        assert_eq!(r, p(&[2]));
        assert!(f.div_rem(&p(&[0])).is_none());
        assert_eq!(p(&[0, 0]).degree(), None);
    }
}
