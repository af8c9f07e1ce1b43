//! EXPLAIN: the cost of a [`Program`] before it runs, from a model that mirrors the protocols
//! call for call (rounds, multiplication gates, comparisons, random bits, and field elements sent
//! per party). The test suite checks the model against the counters of real runs.

use serde::Serialize;

use super::{Kind, Op, Program, is_interactive};
use crate::protocol::{AUTO_PRSS_MAX_KEY_SETS, MANTISSA_BITS};

/// Predicted cost of running a program, per party.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Communication rounds.
    pub rounds: u64,
    /// Multiplication gates (an inner product counts as one).
    pub multiplications: u64,
    /// Comparisons (less-than and equality tests of secret values).
    pub comparisons: u64,
    /// Shared random bits consumed.
    pub random_bits: u64,
    /// Bytes of field elements one party sends on average (framing excluded).
    pub bytes_per_party: u64,
}

const NEWTON_BITS: u32 = 38;
const EXPONENT_BITS: u32 = 12;

struct Model {
    n: u64,
    t: u64,
    prss: bool,
    cost: Cost,
    /// Field elements sent by all parties together (divided by n at the end).
    elements_total: u64,
}

impl Model {
    fn mul(&mut self, len: u64) {
        if !self.prss {
            let columns = len.div_ceil(self.n - self.t);
            self.elements_total += self.n * 2 * columns * (self.n - 1);
            self.cost.rounds += 1;
        }
        self.elements_total += (2 * self.t + self.n - 1) * len;
        self.cost.multiplications += len;
        self.cost.rounds += 2;
    }

    fn open(&mut self, len: u64) {
        self.elements_total += self.n * (self.n - 1) * len;
        self.cost.rounds += 1;
    }

    fn open_to(&mut self, len: u64) {
        self.elements_total += self.n * len;
        self.cost.rounds += 1;
    }

    fn deal(&mut self, count: u64) {
        self.elements_total += (self.t + 1) * (self.n - 1) * count;
        self.cost.rounds += 1;
    }

    fn random_bits(&mut self, count: u64) {
        self.cost.random_bits += count;
        self.deal(count);
        let mut operands = self.t + 1;
        while operands > 1 {
            let pairs = operands / 2;
            self.mul(pairs * count);
            operands = pairs + operands % 2;
        }
    }

    fn masks(&mut self, count: u64, m: u32) {
        self.random_bits(count * u64::from(m));
        self.deal(count);
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

    fn mod2m(&mut self, len: u64, m: u32) {
        self.masks(len, m);
        self.open(len);
        self.bit_lt(len, m);
    }

    fn trunc_pr(&mut self, len: u64, m: u32) {
        self.masks(len, m);
        self.open(len);
    }

    fn ltz(&mut self, len: u64, k: u32) {
        self.cost.comparisons += len;
        self.mod2m(len, k - 1);
    }

    fn eqz(&mut self, len: u64, k: u32) {
        self.cost.comparisons += len;
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
            self.mod2m(len, width - k);
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
        self.mod2m(len, bits - MANTISSA_BITS);
    }

    fn canonical_zero(&mut self, len: u64) {
        self.mul(3 * len);
    }

    fn fixed_mul(&mut self, len: u64, shift: u32) {
        self.mul(len);
        self.trunc_pr(len, shift);
    }

    fn float_mul(&mut self, len: u64) {
        self.mul(3 * len);
        self.renormalize(len, 2 * MANTISSA_BITS);
        self.canonical_zero(len);
    }

    fn float_div(&mut self, len: u64) {
        for _ in 0..4 {
            self.fixed_mul(len, NEWTON_BITS);
            self.fixed_mul(len, NEWTON_BITS);
        }
        self.mul(2 * len);
        self.renormalize(len, MANTISSA_BITS + NEWTON_BITS + 1);
        self.canonical_zero(len);
    }

    fn float_sqrt(&mut self, len: u64) {
        self.mod2m(len, 1);
        self.mul(len);
        for _ in 0..5 {
            self.fixed_mul(len, NEWTON_BITS);
            self.fixed_mul(len, NEWTON_BITS);
            self.fixed_mul(len, NEWTON_BITS + 1);
        }
        self.fixed_mul(len, NEWTON_BITS);
        self.mod2m(len, NEWTON_BITS - MANTISSA_BITS);
        self.canonical_zero(len);
    }

    fn float_to_fixed(&mut self, len: u64, bits: u32) {
        // The shift's one-hot spans bits + (K + 1) + 1 − K positions, plus one comparison.
        let span = bits + 2;
        self.ltz(len * u64::from(span + 1), EXPONENT_BITS + 2);
        self.mul(len);
        self.trunc_pr(len, MANTISSA_BITS + 1);
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

/// Predicts the cost of running `program` with a committee of `n` parties and threshold `t`,
/// double sharings from PRSS exactly when [`crate::protocol::RandomnessSource::Auto`] would
/// choose it. Session set-up (PRSS keys) and loading the inputs are not included.
pub fn estimate(program: &Program, n: usize, t: usize) -> Cost {
    let key_sets = {
        let mut c: usize = 1;
        for k in 0..t {
            c = c.saturating_mul(n - k) / (k + 1);
        }
        c
    };
    let mut model = Model {
        n: n as u64,
        t: t as u64,
        prss: key_sets <= AUTO_PRSS_MAX_KEY_SETS,
        cost: Cost::default(),
        elements_total: 0,
    };
    let levels = program.levels();
    let max_level = levels.iter().copied().max().unwrap_or(0);
    for level in 1..=max_level {
        let mut muls = 0u64;
        let mut dots = 0u64;
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
                Op::Dot(..) => dots += 1,
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
            model.mul(dots);
        }
        for (bits, len) in lts {
            model.ltz(len, bits + 1);
        }
        for (bits, len) in eqs {
            model.eqz(len, bits + 1);
        }
        for ((_, shift), len) in truncs {
            model.trunc_pr(len, shift);
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
        model.open(gate_len);
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
