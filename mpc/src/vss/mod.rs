//! Verifiable secret sharing: the batched check that a dealer's many sharings are consistent
//! ([`batch`]), and Pedersen VSS over Ristretto255 for keys and small secrets ([`pedersen`]).

pub mod batch;
pub mod pedersen;
