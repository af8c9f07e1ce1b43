//! Pedersen verifiable secret sharing over Ristretto255 (Pedersen 1991), for keys and small
//! secrets, with complaints that a receiver can prove and a judge can decide without trusting
//! either side.
//!
//! # The scheme
//!
//! Two generators of the Ristretto255 group: `G`, the standard basepoint, and `H`, a
//! nothing-up-my-sleeve point ([`generator_h`]): 64 bytes of blake3 output in derive-key mode
//! under the fixed domain string [`GENERATOR_H_DOMAIN`] (empty input), mapped to the group by
//! `RistrettoPoint::from_uniform_bytes` (the two-Elligator hash-to-group of RFC 9496). Its
//! discrete logarithm to base `G` is known to nobody, and anyone can re-derive it. Commitments
//! are binding as long as `log_G(H)` stays unknown and perfectly hiding regardless.
//!
//! To share a secret `s` with threshold `t` among `n` parties the dealer picks random polynomials
//! `f` (with `f(0) = s`) and `g` (blinding), both of degree `t`, publishes the commitments
//! `C_k = f_k·G + g_k·H` for `k = 0..=t`, and sends party `i` (0-based, evaluation point
//! `x_i = i + 1` as in [`crate::shamir`]) the pair `(f(x_i), g(x_i))`. Party `i` accepts iff
//! `f(x_i)·G + g(x_i)·H == Σ_k x_i^k·C_k`. A vector of secrets is dealt as one polynomial pair
//! per secret under one commitment set and one message per party.
//!
//! Any `t + 1` accepted shares reconstruct `s` (Lagrange at zero). Any `t` shares together with
//! the commitments say nothing about `s`: for every other secret `s'` there is exactly one pair
//! `(f', g')` that matches the same `t` shares and produces the same commitments (see the
//! `t_shares_and_the_commitments_fit_every_secret` test, which builds it with a trapdoor `H`).
//!
//! The receiver's check computes the secret side `f(x_i)·G + g(x_i)·H` in constant time
//! (precomputed tables) and the public side `Σ x_i^k·C_k` with a variable-time multiscalar
//! multiplication (only public values enter it).
//!
//! # Complaints
//!
//! The dealer signs every party's share message with its ed25519 identity key. The signed
//! message binds the session (a blake3 hash of the caller's session id), the dealer's id, the
//! party's index, the hash of the commitment set and the share ([`SignedShare`]). A receiver
//! runs [`receive_share`], which yields one of three [`Receipt`]s:
//!
//! - `Accepted`: signature, binding and share are all good;
//! - `Complain`: the message is correctly signed and bound to the published commitments but the
//!   share is inconsistent with them. The [`Complaint`] carries the signed message, so
//!   [`verify_complaint`] convicts the dealer ([`Verdict::DealerFaulty`]) without any further
//!   interaction. A complaint whose signature is invalid, whose binding is wrong, or whose share
//!   actually verifies is [`Verdict::ComplaintUnfounded`] and convicts the complainer.
//! - `Accuse`: the receiver has nothing it can prove (no message, a malformed one, a bad
//!   signature, a wrong binding). It files an [`Accusation`]; in the standard Pedersen complaint
//!   round the dealer must answer by publishing that party's signed share message in the clear,
//!   and [`resolve_complaint`] decides: no answer, an invalid answer or an inconsistent share
//!   convict the dealer; a consistent answer clears it (the accuser then uses the published share;
//!   a lost message proves nothing against the accuser either, so nobody is convicted).
//!
//! Publishing a share in a complaint or an answer is safe: a complaint is only worth filing
//! against a dealing that will be thrown away, a bogus complaint reveals the complainer's own
//! share (which the adversary knows already), and an answer reveals a share the accuser could
//! read anyway. As long as at most `t` shares are public, the secret stays hidden.
//!
//! One dealing per `(session, dealer)`: session ids must not be reused.
//!
//! # Encodings
//!
//! All integers are little-endian; scalars are 32-byte canonical encodings (below the group
//! order ℓ), points are 32-byte compressed Ristretto encodings. Decoders check lengths before
//! allocating, never panic, and reject anything non-canonical with a [`DecodeError`].
//!
//! Commitments ([`Commitments::to_bytes`]), `8 + 32·m·(t + 1)` bytes:
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 4 | `m`, number of secrets, `1..=MAX_SECRETS` |
//! | 4 | 4 | `t`, threshold, `< MAX_PARTIES` |
//! | 8 | `32·m·(t+1)` | `C_{j,k}`, secret-major (secret `j`, then coefficient `k`) |
//!
//! Signed share message ([`SignedShare::as_bytes`]), `160 + 64·m` bytes; the signature covers
//! every byte before it, starting with a fixed tag that separates it from anything else the
//! dealer's identity key signs:
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 16 | tag `sharenet:pvss:v1` |
//! | 16 | 32 | session hash: `blake3::derive_key(SESSION_DOMAIN, session)` |
//! | 48 | 8 | dealer id (`u64`) |
//! | 56 | 4 | party index (`u32`, `< MAX_PARTIES`) |
//! | 60 | 32 | commitments hash: `blake3::derive_key(COMMITMENTS_DOMAIN, commitment bytes)` |
//! | 92 | 4 | `m`, number of secrets (`u32`, `1..=MAX_SECRETS`) |
//! | 96 | `64·m` | per secret: `f_j(x_i)` (32) then `g_j(x_i)` (32) |
//! | `96 + 64·m` | 64 | ed25519 signature (`R ‖ s`, `s` canonical) over bytes `0..96 + 64·m` |
//!
//! Nothing here prints a share, a secret or a key: `Debug` is written by hand to redact them and
//! errors carry party indices, positions and sizes only.

use std::sync::LazyLock;

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::field::{Field, RistrettoScalar};
use crate::shamir::{
    LagrangeCache, MAX_PARTIES, ShamirError, ShamirParams, reconstruct as lagrange,
};

/// The domain string from which the second generator `H` is derived.
pub const GENERATOR_H_DOMAIN: &str = "sharenet 2026 pedersen vss: second generator H";
/// blake3 derive-key context for the session hash in a share message.
pub const SESSION_DOMAIN: &str = "sharenet 2026 pedersen vss: session id";
/// blake3 derive-key context for the hash of a commitment set.
pub const COMMITMENTS_DOMAIN: &str = "sharenet 2026 pedersen vss: commitments";
/// The tag every signed share message starts with.
pub const SHARE_MESSAGE_TAG: [u8; 16] = *b"sharenet:pvss:v1";
/// The largest number of secrets in one dealing (this is for keys and small secrets; bulk data
/// goes through [`super::batch`]).
pub const MAX_SECRETS: usize = 256;

const COMMITMENTS_HEADER: usize = 8;
const POINT_BYTES: usize = 32;
const SCALAR_BYTES: usize = 32;
const MESSAGE_HEADER: usize = 96;
const PER_SECRET: usize = 2 * SCALAR_BYTES;
const SIGNATURE_BYTES: usize = 64;
/// Length of the shortest valid signed share message (one secret).
const MESSAGE_MIN: usize = MESSAGE_HEADER + PER_SECRET + SIGNATURE_BYTES;

/// Why a dealing, a signature or a reconstruction could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PedersenError {
    /// A dealing must share at least one secret.
    #[error("a Pedersen dealing needs at least one secret")]
    NoSecrets,
    /// Too many secrets for one dealing.
    #[error(
        "a Pedersen dealing holds at most {max} secrets, got {got}; use batch sharing for bulk data"
    )]
    TooManySecrets {
        /// Number of secrets given.
        got: usize,
        /// The limit, [`MAX_SECRETS`].
        max: usize,
    },
    /// A share's value and blinding vectors differ in length.
    #[error("a share has {values} values but {blindings} blinding values; they must match")]
    ShapeMismatch {
        /// Number of values.
        values: usize,
        /// Number of blinding values.
        blindings: usize,
    },
    /// A party index does not fit a committee.
    #[error("party index {party} is out of range (committees have at most {max} parties)")]
    PartyOutOfRange {
        /// The offending index.
        party: usize,
        /// The limit, [`MAX_PARTIES`].
        max: usize,
    },
    /// The sharing parameters and the commitments disagree on the threshold.
    #[error(
        "the sharing threshold is {params} but the commitments are for threshold {commitments}"
    )]
    ThresholdMismatch {
        /// Threshold of the parameters.
        params: usize,
        /// Threshold of the commitments.
        commitments: usize,
    },
    /// Not enough shares passed verification to reconstruct.
    #[error(
        "need {needed} shares consistent with the commitments to reconstruct, got {valid} ({rejected} rejected)"
    )]
    TooFewValidShares {
        /// Shares needed (`t + 1`).
        needed: usize,
        /// Shares that verified.
        valid: usize,
        /// Shares that failed verification.
        rejected: usize,
    },
    /// Invalid parameters or share set (out-of-range or repeated party).
    #[error(transparent)]
    Shamir(#[from] ShamirError),
}

/// Why bytes could not be decoded into commitments or a signed share message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Too short to hold even the header.
    #[error("{what} is truncated: at least {min} bytes are needed, got {got}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// The minimum length.
        min: usize,
        /// The length given.
        got: usize,
    },
    /// The length does not match the one the header announces.
    #[error("{what} must be {expected} bytes according to its header, got {got}")]
    WrongLength {
        /// What was being decoded.
        what: &'static str,
        /// The length announced by the header.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The message does not start with [`SHARE_MESSAGE_TAG`].
    #[error("not a Pedersen share message (wrong tag or version)")]
    BadTag,
    /// A count in the header is out of range.
    #[error("{what} is {got}, expected {min}..={max}")]
    CountOutOfRange {
        /// Which count.
        what: &'static str,
        /// The value found.
        got: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A compressed point is not a valid Ristretto encoding.
    #[error("commitment point #{index} is not a valid Ristretto255 encoding")]
    BadPoint {
        /// Position of the point in the encoding (secret-major).
        index: usize,
    },
    /// A scalar is not a canonical encoding (not below the group order).
    #[error("scalar #{index} of the share is not canonical (not below the group order)")]
    NonCanonicalScalar {
        /// Position: `2·j` is secret `j`'s value, `2·j + 1` its blinding value.
        index: usize,
    },
    /// The signature is malformed (its `s` half is not a canonical scalar).
    #[error("the signature is malformed (non-canonical s)")]
    MalformedSignature,
}

/// Why a share does not verify against a commitment set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// The share does not have one value and one blinding value per committed secret.
    #[error(
        "the share of party {party} has {got} values or blinding values, the commitments cover {expected} secrets"
    )]
    WrongCount {
        /// The share's party.
        party: usize,
        /// Number of committed secrets.
        expected: usize,
        /// The offending length.
        got: usize,
    },
    /// `f(x_i)·G + g(x_i)·H ≠ Σ x_i^k·C_k` for one secret.
    #[error("the share of party {party} for secret #{secret} is inconsistent with the commitments")]
    Inconsistent {
        /// The share's party.
        party: usize,
        /// The first secret whose check fails.
        secret: usize,
    },
    /// The party index does not fit a committee.
    #[error("party index {party} is out of range")]
    PartyOutOfRange {
        /// The offending index.
        party: usize,
    },
}

/// Which field of a signed share message does not match what the verifier expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// Signed for another session.
    Session,
    /// Signed as another dealer id.
    Dealer,
    /// Addressed to another party.
    Party,
    /// Bound to another commitment set.
    Commitments,
}

/// The generators: `G` is the basepoint (its table is built into curve25519-dalek), `H` is ours.
struct Generators {
    h_table: RistrettoBasepointTable,
}

impl Generators {
    fn new(h: &RistrettoPoint) -> Self {
        Generators {
            h_table: RistrettoBasepointTable::create(h),
        }
    }

    /// `value·G + blinding·H`, in constant time.
    fn commit(&self, value: &Scalar, blinding: &Scalar) -> RistrettoPoint {
        RistrettoPoint::mul_base(value) + &self.h_table * blinding
    }
}

static STANDARD: LazyLock<Generators> = LazyLock::new(|| Generators::new(&derive_h()));

fn derive_h() -> RistrettoPoint {
    let mut xof = blake3::Hasher::new_derive_key(GENERATOR_H_DOMAIN).finalize_xof();
    let mut wide = [0u8; 64];
    xof.fill(&mut wide);
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// The second generator `H`: blake3 in derive-key mode with context [`GENERATOR_H_DOMAIN`] over
/// the empty input, 64 bytes of its output stream, mapped by `RistrettoPoint::from_uniform_bytes`.
pub fn generator_h() -> RistrettoPoint {
    STANDARD.h_table.basepoint()
}

/// The session and dealer a dealing belongs to; both are bound into every signed share message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DealingContext<'a> {
    /// The session id (for example the DKG instance and epoch); unique per dealing.
    pub session: &'a [u8],
    /// The dealer's id within the session (for example its committee index).
    pub dealer: u64,
}

impl DealingContext<'_> {
    fn session_hash(&self) -> [u8; 32] {
        blake3::derive_key(SESSION_DOMAIN, self.session)
    }
}

/// The dealer's public commitments `C_{j,k} = f_{j,k}·G + g_{j,k}·H` for every secret `j` and
/// coefficient `k = 0..=t`.
#[derive(Clone)]
pub struct Commitments {
    threshold: usize,
    points: Vec<RistrettoPoint>,
    encoded: Vec<u8>,
}

impl Commitments {
    fn from_points(threshold: usize, points: Vec<RistrettoPoint>) -> Self {
        let secrets = points.len() / (threshold + 1);
        let mut encoded = Vec::with_capacity(COMMITMENTS_HEADER + POINT_BYTES * points.len());
        encoded.extend_from_slice(&(secrets as u32).to_le_bytes());
        encoded.extend_from_slice(&(threshold as u32).to_le_bytes());
        for p in &points {
            encoded.extend_from_slice(p.compress().as_bytes());
        }
        Commitments {
            threshold,
            points,
            encoded,
        }
    }

    /// The threshold `t` (every committed polynomial has `t + 1` coefficients).
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The number of secrets committed to.
    pub fn secrets(&self) -> usize {
        self.points.len() / (self.threshold + 1)
    }

    /// The commitments `C_{j,0..=t}` of secret `j`, or `None` if out of range.
    pub fn row(&self, secret: usize) -> Option<&[RistrettoPoint]> {
        let width = self.threshold + 1;
        self.points.get(secret * width..(secret + 1) * width)
    }

    /// The canonical encoding (see the module documentation).
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The canonical encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encoded.clone()
    }

    /// The hash bound into every signed share message.
    pub fn hash(&self) -> [u8; 32] {
        blake3::derive_key(COMMITMENTS_DOMAIN, &self.encoded)
    }

    /// Decodes commitments; rejects bad lengths, out-of-range counts and invalid points.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "a Pedersen commitment set";
        let header: &[u8; COMMITMENTS_HEADER] = bytes
            .get(..COMMITMENTS_HEADER)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::Truncated {
                what: WHAT,
                min: COMMITMENTS_HEADER + POINT_BYTES,
                got: bytes.len(),
            })?;
        let secrets = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let threshold = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        check_count("the number of secrets", secrets, 1, MAX_SECRETS)?;
        check_count("the threshold", threshold, 0, MAX_PARTIES - 1)?;
        let count = secrets * (threshold + 1);
        let expected = COMMITMENTS_HEADER + POINT_BYTES * count;
        if bytes.len() != expected {
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected,
                got: bytes.len(),
            });
        }
        let points = bytes[COMMITMENTS_HEADER..]
            .chunks_exact(POINT_BYTES)
            .enumerate()
            .map(|(index, chunk)| {
                CompressedRistretto::from_slice(chunk)
                    .ok()
                    .and_then(|c| c.decompress())
                    .ok_or(DecodeError::BadPoint { index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Commitments {
            threshold,
            points,
            encoded: bytes.to_vec(),
        })
    }

    /// `Σ_k x^k·C_{j,k}` for every secret `j`: what the shares at `x` must commit to.
    fn expected_at(&self, x: &Scalar) -> impl Iterator<Item = RistrettoPoint> + '_ {
        let mut powers = Vec::with_capacity(self.threshold + 1);
        let mut acc = Scalar::ONE;
        for _ in 0..=self.threshold {
            powers.push(acc);
            acc *= x;
        }
        self.points
            .chunks_exact(self.threshold + 1)
            .map(move |row| RistrettoPoint::vartime_multiscalar_mul(&powers, row))
    }
}

impl PartialEq for Commitments {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded
    }
}

impl Eq for Commitments {}

impl core::fmt::Debug for Commitments {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let hash = self.hash();
        f.debug_struct("Commitments")
            .field("threshold", &self.threshold)
            .field("secrets", &self.secrets())
            .field("hash_prefix", &format_args!("{:02x?}", &hash[..8]))
            .finish()
    }
}

fn check_count(what: &'static str, got: usize, min: usize, max: usize) -> Result<(), DecodeError> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(DecodeError::CountOutOfRange {
            what,
            got: got as u64,
            min: min as u64,
            max: max as u64,
        })
    }
}

/// Party `party`'s share: `values[j] = f_j(x)` and `blindings[j] = g_j(x)` at `x = party + 1`.
///
/// Zeroized on drop; `Debug` shows the party and the number of secrets only.
#[derive(Clone, PartialEq, Eq)]
pub struct PedersenShare {
    /// The party (0-based) this share belongs to.
    pub party: usize,
    /// One share per secret.
    pub values: Vec<RistrettoScalar>,
    /// One blinding share per secret.
    pub blindings: Vec<RistrettoScalar>,
}

impl Drop for PedersenShare {
    fn drop(&mut self) {
        for v in self.values.iter_mut().chain(self.blindings.iter_mut()) {
            v.0.zeroize();
        }
    }
}

impl core::fmt::Debug for PedersenShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PedersenShare")
            .field("party", &self.party)
            .field("secrets", &self.values.len())
            .field("values", &"<redacted>")
            .finish()
    }
}

/// A dealing: the public commitments and every party's (private) share, in party order.
#[derive(Clone)]
pub struct PedersenDealing {
    /// The commitments, to be broadcast (published on chain).
    pub commitments: Commitments,
    /// `shares[i]` goes to party `i` only.
    pub shares: Vec<PedersenShare>,
}

impl core::fmt::Debug for PedersenDealing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PedersenDealing")
            .field("commitments", &self.commitments)
            .field("shares", &self.shares.len())
            .finish()
    }
}

impl PedersenDealing {
    /// Signs every party's share message; `result[i]` goes to party `i`.
    pub fn sign(
        &self,
        key: &SigningKey,
        context: DealingContext<'_>,
    ) -> Result<Vec<SignedShare>, PedersenError> {
        self.shares
            .iter()
            .map(|share| SignedShare::sign(key, context, &self.commitments, share))
            .collect()
    }
}

/// Deals `secrets` (one polynomial pair each) with threshold `params.t()` to `params.n()` parties.
pub fn deal<R: CryptoRng + ?Sized>(
    params: ShamirParams,
    secrets: &[RistrettoScalar],
    rng: &mut R,
) -> Result<PedersenDealing, PedersenError> {
    if secrets.is_empty() {
        return Err(PedersenError::NoSecrets);
    }
    if secrets.len() > MAX_SECRETS {
        return Err(PedersenError::TooManySecrets {
            got: secrets.len(),
            max: MAX_SECRETS,
        });
    }
    let t = params.t();
    let mut f_rows = Vec::with_capacity(secrets.len());
    let mut g_rows = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let mut f = Vec::with_capacity(t + 1);
        f.push(secret.0);
        let mut g = Vec::with_capacity(t + 1);
        g.push(Scalar::random(rng));
        for _ in 0..t {
            f.push(Scalar::random(rng));
            g.push(Scalar::random(rng));
        }
        f_rows.push(f);
        g_rows.push(g);
    }
    let dealing = deal_polynomials(&STANDARD, params.n(), t, &f_rows, &g_rows);
    f_rows.zeroize();
    g_rows.zeroize();
    Ok(dealing)
}

/// Deals given polynomials: commitments to their first `t + 1` coefficients, shares of the whole
/// polynomials (so tests can build dealings whose degree exceeds the commitments).
fn deal_polynomials(
    gens: &Generators,
    n: usize,
    t: usize,
    f_rows: &[Vec<Scalar>],
    g_rows: &[Vec<Scalar>],
) -> PedersenDealing {
    let coefficient = |row: &[Scalar], k: usize| row.get(k).copied().unwrap_or(Scalar::ZERO);
    let mut points = Vec::with_capacity(f_rows.len() * (t + 1));
    for (f, g) in f_rows.iter().zip(g_rows) {
        for k in 0..=t {
            points.push(gens.commit(&coefficient(f, k), &coefficient(g, k)));
        }
    }
    let shares = (0..n)
        .map(|party| {
            let x = Scalar::from(party as u64 + 1);
            PedersenShare {
                party,
                values: f_rows
                    .iter()
                    .map(|f| RistrettoScalar(horner(f, &x)))
                    .collect(),
                blindings: g_rows
                    .iter()
                    .map(|g| RistrettoScalar(horner(g, &x)))
                    .collect(),
            }
        })
        .collect();
    PedersenDealing {
        commitments: Commitments::from_points(t, points),
        shares,
    }
}

fn horner(coefficients: &[Scalar], x: &Scalar) -> Scalar {
    coefficients
        .iter()
        .rev()
        .fold(Scalar::ZERO, |acc, c| acc * x + c)
}

/// Checks `f_j(x_i)·G + g_j(x_i)·H == Σ_k x_i^k·C_{j,k}` for every secret `j`, `x_i = party + 1`.
///
/// This is the receiver's check and also the check of a share revealed in a complaint or an
/// answer.
pub fn verify_share(commitments: &Commitments, share: &PedersenShare) -> Result<(), ShareError> {
    check_share(&STANDARD, commitments, share)
}

fn check_share(
    gens: &Generators,
    commitments: &Commitments,
    share: &PedersenShare,
) -> Result<(), ShareError> {
    let party = share.party;
    if party >= MAX_PARTIES {
        return Err(ShareError::PartyOutOfRange { party });
    }
    let expected = commitments.secrets();
    for got in [share.values.len(), share.blindings.len()] {
        if got != expected {
            return Err(ShareError::WrongCount {
                party,
                expected,
                got,
            });
        }
    }
    let x = Scalar::from(party as u64 + 1);
    for (secret, ((value, blinding), rhs)) in share
        .values
        .iter()
        .zip(&share.blindings)
        .zip(commitments.expected_at(&x))
        .enumerate()
    {
        if gens.commit(&value.0, &blinding.0) != rhs {
            return Err(ShareError::Inconsistent { party, secret });
        }
    }
    Ok(())
}

/// A share message signed by the dealer (layout in the module documentation).
///
/// Zeroized on drop; `Debug` shows the party, the dealer and the number of secrets only.
#[derive(Clone)]
pub struct SignedShare {
    bytes: Vec<u8>,
    session_hash: [u8; 32],
    dealer: u64,
    commitments_hash: [u8; 32],
    share: PedersenShare,
    signature: Signature,
}

impl Drop for SignedShare {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl core::fmt::Debug for SignedShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedShare")
            .field("party", &self.share.party)
            .field("dealer", &self.dealer)
            .field("secrets", &self.share.values.len())
            .finish_non_exhaustive()
    }
}

impl SignedShare {
    /// Signs `share` as dealer `context.dealer` of session `context.session`, bound to
    /// `commitments`.
    pub fn sign(
        key: &SigningKey,
        context: DealingContext<'_>,
        commitments: &Commitments,
        share: &PedersenShare,
    ) -> Result<Self, PedersenError> {
        let m = share.values.len();
        if m != share.blindings.len() {
            return Err(PedersenError::ShapeMismatch {
                values: m,
                blindings: share.blindings.len(),
            });
        }
        if m == 0 {
            return Err(PedersenError::NoSecrets);
        }
        if m > MAX_SECRETS {
            return Err(PedersenError::TooManySecrets {
                got: m,
                max: MAX_SECRETS,
            });
        }
        if share.party >= MAX_PARTIES {
            return Err(PedersenError::PartyOutOfRange {
                party: share.party,
                max: MAX_PARTIES,
            });
        }
        let session_hash = context.session_hash();
        let commitments_hash = commitments.hash();
        let mut bytes = Vec::with_capacity(MESSAGE_HEADER + PER_SECRET * m + SIGNATURE_BYTES);
        bytes.extend_from_slice(&SHARE_MESSAGE_TAG);
        bytes.extend_from_slice(&session_hash);
        bytes.extend_from_slice(&context.dealer.to_le_bytes());
        bytes.extend_from_slice(&(share.party as u32).to_le_bytes());
        bytes.extend_from_slice(&commitments_hash);
        bytes.extend_from_slice(&(m as u32).to_le_bytes());
        for (value, blinding) in share.values.iter().zip(&share.blindings) {
            bytes.extend_from_slice(value.0.as_bytes());
            bytes.extend_from_slice(blinding.0.as_bytes());
        }
        let signature = key.sign(&bytes);
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(SignedShare {
            bytes,
            session_hash,
            dealer: context.dealer,
            commitments_hash,
            share: share.clone(),
            signature,
        })
    }

    /// Decodes a signed share message. Checks the layout and canonical encodings only; the
    /// signature is checked against the dealer's key by [`receive_share`], [`verify_complaint`]
    /// and [`resolve_complaint`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        const WHAT: &str = "a signed Pedersen share message";
        if bytes.len() < MESSAGE_MIN {
            return Err(DecodeError::Truncated {
                what: WHAT,
                min: MESSAGE_MIN,
                got: bytes.len(),
            });
        }
        let (header, rest) = bytes.split_at(MESSAGE_HEADER);
        if header[..16] != SHARE_MESSAGE_TAG {
            return Err(DecodeError::BadTag);
        }
        let mut session_hash = [0u8; 32];
        session_hash.copy_from_slice(&header[16..48]);
        let mut dealer = [0u8; 8];
        dealer.copy_from_slice(&header[48..56]);
        let party = u32::from_le_bytes([header[56], header[57], header[58], header[59]]) as usize;
        let mut commitments_hash = [0u8; 32];
        commitments_hash.copy_from_slice(&header[60..92]);
        let m = u32::from_le_bytes([header[92], header[93], header[94], header[95]]) as usize;
        check_count("the number of secrets", m, 1, MAX_SECRETS)?;
        let expected = MESSAGE_HEADER + PER_SECRET * m + SIGNATURE_BYTES;
        if bytes.len() != expected {
            return Err(DecodeError::WrongLength {
                what: WHAT,
                expected,
                got: bytes.len(),
            });
        }
        check_count("the party index", party, 0, MAX_PARTIES - 1)?;
        let (body, signature_bytes) = rest.split_at(PER_SECRET * m);
        let mut scalars = body
            .chunks_exact(SCALAR_BYTES)
            .enumerate()
            .map(|(index, chunk)| {
                RistrettoScalar::read_bytes(chunk)
                    .map_err(|_| DecodeError::NonCanonicalScalar { index })
            });
        let mut values = Vec::with_capacity(m);
        let mut blindings = Vec::with_capacity(m);
        while let (Some(value), Some(blinding)) = (scalars.next(), scalars.next()) {
            values.push(value?);
            blindings.push(blinding?);
        }
        let share = PedersenShare {
            party,
            values,
            blindings,
        };
        let signature_array: [u8; SIGNATURE_BYTES] = signature_bytes
            .try_into()
            .map_err(|_| DecodeError::MalformedSignature)?;
        let signature = Signature::from_bytes(&signature_array);
        if Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes())).is_none() {
            return Err(DecodeError::MalformedSignature);
        }
        Ok(SignedShare {
            bytes: bytes.to_vec(),
            session_hash,
            dealer: u64::from_le_bytes(dealer),
            commitments_hash,
            share,
            signature,
        })
    }

    /// The encoded message, signature included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The party the share is addressed to.
    pub fn party(&self) -> usize {
        self.share.party
    }

    /// The dealer id the message was signed as.
    pub fn dealer(&self) -> u64 {
        self.dealer
    }

    /// The share it carries.
    pub fn share(&self) -> &PedersenShare {
        &self.share
    }

    /// Whether the signature is a valid (strict) ed25519 signature by `key` over the message.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        let signed = &self.bytes[..self.bytes.len() - SIGNATURE_BYTES];
        key.verify_strict(signed, &self.signature).is_ok()
    }

    /// The first bound field that differs from the expected session, dealer and commitments.
    fn binding_mismatch(
        &self,
        context: DealingContext<'_>,
        commitments: &Commitments,
    ) -> Option<Binding> {
        if self.session_hash != context.session_hash() {
            Some(Binding::Session)
        } else if self.dealer != context.dealer {
            Some(Binding::Dealer)
        } else if self.commitments_hash != commitments.hash() {
            Some(Binding::Commitments)
        } else {
            None
        }
    }
}

/// A provable complaint: the dealer's signed share message for the complaining party, whose
/// share fails verification against the published commitments.
#[derive(Debug, Clone)]
pub struct Complaint {
    signed: SignedShare,
}

impl Complaint {
    /// A complaint carrying `signed` as evidence.
    pub fn new(signed: SignedShare) -> Self {
        Complaint { signed }
    }

    /// The party whose share is disputed.
    pub fn party(&self) -> usize {
        self.signed.party()
    }

    /// The evidence.
    pub fn signed_share(&self) -> &SignedShare {
        &self.signed
    }

    /// The encoding: exactly the signed share message.
    pub fn as_bytes(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    /// Decodes a complaint (a signed share message).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        SignedShare::from_bytes(bytes).map(Complaint::new)
    }
}

/// Why a receiver has no usable share and nothing to prove it with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccusationReason {
    /// No message arrived in time.
    Missing,
    /// The message did not decode.
    Malformed(DecodeError),
    /// The signature is not the dealer's.
    BadSignature,
    /// The message is bound to another session, dealer, party or commitment set.
    WrongBinding(Binding),
}

/// A public accusation without evidence; the dealer must answer by publishing the party's signed
/// share message (see [`resolve_complaint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accusation {
    /// The accusing party, whose share is disputed.
    pub party: usize,
    /// What the accuser says went wrong (not verifiable; for the record).
    pub reason: AccusationReason,
}

/// What a receiver makes of the message the dealer sent it.
#[derive(Debug, Clone)]
pub enum Receipt {
    /// Signature, binding and share are good.
    Accepted(PedersenShare),
    /// Correctly signed and bound, but the share is inconsistent: file this complaint.
    Complain(Complaint),
    /// Nothing provable: accuse the dealer publicly and wait for its answer.
    Accuse(Accusation),
}

/// Party `party`'s handling of the message `bytes` it received from the dealer, given the
/// dealer's key, the dealing's context and the published commitments.
pub fn receive_share(
    dealer_key: &VerifyingKey,
    context: DealingContext<'_>,
    party: usize,
    commitments: &Commitments,
    bytes: &[u8],
) -> Receipt {
    let accuse = |reason| Receipt::Accuse(Accusation { party, reason });
    let signed = match SignedShare::from_bytes(bytes) {
        Ok(signed) => signed,
        Err(e) => return accuse(AccusationReason::Malformed(e)),
    };
    if !signed.verify_signature(dealer_key) {
        return accuse(AccusationReason::BadSignature);
    }
    if signed.party() != party {
        return accuse(AccusationReason::WrongBinding(Binding::Party));
    }
    if let Some(binding) = signed.binding_mismatch(context, commitments) {
        return accuse(AccusationReason::WrongBinding(binding));
    }
    match verify_share(commitments, signed.share()) {
        Ok(()) => Receipt::Accepted(signed.share().clone()),
        Err(_) => Receipt::Complain(Complaint::new(signed)),
    }
}

/// A judge's decision on a complaint or an accusation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The dealer cheated (or failed to answer); the evidence is in the reason.
    DealerFaulty(DealerFault),
    /// The dealer is cleared; for a provable [`Complaint`] this convicts the complainer.
    ComplaintUnfounded(Unfounded),
}

impl Verdict {
    /// Whether the dealer is convicted.
    pub fn is_dealer_faulty(&self) -> bool {
        matches!(self, Verdict::DealerFaulty(_))
    }
}

/// Why the dealer is faulty.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DealerFault {
    /// The dealer signed a share, bound to the published commitments, that fails verification.
    InconsistentShare {
        /// The party whose share it is.
        party: usize,
        /// How it fails.
        problem: ShareError,
    },
    /// The dealer did not answer an accusation.
    NoAnswer {
        /// The accusing party.
        party: usize,
    },
    /// The dealer's answer is not a valid signed share for the accusing party.
    InvalidAnswer {
        /// The accusing party.
        party: usize,
        /// What is wrong with the answer.
        problem: AnswerProblem,
    },
}

/// What is wrong with a dealer's answer to an accusation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnswerProblem {
    /// The signature is not the dealer's.
    BadSignature,
    /// The answer is bound to another session, dealer, party or commitment set.
    WrongBinding(Binding),
}

/// Why a complaint does not convict the dealer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unfounded {
    /// The complaint's evidence is not signed by the dealer (forged or corrupted).
    BadSignature,
    /// The evidence is for another session, dealer or commitment set.
    WrongBinding(Binding),
    /// The signed share verifies: the complainer had a good share.
    ShareConsistent {
        /// The complaining party.
        party: usize,
    },
    /// The dealer answered an accusation with a valid, consistent share, now public (nobody is
    /// convicted: a lost message proves nothing either way).
    DealerAnswered {
        /// The accusing party.
        party: usize,
    },
}

/// Decides a provable complaint: [`Verdict::DealerFaulty`] iff the evidence carries a valid
/// signature of the dealer, is bound to this session, dealer and commitment set, and its share is
/// inconsistent with the commitments. Anything else is [`Verdict::ComplaintUnfounded`].
///
/// The complaint's party is the owner of the disputed share; whoever shows a signed inconsistent
/// share proves the dealer faulty, so the caller need only match the filer to
/// [`Complaint::party`] when it wants to punish unfounded complaints.
pub fn verify_complaint(
    dealer_key: &VerifyingKey,
    context: DealingContext<'_>,
    commitments: &Commitments,
    complaint: &Complaint,
) -> Verdict {
    let signed = &complaint.signed;
    if !signed.verify_signature(dealer_key) {
        return Verdict::ComplaintUnfounded(Unfounded::BadSignature);
    }
    if let Some(binding) = signed.binding_mismatch(context, commitments) {
        return Verdict::ComplaintUnfounded(Unfounded::WrongBinding(binding));
    }
    let party = signed.party();
    match verify_share(commitments, signed.share()) {
        Ok(()) => Verdict::ComplaintUnfounded(Unfounded::ShareConsistent { party }),
        Err(problem) => Verdict::DealerFaulty(DealerFault::InconsistentShare { party, problem }),
    }
}

/// Decides an accusation by party `accused_party` from the dealer's answer: the party's signed
/// share message, published in the clear (`None` if the dealer did not answer in time, or its
/// answer did not decode). The dealer is faulty unless the answer is validly signed, bound to
/// this session, dealer, party and commitment set, and consistent with the commitments.
pub fn resolve_complaint(
    dealer_key: &VerifyingKey,
    context: DealingContext<'_>,
    commitments: &Commitments,
    accused_party: usize,
    answer: Option<&SignedShare>,
) -> Verdict {
    let party = accused_party;
    let invalid = |problem| Verdict::DealerFaulty(DealerFault::InvalidAnswer { party, problem });
    let Some(answer) = answer else {
        return Verdict::DealerFaulty(DealerFault::NoAnswer { party });
    };
    if !answer.verify_signature(dealer_key) {
        return invalid(AnswerProblem::BadSignature);
    }
    if answer.party() != party {
        return invalid(AnswerProblem::WrongBinding(Binding::Party));
    }
    if let Some(binding) = answer.binding_mismatch(context, commitments) {
        return invalid(AnswerProblem::WrongBinding(binding));
    }
    match verify_share(commitments, answer.share()) {
        Ok(()) => Verdict::ComplaintUnfounded(Unfounded::DealerAnswered { party }),
        Err(problem) => Verdict::DealerFaulty(DealerFault::InconsistentShare { party, problem }),
    }
}

/// The secrets reconstructed from verified shares, and the parties whose shares failed.
#[derive(Clone, PartialEq, Eq)]
pub struct Reconstruction {
    /// The secrets, in dealing order.
    pub secrets: Vec<RistrettoScalar>,
    /// Parties whose shares were inconsistent with the commitments (ignored), in input order.
    pub rejected: Vec<usize>,
}

impl core::fmt::Debug for Reconstruction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reconstruction")
            .field("secrets", &self.secrets.len())
            .field("rejected", &self.rejected)
            .finish()
    }
}

/// Reconstructs the secrets from shares: every share is verified against `commitments`, the
/// inconsistent ones are set aside (and reported), and the first `t + 1` verified ones are
/// interpolated at zero. A party out of range or given twice is an error.
pub fn reconstruct(
    params: ShamirParams,
    commitments: &Commitments,
    shares: &[PedersenShare],
) -> Result<Reconstruction, PedersenError> {
    let (n, t) = (params.n(), params.t());
    if commitments.threshold() != t {
        return Err(PedersenError::ThresholdMismatch {
            params: t,
            commitments: commitments.threshold(),
        });
    }
    let mut seen = 0u128;
    let mut parties = Vec::with_capacity(t + 1);
    let mut views: Vec<&[RistrettoScalar]> = Vec::with_capacity(t + 1);
    let mut rejected = Vec::new();
    for share in shares {
        let party = share.party;
        if party >= n || seen & (1u128 << party) != 0 {
            return Err(ShamirError::BadParty { party, n }.into());
        }
        seen |= 1u128 << party;
        if verify_share(commitments, share).is_err() {
            rejected.push(party);
        } else if parties.len() <= t {
            parties.push(party);
            views.push(&share.values);
        }
    }
    if parties.len() <= t {
        return Err(PedersenError::TooFewValidShares {
            needed: t + 1,
            valid: parties.len(),
            rejected: rejected.len(),
        });
    }
    let secrets = lagrange(&mut LagrangeCache::new(n), n, t, &parties, &views)?;
    Ok(Reconstruction { secrets, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
    use curve25519_dalek::traits::Identity;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const SESSION: &[u8] = b"dkg epoch 12";
    const CTX: DealingContext<'static> = DealingContext {
        session: SESSION,
        dealer: 4,
    };

    struct Setup {
        params: ShamirParams,
        secrets: Vec<RistrettoScalar>,
        dealing: PedersenDealing,
        key: SigningKey,
        signed: Vec<SignedShare>,
    }

    impl Setup {
        fn new(n: usize, t: usize, m: usize, seed: u64) -> Self {
            let mut rng = StdRng::seed_from_u64(seed);
            let params = ShamirParams::new(n, t).unwrap();
            let secrets: Vec<RistrettoScalar> =
                (0..m).map(|_| RistrettoScalar::random(&mut rng)).collect();
            let dealing = deal(params, &secrets, &mut rng).unwrap();
            let key = SigningKey::generate(&mut rng);
            let signed = dealing.sign(&key, CTX).unwrap();
            Setup {
                params,
                secrets,
                dealing,
                key,
                signed,
            }
        }

        fn vk(&self) -> VerifyingKey {
            self.key.verifying_key()
        }

        fn receive(&self, party: usize, bytes: &[u8]) -> Receipt {
            receive_share(&self.vk(), CTX, party, &self.dealing.commitments, bytes)
        }

        /// Re-signs every share as the (cheating) dealer, against the published commitments.
        fn resign(&mut self) {
            self.signed = self.dealing.sign(&self.key, CTX).unwrap();
        }

        fn judge(&self, complaint: &Complaint) -> Verdict {
            verify_complaint(&self.vk(), CTX, &self.dealing.commitments, complaint)
        }
    }

    fn signed_for(s: &Setup, party: usize) -> SignedShare {
        SignedShare::from_bytes(s.signed[party].as_bytes()).unwrap()
    }

    /// All subsets of `0..n` of size `k`, as index vectors.
    fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
        (0u32..1 << n)
            .filter(|mask| mask.count_ones() as usize == k)
            .map(|mask| (0..n).filter(|i| mask & (1 << i) != 0).collect())
            .collect()
    }

    /// Independent interpolation at zero over the bare `Scalar`s (no shared code with the
    /// Shamir module): Σ y_i · Π_{j≠i} x_j / (x_j − x_i).
    fn interpolate_at_zero(points: &[(u64, Scalar)]) -> Scalar {
        let mut acc = Scalar::ZERO;
        for (i, &(xi, yi)) in points.iter().enumerate() {
            let mut num = Scalar::ONE;
            let mut den = Scalar::ONE;
            for (j, &(xj, _)) in points.iter().enumerate() {
                if i != j {
                    num *= Scalar::from(xj);
                    den *= Scalar::from(xj) - Scalar::from(xi);
                }
            }
            acc += yi * num * den.invert();
        }
        acc
    }

    #[test]
    fn generator_h_is_the_documented_hash_and_is_pinned() {
        // Re-derive with the incremental blake3 API rather than the helper.
        let mut hasher =
            blake3::Hasher::new_derive_key("sharenet 2026 pedersen vss: second generator H");
        hasher.update(b"");
        let mut wide = [0u8; 64];
        hasher.finalize_xof().fill(&mut wide);
        let h = RistrettoPoint::from_uniform_bytes(&wide);
        assert_eq!(generator_h(), h);
        assert_ne!(h, RISTRETTO_BASEPOINT_POINT);
        assert_ne!(h, RistrettoPoint::identity());
        let hex: String = h
            .compress()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, PINNED_H_HEX);
    }

    const PINNED_H_HEX: &str = "f06158b5314fcae3cdffcf4b723828cc5ef0a4b9a4895667df0df06325a66972";

    #[test]
    fn honest_dealing_verifies_and_any_t_plus_one_reconstruct() {
        for (n, t, m) in [(1, 0, 1), (3, 1, 2), (5, 2, 1), (7, 3, 3), (4, 3, 1)] {
            let s = Setup::new(n, t, m, 10 + n as u64);
            for party in 0..n {
                assert_eq!(
                    verify_share(&s.dealing.commitments, &s.dealing.shares[party]),
                    Ok(())
                );
                match s.receive(party, s.signed[party].as_bytes()) {
                    Receipt::Accepted(share) => assert_eq!(share, s.dealing.shares[party]),
                    other => panic!("party {party}: {other:?}"),
                }
            }
            for subset in subsets(n, t + 1) {
                let shares: Vec<PedersenShare> = subset
                    .iter()
                    .map(|&p| s.dealing.shares[p].clone())
                    .collect();
                let rec = reconstruct(s.params, &s.dealing.commitments, &shares).unwrap();
                assert_eq!(rec.secrets, s.secrets, "n={n} subset {subset:?}");
                assert!(rec.rejected.is_empty());
                // And by independent interpolation.
                for (j, secret) in s.secrets.iter().enumerate() {
                    let points: Vec<(u64, Scalar)> = subset
                        .iter()
                        .map(|&p| (p as u64 + 1, s.dealing.shares[p].values[j].0))
                        .collect();
                    assert_eq!(interpolate_at_zero(&points), secret.0);
                }
            }
        }
    }

    #[test]
    fn the_commitments_open_to_the_secret() {
        // C_{j,0} = s_j·G + g_j(0)·H, with g_j(0) interpolated from t+1 blinding shares.
        let s = Setup::new(5, 2, 2, 3);
        let h = generator_h();
        for (j, secret) in s.secrets.iter().enumerate() {
            let points: Vec<(u64, Scalar)> = (0..3)
                .map(|p| (p as u64 + 1, s.dealing.shares[p].blindings[j].0))
                .collect();
            let r = interpolate_at_zero(&points);
            let row = s.dealing.commitments.row(j).unwrap();
            assert_eq!(row[0], secret.0 * RISTRETTO_BASEPOINT_POINT + r * h);
        }
        assert!(s.dealing.commitments.row(2).is_none());
    }

    #[test]
    fn t_shares_and_the_commitments_fit_every_secret() {
        // With a trapdoor H = α·G (only possible in a test), build for another secret s' the
        // unique (f', g') that matches the same t shares and the same commitments:
        // f' = f + (s' − s)·Z/Z(0), g' = g − (s' − s)/(α·Z(0))·Z, Z = Π_{i∈P} (x − x_i).
        let mut rng = StdRng::seed_from_u64(77);
        for (n, t) in [(3, 1), (5, 2), (7, 3), (2, 0)] {
            let alpha = Scalar::random(&mut rng);
            let gens = Generators::new(&(alpha * RISTRETTO_BASEPOINT_POINT));
            let f: Vec<Scalar> = (0..=t).map(|_| Scalar::random(&mut rng)).collect();
            let g: Vec<Scalar> = (0..=t).map(|_| Scalar::random(&mut rng)).collect();
            let original = deal_polynomials(
                &gens,
                n,
                t,
                std::slice::from_ref(&f),
                std::slice::from_ref(&g),
            );
            let watched: Vec<usize> = (n - t..n).collect();
            let mut z = vec![Scalar::ONE];
            for &p in &watched {
                // z ← z·(x − x_p)
                let xp = Scalar::from(p as u64 + 1);
                let mut next = vec![Scalar::ZERO; z.len() + 1];
                for (k, c) in z.iter().enumerate() {
                    next[k + 1] += c;
                    next[k] -= xp * c;
                }
                z = next;
            }
            let other_secret = Scalar::random(&mut rng);
            let delta = (other_secret - f[0]) * z[0].invert();
            let f2: Vec<Scalar> = f.iter().zip(&z).map(|(c, zk)| c + delta * zk).collect();
            let g2: Vec<Scalar> = g
                .iter()
                .zip(&z)
                .map(|(c, zk)| c - delta * alpha.invert() * zk)
                .collect();
            assert_eq!(f2[0], other_secret);
            let other = deal_polynomials(&gens, n, t, &[f2], &[g2]);
            assert_eq!(other.commitments, original.commitments, "n={n}");
            for &p in &watched {
                assert_eq!(other.shares[p], original.shares[p]);
                assert_eq!(
                    check_share(&gens, &other.commitments, &other.shares[p]),
                    Ok(())
                );
            }
            // Every share of the other dealing verifies too, and they open to the other secret.
            for p in 0..n {
                assert_eq!(
                    check_share(&gens, &original.commitments, &other.shares[p]),
                    Ok(())
                );
            }
            let points: Vec<(u64, Scalar)> = (0..=t)
                .map(|p| (p as u64 + 1, other.shares[p].values[0].0))
                .collect();
            assert_eq!(interpolate_at_zero(&points), other_secret);
        }
    }

    #[test]
    fn t_shares_are_not_enough() {
        let s = Setup::new(7, 3, 1, 5);
        let shares: Vec<PedersenShare> = s.dealing.shares[..3].to_vec();
        assert_eq!(
            reconstruct(s.params, &s.dealing.commitments, &shares),
            Err(PedersenError::TooFewValidShares {
                needed: 4,
                valid: 3,
                rejected: 0
            })
        );
        // Interpolating the t shares as if the degree were t − 1 gives something else.
        let points: Vec<(u64, Scalar)> = (0..3)
            .map(|p| (p as u64 + 1, s.dealing.shares[p].values[0].0))
            .collect();
        assert_ne!(interpolate_at_zero(&points), s.secrets[0].0);
    }

    fn assert_only_victims_fail(s: &Setup, victims: &[usize]) {
        let n = s.params.n();
        for party in 0..n {
            let receipt = s.receive(party, s.signed[party].as_bytes());
            if victims.contains(&party) {
                assert!(verify_share(&s.dealing.commitments, &s.dealing.shares[party]).is_err());
                let Receipt::Complain(complaint) = receipt else {
                    panic!("victim {party} should complain: {receipt:?}");
                };
                assert_eq!(complaint.party(), party);
                let verdict = s.judge(&complaint);
                assert!(
                    matches!(
                        verdict,
                        Verdict::DealerFaulty(DealerFault::InconsistentShare { party: p, .. }) if p == party
                    ),
                    "{verdict:?}"
                );
                // The complaint survives its own encoding.
                let decoded = Complaint::from_bytes(complaint.as_bytes()).unwrap();
                assert_eq!(s.judge(&decoded), verdict);
            } else {
                assert!(
                    matches!(receipt, Receipt::Accepted(_)),
                    "party {party}: {receipt:?}"
                );
            }
        }
    }

    #[test]
    fn a_wrong_share_value_is_caught_and_provable() {
        let mut s = Setup::new(5, 2, 2, 20);
        s.dealing.shares[3].values[1] += RistrettoScalar::ONE;
        s.resign();
        assert_only_victims_fail(&s, &[3]);
        let Receipt::Complain(c) = s.receive(3, s.signed[3].as_bytes()) else {
            panic!("expected a complaint");
        };
        assert_eq!(
            s.judge(&c),
            Verdict::DealerFaulty(DealerFault::InconsistentShare {
                party: 3,
                problem: ShareError::Inconsistent {
                    party: 3,
                    secret: 1
                }
            })
        );
    }

    #[test]
    fn a_wrong_blinding_is_caught_and_provable() {
        let mut s = Setup::new(7, 3, 1, 21);
        s.dealing.shares[0].blindings[0] -= RistrettoScalar::from_u64(9);
        s.dealing.shares[6].blindings[0] = RistrettoScalar::ZERO;
        s.resign();
        assert_only_victims_fail(&s, &[0, 6]);
    }

    #[test]
    fn a_share_vector_of_the_wrong_length_is_provable() {
        let mut s = Setup::new(3, 1, 2, 22);
        s.dealing.shares[1].values.pop();
        s.dealing.shares[1].blindings.pop();
        s.resign();
        assert_only_victims_fail(&s, &[1]);
    }

    #[test]
    fn a_polynomial_of_too_high_degree_is_caught() {
        // Shares on degree t+1 polynomials, commitments to their first t+1 coefficients: the
        // missing term x^{t+1}·(f_{t+1}·G + g_{t+1}·H) is non-zero at every point.
        let mut rng = StdRng::seed_from_u64(23);
        for (n, t) in [(3, 1), (5, 2), (7, 3)] {
            let f = vec![
                (0..t + 2)
                    .map(|_| Scalar::random(&mut rng))
                    .collect::<Vec<_>>(),
            ];
            let g = vec![
                (0..t + 2)
                    .map(|_| Scalar::random(&mut rng))
                    .collect::<Vec<_>>(),
            ];
            let dealing = deal_polynomials(&STANDARD, n, t, &f, &g);
            let key = SigningKey::generate(&mut rng);
            let s = Setup {
                params: ShamirParams::new(n, t).unwrap(),
                secrets: vec![RistrettoScalar(f[0][0])],
                signed: dealing.sign(&key, CTX).unwrap(),
                dealing,
                key,
            };
            let everyone: Vec<usize> = (0..n).collect();
            assert_only_victims_fail(&s, &everyone);
            // Only the top blinding coefficient off: the blinding side alone is caught too.
            let mut f_low = f.clone();
            f_low[0].truncate(t + 1);
            let dealing = deal_polynomials(&STANDARD, n, t, &f_low, &g);
            for share in &dealing.shares {
                assert!(verify_share(&dealing.commitments, share).is_err());
            }
        }
    }

    #[test]
    fn an_honest_receivers_bogus_complaint_is_unfounded() {
        let s = Setup::new(5, 2, 1, 30);
        for party in 0..5 {
            let verdict = s.judge(&Complaint::new(signed_for(&s, party)));
            assert_eq!(
                verdict,
                Verdict::ComplaintUnfounded(Unfounded::ShareConsistent { party })
            );
            assert!(!verdict.is_dealer_faulty());
        }
    }

    #[test]
    fn forged_signatures_are_rejected() {
        let s = Setup::new(5, 2, 1, 31);
        // A receiver alters its share and keeps the dealer's signature.
        let mut bytes = s.signed[2].as_bytes().to_vec();
        let tampered = (s.dealing.shares[2].values[0] + RistrettoScalar::ONE).to_bytes_vec();
        bytes[MESSAGE_HEADER..MESSAGE_HEADER + 32].copy_from_slice(&tampered);
        let forged = Complaint::from_bytes(&bytes).unwrap();
        assert_eq!(
            s.judge(&forged),
            Verdict::ComplaintUnfounded(Unfounded::BadSignature)
        );
        // A receiver signs an inconsistent share with a key of its own.
        let mut rng = StdRng::seed_from_u64(32);
        let mallory = SigningKey::generate(&mut rng);
        let mut bad = s.dealing.shares[2].clone();
        bad.values[0] += RistrettoScalar::ONE;
        let own = SignedShare::sign(&mallory, CTX, &s.dealing.commitments, &bad).unwrap();
        assert_eq!(
            s.judge(&Complaint::new(own.clone())),
            Verdict::ComplaintUnfounded(Unfounded::BadSignature)
        );
        assert!(matches!(
            s.receive(2, own.as_bytes()),
            Receipt::Accuse(Accusation {
                party: 2,
                reason: AccusationReason::BadSignature
            })
        ));
        // A flipped bit in R, or in s (keeping s canonical), breaks the signature.
        for position in [bytes.len() - 64, bytes.len() - 20] {
            let mut flipped = s.signed[2].as_bytes().to_vec();
            flipped[position] ^= 0x01;
            match SignedShare::from_bytes(&flipped) {
                Ok(signed) => {
                    assert!(!signed.verify_signature(&s.vk()));
                    assert_eq!(
                        s.judge(&Complaint::new(signed)),
                        Verdict::ComplaintUnfounded(Unfounded::BadSignature)
                    );
                }
                Err(e) => assert_eq!(e, DecodeError::MalformedSignature),
            }
        }
    }

    #[test]
    fn the_signature_binds_session_dealer_party_and_commitments() {
        let s = Setup::new(3, 1, 1, 40);
        let other_session = DealingContext {
            session: b"dkg epoch 13",
            dealer: CTX.dealer,
        };
        let other_dealer = DealingContext {
            session: SESSION,
            dealer: 5,
        };
        let other_commitments = Setup::new(3, 1, 1, 41).dealing.commitments;
        let vk = s.vk();
        let comm = &s.dealing.commitments;
        let bytes = s.signed[0].as_bytes();
        let reason = |r: Receipt| match r {
            Receipt::Accuse(a) => Some(a.reason),
            _ => None,
        };
        let wrong = |b| Some(AccusationReason::WrongBinding(b));
        assert_eq!(
            reason(receive_share(&vk, other_session, 0, comm, bytes)),
            wrong(Binding::Session)
        );
        assert_eq!(
            reason(receive_share(&vk, other_dealer, 0, comm, bytes)),
            wrong(Binding::Dealer)
        );
        assert_eq!(
            reason(receive_share(&vk, CTX, 1, comm, bytes)),
            wrong(Binding::Party)
        );
        assert_eq!(
            reason(receive_share(&vk, CTX, 0, &other_commitments, bytes)),
            wrong(Binding::Commitments)
        );
        // A share signed for another session cannot convict the dealer in this one, even if it
        // is inconsistent here.
        let mut bad = s.dealing.shares[0].clone();
        bad.values[0] += RistrettoScalar::ONE;
        let elsewhere = SignedShare::sign(&s.key, other_session, comm, &bad).unwrap();
        assert_eq!(
            s.judge(&Complaint::new(elsewhere)),
            Verdict::ComplaintUnfounded(Unfounded::WrongBinding(Binding::Session))
        );
        assert_eq!(
            verify_complaint(
                &vk,
                CTX,
                &other_commitments,
                &Complaint::new(signed_for(&s, 0))
            ),
            Verdict::ComplaintUnfounded(Unfounded::WrongBinding(Binding::Commitments))
        );
    }

    #[test]
    fn accusations_are_resolved_by_the_dealers_answer() {
        let mut s = Setup::new(5, 2, 1, 50);
        let vk = s.vk();
        let comm = s.dealing.commitments.clone();
        // The message never arrived / did not decode.
        assert!(matches!(
            s.receive(1, &s.signed[1].as_bytes()[..100]),
            Receipt::Accuse(Accusation {
                party: 1,
                reason: AccusationReason::Malformed(DecodeError::Truncated { .. })
            })
        ));
        // A consistent answer clears the dealer and hands the accuser its share.
        let answer = signed_for(&s, 1);
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, Some(&answer)),
            Verdict::ComplaintUnfounded(Unfounded::DealerAnswered { party: 1 })
        );
        assert_eq!(answer.share(), &s.dealing.shares[1]);
        // No answer.
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, None),
            Verdict::DealerFaulty(DealerFault::NoAnswer { party: 1 })
        );
        // An answer for someone else.
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, Some(&signed_for(&s, 2))),
            Verdict::DealerFaulty(DealerFault::InvalidAnswer {
                party: 1,
                problem: AnswerProblem::WrongBinding(Binding::Party)
            })
        );
        // An answer not signed by the dealer.
        let stranger = SigningKey::generate(&mut StdRng::seed_from_u64(51));
        let unsigned = SignedShare::sign(&stranger, CTX, &comm, &s.dealing.shares[1]).unwrap();
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, Some(&unsigned)),
            Verdict::DealerFaulty(DealerFault::InvalidAnswer {
                party: 1,
                problem: AnswerProblem::BadSignature
            })
        );
        // An answer bound to other commitments.
        let other = Setup::new(5, 2, 1, 52).dealing.commitments;
        let rebound = SignedShare::sign(&s.key, CTX, &other, &s.dealing.shares[1]).unwrap();
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, Some(&rebound)),
            Verdict::DealerFaulty(DealerFault::InvalidAnswer {
                party: 1,
                problem: AnswerProblem::WrongBinding(Binding::Commitments)
            })
        );
        // An inconsistent answer.
        s.dealing.shares[1].blindings[0] += RistrettoScalar::ONE;
        s.resign();
        assert_eq!(
            resolve_complaint(&vk, CTX, &comm, 1, Some(&signed_for(&s, 1))),
            Verdict::DealerFaulty(DealerFault::InconsistentShare {
                party: 1,
                problem: ShareError::Inconsistent {
                    party: 1,
                    secret: 0
                }
            })
        );
    }

    #[test]
    fn reconstruction_sets_aside_bad_shares() {
        let mut s = Setup::new(7, 2, 2, 60);
        s.dealing.shares[0].values[0] += RistrettoScalar::ONE;
        s.dealing.shares[4].blindings[1] += RistrettoScalar::ONE;
        let rec = reconstruct(s.params, &s.dealing.commitments, &s.dealing.shares).unwrap();
        assert_eq!(rec.secrets, s.secrets);
        assert_eq!(rec.rejected, vec![0, 4]);
        let few: Vec<PedersenShare> = [0, 1, 2, 4]
            .iter()
            .map(|&p| s.dealing.shares[p].clone())
            .collect();
        assert_eq!(
            reconstruct(s.params, &s.dealing.commitments, &few),
            Err(PedersenError::TooFewValidShares {
                needed: 3,
                valid: 2,
                rejected: 2
            })
        );
        let twice = vec![s.dealing.shares[1].clone(), s.dealing.shares[1].clone()];
        assert!(matches!(
            reconstruct(s.params, &s.dealing.commitments, &twice),
            Err(PedersenError::Shamir(ShamirError::BadParty {
                party: 1,
                ..
            }))
        ));
        let small = ShamirParams::new(7, 3).unwrap();
        assert!(matches!(
            reconstruct(small, &s.dealing.commitments, &s.dealing.shares),
            Err(PedersenError::ThresholdMismatch {
                params: 3,
                commitments: 2
            })
        ));
    }

    #[test]
    fn dealing_and_signing_validate_their_inputs() {
        let mut rng = StdRng::seed_from_u64(70);
        let params = ShamirParams::new(3, 1).unwrap();
        assert!(matches!(
            deal(params, &[], &mut rng),
            Err(PedersenError::NoSecrets)
        ));
        let many = vec![RistrettoScalar::ONE; MAX_SECRETS + 1];
        assert!(matches!(
            deal(params, &many, &mut rng),
            Err(PedersenError::TooManySecrets { .. })
        ));
        let s = Setup::new(3, 1, 1, 71);
        let mut ragged = s.dealing.shares[0].clone();
        ragged.blindings.push(RistrettoScalar::ONE);
        assert_eq!(
            SignedShare::sign(&s.key, CTX, &s.dealing.commitments, &ragged).unwrap_err(),
            PedersenError::ShapeMismatch {
                values: 1,
                blindings: 2
            }
        );
        let mut far = s.dealing.shares[0].clone();
        far.party = MAX_PARTIES;
        assert!(matches!(
            SignedShare::sign(&s.key, CTX, &s.dealing.commitments, &far),
            Err(PedersenError::PartyOutOfRange { .. })
        ));
        assert_eq!(
            verify_share(&s.dealing.commitments, &far),
            Err(ShareError::PartyOutOfRange { party: MAX_PARTIES })
        );
        far.party = usize::MAX;
        assert!(verify_share(&s.dealing.commitments, &far).is_err());
    }

    #[test]
    fn commitments_round_trip_and_reject_malformed_bytes() {
        let s = Setup::new(5, 2, 2, 80);
        let bytes = s.dealing.commitments.to_bytes();
        assert_eq!(bytes.len(), 8 + 32 * 2 * 3);
        assert_eq!(&bytes[..8], &[2, 0, 0, 0, 2, 0, 0, 0]);
        let decoded = Commitments::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, s.dealing.commitments);
        assert_eq!(decoded.hash(), s.dealing.commitments.hash());
        assert_eq!(decoded.row(1), s.dealing.commitments.row(1));
        for len in 0..bytes.len() {
            assert!(Commitments::from_bytes(&bytes[..len]).is_err(), "len {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Commitments::from_bytes(&longer).unwrap_err(),
            DecodeError::WrongLength {
                what: "a Pedersen commitment set",
                expected: bytes.len(),
                got: bytes.len() + 1
            }
        );
        // 1 is odd, i.e. "negative": never a valid Ristretto encoding; so is 2^255 − 1.
        for bad_point in [
            [1u8; 1]
                .iter()
                .chain(&[0u8; 31])
                .copied()
                .collect::<Vec<_>>(),
            vec![0xff; 32],
        ] {
            let mut bad = bytes.clone();
            bad[8 + 32 * 4..8 + 32 * 5].copy_from_slice(&bad_point);
            assert_eq!(
                Commitments::from_bytes(&bad).unwrap_err(),
                DecodeError::BadPoint { index: 4 }
            );
        }
        let mut zero_secrets = bytes.clone();
        zero_secrets[..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            Commitments::from_bytes(&zero_secrets),
            Err(DecodeError::CountOutOfRange { got: 0, .. })
        ));
        let mut huge = bytes.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Commitments::from_bytes(&huge),
            Err(DecodeError::CountOutOfRange { .. })
        ));
    }

    #[test]
    fn share_messages_round_trip_and_reject_malformed_bytes() {
        let s = Setup::new(5, 2, 2, 90);
        let good = s.signed[3].as_bytes().to_vec();
        assert_eq!(good.len(), 160 + 64 * 2);
        assert_eq!(&good[..16], b"sharenet:pvss:v1");
        assert_eq!(&good[48..56], &4u64.to_le_bytes());
        assert_eq!(&good[56..60], &3u32.to_le_bytes());
        assert_eq!(&good[60..92], &s.dealing.commitments.hash());
        assert_eq!(&good[92..96], &2u32.to_le_bytes());
        assert_eq!(&good[96..128], s.dealing.shares[3].values[0].0.as_bytes());
        assert_eq!(
            &good[128..160],
            s.dealing.shares[3].blindings[0].0.as_bytes()
        );
        let decoded = SignedShare::from_bytes(&good).unwrap();
        assert_eq!(decoded.share(), &s.dealing.shares[3]);
        assert_eq!(decoded.dealer(), 4);
        assert_eq!(decoded.as_bytes(), &good[..]);
        assert!(decoded.verify_signature(&s.vk()));

        for len in 0..good.len() {
            let err = SignedShare::from_bytes(&good[..len]).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecodeError::Truncated { .. } | DecodeError::WrongLength { .. }
                ),
                "len {len}: {err:?}"
            );
        }
        let mut longer = good.clone();
        longer.extend_from_slice(&[0; 64]);
        assert!(matches!(
            SignedShare::from_bytes(&longer),
            Err(DecodeError::WrongLength {
                expected: 288,
                got: 352,
                ..
            })
        ));
        let mut tag = good.clone();
        tag[15] = b'2';
        assert_eq!(
            SignedShare::from_bytes(&tag).unwrap_err(),
            DecodeError::BadTag
        );
        let mut count = good.clone();
        count[92..96].copy_from_slice(&(MAX_SECRETS as u32 + 1).to_le_bytes());
        assert!(matches!(
            SignedShare::from_bytes(&count),
            Err(DecodeError::CountOutOfRange { .. })
        ));
        let mut party = good.clone();
        party[56..60].copy_from_slice(&(MAX_PARTIES as u32).to_le_bytes());
        assert!(matches!(
            SignedShare::from_bytes(&party),
            Err(DecodeError::CountOutOfRange { .. })
        ));
        // The group order ℓ itself, and 2^256 − 1, are not canonical scalars.
        let order = (-Scalar::ONE).to_bytes();
        let mut ell = order;
        ell[0] += 1;
        for (index, bad_scalar) in [(1, ell), (2, [0xff; 32])] {
            let mut bad = good.clone();
            let at = MESSAGE_HEADER + 32 * index;
            bad[at..at + 32].copy_from_slice(&bad_scalar);
            assert_eq!(
                SignedShare::from_bytes(&bad).unwrap_err(),
                DecodeError::NonCanonicalScalar { index }
            );
        }
        let mut sig_s = good.clone();
        let at = good.len() - 32;
        sig_s[at..].copy_from_slice(&ell);
        assert_eq!(
            SignedShare::from_bytes(&sig_s).unwrap_err(),
            DecodeError::MalformedSignature
        );
        // Every malformed message makes the receiver accuse, never accept or complain.
        for bad in [&good[..200], &longer[..], &tag[..], &sig_s[..]] {
            assert!(matches!(
                s.receive(3, bad),
                Receipt::Accuse(Accusation {
                    party: 3,
                    reason: AccusationReason::Malformed(_)
                })
            ));
        }
    }

    #[test]
    fn nothing_secret_reaches_debug_output_or_errors() {
        let s = Setup::new(3, 1, 1, 100);
        let share = &s.dealing.shares[1];
        let needles: Vec<String> = [share.values[0], share.blindings[0], s.secrets[0]]
            .iter()
            .flat_map(|v| {
                let hex: String = v.0.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                [
                    format!("{v:?}"),
                    format!("{:02x?}", v.0.as_bytes()),
                    hex,
                    format!("{:?}", v.0.as_bytes()),
                ]
            })
            .collect();
        let complaint = Complaint::new(signed_for(&s, 1));
        let rec = reconstruct(s.params, &s.dealing.commitments, &s.dealing.shares).unwrap();
        let outputs = [
            format!("{share:?}"),
            format!("{:?}", s.dealing),
            format!("{:?}", s.signed[1]),
            format!("{complaint:?}"),
            format!("{:?}", s.receive(1, s.signed[1].as_bytes())),
            format!("{rec:?}"),
            format!("{:?}", s.key),
        ];
        for out in &outputs {
            for needle in &needles {
                assert!(!out.contains(needle.as_str()), "{out}");
            }
        }
        assert!(outputs[0].contains("redacted"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = SignedShare::from_bytes(&bytes);
            let _ = Commitments::from_bytes(&bytes);
            let _ = Complaint::from_bytes(&bytes);
        }

        #[test]
        fn decoding_plausible_headers_never_panics(
            m in 0u32..4,
            party in 0u32..200,
            t in 0u32..4,
            tail in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut message = SHARE_MESSAGE_TAG.to_vec();
            message.extend_from_slice(&[7; 44]);
            message.extend_from_slice(&party.to_le_bytes());
            message.extend_from_slice(&[9; 32]);
            message.extend_from_slice(&m.to_le_bytes());
            message.extend_from_slice(&tail);
            let _ = SignedShare::from_bytes(&message);
            let mut commitments = m.to_le_bytes().to_vec();
            commitments.extend_from_slice(&t.to_le_bytes());
            commitments.extend_from_slice(&tail);
            let _ = Commitments::from_bytes(&commitments);
        }

        #[test]
        fn any_corrupted_byte_is_never_accepted(position in 0usize..224, flip in 1u8..=255) {
            static SETUP: LazyLock<Setup> = LazyLock::new(|| Setup::new(3, 1, 1, 110));
            let s = &*SETUP;
            let mut bytes = s.signed[2].as_bytes().to_vec();
            bytes[position] ^= flip;
            let receipt = s.receive(2, &bytes);
            prop_assert!(matches!(receipt, Receipt::Accuse(_)), "{:?}", receipt);
            if let Ok(signed) = SignedShare::from_bytes(&bytes) {
                prop_assert!(!s.judge(&Complaint::new(signed)).is_dealer_faulty());
            }
        }

        #[test]
        fn pedersen_vss_over_honest_majority_parameters(
            (n, t) in (1usize..=9).prop_flat_map(|n| (Just(n), 0..n.div_ceil(2))),
            m in 1usize..=3,
            seed in any::<u64>(),
            pick in any::<u64>(),
        ) {
            prop_assume!(2 * t < n);
            let mut s = Setup::new(n, t, m, seed);
            // A pseudo-random set of t+1 parties in pseudo-random order reconstructs.
            let mut order: Vec<usize> = (0..n).collect();
            let mut state = pick;
            for i in (1..n).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (state >> 33) as usize % (i + 1));
            }
            let chosen: Vec<PedersenShare> =
                order[..=t].iter().map(|&p| s.dealing.shares[p].clone()).collect();
            let rec = reconstruct(s.params, &s.dealing.commitments, &chosen).unwrap();
            prop_assert_eq!(&rec.secrets, &s.secrets);
            // The commitments survive their encoding.
            let decoded = Commitments::from_bytes(&s.dealing.commitments.to_bytes()).unwrap();
            prop_assert_eq!(&decoded, &s.dealing.commitments);
            // One victim with a tampered share: only the victim fails, its complaint convicts
            // the dealer, everyone else's complaint is unfounded.
            let victim = order[n - 1];
            let secret = (pick % m as u64) as usize;
            if pick & 1 == 0 {
                s.dealing.shares[victim].values[secret] += RistrettoScalar::from_u64(pick | 1);
            } else {
                s.dealing.shares[victim].blindings[secret] -= RistrettoScalar::from_u64(pick | 1);
            }
            s.resign();
            for party in 0..n {
                let receipt = s.receive(party, s.signed[party].as_bytes());
                let verdict = s.judge(&Complaint::new(signed_for(&s, party)));
                if party == victim {
                    prop_assert!(matches!(receipt, Receipt::Complain(_)));
                    prop_assert_eq!(verdict, Verdict::DealerFaulty(DealerFault::InconsistentShare {
                        party,
                        problem: ShareError::Inconsistent { party, secret },
                    }));
                } else {
                    prop_assert!(matches!(receipt, Receipt::Accepted(_)));
                    prop_assert_eq!(verdict, Verdict::ComplaintUnfounded(Unfounded::ShareConsistent { party }));
                }
            }
        }
    }
}
