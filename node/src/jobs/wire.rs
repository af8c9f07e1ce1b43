//! The job protocol's messages (`/sharenet/job/1`), requester → committee member, and the
//! answers. Small, bounded, versioned: a node decodes nothing longer than [`MAX_JOB_REQUEST`].
//!
//! - `Hello { job, program }`: "are you up for job `job`, whose query text is `program`?" The node
//!   checks the job on chain, the grant, the text against the job's program hash, compiles the
//!   query and — if it has a slot for the job — loads its inputs, then answers `Ready`,
//!   `Refused(reason)`, or `Busy(reason)` when it has no slot for the job now (ask again later).
//! - `Start { job, attempt, live, security }`: run attempt `attempt` of the job with the committee
//!   members `live` (indices in the dataset's committee, ascending) at security level `security`
//!   (`malicious`: exactly `2t + 1` members). Answered `Accepted` once the job is checked on chain
//!   again; the outputs then arrive over the MPC protocol.

use alloy::primitives::U256;
use sharenet_mpc::protocol::Security;

/// Largest request: the program text is bounded by the job market's `MAX_PROGRAM` (8 KiB).
pub const MAX_JOB_REQUEST: usize = 16 << 10;
/// Longest refusal reason sent back.
pub const MAX_REASON: usize = 1024;
/// Most committee members in a `Start` (the dataset registry's committee bound).
pub const MAX_LIVE: usize = 64;

const MAGIC: [u8; 4] = *b"SNJB";
const VERSION: u8 = 1;
const HELLO: u8 = 1;
const START: u8 = 2;
const READY: u8 = 1;
const ACCEPTED: u8 = 2;
const REFUSED: u8 = 3;
const BUSY: u8 = 4;
/// The security level byte at the end of a `Start`.
const SEMI_HONEST: u8 = 0;
const MALICIOUS: u8 = 1;

/// A malformed job message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobWireError {
    /// Not a job message, or an unknown version or kind.
    #[error("not a sharenet job message: {0}")]
    Malformed(&'static str),
    /// Larger than the protocol allows.
    #[error("job message of {0} bytes is over the limit")]
    TooLarge(usize),
}

/// A request from a job's requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRequest {
    /// Prepare the job and say whether this node can run it.
    Hello {
        /// The job id on chain.
        job: U256,
        /// The query text (its hash must be the job's program hash).
        program: String,
    },
    /// Run the job with these committee members.
    Start {
        /// The job id on chain.
        job: U256,
        /// Attempt number (a failed attempt may be retried with another live set).
        attempt: u8,
        /// Committee indices of the members taking part, ascending.
        live: Vec<u16>,
        /// The session's security level (a member refuses one below its own minimum).
        security: Security,
    },
}

/// A node's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobReply {
    /// Prepared: the node will take part when started.
    Ready,
    /// Started: outputs follow over the MPC protocol.
    Accepted,
    /// Not done, and why (no secret in it: ids, counts and rule names only).
    Refused(String),
    /// Not now: the member has no room for the job (its prepared slots, or the requester's share
    /// of them, are taken); asking again later may succeed. Why, as for `Refused`.
    Busy(String),
}

fn header(kind: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind);
    out
}

fn split_header(bytes: &[u8]) -> Result<(u8, &[u8]), JobWireError> {
    if bytes.len() > MAX_JOB_REQUEST {
        return Err(JobWireError::TooLarge(bytes.len()));
    }
    if bytes.len() < 6 || bytes[..4] != MAGIC {
        return Err(JobWireError::Malformed("bad magic"));
    }
    if bytes[4] != VERSION {
        return Err(JobWireError::Malformed("unknown version"));
    }
    Ok((bytes[5], &bytes[6..]))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], JobWireError> {
    if rest.len() < n {
        return Err(JobWireError::Malformed("truncated"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_u16(rest: &mut &[u8]) -> Result<u16, JobWireError> {
    let b = take(rest, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

impl JobRequest {
    /// Encodes the request.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            JobRequest::Hello { job, program } => {
                let mut out = header(HELLO);
                out.extend_from_slice(&job.to_be_bytes::<32>());
                out.extend_from_slice(program.as_bytes());
                out
            }
            JobRequest::Start {
                job,
                attempt,
                live,
                security,
            } => {
                let mut out = header(START);
                out.extend_from_slice(&job.to_be_bytes::<32>());
                out.push(*attempt);
                out.extend_from_slice(&(live.len() as u16).to_le_bytes());
                for i in live {
                    out.extend_from_slice(&i.to_le_bytes());
                }
                out.push(match security {
                    Security::SemiHonest => SEMI_HONEST,
                    _ => MALICIOUS,
                });
                out
            }
        }
    }

    /// Decodes a request, checking its bounds.
    pub fn decode(bytes: &[u8]) -> Result<Self, JobWireError> {
        let (kind, mut rest) = split_header(bytes)?;
        let job = U256::from_be_slice(take(&mut rest, 32)?);
        match kind {
            HELLO => {
                let program = std::str::from_utf8(rest)
                    .map_err(|_| JobWireError::Malformed("program text is not UTF-8"))?;
                Ok(JobRequest::Hello {
                    job,
                    program: program.to_owned(),
                })
            }
            START => {
                let attempt = take(&mut rest, 1)?[0];
                let count = usize::from(take_u16(&mut rest)?);
                if count > MAX_LIVE {
                    return Err(JobWireError::Malformed("too many live members"));
                }
                let mut live = Vec::with_capacity(count);
                for _ in 0..count {
                    live.push(take_u16(&mut rest)?);
                }
                let security = match take(&mut rest, 1)?[0] {
                    SEMI_HONEST => Security::SemiHonest,
                    MALICIOUS => Security::Malicious,
                    _ => return Err(JobWireError::Malformed("unknown security level")),
                };
                if !rest.is_empty() {
                    return Err(JobWireError::Malformed("trailing bytes"));
                }
                Ok(JobRequest::Start {
                    job,
                    attempt,
                    live,
                    security,
                })
            }
            _ => Err(JobWireError::Malformed("unknown request kind")),
        }
    }
}

impl JobReply {
    /// Encodes the reply (a refusal reason is cut to [`MAX_REASON`] bytes).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            JobReply::Ready => header(READY),
            JobReply::Accepted => header(ACCEPTED),
            JobReply::Refused(reason) => reason_reply(REFUSED, reason),
            JobReply::Busy(reason) => reason_reply(BUSY, reason),
        }
    }

    /// Decodes a reply.
    pub fn decode(bytes: &[u8]) -> Result<Self, JobWireError> {
        let (kind, rest) = split_header(bytes)?;
        let reason = || String::from_utf8_lossy(rest).into_owned();
        match kind {
            READY if rest.is_empty() => Ok(JobReply::Ready),
            ACCEPTED if rest.is_empty() => Ok(JobReply::Accepted),
            REFUSED if rest.len() <= MAX_REASON => Ok(JobReply::Refused(reason())),
            BUSY if rest.len() <= MAX_REASON => Ok(JobReply::Busy(reason())),
            _ => Err(JobWireError::Malformed("unknown reply")),
        }
    }
}

/// A reply of `kind` carrying `reason`, cut to [`MAX_REASON`] bytes at a character boundary.
fn reason_reply(kind: u8, reason: &str) -> Vec<u8> {
    let mut out = header(kind);
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let hello = JobRequest::Hello {
            job: U256::from(7u64),
            program: "SELECT AVG(age) FROM a".into(),
        };
        assert_eq!(JobRequest::decode(&hello.encode()).unwrap(), hello);
        let start = JobRequest::Start {
            job: U256::MAX,
            attempt: 2,
            live: vec![0, 2, 3, 4],
            security: Security::SemiHonest,
        };
        assert_eq!(JobRequest::decode(&start.encode()).unwrap(), start);
        for reply in [
            JobReply::Ready,
            JobReply::Accepted,
            JobReply::Refused("grant revoked".into()),
            JobReply::Busy("no room".into()),
        ] {
            assert_eq!(JobReply::decode(&reply.encode()).unwrap(), reply);
        }
    }

    #[test]
    fn bad_messages_are_refused() {
        assert!(JobRequest::decode(b"").is_err());
        assert!(JobRequest::decode(b"XXXX\x01\x01").is_err());
        let mut start = JobRequest::Start {
            job: U256::from(1u64),
            attempt: 0,
            live: vec![0, 1, 2],
            security: Security::Malicious,
        }
        .encode();
        start.push(0);
        assert_eq!(
            JobRequest::decode(&start),
            Err(JobWireError::Malformed("trailing bytes"))
        );
        let long = vec![0u8; MAX_JOB_REQUEST + 1];
        assert_eq!(
            JobRequest::decode(&long),
            Err(JobWireError::TooLarge(MAX_JOB_REQUEST + 1))
        );
        let mut too_many = header(START);
        too_many.extend_from_slice(&[0; 33]);
        too_many.extend_from_slice(&(MAX_LIVE as u16 + 1).to_le_bytes());
        assert!(JobRequest::decode(&too_many).is_err());
        // A long reason is cut on a character boundary, never split inside a character.
        let reason = "é".repeat(MAX_REASON);
        let JobReply::Refused(cut) = JobReply::decode(&JobReply::Refused(reason).encode()).unwrap()
        else {
            panic!("not a refusal")
        };
        assert!(cut.len() <= MAX_REASON && cut.chars().all(|c| c == 'é'));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = JobRequest::decode(&bytes);
            let _ = JobReply::decode(&bytes);
            let mut framed = header(START);
            framed.extend_from_slice(&bytes);
            let _ = JobRequest::decode(&framed);
        }
    }
}
