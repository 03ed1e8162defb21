//! kiribi on PostgreSQL, through its public API.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use kiribi::Kiribi;

use super::{Contender, Target, Workers, kiribi_common};
use crate::recorder::{Payload, Recorder};

pub(super) struct KiribiPostgres {
    kiribi: Kiribi,
}

pub(super) async fn connect(target: &Target, recorder: Arc<Recorder>) -> Result<KiribiPostgres> {
    Ok(KiribiPostgres {
        kiribi: kiribi_common::connect(target.require_pg()?, recorder).await?,
    })
}

impl KiribiPostgres {
    fn pool(&self) -> Result<&sqlx::PgPool> {
        self.kiribi
            .pg_pool()
            .ok_or_else(|| anyhow::anyhow!("not a PostgreSQL backend"))
    }

    /// Bulk insert in kiribi's own schema (`kiribi-postgres/migrations`).
    async fn insert_rows(&self, n: u64, finished: bool) -> Result<()> {
        let (status, attempts) = if finished {
            ("succeeded", 1)
        } else {
            ("pending", 0)
        };
        let mut tx = self.pool()?.begin().await?;
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
}

#[async_trait]
impl Contender for KiribiPostgres {
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
