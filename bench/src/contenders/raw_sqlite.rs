//! The raw-SQL baseline on SQLite: one table, one INSERT per job, one
//! `UPDATE … RETURNING` per claim, one UPDATE per batch of completions.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Notify;

use super::raw_worker::{self, RawQueue};
use super::{Contender, Target, Workers};
use crate::recorder::{Payload, Recorder, now_us};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (
        id          INTEGER PRIMARY KEY,
        payload     TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        run_at      INTEGER NOT NULL,
        locked_at   INTEGER,
        finished_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (run_at, id) WHERE status = 'pending'",
];

pub(super) struct RawSqlite {
    queue: Arc<Queue>,
    recorder: Arc<Recorder>,
}

struct Queue {
    pool: SqlitePool,
    /// Wakes this process's idle worker on enqueue; other processes poll.
    wake: Notify,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<RawSqlite> {
    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", target.sqlite_path()?.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60));
    // One connection: SQLite has one writer at a time anyway, and waiting on a
    // mutex is cheaper than SQLite's busy-sleep between connections.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&pool).await?;
    }
    Ok(RawSqlite {
        queue: Arc::new(Queue {
            pool,
            wake: Notify::new(),
        }),
        recorder,
    })
}

/// Inserts `n` jobs of `status` in one statement (set-up of W3, W4 and W6), for
/// `raw-sqlite` and `raw-limit-sqlite` alike.
pub(super) async fn insert_rows(
    pool: &SqlitePool,
    wake: &Notify,
    n: u64,
    status: &str,
) -> Result<()> {
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1) \
         INSERT INTO jobs (payload, status, run_at, finished_at) \
         SELECT json_object('seq', i, 'enq_us', 0), ?2, ?3, \
             CASE WHEN ?2 = 'done' THEN ?3 END FROM s",
    )
    .bind(i64::try_from(n)?)
    .bind(status)
    .bind(now_us())
    .execute(pool)
    .await?;
    wake.notify_one();
    Ok(())
}

/// W1's one `INSERT`, shared with `raw-limit-sqlite`.
pub(super) async fn enqueue_one(pool: &SqlitePool, wake: &Notify, job: Payload) -> Result<()> {
    sqlx::query("INSERT INTO jobs (payload, status, run_at) VALUES (?1, 'pending', ?2)")
        .bind(job.json())
        .bind(now_us())
        .execute(pool)
        .await?;
    wake.notify_one();
    Ok(())
}

/// W2's multi-row `INSERT`, shared with `raw-limit-sqlite`.
pub(super) async fn enqueue_batch(
    pool: &SqlitePool,
    wake: &Notify,
    jobs: Vec<Payload>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (payload, status, run_at) \
         SELECT value, 'pending', ?2 FROM json_each(?1)",
    )
    .bind(serde_json::to_string(&jobs)?)
    .bind(now_us())
    .execute(pool)
    .await?;
    wake.notify_one();
    Ok(())
}

#[async_trait]
impl Contender for RawSqlite {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        enqueue_one(&self.queue.pool, &self.queue.wake, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        enqueue_batch(&self.queue.pool, &self.queue.wake, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        insert_rows(&self.queue.pool, &self.queue.wake, n, "pending").await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        insert_rows(&self.queue.pool, &self.queue.wake, n, "done").await?;
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        Ok(raw_worker::start(
            self.queue.clone(),
            self.recorder.clone(),
            concurrency,
        ))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') \
                  + (SELECT count(*) FROM jobs WHERE status = 'running')",
        )
        .fetch_one(&self.queue.pool)
        .await?;
        Ok(Some(u64::try_from(n)?))
    }
}

#[async_trait]
impl RawQueue for Queue {
    async fn claim(&self, limit: usize) -> Result<Vec<(i64, String)>> {
        Ok(sqlx::query_as(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_at = ?1 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?1 \
                          ORDER BY run_at, id LIMIT ?2) \
             RETURNING id, payload",
        )
        .bind(now_us())
        .bind(i64::try_from(limit)?)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn complete(&self, ids: &[i64]) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = ?1 \
             WHERE id IN (SELECT value FROM json_each(?2))",
        )
        .bind(now_us())
        .bind(serde_json::to_string(ids)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }
}
