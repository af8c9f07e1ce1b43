//! The node's TOML configuration: read with unknown keys refused (the error names the key and the
//! line), paths resolved against the configuration file's directory, every value checked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use alloy::primitives::U256;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};
use sharenet_chain_adapter::ContractAddresses;
use sharenet_mpc::protocol::Security;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    #[error("config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the parser reported (line, column, key).
        message: String,
    },
    /// A value is well-typed but not usable.
    #[error("config file {path}: `{key}` = {value:?}: {reason}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The key (dotted).
        key: String,
        /// The offending value.
        value: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// `[network]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Multiaddrs to listen on.
    pub listen: Vec<String>,
    /// Multiaddrs (ending in `/p2p/<peer id>`) to connect to at start.
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// How long a request waits for its response, in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
}

/// `[chain]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSection {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// JSON file with the contract addresses (written by `sharenet chain deploy`).
    pub contracts: PathBuf,
    /// Deposit staked at registration, in wei (decimal).
    pub deposit_wei: String,
    /// How often the chain is polled for events, in milliseconds.
    #[serde(default = "default_poll")]
    pub poll_ms: u64,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Address of the health and metrics endpoint.
    pub listen: String,
}

/// The file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Directory of the node's database.
    pub data_dir: PathBuf,
    /// The libp2p identity key file.
    pub identity_key: PathBuf,
    /// The chain account key file.
    pub chain_key: PathBuf,
    /// The key that encrypts shares at rest (created on first start, mode 0600).
    #[serde(default = "default_at_rest_key")]
    pub at_rest_key: PathBuf,
    /// The lowest security level this node runs jobs at (`malicious` unless set).
    #[serde(default)]
    pub min_security: Security,
    /// Networking.
    pub network: NetworkSection,
    /// Chain.
    pub chain: ChainSection,
    /// Health and metrics.
    pub http: HttpSection,
}

fn default_at_rest_key() -> PathBuf {
    PathBuf::from("at-rest.key")
}

fn default_request_timeout() -> u64 {
    30
}

fn default_poll() -> u64 {
    500
}

/// A checked configuration with absolute paths and parsed values.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Database directory.
    pub data_dir: PathBuf,
    /// Identity key file.
    pub identity_key: PathBuf,
    /// Chain key file.
    pub chain_key: PathBuf,
    /// At-rest encryption key file.
    pub at_rest_key: PathBuf,
    /// Listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Bootstrap peers.
    pub bootstrap: Vec<Multiaddr>,
    /// Request timeout.
    pub request_timeout: std::time::Duration,
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// Contract addresses.
    pub contracts: ContractAddresses,
    /// Deposit at registration.
    pub deposit: U256,
    /// Chain poll interval.
    pub poll: std::time::Duration,
    /// Health and metrics address.
    pub http: SocketAddr,
    /// The lowest security level this node runs a job at: a job started at a lower one is
    /// refused.
    pub min_security: Security,
    /// Fault injection on the node's outgoing links, for the simulator (never read from a
    /// file; `None` for a real node).
    pub faults: Option<crate::net::LinkFaults>,
}

impl NodeConfig {
    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let bad = |key: &str, value: &str, reason: String| ConfigError::Value {
            path: path.to_path_buf(),
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let parse_addrs = |key: &str, list: &[String]| -> Result<Vec<Multiaddr>, ConfigError> {
            list.iter()
                .map(|a| {
                    a.parse::<Multiaddr>().map_err(|e| {
                        bad(
                            key,
                            a,
                            format!("not a multiaddr ({e}); e.g. /ip4/127.0.0.1/tcp/7000"),
                        )
                    })
                })
                .collect()
        };
        let listen = parse_addrs("network.listen", &file.network.listen)?;
        if listen.is_empty() {
            return Err(bad(
                "network.listen",
                "[]",
                "give at least one address to listen on".into(),
            ));
        }
        let bootstrap = parse_addrs("network.bootstrap", &file.network.bootstrap)?;
        for (addr, text) in bootstrap.iter().zip(&file.network.bootstrap) {
            if !addr
                .iter()
                .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
            {
                return Err(bad(
                    "network.bootstrap",
                    text,
                    "must end in /p2p/<peer id>".into(),
                ));
            }
        }
        let deposit = file.chain.deposit_wei.parse::<U256>().map_err(|_| {
            bad(
                "chain.deposit_wei",
                &file.chain.deposit_wei,
                "a decimal amount of wei".into(),
            )
        })?;
        let http = file.http.listen.parse::<SocketAddr>().map_err(|_| {
            bad(
                "http.listen",
                &file.http.listen,
                "an address like 127.0.0.1:9100".into(),
            )
        })?;
        if file.network.request_timeout_secs == 0 {
            return Err(bad(
                "network.request_timeout_secs",
                "0",
                "must be at least 1".into(),
            ));
        }
        let contracts_path = resolve(&file.chain.contracts);
        let contracts_text =
            std::fs::read_to_string(&contracts_path).map_err(|source| ConfigError::Io {
                path: contracts_path.clone(),
                source,
            })?;
        let contracts: ContractAddresses = serde_json::from_str(&contracts_text).map_err(|e| {
            bad(
                "chain.contracts",
                &contracts_path.display().to_string(),
                format!(
                    "not a contract address file ({e}); write one with `sharenet chain deploy`"
                ),
            )
        })?;
        Ok(NodeConfig {
            data_dir: resolve(&file.data_dir),
            identity_key: resolve(&file.identity_key),
            chain_key: resolve(&file.chain_key),
            at_rest_key: resolve(&file.at_rest_key),
            listen,
            bootstrap,
            request_timeout: std::time::Duration::from_secs(file.network.request_timeout_secs),
            rpc_url: file.chain.rpc_url,
            contracts,
            deposit,
            poll: std::time::Duration::from_millis(file.chain.poll_ms.max(50)),
            http,
            min_security: file.min_security,
            faults: None,
        })
    }
}

/// The commented configuration `sharenet node init` writes.
pub fn template(
    listen: &str,
    http: &str,
    rpc_url: &str,
    contracts: &str,
    deposit_wei: &str,
) -> String {
    format!(
        r#"# sharenet node configuration. Paths are relative to this file.

# Where the node keeps its database (shares are encrypted at rest).
data_dir = "data"
# The node's libp2p ed25519 identity (its peer id); keep it private (mode 0600).
identity_key = "node.key"
# The chain account that registers the node and holds its deposit; keep it private (mode 0600).
chain_key = "chain.key"
# The key that encrypts shares at rest, created on first start (mode 0600). Back it up apart
# from the data directory: without it the shares cannot be read.
at_rest_key = "at-rest.key"

[network]
# Addresses to listen on: TCP (Noise + Yamux) and QUIC.
listen = ["{listen}"]
# Peers to contact at start, as multiaddrs ending in /p2p/<peer id>. Active nodes are also
# found on chain, so this may stay empty.
bootstrap = []
# Seconds a request waits for its response.
request_timeout_secs = 30

[chain]
# JSON-RPC endpoint of the controlling chain.
rpc_url = "{rpc_url}"
# Contract addresses, written by `sharenet chain deploy`.
contracts = "{contracts}"
# Deposit staked when the node registers, in wei.
deposit_wei = "{deposit_wei}"
# How often to poll the chain for events, in milliseconds.
poll_ms = 500

[http]
# Health (/healthz) and Prometheus metrics (/metrics).
listen = "{http}"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "sharenet-config-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const CONTRACTS: &str = r#"{"node_registry":"0x0000000000000000000000000000000000000001","dataset_registry":"0x0000000000000000000000000000000000000002","access_grants":"0x0000000000000000000000000000000000000003","job_market":"0x0000000000000000000000000000000000000004"}"#;

    #[test]
    fn the_template_loads() {
        let d = dir();
        write(&d, "contracts.json", CONTRACTS);
        let p = write(
            &d,
            "node.toml",
            &template(
                "/ip4/127.0.0.1/tcp/0",
                "127.0.0.1:9100",
                "http://127.0.0.1:8545",
                "contracts.json",
                "1000",
            ),
        );
        let c = NodeConfig::load(&p).unwrap();
        assert_eq!(c.data_dir, d.join("data"));
        assert_eq!(c.deposit, U256::from(1000u64));
        assert_eq!(c.listen.len(), 1);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn bad_files_name_the_key() {
        let d = dir();
        write(&d, "contracts.json", CONTRACTS);
        let good = template(
            "/ip4/127.0.0.1/tcp/0",
            "127.0.0.1:9100",
            "http://x",
            "contracts.json",
            "1000",
        );
        let cases = [
            (
                good.replace("poll_ms = 500", "poll_ms = 500\ncolour = \"blue\""),
                "colour",
            ),
            (
                good.replace("poll_ms = 500", "poll_ms = \"fast\""),
                "poll_ms",
            ),
            (
                good.replace("/ip4/127.0.0.1/tcp/0", "not-an-addr"),
                "network.listen",
            ),
            (good.replace("\"1000\"", "\"lots\""), "chain.deposit_wei"),
            (good.replace("127.0.0.1:9100", "localhost"), "http.listen"),
            (
                good.replace("bootstrap = []", "bootstrap = [\"/ip4/1.2.3.4/tcp/1\"]"),
                "network.bootstrap",
            ),
        ];
        for (text, key) in cases {
            let p = write(&d, "bad.toml", &text);
            let e = NodeConfig::load(&p).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
        std::fs::remove_dir_all(d).unwrap();
    }
}
