//! The chain's events — the audit trail — read from the first block, with the datasets, grants
//! and jobs they name, and block times on demand.

use std::collections::HashMap;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use sharenet_chain_adapter::bindings::AccessGrants::AccessGrantsEvents as G;
use sharenet_chain_adapter::bindings::DatasetRegistry::DatasetRegistryEvents as D;
use sharenet_chain_adapter::bindings::JobMarket::JobMarketEvents as J;
use sharenet_chain_adapter::{ChainEvent, ChainEventKind, EventCursor, Ledger};

use crate::failure::Failure;
use crate::target::Session;

/// Most distinct blocks whose time one command looks up.
const MAX_TIMED_BLOCKS: usize = 4096;

/// Every event of the contracts, in chain order.
pub struct Trail {
    /// The events.
    pub events: Vec<ChainEvent>,
    /// Block → unix time, for the blocks looked up.
    times: HashMap<u64, u64>,
}

impl Trail {
    /// Reads every event from the first block to the head.
    pub async fn read(session: &Session) -> Result<Trail, Failure> {
        let err = session.chain_err("reading the chain's events");
        let head = session
            .ledger
            .backend()
            .block_number()
            .await
            .map_err(&err)?;
        let mut events = Vec::new();
        let mut cursor = EventCursor::default();
        loop {
            let (batch, next) = session.ledger.events_since(cursor).await.map_err(&err)?;
            events.extend(batch);
            if next.block > head || next == cursor {
                break;
            }
            cursor = next;
        }
        Ok(Trail {
            events,
            times: HashMap::new(),
        })
    }

    /// Looks up the time of every block that holds one of `events` (bounded).
    pub async fn load_times(&mut self, session: &Session, blocks: impl IntoIterator<Item = u64>) {
        let provider = session.ledger.backend().provider();
        for b in blocks.into_iter().take(MAX_TIMED_BLOCKS) {
            if self.times.contains_key(&b) {
                continue;
            }
            let got = tokio::time::timeout(
                Duration::from_secs(5),
                provider.get_block_by_number(BlockNumberOrTag::Number(b)),
            )
            .await;
            if let Ok(Ok(Some(block))) = got {
                self.times.insert(b, block.header.timestamp);
            }
        }
    }

    /// The time of `block`, if looked up.
    pub fn time(&self, block: u64) -> Option<u64> {
        self.times.get(&block).copied()
    }

    /// Dataset ids in registration order.
    pub fn datasets(&self) -> Vec<B256> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                ChainEventKind::Dataset(D::DatasetRegistered(r)) => Some(r.datasetId),
                _ => None,
            })
            .collect()
    }

    /// Grant ids in order.
    pub fn grants(&self) -> Vec<U256> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                ChainEventKind::Grant(G::AccessGranted(g)) => Some(g.grantId),
                _ => None,
            })
            .collect()
    }

    /// Job ids in order.
    pub fn jobs(&self) -> Vec<U256> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                ChainEventKind::Job(J::JobSubmitted(j)) => Some(j.jobId),
                _ => None,
            })
            .collect()
    }

    /// The events that concern job `id`.
    pub fn job_events(&self, id: U256) -> Vec<&ChainEvent> {
        self.events
            .iter()
            .filter(|e| job_of(e) == Some(id))
            .collect()
    }
}

/// The job an event is about, if any.
pub fn job_of(e: &ChainEvent) -> Option<U256> {
    match &e.kind {
        ChainEventKind::Job(j) => match j {
            J::JobSubmitted(x) => Some(x.jobId),
            J::ResultSealed(x) => Some(x.jobId),
            J::ResultAttested(x) => Some(x.jobId),
            J::JobCompleted(x) => Some(x.jobId),
            J::AttestationDissent(x) => Some(x.jobId),
            J::JobRefunded(x) => Some(x.jobId),
            _ => None,
        },
        ChainEventKind::Grant(G::QueryConsumed(x)) => Some(x.jobId),
        _ => None,
    }
}
