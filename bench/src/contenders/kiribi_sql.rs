//! kiribi's SQL under the limit's worker: claims and completions go through kiribi's
//! `Storage` (its schema, its statements, its fences), run by [`raw_limit_worker`]
//! instead of kiribi's worker.
//!
//! It splits the gap between kiribi and the raw limit in two: what kiribi's SQL costs
//! the database (this contender against `raw-limit-*`), and what kiribi's worker
//! costs on top of its SQL (`kiribi-*` against this contender).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use kiribi::Kiribi;
use kiribi::backend::{ClaimRequest, Lease, Outcome, WorkerId};

use super::kiribi_common::KiribiContender;
use super::raw_worker::RawQueue;
use super::{Contender, Workers, raw_limit_worker};
use crate::recorder::{Payload, Recorder};

/// How long a claim holds its jobs; the drain renews nothing.
const LEASE: Duration = Duration::from_secs(300);

pub(super) struct KiribiSql {
    inner: KiribiContender,
    kiribi: Kiribi,
    recorder: Arc<Recorder>,
}

impl KiribiSql {
    pub(super) fn new(kiribi: Kiribi, recorder: Arc<Recorder>) -> Self {
        Self {
            inner: KiribiContender::new(kiribi.clone()),
            kiribi,
            recorder,
        }
    }
}

/// kiribi's storage as a raw queue: the leases of claimed jobs are kept here until
/// their completion.
struct StorageQueue {
    kiribi: Kiribi,
    worker: WorkerId,
    names: Vec<String>,
    leases: Mutex<HashMap<i64, Lease>>,
}

#[async_trait]
impl RawQueue for StorageQueue {
    async fn claim(&self, limit: usize) -> Result<Vec<(i64, String)>> {
        let request = ClaimRequest::new(self.worker.clone(), LEASE)
            .with_names(self.names.iter().cloned())
            .with_limit(limit);
        let claimed = self.kiribi.storage().claim(&request).await?;
        let mut leases = self.leases.lock().expect("not poisoned");
        Ok(claimed
            .into_iter()
            .map(|job| {
                let id = job.id().as_i64();
                leases.insert(id, job.lease);
                (id, job.payload.to_string())
            })
            .collect())
    }

    async fn complete(&self, ids: &[i64]) -> Result<()> {
        let completions: Vec<(Lease, Outcome)> = {
            let mut leases = self.leases.lock().expect("not poisoned");
            ids.iter()
                .map(|id| {
                    let lease = leases.remove(id).context("a completion without a lease")?;
                    Ok((lease, Outcome::succeeded(None)))
                })
                .collect::<Result<_>>()?
        };
        self.kiribi.storage().complete_many(&completions).await?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

#[async_trait]
impl Contender for KiribiSql {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        self.inner.enqueue_one(job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        self.inner.enqueue_batch(jobs).await
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        self.inner.insert_pending(n).await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        self.inner.insert_finished(n).await
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        let queue = StorageQueue {
            kiribi: self.kiribi.clone(),
            worker: WorkerId::new(format!("kiribi-sql:{}", std::process::id())),
            names: vec![super::kiribi_common::NOOP_NAME.to_owned()],
            leases: Mutex::new(HashMap::new()),
        };
        Ok(raw_limit_worker::start(
            Arc::new(queue),
            self.recorder.clone(),
            concurrency,
        ))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        self.inner.unfinished().await
    }

    async fn enqueue_unique(&self, key: u64) -> Result<Option<bool>> {
        self.inner.enqueue_unique(key).await
    }

    async fn enqueue_per_key(&self, n: u64, keys: u64) -> Result<bool> {
        self.inner.enqueue_per_key(n, keys).await
    }
}
