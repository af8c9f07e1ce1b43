//! The scale run: build, measure, publish, churn, repair, measure again.

use std::collections::{HashMap, HashSet};

use libp2p::identity::Keypair;
use libp2p::kad::Record;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sharenet_dht::{
    Committee, DatasetManifest, Distance, Key, ManifestMember, NodeInfo, SignedRecord,
    select_committee,
};

use super::network::{Network, NodeId, SIM_NOW_UNIX};
use super::report::{
    CommitteeStats, LookupStats, NetworkStats, RecordProbe, RecordStage, ScaleReport, Summary,
};
use super::{ScaleConfig, ScaleError, rng_for};

/// Epoch of the active set before churn.
const EPOCH_SETTLED: u64 = 1;
/// Epoch of the active set after churn.
const EPOCH_CHURNED: u64 = 2;

/// A published manifest, as the run remembers it.
struct Published {
    key: Key,
    dataset_id: [u8; 32],
    record: Record,
    /// The committee members (party order), who re-put the manifest.
    members: Vec<NodeId>,
}

/// Runs the scale simulation described by `config` (validated first) and returns its figures.
///
/// Steps, all under `config.seed`: build the network (`config.nodes` joins, then
/// `config.refresh_rounds` periodic bootstraps); measure `config.lookups` random lookups; have
/// every node compute the committee of `config.pools` pools (epoch 1); publish
/// `config.records` signed manifests and look each up; churn (`churn_fraction × nodes` leave,
/// as many join); measure lookups, committees (epoch 2) and manifests again; run one
/// replication interval (after a periodic bootstrap) and measure the manifests; let the live
/// committee members re-put their manifests and measure a last time.
pub fn run(config: &ScaleConfig) -> Result<ScaleReport, ScaleError> {
    config.validate()?;
    let mut rng = rng_for(config.seed, "measure");
    let mut net = Network::build(config)?;
    let mut network = NetworkStats {
        nodes: config.nodes as u64,
        routing_table_size: table_sizes(&net, false),
        build_requests: net.maintenance_requests(),
        ..NetworkStats::default()
    };

    let lookups = measure_lookups(&net, config.lookups, &mut rng)?;
    let pools: Vec<String> = (0..config.pools).map(|i| format!("pool-{i}")).collect();
    let settled_set = net.active_set();
    let committees = measure_committees(&net, EPOCH_SETTLED, &settled_set, &pools, config, None)?;

    let before = net.maintenance_requests();
    let published = publish(&mut net, config, &pools, &mut rng)?;
    network.publish_requests = net.maintenance_requests() - before;
    // An hour passes before the churn: the holders' first replication run skips the records
    // they have just received, so that the run after churn starts from the settled state (the
    // holder whose timer fires first replicates) rather than from "everybody just got it".
    net.replicate();
    let mut records = vec![measure_records(&net, &published, "published", &mut rng)?];

    let (left, joined) = net.churn(config.churn_count())?;
    network.churn_left = left.len() as u64;
    network.churn_joined = joined.len() as u64;
    network.routing_table_size_after_churn = table_sizes(&net, false);
    network.dead_entries_after_churn = table_sizes(&net, true);
    let lookups_after_churn = measure_lookups(&net, config.lookups, &mut rng)?;
    // Churn is continuous but the chain's list changes at epochs: right after churn, the chain
    // still says epoch 1 while the DHT already routes around the departed and to the joiners.
    let committees_churn_same_epoch = measure_committees(
        &net,
        EPOCH_SETTLED,
        &settled_set,
        &pools,
        config,
        Some(&committees),
    )?;
    let committees_after_churn =
        measure_committees(&net, EPOCH_CHURNED, &net.active_set(), &pools, config, None)?;
    records.push(measure_records(
        &net,
        &published,
        "after churn, no repair",
        &mut rng,
    )?);

    net.refresh_all();
    network.replication = net.replicate();
    records.push(measure_records(
        &net,
        &published,
        "after one replication interval (1 h)",
        &mut rng,
    )?);

    let before = net.maintenance_requests();
    for p in &published {
        for &member in &p.members {
            if net.is_alive(member) {
                net.put_record(member, p.record.clone())?;
            }
        }
    }
    network.reput_requests = net.maintenance_requests() - before;
    records.push(measure_records(
        &net,
        &published,
        "after the committees' re-put (6 h)",
        &mut rng,
    )?);

    Ok(ScaleReport {
        config: config.clone(),
        network,
        lookups,
        lookups_after_churn,
        committees,
        committees_churn_same_epoch,
        committees_after_churn,
        records,
    })
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Routing-table entries per live node (`dead`: only those pointing at departed nodes).
fn table_sizes(net: &Network, dead: bool) -> Summary {
    let sizes: Vec<u32> = net
        .live_nodes()
        .into_iter()
        .map(|n| {
            to_u32(
                net.routing_table(n)
                    .into_iter()
                    .filter(|e| !dead || !net.is_alive(*e))
                    .count(),
            )
        })
        .collect();
    Summary::of(&sizes)
}

fn pick(live: &[NodeId], rng: &mut ChaCha8Rng) -> Result<NodeId, ScaleError> {
    if live.is_empty() {
        return Err(ScaleError::InvalidConfig {
            field: "nodes",
            reason: "no live node is left to run a lookup from".to_owned(),
        });
    }
    Ok(live[rng.random_range(0..live.len())])
}

/// `count` lookups of uniformly random positions from random live nodes.
fn measure_lookups(
    net: &Network,
    count: usize,
    rng: &mut ChaCha8Rng,
) -> Result<LookupStats, ScaleError> {
    let live = net.live_nodes();
    let mut hops = Vec::with_capacity(count);
    let mut requests = Vec::with_capacity(count);
    let mut failed = Vec::with_capacity(count);
    let mut exact = 0u64;
    for _ in 0..count {
        let from = pick(&live, rng)?;
        let target = Key::from_bytes(rng.random());
        let lookup = net.lookup(from, &target)?;
        let mut truth = net.true_closest(&target, Some(from));
        truth.truncate(net.k());
        if lookup.closest == truth {
            exact += 1;
        }
        hops.push(lookup.hops);
        requests.push(lookup.requests);
        failed.push(lookup.failed);
    }
    let mut histogram = vec![0u64; hops.iter().max().map_or(0, |m| *m as usize + 1)];
    for h in &hops {
        histogram[*h as usize] += 1;
    }
    Ok(LookupStats {
        lookups: count as u64,
        hops: Summary::of(&hops),
        requests: Summary::of(&requests),
        failed_requests: Summary::of(&failed),
        exact,
        exact_fraction: ratio(exact, count as u64),
        hop_counts: hops,
        hop_histogram: histogram,
    })
}

/// One pool's reference answers.
struct PoolRef {
    name: String,
    reference: Committee,
    /// The reference committee's members, sorted by node id.
    chain_set: Vec<NodeId>,
    /// The pool key's position in the DHT's key space.
    target: Key,
    /// The n live nodes closest to `target` (brute force), sorted by node id.
    true_set: Vec<NodeId>,
}

/// What one worker counted over its share of the observers.
#[derive(Default)]
struct CommitteeTally {
    checks: u64,
    chain_identical: u64,
    dht_equal_to_chain: u64,
    dht_equal_to_true_closest: u64,
    overlap: u64,
    dht_hops: Vec<u32>,
    /// Per pool, the distinct committees seen (at most 2 kept: one more than agreement).
    seen: Vec<HashSet<Vec<[u8; 32]>>>,
}

/// Every live node computes every pool's committee from the chain's active set of `epoch` (its
/// own shuffled copy) and from its own DHT lookup of the pool key. With `unchanged_chain`, the
/// chain's list is the one already checked there (same epoch, same list): its chain figures are
/// reused and only the DHT side is measured again. The observers are split over the available
/// cores; each observer's shuffle has its own random stream, so the figures do not depend on
/// the split.
fn measure_committees(
    net: &Network,
    epoch: u64,
    active: &[NodeInfo],
    pools: &[String],
    config: &ScaleConfig,
    unchanged_chain: Option<&CommitteeStats>,
) -> Result<CommitteeStats, ScaleError> {
    let n = config.committee_size;
    let live = net.live_nodes();
    // Every node ever registered: the chain's list may still hold nodes that have left.
    let node_of: HashMap<[u8; 32], NodeId> = net
        .all_nodes()
        .into_iter()
        .filter_map(|id| net.info(id).map(|i| (i.peer_key, id)))
        .collect();
    let mut refs = Vec::with_capacity(pools.len());
    for pool in pools {
        let reference = select_committee(epoch, active, pool, n)?;
        let mut chain_set: Vec<NodeId> = reference
            .peer_keys()
            .iter()
            .filter_map(|k| node_of.get(k).copied())
            .collect();
        chain_set.sort_unstable();
        let target = net.target_of(&Key::for_pool(pool));
        let mut true_set = net.true_closest(&target, None);
        true_set.truncate(n);
        true_set.sort_unstable();
        refs.push(PoolRef {
            name: pool.clone(),
            reference,
            chain_set,
            target,
            true_set,
        });
    }

    let workers = std::thread::available_parallelism()
        .map_or(1, |p| p.get())
        .clamp(1, 8);
    let chunk = live.len().div_ceil(workers).max(1);
    let tallies: Vec<Result<CommitteeTally, ScaleError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = live
            .chunks(chunk)
            .map(|observers| {
                let refs = &refs;
                let chain = unchanged_chain.is_none().then_some(active);
                scope.spawn(move || {
                    committee_tally(net, epoch, n, config.seed, observers, chain, refs)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ScaleError::Internal {
                        reason: "a committee worker thread panicked".to_owned(),
                    })
                })
            })
            .collect()
    });

    let mut stats = CommitteeStats {
        epoch,
        pools: pools.len() as u64,
        committee_size: n as u64,
        observers: live.len() as u64,
        ..CommitteeStats::default()
    };
    let mut overlap = 0u64;
    let mut dht_hops = Vec::with_capacity(live.len() * pools.len());
    let mut seen: Vec<HashSet<Vec<[u8; 32]>>> = vec![HashSet::new(); pools.len()];
    for tally in tallies {
        let t = tally?;
        stats.checks += t.checks;
        stats.chain_identical += t.chain_identical;
        stats.dht_equal_to_chain += t.dht_equal_to_chain;
        stats.dht_equal_to_true_closest += t.dht_equal_to_true_closest;
        overlap += t.overlap;
        dht_hops.extend(t.dht_hops);
        for (all, part) in seen.iter_mut().zip(t.seen) {
            all.extend(part);
        }
    }
    match unchanged_chain {
        Some(before) => {
            stats.chain_identical = before.chain_identical;
            stats.chain_agreement = before.chain_agreement;
            stats.chain_distinct_max = before.chain_distinct_max;
        }
        None => {
            stats.chain_agreement = ratio(stats.chain_identical, stats.checks);
            stats.chain_distinct_max = seen.iter().map(|s| s.len() as u64).max().unwrap_or(0);
        }
    }
    stats.dht_agreement = ratio(stats.dht_equal_to_chain, stats.checks);
    stats.dht_consistency = ratio(stats.dht_equal_to_true_closest, stats.checks);
    stats.dht_member_overlap = ratio(overlap, stats.checks * n as u64);
    stats.dht_hops = Summary::of(&dht_hops);
    Ok(stats)
}

/// The committee checks of some observers (see [`measure_committees`]); `chain` is the active
/// set to check `select_committee` over, if the chain side is measured.
fn committee_tally(
    net: &Network,
    epoch: u64,
    n: usize,
    seed: u64,
    observers: &[NodeId],
    chain: Option<&[NodeInfo]>,
    refs: &[PoolRef],
) -> Result<CommitteeTally, ScaleError> {
    let mut t = CommitteeTally {
        seen: vec![HashSet::new(); refs.len()],
        ..CommitteeTally::default()
    };
    let mut view = chain.map(<[NodeInfo]>::to_vec);
    for &observer in observers {
        if let Some(view) = view.as_mut() {
            // Each node holds its own copy of the chain's list; the order it reads it in must
            // not matter.
            let mut rng = rng_for(
                seed,
                &format!("committee view {epoch} {}", observer.index()),
            );
            view.shuffle(&mut rng);
        }
        let own = net.position(observer).unwrap_or(Key::from_bytes([0; 32]));
        for (r, seen) in refs.iter().zip(t.seen.iter_mut()) {
            t.checks += 1;
            if let Some(view) = view.as_ref() {
                let committee = select_committee(epoch, view, &r.name, n)?;
                if committee == r.reference {
                    t.chain_identical += 1;
                }
                if seen.len() < 2 {
                    seen.insert(committee.peer_keys());
                }
            }

            let lookup = net.lookup(observer, &r.target)?;
            t.dht_hops.push(lookup.hops);
            // A node counts itself among the closest: its lookup never returns it.
            let mut candidates: Vec<(Distance, NodeId)> = lookup
                .closest
                .iter()
                .filter_map(|id| net.position(*id).map(|p| (p.distance(&r.target), *id)))
                .collect();
            candidates.push((own.distance(&r.target), observer));
            candidates.sort_unstable();
            let mut dht_set: Vec<NodeId> = candidates.into_iter().take(n).map(|c| c.1).collect();
            dht_set.sort_unstable();
            if dht_set == r.chain_set {
                t.dht_equal_to_chain += 1;
            }
            if dht_set == r.true_set {
                t.dht_equal_to_true_closest += 1;
            }
            t.overlap += dht_set
                .iter()
                .filter(|m| r.chain_set.binary_search(m).is_ok())
                .count() as u64;
        }
    }
    Ok(t)
}

/// Makes, signs and publishes `config.records` manifests, round-robin over the pools; each is
/// put by party 0 of its pool's committee.
fn publish(
    net: &mut Network,
    config: &ScaleConfig,
    pools: &[String],
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Published>, ScaleError> {
    let n = config.committee_size;
    let active = net.active_set();
    let live = net.live_nodes();
    let node_of: HashMap<[u8; 32], NodeId> = live
        .iter()
        .filter_map(|id| net.info(*id).map(|i| (i.peer_key, *id)))
        .collect();
    let mut published = Vec::with_capacity(config.records);
    let record_error = |e: sharenet_dht::RecordError| ScaleError::Record {
        reason: e.to_string(),
    };
    for i in 0..config.records {
        let pool = &pools[i % pools.len()];
        let committee = select_committee(EPOCH_SETTLED, &active, pool, n)?;
        let members: Vec<NodeId> = committee
            .peer_keys()
            .iter()
            .filter_map(|k| node_of.get(k).copied())
            .collect();
        let columns: u32 = rng.random_range(1..50);
        // The schema is not interpreted here; it is there so that records have a realistic
        // size (a column list, as an owner declares it).
        let schema = format!(
            "{{\"columns\":[{}]}}",
            (0..columns)
                .map(|c| format!("{{\"name\":\"column_{c}\",\"type\":\"integer\"}}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let manifest = DatasetManifest {
            dataset_id: rng.random(),
            owner: rng.random(),
            pool: pool.clone(),
            name: format!("dataset-{i}"),
            schema_hash: *blake3::hash(schema.as_bytes()).as_bytes(),
            schema,
            min_cohort: 10,
            rows: rng.random_range(1..1_000_000),
            columns,
            threshold: u8::try_from(Committee::threshold_for(n)).unwrap_or(u8::MAX),
            committee_epoch: EPOCH_SETTLED,
            members: committee
                .peer_keys()
                .into_iter()
                .map(|peer_key| ManifestMember {
                    peer_key,
                    receipt_hash: rng.random(),
                })
                .collect(),
            version: 1,
            created_at: SIM_NOW_UNIX - 3600,
        };
        let mut secret: [u8; 32] = rng.random();
        let owner = Keypair::ed25519_from_bytes(&mut secret).map_err(|e| ScaleError::Identity {
            reason: e.to_string(),
        })?;
        let signed = SignedRecord::sign_manifest(&manifest, &owner).map_err(record_error)?;
        let record = signed.to_kad_record(None).map_err(record_error)?;
        let Some(&publisher) = members.first() else {
            return Err(ScaleError::Record {
                reason: format!("pool {pool} has no committee member to publish from"),
            });
        };
        net.put_record(publisher, record.clone())?;
        published.push(Published {
            key: manifest.record_key(),
            dataset_id: manifest.dataset_id,
            record,
            members,
        });
    }
    Ok(published)
}

/// Looks every published manifest up from a random live node, and counts its live holders.
fn measure_records(
    net: &Network,
    published: &[Published],
    stage: &str,
    rng: &mut ChaCha8Rng,
) -> Result<RecordStage, ScaleError> {
    let live = net.live_nodes();
    let mut probes = Vec::with_capacity(published.len());
    for p in published {
        let from = pick(&live, rng)?;
        let get = net.get(from, &p.key)?;
        let found = get
            .record
            .as_ref()
            .and_then(|v| v.manifest())
            .is_some_and(|m| m.dataset_id == p.dataset_id);
        probes.push(RecordProbe {
            from: to_u32(from.index()),
            found,
            live_holders: to_u32(net.holders(&p.key).len()),
            hops: get.hops,
            requests: get.requests,
        });
    }
    let records = probes.len() as u64;
    let found = probes.iter().filter(|p| p.found).count() as u64;
    let held = probes.iter().filter(|p| p.live_holders > 0).count() as u64;
    let holders: Vec<u32> = probes.iter().map(|p| p.live_holders).collect();
    let hops: Vec<u32> = probes.iter().map(|p| p.hops).collect();
    let requests: Vec<u32> = probes.iter().map(|p| p.requests).collect();
    Ok(RecordStage {
        stage: stage.to_owned(),
        records,
        found,
        found_fraction: ratio(found, records),
        held,
        held_fraction: ratio(held, records),
        live_holders: Summary::of(&holders),
        get_hops: Summary::of(&hops),
        get_requests: Summary::of(&requests),
        probes,
    })
}
