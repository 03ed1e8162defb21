//! What kiribi on SQLite and on PostgreSQL share: the no-op job and the public API calls.

use std::sync::Arc;

use anyhow::Result;
use kiribi::{Kiribi, State, WorkerHandle, job};

use super::Workers;
use crate::recorder::{Payload, Recorder};

/// The benchmark's no-op job: records its execution and returns.
#[job(name = "bench.noop")]
async fn noop(State(recorder): State<Arc<Recorder>>, seq: u64, enq_us: i64) -> Result<(), String> {
    recorder.record(Payload { seq, enq_us });
    Ok(())
}

/// Connects through the public API, the recorder handed to jobs as state.
pub(super) async fn connect(url: &str, recorder: Arc<Recorder>) -> Result<Kiribi> {
    Ok(Kiribi::builder().state(recorder).connect(url).await?)
}

pub(super) async fn enqueue_one(kiribi: &Kiribi, job: Payload) -> Result<()> {
    Noop::enqueue(
        kiribi,
        Noop {
            seq: job.seq,
            enq_us: job.enq_us,
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn enqueue_batch(kiribi: &Kiribi, jobs: Vec<Payload>) -> Result<()> {
    let jobs = jobs.into_iter().map(|j| Noop {
        seq: j.seq,
        enq_us: j.enq_us,
    });
    Noop::enqueue_many(kiribi, jobs).await?;
    Ok(())
}

/// `worker().concurrency(n)`, everything else at its defaults.
pub(super) fn start_workers(kiribi: &Kiribi, concurrency: usize) -> Box<dyn Workers> {
    Box::new(KiribiWorkers(
        kiribi.worker().concurrency(concurrency).start(),
    ))
}

struct KiribiWorkers(WorkerHandle);

#[async_trait::async_trait]
impl Workers for KiribiWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        Ok(self.0.shutdown().await?)
    }
}
