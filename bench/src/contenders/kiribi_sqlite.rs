//! kiribi on SQLite, through its public API.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use kiribi::Kiribi;

use super::{Contender, Target, Workers, kiribi_common};
use crate::recorder::{Payload, Recorder, now_us};

pub(super) struct KiribiSqlite {
    kiribi: Kiribi,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<KiribiSqlite> {
    let url = format!("sqlite://{}", target.sqlite_path()?.display());
    Ok(KiribiSqlite {
        kiribi: kiribi_common::connect(&url, recorder).await?,
    })
}

impl KiribiSqlite {
    fn pool(&self) -> Result<&sqlx::SqlitePool> {
        self.kiribi
            .sqlite_pool()
            .ok_or_else(|| anyhow::anyhow!("not a SQLite backend"))
    }

    /// Bulk insert in kiribi's own schema (`kiribi-sqlite/migrations`).
    async fn insert_rows(&self, n: u64, finished: bool) -> Result<()> {
        let now_ms = now_us() / 1000;
        let (status, attempts, done_at) = if finished {
            ("succeeded", 1, Some(now_ms))
        } else {
            ("pending", 0, None)
        };
        let mut tx = self.pool()?.begin().await?;
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
}

#[async_trait]
impl Contender for KiribiSqlite {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        kiribi_common::enqueue_one(&self.kiribi, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        kiribi_common::enqueue_batch(&self.kiribi, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        self.insert_rows(n, false).await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        self.insert_rows(n, true).await?;
        Ok(true)
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        Ok(kiribi_common::start_workers(&self.kiribi, concurrency))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM kiribi_jobs WHERE status IN ('pending', 'retrying', 'running')",
        )
        .fetch_one(self.pool()?)
        .await?;
        Ok(Some(u64::try_from(n)?))
    }
}
