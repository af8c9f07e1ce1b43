//! Shamir
