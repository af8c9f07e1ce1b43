//! Collection of abandoned uploads: a dataset that was never registered on chain and has taken
//! no verified batch for [`ABANDONED_UPLOAD_AFTER`] is deleted. Without it, an owner that stops
//! halfway (or never registers) leaves shares on every member for good.
//!
//! The clock is the node's own, kept in memory: the last verified batch of each dataset, and,
//! for datasets found on disk at start, the start. A restart therefore only postpones a
//! collection, never hastens one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{DatasetId, ShareStore, StoreError, UploadState};

/// How long an unregistered upload may stay idle before it is collected.
pub const ABANDONED_UPLOAD_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How often the node looks for abandoned uploads.
pub const COLLECT_EVERY: Duration = Duration::from_secs(10 * 60);

/// When each dataset last took a verified batch (shared by the intake and the collector).
#[derive(Debug, Clone)]
pub struct UploadActivity {
    started: Instant,
    last: Arc<Mutex<HashMap<DatasetId, Instant>>>,
}

impl Default for UploadActivity {
    fn default() -> Self {
        UploadActivity {
            started: Instant::now(),
            last: Arc::default(),
        }
    }
}

impl UploadActivity {
    /// Records a verified batch of `dataset` now.
    pub fn touch(&self, dataset: DatasetId) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(dataset, Instant::now());
        }
    }

    /// When `dataset` was last active (the start if not since).
    fn last_active(&self, dataset: &DatasetId) -> Instant {
        self.last
            .lock()
            .ok()
            .and_then(|last| last.get(dataset).copied())
            .unwrap_or(self.started)
    }

    fn forget(&self, dataset: &DatasetId) {
        if let Ok(mut last) = self.last.lock() {
            last.remove(dataset);
        }
    }
}

/// Deletes every dataset that is still `Receiving`, was never registered, and has been idle for
/// `after` at `now`. Returns the ids deleted. Registered datasets (an append in progress) are
/// never collected: their shares are on chain's record.
pub fn collect_abandoned(
    store: &ShareStore,
    activity: &UploadActivity,
    now: Instant,
    after: Duration,
) -> Result<Vec<DatasetId>, StoreError> {
    let mut deleted = Vec::new();
    for summary in store.datasets()? {
        let id = summary.id;
        if summary.state != UploadState::Receiving || store.was_registered(&id)? {
            continue;
        }
        if now.saturating_duration_since(activity.last_active(&id)) < after {
            continue;
        }
        if store.delete_dataset(&id)? {
            activity.forget(&id);
            deleted.push(id);
        }
    }
    Ok(deleted)
}

/// Runs [`collect_abandoned`] every [`COLLECT_EVERY`] until the task is dropped.
pub async fn run_collector(store: ShareStore, activity: UploadActivity) {
    let mut tick = tokio::time::interval(COLLECT_EVERY);
    loop {
        tick.tick().await;
        let (store, activity) = (store.clone(), activity.clone());
        let collected = tokio::task::spawn_blocking(move || {
            collect_abandoned(&store, &activity, Instant::now(), ABANDONED_UPLOAD_AFTER)
        })
        .await;
        match collected {
            Ok(Ok(ids)) => {
                for id in ids {
                    tracing::info!(dataset = %id, "abandoned upload collected");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not collect abandoned uploads"),
            Err(e) => tracing::warn!(error = %e, "abandoned-upload collector task failed"),
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
    fn only_idle_never_registered_uploads_are_collected() {
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
        // `busy` takes a batch half-way through.
        activity.last.lock().unwrap().insert(busy, later);
        let just_short = start + ABANDONED_UPLOAD_AFTER - Duration::from_secs(1);
        assert!(
            collect_abandoned(&store, &activity, just_short, ABANDONED_UPLOAD_AFTER)
                .unwrap()
                .is_empty()
        );
        let past = start + ABANDONED_UPLOAD_AFTER + Duration::from_secs(1);
        assert_eq!(
            collect_abandoned(&store, &activity, past, ABANDONED_UPLOAD_AFTER).unwrap(),
            vec![idle]
        );
        assert!(store.dataset(&idle).unwrap().is_none());
        assert!(store.dataset(&busy).unwrap().is_some());
        assert!(store.dataset(&registered).unwrap().is_some());
        let much_later = later + ABANDONED_UPLOAD_AFTER + Duration::from_secs(1);
        assert_eq!(
            collect_abandoned(&store, &activity, much_later, ABANDONED_UPLOAD_AFTER).unwrap(),
            vec![busy]
        );
        assert!(
            store.dataset(&registered).unwrap().is_some(),
            "never a registered dataset"
        );
    }
}
