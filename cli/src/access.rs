//! `sharenet access …`: grant a researcher access to datasets (which kinds of query, until when,
//! how many), revoke it, list the grants made by and to an identity. Every check that can be
//! made before sending is made, so that a refused grant sends nothing to the chain.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use clap::Subcommand;
use sharenet_chain_adapter::bindings::AccessGrants;
use sharenet_chain_adapter::{Backend, GrantInfo, Ledger, NewGrant};
use sharenet_query::QueryKind;

use crate::dataset::{dataset_info, resolve_dataset};
use crate::failure::Failure;
use crate::output::{Report, Ui, table};
use crate::target::{ChainArgs, Session, label, name_of, resolve_account};
use crate::trail::Trail;
use crate::util::{parse_duration, utc};

/// `sharenet access …`.
#[derive(Subcommand)]
pub enum AccessCommand {
    /// Grant a researcher access to datasets you own.
    Grant {
        #[command(flatten)]
        chain: ChainArgs,
        /// The grantee: an address (0x…) or an identity name.
        #[arg(long)]
        to: String,
        /// The datasets (ids or names), comma-separated; all must be yours.
        #[arg(long, value_delimiter = ',', required = true)]
        datasets: Vec<String>,
        /// The kinds of query allowed, comma-separated: aggregate, group_by, histogram, lin_reg,
        /// log_reg, or all.
        #[arg(long, value_delimiter = ',', required = true)]
        kinds: Vec<String>,
        /// When the grant ends: a duration from now (30d, 12h, 2w, 90m, 45s) or a unix time.
        #[arg(long)]
        expires: String,
        /// How many queries it allows.
        #[arg(long)]
        max_queries: u32,
    },
    /// Revoke a grant you made (jobs already submitted are not affected).
    Revoke {
        #[command(flatten)]
        chain: ChainArgs,
        /// The grant id.
        grant: String,
    },
    /// Let another account grant access to your datasets (e.g. a consortium's lead, so that one
    /// grant covers every member's dataset), or withdraw that with --remove.
    Delegate {
        #[command(flatten)]
        chain: ChainArgs,
        /// The delegate: an address (0x…) or an identity name.
        #[arg(long)]
        to: String,
        /// Your datasets (ids or names), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        datasets: Vec<String>,
        /// Withdraw the delegation (grants already made stay until revoked).
        #[arg(long)]
        remove: bool,
    },
    /// List the grants made by the identity, the grants made to it, and the grants others made
    /// on its datasets (as delegates).
    List {
        #[command(flatten)]
        chain: ChainArgs,
    },
}

/// Parses `--kinds`: names or `all`, into the grant's bit set.
pub fn parse_kinds(list: &[String]) -> Result<u64, Failure> {
    let mut bits = 0u64;
    for k in list {
        let k = k.trim();
        if k == "all" {
            bits |= QueryKind::ALL
                .iter()
                .fold(0, |b, kind| b | (1u64 << kind.code()));
            continue;
        }
        let kind = QueryKind::from_name(k).ok_or_else(|| {
            Failure::usage(format!("--kinds: '{k}' is not a query kind")).hint(format!(
                "use one or more of {}, or all",
                QueryKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        bits |= 1u64 << kind.code();
    }
    if bits == 0 {
        return Err(Failure::usage("--kinds: give at least one kind of query"));
    }
    Ok(bits)
}

/// The names of the kinds in a grant's bit set (unknown bits as `kind<N>`).
pub fn kind_names(bits: u64) -> Vec<String> {
    (0..64u8)
        .filter(|code| bits & (1u64 << code) != 0)
        .map(|code| {
            QueryKind::from_code(code).map_or_else(|| format!("kind{code}"), |k| k.as_str().into())
        })
        .collect()
}

/// Parses `--expires`: a unix time, or a duration from `now`.
pub fn parse_expiry(text: &str, now: u64) -> Result<u64, Failure> {
    let at = if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        text.parse::<u64>().ok()
    } else {
        parse_duration(text).and_then(|d| now.checked_add(d))
    };
    let at = at.ok_or_else(|| {
        Failure::usage(format!(
            "--expires: '{text}' is neither a duration nor a unix time"
        ))
        .hint("e.g. --expires 30d (also 12h, 2w, 90m, 45s) or --expires 1767225600")
    })?;
    if at <= now {
        return Err(Failure::usage(format!(
            "--expires: {} is not in the future (the chain's time is {})",
            utc(at),
            utc(now)
        )));
    }
    Ok(at)
}

/// Parses a grant id.
fn parse_grant_id(text: &str) -> Result<U256, Failure> {
    text.trim_start_matches('#').parse::<U256>().map_err(|_| {
        Failure::usage(format!("'{text}' is not a grant id"))
            .hint("grant ids are numbers (1, 2, …); see `sharenet access list`")
    })
}

/// The chain's current time (the latest block's).
pub async fn chain_now(session: &Session) -> Result<u64, Failure> {
    session
        .ledger
        .chain_time()
        .await
        .map_err(session.chain_err("reading the chain's time"))
}

/// Whether `who` may grant access to `dataset` as its owner's delegate.
async fn is_delegate(session: &Session, dataset: B256, who: Address) -> Result<bool, Failure> {
    let call = AccessGrants::grantDelegateCall {
        _0: dataset,
        _1: who,
    };
    let out = session
        .ledger
        .backend()
        .call(
            session.ledger.addresses().access_grants,
            call.abi_encode().into(),
        )
        .await
        .map_err(session.chain_err("reading the grant delegates"))?;
    AccessGrants::grantDelegateCall::abi_decode_returns(&out).map_err(|e| {
        Failure::chain(format!(
            "the chain at {} answered grantDelegate with something that does not decode: {e}",
            session.rpc
        ))
    })
}

/// A grant's status at time `now`.
pub fn grant_status(g: &GrantInfo, now: u64) -> &'static str {
    if g.revoked {
        "revoked"
    } else if g.expiry <= now {
        "expired"
    } else if g.used >= g.maxQueries {
        "exhausted"
    } else {
        "active"
    }
}

/// A grant as JSON.
pub fn grant_json(id: U256, g: &GrantInfo, now: u64, session: &Session) -> serde_json::Value {
    let devnet = session.devnet.as_ref();
    serde_json::json!({
        "id": id.to_string(),
        "owner": g.owner,
        "owner_name": name_of(g.owner, devnet),
        "grantee": g.grantee,
        "grantee_name": name_of(g.grantee, devnet),
        "datasets": g.datasetIds,
        "kinds": kind_names(g.kinds),
        "kinds_bits": g.kinds,
        "program_hashes": g.programHashes,
        "expiry": g.expiry,
        "max_queries": g.maxQueries,
        "used": g.used,
        "remaining": g.maxQueries.saturating_sub(g.used),
        "revoked": g.revoked,
        "status": grant_status(g, now),
    })
}

async fn grant(
    chain: &ChainArgs,
    to: &str,
    datasets: &[String],
    kinds: &[String],
    expires: &str,
    max_queries: u32,
) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = session.me("access grant")?.clone();
    let kinds = parse_kinds(kinds)?;
    if max_queries == 0 {
        return Err(Failure::usage("--max-queries must be at least 1"));
    }
    if datasets.is_empty() || datasets.len() > 16 {
        return Err(Failure::usage(format!(
            "--datasets: a grant covers 1 to 16 datasets ({} given)",
            datasets.len()
        )));
    }
    let (grantee, grantee_name) = resolve_account(to, session.devnet.as_ref())?;
    if grantee == Address::ZERO {
        return Err(Failure::usage(
            "--to: the zero address cannot be granted anything",
        ));
    }
    let now = chain_now(&session).await?;
    let expiry = parse_expiry(expires, now)?;
    let mut ids: Vec<B256> = Vec::new();
    for d in datasets {
        let id = resolve_dataset(&session, d.trim()).await?;
        let info = dataset_info(&session, id).await?;
        if info.owner != me.address && !is_delegate(&session, id, me.address).await? {
            return Err(Failure::refused(format!(
                "dataset {id} is owned by {}, not by {}: only its owner (or a grant delegate it \
                 named) can grant access to it",
                label(info.owner, session.devnet.as_ref()),
                label(me.address, session.devnet.as_ref())
            ))
            .hint(
                "act as the dataset's owner (--as / --key), or ask its owner to make you a \
                 delegate (`sharenet access delegate`)",
            ));
        }
        if info.retired {
            return Err(Failure::usage(format!(
                "dataset {id} is retired: no new grant may use it"
            )));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let (receipt, id) = session
        .ledger
        .grant(&NewGrant {
            grantee,
            datasets: ids.clone(),
            kinds,
            program_hashes: Vec::new(),
            expiry,
            max_queries,
        })
        .await
        .map_err(session.chain_err("granting access"))?;
    let who = match &grantee_name {
        Some(n) => format!("{grantee} ({n})"),
        None => grantee.to_string(),
    };
    Ok(Report::new(
        format!(
            "grant {id} made: {who} may run {} on {} dataset(s) until {}, at most {max_queries} quer{}\n  datasets: {}\n  tx: {} (block {})",
            kind_names(kinds).join(", "),
            ids.len(),
            utc(expiry),
            if max_queries == 1 { "y" } else { "ies" },
            ids.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            receipt.tx_hash,
            receipt.block
        ),
        serde_json::json!({
            "grant": id.to_string(),
            "owner": me.address,
            "grantee": grantee,
            "grantee_name": grantee_name,
            "datasets": ids,
            "kinds": kind_names(kinds),
            "kinds_bits": kinds,
            "expiry": expiry,
            "max_queries": max_queries,
            "tx": receipt.tx_hash,
            "block": receipt.block,
        }),
    ))
}

async fn revoke(chain: &ChainArgs, grant: &str) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = session.me("access revoke")?.clone();
    let id = parse_grant_id(grant)?;
    let g = session
        .ledger
        .grant_info(id)
        .await
        .map_err(session.chain_err("reading the grant"))?;
    if g.owner == Address::ZERO {
        return Err(Failure::usage(format!("grant {id} does not exist"))
            .hint("see your grants with `sharenet access list`"));
    }
    let mut owns_covered = false;
    for d in &g.datasetIds {
        let info = dataset_info(&session, *d).await?;
        owns_covered |= info.owner == me.address;
    }
    if g.owner != me.address && !owns_covered {
        return Err(Failure::refused(format!(
            "grant {id} was made by {}, not by {}, and covers none of your datasets: only the \
             grant's owner or the owner of a dataset it covers can revoke it",
            label(g.owner, session.devnet.as_ref()),
            label(me.address, session.devnet.as_ref())
        )));
    }
    if g.revoked {
        return Err(Failure::usage(format!("grant {id} is already revoked")));
    }
    let receipt = session
        .ledger
        .revoke(id)
        .await
        .map_err(session.chain_err("revoking the grant"))?;
    Ok(Report::new(
        format!(
            "grant {id} revoked ({} of {} queries were used)\n  tx: {} (block {})",
            g.used, g.maxQueries, receipt.tx_hash, receipt.block
        ),
        serde_json::json!({
            "grant": id.to_string(),
            "revoked": true,
            "used": g.used,
            "max_queries": g.maxQueries,
            "tx": receipt.tx_hash,
            "block": receipt.block,
        }),
    ))
}

async fn delegate(
    chain: &ChainArgs,
    to: &str,
    datasets: &[String],
    remove: bool,
) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = session.me("access delegate")?.clone();
    let (delegate, delegate_name) = resolve_account(to, session.devnet.as_ref())?;
    if delegate == me.address || delegate == Address::ZERO {
        return Err(Failure::usage(
            "--to: the delegate must be another account than yours (and not zero)",
        ));
    }
    let mut ids = Vec::new();
    for d in datasets {
        let id = resolve_dataset(&session, d.trim()).await?;
        let info = dataset_info(&session, id).await?;
        if info.owner != me.address {
            return Err(Failure::refused(format!(
                "dataset {id} is owned by {}, not by {}: only its owner can name delegates",
                label(info.owner, session.devnet.as_ref()),
                label(me.address, session.devnet.as_ref())
            )));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let mut txs = Vec::new();
    for id in &ids {
        let r = session
            .ledger
            .set_grant_delegate(*id, delegate, !remove)
            .await
            .map_err(session.chain_err("setting the grant delegate"))?;
        txs.push(r.tx_hash);
    }
    let who = match &delegate_name {
        Some(n) => format!("{delegate} ({n})"),
        None => delegate.to_string(),
    };
    Ok(Report::new(
        if remove {
            format!(
                "{who} may no longer grant access to {} dataset(s)",
                ids.len()
            )
        } else {
            format!(
                "{who} may now grant access to {} dataset(s) of yours",
                ids.len()
            )
        },
        serde_json::json!({
            "delegate": delegate,
            "delegate_name": delegate_name,
            "datasets": ids,
            "allowed": !remove,
            "txs": txs,
        }),
    ))
}

async fn list(chain: &ChainArgs, ui: &Ui) -> Result<Report, Failure> {
    let session = chain.open()?;
    let me = session.me("access list")?.clone();
    let trail = Trail::read(&session).await?;
    let now = chain_now(&session).await?;
    let devnet = session.devnet.as_ref();
    let mut rows = Vec::new();
    let (mut by_me, mut to_me, mut on_mine) = (Vec::new(), Vec::new(), Vec::new());
    let mut owners = Owners::default();
    for id in trail.grants() {
        let g = session
            .ledger
            .grant_info(id)
            .await
            .map_err(session.chain_err("reading a grant"))?;
        let direction = if g.owner == me.address {
            "by me"
        } else if g.grantee == me.address {
            "to me"
        } else {
            let mut mine = false;
            for d in &g.datasetIds {
                mine |= owners.owner(&session, *d).await? == me.address;
            }
            if !mine {
                continue;
            }
            "on mine"
        };
        let status = grant_status(&g, now);
        rows.push(vec![
            id.to_string(),
            direction.to_string(),
            match direction {
                "by me" => format!("to {}", label(g.grantee, devnet)),
                "to me" => format!("from {}", label(g.owner, devnet)),
                _ => format!(
                    "to {} by {}",
                    label(g.grantee, devnet),
                    label(g.owner, devnet)
                ),
            },
            g.datasetIds
                .iter()
                .map(|d| crate::util::short(&d.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            kind_names(g.kinds).join(","),
            utc(g.expiry),
            format!("{}/{}", g.maxQueries.saturating_sub(g.used), g.maxQueries),
            match status {
                "active" => ui.good(status),
                _ => ui.warn(status),
            },
        ]);
        let j = grant_json(id, &g, now, &session);
        match direction {
            "by me" => by_me.push(j),
            "to me" => to_me.push(j),
            _ => on_mine.push(j),
        }
    }
    let human = if rows.is_empty() {
        format!("no grants made by or to {}", label(me.address, devnet))
    } else {
        table(
            &[
                "grant", "", "who", "datasets", "kinds", "expires", "left", "status",
            ],
            &rows,
        )
    };
    Ok(Report::new(
        human,
        serde_json::json!({
            "me": me.address,
            "by_me": by_me,
            "to_me": to_me,
            "on_my_datasets": on_mine,
        }),
    ))
}

/// Dataset owners, read once each.
#[derive(Default)]
struct Owners(std::collections::HashMap<B256, Address>);

impl Owners {
    async fn owner(&mut self, session: &Session, id: B256) -> Result<Address, Failure> {
        if let Some(a) = self.0.get(&id) {
            return Ok(*a);
        }
        let owner = dataset_info(session, id).await?.owner;
        self.0.insert(id, owner);
        Ok(owner)
    }
}

/// Runs an `access` command.
pub async fn run(command: AccessCommand, ui: &Ui) -> Result<Report, Failure> {
    match command {
        AccessCommand::Grant {
            chain,
            to,
            datasets,
            kinds,
            expires,
            max_queries,
        } => grant(&chain, &to, &datasets, &kinds, &expires, max_queries).await,
        AccessCommand::Revoke { chain, grant } => revoke(&chain, &grant).await,
        AccessCommand::Delegate {
            chain,
            to,
            datasets,
            remove,
        } => delegate(&chain, &to, &datasets, remove).await,
        AccessCommand::List { chain } => list(&chain, ui).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_expiry_parse() {
        let all = parse_kinds(&["all".into()]).unwrap_or(0);
        assert_eq!(all, 0b11111);
        assert_eq!(
            parse_kinds(&["aggregate".into(), "lin_reg".into()]).unwrap_or(0),
            0b01001
        );
        assert_eq!(kind_names(0b01001), ["aggregate", "lin_reg"]);
        assert_eq!(kind_names(1 << 9), ["kind9"]);
        assert!(parse_kinds(&["sql".into()]).is_err());
        assert_eq!(parse_expiry("30d", 1000).unwrap_or(0), 1000 + 30 * 86_400);
        assert_eq!(parse_expiry("5000", 1000).unwrap_or(0), 5000);
        assert!(parse_expiry("500", 1000).is_err());
        assert!(parse_expiry("soon", 1000).is_err());
        assert!(parse_grant_id("#7").is_ok());
        assert!(parse_grant_id("x").is_err());
    }
}
