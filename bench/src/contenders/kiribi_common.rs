//! kiribi as a contender on either backend: the no-op job, the public API calls, and
//! the dispatch to each backend's bulk SQL for pre-filled tables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use async_trait::async_trait;
use kiribi::{EnqueueOptions, Job, JobContext, JobFilter, Kiribi, State, WorkerHandle, job};

use super::{Contender, StatsTimings, Workers, kiribi_postgres, kiribi_sqlite};
use crate::recorder::{Payload, Recorder, Start, now_us};

/// The benchmark's no-op job: records its execution and returns.
#[job(name = "bench.noop")]
async fn noop(State(recorder): State<Arc<Recorder>>, seq: u64, enq_us: i64) -> Result<(), String> {
    recorder.record(Payload { seq, enq_us });
    Ok(())
}

/// W7's job: records when each attempt starts and, with `fail_first`, fails its first
/// attempt so that it is retried after 100 ms (`RETRY_DELAY`; the macro takes a
/// literal, a unit test checks they agree). Fixed backoff: no jitter.
#[job(
    name = "bench.timed",
    max_attempts = 2,
    backoff = "fixed",
    retry_delay = "100ms"
)]
async fn timed(
    ctx: JobContext,
    State(recorder): State<Arc<Recorder>>,
    seq: u64,
    fail_first: bool,
) -> Result<(), String> {
    let at_us = now_us();
    let attempt = ctx.attempt();
    recorder.record_start(Start {
        seq,
        attempt,
        at_us,
    });
    if fail_first && attempt == 1 {
        return Err("the first attempt fails, by design".to_owned());
    }
    Ok(())
}

/// W3-logs' job: the no-op job, writing 3 lines to its log.
#[job(name = "bench.logging")]
async fn logging(
    ctx: JobContext,
    State(recorder): State<Arc<Recorder>>,
    seq: u64,
) -> Result<(), String> {
    ctx.log("started");
    ctx.log(format!("job {seq}"));
    recorder.record(Payload { seq, enq_us: 0 });
    ctx.log("done");
    Ok(())
}

/// W10's flow step: records its execution and returns.
#[job(name = "bench.step")]
async fn step(State(recorder): State<Arc<Recorder>>, seq: u64) -> Result<(), String> {
    recorder.record(Payload { seq, enq_us: 0 });
    Ok(())
}

/// W8's job: unique by its whole payload.
#[job(name = "bench.unique", unique)]
async fn unique_noop(key: u64) -> Result<(), String> {
    let _ = key;
    Ok(())
}

/// W9's job: one at a time per key, everywhere.
#[job(name = "bench.per_key", concurrency = 1, concurrency_key = key)]
async fn per_key(State(recorder): State<Arc<Recorder>>, key: u64, seq: u64) -> Result<(), String> {
    recorder.key_started(key);
    recorder.record(Payload { seq, enq_us: 0 });
    // Let the runtime run other jobs in between, as a job that awaits anything does.
    tokio::task::yield_now().await;
    recorder.key_ended(key);
    Ok(())
}

/// The no-op job's name.
pub(super) const NOOP_NAME: &str = Noop::CONFIG.name;

/// Connects through the public API, the recorder handed to jobs as state.
pub(super) async fn connect(url: &str, recorder: Arc<Recorder>) -> Result<Kiribi> {
    Ok(Kiribi::builder().state(recorder).connect(url).await?)
}

async fn enqueue_one(kiribi: &Kiribi, job: Payload) -> Result<()> {
    Noop::enqueue(
        kiribi,
        Noop {
            seq: job.seq,
            enq_us: job.enq_us,
        },
    )
    .await?;
    Ok(())
}

async fn enqueue_batch(kiribi: &Kiribi, jobs: Vec<Payload>) -> Result<()> {
    let jobs = jobs.into_iter().map(|j| Noop {
        seq: j.seq,
        enq_us: j.enq_us,
    });
    Noop::enqueue_many(kiribi, jobs).await?;
    Ok(())
}

/// `worker().concurrency(n)`, everything else at its defaults.
fn start_workers(kiribi: &Kiribi, concurrency: usize) -> Box<dyn Workers> {
    Box::new(KiribiWorkers(
        kiribi.worker().concurrency(concurrency).start(),
    ))
}

struct KiribiWorkers(WorkerHandle);

#[async_trait::async_trait]
impl Workers for KiribiWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        Ok(self.0.shutdown().await?)
    }
}

/// kiribi through its public API, on whichever backend its handle connected to.
pub(super) struct KiribiContender {
    kiribi: Kiribi,
}

impl KiribiContender {
    pub(super) fn new(kiribi: Kiribi) -> Self {
        Self { kiribi }
    }

    /// S1's text search: one job's `seq` among `n`, found in no other payload; how
    /// long it took and how many jobs it found.
    async fn search_one_payload(&self, n: u64) -> Result<(Duration, usize)> {
        let needle = (n / 2 + 1).to_string();
        let start = Instant::now();
        let found = self
            .kiribi
            .jobs(JobFilter::new().text(needle).limit(50))
            .await?;
        Ok((start.elapsed(), found.len()))
    }

    /// Bulk SQL in kiribi's own schema, by backend.
    async fn insert_rows(&self, n: u64, finished: bool) -> Result<()> {
        if let Some(pool) = self.kiribi.sqlite_pool() {
            kiribi_sqlite::insert_rows(pool, n, finished).await
        } else if let Some(pool) = self.kiribi.pg_pool() {
            kiribi_postgres::insert_rows(pool, n, finished).await
        } else {
            anyhow::bail!("kiribi handle without a SQLite or PostgreSQL pool")
        }
    }
}

/// The same text on both backends. Each count repeats the predicate of one of
/// kiribi's partial indexes (ready jobs without limits; ready jobs with limits;
/// running, failed and cancelled ones), which SQLite needs to use it.
const UNFINISHED: &str = "SELECT \
     (SELECT count(*) FROM kiribi_jobs WHERE status IN ('pending', 'retrying') \
        AND concurrency_limit IS NULL AND rate_limit IS NULL) \
     + (SELECT count(*) FROM kiribi_jobs WHERE status IN ('pending', 'retrying') \
        AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL)) \
     + (SELECT count(*) FROM kiribi_jobs \
        WHERE status = 'running' AND status NOT IN ('succeeded', 'pending'))";

#[async_trait]
impl Contender for KiribiContender {
    async fn enqueue_one(&self, job: Payload) -> Result<()> {
        enqueue_one(&self.kiribi, job).await
    }

    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool> {
        enqueue_batch(&self.kiribi, jobs).await?;
        Ok(true)
    }

    async fn insert_pending(&self, n: u64) -> Result<()> {
        self.insert_rows(n, false).await
    }

    async fn insert_finished(&self, n: u64) -> Result<bool> {
        self.insert_rows(n, true).await?;
        Ok(true)
    }

    async fn stats_timings(&self, n: u64) -> Result<Option<StatsTimings>> {
        if let Some(pool) = self.kiribi.sqlite_pool() {
            kiribi_sqlite::insert_history(pool, n).await?;
        } else if let Some(pool) = self.kiribi.pg_pool() {
            kiribi_postgres::insert_history(pool, n).await?;
        } else {
            anyhow::bail!("kiribi handle without a SQLite or PostgreSQL pool")
        }
        let storage = self.kiribi.storage();
        let start = Instant::now();
        while !storage.roll_up(Duration::ZERO).await?.caught_up {}
        let roll_up = start.elapsed();
        let mut timings = StatsTimings {
            roll_up,
            stats: Vec::new(),
            count: Vec::new(),
            count_recent: Vec::new(),
            text: Vec::new(),
            search_index: Duration::ZERO,
            text_indexed: Vec::new(),
            count_created: Vec::new(),
        };
        for _ in 0..20 {
            let start = Instant::now();
            let stats = self.kiribi.stats(Duration::from_secs(3600)).await?;
            timings.stats.push(start.elapsed());
            let finished: u64 = stats
                .jobs
                .iter()
                .map(|job| job.succeeded + job.failed + job.cancelled)
                .sum();
            anyhow::ensure!(finished == n, "stats counted {finished} of {n} jobs");

            let start = Instant::now();
            let succeeded = self
                .kiribi
                .count(JobFilter::new().status(kiribi::JobStatus::Succeeded))
                .await?;
            timings.count.push(start.elapsed());
            anyhow::ensure!(succeeded > 0, "no succeeded job counted");

            let recent = kiribi::chrono::Utc::now() - kiribi::chrono::TimeDelta::minutes(10);
            let start = Instant::now();
            let counted = self
                .kiribi
                .count(JobFilter::new().finished_after(recent))
                .await?;
            timings.count_recent.push(start.elapsed());
            anyhow::ensure!(
                counted > 0 && counted < n,
                "{counted} finished in 10 minutes"
            );

            let (took, found) = self.search_one_payload(n).await?;
            timings.text.push(took);
            anyhow::ensure!(found > 0, "the text search found nothing");
        }

        let start = Instant::now();
        self.kiribi.create_search_indexes().await?;
        timings.search_index = start.elapsed();
        for _ in 0..20 {
            let (took, found) = self.search_one_payload(n).await?;
            timings.text_indexed.push(took);
            anyhow::ensure!(found == 1, "{found} jobs found by text");

            let recent = kiribi::chrono::Utc::now() - kiribi::chrono::TimeDelta::minutes(10);
            let start = Instant::now();
            let counted = self
                .kiribi
                .count(JobFilter::new().created_after(recent))
                .await?;
            timings.count_created.push(start.elapsed());
            anyhow::ensure!(
                counted > 0 && counted < n,
                "{counted} created in 10 minutes"
            );
        }
        Ok(Some(timings))
    }

    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>> {
        Ok(start_workers(&self.kiribi, concurrency))
    }

    async fn unfinished(&self) -> Result<Option<u64>> {
        let n: i64 = if let Some(pool) = self.kiribi.sqlite_pool() {
            sqlx::query_scalar(UNFINISHED).fetch_one(pool).await?
        } else if let Some(pool) = self.kiribi.pg_pool() {
            sqlx::query_scalar(UNFINISHED).fetch_one(pool).await?
        } else {
            anyhow::bail!("kiribi handle without a SQLite or PostgreSQL pool")
        };
        Ok(Some(u64::try_from(n)?))
    }

    async fn create_search_indexes(&self) -> Result<bool> {
        self.kiribi.create_search_indexes().await?;
        Ok(true)
    }

    async fn enqueue_timed(&self, seq: u64, delay: Duration, fail_first: bool) -> Result<bool> {
        Timed::enqueue_with(
            &self.kiribi,
            Timed { seq, fail_first },
            EnqueueOptions::new().delay(delay),
        )
        .await?;
        Ok(true)
    }

    async fn enqueue_per_key(&self, n: u64, keys: u64) -> Result<bool> {
        let mut seq = 0;
        while seq < n {
            let end = (seq + 1000).min(n);
            let jobs = (seq..end).map(|seq| PerKey {
                key: seq % keys,
                seq,
            });
            PerKey::enqueue_many(&self.kiribi, jobs).await?;
            seq = end;
        }
        Ok(true)
    }

    async fn enqueue_logging(&self, n: u64) -> Result<bool> {
        let mut seq = 0;
        while seq < n {
            let end = (seq + 1000).min(n);
            Logging::enqueue_many(&self.kiribi, (seq..end).map(|seq| Logging { seq })).await?;
            seq = end;
        }
        Ok(true)
    }

    async fn enqueue_flow(&self, steps: u64) -> Result<bool> {
        // Three levels: one root, `steps - 2` steps after it, one sink after them all.
        let middle: Vec<String> = (1..steps - 1).map(|seq| format!("s{seq}")).collect();
        let mut flow = kiribi::Flow::new("bench").step("root", Step { seq: 0 });
        for (seq, name) in (1..).zip(&middle) {
            flow = flow.step_after(name.clone(), Step { seq }, ["root"]);
        }
        flow.step_after("sink", Step { seq: steps - 1 }, middle)
            .enqueue(&self.kiribi)
            .await?;
        Ok(true)
    }

    async fn enqueue_unique(&self, key: u64) -> Result<Option<bool>> {
        let job = UniqueNoop { key };
        let enqueued = UniqueNoop::insert(&self.kiribi, job, EnqueueOptions::new()).await?;
        Ok(Some(enqueued.duplicate))
    }

    async fn timed_due_us(&self) -> Result<Vec<(u64, i64)>> {
        let jobs = self
            .kiribi
            .jobs(JobFilter::new().name(Timed::CONFIG.name).limit(100_000))
            .await?;
        jobs.iter()
            .map(|job| {
                let seq = job.payload["seq"]
                    .as_u64()
                    .with_context(|| format!("timed job {} without a `seq`", job.id))?;
                Ok((seq, job.run_at.timestamp_micros()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use kiribi::Job;

    use super::Timed;
    use crate::contenders::RETRY_DELAY;

    #[test]
    fn timed_job_retries_after_the_bench_retry_delay() {
        assert_eq!(Timed::CONFIG.retry.retry_delay, RETRY_DELAY);
        assert_eq!(Timed::CONFIG.retry.delay_after(1), RETRY_DELAY);
    }
}
