//! sharenet's MPC core: prime fields, Shamir secret sharing with robust reconstruction, verifiable
//! sharing (batched dealer verification and Pedersen VSS), the semi-honest honest-majority
//! protocols of Damgård–Nielsen (random double sharings, multiplication, inner products, openings,
//! re-sharing) with the comparisons, truncations and secret floats built on them, and the
//! computation IR ([`ir`]) with its executor, all written against a small blocking
//! [`transport::Transport`] abstraction. The query language that compiles to the IR is the
//! `sharenet-query` crate, which depends on this one; nothing here depends on it.
//!
//! This crate must stay pure: no async runtime, no libp2p, no file or network I/O in the protocol
//! core. The only I/O in it is the loopback TCP transport used by the benchmarks, kept in its own
//! module. It must never log, print or put into an error a share, a secret or a key: errors carry
//! party indices, sizes and positions only.

pub mod field;
pub mod ir;
pub mod shamir;

pub use field::{Field, FieldError, Mp127, RistrettoScalar};
mod prf;
pub mod protocol;
pub mod transport;
pub mod vss;
