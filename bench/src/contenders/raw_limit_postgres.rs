//! The ceiling on PostgreSQL: the raw queue's table with a lease owner, claimed 64 ×
//! concurrency ahead with `FOR UPDATE SKIP LOCKED` and completed in batches by
//! [`raw_limit_worker`]; every commit, claims included, is synchronous.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

use super::raw_postgres;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::Mutex;

use super::raw_worker::RawQueue;
use super::{Contender, Target, Workers, raw_limit_worker};
use crate::recorder::{Payload, Recorder, now_us};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payload     JSONB       NOT NULL,
        status      TEXT        NOT NULL DEFAULT 'pending',
        attempts    INT         NOT NULL DEFAULT 0,
        run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
        locked_by   TEXT,
        locked_at   TIMESTAMPTZ,
        finished_at TIMESTAMPTZ
    )",
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (run_at, id) WHERE status = 'pending'",
    "CREATE OR REPLACE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('raw_jobs', ''); RETURN NULL; END $$",
    "CREATE OR REPLACE TRIGGER jobs_notify AFTER INSERT ON jobs
     FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify()",
];

const CHANNEL: &str = "raw_jobs";

/// $1 limit, $2 lease owner. The ids are picked first (an init plan walking the ready
/// index in order, locking as it goes and stopping after `$1`), then updated by
/// primary key: with `id IN (subquery)` the planner may hash-join a scan of the whole
/// table instead.
const CLAIM: &str = "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
         locked_by = $2, locked_at = now() \
     WHERE id = ANY(ARRAY( \
         SELECT id FROM jobs WHERE status = 'pending' AND run_at <= now() \
         ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)) \
     RETURNING id, payload::text";

/// $1 ids, $2 lease owner: only jobs this worker still holds.
const COMPLETE: &str = "UPDATE jobs SET status = 'done', finished_at = now() \
     WHERE id = ANY($1) AND locked_by = $2";

/// The bench's count of unfinished jobs: pending ones through the ready index, running
/// ones among the ids above the finished rows W6 inserted first (all of which are
/// done). Without an index on running jobs, which the claim and the completion would
/// pay for, counting them in all of W6's 1M rows would time a table scan.
const UNFINISHED: &str = "SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') \
     + (SELECT count(*) FROM jobs WHERE id > $1 AND status = 'running')";

pub(super) struct RawLimitPostgres {
    queue: Arc<Queue>,
    recorder: Arc<Recorder>,
    /// The highest id of the finished rows inserted by `insert_finished` (0: none).
    finished_upto: AtomicI64,
}

struct Queue {
    pool: PgPool,
    /// This process's lease owner.
    owner: String,
    listener: Mutex<Option<PgListener>>,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<RawLimitPostgres> {
    // Synchronous commits whatever the server's default: kiribi commits its claims
    // asynchronously today, the ceiling does not. No sorts: without statistics on a
    // young table the planner sorts every pending job on every claim rather than
    // walk the ready index in order (kiribi's claim function says the same).
    let options = PgConnectOptions::from_str(target.require_pg()?)?
        .options([("synchronous_commit", "on"), ("enable_sort", "off")]);
    // No ping before each statement: a dropped connection fails its next statement
    // anyway, and the ping is one more round trip per enqueue, claim and completion.
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    let mut tx = pool.begin().await?;
    // Several worker processes may create the schema at once.
    sqlx::query("SELECT pg_advisory_xact_lock(4243)")
        .execute(&mut *tx)
        .await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(RawLimitPostgres {
        queue: Arc::new(Queue {
            pool,
            owner: format!("limit-{}-{}", std::process::id(), now_us()),
            listener: Mutex::new(None),
        }),
        recorder,
        finished_upto: AtomicI64::new(0),
    })
}

#[async_trait]
impl Contender for RawLimitPostgres {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        raw_postgres::enqueue_one(&self.queue.pool, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        raw_postgres::enqueue_batch(&self.queue.pool, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        raw_postgres::insert_rows(&self.queue.pool, n, "pending").await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        raw_postgres::insert_rows(&self.queue.pool, n, "done").await?;
        let upto: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM jobs")
            .fetch_one(&self.queue.pool)
            .await?;
        self.finished_upto.store(upto, Ordering::Relaxed);
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        let mut listener = PgListener::connect_with(&self.queue.pool).await?;
        listener.listen(CHANNEL).await?;
        *self.queue.listener.lock().await = Some(listener);
        Ok(raw_limit_worker::start(
            self.queue.clone(),
            self.recorder.clone(),
            concurrency,
        ))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 = sqlx::query_scalar(UNFINISHED)
            .bind(self.finished_upto.load(Ordering::Relaxed))
            .fetch_one(&self.queue.pool)
            .await?;
        Ok(Some(u64::try_from(n)?))
    }
}

#[async_trait]
impl RawQueue for Queue {
    async fn claim(&self, limit: usize) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(CLAIM)
            .bind(i64::try_from(limit)?)
            .bind(&self.owner)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn complete(&self, ids: &[i64]) -> Result<()> {
        sqlx::query(COMPLETE)
            .bind(ids)
            .bind(&self.owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let mut guard = self.listener.lock().await;
        match guard.as_mut() {
            Some(listener) => {
                let _ = tokio::time::timeout(timeout, listener.recv()).await;
            }
            None => tokio::time::sleep(timeout).await,
        }
    }
}
