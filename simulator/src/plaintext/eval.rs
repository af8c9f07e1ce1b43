//! Row-level expressions in exact arithmetic. Every value of a query row is a rational number
//! (columns and literals are decimals; a division by a literal makes a fraction), so the WHERE
//! mask, the CASE arms and the histogram bins are decided exactly, with none of the binary
//! rounding a plain f64 evaluation would add (`0.1 + 0.2 = 0.3` holds here, as it does in the
//! MPC, where decimals are integers at their scale).
//!
//! The MPC rounds a quotient to its result scale (probabilistic truncation: off by less than one
//! unit of the last decimal). That is tracked as an error bound next to each value, and a
//! comparison whose two sides are closer than their bounds is marked *unsure*: the MPC may decide
//! it either way, and the aggregates widen their tolerance for such rows.

use std::cmp::Ordering;

use sharenet_query::{ArithOp, CmpOp, TypedExpr, TypedExprKind, ValueType};

use super::PlaintextError;

/// An exact rational `n / d` with `d > 0` and `gcd(n, d) = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Q {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn overflow() -> PlaintextError {
    PlaintextError::Overflow
}

impl Q {
    pub(super) const ZERO: Q = Q { n: 0, d: 1 };
    pub(super) const ONE: Q = Q { n: 1, d: 1 };

    pub(super) fn int(v: i64) -> Q {
        Q {
            n: i128::from(v),
            d: 1,
        }
    }

    /// `units / 10^scale`.
    pub(super) fn units(units: i64, scale: u8) -> Result<Q, PlaintextError> {
        let d = 10i128.checked_pow(u32::from(scale)).ok_or_else(overflow)?;
        Q::new(i128::from(units), d)
    }

    fn new(n: i128, d: i128) -> Result<Q, PlaintextError> {
        // Excluding i128::MIN keeps abs() and negation total.
        if d == 0 || n == i128::MIN || d == i128::MIN {
            return Err(overflow());
        }
        let g = gcd(n, d).max(1);
        let sign = if d < 0 { -1 } else { 1 };
        Ok(Q {
            n: sign * (n / g),
            d: sign * (d / g),
        })
    }

    pub(super) fn add(self, o: Q) -> Result<Q, PlaintextError> {
        if self.d == o.d {
            return Q::new(self.n.checked_add(o.n).ok_or_else(overflow)?, self.d);
        }
        let g = gcd(self.d, o.d);
        let l = (self.d / g).checked_mul(o.d).ok_or_else(overflow)?;
        let a = self.n.checked_mul(l / self.d).ok_or_else(overflow)?;
        let b = o.n.checked_mul(l / o.d).ok_or_else(overflow)?;
        Q::new(a.checked_add(b).ok_or_else(overflow)?, l)
    }

    pub(super) fn neg(self) -> Q {
        Q {
            n: -self.n,
            d: self.d,
        }
    }

    pub(super) fn sub(self, o: Q) -> Result<Q, PlaintextError> {
        self.add(o.neg())
    }

    pub(super) fn mul(self, o: Q) -> Result<Q, PlaintextError> {
        // Cross-reduce first to keep the numbers small.
        let g1 = gcd(self.n, o.d).max(1);
        let g2 = gcd(o.n, self.d).max(1);
        let n = (self.n / g1).checked_mul(o.n / g2).ok_or_else(overflow)?;
        let d = (self.d / g2).checked_mul(o.d / g1).ok_or_else(overflow)?;
        Q::new(n, d)
    }

    /// `self / o`; `None` when `o` is zero.
    pub(super) fn div(self, o: Q) -> Result<Option<Q>, PlaintextError> {
        if o.n == 0 {
            return Ok(None);
        }
        self.mul(Q { n: o.d, d: o.n }).map(Some)
    }

    pub(super) fn cmp(self, o: Q) -> Result<Ordering, PlaintextError> {
        let a = self.n.checked_mul(o.d).ok_or_else(overflow)?;
        let b = o.n.checked_mul(self.d).ok_or_else(overflow)?;
        Ok(a.cmp(&b))
    }

    pub(super) fn to_f64(self) -> f64 {
        self.n as f64 / self.d as f64
    }
}

/// The value of a row expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum V {
    /// A number, exact, and how far the MPC's value may be from it (0 unless a division is
    /// involved).
    Num {
        /// The exact value.
        q: Q,
        /// Bound on |MPC value − q|.
        err: f64,
    },
    /// A boolean; `sure` is false when it depends on a comparison closer than the rounding.
    Bool {
        /// The exact value.
        b: bool,
        /// Whether the MPC certainly computes the same.
        sure: bool,
    },
    /// A category label index.
    Cat(i64),
}

impl V {
    pub(super) fn num(self) -> Result<(Q, f64), PlaintextError> {
        match self {
            V::Num { q, err } => Ok((q, err)),
            V::Bool { b, sure } => Ok((
                if b { Q::ONE } else { Q::ZERO },
                if sure { 0.0 } else { 1.0 },
            )),
            V::Cat(_) => Err(PlaintextError::Internal(
                "a category used as a number".into(),
            )),
        }
    }

    pub(super) fn truth(self) -> Result<(bool, bool), PlaintextError> {
        match self {
            V::Bool { b, sure } => Ok((b, sure)),
            _ => Err(PlaintextError::Internal(
                "a non-boolean used as a condition".into(),
            )),
        }
    }
}

/// Evaluates `e` on one row. `row` holds stored units; `columns[i]` is column `i`'s type (its
/// decimal scale for fixed-point columns).
pub(super) fn eval(e: &TypedExpr, row: &[i64], columns: &[ValueType]) -> Result<V, PlaintextError> {
    match &e.kind {
        TypedExprKind::Column { index, .. } => {
            let units = *row
                .get(*index)
                .ok_or_else(|| PlaintextError::Internal(format!("no column {index} in a row")))?;
            Ok(match columns.get(*index) {
                Some(ValueType::Bool) => V::Bool {
                    b: units != 0,
                    sure: true,
                },
                Some(ValueType::Category(_)) => V::Cat(units),
                Some(ValueType::Fixed(s)) => V::Num {
                    q: Q::units(units, *s)?,
                    err: 0.0,
                },
                _ => V::Num {
                    q: Q::int(units),
                    err: 0.0,
                },
            })
        }
        TypedExprKind::Int(v) => Ok(V::Num {
            q: Q::int(*v),
            err: 0.0,
        }),
        TypedExprKind::Fixed { units, scale } => Ok(V::Num {
            q: Q::units(*units, *scale)?,
            err: 0.0,
        }),
        TypedExprKind::Bool(b) => Ok(V::Bool { b: *b, sure: true }),
        TypedExprKind::Label { index, .. } => {
            Ok(V::Cat(i64::try_from(*index).map_err(|_| overflow())?))
        }
        TypedExprKind::Convert(inner) => {
            let v = eval(inner, row, columns)?;
            // Every conversion is exact (a scale change, or a boolean to 0/1).
            match (v, e.ty) {
                (V::Bool { .. }, ValueType::Bool) => Ok(v),
                (V::Cat(_), _) => Ok(v),
                _ => {
                    let (q, err) = v.num()?;
                    Ok(V::Num { q, err })
                }
            }
        }
        TypedExprKind::Neg(inner) => {
            let (q, err) = eval(inner, row, columns)?.num()?;
            Ok(V::Num { q: q.neg(), err })
        }
        TypedExprKind::Arith { op, lhs, rhs } => {
            let (a, ea) = eval(lhs, row, columns)?.num()?;
            let (b, eb) = eval(rhs, row, columns)?.num()?;
            match op {
                ArithOp::Add => Ok(V::Num {
                    q: a.add(b)?,
                    err: ea + eb,
                }),
                ArithOp::Sub => Ok(V::Num {
                    q: a.sub(b)?,
                    err: ea + eb,
                }),
                // The MPC keeps the exact product (scale sa + sb): no rounding of its own.
                ArithOp::Mul => Ok(V::Num {
                    q: a.mul(b)?,
                    err: a.to_f64().abs() * eb + b.to_f64().abs() * ea + ea * eb,
                }),
                ArithOp::Div => {
                    let Some(q) = a.div(b)? else {
                        // A zero divisor only occurs where the checker proved the quotient
                        // irrelevant (a discarded CASE arm or AND/OR side): any value will do.
                        return Ok(V::Num {
                            q: Q::ZERO,
                            err: 0.0,
                        });
                    };
                    // Rounded to the result scale by probabilistic truncation: less than one
                    // unit off; two units of margin cover the rounding of the reciprocal too.
                    let scale = e.ty.scale().unwrap_or(0);
                    let unit = 10f64.powi(-i32::from(scale));
                    let bf = b.to_f64().abs();
                    let propagated = if bf > 0.0 {
                        ea / bf + q.to_f64().abs() * eb / bf
                    } else {
                        0.0
                    };
                    Ok(V::Num {
                        q,
                        err: propagated + 2.0 * unit,
                    })
                }
            }
        }
        TypedExprKind::Compare { op, lhs, rhs } => {
            let l = eval(lhs, row, columns)?;
            let r = eval(rhs, row, columns)?;
            let (ordering, sure) = match (l, r) {
                (V::Cat(a), V::Cat(b)) => (a.cmp(&b), true),
                (V::Bool { b: a, sure: sa }, V::Bool { b: c, sure: sb }) => (a.cmp(&c), sa && sb),
                _ => {
                    let (a, ea) = l.num()?;
                    let (b, eb) = r.num()?;
                    let ordering = a.cmp(b)?;
                    let margin = ea + eb;
                    let close = margin > 0.0 && (a.to_f64() - b.to_f64()).abs() <= margin;
                    (ordering, !close)
                }
            };
            let b = match op {
                CmpOp::Eq => ordering == Ordering::Equal,
                CmpOp::Ne => ordering != Ordering::Equal,
                CmpOp::Lt => ordering == Ordering::Less,
                CmpOp::Le => ordering != Ordering::Greater,
                CmpOp::Gt => ordering == Ordering::Greater,
                CmpOp::Ge => ordering != Ordering::Less,
            };
            Ok(V::Bool { b, sure })
        }
        TypedExprKind::And(a, b) => {
            let (x, sx) = eval(a, row, columns)?.truth()?;
            let (y, sy) = eval(b, row, columns)?.truth()?;
            // A sure `false` on either side decides it.
            let decided = (!x && sx) || (!y && sy);
            Ok(V::Bool {
                b: x && y,
                sure: decided || (sx && sy),
            })
        }
        TypedExprKind::Or(a, b) => {
            let (x, sx) = eval(a, row, columns)?.truth()?;
            let (y, sy) = eval(b, row, columns)?.truth()?;
            let decided = (x && sx) || (y && sy);
            Ok(V::Bool {
                b: x || y,
                sure: decided || (sx && sy),
            })
        }
        TypedExprKind::Not(a) => {
            let (x, sx) = eval(a, row, columns)?.truth()?;
            Ok(V::Bool { b: !x, sure: sx })
        }
        TypedExprKind::Case { arms, otherwise } => {
            // The exact answer is the first arm whose condition holds. If an unsure condition
            // comes before it, the MPC may pick another arm: widen the bound to cover every arm
            // it could pick.
            let mut candidates: Vec<V> = Vec::new();
            let mut chosen: Option<V> = None;
            let mut decided = false;
            for (cond, value) in arms {
                let (holds, sure) = eval(cond, row, columns)?.truth()?;
                if !holds && sure {
                    continue;
                }
                let v = eval(value, row, columns)?;
                if holds && chosen.is_none() {
                    chosen = Some(v);
                }
                candidates.push(v);
                if holds && sure {
                    decided = true;
                    break;
                }
            }
            if !decided {
                let v = eval(otherwise, row, columns)?;
                if chosen.is_none() {
                    chosen = Some(v);
                }
                candidates.push(v);
            }
            let chosen = chosen.ok_or_else(|| PlaintextError::Internal("empty CASE".into()))?;
            if candidates.len() <= 1 {
                return Ok(chosen);
            }
            match chosen {
                V::Num { q, err } => {
                    let mut bound = err;
                    for c in &candidates {
                        let (cq, ce) = c.num()?;
                        bound = bound.max((cq.to_f64() - q.to_f64()).abs() + ce);
                    }
                    Ok(V::Num { q, err: bound })
                }
                V::Bool { b, .. } => Ok(V::Bool { b, sure: false }),
                // Category CASE values are compared later; an unsure pick is passed on as is.
                V::Cat(_) => Ok(chosen),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rationals_are_exact() {
        let tenth = Q::units(1, 1).unwrap();
        let fifth = Q::units(2, 1).unwrap();
        let three_tenths = Q::units(3, 1).unwrap();
        assert_eq!(tenth.add(fifth).unwrap(), three_tenths);
        assert_eq!(
            tenth.add(fifth).unwrap().cmp(three_tenths).unwrap(),
            Ordering::Equal
        );
        let third = Q::ONE.div(Q::int(3)).unwrap().unwrap();
        assert_eq!(third.mul(Q::int(3)).unwrap(), Q::ONE);
        assert_eq!(Q::ONE.div(Q::ZERO).unwrap(), None);
        assert_eq!(Q::units(-250, 2).unwrap(), Q::new(-5, 2).unwrap());
        assert_eq!(
            Q::int(7).sub(Q::units(5, 1).unwrap()).unwrap().to_f64(),
            6.5
        );
        assert!(
            Q::int(i64::MAX)
                .mul(Q::int(i64::MAX))
                .unwrap()
                .mul(Q::int(4))
                .is_err()
        );
    }
}
