//! Scale mode at a small size (200 nodes), checked against independent recomputations: brute
//! force sorts by XOR distance, scans of every node's store, the committee rule recomputed from
//! the chain's list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libp2p::identity::Keypair;
use libp2p::kad::{KBucketKey, Record};
use sharenet_dht::{
    Committee, DatasetManifest, Distance, Key, ManifestMember, SignedRecord, select_committee,
};
use sharenet_simulator::scale::{
    self, Bootstrap, KeySpace, LookupModel, Network, NodeId, SIM_NOW_UNIX, ScaleConfig, ScaleError,
};

fn small(key_space: KeySpace) -> ScaleConfig {
    ScaleConfig {
        nodes: 200,
        lookups: 200,
        pools: 8,
        records: 60,
        key_space,
        seed: 7,
        ..ScaleConfig::default()
    }
}

/// The live nodes other than `exclude`, sorted by XOR distance of their position to `target`.
fn brute_force_closest(net: &Network, target: &Key, exclude: Option<NodeId>) -> Vec<NodeId> {
    let mut all: Vec<(Distance, NodeId)> = net
        .live_nodes()
        .into_iter()
        .filter(|n| Some(*n) != exclude)
        .map(|n| (net.position(n).unwrap().distance(target), n))
        .collect();
    all.sort();
    all.into_iter().map(|(_, n)| n).collect()
}

fn target(i: u32) -> Key {
    Key::from_bytes(*blake3::hash(&i.to_le_bytes()).as_bytes())
}

/// ceil(log2(n)).
fn log2_ceil(n: usize) -> u32 {
    usize::BITS - (n - 1).leading_zeros()
}

#[test]
fn positions_are_the_key_space_rule() {
    for key_space in [KeySpace::Libp2p, KeySpace::Sharenet] {
        let net = Network::build(&ScaleConfig {
            nodes: 30,
            ..small(key_space)
        })
        .unwrap();
        for n in net.live_nodes() {
            let info = net.info(n).unwrap();
            let expected = match key_space {
                KeySpace::Sharenet => Key::for_node(&info.peer_key),
                _ => {
                    let peer = sharenet_dht::record::peer_id_of(&info.peer_key).unwrap();
                    assert_eq!(net.peer_id(n), Some(peer));
                    let h = KBucketKey::from(peer);
                    Key::from_bytes(h.hashed_bytes().try_into().unwrap())
                }
            };
            assert_eq!(net.position(n), Some(expected));
        }
        let k = Key::for_pool("p");
        let expected = match key_space {
            KeySpace::Sharenet => k,
            _ => Key::from_bytes(
                KBucketKey::from(k.to_record_key())
                    .hashed_bytes()
                    .try_into()
                    .unwrap(),
            ),
        };
        assert_eq!(net.target_of(&k), expected);
    }
}

#[test]
fn routing_tables_are_k_buckets() {
    let config = small(KeySpace::Libp2p);
    let net = Network::build(&config).unwrap();
    for n in net.live_nodes() {
        let own = net.position(n).unwrap();
        let table = net.routing_table(n);
        assert!(!table.contains(&n), "a node is not in its own table");
        let mut per_bucket = [0usize; 256];
        for e in &table {
            let b = own
                .distance(&net.position(*e).unwrap())
                .bucket_index()
                .unwrap();
            per_bucket[usize::from(b)] += 1;
        }
        assert!(per_bucket.iter().all(|c| *c <= config.k), "bucket over k");
        // Every node knows its closest neighbours: the join and refresh lookups found them.
        let closest = brute_force_closest(&net, &own, Some(n));
        assert!(
            table.contains(&closest[0]),
            "node {n:?} misses its closest neighbour"
        );
    }
}

#[test]
fn lookups_return_exactly_the_true_k_closest_in_a_settled_network() {
    for (key_space, bootstrap, lookup_model) in [
        (KeySpace::Libp2p, Bootstrap::Kademlia, LookupModel::Eager),
        (KeySpace::Sharenet, Bootstrap::Kademlia, LookupModel::Eager),
        (KeySpace::Libp2p, Bootstrap::ChainSeeded, LookupModel::Eager),
        (KeySpace::Libp2p, Bootstrap::Kademlia, LookupModel::Rounds),
    ] {
        let config = ScaleConfig {
            bootstrap,
            lookup_model,
            ..small(key_space)
        };
        let net = Network::build(&config).unwrap();
        let live = net.live_nodes();
        let bound = log2_ceil(config.nodes) + 2;
        for i in 0..150u32 {
            let from = live[(i as usize * 37) % live.len()];
            let t = target(i);
            let lookup = net.lookup(from, &t).unwrap();
            let mut truth = brute_force_closest(&net, &t, Some(from));
            truth.truncate(config.k);
            assert_eq!(lookup.closest, truth, "lookup {i} from {from:?}");
            assert!(
                lookup.hops >= 1 && lookup.hops <= bound,
                "{} hops",
                lookup.hops
            );
            assert_eq!(lookup.failed, 0);
            // At least the k it returns were asked, at most everybody once.
            assert!(lookup.requests as usize >= config.k);
            assert!((lookup.requests as usize) < config.nodes);
        }
    }
}

#[test]
fn waiting_for_whole_rounds_sends_fewer_requests_in_more_hops() {
    let mean = |lookup_model| {
        let report = scale::run(&ScaleConfig {
            lookup_model,
            pools: 1,
            records: 0,
            ..small(KeySpace::Libp2p)
        })
        .unwrap();
        assert_eq!(report.lookups.exact, 200);
        (report.lookups.requests.mean, report.lookups.hops.mean)
    };
    let (eager_requests, eager_hops) = mean(LookupModel::Eager);
    let (round_requests, round_hops) = mean(LookupModel::Rounds);
    assert!(
        round_requests < eager_requests,
        "{round_requests} vs {eager_requests}"
    );
    assert!(round_hops >= eager_hops, "{round_hops} vs {eager_hops}");
}

#[test]
fn measuring_changes_nothing_and_departed_nodes_cannot_query() {
    let config = small(KeySpace::Libp2p);
    let mut net = Network::build(&config).unwrap();
    let tables: Vec<_> = net
        .live_nodes()
        .into_iter()
        .map(|n| net.routing_table(n))
        .collect();
    for i in 0..20 {
        net.lookup(net.live_nodes()[i], &target(i as u32)).unwrap();
    }
    let after: Vec<_> = net
        .live_nodes()
        .into_iter()
        .map(|n| net.routing_table(n))
        .collect();
    assert_eq!(tables, after);
    let gone = net.live_nodes()[3];
    net.leave(gone);
    assert!(matches!(
        net.lookup(gone, &target(1)),
        Err(ScaleError::NotLive { .. })
    ));
}

/// A signed manifest for a pool's committee (as the run makes them, built here from the dht
/// crate's API directly).
fn manifest_record(net: &Network, i: u32) -> (Key, [u8; 32], Record, NodeId) {
    let active = net.active_set();
    let pool = format!("pool-{}", i % 5);
    let committee = select_committee(1, &active, &pool, 5).unwrap();
    let dataset_id = *blake3::hash(&[b'd', i as u8, (i >> 8) as u8]).as_bytes();
    let manifest = DatasetManifest {
        dataset_id,
        owner: [7; 20],
        pool,
        name: format!("dataset {i}"),
        schema_hash: *blake3::hash(b"{}").as_bytes(),
        schema: "{}".to_owned(),
        min_cohort: 5,
        rows: 10,
        columns: 2,
        threshold: Committee::threshold_for(5) as u8,
        committee_epoch: 1,
        members: committee
            .peer_keys()
            .into_iter()
            .map(|peer_key| ManifestMember {
                peer_key,
                receipt_hash: [2; 32],
            })
            .collect(),
        version: 1,
        created_at: SIM_NOW_UNIX - 10,
    };
    let owner = Keypair::ed25519_from_bytes([i as u8 + 1; 32]).unwrap();
    let record = SignedRecord::sign_manifest(&manifest, &owner)
        .unwrap()
        .to_kad_record(None)
        .unwrap();
    let party0 = net
        .live_nodes()
        .into_iter()
        .find(|n| net.info(*n).unwrap().peer_key == committee.peer_keys()[0])
        .unwrap();
    (manifest.record_key(), dataset_id, record, party0)
}

#[test]
fn records_live_at_the_k_closest_and_availability_matches_a_brute_force_recount() {
    let config = small(KeySpace::Libp2p);
    let mut net = Network::build(&config).unwrap();
    let mut records = Vec::new();
    for i in 0..40 {
        let (key, id, record, publisher) = manifest_record(&net, i);
        let put = net.put_record(publisher, record.clone()).unwrap();
        // Stored at exactly the k closest other nodes, plus the publisher's own copy.
        let mut truth = brute_force_closest(&net, &net.target_of(&key), Some(publisher));
        truth.truncate(config.k);
        assert_eq!(put.stored_at, truth);
        assert_eq!(put.refused, 0);
        let mut holders = net.holders(&key);
        holders.sort();
        let mut expected = truth.clone();
        expected.push(publisher);
        expected.sort();
        assert_eq!(holders, expected);
        records.push((key, id, record));
    }
    // Without churn every record is found from every node tried.
    for (j, (key, id, _)) in records.iter().enumerate() {
        let from = net.live_nodes()[(j * 13) % config.nodes];
        let got = net.get(from, key).unwrap();
        assert_eq!(got.record.unwrap().manifest().unwrap().dataset_id, *id);
    }

    // A record forged under another record's key is refused by the publisher's own store
    // (which validates it like any other), so it goes nowhere.
    let (key0, _, record0) = &records[0];
    let mut forged = records[1].2.clone();
    forged.key = record0.key.clone();
    let publisher = net.live_nodes()[0];
    assert!(net.put_record(publisher, forged).is_err());
    assert!(net.holders(key0).len() > config.k);

    // The hour after publication: every holder has just received each record by a PUT, so
    // libp2p's replication job skips them all.
    let quiet = net.replicate();
    assert_eq!(quiet.records_replicated, 0);
    assert_eq!(quiet.records_skipped, 40 * config.k as u64);

    let (left, joined) = net.churn(80).unwrap();
    assert_eq!((left.len(), joined.len()), (80, 80));
    assert_eq!(net.live_count(), config.nodes);
    let mut found = 0;
    let mut held = 0;
    for (j, (key, id, _)) in records.iter().enumerate() {
        // Brute force: scan every live node's store.
        let live_holders: Vec<NodeId> = net
            .live_nodes()
            .into_iter()
            .filter(|n| net.holds(*n, key))
            .collect();
        assert!(live_holders.iter().all(|h| !left.contains(h)));
        let from = net.live_nodes()[(j * 29) % config.nodes];
        let got = net.get(from, key).unwrap();
        if let Some(valid) = &got.record {
            assert_eq!(valid.manifest().unwrap().dataset_id, *id);
            assert!(live_holders.contains(&got.from.unwrap()));
            found += 1;
        }
        if !live_holders.is_empty() {
            held += 1;
        }
        // A record held by one of the k closest live nodes is always found.
        let mut closest = brute_force_closest(&net, &net.target_of(key), None);
        closest.truncate(config.k);
        if closest.iter().any(|c| live_holders.contains(c)) {
            assert!(
                got.record.is_some(),
                "record {j} held near its key but not found"
            );
        }
    }
    assert!(found <= held);
    assert_eq!(held, records.len(), "40 % churn cannot remove 21 copies");

    // One replication interval: the k closest live nodes hold every record again.
    net.refresh_all();
    let rep = net.replicate();
    assert!(rep.records_replicated > 0 && rep.puts_accepted > 0);
    for (key, _, _) in &records {
        let mut closest = brute_force_closest(&net, &net.target_of(key), None);
        closest.truncate(config.k);
        let missing = closest.iter().filter(|c| !net.holds(**c, key)).count();
        assert!(missing <= 1, "{missing} of the k closest lack the record");
    }
}

#[test]
fn committee_agreement_is_total_and_the_dht_view_is_measured() {
    for key_space in [KeySpace::Libp2p, KeySpace::Sharenet] {
        let report = scale::run(&small(key_space)).unwrap();
        // Right after churn, the chain (epoch 1) and the DHT (churned) disagree on who is
        // closest even when the DHT routes on sharenet keys: that is why the chain decides.
        let stale = &report.committees_churn_same_epoch;
        assert_eq!(stale.epoch, 1);
        assert_eq!(stale.chain_identical, report.committees.chain_identical);
        assert!(stale.dht_agreement < 0.9, "{}", stale.dht_agreement);
        assert!(stale.dht_consistency > 0.9, "{}", stale.dht_consistency);
        for c in [&report.committees, &report.committees_after_churn] {
            assert_eq!(c.observers, 200);
            assert_eq!(c.checks, 200 * 8);
            assert_eq!(c.chain_identical, c.checks);
            assert_eq!(c.chain_agreement, 1.0);
            assert_eq!(c.chain_distinct_max, 1);
            assert!(c.dht_consistency > 0.9, "{}", c.dht_consistency);
            match key_space {
                // Routing on sharenet keys, the n closest *are* the committee.
                KeySpace::Sharenet => {
                    assert_eq!(c.dht_equal_to_chain, c.dht_equal_to_true_closest)
                }
                // sha256 positions have nothing to do with the committee rule.
                _ => assert!(c.dht_agreement < 0.05),
            }
        }
        assert!(report.chain_agreement_is_total());
    }
}

#[test]
fn the_report_adds_up() {
    let config = small(KeySpace::Libp2p);
    let report = scale::run(&config).unwrap();
    for l in [&report.lookups, &report.lookups_after_churn] {
        assert_eq!(l.lookups, 200);
        assert_eq!(l.hop_counts.len(), 200);
        assert_eq!(l.hop_histogram.iter().sum::<u64>(), 200);
        for (h, n) in l.hop_histogram.iter().enumerate() {
            assert_eq!(
                *n,
                l.hop_counts.iter().filter(|c| **c as usize == h).count() as u64
            );
        }
        let mut sorted = l.hop_counts.clone();
        sorted.sort();
        assert_eq!(l.hops.median, sorted[99]);
        assert_eq!(l.hops.p95, sorted[189]);
        assert_eq!(l.hops.max, sorted[199]);
        assert!(l.hops.max <= log2_ceil(config.nodes) + 2);
    }
    assert_eq!(report.lookups.exact, 200);
    assert_eq!(report.lookups.failed_requests.max, 0);
    assert!(report.lookups_after_churn.failed_requests.max > 0);

    assert_eq!(report.network.churn_left, 40);
    assert_eq!(report.network.churn_joined, 40);
    assert_eq!(report.records.len(), 4);
    for stage in &report.records {
        assert_eq!(stage.records, 60);
        assert_eq!(stage.probes.len(), 60);
        // Recount from the raw probes.
        let found = stage.probes.iter().filter(|p| p.found).count() as u64;
        let held = stage.probes.iter().filter(|p| p.live_holders > 0).count() as u64;
        assert_eq!(stage.found, found);
        assert_eq!(stage.held, held);
        assert_eq!(stage.found_fraction, found as f64 / 60.0);
        assert!(stage.probes.iter().all(|p| !p.found || p.live_holders > 0));
    }
    // Published at the k closest plus the publisher.
    assert_eq!(report.records[0].live_holders.min, config.k as u32 + 1);
    assert_eq!(report.records[0].found, 60);
    assert!(report.records[1].live_holders.median < report.records[0].live_holders.median);
    assert!(report.records[2].live_holders.min >= report.records[1].live_holders.min);

    let md = report.to_markdown();
    assert!(md.starts_with("## Scale mode: 200 nodes"));
    assert!(md.contains("| settled | 200 |"));
    let json = serde_json::to_string(&report).unwrap();
    let back: scale::ScaleReport = serde_json::from_str(&json).unwrap();
    assert!(back == report, "the report survives JSON");
}

#[test]
fn without_churn_every_record_is_found() {
    let report = scale::run(&ScaleConfig {
        churn_fraction: 0.0,
        lookups: 20,
        ..small(KeySpace::Sharenet)
    })
    .unwrap();
    assert_eq!(report.network.churn_left, 0);
    for stage in &report.records {
        assert_eq!(stage.found, stage.records, "{}", stage.stage);
    }
    assert_eq!(report.lookups_after_churn.exact, 20);
}

#[test]
fn same_seed_same_report() {
    let config = ScaleConfig {
        nodes: 120,
        lookups: 50,
        pools: 3,
        records: 20,
        ..ScaleConfig::default()
    };
    let a = scale::run(&config).unwrap();
    let b = scale::run(&config).unwrap();
    assert!(a == b, "same seed, different reports");
    let c = scale::run(&ScaleConfig { seed: 2, ..config }).unwrap();
    assert_ne!(a.lookups.hop_counts, c.lookups.hop_counts);
}

#[test]
fn bad_configurations_are_refused_by_field() {
    let field = |c: ScaleConfig| match scale::run(&c) {
        Err(ScaleError::InvalidConfig { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    };
    let d = ScaleConfig::default;
    assert!(d().validate().is_ok());
    assert_eq!(field(ScaleConfig { nodes: 19, ..d() }), "nodes");
    assert_eq!(field(ScaleConfig { k: 0, ..d() }), "k");
    assert_eq!(field(ScaleConfig { alpha: 0, ..d() }), "alpha");
    assert_eq!(field(ScaleConfig { alpha: 21, ..d() }), "alpha");
    assert_eq!(
        field(ScaleConfig {
            committee_size: 2,
            ..d()
        }),
        "committee_size"
    );
    for churn_fraction in [1.0, -0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(
            field(ScaleConfig {
                churn_fraction,
                ..d()
            }),
            "churn_fraction"
        );
    }
    assert_eq!(field(ScaleConfig { pools: 0, ..d() }), "pools");
    assert_eq!(
        field(ScaleConfig {
            nodes: 10_000_000,
            ..d()
        }),
        "nodes"
    );
    let e = scale::run(&ScaleConfig { nodes: 3, ..d() }).unwrap_err();
    assert!(e.to_string().contains("`nodes` is 3"), "{e}");
    // Unknown fields in a scenario are refused, missing ones take the defaults.
    assert!(serde_json::from_str::<ScaleConfig>(r#"{"nodez": 5}"#).is_err());
    let c: ScaleConfig =
        serde_json::from_str(r#"{"nodes": 300, "key_space": "sharenet"}"#).unwrap();
    assert_eq!((c.nodes, c.key_space, c.k), (300, KeySpace::Sharenet, 20));
}
