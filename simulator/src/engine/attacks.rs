//! The attacks (`[[attacks]]`): adversaries acting against the running network through its
//! public interfaces, with keys of their own, each recorded step by step with what the network
//! answered and what the engine then checked on chain and in the honest nodes' stores.
//!
//! - **squatter** (during set-up): the owner's upload is carried out step by step (shares dealt
//!   and verified, manifest signed), and before the owner's registration is mined the squatter
//!   registers a copy of it (same salt, committee, pool and schema). The registry derives the
//!   squatter's id from the squatter's account; the owner's registration goes through under the
//!   id its batches named; then the squatter tries to grant itself the owner's dataset and to
//!   run a job on its copy.
//! - **framing owner** (at its time): the owner uploads a small table of its own to its puppets
//!   and one honest node, registers that committee (not the placement rule's), has the puppets
//!   acknowledge it and sign a slash of the honest node, and submits the slash.
//! - **stale requester** (at its time): the researcher submits a job under its grant, prepares
//!   it with every member (`Hello`), then waits out the deadline and the reveal window (the
//!   chain's clock is moved past them) and takes the refund, or the grant is revoked, and sends `Start` to every member.
//!
//! Each attack ends with the honest nodes' stakes read again ([`stakes`]), so the verdict can
//! say that nobody honest was slashed.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use libp2p::PeerId;
use sharenet_chain_adapter::{
    ChainError, EmbeddedLedger, JobStatus, Ledger, NewDataset, NewGrant, NewJob,
    REVEAL_WINDOW_SECS, SlashEvidence, dataset_id_for,
};
use sharenet_dht::{DatasetManifest, Key};
use sharenet_node::daemon::peer_id_from_chain_key;
use sharenet_node::jobs::query::RELEASE_MARGIN_SECS;
use sharenet_node::jobs::requester::{
    QueryRequest, find_grant, output_key, prepare_query, run_query,
};
use sharenet_node::jobs::session_id;
use sharenet_node::jobs::wire::{JobReply, JobRequest};
use sharenet_node::net::{Client, Protocol};
use sharenet_node::owner::{committee_for_pool, dial_address, manifest_members, publish_manifest};
use sharenet_node::store::UploadState;
use sharenet_node::upload::uploader::{BatchAuthor, upload_table};
use sharenet_node::upload::wire::{DatasetOrigin, Receipt};
use sharenet_query::parse;

use super::jobs::Context;
use super::network::SimNetwork;
use super::setup::{self, Setup};
use super::{BATCH_ROWS, EngineError, Event, UPLOAD_TIMEOUT};
use crate::generate::Table;
use crate::report::{
    AttackOutcome, AttackRecord, FaultEvent, FaultKind, StakeRecord, UploadOutcome,
};
use crate::scenario::{Attack, Dataset, Scenario, StaleStep};

/// How long one attack may take before it is recorded as not carried out.
pub const ATTACK_TIMEOUT: Duration = Duration::from_secs(120);
/// Seconds between a stale requester's submission and its job's deadline: enough for the
/// members to prepare it (they refuse a job less than [`RELEASE_MARGIN_SECS`] from its deadline).
const STALE_DEADLINE_SECS: u64 = RELEASE_MARGIN_SECS + 60;
/// Rows of a framing owner's own table.
const BAIT_ROWS: usize = 20;
/// The fee of an attacker's job (wei).
const FEE: u64 = 1_000_000;

/// An honest node's stake and slash count, read from the chain.
#[derive(Debug, Clone)]
pub(super) struct Stake {
    node: usize,
    account: Address,
    stake: U256,
    slashes: u32,
}

/// The nodes that are nobody's puppet.
pub(super) fn honest_nodes(scenario: &Scenario) -> Vec<usize> {
    let puppets: Vec<usize> = scenario
        .attacks
        .iter()
        .flat_map(|a| match a {
            Attack::FramingOwner { puppets, .. } => puppets.clone(),
            _ => Vec::new(),
        })
        .collect();
    (0..scenario.network.nodes)
        .filter(|n| !puppets.contains(n))
        .collect()
}

/// The stakes of `nodes` now.
pub(super) async fn stakes(net: &SimNetwork, nodes: &[usize]) -> Result<Vec<Stake>, EngineError> {
    let chain = super::network::ledger(&net.chain, 0)?;
    let mut out = Vec::with_capacity(nodes.len());
    for &node in nodes {
        let account = *net
            .accounts
            .get(node)
            .ok_or_else(|| EngineError::Internal(format!("no node {node}")))?;
        let info = chain
            .node_info(account)
            .await
            .map_err(|e| EngineError::Chain(format!("reading node {node}: {e}")))?;
        out.push(Stake {
            node,
            account,
            stake: info.stake,
            slashes: info.slashCount,
        });
    }
    Ok(out)
}

/// Reads the stakes again and records them next to the baseline.
async fn record_stakes(net: &SimNetwork, baseline: &[Stake], record: &mut AttackRecord) {
    let nodes: Vec<usize> = baseline.iter().map(|s| s.node).collect();
    match stakes(net, &nodes).await {
        Ok(now) => {
            record.stakes = baseline
                .iter()
                .zip(now)
                .map(|(b, a)| StakeRecord {
                    node: b.node,
                    account: format!("{:#x}", b.account),
                    before: b.stake.to_string(),
                    after: a.stake.to_string(),
                    slashes_before: b.slashes,
                    slashes_after: a.slashes,
                })
                .collect();
        }
        Err(e) => record
            .steps
            .push(format!("the stakes could not be read: {e}")),
    }
}

fn chain_err(what: &str, e: &ChainError) -> String {
    match e.contract_error() {
        // The error's name (`NotDatasetOwner`), without its fields.
        Some(c) => {
            let full = format!("{c:?}");
            let name = full.split('(').next().unwrap_or(&full).trim().to_string();
            format!("{what}: reverted with {name}")
        }
        None => format!("{what}: {e}"),
    }
}

/// The committee's peers, dialled from `client`, in party order.
async fn dial(
    ledger: &EmbeddedLedger,
    client: &Client,
    accounts: &[Address],
) -> Result<(Vec<PeerId>, Vec<[u8; 32]>), String> {
    let mut peers = Vec::with_capacity(accounts.len());
    let mut keys = Vec::with_capacity(accounts.len());
    for account in accounts {
        let info = ledger
            .node_info(*account)
            .await
            .map_err(|e| e.to_string())?;
        let peer = peer_id_from_chain_key(info.peerKey)
            .ok_or_else(|| format!("{account} has no ed25519 peer key"))?;
        if let Some(addr) = dial_address(&info.networkAddress) {
            tokio::time::timeout(UPLOAD_TIMEOUT, client.dial(peer, addr))
                .await
                .map_err(|_| format!("dialling {account} timed out"))?
                .map_err(|e| e.to_string())?;
        }
        peers.push(peer);
        keys.push(info.peerKey.0);
    }
    Ok((peers, keys))
}

/// The owner's upload of `dataset` with a squatter front-running its registration. Returns
/// the upload's outcome (the owner's side) and records the attack.
#[allow(clippy::too_many_arguments)]
pub(super) async fn squat_upload(
    scenario: &Scenario,
    net: &SimNetwork,
    dataset: &Dataset,
    table: &Table,
    squatter: &str,
    baseline: &[Stake],
    setup: &mut Setup,
    record: &mut AttackRecord,
) -> Result<UploadOutcome, EngineError> {
    let result = tokio::time::timeout(
        ATTACK_TIMEOUT,
        squat(scenario, net, dataset, table, squatter, setup, record),
    )
    .await;
    let outcome = match result {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            record.outcome = AttackOutcome::NotCarriedOut {
                reason: format!("it did not end within {ATTACK_TIMEOUT:?}"),
            };
            // The owner's side is judged on its own: registered and acknowledged, or not.
            if setup.committees.contains_key(&dataset.name) {
                UploadOutcome::Stored
            } else {
                UploadOutcome::Failed {
                    reason: format!("no answer within {ATTACK_TIMEOUT:?}"),
                }
            }
        }
    };
    record_stakes(net, baseline, record).await;
    Ok(outcome)
}

async fn squat(
    scenario: &Scenario,
    net: &SimNetwork,
    dataset: &Dataset,
    table: &Table,
    squatter: &str,
    setup: &mut Setup,
    record: &mut AttackRecord,
) -> Result<UploadOutcome, EngineError> {
    let failed = |reason: String| UploadOutcome::Failed { reason };
    let (ledger, client) = setup::account(scenario, net, &dataset.owner)?;
    let (sq_ledger, sq_client) = setup::account(scenario, net, squatter)?;
    let (n, t) = (scenario.network.committee, scenario.network.threshold);
    let encoded = match setup::encode(table) {
        Ok(e) => e,
        Err(reason) => return Ok(failed(reason)),
    };
    let schema = table.schema();
    let (committee, epoch) = match committee_for_pool(&ledger, &dataset.pool, n).await {
        Ok(c) => c,
        Err(e) => return Ok(failed(e.to_string())),
    };
    let accounts: Vec<Address> = committee
        .accounts()
        .into_iter()
        .map(Address::from)
        .collect();
    let (peers, keys) = match dial(&ledger, &client, &accounts).await {
        Ok(x) => x,
        Err(reason) => return Ok(failed(reason)),
    };
    let owner = ledger.account();
    let origin = DatasetOrigin {
        owner: owner.into_array(),
        salt: rand::random(),
    };
    let owned = B256::from(origin.id());
    let author = BatchAuthor {
        origin,
        signer: &ledger,
    };
    let receipts = match upload_table(
        &client,
        &peers,
        t,
        author,
        &dataset.name,
        &encoded,
        BATCH_ROWS,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return Ok(failed(e.to_string())),
    };
    record.steps.push(format!(
        "{} dealt {} rows of {} to the committee (nodes {}); every member verified and stored its shares",
        dataset.owner,
        encoded.rows,
        dataset.name,
        nodes_of(net, &accounts)
    ));
    let min_cohort = scenario
        .institution(&dataset.owner)
        .map_or(crate::scenario::DEFAULT_MIN_COHORT, |i| i.min_cohort);
    let manifest = DatasetManifest {
        dataset_id: owned.0,
        owner: owner.into_array(),
        pool: dataset.pool.clone(),
        name: dataset.name.clone(),
        schema_hash: schema.hash(),
        schema: schema.to_json(),
        min_cohort: u32::try_from(min_cohort).unwrap_or(u32::MAX),
        rows: encoded.rows as u64,
        columns: encoded.columns.len() as u32,
        threshold: t as u8,
        committee_epoch: epoch,
        members: manifest_members(&keys, &receipts),
        version: 1,
        created_at: net
            .chain
            .timestamp()
            .map_err(|e| EngineError::Chain(e.to_string()))?,
    };
    let signed = match client.sign_manifest(&manifest) {
        Ok(s) => s,
        Err(e) => return Ok(failed(e.to_string())),
    };
    let registration = NewDataset {
        salt: B256::from(origin.salt),
        committee_epoch: epoch,
        pool_key: B256::from(*Key::for_pool(&dataset.pool).as_bytes()),
        pool: dataset.pool.clone(),
        schema_hash: B256::from(schema.hash()),
        manifest_hash: B256::from(manifest.manifest_hash()),
        rows: encoded.rows as u64,
        committee: accounts.clone(),
        threshold: t as u8,
    };
    let sq_account = sq_ledger.account();
    record.facts.insert("owner".into(), format!("{owner:#x}"));
    record
        .facts
        .insert("squatter".into(), format!("{sq_account:#x}"));
    record
        .facts
        .insert("salt".into(), format!("{:#x}", registration.salt));
    record.facts.insert("dataset".into(), format!("{owned:#x}"));

    // The squatter read the pending registration (or the batches) and gets its copy mined
    // first, with a manifest of its own so that it can submit jobs on it.
    let expected_copy = dataset_id_for(sq_account, registration.salt);
    let sq_manifest = DatasetManifest {
        dataset_id: expected_copy.0,
        owner: sq_account.into_array(),
        ..manifest.clone()
    };
    let copy = sq_ledger
        .register_dataset(&NewDataset {
            manifest_hash: B256::from(sq_manifest.manifest_hash()),
            ..registration.clone()
        })
        .await;
    let squatted = match copy {
        Ok((_, id)) => {
            record.facts.insert("squatted".into(), format!("{id:#x}"));
            record.steps.push(format!(
                "{squatter} registered a copy first (same salt, committee, pool, schema): the registry gave it id {id:#x}, not the owner's {owned:#x}"
            ));
            Some(id)
        }
        Err(e) => {
            record.steps.push(chain_err(
                &format!("{squatter}'s copy of the registration"),
                &e,
            ));
            None
        }
    };
    // The owner's registration goes through under the id its batches named.
    let registered = match ledger.register_dataset(&registration).await {
        Ok((_, id)) => id,
        Err(e) => {
            record.steps.push(chain_err("the owner's registration", &e));
            record.outcome = AttackOutcome::Succeeded {
                what: "the owner's registration was refused after the squatter's".into(),
            };
            return Ok(failed(chain_err("registration", &e)));
        }
    };
    record.check(
        "the owner's registration gets the id its batches named",
        owned,
        registered,
    );
    let deadline = tokio::time::Instant::now() + UPLOAD_TIMEOUT;
    if let Err(e) = publish_manifest(&client, signed, deadline).await {
        return Ok(failed(e.to_string()));
    }
    // Every member acknowledges the owner's dataset (each handled the squatter's copy first:
    // it is earlier in the chain's log).
    loop {
        let mut missing = 0;
        for account in &accounts {
            if !ledger
                .has_acknowledged(owned, *account)
                .await
                .map_err(|e| EngineError::Chain(e.to_string()))?
            {
                missing += 1;
            }
        }
        if missing == 0 {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(failed(format!(
                "{missing} member(s) did not acknowledge within {UPLOAD_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    record.steps.push(format!(
        "{} registered {} and every member acknowledged it",
        dataset.owner, dataset.name
    ));
    setup.ids.insert(dataset.name.clone(), owned);
    setup
        .committees
        .insert(dataset.name.clone(), accounts.clone());

    let info = ledger
        .dataset_info(owned)
        .await
        .map_err(|e| EngineError::Chain(e.to_string()))?;
    record.check(
        "the owner of the owner's dataset on chain",
        format!("{owner:#x}"),
        format!("{:#x}", info.owner),
    );
    record.check(
        "the committee of the owner's dataset on chain",
        format!("{accounts:?}"),
        format!("{:?}", info.committee),
    );
    let mut refusals = Vec::new();
    let mut got = Vec::new();
    if let Some(squatted) = squatted {
        record.check(
            "the squatter's copy is registered under the id the registry derives from its account",
            expected_copy,
            squatted,
        );
        let mut acked = 0;
        let mut holding = 0;
        for (node, account) in accounts
            .iter()
            .filter_map(|a| net.accounts.iter().position(|x| x == a).map(|n| (n, *a)))
        {
            if ledger
                .has_acknowledged(squatted, account)
                .await
                .map_err(|e| EngineError::Chain(e.to_string()))?
            {
                acked += 1;
            }
            if net.held(node, squatted).await?.is_some() {
                holding += 1;
            }
        }
        record.check("members that acknowledged the squatter's copy", 0, acked);
        record.check(
            "members holding anything under the squatter's id",
            0,
            holding,
        );
        refusals.push(format!(
            "its copy got id {squatted:#x}, which no member holds or acknowledged"
        ));
        // A job on its copy: it publishes its manifest and grants itself.
        let job = squatter_job(
            &sq_ledger,
            &sq_client,
            &accounts,
            sq_manifest,
            squatted,
            dataset,
            net,
        )
        .await;
        match job {
            Ok(refused) => {
                record.steps.push(format!("its job on its copy: {refused}"));
                refusals.push(format!("its job was refused ({refused})"));
            }
            Err(served) => {
                record.steps.push(format!("its job on its copy: {served}"));
                got.push(served);
            }
        }
    }
    // It grants itself access to the owner's dataset.
    let now = net
        .chain
        .timestamp()
        .map_err(|e| EngineError::Chain(e.to_string()))?;
    match sq_ledger
        .grant(&NewGrant {
            grantee: sq_account,
            datasets: vec![owned],
            kinds: 1 << sharenet_query::QueryKind::Aggregate.code(),
            program_hashes: Vec::new(),
            expiry: now + 3600,
            max_queries: 5,
        })
        .await
    {
        Ok(_) => {
            record
                .steps
                .push("it granted itself access to the owner's dataset".into());
            got.push("a grant on the owner's dataset".into());
        }
        Err(e) => {
            let text = chain_err("granting itself the owner's dataset", &e);
            record.steps.push(text.clone());
            refusals.push(text);
        }
    }
    record.outcome = if got.is_empty() {
        AttackOutcome::Refused {
            reason: refusals.join("; "),
        }
    } else {
        AttackOutcome::Succeeded {
            what: got.join("; "),
        }
    };
    Ok(UploadOutcome::Stored)
}

/// The squatter's job on its own copy: `Ok(why it was refused)` or `Err(what it got)`.
async fn squatter_job(
    ledger: &EmbeddedLedger,
    client: &Client,
    committee: &[Address],
    manifest: DatasetManifest,
    squatted: B256,
    dataset: &Dataset,
    net: &SimNetwork,
) -> Result<String, String> {
    // It reaches the network through the committee (it knows it from the registration).
    dial(ledger, client, committee)
        .await
        .map_err(|e| format!("it could not reach the committee: {e}"))?;
    let signed = client
        .sign_manifest(&manifest)
        .map_err(|e| format!("its manifest could not be signed: {e}"))?;
    let deadline = tokio::time::Instant::now() + net.message_timeout;
    if let Err(e) = publish_manifest(client, signed, deadline).await {
        return Ok(format!("its manifest was not taken by the network: {e}"));
    }
    let now = net.chain.timestamp().map_err(|e| e.to_string())?;
    if let Err(e) = ledger
        .grant(&NewGrant {
            grantee: ledger.account(),
            datasets: vec![squatted],
            kinds: 1 << sharenet_query::QueryKind::Aggregate.code(),
            program_hashes: Vec::new(),
            expiry: now + 3600,
            max_queries: 5,
        })
        .await
    {
        return Ok(chain_err("granting itself its copy", &e));
    }
    let request = QueryRequest {
        text: format!("SELECT COUNT(*) FROM {}", dataset.name),
        datasets: vec![squatted],
        grant: None,
        fee: U256::from(FEE),
        deadline: Duration::from_secs(3600),
        ready_timeout: net.message_timeout,
        session_timeout: net.message_timeout,
        attest_timeout: net.message_timeout,
        security: net.security,
    };
    match tokio::time::timeout(ATTACK_TIMEOUT, run_query(ledger, client, &request, |_| {})).await {
        Ok(Ok(_)) => Err("a job on the squatted copy was served".into()),
        Ok(Err(e)) => Ok(e.to_string()),
        Err(_) => Ok(format!("no result within {ATTACK_TIMEOUT:?}")),
    }
}

/// Node numbers of chain accounts, as text.
fn nodes_of(net: &SimNetwork, accounts: &[Address]) -> String {
    accounts
        .iter()
        .map(|a| {
            net.accounts
                .iter()
                .position(|x| x == a)
                .map_or_else(|| format!("{a:#x}"), |n| n.to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs scheduled attack `index` at its time; returns its record and its timeline event.
pub(super) async fn run(ctx: std::sync::Arc<Context>, index: usize) -> (AttackRecord, FaultEvent) {
    let attack = &ctx.scenario.attacks[index];
    let mut record = AttackRecord::new(attack);
    let at = attack.at().unwrap_or_default();
    tokio::time::sleep_until(ctx.clock.instant(at.0)).await;
    // One attack at a time: a stale requester moves the chain's clock, which must not pull
    // another attack's job past its deadline.
    let _one = ctx.attack_lock.lock().await;
    record.at_ms = ctx.clock.elapsed_ms();
    ctx.tell(Event::Fault {
        at_ms: record.at_ms,
        what: format!("attack: {}", attack.describe()),
    });
    let carried = match attack {
        Attack::FramingOwner {
            by,
            puppets,
            victim,
            pool,
            ..
        } => {
            tokio::time::timeout(
                ATTACK_TIMEOUT,
                frame(&ctx, by, puppets, *victim, pool, &mut record),
            )
            .await
        }
        Attack::StaleRequester {
            by, query, then, ..
        } => tokio::time::timeout(ATTACK_TIMEOUT, stale(&ctx, by, query, *then, &mut record)).await,
        Attack::Squatter { .. } => Ok(Err("a squatter acts during set-up".into())),
    };
    match carried {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => record.outcome = AttackOutcome::NotCarriedOut { reason },
        Err(_) => {
            record.outcome = AttackOutcome::NotCarriedOut {
                reason: format!("it did not end within {ATTACK_TIMEOUT:?}"),
            }
        }
    }
    record_stakes(&ctx.net, &ctx.setup.stakes, &mut record).await;
    record.finished_ms = Some(ctx.clock.elapsed_ms());
    ctx.tell(Event::Fault {
        at_ms: record.finished_ms.unwrap_or(record.at_ms),
        what: format!(
            "attack {} by {}: {}",
            record.kind,
            record.by,
            record.outcome.describe()
        ),
    });
    let nodes = match attack {
        Attack::FramingOwner {
            puppets, victim, ..
        } => {
            let mut n = puppets.clone();
            n.push(*victim);
            n
        }
        _ => Vec::new(),
    };
    let event = event(&record, nodes);
    (record, event)
}

/// The timeline's mark of an attack.
pub(super) fn event(record: &AttackRecord, nodes: Vec<usize>) -> FaultEvent {
    FaultEvent {
        at_ms: record.at_ms,
        until_ms: None,
        kind: FaultKind::Other,
        nodes,
        groups: Vec::new(),
        job: None,
        note: format!("attack: {}; {}", record.plan, record.outcome.describe()),
    }
}

/// The framing owner. `Err` when the attack could not be set up.
async fn frame(
    ctx: &Context,
    by: &str,
    puppets: &[usize],
    victim: usize,
    pool: &str,
    record: &mut AttackRecord,
) -> Result<(), String> {
    let net = &ctx.net;
    let (ledger, client) = setup::account(&ctx.scenario, net, by).map_err(|e| e.to_string())?;
    let account = |n: usize| {
        net.accounts
            .get(n)
            .copied()
            .ok_or_else(|| format!("no node {n}"))
    };
    let victim_account = account(victim)?;
    let mut committee = Vec::with_capacity(puppets.len() + 1);
    for p in puppets {
        committee.push(account(*p)?);
    }
    committee.push(victim_account);
    let n = committee.len();
    let t = (n - 1) / 2;
    let placement = committee_for_pool(&ledger, pool, n)
        .await
        .map_err(|e| e.to_string())?
        .0
        .accounts()
        .into_iter()
        .map(Address::from)
        .collect::<Vec<_>>();
    if placement == committee {
        return Err(format!(
            "the placement rule happens to pick exactly this committee for pool {pool}: choose another pool"
        ));
    }
    record
        .facts
        .insert("owner".into(), format!("{:#x}", ledger.account()));
    record
        .facts
        .insert("victim".into(), format!("{victim_account:#x}"));
    let (peers, _) = dial(&ledger, &client, &committee).await?;
    let table = crate::generate::patients(BAIT_ROWS, ctx.scenario.seed ^ 0xba17)
        .map_err(|e| e.to_string())?;
    let encoded = setup::encode(&table)?;
    let schema = table.schema();
    let mut h = blake3::Hasher::new_derive_key("sharenet simulator framing owner v1");
    h.update(by.as_bytes());
    h.update(&ctx.scenario.seed.to_le_bytes());
    let origin = DatasetOrigin {
        owner: ledger.account().into_array(),
        salt: *h.finalize().as_bytes(),
    };
    let author = BatchAuthor {
        origin,
        signer: &ledger,
    };
    send_upload(&client, &peers, t, author, &encoded)
        .await
        .map_err(|e| format!("the upload to its committee failed: {e}"))?;
    record.steps.push(format!(
        "{by} dealt {BAIT_ROWS} rows of its own to its puppets {} and node {victim} (t = {t}); node {victim} verified and stored its shares",
        puppets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let refused_before = net
        .registrations_refused(victim)
        .await
        .map_err(|e| e.to_string())?;
    let epoch = ledger.epoch().await.map_err(|e| e.to_string())?;
    let (_, id) = ledger
        .register_dataset(&NewDataset {
            salt: B256::from(origin.salt),
            committee_epoch: epoch,
            pool_key: B256::from(*Key::for_pool(pool).as_bytes()),
            pool: pool.to_string(),
            schema_hash: B256::from(schema.hash()),
            manifest_hash: B256::repeat_byte(1),
            rows: encoded.rows as u64,
            committee: committee.clone(),
            threshold: t as u8,
        })
        .await
        .map_err(|e| chain_err("registering its committee", &e))?;
    record.facts.insert("dataset".into(), format!("{id:#x}"));
    record.steps.push(format!(
        "it registered the dataset {id:#x} with that committee; the placement rule's committee for pool {pool} is nodes {}",
        nodes_of(net, &placement)
    ));
    // The victim handles the registration at its next chain polls.
    let handled = net
        .wait_for_registration(victim, refused_before, id)
        .await
        .map_err(|e| e.to_string())?;
    record.check("the victim handled the registration", true, handled);
    let refused_now = net
        .registrations_refused(victim)
        .await
        .map_err(|e| e.to_string())?;
    record.check(
        "the victim refused the registration",
        true,
        refused_now > refused_before,
    );
    let acknowledged = ledger
        .has_acknowledged(id, victim_account)
        .await
        .map_err(|e| e.to_string())?;
    record.check(
        "the victim acknowledged the registration",
        false,
        acknowledged,
    );
    // The puppets acknowledge and sign a slash of the victim.
    for p in puppets {
        let puppet = super::network::ledger(&net.chain, p + 1).map_err(|e| e.to_string())?;
        // A puppet's own node software may have acknowledged already (it must not, but then
        // the attack goes on to the slash).
        if puppet
            .has_acknowledged(id, puppet.account())
            .await
            .map_err(|e| e.to_string())?
        {
            continue;
        }
        puppet
            .acknowledge_dataset(id, B256::ZERO)
            .await
            .map_err(|e| chain_err(&format!("puppet {p} acknowledging"), &e))?;
    }
    let stake = ledger
        .node_info(victim_account)
        .await
        .map_err(|e| e.to_string())?
        .stake;
    let ev = SlashEvidence {
        node: victim_account,
        amount: (stake / U256::from(10u64)).max(U256::from(1u64)),
        evidence: Bytes::from_static(b"made up by the framing owner"),
        dataset_id: id,
        reporter: ledger.account(),
        deadline: ledger.chain_time().await.map_err(|e| e.to_string())? + 3600,
    };
    let mut signatures = Vec::with_capacity(puppets.len());
    for p in puppets {
        signatures.push(
            super::network::ledger(&net.chain, p + 1)
                .map_err(|e| e.to_string())?
                .sign_slash(&ev)
                .await
                .map_err(|e| format!("puppet {p} signing: {e}"))?,
        );
    }
    record.steps.push(format!(
        "puppets {} acknowledged it and signed a slash of node {victim} ({} wei)",
        puppets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        ev.amount
    ));
    match ledger.slash(&ev, signatures).await {
        Ok(_) => {
            record.steps.push("the slash went through".into());
            record.outcome = AttackOutcome::Succeeded {
                what: format!("node {victim} was slashed by the puppets' signatures"),
            };
        }
        Err(e) => {
            let text = chain_err("the slash", &e);
            record.steps.push(text.clone());
            record.outcome = AttackOutcome::Refused {
                reason: format!("node {victim} never acknowledged the registration; {text}"),
            };
        }
    }
    let active = ledger.active_nodes().await.map_err(|e| e.to_string())?;
    record.check(
        "the victim is still active",
        true,
        active.contains(&victim_account),
    );
    let held = net.held(victim, id).await.map_err(|e| e.to_string())?;
    record.check(
        "the victim treats the dataset as registered",
        false,
        held == Some(UploadState::Registered),
    );
    Ok(())
}

/// [`upload_table`] as a boxed `Send` future: spawned tasks need the `Send` proof at a concrete
/// lifetime, which the compiler cannot find through the signer's `&dyn` reference otherwise.
fn send_upload<'a>(
    client: &'a Client,
    peers: &'a [PeerId],
    t: usize,
    author: BatchAuthor<'a>,
    encoded: &'a sharenet_node::table::EncodedTable,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Vec<Receipt>, sharenet_node::upload::uploader::UploadError>,
            > + Send
            + 'a,
    >,
> {
    Box::pin(upload_table(
        client, peers, t, author, "bait", encoded, BATCH_ROWS,
    ))
}

/// The stale requester. `Err` when the attack could not be set up.
async fn stale(
    ctx: &Context,
    by: &str,
    text: &str,
    then: StaleStep,
    record: &mut AttackRecord,
) -> Result<(), String> {
    let net = &ctx.net;
    let (ledger, client) = setup::account(&ctx.scenario, net, by).map_err(|e| e.to_string())?;
    let datasets: Vec<B256> = parse(text)
        .map_err(|e| e.to_string())?
        .from
        .iter()
        .filter_map(|name| ctx.setup.ids.get(&name.name).copied())
        .collect();
    let (_, query, committee) = prepare_query(&ledger, &client, text, &datasets)
        .await
        .map_err(|e| e.to_string())?;
    let me = ledger.account();
    let grant = find_grant(&ledger, me, &datasets, &query)
        .await
        .map_err(|e| e.to_string())?;
    let now = ledger.chain_time().await.map_err(|e| e.to_string())?;
    let deadline = now + STALE_DEADLINE_SECS;
    let (_, job) = ledger
        .submit_job(&NewJob {
            grant_id: grant,
            datasets: datasets.clone(),
            kind: query.kind.code(),
            program_hash: query.program_hash,
            program: text.to_string(),
            output_key: output_key(&client).map_err(|e| e.to_string())?,
            deadline,
            fee: U256::from(FEE),
        })
        .await
        .map_err(|e| chain_err("submitting its job", &e))?;
    record.facts.insert("job".into(), job.to_string());
    record.facts.insert("grant".into(), grant.to_string());
    let hello = JobRequest::Hello {
        job,
        program: text.to_string(),
    };
    let replies = ask(net, &client, &committee, &hello).await;
    let ready = replies
        .iter()
        .filter(|r| **r == Ok(JobReply::Ready))
        .count();
    if ready != committee.len() {
        return Err(format!(
            "only {ready} of {} members prepared its job: {}",
            committee.len(),
            replies_text(&replies)
        ));
    }
    record.steps.push(format!(
        "{by} submitted job {job} (deadline in {STALE_DEADLINE_SECS} s of chain time) and every member prepared it (Hello: {ready} of {} ready)",
        committee.len()
    ));
    match then {
        StaleStep::Refund => {
            // No job may be running while the clock jumps (their prepared slots would expire).
            let _alone = ctx.clock_jump.write().await;
            let chain_now = ledger.chain_time().await.map_err(|e| e.to_string())?;
            // The fee is refundable after the deadline and the window for revealing seals.
            let skip = deadline.saturating_sub(chain_now) + REVEAL_WINDOW_SECS + 1;
            ctx.clock
                .skip_chain(&net.chain, skip)
                .map_err(|e| e.to_string())?;
            ledger
                .claim_refund(job)
                .await
                .map_err(|e| chain_err("claiming the refund", &e))?;
            let status = ledger
                .job_info(job)
                .await
                .map_err(|e| e.to_string())?
                .status;
            record.check(
                "the job's status on chain",
                "Refunded",
                JobStatus::from_u8(status).map_or_else(|e| e.to_string(), |s| format!("{s:?}")),
            );
            record.steps.push(format!(
                "it waited out the deadline and the reveal window (the chain's clock moved {skip} s ahead) and took its fee back"
            ));
        }
        StaleStep::Revoke => {
            let info = ledger.grant_info(grant).await.map_err(|e| e.to_string())?;
            let granter = setup::account_of(&ctx.scenario, net, info.owner)
                .ok_or_else(|| format!("the granter {:#x} is no scenario account", info.owner))?;
            granter
                .revoke(grant)
                .await
                .map_err(|e| chain_err("revoking the grant", &e))?;
            let revoked = ledger
                .grant_info(grant)
                .await
                .map_err(|e| e.to_string())?
                .revoked;
            record.check("the grant is revoked on chain", true, revoked);
            record
                .steps
                .push(format!("the granter revoked grant {grant}"));
        }
    }
    let live: Vec<u16> = (0..committee.len() as u16).collect();
    let start = JobRequest::Start {
        job,
        attempt: 0,
        live: live.clone(),
        security: net.security,
    };
    let replies = ask(net, &client, &committee, &start).await;
    let refused = replies
        .iter()
        .filter(|r| matches!(r, Ok(JobReply::Refused(_))))
        .count();
    let accepted = replies
        .iter()
        .filter(|r| matches!(r, Ok(JobReply::Accepted)))
        .count();
    record
        .steps
        .push(format!("it sent Start: {}", replies_text(&replies)));
    let bytes: u64 = net
        .session_bytes(&[session_id(job, 0, &live)])
        .await
        .iter()
        .sum();
    record.check("bytes the members sent in the job's session", 0, bytes);
    if then == StaleStep::Refund {
        let again = ask(net, &client, &committee, &hello).await;
        let prepared = again.iter().filter(|r| **r == Ok(JobReply::Ready)).count();
        record.check("members preparing the refunded job again", 0, prepared);
    }
    record.outcome = if accepted > 0 {
        AttackOutcome::Succeeded {
            what: format!("{accepted} member(s) started the job"),
        }
    } else if refused == committee.len() {
        AttackOutcome::Refused {
            reason: format!("every member refused the start: {}", reasons(&replies)),
        }
    } else {
        AttackOutcome::NotCarriedOut {
            reason: format!("not every member answered: {}", replies_text(&replies)),
        }
    };
    Ok(())
}

/// Sends `request` to every member; their answers in committee order.
async fn ask(
    net: &SimNetwork,
    client: &Client,
    committee: &[PeerId],
    request: &JobRequest,
) -> Vec<Result<JobReply, String>> {
    let mut replies = Vec::with_capacity(committee.len());
    for peer in committee {
        let sent = tokio::time::timeout(
            net.message_timeout,
            client.request(Protocol::Job, *peer, request.encode()),
        )
        .await;
        replies.push(match sent {
            Ok(Ok(bytes)) => JobReply::decode(&bytes).map_err(|e| e.to_string()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", net.message_timeout)),
        });
    }
    replies
}

fn replies_text(replies: &[Result<JobReply, String>]) -> String {
    replies
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Ok(JobReply::Ready) => format!("member {i} ready"),
            Ok(JobReply::Accepted) => format!("member {i} ACCEPTED"),
            Ok(JobReply::Refused(why)) => format!("member {i} refused ({why})"),
            Ok(JobReply::Busy(why)) => format!("member {i} busy ({why})"),
            Err(e) => format!("member {i}: {e}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The members' distinct reasons for refusing.
fn reasons(replies: &[Result<JobReply, String>]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for r in replies {
        if let Ok(JobReply::Refused(why)) = r
            && !out.contains(&why.as_str())
        {
            out.push(why);
        }
    }
    out.join("; ")
}

/// Records of the attacks, by scenario index.
pub(super) type Records = BTreeMap<usize, AttackRecord>;
