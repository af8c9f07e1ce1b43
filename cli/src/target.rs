//! Where a client command acts: a devnet directory (`--devnet DIR`, or `SHARENET_DEVNET`), or an
//! explicit chain endpoint and contract file; and as whom: `--key FILE` or a named identity
//! (`--as NAME`, or `SHARENET_IDENTITY`).

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use sharenet_chain_adapter::{ContractAddresses, RpcBackend, RpcConfig, RpcLedger};
use sharenet_node::keys;

use crate::devnet::Devnet;
use crate::failure::Failure;

/// The chain and identity options of every client command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ChainArgs {
    /// A devnet directory (from `sharenet devnet up`): its chain, contracts, identities and
    /// upload defaults.
    #[arg(long, env = "SHARENET_DEVNET", value_name = "DIR")]
    pub devnet: Option<PathBuf>,
    /// JSON-RPC endpoint of the chain (instead of, or overriding, the devnet's).
    #[arg(long, value_name = "URL")]
    pub rpc: Option<String>,
    /// Contract address file from `sharenet chain deploy` (instead of, or overriding, the
    /// devnet's).
    #[arg(long, value_name = "FILE")]
    pub contracts: Option<PathBuf>,
    /// Chain key file of the account to act as (overrides --as).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Act as this named identity: a key in the devnet's identities/ directory (institution-a,
    /// institution-b, researcher, or one made with `identity create`), or in
    /// ~/.sharenet/identities without a devnet.
    #[arg(long = "as", env = "SHARENET_IDENTITY", value_name = "NAME")]
    pub identity: Option<String>,
}

/// Who the command acts as.
#[derive(Debug, Clone)]
pub struct Me {
    /// The identity's name, if it was named.
    pub name: Option<String>,
    /// Its account.
    pub address: Address,
}

/// A connection to the chain, as an identity or (for reads) as nobody in particular.
pub struct Session {
    /// The ledger: signs as [`Session::me`] when known, else as a throwaway key (reads only).
    pub ledger: RpcLedger,
    /// The endpoint, for messages.
    pub rpc: String,
    /// The devnet, if one was given.
    pub devnet: Option<Devnet>,
    /// The identity, if one was given.
    pub me: Option<Me>,
}

impl Session {
    /// The identity, or a usage error saying why one is needed and how to give it.
    pub fn me(&self, why: &str) -> Result<&Me, Failure> {
        self.me
            .as_ref()
            .ok_or_else(|| no_identity(why, self.devnet.as_ref()))
    }

    /// Maps a chain error met while doing `what`.
    pub fn chain_err(&self, what: &str) -> impl Fn(sharenet_chain_adapter::ChainError) -> Failure {
        Failure::chain_mapper(what, &self.rpc)
    }
}

fn no_identity(why: &str, devnet: Option<&Devnet>) -> Failure {
    let names = devnet
        .map(|d| {
            d.file
                .identities
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|n| !n.is_empty());
    let hint = match names {
        Some(names) => format!("pass --as NAME (this devnet has {names}) or --key FILE"),
        None => "pass --key FILE (a chain key file) or --as NAME (a named identity)".to_string(),
    };
    Failure::usage(format!("{why} needs an identity to act as")).hint(hint)
}

/// The directory of named identities: the devnet's identities/, else
/// `$SHARENET_HOME/identities`, else `~/.sharenet/identities`.
pub fn identities_dir(devnet: Option<&Devnet>) -> Result<PathBuf, Failure> {
    if let Some(d) = devnet {
        return Ok(d.identities_dir());
    }
    if let Some(home) = std::env::var_os("SHARENET_HOME") {
        return Ok(PathBuf::from(home).join("identities"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".sharenet").join("identities")),
        None => Err(Failure::usage(
            "no identity directory: neither --devnet, SHARENET_HOME nor HOME is set",
        )
        .hint("pass --devnet DIR, or --key FILE instead of a name")),
    }
}

/// Checks an identity name: letters, digits, `-`, `_`, `.`, 1..=64 characters, not starting with `.`.
pub fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(
            Failure::usage(format!("'{name}' is not a valid identity name"))
                .hint("use 1 to 64 letters, digits, '-', '_' or '.', e.g. institution-a"),
        )
    }
}

/// The key file of identity `name` in `dir`, which must exist.
pub fn named_key(dir: &Path, name: &str) -> Result<PathBuf, Failure> {
    check_name(name)?;
    let path = dir.join(format!("{name}.key"));
    if path.is_file() {
        return Ok(path);
    }
    let known = known_names(dir);
    let known = if known.is_empty() {
        "there are none".to_string()
    } else {
        format!("known: {}", known.join(", "))
    };
    Err(Failure::usage(format!(
        "no identity '{name}' in {} ({known})",
        dir.display()
    ))
    .hint(format!(
        "create it with `sharenet identity create --name {name}`, or pass --key FILE"
    )))
}

/// The names of the identities in `dir`.
pub fn known_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".key"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Reads a contract address file.
pub fn read_contracts(path: &Path) -> Result<ContractAddresses, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!("cannot read contract file {}: {e}", path.display()))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "{} is not a contract address file: {e}",
            path.display()
        ))
        .hint("it is the JSON file written by `sharenet chain deploy --out FILE`")
    })
}

impl ChainArgs {
    /// The devnet, if one was given.
    pub fn devnet(&self) -> Result<Option<Devnet>, Failure> {
        self.devnet.as_deref().map(Devnet::load).transpose()
    }

    /// The key file of the identity (and its name, if named), if one was given.
    pub fn key_file(
        &self,
        devnet: Option<&Devnet>,
    ) -> Result<Option<(Option<String>, PathBuf)>, Failure> {
        if let Some(k) = &self.key {
            return Ok(Some((None, k.clone())));
        }
        match &self.identity {
            Some(name) => {
                let dir = identities_dir(devnet)?;
                Ok(Some((Some(name.clone()), named_key(&dir, name)?)))
            }
            None => Ok(None),
        }
    }

    /// Connects: to the chain of the devnet or of `--rpc`/`--contracts`, as the identity given
    /// (if any). Checks every file before anything is sent.
    pub fn open(&self) -> Result<Session, Failure> {
        let devnet = self.devnet()?;
        let rpc = match (&self.rpc, &devnet) {
            (Some(r), _) => r.clone(),
            (None, Some(d)) => d.file.rpc_url.clone(),
            (None, None) => {
                return Err(Failure::usage("no chain given").hint(
                    "pass --devnet DIR (or set SHARENET_DEVNET), or --rpc URL --contracts FILE",
                ));
            }
        };
        let contracts = match (&self.contracts, &devnet) {
            (Some(path), _) => read_contracts(path)?,
            (None, Some(d)) => d.file.contracts,
            (None, None) => {
                return Err(Failure::usage("--rpc needs --contracts FILE").hint(
                    "pass the contract address file from `sharenet chain deploy`, or --devnet DIR",
                ));
            }
        };
        let (me, signer) = match self.key_file(devnet.as_ref())? {
            Some((name, path)) => {
                let signer = keys::load_chain_key(&path)?;
                (
                    Some(Me {
                        name,
                        address: signer.address(),
                    }),
                    signer,
                )
            }
            // Reads only: a throwaway key never signs anything that is sent.
            None => (None, PrivateKeySigner::random()),
        };
        let backend = RpcBackend::connect(RpcConfig::local(rpc.clone()), signer).map_err(|e| {
            Failure::usage(format!("--rpc: '{rpc}' is not a usable endpoint: {e}"))
                .hint("give an http URL such as http://127.0.0.1:8545")
        })?;
        Ok(Session {
            ledger: backend.into_ledger(contracts),
            rpc,
            devnet,
            me,
        })
    }
}

/// An account given as an address (0x…) or as the name of an identity (its `.addr` file, the
/// devnet's record, or its key file).
pub fn resolve_account(
    text: &str,
    devnet: Option<&Devnet>,
) -> Result<(Address, Option<String>), Failure> {
    if text.starts_with("0x") {
        return text.parse::<Address>().map(|a| (a, None)).map_err(|_| {
            Failure::usage(format!("'{text}' is not an address"))
                .hint("give 0x followed by 40 hex digits, or an identity name")
        });
    }
    check_name(text)?;
    if let Some(d) = devnet
        && let Some(i) = d.file.identities.iter().find(|i| i.name == text)
    {
        return Ok((i.address, Some(text.to_string())));
    }
    let dir = identities_dir(devnet)?;
    if let Ok(a) = std::fs::read_to_string(dir.join(format!("{text}.addr")))
        && let Ok(address) = a.trim().parse::<Address>()
    {
        return Ok((address, Some(text.to_string())));
    }
    let key = named_key(&dir, text)?;
    let signer = keys::load_chain_key(&key)?;
    Ok((signer.address(), Some(text.to_string())))
}

/// The name of a known identity with `address`, for display.
pub fn name_of(address: Address, devnet: Option<&Devnet>) -> Option<String> {
    let d = devnet?;
    if let Some(i) = d.file.identities.iter().find(|i| i.address == address) {
        return Some(i.name.clone());
    }
    if let Some(n) = d.file.nodes.iter().find(|n| n.account == address) {
        return Some(format!("node {}", n.index));
    }
    let dir = d.identities_dir();
    known_names(&dir).into_iter().find(|name| {
        std::fs::read_to_string(dir.join(format!("{name}.addr")))
            .ok()
            .and_then(|a| a.trim().parse::<Address>().ok())
            == Some(address)
    })
}

/// An address with its name when known: `0x… (researcher)`.
pub fn label(address: Address, devnet: Option<&Devnet>) -> String {
    match name_of(address, devnet) {
        Some(n) => format!("{address} ({n})"),
        None => address.to_string(),
    }
}
