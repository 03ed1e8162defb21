//! The ceiling on SQLite: the raw queue's table with a lease owner, claimed 64 ×
//! concurrency ahead and completed in batches by [`raw_limit_worker`], through one
//! writer connection in WAL mode with `synchronous = NORMAL` (as kiribi).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

use super::raw_sqlite;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::Notify;

use super::raw_worker::RawQueue;
use super::{Contender, Target, Workers, raw_limit_worker};
use crate::recorder::{Payload, Recorder, now_us};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS jobs (
        id          INTEGER PRIMARY KEY,
        payload     TEXT    NOT NULL,
        status      TEXT    NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        run_at      INTEGER NOT NULL,
        locked_by   TEXT,
        locked_at   INTEGER,
        finished_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (run_at, id) WHERE status = 'pending'",
];

/// ?1 now, ?2 limit, ?3 lease owner. The subquery repeats the ready index's predicate
/// and walks it in order, stopping after `?2` rows.
const CLAIM: &str = "UPDATE jobs SET status = 'running', attempts = attempts + 1, \
         locked_by = ?3, locked_at = ?1 \
     WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ?1 \
                  ORDER BY run_at, id LIMIT ?2) \
     RETURNING id, payload";

/// ?1 now, ?2 ids (JSON array), ?3 lease owner: only jobs this worker still holds.
const COMPLETE: &str = "UPDATE jobs SET status = 'done', finished_at = ?1 \
     WHERE id IN (SELECT value FROM json_each(?2)) AND locked_by = ?3";

/// The bench's count of unfinished jobs: pending ones through the ready index, running
/// ones among the ids above the finished rows W6 inserted first (all of which are
/// done). Without an index on running jobs, which the claim and the completion would
/// pay for, counting them in all of W6's 1M rows would time a table scan.
const UNFINISHED: &str = "SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') \
     + (SELECT count(*) FROM jobs WHERE id > ?1 AND status = 'running')";

pub(super) struct RawLimitSqlite {
    queue: Arc<Queue>,
    recorder: Arc<Recorder>,
    /// The highest id of the finished rows inserted by `insert_finished` (0: none).
    finished_upto: AtomicI64,
}

struct Queue {
    pool: SqlitePool,
    /// This process's lease owner.
    owner: String,
    /// Wakes this process's idle worker on enqueue; other processes poll.
    wake: Notify,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<RawLimitSqlite> {
    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", target.sqlite_path()?.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60));
    // One writer: SQLite has one at a time anyway. No ping before each statement (a
    // SQLite connection has no server to lose; kiribi turns it off too).
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&pool).await?;
    }
    Ok(RawLimitSqlite {
        queue: Arc::new(Queue {
            pool,
            owner: format!("limit-{}-{}", std::process::id(), now_us()),
            wake: Notify::new(),
        }),
        recorder,
        finished_upto: AtomicI64::new(0),
    })
}

#[async_trait]
impl Contender for RawLimitSqlite {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        raw_sqlite::enqueue_one(&self.queue.pool, &self.queue.wake, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        raw_sqlite::enqueue_batch(&self.queue.pool, &self.queue.wake, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        raw_sqlite::insert_rows(&self.queue.pool, &self.queue.wake, n, "pending").await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        raw_sqlite::insert_rows(&self.queue.pool, &self.queue.wake, n, "done").await?;
        let upto: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM jobs")
            .fetch_one(&self.queue.pool)
            .await?;
        self.finished_upto.store(upto, Ordering::Relaxed);
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
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
            .bind(now_us())
            .bind(i64::try_from(limit)?)
            .bind(&self.owner)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn complete(&self, ids: &[i64]) -> Result<()> {
        sqlx::query(COMPLETE)
            .bind(now_us())
            .bind(serde_json::to_string(ids)?)
            .bind(&self.owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }
}
