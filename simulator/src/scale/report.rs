//! The figures of a scale run, serialisable, with a Markdown rendering.
//!
//! The report holds no wall-clock time: it depends only on the configuration (seed included), so
//! two runs with the same configuration give equal reports. The caller times the run.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::network::Replication;
use super::{Bootstrap, KeySpace, LookupModel, ScaleConfig};

/// Order statistics of a sample of counts (hops, requests, holders). Percentiles are
/// nearest-rank: the median of 1, 2, 3, 4 is 2.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Sample size.
    pub count: u64,
    /// Smallest value (0 for an empty sample).
    pub min: u32,
    /// Median (nearest rank).
    pub median: u32,
    /// 95th percentile (nearest rank).
    pub p95: u32,
    /// Largest value.
    pub max: u32,
    /// Arithmetic mean (0 for an empty sample).
    pub mean: f64,
}

impl Summary {
    /// The summary of `values`.
    pub fn of(values: &[u32]) -> Summary {
        if values.is_empty() {
            return Summary::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let rank = |p: usize| sorted[(p * n).div_ceil(100).clamp(1, n) - 1];
        let sum: u64 = sorted.iter().map(|v| u64::from(*v)).sum();
        Summary {
            count: n as u64,
            min: sorted[0],
            median: rank(50),
            p95: rank(95),
            max: sorted[n - 1],
            mean: sum as f64 / n as f64,
        }
    }
}

/// Lookups of random keys from random live nodes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LookupStats {
    /// Lookups measured.
    pub lookups: u64,
    /// Hops per lookup (request/response times on the critical path).
    pub hops: Summary,
    /// Requests sent per lookup (each answered by one response unless it failed): the
    /// messages of a lookup are about twice this.
    pub requests: Summary,
    /// Requests per lookup to nodes that had left.
    pub failed_requests: Summary,
    /// Lookups that returned exactly the k live nodes closest to the key (brute force).
    pub exact: u64,
    /// `exact / lookups`.
    pub exact_fraction: f64,
    /// Hops of each lookup, in the order they ran (for a histogram).
    pub hop_counts: Vec<u32>,
    /// `hop_histogram[h]` = number of lookups that took `h` hops.
    pub hop_histogram: Vec<u64>,
}

/// Committee agreement at one epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitteeStats {
    /// The epoch of the chain's active set.
    pub epoch: u64,
    /// Pools.
    pub pools: u64,
    /// Committee size n.
    pub committee_size: u64,
    /// Nodes that computed every committee (all live nodes).
    pub observers: u64,
    /// `observers × pools`.
    pub checks: u64,
    /// Checks where `select_committee` over the node's copy of the chain's active set (in a
    /// node-specific order) gave the reference committee, members and party order.
    pub chain_identical: u64,
    /// `chain_identical / checks`: must be 1.
    pub chain_agreement: f64,
    /// Largest number of different committees computed for one pool (1 when all agree).
    pub chain_distinct_max: u64,
    /// Checks where the n closest nodes by the node's own DHT lookup of the pool key (itself
    /// included) are the chain's committee (as a set).
    pub dht_equal_to_chain: u64,
    /// `dht_equal_to_chain / checks`.
    pub dht_agreement: f64,
    /// Mean fraction of the chain committee's members among the DHT's n closest.
    pub dht_member_overlap: f64,
    /// Checks where the DHT's n closest are the true n closest live nodes *in the DHT's key
    /// space* (brute force): whether nodes agree among themselves through the DHT.
    pub dht_equal_to_true_closest: u64,
    /// `dht_equal_to_true_closest / checks`.
    pub dht_consistency: f64,
    /// Hops of the pool-key lookups.
    pub dht_hops: Summary,
}

/// One manifest looked up from one random live node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordProbe {
    /// The querying node.
    pub from: u32,
    /// A valid manifest came back.
    pub found: bool,
    /// Live nodes holding the record (brute force over every store).
    pub live_holders: u32,
    /// Hops of the `get_record`.
    pub hops: u32,
    /// Requests of the `get_record`.
    pub requests: u32,
}

/// Availability of the published manifests at one stage of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordStage {
    /// What happened before this measurement.
    pub stage: String,
    /// Manifests probed (all that were published).
    pub records: u64,
    /// Manifests a `get_record` from a random live node found.
    pub found: u64,
    /// `found / records`.
    pub found_fraction: f64,
    /// Manifests still held by at least one live node (brute force): the most a lookup can find.
    pub held: u64,
    /// `held / records`.
    pub held_fraction: f64,
    /// Live holders per manifest.
    pub live_holders: Summary,
    /// Hops per `get_record` (until the record arrived, or the lookup ended).
    pub get_hops: Summary,
    /// Requests per `get_record`.
    pub get_requests: Summary,
    /// One probe per manifest, in publication order.
    pub probes: Vec<RecordProbe>,
}

/// The network as built and as churned.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// Nodes that joined to build the network.
    pub nodes: u64,
    /// Routing-table entries per node in the settled network.
    pub routing_table_size: Summary,
    /// Requests sent to build and settle the network (joins and periodic bootstraps).
    pub build_requests: u64,
    /// Nodes that left in the churn step.
    pub churn_left: u64,
    /// Fresh nodes that joined in the churn step.
    pub churn_joined: u64,
    /// Routing-table entries per live node just after churn.
    pub routing_table_size_after_churn: Summary,
    /// Entries pointing at departed nodes, per live node, just after churn.
    pub dead_entries_after_churn: Summary,
    /// Requests of the publications (lookups and PUTs).
    pub publish_requests: u64,
    /// The replication interval after churn.
    pub replication: Replication,
    /// Requests of the committees' re-put.
    pub reput_requests: u64,
}

/// Everything a scale run measured (see [`super::run`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleReport {
    /// The configuration the run used.
    pub config: ScaleConfig,
    /// The network.
    pub network: NetworkStats,
    /// Random lookups in the settled network.
    pub lookups: LookupStats,
    /// Random lookups just after churn (departed nodes still in routing tables).
    pub lookups_after_churn: LookupStats,
    /// Committees at epoch 1 (the settled network).
    pub committees: CommitteeStats,
    /// Committees just after churn while the chain still lists epoch 1's active set (the
    /// chain's figures are those of `committees`: same list; the DHT side is measured again).
    pub committees_churn_same_epoch: CommitteeStats,
    /// Committees at epoch 2 (the active set after churn), just after churn.
    pub committees_after_churn: CommitteeStats,
    /// Manifest availability: after publication, after churn, after one replication interval,
    /// after the committees' re-put.
    pub records: Vec<RecordStage>,
}

fn pct(f: f64) -> String {
    format!("{:.1} %", f * 100.0)
}

fn key_space_name(k: KeySpace) -> &'static str {
    match k {
        KeySpace::Libp2p => "libp2p (sha256 of peer id / record key)",
        KeySpace::Sharenet => "sharenet (Key::for_node / the key itself)",
    }
}

fn lookup_model_name(m: LookupModel) -> &'static str {
    match m {
        LookupModel::Eager => "eager (libp2p: next request as soon as one answer arrives)",
        LookupModel::Rounds => "rounds (α requests, wait for all answers)",
    }
}

fn bootstrap_name(b: Bootstrap) -> &'static str {
    match b {
        Bootstrap::Kademlia => "Kademlia (one bootstrap node, self lookup, bucket refresh)",
        Bootstrap::ChainSeeded => "chain-seeded (every active node, then self lookup and refresh)",
    }
}

impl ScaleReport {
    /// Whether every node computed the same committees from the chain, at both epochs.
    pub fn chain_agreement_is_total(&self) -> bool {
        let total = |c: &CommitteeStats| c.chain_identical == c.checks && c.chain_distinct_max <= 1;
        total(&self.committees) && total(&self.committees_after_churn)
    }

    /// The report as a Markdown section (a `##` heading and tables).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(s, "## Scale mode: {} nodes, DHT only\n", c.nodes);
        let _ = writeln!(
            s,
            "k = {}, α = {}, seed {}, key space: {}, bootstrap: {}, lookups: {}, {} periodic \
             bootstrap round(s) before measuring. Every request takes one time unit; a hop is \
             one request/response time on a lookup's critical path. Every request is answered \
             by one response unless its peer has left.\n",
            c.k,
            c.alpha,
            c.seed,
            key_space_name(c.key_space),
            bootstrap_name(c.bootstrap),
            lookup_model_name(c.lookup_model),
            c.refresh_rounds
        );

        let _ = writeln!(s, "### Lookups\n");
        let _ = writeln!(
            s,
            "| network | lookups | hops median | hops p95 | hops worst | hops mean | requests median | requests mean | requests worst | failed requests mean | exact k closest |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
        for (name, l) in [
            ("settled", &self.lookups),
            ("after churn", &self.lookups_after_churn),
        ] {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} | {} | {:.2} | {} | {:.1} | {} | {:.2} | {} |",
                l.lookups,
                l.hops.median,
                l.hops.p95,
                l.hops.max,
                l.hops.mean,
                l.requests.median,
                l.requests.mean,
                l.requests.max,
                l.failed_requests.mean,
                pct(l.exact_fraction)
            );
        }
        let _ = writeln!(s, "\nHop histogram (settled network):\n");
        let _ = writeln!(s, "| hops | lookups |");
        let _ = writeln!(s, "|---|---|");
        for (h, n) in self.lookups.hop_histogram.iter().enumerate() {
            if *n > 0 {
                let _ = writeln!(s, "| {h} | {n} |");
            }
        }

        let _ = writeln!(s, "\n### Committee agreement\n");
        let _ = writeln!(
            s,
            "Every live node computes the committee (n = {}) of each of {} pools. *Chain*: \
             `select_committee` over its copy of the chain's active set (shuffled per node). \
             *DHT*: the n closest nodes its own lookup of the pool key returns (itself \
             included). The middle row is the moment right after churn when the chain still \
             lists epoch 1's active set: everybody still agrees on the chain's committee, the \
             DHT already sees another network.\n",
            c.committee_size, c.pools
        );
        let _ = writeln!(
            s,
            "| epoch | checks | chain: identical | DHT = chain committee | DHT members in chain committee | DHT = true n closest in DHT space | DHT hops median / worst |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for (name, k) in [
            ("1, settled", &self.committees),
            (
                "1, after churn (chain not yet updated)",
                &self.committees_churn_same_epoch,
            ),
            ("2, after churn", &self.committees_after_churn),
        ] {
            let _ = writeln!(
                s,
                "| {name} | {} | {} ({}) | {} | {} | {} | {} / {} |",
                k.checks,
                pct(k.chain_agreement),
                k.chain_identical,
                pct(k.dht_agreement),
                pct(k.dht_member_overlap),
                pct(k.dht_consistency),
                k.dht_hops.median,
                k.dht_hops.max
            );
        }

        let n = &self.network;
        let _ = writeln!(s, "\n### Records under churn\n");
        let _ = writeln!(
            s,
            "{} manifests published (each by its committee's party 0, stored at the k closest \
             nodes); then {} nodes left and {} fresh nodes joined. Each manifest is then looked \
             up from a random live node; *held* counts manifests still stored on some live node.\n",
            c.records, n.churn_left, n.churn_joined
        );
        let _ = writeln!(
            s,
            "| stage | found | held | live holders median (min) | get hops median / worst |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in &self.records {
            let _ = writeln!(
                s,
                "| {} | {} ({}/{}) | {} | {} ({}) | {} / {} |",
                r.stage,
                pct(r.found_fraction),
                r.found,
                r.records,
                pct(r.held_fraction),
                r.live_holders.median,
                r.live_holders.min,
                r.get_hops.median,
                r.get_hops.max
            );
        }
        let _ = writeln!(
            s,
            "\nTraffic: building the network {} requests (routing table median {} entries); \
             publishing {} requests; the replication interval re-put {} records ({} skipped as \
             just received) with {} requests; the committees' re-put {} requests. Just after \
             churn a live node's routing table held {:.1} entries to departed nodes on average \
             (joiners hold none: a node adds a peer only once it has answered).",
            n.build_requests,
            n.routing_table_size.median,
            n.publish_requests,
            n.replication.records_replicated,
            n.replication.records_skipped,
            n.replication.requests,
            n.reput_requests,
            n.dead_entries_after_churn.mean
        );
        s
    }
}
