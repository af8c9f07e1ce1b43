//! Failures as the user sees them: what failed, where, and how to fix it, with an exit code that
//! says which kind of failure it was.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success |
//! | 1 | anything else (an internal error, a file that could not be written) |
//! | 2 | bad usage or configuration: a flag, a file, a directory, an id that is wrong |
//! | 3 | the chain: unreachable, or it refused a transaction for a reason other than access rules |
//! | 4 | the network: a node could not be reached or did not answer |
//! | 5 | refused by the access rules: no grant, a grant that does not allow it, not the owner |
//! | 6 | a job ran and failed (no result, refunded, or the result did not check) |

use sharenet_chain_adapter::{ChainError, ContractError};

/// Exit code: anything else.
pub const OTHER: u8 = 1;
/// Exit code: bad usage or configuration.
pub const USAGE: u8 = 2;
/// Exit code: the chain.
pub const CHAIN: u8 = 3;
/// Exit code: the network.
pub const NETWORK: u8 = 4;
/// Exit code: refused by a grant or by ownership rules.
pub const REFUSED: u8 = 5;
/// Exit code: a job failed.
pub const JOB_FAILED: u8 = 6;

/// A failure to report: a message for humans (what failed and where), an optional hint (how to
/// fix it) and the exit code. Never holds a key, a share or a value.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The exit code (see the module table).
    pub code: u8,
    /// What failed, and where.
    pub message: String,
    /// How to fix it, when we know.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Bad usage or configuration (2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// The chain (3).
    pub fn chain(message: impl Into<String>) -> Self {
        Self::new(CHAIN, message)
    }

    /// The network (4).
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(NETWORK, message)
    }

    /// Refused by the access rules (5).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(REFUSED, message)
    }

    /// A job failed (6).
    #[allow(dead_code)]
    pub fn job_failed(message: impl Into<String>) -> Self {
        Self::new(JOB_FAILED, message)
    }

    /// Anything else (1).
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(OTHER, message)
    }

    /// Adds how to fix it.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// [`Failure::from_chain`] as an error mapper (for `map_err`).
    pub fn chain_mapper(
        what: &str,
        rpc: &str,
    ) -> impl Fn(sharenet_chain_adapter::ChainError) -> Failure + use<> {
        let (what, rpc) = (what.to_string(), rpc.to_string());
        move |e| Failure::from_chain(&what, &rpc, e)
    }

    /// A chain error met while doing `what` on the chain at `rpc`, classified: unreachable
    /// chains and timeouts say where the chain was expected; a revert by the access rules is
    /// [`REFUSED`]; any other revert names the contract's reason.
    pub fn from_chain(what: &str, rpc: &str, e: ChainError) -> Self {
        match &e {
            ChainError::Rpc(_) | ChainError::Timeout { .. } => {
                Failure::chain(format!("{what}: the chain at {rpc} did not answer ({e})")).hint(
                    "check that the chain is running (`sharenet devnet status`) and that --rpc or \
                     --devnet points at it",
                )
            }
            ChainError::Reverted(_) => match e.contract_error() {
                Some(c) if is_access_refusal(c) => {
                    Failure::refused(format!("{what}: refused by the chain: {c:?}"))
                }
                _ => Failure::chain(format!("{what}: the chain refused it: {e}")),
            },
            _ => Failure::chain(format!("{what}: {e}")),
        }
    }

    /// The error as the JSON document printed on stderr with `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.code,
                "kind": kind_name(self.code),
                "message": self.message,
                "hint": self.hint,
            }
        })
    }

    /// The error for humans.
    pub fn to_human(&self) -> String {
        match &self.hint {
            Some(h) => format!("sharenet: {}\n  to fix: {h}", self.message),
            None => format!("sharenet: {}", self.message),
        }
    }
}

/// The kind of failure an exit code stands for (as in the JSON error's `kind`).
pub fn kind_name(code: u8) -> &'static str {
    match code {
        USAGE => "usage",
        CHAIN => "chain",
        NETWORK => "network",
        REFUSED => "refused",
        JOB_FAILED => "job_failed",
        _ => "other",
    }
}

/// Whether a contract error is an access-rule refusal (grants, ownership) rather than a
/// malformed or mistimed call.
fn is_access_refusal(e: &ContractError) -> bool {
    matches!(
        e,
        ContractError::NotDatasetOwner(_)
            | ContractError::NotGrantOwner(_)
            | ContractError::NotGrantee(_)
            | ContractError::GrantExpired(_)
            | ContractError::GrantExhausted(_)
            | ContractError::GrantRevoked(_)
            | ContractError::QueryNotAllowed(_)
            | ContractError::DatasetNotInGrant(_)
            | ContractError::UnknownGrant(_)
    )
}

impl From<sharenet_node::daemon::NodeError> for Failure {
    fn from(e: sharenet_node::daemon::NodeError) -> Self {
        use sharenet_node::daemon::NodeError;
        let code = match e {
            NodeError::Chain(_) => CHAIN,
            NodeError::Net(_) | NodeError::Http { .. } => NETWORK,
            _ => USAGE,
        };
        Failure::new(code, e.to_string())
    }
}

/// What is wrong with a chain key file that does not parse — its shape only, never its contents.
fn chain_key_problem(path: &std::path::Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return "cannot be read".into();
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return "is not text (a chain key file holds hex digits)".into();
    };
    let hex = text.trim();
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.is_empty() {
        "is empty".into()
    } else if hex.lines().count() > 1 {
        format!("has {} lines where a key file has one", hex.lines().count())
    } else if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        "holds characters that are not hex digits".into()
    } else if hex.len() != 64 {
        format!("holds {} hex digits where a key has 64", hex.len())
    } else {
        "holds 64 hex digits that are not a valid secp256k1 private key (zero, or not below the \
         curve order)"
            .into()
    }
}

impl From<sharenet_node::keys::KeyError> for Failure {
    fn from(e: sharenet_node::keys::KeyError) -> Self {
        use sharenet_node::keys::KeyError;
        match &e {
            KeyError::Invalid { path, kind } if kind.contains("secp256k1") => {
                Failure::usage(format!(
                    "chain key file {} {}",
                    path.display(),
                    chain_key_problem(path)
                ))
                .hint(
                    "a chain key file holds one line: 64 hex digits (optionally 0x-prefixed); \
                 create one with `sharenet identity create --name NAME` or `sharenet chain key`",
                )
            }
            KeyError::Invalid { .. } => Failure::usage(e.to_string()),
            KeyError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                Failure::usage(format!("key file {} does not exist", path.display()))
                    .hint("check the path, or create a key with `sharenet identity create`")
            }
            _ => Failure::usage(e.to_string()),
        }
    }
}

impl From<sharenet_node::owner::OwnerError> for Failure {
    fn from(e: sharenet_node::owner::OwnerError) -> Self {
        use sharenet_node::owner::OwnerError;
        let code = match &e {
            OwnerError::Chain(c) if c.contract_error().is_some_and(is_access_refusal) => REFUSED,
            OwnerError::Chain(_) => CHAIN,
            OwnerError::Net(_) | OwnerError::NotAcknowledged { .. } => NETWORK,
            OwnerError::Dataset { .. } | OwnerError::Committee { .. } => USAGE,
            _ => OTHER,
        };
        Failure::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sharenet_chain_adapter::RevertReason;

    #[test]
    fn failures_render_for_humans_and_machines_with_their_kind() {
        let f = Failure::usage("DIR is not a devnet directory").hint("create one");
        assert_eq!(
            f.to_human(),
            "sharenet: DIR is not a devnet directory\n  to fix: create one"
        );
        let j = f.to_json();
        assert_eq!(j["error"]["code"], 2);
        assert_eq!(j["error"]["kind"], "usage");
        assert_eq!(j["error"]["hint"], "create one");
        for (code, kind) in [
            (OTHER, "other"),
            (CHAIN, "chain"),
            (NETWORK, "network"),
            (REFUSED, "refused"),
            (JOB_FAILED, "job_failed"),
        ] {
            assert_eq!(kind_name(code), kind);
        }
    }

    #[test]
    fn chain_errors_are_classified() {
        let down = Failure::from_chain("reading", "http://x", ChainError::Rpc("refused".into()));
        assert_eq!(down.code, CHAIN);
        assert!(down.message.contains("http://x"), "{}", down.message);
        let refused = Failure::from_chain(
            "granting",
            "http://x",
            ChainError::Reverted(RevertReason::Contract(ContractError::NotDatasetOwner(
                sharenet_chain_adapter::bindings::ISharenetErrors::NotDatasetOwner {
                    datasetId: Default::default(),
                    caller: Default::default(),
                },
            ))),
        );
        assert_eq!(refused.code, REFUSED);
        let other = Failure::from_chain(
            "x",
            "http://x",
            ChainError::Reverted(RevertReason::Message("no".into())),
        );
        assert_eq!(other.code, CHAIN);
    }
}
