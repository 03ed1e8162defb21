//! apalis 1.0 with apalis-postgres 1.0, event-driven: `LISTEN`/`NOTIFY` through
//! `with_pubsub()` (the README's "Pubsub listener example"), with a 1 s polling fallback.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BackendExt, BoxDynError, Data, Strategy, TaskSink, WorkerBuilder};
use apalis_postgres::{Config, PgPool, PostgresStorage};
use async_trait::async_trait;

use super::apalis_common::ApalisWorkers;
use super::{Contender, Target, Workers};
use crate::recorder::{Payload, Recorder};

const QUEUE: &str = "bench";

pub(super) struct ApalisPostgres {
    pool: PgPool,
    storage: PostgresStorage<Payload>,
    recorder: Arc<Recorder>,
}

fn config() -> Config {
    // 4× the concurrency per fetch, as the raw baseline claims.
    Config::default().queue(QUEUE).batch_size(32)
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<ApalisPostgres> {
    let pool = PgPool::connect(target.require_pg()?).await?;
    PostgresStorage::setup(&pool).await?;
    let storage = PostgresStorage::new(&pool).with_config(config());
    Ok(ApalisPostgres {
        pool,
        storage,
        recorder,
    })
}

async fn run_job(job: Payload, recorder: Data<Arc<Recorder>>) -> Result<(), BoxDynError> {
    recorder.record(job);
    Ok(())
}

#[async_trait]
impl Contender for ApalisPostgres {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        self.storage.clone().push(job).await?;
        Ok(())
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        self.storage.clone().push_bulk(jobs).await?;
        Ok(true)
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        self.insert_pending(n).await?;
        sqlx::query("UPDATE apalis.jobs SET status = 'Done', done_at = now()")
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        let strategy = Strategy::new().interval(Duration::from_secs(1));
        let backend = PostgresStorage::<Payload>::new(&self.pool)
            .with_config(config())
            .with_pubsub()
            .poll_with_strategy(strategy);
        let worker = WorkerBuilder::new(format!("kiribi-bench-{}", std::process::id()))
            .backend(backend)
            .data(self.recorder.clone())
            .concurrency(concurrency)
            .build(run_job);
        Ok(Box::new(ApalisWorkers::spawn(|signal| {
            worker.run_until(signal)
        })))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE status IN ('Pending', 'Queued', 'Running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(u64::try_from(n)?))
    }
}
