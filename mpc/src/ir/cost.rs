//! EXPLAIN: the cost of a [`Program`] before it runs, from a model that mirrors the protocols
//! call for call (rounds, multiplication gates, comparisons, random bits, and field elements sent
//! per party), at either security level. The test suite checks the model against the counters of
//! real runs, semi-honest and malicious.
//!
//! In a malicious session ([`Security::Malicious`], see `protocol::verify`) every recorded
//! product is checked by [`crate::protocol::Session::verify`]: one extra multiplication per
//! recorded term (a multiplication gate records one term, an inner product of length `L` records
//! `L`, a random bit records its claim `b = b·b`), plus three for the check itself, and eight
//! rounds with PRSS double sharings (thirteen with hyper-invertible batches). A check runs each
//! time `random_bits` refills its pool of verified bits (batches from [`FIRST_BIT_BATCH`]
//! doubling to [`MAX_BIT_BATCH`], or what a call asks for if more), before the first opening of
//! the gates or the outputs, and before any multiplication that finds [`VERIFY_BATCH`] terms
//! pending. Bounded random masks come
//! from PRSS there (no dealing round), and the set-up confirms the PRSS keys (one more round).

use serde::Serialize;

use super::{Kind, Op, Program, is_interactive};
use crate::protocol::{
    AUTO_PRSS_MAX_KEY_SETS, FIRST_BIT_BATCH, MALICIOUS_MAX_KEY_SETS, MANTISSA_BITS, MAX_BIT_BATCH,
    Security, VERIFY_BATCH, max_comparison_bits,
};

/// Predicted cost of running a program, per party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Communication rounds (session set-up and input loading excluded: see `setup_rounds`).
    pub rounds: u64,
    /// Multiplication gates (an inner product counts as one), the verification's included.
    pub multiplications: u64,
    /// Of `multiplications`, those of the malicious verification (0 in a semi-honest session).
    pub verification_multiplications: u64,
    /// Comparisons (less-than and equality tests of secret values).
    pub comparisons: u64,
    /// Shared random bits consumed.
    pub random_bits: u64,
    /// Bytes of field elements one party sends on average (framing excluded).
    pub bytes_per_party: u64,
    /// Rounds of the session's set-up, before the program runs (not in `rounds`): the PRSS key
    /// set-up when the session uses PRSS, and in a malicious session the key confirmation (and
    /// the PRSS set-up if the session's double sharings come from hyper-invertible batches).
    pub setup_rounds: u64,
    /// The widest comparison or truncation the program runs, in bits: a committee whose
    /// [`crate::protocol::max_comparison_bits`] is smaller cannot run it.
    pub comparison_bits: u32,
}

/// Why a committee cannot run a program at a security level ([`estimate_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// Malicious security needs `n = 2t + 1`.
    #[error(
        "malicious security needs a committee of exactly 2t + 1 members, not n = {n} with t = {t}"
    )]
    NotTwoTPlusOne {
        /// Committee size.
        n: usize,
        /// Threshold.
        t: usize,
    },
    /// Malicious security needs PRSS keys, at most [`MALICIOUS_MAX_KEY_SETS`] key sets.
    #[error(
        "malicious security needs PRSS keys, and a committee of {n} members is too large for them (at most 9)"
    )]
    TooManyMembers {
        /// Committee size.
        n: usize,
    },
    /// The program compares or truncates wider values than the committee can at this level.
    #[error(
        "the program compares or truncates {needed}-bit values; a {security} committee of n = {n}, t = {t} handles at most {allowed} bits"
    )]
    TooWide {
        /// The widest comparison or truncation of the program.
        needed: u32,
        /// The committee's bound at this level.
        allowed: u32,
        /// The level.
        security: Security,
        /// Committee size.
        n: usize,
        /// Threshold.
        t: usize,
    },
}

const NEWTON_BITS: u32 = 38;
const EXPONENT_BITS: u32 = 12;

struct Model {
    n: u64,
    t: u64,
    prss: bool,
    malicious: bool,
    cost: Cost,
    /// Field elements sent by all parties together (divided by n at the end).
    elements_total: u64,
    /// Terms recorded and not yet verified (malicious).
    pending_terms: u64,
    /// Gates (and claims) recorded and not yet verified (malicious).
    pending_gates: u64,
    /// Verified random bits made and not used yet (malicious).
    pooled_bits: u64,
    /// The next refill of the pool (malicious).
    next_bit_batch: u64,
}

impl Model {
    /// `count` random double sharings (or random sharings): free with PRSS, one round of
    /// hyper-invertible batches otherwise.
    fn double_randoms(&mut self, count: u64) {
        if !self.prss {
            let columns = count.div_ceil(self.n - self.t);
            self.elements_total += self.n * 2 * columns * (self.n - 1);
            self.cost.rounds += 1;
        }
    }

    /// `len` Damgård–Nielsen gates (products or inner products), not recorded.
    fn products(&mut self, len: u64) {
        self.double_randoms(len);
        self.elements_total += (2 * self.t + self.n - 1) * len;
        self.cost.multiplications += len;
        self.cost.rounds += 2;
    }

    /// `Session::mul` of `len` gates.
    fn mul(&mut self, len: u64) {
        self.dot(len, len);
    }

    /// `Session::dot` of `rows` inner products with `terms` terms in all (`Session::mul`: one
    /// term per gate). A malicious session verifies a full batch first and records the terms.
    fn dot(&mut self, rows: u64, terms: u64) {
        if self.malicious && self.pending_terms + self.pending_gates >= VERIFY_BATCH as u64 {
            self.verify();
        }
        self.products(rows);
        if self.malicious {
            self.pending_terms += terms;
            self.pending_gates += rows;
        }
    }

    /// `Session::verify`: nothing unless a malicious session has something pending.
    fn verify(&mut self) {
        if !self.malicious || self.pending_gates == 0 {
            return;
        }
        let terms = std::mem::take(&mut self.pending_terms);
        self.pending_gates = 0;
        let before = self.cost.multiplications;
        self.double_randoms(2); // the key [r] and the blind [β]
        self.products(terms); // [r]·[x_j]
        self.double_randoms(1); // the seed α …
        self.open(1); // … opened
        self.products(2); // D and R, one inner-product call
        self.products(1); // β·(D − R) …
        self.open(1); // … opened
        self.cost.verification_multiplications += self.cost.multiplications - before;
    }

    /// An opening to every party, unverified (masked values).
    fn open(&mut self, len: u64) {
        self.elements_total += self.n * (self.n - 1) * len;
        self.cost.rounds += 1;
    }

    /// `Session::open`: verifies first.
    fn open_verified(&mut self, len: u64) {
        self.verify();
        self.open(len);
    }

    /// `Session::open_to`: verifies first.
    fn open_to(&mut self, len: u64) {
        self.verify();
        self.elements_total += self.n * len;
        self.cost.rounds += 1;
    }

    fn deal(&mut self, count: u64) {
        self.elements_total += (self.t + 1) * (self.n - 1) * count;
        self.cost.rounds += 1;
    }

    /// `Session::random_bits`: dealt at once (semi-honest), or drawn from the pool of verified
    /// bits, refilled in doubling batches (malicious).
    fn random_bits(&mut self, count: u64) {
        self.cost.random_bits += count;
        if !self.malicious {
            self.dealt_bits(count);
            return;
        }
        if self.pooled_bits < count {
            let more = (count - self.pooled_bits).max(self.next_bit_batch);
            self.next_bit_batch = (self.next_bit_batch * 2).min(MAX_BIT_BATCH as u64);
            self.dealt_bits(more);
            self.pooled_bits += more;
        }
        self.pooled_bits -= count;
    }

    /// Bits from the rotating dealers, verified in a malicious session.
    fn dealt_bits(&mut self, count: u64) {
        self.deal(count);
        let mut operands = self.t + 1;
        while operands > 1 {
            let pairs = operands / 2;
            self.mul(pairs * count);
            operands = pairs + operands % 2;
        }
        if self.malicious {
            // The claims b = b·b, verified at once.
            self.pending_terms += count;
            self.pending_gates += count;
            self.verify();
        }
    }

    fn masks(&mut self, count: u64, m: u32) {
        self.random_bits(count * u64::from(m));
        if !self.malicious {
            // Bounded random integers: dealt (semi-honest) or from PRSS (malicious, free).
            self.deal(count);
        }
    }

    fn bit_lt(&mut self, len: u64, m: u32) {
        let mut width = u64::from(m);
        while width > 1 {
            let pairs = width / 2;
            let odd = width % 2;
            let last = pairs + odd == 1;
            self.mul(len * pairs * if last { 1 } else { 2 });
            width = pairs + odd;
        }
    }

    fn product_tree(&mut self, len: u64, width: u32) {
        let mut width = u64::from(width);
        while width > 1 {
            let pairs = width / 2;
            self.mul(len * pairs);
            width = pairs + width % 2;
        }
    }

    /// A comparison or truncation of `k`-bit values: the committee must allow `k` bits.
    fn needs(&mut self, k: u32) {
        self.cost.comparison_bits = self.cost.comparison_bits.max(k);
    }

    fn mod2m(&mut self, len: u64, k: u32, m: u32) {
        self.needs(k);
        self.masks(len, m);
        self.open(len);
        self.bit_lt(len, m);
    }

    fn trunc_pr(&mut self, len: u64, k: u32, m: u32) {
        self.needs(k);
        self.masks(len, m);
        self.open(len);
    }

    fn ltz(&mut self, len: u64, k: u32) {
        self.cost.comparisons += len;
        self.mod2m(len, k, k - 1);
    }

    fn eqz(&mut self, len: u64, k: u32) {
        self.cost.comparisons += len;
        self.needs(k);
        self.masks(len, k);
        self.open(len);
        self.product_tree(len, k);
    }

    fn extremum(&mut self, vectors: u64, len: u64, bits: u32) {
        let mut width = len;
        while width > 1 {
            let pairs = width / 2;
            self.ltz(vectors * pairs, bits + 1);
            self.mul(vectors * pairs);
            width = pairs + width % 2;
        }
    }

    fn normalize(&mut self, len: u64, bits: u32) {
        let k = MANTISSA_BITS;
        let width = bits.max(k);
        self.ltz(len * u64::from(width), width + 1);
        self.mul(len);
        if width > k {
            self.mod2m(len, width + 1, width - k);
        }
    }

    fn float_from_int(&mut self, len: u64, bits: u32) {
        self.ltz(len, bits + 1);
        self.mul(len);
        self.normalize(len, bits);
    }

    fn renormalize(&mut self, len: u64, bits: u32) {
        self.ltz(len, bits + 1);
        self.mul(len);
        self.mod2m(len, bits + 2, bits - MANTISSA_BITS);
    }

    fn canonical_zero(&mut self, len: u64) {
        self.mul(3 * len);
    }

    /// A fixed-point product of `k`-bit values, `shift` bits dropped.
    fn fixed_mul(&mut self, len: u64, k: u32, shift: u32) {
        self.mul(len);
        self.trunc_pr(len, k, shift);
    }

    fn float_mul(&mut self, len: u64) {
        self.mul(3 * len);
        self.renormalize(len, 2 * MANTISSA_BITS);
        self.canonical_zero(len);
    }

    fn float_div(&mut self, len: u64) {
        let f = NEWTON_BITS;
        for _ in 0..4 {
            self.fixed_mul(len, 2 * f + 2, f);
            self.fixed_mul(len, 2 * f + 3, f);
        }
        self.mul(2 * len);
        self.renormalize(len, MANTISSA_BITS + NEWTON_BITS + 1);
        self.canonical_zero(len);
    }

    fn float_sqrt(&mut self, len: u64) {
        let f = NEWTON_BITS;
        self.mod2m(len, EXPONENT_BITS, 1);
        self.mul(len);
        for _ in 0..5 {
            self.fixed_mul(len, 2 * f + 3, f);
            self.fixed_mul(len, 2 * f + 3, f);
            self.fixed_mul(len, 2 * f + 4, f + 1);
        }
        self.fixed_mul(len, 2 * f + 3, f);
        self.mod2m(len, f + 2, f - MANTISSA_BITS);
        self.canonical_zero(len);
    }

    fn float_to_fixed(&mut self, len: u64, bits: u32) {
        // The shift's one-hot spans bits + (K + 1) + 1 − K positions, plus one comparison.
        let span = bits + 2;
        // `Session::float_to_fixed` refuses bits + (K + 1) + 2 above the committee's bound.
        self.needs(bits + MANTISSA_BITS + 3);
        self.ltz(len * u64::from(span + 1), EXPONENT_BITS + 2);
        self.mul(len);
        self.trunc_pr(len, bits + MANTISSA_BITS + 2, MANTISSA_BITS + 1);
        self.mul(len);
    }

    fn float_add(&mut self, len: u64) {
        let k = MANTISSA_BITS;
        self.ltz(len, k + EXPONENT_BITS + 2);
        self.mul(3 * len);
        self.ltz(len * u64::from(k + 2), EXPONENT_BITS + 2);
        self.mul(2 * len);
        self.mul(len);
        self.normalize(len, 2 * k + 2);
        self.canonical_zero(len);
    }
}

/// Predicts the cost of running `program` in a semi-honest session of `n` parties with threshold
/// `t`, whether or not the committee can compare values as wide as the program needs (see
/// [`estimate_with`], which checks).
pub fn estimate(program: &Program, n: usize, t: usize) -> Cost {
    let key_sets = key_sets(n, t);
    run_model(program, n, t, key_sets, false)
}

/// Predicts the cost of running `program` with a committee of `n` parties and threshold `t` at
/// `security`, or why that committee cannot run it at that level (a malicious session needs
/// `n = 2t + 1` and at most 9 members, as `Session::set_security` requires; every level needs the
/// program's widest comparison within [`crate::protocol::max_comparison_bits`]). Double sharings
/// come from PRSS exactly when [`crate::protocol::RandomnessSource::Auto`] would choose it.
/// `rounds` excludes the session set-up (counted in `setup_rounds`) and loading the inputs.
pub fn estimate_with(
    program: &Program,
    n: usize,
    t: usize,
    security: Security,
) -> Result<Cost, Unsupported> {
    let malicious = security == Security::Malicious;
    let key_sets = key_sets(n, t);
    if malicious && n != 2 * t + 1 {
        return Err(Unsupported::NotTwoTPlusOne { n, t });
    }
    if malicious && key_sets > MALICIOUS_MAX_KEY_SETS {
        return Err(Unsupported::TooManyMembers { n });
    }
    let cost = run_model(program, n, t, key_sets, malicious);
    let allowed = max_comparison_bits(n, t, security);
    if cost.comparison_bits > allowed {
        return Err(Unsupported::TooWide {
            needed: cost.comparison_bits,
            allowed,
            security,
            n,
            t,
        });
    }
    Ok(cost)
}

/// `C(n, t)`, saturating.
fn key_sets(n: usize, t: usize) -> usize {
    let mut c: usize = 1;
    for k in 0..t {
        c = c.saturating_mul(n - k) / (k + 1);
    }
    c
}

fn run_model(program: &Program, n: usize, t: usize, key_sets: usize, malicious: bool) -> Cost {
    let prss = key_sets <= AUTO_PRSS_MAX_KEY_SETS;
    let mut model = Model {
        n: n as u64,
        t: t as u64,
        prss,
        malicious,
        cost: Cost::default(),
        elements_total: 0,
        pending_terms: 0,
        pending_gates: 0,
        pooled_bits: 0,
        next_bit_batch: FIRST_BIT_BATCH as u64,
    };
    // PRSS keys when the session uses them; a malicious session has them in any case and
    // confirms them (one round each).
    model.cost.setup_rounds = u64::from(prss || malicious) + u64::from(malicious);
    let levels = program.levels();
    let max_level = levels.iter().copied().max().unwrap_or(0);
    for level in 1..=max_level {
        let mut muls = 0u64;
        let mut dots = 0u64;
        let mut dot_terms = 0u64;
        let mut lts: std::collections::BTreeMap<u32, u64> = Default::default();
        let mut eqs: std::collections::BTreeMap<u32, u64> = Default::default();
        let mut truncs: std::collections::BTreeMap<(u32, u32), u64> = Default::default();
        let mut extrema: std::collections::BTreeMap<(u32, bool, u64), u64> = Default::default();
        let mut to_float: std::collections::BTreeMap<u32, u64> = Default::default();
        let mut floats = [0u64; 5];
        let mut to_fixed: std::collections::BTreeMap<(u32, u32), u64> = Default::default();
        for (id, node) in program.nodes.iter().enumerate() {
            if levels[id] != level || !is_interactive(&node.op) {
                continue;
            }
            let len = node.len as u64;
            match &node.op {
                Op::Mul(..) => muls += len,
                Op::Dot(a, _) => {
                    dots += 1;
                    dot_terms += program.nodes[*a].len as u64;
                }
                Op::Lt { bits, .. } => *lts.entry(*bits).or_default() += len,
                Op::Eq { bits, .. } => *eqs.entry(*bits).or_default() += len,
                Op::TruncPr { bits, shift, .. } => {
                    *truncs.entry((*bits, *shift)).or_default() += len
                }
                Op::Extremum { a, bits, which } => {
                    let key = (
                        *bits,
                        *which == crate::protocol::Extremum::Max,
                        program.nodes[*a].len as u64,
                    );
                    *extrema.entry(key).or_default() += 1;
                }
                Op::ToFloat { bits, .. } => *to_float.entry(*bits).or_default() += len,
                Op::FloatMul(..) => floats[0] += len,
                Op::FloatDiv(..) => floats[1] += len,
                Op::FloatAdd(..) => floats[2] += len,
                Op::FloatSub(..) => floats[3] += len,
                Op::FloatSqrt(..) => floats[4] += len,
                Op::FloatToFixed {
                    fraction_bits,
                    bits,
                    ..
                } => *to_fixed.entry((*bits, *fraction_bits)).or_default() += len,
                _ => {}
            }
        }
        if muls > 0 {
            model.mul(muls);
        }
        if dots > 0 {
            model.dot(dots, dot_terms);
        }
        for (bits, len) in lts {
            model.ltz(len, bits + 1);
        }
        for (bits, len) in eqs {
            model.eqz(len, bits + 1);
        }
        for ((bits, shift), len) in truncs {
            model.trunc_pr(len, bits, shift);
        }
        for ((bits, _, len), vectors) in extrema {
            model.extremum(vectors, len, bits);
        }
        for (bits, len) in to_float {
            model.float_from_int(len, bits);
        }
        if floats[0] > 0 {
            model.float_mul(floats[0]);
        }
        if floats[1] > 0 {
            model.float_div(floats[1]);
        }
        if floats[2] + floats[3] > 0 {
            // Additions and subtractions run as separate calls.
            if floats[2] > 0 {
                model.float_add(floats[2]);
            }
            if floats[3] > 0 {
                model.float_add(floats[3]);
            }
        }
        if floats[4] > 0 {
            model.float_sqrt(floats[4]);
        }
        for ((bits, _), len) in to_fixed {
            model.float_to_fixed(len, bits);
        }
    }
    let mut gates: Vec<usize> = Vec::new();
    for o in &program.outputs {
        if let Some(g) = o.gate
            && !gates.contains(&g)
        {
            gates.push(g);
        }
    }
    let gate_len: u64 = gates.iter().map(|g| program.nodes[*g].len as u64).sum();
    if gate_len > 0 {
        model.open_verified(gate_len);
        model.open_to(gate_len);
    }
    let released: u64 = program
        .outputs
        .iter()
        .map(|o| {
            let node = &program.nodes[o.node];
            node.len as u64 * if node.kind == Kind::Float { 4 } else { 1 }
        })
        .sum();
    model.open_to(released);
    let mut cost = model.cost;
    cost.bytes_per_party = model.elements_total * 16 / model.n.max(1);
    cost
}
