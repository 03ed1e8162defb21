//! graphile_worker 0.14 (Rust) on PostgreSQL, in two set-ups: its documented
//! "throughput-oriented" one (local queue of 100 jobs, completions batched every 5 ms,
//! 500 ms polling fallback) and its defaults; `LISTEN`/`NOTIFY` wake-ups in both.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use graphile_worker::{
    IntoTaskHandlerResult, JobSpec, LocalQueueConfig, TaskHandler, Worker, WorkerContext,
    WorkerOptions, WorkerUtils,
};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::{Contender, Target, Workers};
use crate::recorder::{Payload, Recorder};

const SCHEMA: &str = "graphile_worker";
/// graphile_worker fixes concurrency when the worker is built.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct NoopJob(Payload);

impl TaskHandler for NoopJob {
    const IDENTIFIER: &'static str = "bench_noop";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        if let Some(recorder) = ctx.get_ext::<Arc<Recorder>>() {
            recorder.record(self.0);
        }
        Ok::<(), String>(())
    }
}

/// How the worker is configured.
#[derive(Debug, Clone, Copy)]
pub(super) enum Setup {
    /// The documented high-throughput set-up (`graphile-worker`).
    Throughput,
    /// `WorkerOptions::default()` apart from concurrency (`graphile-worker-default`).
    Default,
}

pub(super) struct Graphile {
    pool: PgPool,
    worker: Arc<Worker>,
    utils: WorkerUtils,
}

pub(super) async fn connect(
    target: &Target,
    recorder: Arc<Recorder>,
    setup: Setup,
) -> Result<Graphile> {
    let pool = PgPool::connect(target.require_pg()?).await?;
    let options = WorkerOptions::default()
        .schema(SCHEMA)
        .concurrency(CONCURRENCY);
    let options = match setup {
        Setup::Throughput => options
            .poll_interval(Duration::from_millis(500))
            .complete_job_batch_delay(Duration::from_millis(5))
            .fail_job_batch_delay(Duration::from_millis(5))
            .local_queue(
                LocalQueueConfig::default()
                    .with_size(100)
                    .with_ttl(Duration::from_secs(60)),
            ),
        Setup::Default => options,
    };
    let worker = options
        .listen_os_shutdown_signals(false)
        .add_extension(recorder)
        .define_job::<NoopJob>()
        .pg_pool(pool.clone())
        .init()
        .await?;
    let utils = worker.create_utils();
    Ok(Graphile {
        pool,
        worker: Arc::new(worker),
        utils,
    })
}

#[async_trait]
impl Contender for Graphile {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        self.utils.add_job(NoopJob(job), JobSpec::default()).await?;
        Ok(())
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        let spec = JobSpec::default();
        let jobs: Vec<(NoopJob, &JobSpec)> =
            jobs.into_iter().map(|j| (NoopJob(j), &spec)).collect();
        self.utils.add_jobs(&jobs).await?;
        Ok(true)
    }

    async fn insert_finished(&self, _n: u64) -> Result<bool> {
        // graphile_worker deletes a job when it completes: finished rows never pile up.
        Ok(false)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        anyhow::ensure!(
            concurrency == CONCURRENCY,
            "graphile-worker runs with concurrency {CONCURRENCY}"
        );
        let worker = self.worker.clone();
        let task = tokio::spawn(async move { worker.run().await.map_err(anyhow::Error::from) });
        Ok(Box::new(GraphileWorkers {
            worker: self.worker.clone(),
            task,
        }))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        // Finished jobs are deleted; whatever is left is unfinished.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM graphile_worker._private_jobs")
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(u64::try_from(n)?))
    }
}

struct GraphileWorkers {
    worker: Arc<Worker>,
    task: JoinHandle<Result<()>>,
}

#[async_trait]
impl Workers for GraphileWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        self.worker.request_shutdown();
        self.task.await??;
        Ok(())
    }
}
