//! AES-128 in counter mode as a pseudo-random function into a field: the expansion behind PRSS
//! and behind the coefficients of batched dealer verification.

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

use crate::field::Field;

/// Domains keep the outputs of different uses of one key apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum PrfDomain {
    /// PRSS degree-t random sharings.
    PrssRandom = 1,
    /// PRSS double sharings (random value plus degree-2t zero sharing).
    PrssDouble = 2,
    /// Coefficients of the batched dealer-verification challenge.
    BatchChallenge = 3,
    /// PRSS bounded random integers.
    PrssBounded = 4,
}

/// A keyed PRF `(domain, index, sub-index) → F`.
pub(crate) struct Prf {
    cipher: Aes128,
}

impl Prf {
    pub(crate) fn new(key: [u8; 16]) -> Self {
        Prf {
            cipher: Aes128::new(&Array::from(key)),
        }
    }

    /// Appends `count` raw 128-bit outputs (one block each) for indices `start..start + count`.
    pub(crate) fn expand_u128_into(
        &self,
        domain: PrfDomain,
        start: u64,
        count: usize,
        blocks: &mut Vec<aes::Block>,
        out: &mut Vec<u128>,
    ) {
        blocks.clear();
        blocks.extend((0..count as u64).map(|i| {
            let mut block = [0u8; 16];
            block[..8].copy_from_slice(&(start + i).to_le_bytes());
            block[12..].copy_from_slice(&(domain as u32).to_le_bytes());
            Array::from(block)
        }));
        self.cipher.encrypt_blocks(blocks);
        out.extend(blocks.iter().map(|b| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(b.as_slice());
            u128::from_le_bytes(bytes)
        }));
    }

    /// Appends `count · per_index` elements to `out`: for each index in `start..start + count`,
    /// the outputs for sub-indices `0..per_index`, in that order.
    pub(crate) fn expand_into<F: Field>(
        &self,
        domain: PrfDomain,
        start: u64,
        count: usize,
        per_index: usize,
        blocks: &mut Vec<aes::Block>,
        out: &mut Vec<F>,
    ) {
        let blocks_per_output = F::PRF_BYTES / 16;
        blocks.clear();
        blocks.reserve(count * per_index * blocks_per_output);
        for i in 0..count as u64 {
            let mut block = [0u8; 16];
            block[..8].copy_from_slice(&(start + i).to_le_bytes());
            block[12..].copy_from_slice(&(domain as u32).to_le_bytes());
            for sub in 0..(per_index * blocks_per_output) as u32 {
                block[8..12].copy_from_slice(&sub.to_le_bytes());
                blocks.push(Array::from(block));
            }
        }
        self.cipher.encrypt_blocks(blocks);
        if blocks_per_output == 1 {
            out.extend(
                blocks
                    .iter()
                    .map(|block| F::from_prf_bytes(block.as_slice())),
            );
            return;
        }
        let mut bytes = vec![0u8; F::PRF_BYTES];
        out.extend(blocks.chunks_exact(blocks_per_output).map(|bs| {
            for (dst, block) in bytes.chunks_exact_mut(16).zip(bs) {
                dst.copy_from_slice(block.as_slice());
            }
            F::from_prf_bytes(&bytes)
        }));
    }
}
