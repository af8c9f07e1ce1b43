//! Pedersen verifiable secret sharing over Ristretto255 (for keys and small secrets).
//!
//! Status: being built; nothing public yet.
