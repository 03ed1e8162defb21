//! The job systems under test, each behind [`Contender`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;

use crate::recorder::{Payload, Recorder};

mod kiribi_common;
mod kiribi_postgres;
mod kiribi_sql;
mod kiribi_sqlite;
mod raw_limit_postgres;
mod raw_limit_sqlite;
mod raw_limit_worker;
mod raw_postgres;
mod raw_sqlite;
mod raw_worker;

#[cfg(feature = "peers")]
mod apalis_common;
#[cfg(feature = "peers")]
mod apalis_postgres;
#[cfg(feature = "peers")]
mod apalis_sqlite;
#[cfg(feature = "peers")]
mod graphile;

/// Where a contender's jobs live: a SQLite file or a PostgreSQL database of its own.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// The form passed to a worker subprocess on its command line.
    pub(crate) fn to_arg(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }

    pub(crate) fn from_arg(arg: &str) -> Self {
        match arg.strip_prefix("sqlite:") {
            Some(path) => Self::Sqlite(PathBuf::from(path)),
            None => Self::Postgres(arg.to_owned()),
        }
    }

    pub(crate) fn pg_url(&self) -> Option<&str> {
        match self {
            Self::Postgres(url) => Some(url),
            Self::Sqlite(_) => None,
        }
    }

    pub(crate) fn sqlite_path(&self) -> Result<&PathBuf> {
        match self {
            Self::Sqlite(path) => Ok(path),
            Self::Postgres(_) => anyhow::bail!("a SQLite contender needs a SQLite target"),
        }
    }

    pub(crate) fn require_pg(&self) -> Result<&str> {
        self.pg_url()
            .ok_or_else(|| anyhow::anyhow!("a PostgreSQL contender needs a PostgreSQL target"))
    }
}

/// Which backend a contender runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Every contender, in table order: name, backend, whether it needs the `peers` feature.
pub(crate) const ALL: &[(&str, Backend, bool)] = &[
    ("kiribi-sqlite", Backend::Sqlite, false),
    ("raw-sqlite", Backend::Sqlite, false),
    ("raw-limit-sqlite", Backend::Sqlite, false),
    ("kiribi-sql-sqlite", Backend::Sqlite, false),
    ("apalis-sqlite", Backend::Sqlite, true),
    ("kiribi-postgres", Backend::Postgres, false),
    ("raw-postgres", Backend::Postgres, false),
    ("raw-limit-postgres", Backend::Postgres, false),
    ("kiribi-sql-postgres", Backend::Postgres, false),
    ("apalis-postgres", Backend::Postgres, true),
    ("graphile-worker", Backend::Postgres, true),
    ("graphile-worker-default", Backend::Postgres, true),
];

pub(crate) fn backend_of(name: &str) -> Result<Backend> {
    ALL.iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, b, _)| *b)
        .ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|(n, ..)| *n).collect();
            anyhow::anyhow!("unknown contender `{name}`; expected one of {names:?}")
        })
}

/// Contenders `all` runs only when `--contenders` names them: graphile_worker's default
/// set-up runs one job per slot per poll tick or notification (its direct job loop,
/// `src/runner/job_loop/direct.rs` in 0.14.1), about 8 jobs/s when jobs were queued
/// before it started, so each drain would run into its deadline (minutes). The
/// `kiribi-sql-*` contenders are a diagnosis of the drain (kiribi's SQL under the
/// limit's worker), not a job system.
pub(crate) const OPT_IN: &[&str] = &[
    "graphile-worker-default",
    "kiribi-sql-sqlite",
    "kiribi-sql-postgres",
];

/// What S1 measured: each call's time.
#[derive(Debug, Clone)]
pub(crate) struct StatsTimings {
    /// Rolling up every inserted job, once.
    pub(crate) roll_up: std::time::Duration,
    /// Each `stats(1 hour)` call.
    pub(crate) stats: Vec<std::time::Duration>,
    /// Each `count(status = succeeded)` call.
    pub(crate) count: Vec<std::time::Duration>,
    /// Each `count(finished in the last 10 minutes)` call.
    pub(crate) count_recent: Vec<std::time::Duration>,
    /// Each `jobs(text = one job's payload value)` call: a scan of every payload.
    pub(crate) text: Vec<std::time::Duration>,
    /// Building the search indexes over every job, once.
    pub(crate) search_index: std::time::Duration,
    /// Each text call again, from the search indexes.
    pub(crate) text_indexed: Vec<std::time::Duration>,
    /// Each `count(created in the last 10 minutes)` call, from the search indexes.
    pub(crate) count_created: Vec<std::time::Duration>,
}

/// Whether this build can run the contender.
pub(crate) fn available(name: &str) -> bool {
    ALL.iter()
        .any(|(n, _, peer)| *n == name && (!peer || cfg!(feature = "peers")))
}

/// A job system under test, connected to its [`Target`]; its job body calls
/// [`Recorder::record`] on the recorder it was connected with.
#[async_trait]
pub(crate) trait Contender: Send + Sync {
    /// Enqueues one job through the system's single-job API.
    async fn enqueue_one(&self, job: Payload) -> Result<()>;

    /// Enqueues jobs through the system's batch API, if it has one (`Ok(false)` if not).
    async fn enqueue_batch(&self, jobs: Vec<Payload>) -> Result<bool>;

    /// Inserts `n` pending jobs `seq = 0..n` as fast as possible (setup, not measured).
    async fn insert_pending(&self, n: u64) -> Result<()> {
        let mut seq = 0;
        while seq < n {
            let end = (seq + 1000).min(n);
            let jobs: Vec<_> = (seq..end).map(Payload::new).collect();
            if !self.enqueue_batch(jobs.clone()).await? {
                for job in jobs {
                    self.enqueue_one(job).await?;
                }
            }
            seq = end;
        }
        Ok(())
    }

    /// Inserts `n` jobs that already finished, directly in SQL (`Ok(false)` if the
    /// contender cannot).
    async fn insert_finished(&self, n: u64) -> Result<bool>;

    /// Starts workers running `concurrency` jobs at once in this process.
    async fn start_workers(&self, concurrency: usize) -> Result<Box<dyn Workers>>;

    /// How many jobs are not finished yet in the database (`None` if unknown).
    async fn unfinished(&self) -> Result<Option<u64>>;

    /// Enqueues a timed job (W7) due after `delay`, whose attempts call
    /// [`Recorder::record_start`]; with `fail_first`, its first attempt fails and it
    /// is retried after [`RETRY_DELAY`]. `Ok(false)`: the contender has no delayed
    /// jobs or no retry delay to set.
    async fn enqueue_timed(&self, _seq: u64, _delay: Duration, _fail_first: bool) -> Result<bool> {
        Ok(false)
    }

    /// W9: enqueues `n` jobs over `keys` keys, one at a time per key
    /// (`concurrency = 1` per key), whose body calls [`Recorder::record`] and
    /// brackets itself with [`Recorder::key_started`] and [`Recorder::key_ended`].
    /// `Ok(false)`: the contender has no concurrency keys.
    async fn enqueue_per_key(&self, _n: u64, _keys: u64) -> Result<bool> {
        Ok(false)
    }

    /// W3 with logs: enqueues `n` jobs whose body calls [`Recorder::record`] and
    /// writes 3 log lines to the job's own log. `Ok(false)`: the contender keeps no
    /// per-job logs.
    async fn enqueue_logging(&self, _n: u64) -> Result<bool> {
        Ok(false)
    }

    /// W3 with search: builds the search indexes (before any job is enqueued).
    /// `Ok(false)`: the contender has none.
    async fn create_search_indexes(&self) -> Result<bool> {
        Ok(false)
    }

    /// W10: enqueues one flow of `steps` steps on three levels (one step, then all
    /// but two after it, then one after those), each calling [`Recorder::record`].
    /// `Ok(false)`: the contender has no flows.
    async fn enqueue_flow(&self, _steps: u64) -> Result<bool> {
        Ok(false)
    }

    /// S1: inserts `n` finished jobs spread over the last 50 minutes (in SQL), rolls them
    /// up, and times `stats` over the hour and `count` of the succeeded jobs.
    /// `Ok(None)`: the contender has no statistics.
    async fn stats_timings(&self, _n: u64) -> Result<Option<StatsTimings>> {
        Ok(None)
    }

    /// W8: enqueues a job unique by `key`, one call; whether it was a duplicate.
    /// `Ok(None)`: the contender has no unique jobs.
    async fn enqueue_unique(&self, _key: u64) -> Result<Option<bool>> {
        Ok(None)
    }

    /// Every timed job's `seq` and when it was last due (its stored `run_at`: the
    /// retry's for a job that failed first), Unix microseconds.
    async fn timed_due_us(&self) -> Result<Vec<(u64, i64)>> {
        Ok(Vec::new())
    }
}

/// The retry delay of W7's jobs that fail their first attempt.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(100);

/// Running workers.
#[async_trait]
pub(crate) trait Workers: Send {
    /// Stops them gracefully.
    async fn shutdown(self: Box<Self>) -> Result<()>;
}

/// Connects the named contender to `target`, creating its tables if needed.
pub(crate) async fn connect(
    name: &str,
    target: &Target,
    recorder: Arc<Recorder>,
) -> Result<Box<dyn Contender>> {
    Ok(match name {
        "kiribi-sqlite" => Box::new(kiribi_sqlite::connect(target, recorder).await?),
        "kiribi-postgres" => Box::new(kiribi_postgres::connect(target, recorder).await?),
        "raw-sqlite" => Box::new(raw_sqlite::connect(target, recorder).await?),
        "raw-postgres" => Box::new(raw_postgres::connect(target, recorder).await?),
        "raw-limit-sqlite" => Box::new(raw_limit_sqlite::connect(target, recorder).await?),
        "raw-limit-postgres" => Box::new(raw_limit_postgres::connect(target, recorder).await?),
        "kiribi-sql-sqlite" | "kiribi-sql-postgres" => {
            let url = match target {
                Target::Sqlite(path) => format!("sqlite://{}", path.display()),
                Target::Postgres(_) => target.require_pg()?.to_owned(),
            };
            let kiribi = kiribi_common::connect(&url, recorder.clone()).await?;
            Box::new(kiribi_sql::KiribiSql::new(kiribi, recorder))
        }
        #[cfg(feature = "peers")]
        "apalis-sqlite" => Box::new(apalis_sqlite::connect(target, recorder).await?),
        #[cfg(feature = "peers")]
        "apalis-postgres" => Box::new(apalis_postgres::connect(target, recorder).await?),
        #[cfg(feature = "peers")]
        "graphile-worker" => {
            Box::new(graphile::connect(target, recorder, graphile::Setup::Throughput).await?)
        }
        #[cfg(feature = "peers")]
        "graphile-worker-default" => {
            Box::new(graphile::connect(target, recorder, graphile::Setup::Default).await?)
        }
        other => {
            backend_of(other)?;
            anyhow::bail!("`{other}` needs the `peers` feature: --features peers")
        }
    })
}
