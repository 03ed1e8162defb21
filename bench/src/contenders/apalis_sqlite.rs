//! apalis 1.0 with apalis-sqlite 1.0, event-driven: SQLite update hooks wake the worker
//! (`SqliteStorage::connect_with_callback`, the README's "Event-Driven Worker"), with
//! a 1 s polling fallback for jobs written by other processes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BackendExt, BoxDynError, Data, Strategy, TaskSink, WorkerBuilder};
use apalis_sqlite::callback::HookCallbackListener;
use apalis_sqlite::{Config, SqlitePool, SqliteStorage};
use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Mutex;

use super::apalis_common::ApalisWorkers;
use super::{Contender, Target, Workers};
use crate::recorder::{Payload, Recorder};

const QUEUE: &str = "bench";

pub(super) struct ApalisSqlite {
    pool: SqlitePool,
    storage: SqliteStorage<Payload>,
    listener: Mutex<Option<HookCallbackListener>>,
    recorder: Arc<Recorder>,
}

fn config() -> Config {
    // 4× the concurrency per fetch, as the raw baseline claims.
    Config::default().queue(QUEUE).batch_size(32)
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<ApalisSqlite> {
    let url = format!("sqlite://{}?mode=rwc", target.sqlite_path()?.display());
    let (pool, listener) = SqliteStorage::connect_with_callback(&url)?;
    SqliteStorage::setup(&pool).await?;
    let storage = SqliteStorage::new(&pool).with_config(config());
    Ok(ApalisSqlite {
        pool,
        storage,
        listener: Mutex::new(Some(listener)),
        recorder,
    })
}

async fn run_job(job: Payload, recorder: Data<Arc<Recorder>>) -> Result<(), BoxDynError> {
    recorder.record(job);
    Ok(())
}

#[async_trait]
impl Contender for ApalisSqlite {
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
        sqlx::query("UPDATE Jobs SET status = 'Done', done_at = strftime('%s', 'now')")
            .execute(&self.pool)
            .await?;
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        let listener = self
            .listener
            .lock()
            .await
            .take()
            .ok_or_else(|| anyhow::anyhow!("workers already started"))?;
        let strategy = Strategy::new()
            .stream(listener.ready_chunks(config().batch_size))
            .interval(Duration::from_secs(1));
        let backend = SqliteStorage::<Payload>::new(&self.pool)
            .with_config(config())
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
            "SELECT count(*) FROM Jobs WHERE status IN ('Pending', 'Queued', 'Running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(u64::try_from(n)?))
    }
}
