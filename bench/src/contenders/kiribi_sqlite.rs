//! kiribi on SQLite, through its public API.

use std::sync::Arc;

use anyhow::Result;

use super::Target;
use super::kiribi_common::{self, KiribiContender};
use crate::recorder::{Recorder, now_us};

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<KiribiContender> {
    let url = format!("sqlite://{}", target.sqlite_path()?.display());
    Ok(KiribiContender::new(
        kiribi_common::connect(&url, recorder).await?,
    ))
}

/// Bulk insert in kiribi's own schema (`kiribi-sqlite/migrations`).
pub(super) async fn insert_rows(pool: &sqlx::SqlitePool, n: u64, finished: bool) -> Result<()> {
    let now_ms = now_us() / 1000;
    let (status, attempts, done_at) = if finished {
        ("succeeded", 1, Some(now_ms))
    } else {
        ("pending", 0, None)
    };
    let mut tx = pool.begin().await?;
    let first: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) + 1 FROM kiribi_jobs")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1) \
         INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, \
             payload, result, created_at, run_at, started_at, finished_at) \
         SELECT 'bench.noop', 'default', ?2, 0, ?3, 5, \
             json_object('seq', i, 'enq_us', 0), ?4, ?5, ?5, ?6, ?6 FROM s",
    )
    .bind(i64::try_from(n)?)
    .bind(status)
    .bind(attempts)
    .bind(finished.then_some("null"))
    .bind(now_ms)
    .bind(done_at)
    .execute(&mut *tx)
    .await?;
    if finished {
        sqlx::query(
            "INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at) \
             SELECT id, 1, 'bench', started_at, finished_at FROM kiribi_jobs WHERE id >= ?1",
        )
        .bind(first)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// S1 history: `n` finished jobs over the last 50 minutes, of 5 names, 1 in 20
/// failed and 1 in 50 cancelled, run times 0 to 500 ms, waits 0 to 50 ms.
pub(super) async fn insert_history(pool: &sqlx::SqlitePool, n: u64) -> Result<()> {
    sqlx::query(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1) \
         INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, \
             payload, created_at, run_at, started_at, finished_at) \
         SELECT 'bench.stats.' || (i % 5), 'default', \
             CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 1 THEN 'cancelled' \
                  ELSE 'succeeded' END, \
             0, 1 + (i % 7 = 0), 5, json_object('seq', i), \
             f - 600, f - (i * 7919) % 500 - i % 50, f - (i * 7919) % 500, f \
         FROM (SELECT i, ?2 - i * 3000000 / ?1 AS f FROM s)",
    )
    .bind(i64::try_from(n)?)
    .bind(now_us() / 1000)
    .execute(pool)
    .await?;
    Ok(())
}
