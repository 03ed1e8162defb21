//! kiribi on PostgreSQL, through its public API.

use std::sync::Arc;

use anyhow::Result;

use super::Target;
use super::kiribi_common::{self, KiribiContender};
use crate::recorder::Recorder;

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<KiribiContender> {
    Ok(KiribiContender::new(
        kiribi_common::connect(target.require_pg()?, recorder).await?,
    ))
}

/// Bulk insert in kiribi's own schema (`kiribi-postgres/migrations`).
pub(super) async fn insert_rows(pool: &sqlx::PgPool, n: u64, finished: bool) -> Result<()> {
    let (status, attempts) = if finished {
        ("succeeded", 1)
    } else {
        ("pending", 0)
    };
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, \
             payload, result, created_at, run_at, started_at, finished_at) \
         SELECT 'bench.noop', 'default', $2, 0, $3, 5, \
             jsonb_build_object('seq', i, 'enq_us', 0), \
             CASE WHEN $4 THEN 'null'::jsonb END, now(), now(), \
             CASE WHEN $4 THEN now() END, CASE WHEN $4 THEN now() END \
         FROM generate_series(0, $1 - 1) AS i \
         RETURNING id",
    )
    .bind(i64::try_from(n)?)
    .bind(status)
    .bind(attempts)
    .bind(finished)
    .fetch_all(&mut *tx)
    .await?;
    if finished {
        sqlx::query(
            "INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at) \
             SELECT id, 1, 'bench', now(), now() FROM unnest($1::bigint[]) AS id",
        )
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// S1 history: `n` finished jobs over the last 50 minutes, of 5 names, 1 in 20
/// failed and 1 in 50 cancelled, run times 0 to 500 ms, waits 0 to 50 ms.
pub(super) async fn insert_history(pool: &sqlx::PgPool, n: u64) -> Result<()> {
    let ms = |column: &str| format!("now() - ({column}) * interval '1 millisecond'");
    let text = format!(
        "INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, \
             payload, created_at, run_at, started_at, finished_at) \
         SELECT 'bench.stats.' || (i % 5), 'default', \
             CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 1 THEN 'cancelled' \
                  ELSE 'succeeded' END, \
             0, CASE WHEN i % 7 = 0 THEN 2 ELSE 1 END, 5, jsonb_build_object('seq', i), \
             {}, {}, {}, {} \
         FROM (SELECT i, i * 3000000 / $1 AS f FROM generate_series(0, $1 - 1) AS i) AS s",
        ms("f + 600"),
        ms("f + (i * 7919) % 500 + i % 50"),
        ms("f + (i * 7919) % 500"),
        ms("f"),
    );
    sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(i64::try_from(n)?)
        .execute(pool)
        .await?;
    // A table in its steady state: autovacuum has set the visibility map, so
    // index-only scans stay in the index.
    sqlx::query("VACUUM (ANALYZE) kiribi_jobs")
        .execute(pool)
        .await?;
    Ok(())
}
