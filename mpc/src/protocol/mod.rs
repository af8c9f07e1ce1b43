//! The honest-majority MPC protocols (Damgård–Nielsen 2007) over Shamir sharings of degree
//! `t < n/2`: random double sharings, input sharing, vectorised multiplication and inner products
//! with a rotating king, openings to everyone or to one receiver, and re-sharing from a live
//! subset of a larger committee. Semi-honest by default; [`Session::set_security`] makes a
//! session secure with abort against malicious members (the `verify` module).
//!
//! A [`Session`] is one party's view of one computation: it owns the party's transport, the
//! per-link sequence numbers, the randomness (PRSS keys or a fresh RNG), a Lagrange cache and the
//! running transcript digest ([`Session::transcript_digest`]). Every operation takes and returns
//! whole vectors: one round carries a whole column of gates.

mod bits;
mod channel;
mod compare;
mod double_random;
mod float;
mod input;
mod mul;
mod open;
mod outside;
mod prss;
mod reshare;
mod transcript;
mod verify;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::field::{Field, FieldError};
use crate::shamir::{LagrangeCache, ShamirError, ShamirParams};
use crate::transport::{Transport, TransportError, TransportStats};

pub use channel::{Channel, MessageKind};
pub use compare::{Extremum, MAX_COMPARISON_BITS, STATISTICAL_SECURITY, max_comparison_bits};
pub use double_random::DoubleRandomBatch;
pub use float::{MANTISSA_BITS, SecretFloats, ZERO_EXPONENT, decode_floats};
pub use outside::OutsideParty;
pub use prss::{Prss, key_sets as prss_key_sets};
pub use reshare::PointsError;
pub use transcript::TRANSCRIPT_CONTEXT;
pub use verify::{FIRST_BIT_BATCH, MALICIOUS_MAX_KEY_SETS, MAX_BIT_BATCH, Security, VERIFY_BATCH};

pub(crate) use transcript::{Record, Transcript};

/// Why a protocol step failed. Carries party indices, kinds and sizes, never shares or values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The transport failed (timeout, closed link, oversized message, I/O).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Invalid parameters or an inconsistent set of shares.
    #[error(transparent)]
    Shamir(#[from] ShamirError),
    /// A party sent a non-canonical field element.
    #[error("party {from} sent an invalid field element: {source}")]
    Field {
        /// The sender.
        from: usize,
        /// What was wrong with it.
        source: FieldError,
    },
    /// A message arrived that belongs to another step of the protocol.
    #[error("party {from} sent a {got} message where a {expected} message was expected")]
    UnexpectedMessage {
        /// The sender.
        from: usize,
        /// The kind expected at this step.
        expected: &'static str,
        /// The kind received.
        got: &'static str,
    },
    /// A message arrived out of sequence (replayed, dropped or reordered).
    #[error("party {from} sent message #{got} where #{expected} was expected")]
    OutOfOrder {
        /// The sender.
        from: usize,
        /// The sequence number expected.
        expected: u64,
        /// The sequence number received.
        got: u64,
    },
    /// A message had the wrong size for this step.
    #[error("party {from} sent {got_bytes} bytes where {expected_bytes} were expected")]
    WrongLength {
        /// The sender.
        from: usize,
        /// Expected payload size.
        expected_bytes: usize,
        /// Received payload size.
        got_bytes: usize,
    },
    /// A message could not be parsed.
    #[error("party {from} sent a malformed message: {reason}")]
    Malformed {
        /// The sender.
        from: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A party index is not valid here.
    #[error("party {party} is not valid in a session of {endpoints} endpoints")]
    BadParty {
        /// The index.
        party: usize,
        /// Endpoints in the session.
        endpoints: usize,
    },
    /// Inputs to a vectorised operation have different lengths.
    #[error("operand lengths differ: {left} and {right}")]
    LengthMismatch {
        /// Length of the first operand.
        left: usize,
        /// Length of the second operand.
        right: usize,
    },
    /// The caller gave values where it must not, or none where it must.
    #[error("{0}")]
    Usage(&'static str),
    /// The original evaluation points given for a re-sharing are not valid.
    #[error(transparent)]
    Points(#[from] PointsError),
    /// A malicious-security check failed: some member deviated from the protocol (which member
    /// the check cannot tell). Nothing that depends on the checked values may be released.
    #[error(
        "cheating detected: {check} failed over {checked} authenticated values; the session is aborted and nothing is released"
    )]
    CheatingDetected {
        /// Which check.
        check: &'static str,
        /// How many authenticated values it covered.
        checked: usize,
    },
    /// Another party stopped the session and said so ([`Session::notify_abort`]): its checks
    /// failed or it could not go on. Nothing that depends on the session is released.
    #[error(
        "party {from} aborted the session (its checks failed or it could not go on); nothing is released"
    )]
    Aborted {
        /// The party that aborted.
        from: usize,
    },
    /// The output shares an outside receiver collected do not lie on one polynomial of degree
    /// `t` and cannot be corrected soundly: some members sent wrong shares, and with fewer than
    /// `3t + 1` shares (or more wrong ones than can be corrected) nobody can tell which.
    #[error(
        "inconsistent output shares: the shares of value #{index} are inconsistent (not on one polynomial of degree {degree}) across the {shares} received and cannot be corrected soundly; the result is withheld and no member is named"
    )]
    InconsistentOutput {
        /// Position of the first inconsistent value.
        index: usize,
        /// The sharing's degree `t`.
        degree: usize,
        /// Shares received per value.
        shares: usize,
    },
}

/// Where a session's random double sharings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RandomnessSource {
    /// Pseudo-random secret sharing: no communication, `C(n−1, t)` PRF keys per party set up
    /// in one round at session start. Best for small committees.
    Prss,
    /// Damgård–Nielsen batches through a hyper-invertible (Vandermonde) matrix: one round, about
    /// `2(n−1)/(n−t)` field elements sent per double sharing per party.
    HyperInvertible,
    /// PRSS while `C(n, t)` stays small (at most [`AUTO_PRSS_MAX_KEY_SETS`] key sets: n = 3
    /// and n = 5 at the largest threshold), hyper-invertible beyond.
    Auto,
}

/// Largest number of PRSS key sets for which [`RandomnessSource::Auto`] picks PRSS. Measured with
/// `mpc-bench --op mul`: PRSS wins at n = 5 (10 sets), hyper-invertible batches at n = 7 (35).
pub const AUTO_PRSS_MAX_KEY_SETS: usize = 10;

/// Counters a benchmark or a report wants from a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Communication rounds this party took part in.
    pub rounds: u64,
    /// Multiplication gates (an inner product counts as one).
    pub multiplications: u64,
    /// Shared random bits generated.
    pub random_bits: u64,
    /// Transport counters.
    pub transport: TransportStats,
}

/// One computing party's state in one MPC session.
#[derive(Debug)]
pub struct Session<F: Field, T: Transport> {
    params: ShamirParams,
    channel: Channel<T>,
    lagrange: LagrangeCache<F>,
    rng: StdRng,
    prss: Option<Prss<F>>,
    /// Whether double sharings and random sharings come from `prss` (a malicious session with
    /// hyper-invertible randomness keeps PRSS keys for bounded integers only).
    prss_doubles: bool,
    transcript: Transcript,
    rounds: u64,
    /// Rounds of the set-up (before the session may change its security level).
    setup_rounds: u64,
    multiplications: u64,
    random_bits: u64,
    security: Security,
    pending: verify::PendingProducts<F>,
    /// Verified random bits made and not used yet (malicious sessions).
    bit_pool: verify::BitPool<F>,
}

impl<F: Field, T: Transport> Session<F, T> {
    /// Starts a session for computing party `transport.me()` of a committee of `n` parties with
    /// threshold `t` (`2t < n`), seeding its RNG from the operating system.
    ///
    /// With [`RandomnessSource::Prss`] (or `Auto` for small committees) this runs the one-round
    /// key set-up, so every party must start its session at the same point.
    pub fn new(
        n: usize,
        t: usize,
        transport: T,
        randomness: RandomnessSource,
    ) -> Result<Self, ProtocolError> {
        let rng = StdRng::from_rng(&mut rand::rng());
        Self::with_rng(n, t, transport, randomness, rng)
    }

    /// [`Session::new`] with a caller-supplied RNG (reproducible tests).
    pub fn with_rng(
        n: usize,
        t: usize,
        transport: T,
        randomness: RandomnessSource,
        rng: StdRng,
    ) -> Result<Self, ProtocolError> {
        let params = ShamirParams::honest_majority(n, t)?;
        let endpoints = transport.endpoints();
        if endpoints < n || transport.me() >= n {
            return Err(ProtocolError::BadParty {
                party: transport.me(),
                endpoints,
            });
        }
        let mut session = Session {
            params,
            channel: Channel::new::<F>(transport),
            lagrange: LagrangeCache::new(n),
            rng,
            prss: None,
            prss_doubles: false,
            transcript: Transcript::new(F::NAME, n, t),
            rounds: 0,
            setup_rounds: 0,
            multiplications: 0,
            random_bits: 0,
            security: Security::SemiHonest,
            pending: verify::PendingProducts::default(),
            bit_pool: verify::BitPool::default(),
        };
        let use_prss = match randomness {
            RandomnessSource::Prss => true,
            RandomnessSource::HyperInvertible => false,
            RandomnessSource::Auto => prss::key_sets(n, t) <= AUTO_PRSS_MAX_KEY_SETS,
        };
        if use_prss {
            session.prss = Some(Prss::setup(&mut session)?);
            session.prss_doubles = true;
        }
        session.setup_rounds = session.rounds;
        Ok(session)
    }

    /// This party's index.
    pub fn me(&self) -> usize {
        self.channel.me()
    }

    /// Number of computing parties.
    pub fn n(&self) -> usize {
        self.params.n()
    }

    /// Threshold.
    pub fn t(&self) -> usize {
        self.params.t()
    }

    /// Whether random double sharings come from PRSS.
    pub fn uses_prss(&self) -> bool {
        self.prss.is_some() && self.prss_doubles
    }

    /// Rounds and traffic so far.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            rounds: self.rounds,
            multiplications: self.multiplications,
            random_bits: self.random_bits,
            transport: self.channel.stats(),
        }
    }

    /// The digest of this session's transcript so far: blake3 (`derive_key` context
    /// [`TRANSCRIPT_CONTEXT`]) over the field, `n`, `t`, the sequence of operations with their
    /// public parameters and lengths, and every value opened to all parties (public openings, the
    /// kings' broadcasts of masked products, masked comparison values, revealed combinations of a
    /// dealer check). Values opened to one receiver only are not included; that the opening
    /// happened, to whom and its length are.
    ///
    /// Every honest party of a correct run computes the same digest, so the committee can attest
    /// it as the run's commitment. It is not a function of the inputs alone: the opened values
    /// are masked with fresh randomness, so two runs on the same data differ. Cheap to call at any
    /// point (it finalizes a copy of the running hash).
    pub fn transcript_digest(&self) -> [u8; 32] {
        self.transcript.digest()
    }

    /// The transcript, for protocols built outside this module that open values to all parties.
    pub(crate) fn transcript_mut(&mut self) -> &mut Transcript {
        &mut self.transcript
    }

    /// The framed channel, for protocols built outside this module.
    pub(crate) fn channel_mut(&mut self) -> &mut Channel<T> {
        &mut self.channel
    }

    /// Counts communication rounds run by protocols built outside this module.
    pub(crate) fn add_rounds(&mut self, rounds: u64) {
        self.rounds += rounds;
    }

    /// Tells `endpoints` (other computing parties, an outside receiver) that this party stopped
    /// the session, so that they stop at once instead of waiting for their timeouts. Best effort:
    /// a link that fails is skipped. Call it after any error of the session; the session must
    /// not be used afterwards.
    pub fn notify_abort(&mut self, endpoints: &[usize]) {
        let me = self.me();
        for &to in endpoints.iter().filter(|&&to| to != me) {
            let _ = self.channel.send_bytes(to, MessageKind::Abort, &[]);
        }
    }

    /// The computing parties other than this one.
    fn others(&self) -> impl Iterator<Item = usize> + use<F, T> {
        let me = self.me();
        (0..self.n()).filter(move |&p| p != me)
    }
}

fn check_lengths(left: usize, right: usize) -> Result<(), ProtocolError> {
    if left != right {
        return Err(ProtocolError::LengthMismatch { left, right });
    }
    Ok(())
}
