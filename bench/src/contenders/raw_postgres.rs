//! The raw-SQL baseline on PostgreSQL: one table with a partial index, one INSERT per
//! job, one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`
//! per claim, one UPDATE per batch of completions, `LISTEN`/`NOTIFY` wake-ups.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::Mutex;

use super::raw_worker::{self, RawQueue};
use super::{Contender, Target, Workers};
use crate::recorder::{Payload, Recorder};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payload     JSONB       NOT NULL,
        status      TEXT        NOT NULL DEFAULT 'pending',
        attempts    INT         NOT NULL DEFAULT 0,
        run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
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

pub(super) struct RawPostgres {
    queue: Arc<Queue>,
    recorder: Arc<Recorder>,
}

struct Queue {
    pool: PgPool,
    listener: Mutex<Option<PgListener>>,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<RawPostgres> {
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(target.require_pg()?)
        .await?;
    let mut tx = pool.begin().await?;
    // Several worker processes may create the schema at once.
    sqlx::query("SELECT pg_advisory_xact_lock(4242)")
        .execute(&mut *tx)
        .await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(RawPostgres {
        queue: Arc::new(Queue {
            pool,
            listener: Mutex::new(None),
        }),
        recorder,
    })
}

/// Inserts `n` jobs of `status` in one statement (set-up of W3, W4 and W6), for
/// `raw-postgres` and `raw-limit-postgres` alike.
pub(super) async fn insert_rows(pool: &PgPool, n: u64, status: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (payload, status, finished_at) \
         SELECT jsonb_build_object('seq', i, 'enq_us', 0), $2, \
             CASE WHEN $2 = 'done' THEN now() END \
         FROM generate_series(0, $1 - 1) AS i",
    )
    .bind(i64::try_from(n)?)
    .bind(status)
    .execute(pool)
    .await?;
    Ok(())
}

/// W1's one `INSERT`, shared with `raw-limit-postgres`.
pub(super) async fn enqueue_one(pool: &PgPool, job: Payload) -> Result<()> {
    sqlx::query("INSERT INTO jobs (payload) VALUES ($1::jsonb)")
        .bind(job.json())
        .execute(pool)
        .await?;
    Ok(())
}

/// W2's `INSERT … SELECT … unnest`, shared with `raw-limit-postgres`.
pub(super) async fn enqueue_batch(pool: &PgPool, jobs: Vec<Payload>) -> Result<()> {
    let payloads: Vec<String> = jobs.iter().map(Payload::json).collect();
    sqlx::query("INSERT INTO jobs (payload) SELECT p::jsonb FROM unnest($1::text[]) AS p")
        .bind(payloads)
        .execute(pool)
        .await?;
    Ok(())
}

#[async_trait]
impl Contender for RawPostgres {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        enqueue_one(&self.queue.pool, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        enqueue_batch(&self.queue.pool, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        insert_rows(&self.queue.pool, n, "pending").await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        insert_rows(&self.queue.pool, n, "done").await?;
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        let mut listener = PgListener::connect_with(&self.queue.pool).await?;
        listener.listen(CHANNEL).await?;
        *self.queue.listener.lock().await = Some(listener);
        Ok(raw_worker::start(
            self.queue.clone(),
            self.recorder.clone(),
            concurrency,
        ))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")
                .fetch_one(&self.queue.pool)
                .await?;
        Ok(Some(u64::try_from(n)?))
    }
}

#[async_trait]
impl RawQueue for Queue {
    async fn claim(&self, limit: usize) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_at = now() \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= now() \
                          ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT $1) \
             RETURNING id, payload::text",
        )
        .bind(i64::try_from(limit)?)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn complete(&self, ids: &[i64]) -> Result<()> {
        sqlx::query("UPDATE jobs SET status = 'done', finished_at = now() WHERE id = ANY($1)")
            .bind(ids)
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
