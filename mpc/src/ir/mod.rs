//! The computation IR: a typed graph over secret vectors (table columns, per-group values,
//! scalars), public constants and secret floats, which the query compiler produces and every
//! committee member executes the same way.
//!
//! Each node is one vectorised operation. The executor schedules by *level*: a node's level is the
//! number of interactive operations on its longest input path, and all interactive nodes of one
//! level and one kind run as a single protocol call on the concatenation of their inputs. So a
//! query costs the same number of rounds over 10 rows as over 10^5 rows.

mod cost;
mod exec;

use serde::{Deserialize, Serialize};

pub use cost::{Cost, Unsupported, estimate, estimate_with};
pub use exec::{ExecError, QueryOutcome, ReceivedOutput, execute, receive, receive_checked};

use crate::protocol::Extremum;

/// Index of a node in its [`Program`].
pub type NodeId = usize;

/// One vectorised operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Op {
    /// Input column `column` of the table (length: rows).
    Input {
        /// Column index in the executor's input list.
        column: usize,
    },
    /// A public integer, repeated.
    Const {
        /// The value.
        value: i128,
    },
    /// `Σ c_i·x_i + constant` element-wise, with length-1 terms broadcast (free: no interaction).
    Linear {
        /// The terms.
        terms: Vec<(NodeId, i128)>,
        /// The constant added.
        constant: i128,
    },
    /// `a·b` element-wise (a length-1 operand is broadcast).
    Mul(NodeId, NodeId),
    /// `Σ_i a_i` over the whole vector (free).
    Sum(NodeId),
    /// `Σ_i a_i·b_i` (the cost of one multiplication).
    Dot(NodeId, NodeId),
    /// `[a < b]` for signed `bits`-bit values.
    Lt {
        /// Left operand.
        a: NodeId,
        /// Right operand.
        b: NodeId,
        /// Bit bound of both operands.
        bits: u32,
    },
    /// `[a = b]` for signed `bits`-bit values.
    Eq {
        /// Left operand.
        a: NodeId,
        /// Right operand.
        b: NodeId,
        /// Bit bound of both operands.
        bits: u32,
    },
    /// `a / 2^shift`, probabilistically rounded, for signed `bits`-bit `a`.
    TruncPr {
        /// Operand.
        a: NodeId,
        /// Bit bound of the operand.
        bits: u32,
        /// Bits dropped.
        shift: u32,
    },
    /// The minimum or maximum of the whole vector.
    Extremum {
        /// Operand.
        a: NodeId,
        /// Bit bound.
        bits: u32,
        /// Which end.
        which: Extremum,
    },
    /// Integers with `|a| < 2^bits` converted to secret floats.
    ToFloat {
        /// Operand.
        a: NodeId,
        /// Bit bound.
        bits: u32,
    },
    /// Public float constants.
    FloatConst {
        /// The values (one per element).
        values: Vec<f64>,
    },
    /// Float `a·b`.
    FloatMul(NodeId, NodeId),
    /// Float `a/b`.
    FloatDiv(NodeId, NodeId),
    /// Float `a+b`.
    FloatAdd(NodeId, NodeId),
    /// Float `a−b`.
    FloatSub(NodeId, NodeId),
    /// Float `√a`.
    FloatSqrt(NodeId),
    /// Floats to fixed point: `round(a·2^fraction_bits)` for `|a·2^fraction_bits| < 2^bits`.
    FloatToFixed {
        /// Operand.
        a: NodeId,
        /// Fractional bits of the result.
        fraction_bits: u32,
        /// Bit bound of the result.
        bits: u32,
    },
    /// Elements `[start, start+len)` of a vector (free).
    Slice {
        /// Operand.
        a: NodeId,
        /// First element.
        start: usize,
    },
    /// Vectors concatenated (free for integers and floats alike).
    Concat(Vec<NodeId>),
}

/// What a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Secret integers (field elements read as signed integers).
    Int,
    /// Secret floating-point numbers.
    Float,
}

/// A node: an operation and the length of the vector it produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// Number of elements produced.
    pub len: usize,
    /// Integer or float.
    pub kind: Kind,
}

/// How the receiver turns an opened output into a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decode {
    /// A signed integer scaled by `10^-scale` (exact decimal).
    Decimal {
        /// Decimal places.
        scale: u32,
    },
    /// A float.
    Float,
    /// A bit, as 0 or 1.
    Bit,
}

/// A value opened to the receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Label (the query's column name).
    pub name: String,
    /// The node opened.
    pub node: NodeId,
    /// How to read it.
    pub decode: Decode,
    /// Per-element gate (same length, bits): elements whose gate opens to 0 are withheld, and
    /// only the gate bit is revealed (the minimum-cohort rule).
    pub gate: Option<NodeId>,
}

/// Why a program is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IrError {
    /// A node refers to a node that is not before it.
    #[error("node {node} refers to node {input}, which is not defined before it")]
    ForwardReference {
        /// The node.
        node: NodeId,
        /// The input it names.
        input: NodeId,
    },
    /// Operand lengths do not fit the operation.
    #[error("node {node}: operand lengths {left} and {right} do not match")]
    Length {
        /// The node.
        node: NodeId,
        /// One length.
        left: usize,
        /// The other length.
        right: usize,
    },
    /// An operand has the wrong kind (integer where a float is needed or the reverse).
    #[error("node {node}: operand {input} has the wrong kind")]
    WrongKind {
        /// The node.
        node: NodeId,
        /// The operand.
        input: NodeId,
    },
    /// An output or gate is malformed.
    #[error("output '{name}': {reason}")]
    BadOutput {
        /// The output's name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A whole computation: nodes in topological order, the number of input columns and rows it
/// expects, and what is opened to the receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Program {
    /// Nodes, each only referring to earlier ones.
    pub nodes: Vec<Node>,
    /// Number of rows of every input column.
    pub rows: usize,
    /// Number of input columns.
    pub columns: usize,
    /// Opened values, in order.
    pub outputs: Vec<Output>,
}

impl Program {
    /// An empty program over `columns` input columns of `rows` rows.
    pub fn new(rows: usize, columns: usize) -> Self {
        Program {
            nodes: Vec::new(),
            rows,
            columns,
            outputs: Vec::new(),
        }
    }

    fn kind_of(&self, id: NodeId) -> Kind {
        self.nodes.get(id).map_or(Kind::Int, |n| n.kind)
    }

    fn len_of(&self, id: NodeId) -> usize {
        self.nodes.get(id).map_or(0, |n| n.len)
    }

    /// Appends a node, inferring its length and kind, and checks it.
    pub fn push(&mut self, op: Op) -> Result<NodeId, IrError> {
        let id = self.nodes.len();
        for input in inputs(&op) {
            if input >= id {
                return Err(IrError::ForwardReference { node: id, input });
            }
        }
        let (len, kind) = self.shape(id, &op)?;
        self.nodes.push(Node { op, len, kind });
        Ok(id)
    }

    fn expect_kind(&self, node: NodeId, input: NodeId, kind: Kind) -> Result<(), IrError> {
        if self.kind_of(input) != kind {
            return Err(IrError::WrongKind { node, input });
        }
        Ok(())
    }

    fn same_len(&self, node: NodeId, a: NodeId, b: NodeId) -> Result<usize, IrError> {
        let (la, lb) = (self.len_of(a), self.len_of(b));
        if la != lb {
            return Err(IrError::Length {
                node,
                left: la,
                right: lb,
            });
        }
        Ok(la)
    }

    fn broadcast_len(&self, node: NodeId, a: NodeId, b: NodeId) -> Result<usize, IrError> {
        let (la, lb) = (self.len_of(a), self.len_of(b));
        match (la, lb) {
            _ if la == lb => Ok(la),
            (1, _) => Ok(lb),
            (_, 1) => Ok(la),
            _ => Err(IrError::Length {
                node,
                left: la,
                right: lb,
            }),
        }
    }

    fn shape(&self, id: NodeId, op: &Op) -> Result<(usize, Kind), IrError> {
        use Kind::{Float, Int};
        Ok(match op {
            Op::Input { .. } => (self.rows, Int),
            Op::Const { .. } => (1, Int),
            Op::Linear { terms, .. } => {
                let mut len = 1;
                for (t, _) in terms {
                    self.expect_kind(id, *t, Int)?;
                    let l = self.len_of(*t);
                    if l != 1 && len != 1 && l != len {
                        return Err(IrError::Length {
                            node: id,
                            left: len,
                            right: l,
                        });
                    }
                    len = len.max(l);
                }
                (len, Int)
            }
            Op::Mul(a, b) => {
                self.expect_kind(id, *a, Int)?;
                self.expect_kind(id, *b, Int)?;
                (self.broadcast_len(id, *a, *b)?, Int)
            }
            Op::Sum(a) => {
                self.expect_kind(id, *a, Int)?;
                (1, Int)
            }
            Op::Dot(a, b) => {
                self.expect_kind(id, *a, Int)?;
                self.expect_kind(id, *b, Int)?;
                self.same_len(id, *a, *b)?;
                (1, Int)
            }
            Op::Lt { a, b, .. } | Op::Eq { a, b, .. } => {
                self.expect_kind(id, *a, Int)?;
                self.expect_kind(id, *b, Int)?;
                (self.broadcast_len(id, *a, *b)?, Int)
            }
            Op::TruncPr { a, .. } => {
                self.expect_kind(id, *a, Int)?;
                (self.len_of(*a), Int)
            }
            Op::Extremum { a, .. } => {
                self.expect_kind(id, *a, Int)?;
                (1, Int)
            }
            Op::ToFloat { a, .. } => {
                self.expect_kind(id, *a, Int)?;
                (self.len_of(*a), Float)
            }
            Op::FloatConst { values } => (values.len(), Float),
            Op::FloatMul(a, b) | Op::FloatDiv(a, b) | Op::FloatAdd(a, b) | Op::FloatSub(a, b) => {
                self.expect_kind(id, *a, Float)?;
                self.expect_kind(id, *b, Float)?;
                (self.broadcast_len(id, *a, *b)?, Float)
            }
            Op::FloatSqrt(a) => {
                self.expect_kind(id, *a, Float)?;
                (self.len_of(*a), Float)
            }
            Op::FloatToFixed { a, .. } => {
                self.expect_kind(id, *a, Float)?;
                (self.len_of(*a), Int)
            }
            Op::Slice { a, start } => {
                let len = self.len_of(*a);
                if *start >= len {
                    return Err(IrError::Length {
                        node: id,
                        left: len,
                        right: *start,
                    });
                }
                // The slice length is set by `slice`; a bare Slice takes one element.
                (1, self.kind_of(*a))
            }
            Op::Concat(parts) => {
                let kind = parts.first().map_or(Int, |p| self.kind_of(*p));
                for p in parts {
                    self.expect_kind(id, *p, kind)?;
                }
                (parts.iter().map(|p| self.len_of(*p)).sum(), kind)
            }
        })
    }

    /// `len` elements of `a` from `start`.
    pub fn slice(&mut self, a: NodeId, start: usize, len: usize) -> Result<NodeId, IrError> {
        let id = self.push(Op::Slice { a, start })?;
        let total = self.len_of(a);
        if start + len > total || len == 0 {
            self.nodes.pop();
            return Err(IrError::Length {
                node: id,
                left: total,
                right: start + len,
            });
        }
        if let Some(node) = self.nodes.get_mut(id) {
            node.len = len;
        }
        Ok(id)
    }

    /// Adds an output after checking its node and gate.
    pub fn output(&mut self, output: Output) -> Result<(), IrError> {
        let Some(node) = self.nodes.get(output.node) else {
            return Err(IrError::BadOutput {
                name: output.name,
                reason: "names no node",
            });
        };
        let float = node.kind == Kind::Float;
        if float != (output.decode == Decode::Float) {
            return Err(IrError::BadOutput {
                name: output.name,
                reason: "decode does not match the node's kind",
            });
        }
        if let Some(gate) = output.gate {
            match self.nodes.get(gate) {
                Some(g) if g.len == node.len && g.kind == Kind::Int => {}
                _ => {
                    return Err(IrError::BadOutput {
                        name: output.name,
                        reason: "gate must be an integer node of the same length",
                    });
                }
            }
        }
        self.outputs.push(output);
        Ok(())
    }

    /// The level of every node: interactive operations on the longest path to it.
    pub fn levels(&self) -> Vec<usize> {
        let mut levels = vec![0usize; self.nodes.len()];
        for (id, node) in self.nodes.iter().enumerate() {
            let base = inputs(&node.op)
                .into_iter()
                .map(|i| levels[i])
                .max()
                .unwrap_or(0);
            levels[id] = base + usize::from(is_interactive(&node.op));
        }
        levels
    }
}

/// The nodes an operation reads.
pub fn inputs(op: &Op) -> Vec<NodeId> {
    match op {
        Op::Input { .. } | Op::Const { .. } | Op::FloatConst { .. } => Vec::new(),
        Op::Linear { terms, .. } => terms.iter().map(|(t, _)| *t).collect(),
        Op::Mul(a, b)
        | Op::Dot(a, b)
        | Op::FloatMul(a, b)
        | Op::FloatDiv(a, b)
        | Op::FloatAdd(a, b)
        | Op::FloatSub(a, b) => vec![*a, *b],
        Op::Lt { a, b, .. } | Op::Eq { a, b, .. } => vec![*a, *b],
        Op::Sum(a)
        | Op::TruncPr { a, .. }
        | Op::Extremum { a, .. }
        | Op::ToFloat { a, .. }
        | Op::FloatSqrt(a)
        | Op::FloatToFixed { a, .. }
        | Op::Slice { a, .. } => vec![*a],
        Op::Concat(parts) => parts.clone(),
    }
}

/// Whether an operation needs communication.
pub fn is_interactive(op: &Op) -> bool {
    !matches!(
        op,
        Op::Input { .. }
            | Op::Const { .. }
            | Op::FloatConst { .. }
            | Op::Linear { .. }
            | Op::Sum(_)
            | Op::Slice { .. }
            | Op::Concat(_)
    )
}
