//! `mpc-bench`: runs `n` parties (one thread each) over loopback TCP or in memory, times one
//! vectorised operation, and prints one JSON line:
//! `{"parties","threshold","op","size","wall_s","ops_per_s","bytes_sent_per_party","rounds",...}`.
//!
//! ```text
//! cargo run --release -p sharenet-mpc --bin mpc-bench -- --parties 3 --op mul --size 1000000
//! ```
//!
//! Ops: `mul` (size multiplications, including generating the double sharings they consume),
//! `dot` (size terms in inner products of `--dot-len` terms), `open` (size values opened to
//! everyone), `share-verify` (an outside dealer shares size values and the committee runs the
//! batched dealer verification), `lt` / `eq` (size comparisons of `--bits`-bit signed values,
//! random bits included), `trunc` (size probabilistic truncations by `bits/2` bits).
//! `--security malicious` runs the session secure with abort (`Session::set_security`, which needs
//! `n = 2t + 1`): the operation and then the verification of every product it made, both inside
//! the clock (checked random bits included). Operands are random sharings made before the clock,
//! as MP-SPDZ's `sint.get_random` in its programs. A whole compiled query is benchmarked by
//! `query-bench` in the `sharenet-query` crate.

use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use sharenet_mpc::field::{Field, Mp127};
use sharenet_mpc::protocol::{OutsideParty, ProtocolError, RandomnessSource, Security, Session};
use sharenet_mpc::transport::Transport;
use sharenet_mpc::transport::memory::run_in_memory;
use sharenet_mpc::transport::tcp::run_on_loopback;
use sharenet_mpc::vss::batch::DealtShares;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Mul,
    Dot,
    Open,
    ShareVerify,
    Lt,
    Eq,
    Trunc,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Mul => "mul",
            Op::Dot => "dot",
            Op::Open => "open",
            Op::ShareVerify => "share-verify",
            Op::Lt => "lt",
            Op::Eq => "eq",
            Op::Trunc => "trunc",
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    parties: usize,
    threshold: usize,
    op: Op,
    size: usize,
    dot_len: usize,
    randomness: RandomnessSource,
    tcp: bool,
    bits: u32,
    malicious: bool,
}

const USAGE: &str = "usage: mpc-bench --parties N [--threshold T] \
--op mul|dot|open|share-verify|lt|eq|trunc --size S [--bits B] [--dot-len L] \
[--randomness auto|prss|hyper] [--transport tcp|memory] [--security semi-honest|malicious]";

fn parse(args: &[String]) -> Result<Options, String> {
    let mut parties = 3usize;
    let mut threshold = None;
    let mut op = Op::Mul;
    let mut size = 1_000_000usize;
    let mut dot_len = 100usize;
    let mut randomness = RandomnessSource::Auto;
    let mut tcp = true;
    let mut bits = 64u32;
    let mut malicious = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String, flag: &str| -> Result<usize, String> {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("{flag}: '{v}' is not a non-negative integer"))
        };
        match flag.as_str() {
            "--parties" | "-n" => parties = number(value()?, flag)?,
            "--threshold" | "-t" => threshold = Some(number(value()?, flag)?),
            "--size" => size = number(value()?, flag)?,
            "--bits" => {
                bits = u32::try_from(number(value()?, flag)?)
                    .ok()
                    .filter(|b| (1..=79).contains(b))
                    .ok_or_else(|| "--bits: must be between 1 and 79".to_string())?
            }
            "--dot-len" => dot_len = number(value()?, flag)?.max(1),
            "--op" => {
                op = match value()?.as_str() {
                    "mul" => Op::Mul,
                    "dot" => Op::Dot,
                    "open" => Op::Open,
                    "share-verify" => Op::ShareVerify,
                    "lt" => Op::Lt,
                    "eq" => Op::Eq,
                    "trunc" => Op::Trunc,
                    other => return Err(format!("--op: unknown op '{other}'")),
                }
            }
            "--randomness" => {
                randomness = match value()?.as_str() {
                    "auto" => RandomnessSource::Auto,
                    "prss" => RandomnessSource::Prss,
                    "hyper" => RandomnessSource::HyperInvertible,
                    other => return Err(format!("--randomness: unknown source '{other}'")),
                }
            }
            "--transport" => {
                tcp = match value()?.as_str() {
                    "tcp" => true,
                    "memory" => false,
                    other => return Err(format!("--transport: unknown transport '{other}'")),
                }
            }
            "--security" => {
                malicious = match value()?.as_str() {
                    "semi-honest" => false,
                    "malicious" => true,
                    other => return Err(format!("--security: unknown model '{other}'")),
                }
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let threshold = threshold.unwrap_or(parties.saturating_sub(1) / 2);
    if malicious && (parties != 2 * threshold + 1 || op == Op::ShareVerify) {
        return Err(
            "--security malicious needs n = 2t + 1 and an operation of the committee".to_string(),
        );
    }
    if parties < 3 || 2 * threshold >= parties {
        return Err(format!(
            "need n >= 3 and 2t < n (honest majority), got n = {parties}, t = {threshold}"
        ));
    }
    Ok(Options {
        parties,
        threshold,
        op,
        size,
        dot_len,
        randomness,
        tcp,
        bits,
        malicious,
    })
}

/// What one endpoint measured.
struct PartyReport {
    elapsed: Duration,
    bytes_sent: u64,
    rounds: u64,
    prss: bool,
}

fn run_party<T: Transport>(
    opts: &Options,
    barrier: &Barrier,
    transport: T,
) -> Result<PartyReport, ProtocolError> {
    let (n, t) = (opts.parties, opts.threshold);
    let size = opts.size;
    if transport.me() == n {
        // The outside dealer of share-verify.
        let mut dealer = OutsideParty::<Mp127, _>::new(n, t, transport)?;
        let mut rng = rand::rng();
        let values: Vec<Mp127> = (0..size).map(|_| Mp127::random(&mut rng)).collect();
        barrier.wait();
        let start = Instant::now();
        let mut with_mask = values;
        with_mask.push(Mp127::random(&mut rng));
        dealer.deal(&with_mask)?;
        return Ok(PartyReport {
            elapsed: start.elapsed(),
            bytes_sent: 0,
            rounds: 0,
            prss: false,
        });
    }
    let mut session = Session::<Mp127, _>::new(n, t, transport, opts.randomness)?;
    if opts.malicious {
        session.set_security(Security::Malicious)?;
    }
    // Operands are real random sharings, made before the clock starts.
    let operand_len = match opts.op {
        Op::Dot => size.div_ceil(opts.dot_len) * opts.dot_len,
        Op::ShareVerify => 0,
        _ => size,
    };
    let (x, y) = if matches!(opts.op, Op::Lt | Op::Eq | Op::Trunc) {
        // Operands must be `bits`-bit signed integers: random bounded values shifted to be
        // centred on zero, both signs.
        // The random bounded values sum t + 1 dealt values (semi-honest) or C(n, t) PRSS
        // values (malicious).
        let terms = if opts.malicious {
            sharenet_mpc::protocol::prss_key_sets(n, t)
        } else {
            t + 1
        };
        let dealers_bits = terms.next_power_of_two().ilog2();
        let value_bits = opts.bits.saturating_sub(2 + dealers_bits).max(1);
        let offset = Mp127::new(1u128 << opts.bits.saturating_sub(2));
        let bounded = |s: &mut Session<Mp127, T>| -> Result<Vec<Mp127>, ProtocolError> {
            Ok(s.random_bounded(operand_len, value_bits)?
                .into_iter()
                .map(|v| v - offset)
                .collect())
        };
        (bounded(&mut session)?, bounded(&mut session)?)
    } else {
        (
            session.random_shares(operand_len)?,
            session.random_shares(operand_len)?,
        )
    };
    let before = session.stats();
    barrier.wait();
    let start = Instant::now();
    match opts.op {
        Op::Mul => {
            session.mul(&x, &y)?;
        }
        Op::Dot => {
            let xs: Vec<&[Mp127]> = x.chunks(opts.dot_len).collect();
            let ys: Vec<&[Mp127]> = y.chunks(opts.dot_len).collect();
            session.dot(&xs, &ys)?;
        }
        Op::Open => {
            session.open(&x)?;
        }
        Op::Lt => {
            session.lt(&x, &y, opts.bits)?;
        }
        Op::Eq => {
            session.eq(&x, &y, opts.bits)?;
        }
        Op::Trunc => {
            session.trunc_pr(&x, opts.bits, opts.bits / 2)?;
        }
        Op::ShareVerify => {
            let mut received = session.input(n, None, size + 1)?;
            let mask = received.pop().unwrap_or(Mp127::ZERO);
            let dealt = DealtShares {
                shares: received,
                mask,
            };
            session
                .verify_dealing(b"mpc-bench", &dealt)
                .map_err(|e| match e {
                    sharenet_mpc::vss::batch::BatchVerifyError::Protocol(p) => p,
                    _ => ProtocolError::Usage("the benchmark's honest dealing was rejected"),
                })?;
        }
    }
    // In a malicious session: the check of everything the operation made (a no-op otherwise).
    session.verify()?;
    let elapsed = start.elapsed();
    let after = session.stats();
    Ok(PartyReport {
        elapsed,
        bytes_sent: after.transport.bytes_sent - before.transport.bytes_sent,
        rounds: after.rounds - before.rounds,
        prss: session.uses_prss(),
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("mpc-bench: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let endpoints = if opts.op == Op::ShareVerify {
        opts.parties + 1
    } else {
        opts.parties
    };
    let barrier = Barrier::new(endpoints);
    let reports = if opts.tcp {
        match run_on_loopback(endpoints, |tr| run_party(&opts, &barrier, tr)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mpc-bench: could not set up loopback TCP: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        run_in_memory(endpoints, |tr| run_party(&opts, &barrier, tr))
    };
    let mut parties = Vec::new();
    for (i, r) in reports.into_iter().enumerate() {
        match r {
            Ok(r) => parties.push(r),
            Err(e) => {
                eprintln!("mpc-bench: party {i} failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let computing = &parties[..opts.parties];
    let wall = parties
        .iter()
        .map(|p| p.elapsed)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    let bytes = computing.iter().map(|p| p.bytes_sent).sum::<u64>() / opts.parties as u64;
    let rounds = computing.iter().map(|p| p.rounds).max().unwrap_or(0);
    let line = serde_json::json!({
        "parties": opts.parties,
        "threshold": opts.threshold,
        "op": opts.op.name(),
        "size": opts.size,
        "wall_s": wall,
        "ops_per_s": if wall > 0.0 { opts.size as f64 / wall } else { 0.0 },
        "bytes_sent_per_party": bytes,
        "rounds": rounds,
        "randomness": if computing.iter().all(|p| p.prss) { "prss" } else { "hyper-invertible" },
        "transport": if opts.tcp { "tcp-loopback" } else { "memory" },
        "field": Mp127::NAME,
        "security": if opts.malicious { "malicious" } else { "semi-honest" },
        "bits": if matches!(opts.op, Op::Lt | Op::Eq | Op::Trunc) { Some(opts.bits) } else { None },
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    ExitCode::SUCCESS
}
