//! Set-up: uploads (honest, or by a byzantine dealer), delegations and grants.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use libp2p::PeerId;
use sharenet_chain_adapter::{EmbeddedLedger, Ledger, NewGrant};
use sharenet_mpc::field::{Field, Mp127};
use sharenet_node::daemon::peer_id_from_chain_key;
use sharenet_node::net::Client;
use sharenet_node::owner::{committee_for_pool, upload_dataset};
use sharenet_node::table::{EncodedTable, read_csv};
use sharenet_node::upload::uploader::{BatchAuthor, UploadError, deal_batch, send_batch};
use sharenet_node::upload::wire::DatasetOrigin;

use super::attacks::{self, Stake};
use super::network::SimNetwork;
use super::{BATCH_ROWS, EngineError, Event, UPLOAD_TIMEOUT};
use crate::generate::Table;
use crate::report::{AttackRecord, FaultEvent, FaultKind, UploadOutcome, UploadRecord};
use crate::scenario::{Attack, Dataset, Fault, Scenario};

/// How long a grant without `expires_in` lasts (the contract needs an expiry): ten years.
const NO_EXPIRY_SECS: u64 = 10 * 365 * 24 * 3600;

/// What set-up produced.
#[derive(Debug, Clone)]
pub(super) struct Setup {
    /// The uploads, in scenario order.
    pub uploads: Vec<UploadRecord>,
    /// Each dataset's id: registered on chain, or the id its refused upload used.
    pub ids: BTreeMap<String, B256>,
    /// Committee accounts of each registered dataset, in party order.
    pub committees: BTreeMap<String, Vec<Address>>,
    /// Fault events of set-up (byzantine dealers, squatters).
    pub events: Vec<FaultEvent>,
    /// The honest nodes' stakes before set-up (the attacks compare with them).
    pub stakes: Vec<Stake>,
    /// The attacks carried out during set-up (squatters), by scenario index.
    pub attacks: attacks::Records,
}

/// Uploads every dataset, then issues the delegations and the grants.
pub(super) async fn run(
    scenario: &Scenario,
    net: &SimNetwork,
    tables: &BTreeMap<String, Table>,
    progress: &impl Fn(Event),
) -> Result<Setup, EngineError> {
    let mut setup = Setup {
        uploads: Vec::new(),
        ids: BTreeMap::new(),
        committees: BTreeMap::new(),
        events: Vec::new(),
        stakes: attacks::stakes(net, &attacks::honest_nodes(scenario)).await?,
        attacks: BTreeMap::new(),
    };
    for dataset in &scenario.datasets {
        let table = tables
            .get(&dataset.name)
            .ok_or_else(|| EngineError::Internal(format!("no table for {}", dataset.name)))?;
        let started = Instant::now();
        let byzantine = scenario.faults.iter().find_map(|f| match f {
            Fault::ByzantineDealer { dataset: d, nodes } if *d == dataset.name => Some(nodes),
            _ => None,
        });
        let squatter = scenario
            .attacks
            .iter()
            .enumerate()
            .find_map(|(i, a)| match a {
                Attack::Squatter { by, dataset: d } if *d == dataset.name => Some((i, a, by)),
                _ => None,
            });
        let outcome = match (byzantine, squatter) {
            (None, Some((index, attack, by))) => {
                let mut record = AttackRecord::new(attack);
                let baseline = setup.stakes.clone();
                let outcome = attacks::squat_upload(
                    scenario,
                    net,
                    dataset,
                    table,
                    by,
                    &baseline,
                    &mut setup,
                    &mut record,
                )
                .await?;
                progress(Event::Note(format!(
                    "attack {} by {by}: {}",
                    record.kind,
                    record.outcome.describe()
                )));
                setup.events.push(attacks::event(&record, Vec::new()));
                setup.attacks.insert(index, record);
                outcome
            }
            (None, None) => upload_honestly(scenario, net, dataset, table, &mut setup).await?,
            (Some(victims), _) => {
                upload_byzantine(scenario, net, dataset, table, victims, &mut setup).await?
            }
        };
        let ms = started.elapsed().as_millis() as u64;
        progress(Event::Uploaded {
            dataset: dataset.name.clone(),
            rows: table.len(),
            outcome: match &outcome {
                UploadOutcome::Stored => "stored".into(),
                UploadOutcome::Rejected { reason } => format!("rejected ({reason})"),
                UploadOutcome::Failed { reason } => format!("failed ({reason})"),
            },
            ms,
        });
        setup.uploads.push(UploadRecord {
            dataset: dataset.name.clone(),
            rows: table.len(),
            expect: dataset.expect,
            outcome,
            duration_ms: Some(ms),
        });
    }
    delegate(scenario, net, &setup, progress).await?;
    grant(scenario, net, &setup, progress).await?;
    Ok(setup)
}

fn institution_index(scenario: &Scenario, name: &str) -> Result<usize, EngineError> {
    scenario
        .institutions
        .iter()
        .position(|i| i.name == name)
        .ok_or_else(|| EngineError::Internal(format!("no institution {name}")))
}

fn researcher_index(scenario: &Scenario, name: &str) -> Result<usize, EngineError> {
    scenario
        .researchers
        .iter()
        .position(|r| r.name == name)
        .map(|r| scenario.institutions.len() + r)
        .ok_or_else(|| EngineError::Internal(format!("no researcher {name}")))
}

/// The ledger and client of account `name` (an institution or a researcher).
pub(super) fn account(
    scenario: &Scenario,
    net: &SimNetwork,
    name: &str,
) -> Result<(EmbeddedLedger, Client), EngineError> {
    let k = match institution_index(scenario, name) {
        Ok(k) => k,
        Err(_) => researcher_index(scenario, name)?,
    };
    Ok((net.client_ledger(k)?, net.clients[k].clone()))
}

/// The ledger of the scenario account with chain address `address`, if there is one.
pub(super) fn account_of(
    scenario: &Scenario,
    net: &SimNetwork,
    address: Address,
) -> Option<EmbeddedLedger> {
    (0..scenario.institutions.len() + scenario.researchers.len())
        .filter_map(|k| net.client_ledger(k).ok())
        .find(|l| l.account() == address)
}

/// The owner's ledger and client.
fn owner_of(
    scenario: &Scenario,
    net: &SimNetwork,
    dataset: &Dataset,
) -> Result<(EmbeddedLedger, Client), EngineError> {
    let k = institution_index(scenario, &dataset.owner)?;
    Ok((net.client_ledger(k)?, net.clients[k].clone()))
}

/// The table as the uploader encodes it (through its own CSV reader, as `sharenet dataset
/// upload` would read the file).
pub(super) fn encode(table: &Table) -> Result<EncodedTable, String> {
    read_csv(table.to_csv().as_bytes(), table.schema(), &[]).map_err(|e| e.to_string())
}

async fn upload_honestly(
    scenario: &Scenario,
    net: &SimNetwork,
    dataset: &Dataset,
    table: &Table,
    setup: &mut Setup,
) -> Result<UploadOutcome, EngineError> {
    let (ledger, client) = owner_of(scenario, net, dataset)?;
    let encoded = match encode(table) {
        Ok(e) => e,
        Err(reason) => return Ok(UploadOutcome::Failed { reason }),
    };
    let min_cohort = scenario
        .institution(&dataset.owner)
        .map_or(crate::scenario::DEFAULT_MIN_COHORT, |i| i.min_cohort);
    let upload = upload_dataset(
        &ledger,
        &client,
        table.schema(),
        &encoded,
        &dataset.name,
        &dataset.pool,
        scenario.network.committee,
        scenario.network.threshold,
        u32::try_from(min_cohort).unwrap_or(u32::MAX),
        BATCH_ROWS,
        UPLOAD_TIMEOUT,
    );
    Ok(match tokio::time::timeout(UPLOAD_TIMEOUT, upload).await {
        Ok(Ok(summary)) => {
            let id = B256::from(summary.dataset);
            setup.ids.insert(dataset.name.clone(), id);
            setup
                .committees
                .insert(dataset.name.clone(), summary.accounts.clone());
            UploadOutcome::Stored
        }
        Ok(Err(sharenet_node::owner::OwnerError::Upload(e @ UploadError::Rejected { .. }))) => {
            UploadOutcome::Rejected {
                reason: e.to_string(),
            }
        }
        Ok(Err(e)) => UploadOutcome::Failed {
            reason: e.to_string(),
        },
        Err(_) => UploadOutcome::Failed {
            reason: format!("no answer within {UPLOAD_TIMEOUT:?}"),
        },
    })
}

/// A dealer that hands `victims` (node numbers; default one committee member) shares that are
/// not on the polynomial of the others' in the first batch. It sends the batch like any upload;
/// the committee's batch check must reject it, and the dealer then has nothing to register.
async fn upload_byzantine(
    scenario: &Scenario,
    net: &SimNetwork,
    dataset: &Dataset,
    table: &Table,
    victims: &[usize],
    setup: &mut Setup,
) -> Result<UploadOutcome, EngineError> {
    let (ledger, client) = owner_of(scenario, net, dataset)?;
    let (n, t) = (scenario.network.committee, scenario.network.threshold);
    let encoded = match encode(table) {
        Ok(e) => e,
        Err(reason) => return Ok(UploadOutcome::Failed { reason }),
    };
    let committee = match committee_for_pool(&ledger, &dataset.pool, n).await {
        Ok((c, _)) => c,
        Err(e) => {
            return Ok(UploadOutcome::Failed {
                reason: e.to_string(),
            });
        }
    };
    let accounts: Vec<Address> = committee
        .accounts()
        .into_iter()
        .map(Address::from)
        .collect();
    let mut peers: Vec<PeerId> = Vec::with_capacity(n);
    for member in committee.members() {
        let Some(peer) = peer_id_from_chain_key(B256::from(member.node.peer_key)) else {
            return Ok(UploadOutcome::Failed {
                reason: "a committee member has no ed25519 peer key".into(),
            });
        };
        if let Some(addr) = sharenet_node::owner::dial_address(&member.node.network_address) {
            // A member that cannot be reached fails the batch below.
            let _ = tokio::time::timeout(UPLOAD_TIMEOUT, client.dial(peer, addr)).await;
        }
        peers.push(peer);
    }
    // The victims' positions in the committee; by default its last member.
    let mut positions: Vec<usize> = victims
        .iter()
        .filter_map(|v| {
            accounts
                .iter()
                .position(|a| Some(a) == net.accounts.get(*v))
        })
        .collect();
    if positions.is_empty() {
        positions.push(n.saturating_sub(1));
    }
    let victim_nodes: Vec<usize> = positions
        .iter()
        .filter_map(|p| {
            net.accounts
                .iter()
                .position(|a| Some(a) == accounts.get(*p))
        })
        .collect();
    let mut h = blake3::Hasher::new_derive_key("sharenet simulator byzantine dataset v1");
    h.update(dataset.owner.as_bytes());
    h.update(dataset.name.as_bytes());
    h.update(&scenario.seed.to_le_bytes());
    let origin = DatasetOrigin {
        owner: ledger.account().into_array(),
        salt: *h.finalize().as_bytes(),
    };
    setup
        .ids
        .insert(dataset.name.clone(), B256::from(origin.id()));
    let rows = BATCH_ROWS.min(encoded.rows);
    let mut dealt = match deal_batch(&encoded, 0, rows, n, t) {
        Ok(d) => d,
        Err(e) => {
            return Ok(UploadOutcome::Failed {
                reason: e.to_string(),
            });
        }
    };
    for p in &positions {
        if let Some(share) = dealt.get_mut(*p).and_then(|d| d.shares.first_mut()) {
            *share += Mp127::ONE;
        }
    }
    let author = BatchAuthor {
        origin,
        signer: &ledger,
    };
    let sent = send_batch(
        &client,
        &peers,
        t,
        author,
        &dataset.name,
        0,
        0,
        u32::try_from(rows).unwrap_or(u32::MAX),
        u32::try_from(encoded.columns.len()).unwrap_or(u32::MAX),
        dealt,
    );
    let result = tokio::time::timeout(UPLOAD_TIMEOUT, sent).await;
    let (outcome, note) = match result {
        Ok(Err(e @ UploadError::Rejected { .. })) => (
            UploadOutcome::Rejected {
                reason: e.to_string(),
            },
            "rejected by the committee's batch check; nothing was stored or registered",
        ),
        Ok(Err(e)) => (
            UploadOutcome::Failed {
                reason: e.to_string(),
            },
            "the upload failed",
        ),
        Ok(Ok(_)) => (
            UploadOutcome::Stored,
            "the committee accepted the inconsistent shares (not caught)",
        ),
        Err(_) => (
            UploadOutcome::Failed {
                reason: format!("no answer within {UPLOAD_TIMEOUT:?}"),
            },
            "the upload timed out",
        ),
    };
    let names: Vec<String> = victim_nodes.iter().map(ToString::to_string).collect();
    setup.events.push(FaultEvent {
        at_ms: 0,
        until_ms: None,
        kind: FaultKind::ByzantineDealer,
        nodes: victim_nodes,
        groups: Vec::new(),
        job: None,
        note: format!(
            "{} dealt inconsistent shares of {} to node {}: {note}",
            dataset.owner,
            dataset.name,
            names.join(", ")
        ),
    });
    Ok(outcome)
}

/// A registered dataset's id, or `None` (its upload did not store it).
fn registered(setup: &Setup, name: &str) -> Option<B256> {
    setup
        .committees
        .contains_key(name)
        .then(|| setup.ids.get(name).copied())
        .flatten()
}

async fn delegate(
    scenario: &Scenario,
    net: &SimNetwork,
    setup: &Setup,
    progress: &impl Fn(Event),
) -> Result<(), EngineError> {
    for d in &scenario.delegations {
        let owner = net.client_ledger(institution_index(scenario, &d.owner)?)?;
        let delegate = net
            .client_ledger(institution_index(scenario, &d.delegate)?)?
            .account();
        for name in &d.datasets {
            let Some(id) = registered(setup, name) else {
                progress(Event::Note(format!(
                    "{} cannot delegate {name}: it is not stored",
                    d.owner
                )));
                continue;
            };
            owner
                .set_grant_delegate(id, delegate, true)
                .await
                .map_err(|e| EngineError::Chain(format!("delegating {name}: {e}")))?;
        }
    }
    Ok(())
}

async fn grant(
    scenario: &Scenario,
    net: &SimNetwork,
    setup: &Setup,
    progress: &impl Fn(Event),
) -> Result<(), EngineError> {
    let now = net
        .chain
        .timestamp()
        .map_err(|e| EngineError::Chain(e.to_string()))?;
    for g in &scenario.grants {
        let granter = net.client_ledger(institution_index(scenario, &g.granter)?)?;
        let grantee = net
            .client_ledger(researcher_index(scenario, &g.grantee)?)?
            .account();
        let ids: Vec<Option<B256>> = g.datasets.iter().map(|d| registered(setup, d)).collect();
        if ids.iter().any(Option::is_none) {
            progress(Event::Note(format!(
                "grant {} → {} on {} not issued: not every dataset is stored",
                g.granter,
                g.grantee,
                g.datasets.join(", ")
            )));
            continue;
        }
        let expiry = now
            + g.expires_in.map_or(NO_EXPIRY_SECS, |e| {
                Duration::from_millis(e.0).as_secs().max(1)
            });
        granter
            .grant(&NewGrant {
                grantee,
                datasets: ids.into_iter().flatten().collect(),
                kinds: g.kinds.iter().fold(0u64, |m, k| m | 1 << k.code()),
                program_hashes: Vec::new(),
                expiry,
                max_queries: g.max_queries,
            })
            .await
            .map_err(|e| EngineError::Chain(format!("grant {} → {}: {e}", g.granter, g.grantee)))?;
    }
    Ok(())
}

/// The client and ledger of researcher `name`.
pub(super) fn researcher(
    scenario: &Scenario,
    net: &SimNetwork,
    name: &str,
) -> Result<(EmbeddedLedger, Client), EngineError> {
    let k = researcher_index(scenario, name)?;
    Ok((net.client_ledger(k)?, net.clients[k].clone()))
}
