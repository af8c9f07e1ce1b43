//! Collection of abandoned uploads: a dataset that is not registered on chain
//! [`ABANDONED_UPLOAD_AFTER`] after its first verified batch is deleted. Without it, an owner
//! that stops halfway (or never registers) leaves shares on every member for good. The time is
//! counted from the first batch, not the last, so that batches sent now and then cannot keep an
//! unregistered dataset alive.
//!
//! The clock is the node's own, kept in memory: the first verified batch of each dataset this
//! run, and, for datasets found on disk at start, the start. A restart therefore only postpones
//! a collection, never hastens one. Before deleting, the collector asks the chain: a dataset
//! registered there is kept even if this node has not seen the registration yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::primitives::{Address, B256};
use sharenet_chain_adapter::Ledger;
use tokio::time::Instant;

use crate::store::{DatasetId, ShareStore, StoreError, UploadState};

/// How long an unregistered upload may stay idle before it is collected.
pub const ABANDONED_UPLOAD_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How often the node looks for abandoned uploads.
pub const COLLECT_EVERY: Duration = Duration::from_secs(10 * 60);

/// When each dataset took its first verified batch (shared by the intake and the collector).
#[derive(Debug, Clone)]
pub struct UploadActivity {
    started: Instant,
    first: Arc<Mutex<HashMap<DatasetId, Instant>>>,
}

impl Default for UploadActivity {
    fn default() -> Self {
        UploadActivity {
            started: Instant::now(),
            first: Arc::default(),
        }
    }
}

impl UploadActivity {
    /// Records a verified batch of `dataset` now (only the first one counts).
    pub fn touch(&self, dataset: DatasetId) {
        if let Ok(mut first) = self.first.lock() {
            first.entry(dataset).or_insert_with(Instant::now);
        }
    }

    /// Since when `dataset` is known here: its first batch this run, or the start.
    fn known_since(&self, dataset: &DatasetId) -> Instant {
        self.first
            .lock()
            .ok()
            .and_then(|first| first.get(dataset).copied())
            .unwrap_or(self.started)
    }

    fn forget(&self, dataset: &DatasetId) {
        if let Ok(mut first) = self.first.lock() {
            first.remove(dataset);
        }
    }
}

/// The datasets that are still `Receiving`, were never registered here, and have been known
/// for `after` at `now`: the candidates for collection. Registered datasets (an append in
/// progress) are never candidates: their shares are on the chain's record.
pub fn abandoned(
    store: &ShareStore,
    activity: &UploadActivity,
    now: Instant,
    after: Duration,
) -> Result<Vec<DatasetId>, StoreError> {
    let mut out = Vec::new();
    for summary in store.datasets()? {
        let id = summary.id;
        if summary.state != UploadState::Receiving || store.was_registered(&id)? {
            continue;
        }
        if now.saturating_duration_since(activity.known_since(&id)) >= after {
            out.push(id);
        }
    }
    Ok(out)
}

/// Deletes `dataset` if it is still a candidate (not registered here meanwhile).
pub fn collect(
    store: &ShareStore,
    activity: &UploadActivity,
    dataset: &DatasetId,
) -> Result<bool, StoreError> {
    let still = store
        .dataset(dataset)?
        .is_some_and(|s| s.state == UploadState::Receiving)
        && !store.was_registered(dataset)?;
    if still && store.delete_dataset(dataset)? {
        activity.forget(dataset);
        return Ok(true);
    }
    Ok(false)
}

/// Every [`COLLECT_EVERY`], deletes the [`abandoned`] datasets that the chain does not know
/// either (while the chain cannot be asked, nothing is deleted), until the task is dropped.
pub async fn run_collector<L: Ledger>(store: ShareStore, activity: UploadActivity, ledger: L) {
    let mut tick = tokio::time::interval(COLLECT_EVERY);
    loop {
        tick.tick().await;
        let (s, a) = (store.clone(), activity.clone());
        let listed = tokio::task::spawn_blocking(move || {
            abandoned(&s, &a, Instant::now(), ABANDONED_UPLOAD_AFTER)
        })
        .await;
        let candidates = match listed {
            Ok(Ok(ids)) => ids,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not list abandoned uploads");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "abandoned-upload collector task failed");
                continue;
            }
        };
        for id in candidates {
            match ledger.dataset_info(B256::from(id.0)).await {
                Ok(info) if info.owner == Address::ZERO => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(dataset = %id, error = %e, "chain unreachable; not collecting");
                    continue;
                }
            }
            let (s, a) = (store.clone(), activity.clone());
            match tokio::task::spawn_blocking(move || collect(&s, &a, &id)).await {
                Ok(Ok(true)) => tracing::info!(dataset = %id, "abandoned upload collected"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(dataset = %id, error = %e, "could not collect"),
                Err(e) => tracing::warn!(error = %e, "abandoned-upload collector task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use sharenet_mpc::field::{Field, Mp127};

    use super::*;
    use crate::store::{AtRestKey, DatasetInfo};

    fn info() -> DatasetInfo {
        DatasetInfo {
            name: "clinic".into(),
            columns: 1,
            party: 1,
        }
    }

    #[test]
    fn only_unregistered_uploads_older_than_the_limit_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            ShareStore::open(dir.path().join("db"), AtRestKey::generate().unwrap()).unwrap();
        let activity = UploadActivity::default();
        let (idle, busy, registered) = (DatasetId([1; 32]), DatasetId([2; 32]), DatasetId([3; 32]));
        for id in [&idle, &busy, &registered] {
            store.create_dataset(id, &info()).unwrap();
            store
                .put_batch(id, 0, 0, &[vec![Mp127::from_u64(5)]])
                .unwrap();
        }
        store.set_state(&registered, UploadState::Verified).unwrap();
        store
            .set_state(&registered, UploadState::Registered)
            .unwrap();
        store.set_registered_once(&registered).unwrap();
        // An append reopens the registered one: Receiving again, but on chain's record.
        store
            .set_state(&registered, UploadState::Receiving)
            .unwrap();

        let start = Instant::now();
        let later = start + ABANDONED_UPLOAD_AFTER / 2;
        // `busy` was first seen half-way through (`idle` is known since the start); further
        // batches do not move that time.
        activity.first.lock().unwrap().insert(busy, later);
        activity.touch(busy);
        let after = ABANDONED_UPLOAD_AFTER;
        let just_short = start + after - Duration::from_secs(1);
        assert!(
            abandoned(&store, &activity, just_short, after)
                .unwrap()
                .is_empty()
        );
        let past = start + after + Duration::from_secs(1);
        assert_eq!(
            abandoned(&store, &activity, past, after).unwrap(),
            vec![idle]
        );
        assert!(collect(&store, &activity, &idle).unwrap());
        assert!(!collect(&store, &activity, &idle).unwrap(), "gone already");
        assert!(store.dataset(&idle).unwrap().is_none());
        assert!(store.dataset(&busy).unwrap().is_some());
        assert!(store.dataset(&registered).unwrap().is_some());
        let much_later = later + after + Duration::from_secs(1);
        assert_eq!(
            abandoned(&store, &activity, much_later, after).unwrap(),
            vec![busy]
        );
        // Registered here since the listing: not collected.
        store.set_registered_once(&busy).unwrap();
        assert!(!collect(&store, &activity, &busy).unwrap());
        assert!(store.dataset(&busy).unwrap().is_some());
        assert!(
            store.dataset(&registered).unwrap().is_some(),
            "never a registered dataset"
        );
    }
}
