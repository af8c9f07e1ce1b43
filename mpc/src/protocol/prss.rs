//! Pseudo-random secret sharing (Cramer–Damgård–Ishai 2005): random Shamir sharings, and
//! random sharings of zero of degree 2t, with no communication after a one-round key set-up.
//!
//! For every set `A` of `t` parties there is a key known to the `n − t` parties outside `A`, and
//! the degree-`t` polynomial `f_A` with `f_A(0) = 1` and `f_A(x_j) = 0` for `j ∈ A`. Party `i`'s
//! share of the random value `r = Σ_A PRF(k_A, c)` is `Σ_{A ∌ i} PRF(k_A, c)·f_A(x_i)`; adding
//! `Σ_{A ∌ i} f_A(x_i)·Σ_{l=1..t} PRF(k_A, c, l)·x_i^l` (a degree-2t sharing of zero) turns it
//! into the degree-2t sharing of the same `r`. Any `t` parties miss at least the key of their
//! own set, so `r` stays uniformly random to them.

use rand_core::Rng;

use super::channel::MessageKind;
use super::{DoubleRandomBatch, ProtocolError, Session};
use crate::field::Field;
use crate::prf::{Prf, PrfDomain};
use crate::shamir::eval_point;
use crate::transport::Transport;

const KEY_BYTES: usize = 16;
/// How many output indices are expanded per pass (bounds the scratch buffer).
const BATCH: usize = 2048;

/// Number of `t`-subsets of `n` parties: the key sets of PRSS (saturating).
pub fn key_sets(n: usize, t: usize) -> usize {
    let mut c: usize = 1;
    for k in 0..t {
        c = c.saturating_mul(n - k) / (k + 1);
    }
    c
}

/// All `t`-subsets of `0..n` in lexicographic order.
fn subsets(n: usize, t: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current: Vec<usize> = (0..t).collect();
    loop {
        out.push(current.clone());
        // Advance to the next combination.
        let mut i = t;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if current[i] < n - t + i {
                current[i] += 1;
                for j in i + 1..t {
                    current[j] = current[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// One key this party holds and its weight `f_A(x_me)`.
struct HeldKey<F> {
    prf: Prf,
    /// `f_A(x_me)·x_me^l` for `l = 0..=t`: the weight of the `l`-th PRF output of each index.
    weights: Vec<F>,
    /// Index of the key's set in `subsets(n, t)`.
    set: usize,
    /// A digest of the key, for [`confirm_keys`].
    digest: [u8; 32],
}

/// Domain of the key digests the holders of one key compare.
const CONFIRM_CONTEXT: &str = "sharenet 2026-12 prss key confirmation v1";

/// This party's PRSS state: the keys of every set it is outside of, and a counter that all
/// parties advance in lock-step.
pub struct Prss<F: Field> {
    keys: Vec<HeldKey<F>>,
    t: usize,
    counter: u64,
}

impl<F: Field> core::fmt::Debug for Prss<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keys are secret: show only how many there are.
        f.debug_struct("Prss")
            .field("keys", &self.keys.len())
            .field("counter", &self.counter)
            .finish()
    }
}

impl<F: Field> Prss<F> {
    /// Runs the key set-up round: for each `t`-set, the lowest-indexed party outside it draws the
    /// key and sends it to the other parties outside it.
    pub(crate) fn setup<T: Transport>(session: &mut Session<F, T>) -> Result<Self, ProtocolError> {
        let (n, t, me) = (session.n(), session.t(), session.me());
        let sets = subsets(n, t);
        let mut outgoing: Vec<Vec<u8>> = vec![Vec::new(); n];
        let mut expected = vec![0usize; n];
        let mut slots: Vec<Option<[u8; KEY_BYTES]>> = vec![None; sets.len()];
        for (s, set) in sets.iter().enumerate() {
            let Some(generator) = (0..n).find(|p| !set.contains(p)) else {
                continue;
            };
            if set.contains(&me) {
                continue;
            }
            if generator == me {
                let mut key = [0u8; KEY_BYTES];
                session.rng.fill_bytes(&mut key);
                for holder in (0..n).filter(|p| !set.contains(p) && *p != me) {
                    outgoing[holder].extend_from_slice(&key);
                }
                slots[s] = Some(key);
            } else {
                expected[generator] += 1;
            }
        }
        for peer in session.others() {
            session
                .channel
                .send_bytes(peer, MessageKind::PrssKeys, &outgoing[peer])?;
        }
        let mut received: Vec<std::vec::IntoIter<[u8; KEY_BYTES]>> = Vec::with_capacity(n);
        for (peer, &expected_keys) in expected.iter().enumerate() {
            if peer == me {
                received.push(Vec::new().into_iter());
                continue;
            }
            let payload = session.channel.recv_bytes(peer, MessageKind::PrssKeys)?;
            if payload.len() != expected_keys * KEY_BYTES {
                return Err(ProtocolError::WrongLength {
                    from: peer,
                    expected_bytes: expected_keys * KEY_BYTES,
                    got_bytes: payload.len(),
                });
            }
            let keys: Vec<[u8; KEY_BYTES]> = payload
                .chunks_exact(KEY_BYTES)
                .map(|c| {
                    let mut k = [0u8; KEY_BYTES];
                    k.copy_from_slice(c);
                    k
                })
                .collect();
            received.push(keys.into_iter());
        }
        session.rounds += 1;
        let x: F = eval_point(me);
        let mut keys = Vec::new();
        for (s, set) in sets.iter().enumerate() {
            if set.contains(&me) {
                continue;
            }
            let key = match slots[s] {
                Some(k) => k,
                None => {
                    let generator = (0..n).find(|p| !set.contains(p)).unwrap_or(0);
                    received[generator].next().ok_or(ProtocolError::Malformed {
                        from: generator,
                        reason: "too few PRSS keys",
                    })?
                }
            };
            // f_A(x) = Π_{j∈A} (x_j − x)/x_j.
            let mut weight = F::ONE;
            for &j in set {
                let xj: F = eval_point(j);
                let inv = xj
                    .inverse()
                    .ok_or(ProtocolError::Usage("zero evaluation point"))?;
                weight *= (xj - x) * inv;
            }
            let mut weights = Vec::with_capacity(t + 1);
            let mut w = weight;
            for _ in 0..=t {
                weights.push(w);
                w *= x;
            }
            let digest = blake3::derive_key(CONFIRM_CONTEXT, &key);
            keys.push(HeldKey {
                prf: Prf::new(key),
                weights,
                set: s,
                digest,
            });
        }
        Ok(Prss {
            keys,
            t,
            counter: 0,
        })
    }

    /// The generation counter, for domain-separated draws that must not reuse its indices.
    fn next_indices(&mut self, count: usize) -> u64 {
        let start = self.counter;
        self.counter += count as u64;
        start
    }

    /// Number of PRF keys this party holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// This party's shares of `count` random values as degree-`t` sharings and, if `double`, the
    /// degree-`2t` sharings of the same values.
    fn generate(&mut self, count: usize, double: bool) -> (Vec<F>, Vec<F>) {
        let outputs_per_index = if double { 1 + self.t } else { 1 };
        let domain = if double {
            PrfDomain::PrssDouble
        } else {
            PrfDomain::PrssRandom
        };
        let mut r_t = vec![F::ZERO; count];
        let mut r_2t = if double {
            vec![F::ZERO; count]
        } else {
            Vec::new()
        };
        let mut blocks = Vec::new();
        let mut values: Vec<F> = Vec::new();
        let mut start = 0;
        while start < count {
            let len = BATCH.min(count - start);
            let (out_t, out_2t) = (
                &mut r_t[start..start + len],
                r_2t.get_mut(start..start + len),
            );
            let out_2t = out_2t.unwrap_or_default();
            for key in &self.keys {
                values.clear();
                key.prf.expand_into(
                    domain,
                    self.counter + start as u64,
                    len,
                    outputs_per_index,
                    &mut blocks,
                    &mut values,
                );
                let w0 = key.weights[0];
                if double {
                    // [r]_2t adds Σ_{l=1..t} f_A(x)·x^l·PRF_l, a degree-2t sharing of zero.
                    for ((t_share, two_t_share), outputs) in out_t
                        .iter_mut()
                        .zip(out_2t.iter_mut())
                        .zip(values.chunks_exact(outputs_per_index))
                    {
                        let random = w0 * outputs[0];
                        *t_share += random;
                        *two_t_share += random + F::dot(&key.weights[1..], &outputs[1..]);
                    }
                } else {
                    for (t_share, v) in out_t.iter_mut().zip(&values) {
                        *t_share += w0 * *v;
                    }
                }
            }
            start += len;
        }
        self.counter += count as u64;
        (r_t, r_2t)
    }

    /// Shares of `count` random values, degree `t`.
    pub fn random_shares(&mut self, count: usize) -> Vec<F> {
        self.generate(count, false).0
    }

    /// Shares of `count` random double sharings `([r]_t, [r]_2t)`.
    pub fn double_randoms(&mut self, count: usize) -> DoubleRandomBatch<F> {
        let (r_t, r_2t) = self.generate(count, true);
        DoubleRandomBatch { r_t, r_2t }
    }
}

impl Prss<crate::field::Mp127> {
    /// Shares of `count` random integers in `[0, C(n, t)·2^bits)` (`bits ≤ 120`): the sum over the
    /// key sets of the key's PRF output reduced to `bits` bits. No party deals anything, so no
    /// party can put a value out of range; the key of the corrupt members' own set is unknown to
    /// them, so the sum hides like one uniform `bits`-bit value.
    pub fn random_bounded(&mut self, count: usize, bits: u32) -> Vec<crate::field::Mp127> {
        use crate::field::Mp127;
        let mask = if bits >= 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        let start = self.next_indices(count);
        let mut shares = vec![Mp127::ZERO; count];
        let (mut blocks, mut raw) = (Vec::new(), Vec::new());
        for key in &self.keys {
            raw.clear();
            key.prf
                .expand_u128_into(PrfDomain::PrssBounded, start, count, &mut blocks, &mut raw);
            let w0 = key.weights[0];
            for (share, r) in shares.iter_mut().zip(&raw) {
                *share += w0 * Mp127::new(r & mask);
            }
        }
        shares
    }
}

/// Every holder of a PRSS key sends every other holder a digest of it, and each compares what it
/// got with its own (one round). A generator that gave two holders different keys would leave
/// the honest members' shares of the PRSS values inconsistent, and a bounded random integer no
/// longer bounded; a mismatch aborts the session.
pub(crate) fn confirm_keys<F: Field, T: Transport>(
    session: &mut Session<F, T>,
) -> Result<(), ProtocolError> {
    let (n, t) = (session.n(), session.t());
    let sets = subsets(n, t);
    let digests: Vec<(usize, [u8; 32])> = match session.prss.as_ref() {
        Some(prss) => prss.keys.iter().map(|k| (k.set, k.digest)).collect(),
        None => return Err(ProtocolError::Usage("no PRSS keys to confirm")),
    };
    // For each peer: the digests of the keys both of us hold, in set order.
    let shared_with = |peer: usize| -> Vec<u8> {
        digests
            .iter()
            .filter(|(set, _)| !sets[*set].contains(&peer))
            .flat_map(|(_, d)| d.iter().copied())
            .collect()
    };
    for peer in session.others() {
        let message = shared_with(peer);
        session
            .channel
            .send_bytes(peer, MessageKind::PrssConfirm, &message)?;
    }
    let mut mismatch = false;
    for peer in session.others() {
        let expected = shared_with(peer);
        let got = session.channel.recv_bytes(peer, MessageKind::PrssConfirm)?;
        if got.len() != expected.len() {
            return Err(ProtocolError::WrongLength {
                from: peer,
                expected_bytes: expected.len(),
                got_bytes: got.len(),
            });
        }
        mismatch |= got != expected;
    }
    session.rounds += 1;
    if mismatch {
        return Err(ProtocolError::CheatingDetected {
            check: "the PRSS keys' confirmation",
            checked: digests.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_all_combinations_in_order() {
        assert_eq!(subsets(3, 1), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(subsets(4, 2).len(), 6);
        assert_eq!(subsets(4, 2)[5], vec![2, 3]);
        assert_eq!(subsets(5, 0), vec![Vec::<usize>::new()]);
        for (n, t) in [(3, 1), (5, 2), (7, 3), (9, 4)] {
            assert_eq!(subsets(n, t).len(), key_sets(n, t));
        }
        assert_eq!(key_sets(7, 3), 35);
    }
}
