//! Running a [`Program`]: every committee member calls [`execute`] on its shares of the input
//! columns; the receiver (an outside endpoint, the researcher) calls [`receive`].
//!
//! Level by level, all interactive nodes of one kind and one parameter set run as one protocol
//! call on their concatenated operands; free nodes are computed locally. At the end the gates
//! (the minimum-cohort bits) are opened to the committee and the receiver, then the outputs whose
//! gate is 1 are opened to the receiver only.

use std::collections::BTreeMap;

use super::{Decode, IrError, Kind, Node, NodeId, Op, Program, is_interactive};
use crate::field::{Field, Mp127};
use crate::protocol::{
    Extremum, OutsideParty, ProtocolError, SecretFloats, Session, decode_floats,
};
use crate::transport::Transport;

/// Why a program could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The program is malformed.
    #[error(transparent)]
    Ir(#[from] IrError),
    /// A protocol step failed.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The input columns do not match the program.
    #[error(
        "the program expects {expected_columns} columns of {expected_rows} rows; got {got_columns} columns, column {column} has {got_rows} rows"
    )]
    Inputs {
        /// Columns expected.
        expected_columns: usize,
        /// Rows expected.
        expected_rows: usize,
        /// Columns given.
        got_columns: usize,
        /// The first offending column.
        column: usize,
        /// Its length.
        got_rows: usize,
    },
}

#[derive(Debug, Clone)]
enum Value {
    Ints(Vec<Mp127>),
    Floats(SecretFloats),
}

/// What a committee member learns from running a program: the opened gate bits, in output order
/// (one vector per output with a gate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryOutcome {
    /// For each output, the gate bits (all true for ungated outputs).
    pub released: Vec<Vec<bool>>,
}

/// One output as the receiver reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedOutput {
    /// The output's label.
    pub name: String,
    /// The values; `None` where the gate withheld the element (cohort too small).
    pub values: Vec<Option<f64>>,
    /// For decimal outputs, the exact integer and its decimal scale.
    pub exact: Vec<Option<(i128, u32)>>,
}

fn field_from_i128(v: i128) -> Mp127 {
    let magnitude = Mp127::new(v.unsigned_abs());
    if v < 0 { -magnitude } else { magnitude }
}

fn broadcast(v: &[Mp127], len: usize) -> Vec<Mp127> {
    if v.len() == len {
        v.to_vec()
    } else {
        vec![v.first().copied().unwrap_or(Mp127::ZERO); len]
    }
}

fn broadcast_floats(f: &SecretFloats, len: usize) -> SecretFloats {
    if f.len() == len {
        return f.clone();
    }
    SecretFloats {
        mantissa: broadcast(&f.mantissa, len),
        exponent: broadcast(&f.exponent, len),
        sign: broadcast(&f.sign, len),
        zero: broadcast(&f.zero, len),
    }
}

struct Runner<'s, T: Transport> {
    session: &'s mut Session<Mp127, T>,
    program: &'s Program,
    values: Vec<Option<Value>>,
}

impl<T: Transport> Runner<'_, T> {
    fn ints(&self, id: NodeId) -> Result<&[Mp127], ExecError> {
        match self.values.get(id) {
            Some(Some(Value::Ints(v))) => Ok(v),
            _ => Err(IrError::WrongKind {
                node: id,
                input: id,
            }
            .into()),
        }
    }

    fn floats(&self, id: NodeId) -> Result<&SecretFloats, ExecError> {
        match self.values.get(id) {
            Some(Some(Value::Floats(v))) => Ok(v),
            _ => Err(IrError::WrongKind {
                node: id,
                input: id,
            }
            .into()),
        }
    }

    fn free(&mut self, id: NodeId, node: &Node, inputs: &[Vec<Mp127>]) -> Result<(), ExecError> {
        let value = match &node.op {
            Op::Input { column } => Value::Ints(inputs[*column].clone()),
            Op::Const { value } => Value::Ints(vec![field_from_i128(*value)]),
            Op::FloatConst { values } => Value::Floats(self.session.float_constants(values)),
            Op::Linear { terms, constant } => {
                let mut out = vec![field_from_i128(*constant); node.len];
                for (term, c) in terms {
                    let c = field_from_i128(*c);
                    let v = self.ints(*term)?;
                    if v.len() == 1 {
                        let add = c * v[0];
                        out.iter_mut().for_each(|o| *o += add);
                    } else {
                        out.iter_mut().zip(v).for_each(|(o, x)| *o += c * *x);
                    }
                }
                Value::Ints(out)
            }
            Op::Sum(a) => Value::Ints(vec![self.ints(*a)?.iter().copied().sum()]),
            Op::Slice { a, start } => {
                let range = *start..*start + node.len;
                match self.values.get(*a) {
                    Some(Some(Value::Ints(v))) => Value::Ints(v[range].to_vec()),
                    Some(Some(Value::Floats(f))) => Value::Floats(f.slice(range)),
                    _ => {
                        return Err(IrError::WrongKind {
                            node: id,
                            input: *a,
                        }
                        .into());
                    }
                }
            }
            Op::Concat(parts) => {
                if node.kind == Kind::Float {
                    let mut out = SecretFloats::default();
                    for p in parts {
                        out = out.concat(self.floats(*p)?);
                    }
                    Value::Floats(out)
                } else {
                    let mut out = Vec::with_capacity(node.len);
                    for p in parts {
                        out.extend_from_slice(self.ints(*p)?);
                    }
                    Value::Ints(out)
                }
            }
            _ => return Ok(()),
        };
        self.values[id] = Some(value);
        Ok(())
    }

    /// Runs all interactive nodes of one level, batched by kind and parameters.
    fn level(&mut self, ids: &[NodeId]) -> Result<(), ExecError> {
        let mut batches: BTreeMap<(u8, u32, u32, usize), Vec<NodeId>> = BTreeMap::new();
        for &id in ids {
            let key = match &self.program.nodes[id].op {
                Op::Mul(..) => (0, 0, 0, 0),
                Op::Dot(..) => (1, 0, 0, 0),
                Op::Lt { bits, .. } => (2, *bits, 0, 0),
                Op::Eq { bits, .. } => (3, *bits, 0, 0),
                Op::TruncPr { bits, shift, .. } => (4, *bits, *shift, 0),
                Op::Extremum { a, bits, which } => (
                    5,
                    *bits,
                    u32::from(*which == Extremum::Max),
                    self.program.nodes[*a].len,
                ),
                Op::ToFloat { bits, .. } => (6, *bits, 0, 0),
                Op::FloatMul(..) => (7, 0, 0, 0),
                Op::FloatDiv(..) => (8, 0, 0, 0),
                Op::FloatAdd(..) => (9, 0, 0, 0),
                Op::FloatSub(..) => (10, 0, 0, 0),
                Op::FloatSqrt(..) => (11, 0, 0, 0),
                Op::FloatToFixed {
                    fraction_bits,
                    bits,
                    ..
                } => (12, *bits, *fraction_bits, 0),
                _ => continue,
            };
            batches.entry(key).or_default().push(id);
        }
        for ((kind, bits, extra, _), batch) in batches {
            self.batch(kind, bits, extra, &batch)?;
        }
        Ok(())
    }

    fn int_pairs(&self, batch: &[NodeId]) -> Result<(Vec<Mp127>, Vec<Mp127>), ExecError> {
        let mut left = Vec::new();
        let mut right = Vec::new();
        for &id in batch {
            let len = self.program.nodes[id].len;
            let (a, b) = match &self.program.nodes[id].op {
                Op::Mul(a, b) | Op::Lt { a, b, .. } | Op::Eq { a, b, .. } => (*a, *b),
                _ => {
                    return Err(IrError::WrongKind {
                        node: id,
                        input: id,
                    }
                    .into());
                }
            };
            left.extend(broadcast(self.ints(a)?, len));
            right.extend(broadcast(self.ints(b)?, len));
        }
        Ok((left, right))
    }

    fn float_pairs(&self, batch: &[NodeId]) -> Result<(SecretFloats, SecretFloats), ExecError> {
        let mut left = SecretFloats::default();
        let mut right = SecretFloats::default();
        for &id in batch {
            let len = self.program.nodes[id].len;
            let (a, b) = match &self.program.nodes[id].op {
                Op::FloatMul(a, b)
                | Op::FloatDiv(a, b)
                | Op::FloatAdd(a, b)
                | Op::FloatSub(a, b) => (*a, *b),
                _ => {
                    return Err(IrError::WrongKind {
                        node: id,
                        input: id,
                    }
                    .into());
                }
            };
            left = left.concat(&broadcast_floats(self.floats(a)?, len));
            right = right.concat(&broadcast_floats(self.floats(b)?, len));
        }
        Ok((left, right))
    }

    fn unary_ints(&self, batch: &[NodeId]) -> Result<Vec<Mp127>, ExecError> {
        let mut all = Vec::new();
        for &id in batch {
            let a = match &self.program.nodes[id].op {
                Op::TruncPr { a, .. } | Op::ToFloat { a, .. } => *a,
                _ => {
                    return Err(IrError::WrongKind {
                        node: id,
                        input: id,
                    }
                    .into());
                }
            };
            all.extend_from_slice(self.ints(a)?);
        }
        Ok(all)
    }

    fn scatter_ints(&mut self, batch: &[NodeId], all: Vec<Mp127>) {
        let mut offset = 0;
        for &id in batch {
            let len = self.program.nodes[id].len;
            self.values[id] = Some(Value::Ints(all[offset..offset + len].to_vec()));
            offset += len;
        }
    }

    fn scatter_floats(&mut self, batch: &[NodeId], all: SecretFloats) {
        let mut offset = 0;
        for &id in batch {
            let len = self.program.nodes[id].len;
            self.values[id] = Some(Value::Floats(all.slice(offset..offset + len)));
            offset += len;
        }
    }

    fn batch(
        &mut self,
        kind: u8,
        bits: u32,
        extra: u32,
        batch: &[NodeId],
    ) -> Result<(), ExecError> {
        match kind {
            0 => {
                let (a, b) = self.int_pairs(batch)?;
                let out = self.session.mul(&a, &b)?;
                self.scatter_ints(batch, out);
            }
            1 => {
                let mut pairs = Vec::new();
                for &id in batch {
                    if let Op::Dot(a, b) = &self.program.nodes[id].op {
                        pairs.push((self.ints(*a)?.to_vec(), self.ints(*b)?.to_vec()));
                    }
                }
                let xs: Vec<&[Mp127]> = pairs.iter().map(|p| p.0.as_slice()).collect();
                let ys: Vec<&[Mp127]> = pairs.iter().map(|p| p.1.as_slice()).collect();
                let out = self.session.dot(&xs, &ys)?;
                self.scatter_ints(batch, out);
            }
            2 | 3 => {
                let (a, b) = self.int_pairs(batch)?;
                let out = if kind == 2 {
                    self.session.lt(&a, &b, bits)?
                } else {
                    self.session.eq(&a, &b, bits)?
                };
                self.scatter_ints(batch, out);
            }
            4 => {
                let a = self.unary_ints(batch)?;
                let out = self.session.trunc_pr(&a, bits, extra)?;
                self.scatter_ints(batch, out);
            }
            5 => {
                let mut vectors = Vec::new();
                for &id in batch {
                    if let Op::Extremum { a, .. } = &self.program.nodes[id].op {
                        vectors.push(self.ints(*a)?.to_vec());
                    }
                }
                let which = if extra == 1 {
                    Extremum::Max
                } else {
                    Extremum::Min
                };
                let out = self.session.extremum(&vectors, bits, which)?;
                self.scatter_ints(batch, out);
            }
            6 => {
                let a = self.unary_ints(batch)?;
                let out = self.session.float_from_int(&a, bits)?;
                self.scatter_floats(batch, out);
            }
            7..=10 => {
                let (a, b) = self.float_pairs(batch)?;
                let out = match kind {
                    7 => self.session.float_mul(&a, &b)?,
                    8 => self.session.float_div(&a, &b)?,
                    9 => self.session.float_add(&a, &b)?,
                    _ => self.session.float_sub(&a, &b)?,
                };
                self.scatter_floats(batch, out);
            }
            12 => {
                let mut all = SecretFloats::default();
                for &id in batch {
                    if let Op::FloatToFixed { a, .. } = &self.program.nodes[id].op {
                        all = all.concat(self.floats(*a)?);
                    }
                }
                let out = self.session.float_to_fixed(&all, extra, bits)?;
                self.scatter_ints(batch, out);
            }
            _ => {
                let mut all = SecretFloats::default();
                for &id in batch {
                    if let Op::FloatSqrt(a) = &self.program.nodes[id].op {
                        all = all.concat(self.floats(*a)?);
                    }
                }
                let out = self.session.float_sqrt(&all)?;
                self.scatter_floats(batch, out);
            }
        }
        Ok(())
    }

    fn flat(&self, id: NodeId) -> Result<Vec<Mp127>, ExecError> {
        match self.values.get(id) {
            Some(Some(Value::Ints(v))) => Ok(v.clone()),
            Some(Some(Value::Floats(f))) => Ok(f.to_flat()),
            _ => Err(IrError::WrongKind {
                node: id,
                input: id,
            }
            .into()),
        }
    }
}

/// The distinct gate nodes of a program, in order of first use.
fn gate_nodes(program: &Program) -> Vec<NodeId> {
    let mut gates: Vec<NodeId> = Vec::new();
    for o in &program.outputs {
        if let Some(g) = o.gate
            && !gates.contains(&g)
        {
            gates.push(g);
        }
    }
    gates
}

/// Elements of an output's flat encoding (floats have four components per element).
fn selected_flat(values: &[Mp127], kind: Kind, keep: &[bool]) -> Vec<Mp127> {
    let len = keep.len();
    let stride = if kind == Kind::Float { 4 } else { 1 };
    let mut out = Vec::new();
    for component in 0..stride {
        for (i, k) in keep.iter().enumerate() {
            if *k {
                out.push(values[component * len + i]);
            }
        }
    }
    out
}

/// Runs `program` on this party's shares of the input columns and opens its outputs to
/// `receiver`.
pub fn execute<T: Transport>(
    session: &mut Session<Mp127, T>,
    program: &Program,
    inputs: &[Vec<Mp127>],
    receiver: usize,
) -> Result<QueryOutcome, ExecError> {
    let bad_column = inputs.iter().position(|c| c.len() != program.rows);
    if inputs.len() != program.columns || bad_column.is_some() {
        let column = bad_column.unwrap_or(0);
        return Err(ExecError::Inputs {
            expected_columns: program.columns,
            expected_rows: program.rows,
            got_columns: inputs.len(),
            column,
            got_rows: inputs.get(column).map_or(0, Vec::len),
        });
    }
    let levels = program.levels();
    let max_level = levels.iter().copied().max().unwrap_or(0);
    let mut runner = Runner {
        session,
        program,
        values: vec![None; program.nodes.len()],
    };
    for level in 0..=max_level {
        let interactive: Vec<NodeId> = (0..program.nodes.len())
            .filter(|&id| levels[id] == level && is_interactive(&program.nodes[id].op))
            .collect();
        runner.level(&interactive)?;
        for (id, node) in program.nodes.iter().enumerate() {
            if levels[id] == level && !is_interactive(&node.op) {
                runner.free(id, node, inputs)?;
            }
        }
    }
    // Gates: opened to the committee (to decide what to release) and to the receiver.
    let gates = gate_nodes(program);
    let mut gate_shares = Vec::new();
    for &g in &gates {
        gate_shares.extend(runner.ints(g)?.iter().copied());
    }
    let opened_gates = if gate_shares.is_empty() {
        Vec::new()
    } else {
        let opened = runner.session.open(&gate_shares)?;
        runner.session.open_to(receiver, &gate_shares)?;
        opened
    };
    let gate_bits = |g: NodeId| -> Vec<bool> {
        let mut offset = 0;
        for &other in &gates {
            let len = program.nodes[other].len;
            if other == g {
                return opened_gates[offset..offset + len]
                    .iter()
                    .map(|b| *b == Mp127::ONE)
                    .collect();
            }
            offset += len;
        }
        Vec::new()
    };
    let mut released = Vec::with_capacity(program.outputs.len());
    let mut payload = Vec::new();
    for output in &program.outputs {
        let node = &program.nodes[output.node];
        let keep = output.gate.map_or_else(|| vec![true; node.len], gate_bits);
        payload.extend(selected_flat(&runner.flat(output.node)?, node.kind, &keep));
        released.push(keep);
    }
    runner.session.open_to(receiver, &payload)?;
    Ok(QueryOutcome { released })
}

/// The receiver's side of [`execute`]: collects the gate bits and the released outputs and
/// decodes them.
pub fn receive<T: Transport>(
    outside: &mut OutsideParty<Mp127, T>,
    program: &Program,
) -> Result<Vec<ReceivedOutput>, ExecError> {
    receive_checked(outside, program).map(|(outputs, _)| outputs)
}

/// [`receive`], also returning the parties (session indices, ascending) whose output shares
/// were off the polynomial and corrected (possible when `n ≥ 3t + 1`): evidence against them.
pub fn receive_checked<T: Transport>(
    outside: &mut OutsideParty<Mp127, T>,
    program: &Program,
) -> Result<(Vec<ReceivedOutput>, Vec<usize>), ExecError> {
    let mut corrected = Vec::new();
    let gates = gate_nodes(program);
    let gate_len: usize = gates.iter().map(|g| program.nodes[*g].len).sum();
    let opened_gates = if gate_len == 0 {
        Vec::new()
    } else {
        let (values, faulty) = outside.receive_output(gate_len)?;
        corrected.extend(faulty);
        values
    };
    let mut keeps = Vec::with_capacity(program.outputs.len());
    let mut expected = 0;
    for output in &program.outputs {
        let node = &program.nodes[output.node];
        let keep: Vec<bool> = match output.gate {
            None => vec![true; node.len],
            Some(g) => {
                let mut offset = 0;
                for &other in &gates {
                    if other == g {
                        break;
                    }
                    offset += program.nodes[other].len;
                }
                opened_gates[offset..offset + node.len]
                    .iter()
                    .map(|b| *b == Mp127::ONE)
                    .collect()
            }
        };
        let stride = if node.kind == Kind::Float { 4 } else { 1 };
        expected += stride * keep.iter().filter(|k| **k).count();
        keeps.push(keep);
    }
    let (payload, faulty) = outside.receive_output(expected)?;
    corrected.extend(faulty);
    corrected.sort_unstable();
    corrected.dedup();
    let mut offset = 0;
    let mut results = Vec::with_capacity(program.outputs.len());
    for (output, keep) in program.outputs.iter().zip(keeps) {
        let node = &program.nodes[output.node];
        let kept = keep.iter().filter(|k| **k).count();
        let stride = if node.kind == Kind::Float { 4 } else { 1 };
        let chunk = &payload[offset..offset + stride * kept];
        offset += stride * kept;
        let decoded: Vec<(f64, Option<(i128, u32)>)> = match output.decode {
            Decode::Float => decode_floats(chunk)
                .into_iter()
                .map(|v| (v, None))
                .collect(),
            Decode::Decimal { scale } => chunk
                .iter()
                .map(|v| {
                    let exact = v.to_signed();
                    (
                        exact as f64 / 10f64.powi(scale as i32),
                        Some((exact, scale)),
                    )
                })
                .collect(),
            Decode::Bit => chunk
                .iter()
                .map(|v| (if *v == Mp127::ONE { 1.0 } else { 0.0 }, None))
                .collect(),
        };
        let mut decoded = decoded.into_iter();
        let mut values = Vec::with_capacity(keep.len());
        let mut exact = Vec::with_capacity(keep.len());
        for k in keep {
            if k {
                let (v, e) = decoded.next().unwrap_or((0.0, None));
                values.push(Some(v));
                exact.push(e);
            } else {
                values.push(None);
                exact.push(None);
            }
        }
        results.push(ReceivedOutput {
            name: output.name.clone(),
            values,
            exact,
        });
    }
    Ok((results, corrected))
}
