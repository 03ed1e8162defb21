//! `SqliteStorage`: kiribi's `Storage` contract on one SQLite file.
//!
//! Concurrency model. All writes of one `SqliteStorage` go through a pool of exactly
//! one connection, so a process never contends with itself; other processes are
//! waited for by SQLite's busy handler and, past that, by `retry_on_contention`.
//! A write is either one statement or a `BEGIN IMMEDIATE` transaction: a deferred
//! transaction that reads and then writes can fail with `SQLITE_BUSY` in WAL mode
//! without ever waiting. A batch of completions and an enqueue are each one
//! statement, and a claim a read and one statement (see the `sql` module), so one
//! or two round trips to the connection's thread, which is most of their cost:
//! the attempt history of a failed attempt is written by the trigger
//! `kiribi_attempt_fails`, inside the statement that changes the job, and a running
//! or succeeded attempt is read from the job row (see the `lean_indexes`
//! migration), the same rules the PostgreSQL backend keeps in its CTEs.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use kiribi_core::backend::{
    ClaimRequest, ClaimedJob, Enqueued, Lease, Listener, NewFlow, NewJob, NewSchedule, Outcome,
    OutcomeColumns, ReapDecision, Rollup, RollupProgress, ScheduleTick, WorkerId,
};
use kiribi_core::{
    AttemptRecord, Error, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, LogLine,
    NewLogLine, ProgressUpdate, QueueInfo, Retention, ScheduleRecord, Storage,
};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, Sqlite, SqlitePool};

use crate::cancel_listen::CancelListener;
use crate::enqueue::{self, insert_jobs};
use crate::error::{BACKEND, retry_on_contention, storage_error};
use crate::listen::CommitWatcher;
use crate::options::SqliteStorageOptions;
use crate::row::{self, after, attempt_column, duration_ms, now_ms};
use crate::sql;
use crate::{flow, list, logs, migrate, rollup, schedule};

/// How long a caller waits for the single write connection before giving up.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

/// The statements that record outcomes, in the form this SQLite runs fastest.
#[derive(Debug, Clone, Copy)]
struct Completions {
    /// Any outcomes ([`sql::COMPLETE_JOBS`] or [`sql::COMPLETE_JOBS_JSONB`]).
    any: &'static str,
    /// Successes of one lease owner ([`sql::COMPLETE_SUCCESSES`] or
    /// [`sql::COMPLETE_SUCCESSES_JSONB`]).
    successes: &'static str,
    /// The same, all or nothing and without `RETURNING` ([`sql::RECORD_SUCCESSES`]
    /// or [`sql::RECORD_SUCCESSES_JSONB`]).
    record_successes: &'static str,
}

/// kiribi's job storage in a SQLite database.
///
/// Cheap to clone: clones share the same connections. See the
/// [crate documentation](crate) for an example.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The completion statements for this SQLite's version.
    complete_jobs: Completions,
    /// What the commit watcher of [`Storage::listen`] watches, how it falls back
    /// to a connection, and how often it looks; `None` for an in-memory database,
    /// which only this handle can change.
    watch: Option<(PathBuf, SqliteConnectOptions, Duration)>,
}

impl SqliteStorage {
    /// Opens (creating if missing) and migrates the database at `url`:
    /// `sqlite://path/to/jobs.db`, `sqlite:jobs.db`, `sqlite:///absolute/jobs.db` or
    /// `sqlite::memory:`.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidUrl`] for a malformed URL;
    /// - [`Error::MissingDirectory`] if the file's directory does not exist;
    /// - [`Error::SchemaTooNew`] if a newer kiribi migrated the database;
    /// - [`Error::Storage`] if SQLite fails.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(SqliteStorageOptions::from_url(url)?).await
    }

    /// Opens (creating if missing) and migrates the database described by `options`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), except [`Error::InvalidUrl`].
    pub async fn connect_with(options: SqliteStorageOptions) -> Result<Self, Error> {
        if let Some(path) = options.missing_directory() {
            return Err(Error::MissingDirectory { path });
        }
        let mut connect = options.connect_options();
        if !options.get_migrate() {
            match options.get_path() {
                Some(path) if !path.exists() => {
                    return Err(Error::MissingDatabaseFile {
                        path: path.to_path_buf(),
                    });
                }
                _ => connect = connect.create_if_missing(false),
            }
        }
        // `test_before_acquire(false)`: by default sqlx pings a pooled connection
        // before handing it out, to find connections a server dropped. A SQLite
        // connection is a file opened by a thread of this process, which no server
        // can drop, and the ping is one more round trip to that thread per
        // operation: without it kiribi-bench measured W1 5–10 % and W3 2–5 % faster.
        let writer_options = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT);
        let writer_options = if options.is_in_memory() {
            // The database lives as long as its one connection: never close it.
            writer_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            writer_options
        };
        // Switching a new file to WAL takes a lock SQLite's busy handler does not
        // wait for, so processes creating the same file at once retry here.
        let writer = retry_on_contention(|| writer_options.clone().connect_with(connect.clone()))
            .await
            .map_err(storage_error)?;

        let version = match check_version(&writer).await {
            Ok(version) => version,
            Err(error) => {
                writer.close().await;
                return Err(error);
            }
        };
        let complete_jobs = if version >= sql::JSONB_EACH_SINCE {
            Completions {
                any: sql::COMPLETE_JOBS_JSONB,
                successes: sql::COMPLETE_SUCCESSES_JSONB,
                record_successes: sql::RECORD_SUCCESSES_JSONB,
            }
        } else {
            Completions {
                any: sql::COMPLETE_JOBS,
                successes: sql::COMPLETE_SUCCESSES,
                record_successes: sql::RECORD_SUCCESSES,
            }
        };
        let migrated = {
            let writer = &writer;
            let apply = options.get_migrate();
            retry_on_contention(|| async move {
                let mut conn = writer.acquire().await?;
                migrate::migrate(&mut conn, apply).await
            })
            .await
            .map_err(storage_error)?
        };
        if let Err(error) = migrated.check(BACKEND) {
            writer.close().await;
            return Err(error);
        }

        let reader = if options.is_in_memory() {
            writer.clone()
        } else {
            // `query_only` makes a write through a reader an error instead of a
            // second writer that would contend with the first.
            let reader_connect = connect.clone().pragma("query_only", "ON");
            let reader_options = SqlitePoolOptions::new()
                .max_connections(options.get_max_readers())
                .test_before_acquire(false);
            retry_on_contention(|| reader_options.clone().connect_with(reader_connect.clone()))
                .await
                .map_err(storage_error)?
        };
        let watch = options.get_path().map(|path| {
            (
                path.to_path_buf(),
                connect.pragma("query_only", "ON"),
                options.get_watch_interval(),
            )
        });
        Ok(Self {
            writer,
            reader,
            complete_jobs,
            watch,
        })
    }

    /// The pool of the single connection every kiribi write of this storage goes
    /// through.
    ///
    /// Begin your own transactions here (`pool().begin_with("BEGIN IMMEDIATE")`) when
    /// they should enqueue jobs: they then take turns with kiribi's writes in this
    /// process instead of contending with them for SQLite's write lock. Hold such a
    /// transaction briefly: kiribi's workers wait for it.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Runs one write (a statement or a `BEGIN IMMEDIATE` transaction) on the write
    /// connection, retried while other processes hold the lock.
    async fn write<T, F, Fut>(&self, operation: F) -> Result<T, Error>
    where
        F: Fn(PoolConnection<Sqlite>) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        Self::run(&self.writer, &operation).await
    }

    /// Runs one read on a read connection.
    async fn read<T, F, Fut>(&self, operation: F) -> Result<T, Error>
    where
        F: Fn(PoolConnection<Sqlite>) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        Self::run(&self.reader, &operation).await
    }

    async fn run<T, F, Fut>(pool: &SqlitePool, operation: &F) -> Result<T, Error>
    where
        F: Fn(PoolConnection<Sqlite>) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        retry_on_contention(|| async move { operation(pool.acquire().await?).await })
            .await
            .map_err(storage_error)
    }
}

#[kiribi_core::backend::async_trait]
impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, Error> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = &jobs;
        self.write(|mut conn| async move { insert_jobs(&mut conn, jobs).await })
            .await
    }

    async fn enqueue_running(
        &self,
        job: NewJob,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<ClaimedJob, Error> {
        let job = &job;
        let id = self
            .write(|mut conn| async move {
                let now = now_ms();
                let inserted = sqlx::query(sql::INSERT_RUNNING_JOB)
                    .bind(job.name.as_str())
                    .bind(job.queue.as_str())
                    .bind(job.priority)
                    .bind(i64::from(job.max_attempts))
                    .bind(job.payload.to_string())
                    .bind(now)
                    .bind(owner.as_str())
                    .bind(after(now, lease))
                    .execute(&mut *conn)
                    .await?;
                Ok(inserted.last_insert_rowid())
            })
            .await?;
        let lease = Lease::new(JobId::from_i64(id), 1, owner.clone());
        Ok(
            ClaimedJob::new(lease, job.name.clone(), job.payload.clone())
                .with_queue(job.queue.clone())
                .with_max_attempts(job.max_attempts),
        )
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, Error> {
        if request.names.is_empty() || request.limit == 0 {
            return Ok(Vec::new());
        }
        let names = serde_json::Value::from(request.names.clone()).to_string();
        let queues = request
            .queues
            .as_ref()
            .map(|queues| serde_json::Value::from(queues.clone()).to_string());
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        let limited = (!request.limited_names.is_empty())
            .then(|| serde_json::Value::from(request.limited_names.clone()).to_string());
        let (names, queues, limited) = (&names, &queues, &limited);
        let hint = &request.limited_hint;
        let mut claimed = self
            .write(|mut conn| async move {
                let now = now_ms();
                let queues = queues.as_deref();
                let ready = |limit, limited| ReadyClaim {
                    request,
                    now,
                    names,
                    queues,
                    limit,
                    limited,
                };
                let Some(limited) = limited else {
                    return Ok(claim_ready(&mut conn, &ready(limit, None)).await?.0);
                };
                let limited = limited.as_str();
                // Limited jobs first while they may be waiting; else plain jobs
                // first, with a probe for limited ones (see `LimitedHint`).
                let first = hint.may_be_waiting();
                let mut claimed = if first {
                    claim_limited(&mut conn, request, now, limited, queues, limit).await?
                } else {
                    Vec::new()
                };
                let rest = limit - i64::try_from(claimed.len()).unwrap_or(limit);
                if rest == 0 {
                    return Ok(claimed);
                }
                let (plain, waiting) = claim_ready(&mut conn, &ready(rest, Some(limited))).await?;
                let waiting = match waiting {
                    Some(waiting) => waiting,
                    None => {
                        sqlx::query_scalar(sql::LIMITED_WAITING)
                            .bind(now)
                            .bind(queues)
                            .bind(limited)
                            .fetch_one(&mut *conn)
                            .await?
                    }
                };
                let rest = rest - i64::try_from(plain.len()).unwrap_or(rest);
                claimed.extend(plain);
                if waiting && !first && rest > 0 {
                    let more = claim_limited(&mut conn, request, now, limited, queues, rest);
                    claimed.extend(more.await?);
                }
                hint.set(waiting);
                Ok(claimed)
            })
            .await?;
        claimed.sort_by_key(|c| (Reverse(c.priority), c.run_at, c.job.id()));
        let mut claimed: Vec<ClaimedJob> = claimed.into_iter().map(|c| c.job).collect();
        // After the claim committed: a failure here must not lose the claimed jobs
        // (their leases are this worker's, renewed while it runs), so they run
        // without their trace contexts instead.
        if request.trace_contexts && !claimed.is_empty() {
            let jobs = &claimed;
            let traces = self
                .read(|mut conn| async move { enqueue::trace_contexts(&mut conn, jobs).await })
                .await;
            match traces {
                Ok(traces) => {
                    for (job, trace) in claimed.iter_mut().zip(traces) {
                        job.trace_context = trace;
                    }
                }
                Err(error) => tracing::warn!(
                    %error,
                    jobs = claimed.len(),
                    "reading the claimed jobs' trace contexts failed; they run without"
                ),
            }
        }
        Ok(claimed)
    }

    async fn renew_leases(&self, owner: &WorkerId, lease: Duration) -> Result<u64, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::RENEW_LEASES)
                .bind(after(now_ms(), lease))
                .bind(owner.as_str())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected())
        })
        .await
    }

    async fn complete_many(&self, completions: &[(Lease, Outcome)]) -> Result<Vec<bool>, Error> {
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        let statement = self.complete_jobs;
        self.write(|mut conn| async move {
            if let Some(held) = record_successes(&mut conn, statement, completions).await? {
                return Ok(held);
            }
            complete(&mut conn, statement, completions).await
        })
        .await
    }

    async fn release(&self, leases: &[Lease]) -> Result<u64, Error> {
        if leases.is_empty() {
            return Ok(0);
        }
        self.write(|mut conn| async move {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let mut released = 0;
            for lease in leases {
                let applied = sqlx::query(sql::RELEASE_JOB)
                    .bind(lease.id.as_i64())
                    .bind(attempt_column(lease.attempt))
                    .bind(lease.owner.as_str())
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if applied == 1 {
                    sqlx::query(sql::DELETE_ATTEMPT)
                        .bind(lease.id.as_i64())
                        .bind(attempt_column(lease.attempt))
                        .execute(&mut *tx)
                        .await?;
                    released += 1;
                }
            }
            tx.commit().await?;
            Ok(released)
        })
        .await
    }

    async fn reap_expired(&self, decide: ReapDecision<'_>) -> Result<u64, Error> {
        let statement = self.complete_jobs;
        let reaped = self
            .write(|mut conn| async move {
                // One write transaction: no renewal can slip in between finding an
                // expired lease and taking its job back.
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let expired = sqlx::query(sql::EXPIRED_LEASES)
                    .bind(now_ms())
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(row::decode_expired)
                    .collect::<Result<Vec<_>, _>>()?;
                let decided: Vec<(Lease, Outcome)> = expired
                    .iter()
                    .map(|lease| (lease.lease.clone(), decide(lease)))
                    .collect();
                // The trigger `kiribi_attempt_fails` records each lost attempt.
                let applied = complete(&mut tx, statement, &decided).await?;
                tx.commit().await?;
                Ok(applied.into_iter().filter(|&applied| applied).count())
            })
            .await?;
        if reaped > 0 {
            tracing::info!(reaped, "took back sqlite jobs whose lease expired");
        }
        Ok(u64::try_from(reaped).unwrap_or(u64::MAX))
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, Error> {
        self.read(|mut conn| async move {
            sqlx::query(sql::GET_JOB)
                .bind(id.as_i64())
                .fetch_optional(&mut *conn)
                .await?
                .as_ref()
                .map(row::decode_job)
                .transpose()
        })
        .await
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, Error> {
        self.read(|mut conn| async move { list::list(&mut conn, filter).await })
            .await
    }

    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>, Error> {
        self.read(|mut conn| async move {
            sqlx::query(sql::LIST_ATTEMPTS)
                .bind(id.as_i64())
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(row::decode_attempt)
                .collect()
        })
        .await
    }

    async fn cancel(&self, id: JobId) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::CANCEL_JOB)
                .bind(now_ms())
                .bind(id.as_i64())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    async fn cancel_requests(&self, owner: &WorkerId) -> Result<Vec<JobId>, Error> {
        let owner = owner.as_str();
        let ids: Vec<i64> = self
            .read(|mut conn| async move {
                sqlx::query_scalar(sql::CANCEL_REQUESTS)
                    .bind(owner)
                    .fetch_all(&mut *conn)
                    .await
            })
            .await?;
        Ok(ids.into_iter().map(JobId::from_i64).collect())
    }

    /// The commit watcher of [`listen`](Storage::listen), which on each commit
    /// reads the one-row count of cancel requests and wakes only when it changed.
    /// `Ok(None)` for an in-memory database.
    async fn listen_cancels(&self) -> Result<Option<Box<dyn Listener>>, Error> {
        let Some((path, connect, interval)) = &self.watch else {
            return Ok(None);
        };
        let commits = CommitWatcher::open(path.clone(), connect.clone(), *interval).await?;
        let listener = CancelListener::open(commits, self.reader.clone()).await?;
        Ok(Some(Box::new(listener)))
    }

    async fn retry(&self, id: JobId) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::RETRY_JOB)
                .bind(now_ms())
                .bind(id.as_i64())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    async fn make_due(&self, id: JobId) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::MAKE_DUE)
                .bind(now_ms())
                .bind(id.as_i64())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    async fn pause_queue(&self, queue: &str) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::PAUSE_QUEUE)
                .bind(queue)
                .bind(now_ms())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    async fn resume_queue(&self, queue: &str) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::RESUME_QUEUE)
                .bind(queue)
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    async fn queues(&self) -> Result<Vec<QueueInfo>, Error> {
        self.read(|mut conn| async move {
            let now = now_ms();
            let counts: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(sql::QUEUE_COUNTS)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?;
            let paused: Vec<(String, i64)> = sqlx::query_as(sql::PAUSED_QUEUES)
                .fetch_all(&mut *conn)
                .await?;
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            let counts = counts.into_iter().map(|(name, waiting, running, due)| {
                let waited = due.map(|due| row::duration_between(due, now));
                (name, count(waiting), count(running), waited)
            });
            let paused = paused
                .into_iter()
                .map(|(name, at)| (name, row::time_of(at)));
            Ok(kiribi_core::backend::queue_infos(counts, paused))
        })
        .await
    }

    async fn delete(&self, id: JobId) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            let result = sqlx::query(sql::DELETE_JOB)
                .bind(id.as_i64())
                .execute(&mut *conn)
                .await?;
            Ok(result.rows_affected() == 1)
        })
        .await
    }

    /// Watches the header of the database's WAL index (the `-shm` file), or `PRAGMA
    /// data_version` where that cannot be read (see
    /// [`SqliteStorageOptions::watch_interval`]): every commit to the file, by any
    /// connection of any process, wakes the listener within one interval.
    /// `Ok(None)` for an in-memory database.
    async fn listen(&self) -> Result<Option<Box<dyn Listener>>, Error> {
        let Some((path, connect, interval)) = &self.watch else {
            return Ok(None);
        };
        let watcher = CommitWatcher::open(path.clone(), connect.clone(), *interval).await?;
        Ok(Some(Box::new(watcher)))
    }

    async fn roll_up(&self, lag: Duration) -> Result<RollupProgress, Error> {
        self.write(|mut conn| async move { rollup::roll_up(&mut conn, lag).await })
            .await
    }

    async fn rollups(&self, since: DateTime<Utc>) -> Result<Vec<Rollup>, Error> {
        self.read(|mut conn| async move { rollup::rollups(&mut conn, since).await })
            .await
    }

    async fn prune(&self, retention: &Retention, batch: u32) -> Result<u64, Error> {
        self.write(|mut conn| async move { rollup::prune(&mut conn, retention, batch).await })
            .await
    }

    async fn count(&self, filter: &JobFilter) -> Result<u64, Error> {
        self.read(|mut conn| async move { list::count(&mut conn, filter).await })
            .await
    }

    /// Builds the search indexes in one write transaction (see the contract): an
    /// FTS5 trigram index of payloads and last errors, kept by triggers, and an
    /// index of creation times. Building reads every job once, holding the write
    /// lock (about 2 s per million jobs of the benchmark's small payloads, S1);
    /// afterwards every enqueue also tokenizes its payload and last error, a cost
    /// that grows with the payload, while claims and successes pay nothing (W3
    /// drains as fast with the indexes as without them, `BENCHMARKS.md`).
    async fn create_search_indexes(&self) -> Result<(), Error> {
        self.write(|mut conn| async move { list::create_search_indexes(&mut conn).await })
            .await
    }

    async fn enqueue_flow(&self, new: &NewFlow) -> Result<FlowId, Error> {
        let plan = &new.plan()?;
        self.write(|mut conn| async move { flow::insert_flow(&mut conn, new, plan).await })
            .await
    }

    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>, Error> {
        self.read(|mut conn| async move { flow::get(&mut conn, id).await })
            .await
    }

    async fn flows(&self, filter: &FlowFilter) -> Result<Vec<FlowRecord>, Error> {
        self.read(|mut conn| async move { flow::list(&mut conn, filter).await })
            .await
    }

    async fn cancel_flow(&self, id: FlowId) -> Result<u64, Error> {
        self.write(|mut conn| async move { flow::cancel(&mut conn, id).await })
            .await
    }

    async fn dependencies(&self, id: JobId) -> Result<Vec<JobRecord>, Error> {
        self.read(|mut conn| async move { flow::dependencies(&mut conn, id).await })
            .await
    }

    async fn upsert_schedule(&self, new: &NewSchedule) -> Result<ScheduleRecord, Error> {
        self.write(|mut conn| async move { schedule::upsert(&mut conn, new).await })
            .await
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>, Error> {
        self.read(|mut conn| async move { schedule::list(&mut conn).await })
            .await
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, Error> {
        self.write(|mut conn| async move { schedule::delete(&mut conn, name).await })
            .await
    }

    async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_run_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<bool, Error> {
        self.write(|mut conn| async move {
            schedule::set_paused(&mut conn, name, paused, next_run_at).await
        })
        .await
    }

    async fn enqueue_tick(&self, tick: &ScheduleTick) -> Result<Option<JobId>, Error> {
        self.write(|mut conn| async move { schedule::enqueue_tick(&mut conn, tick).await })
            .await
    }

    async fn append_logs(&self, lines: &[NewLogLine]) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        self.write(|mut conn| async move { logs::append(&mut conn, lines).await })
            .await
    }

    async fn set_progress(&self, progress: &[ProgressUpdate]) -> Result<(), Error> {
        if progress.is_empty() {
            return Ok(());
        }
        self.write(|mut conn| async move { logs::set_progress(&mut conn, progress).await })
            .await
    }

    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>, Error> {
        self.read(|mut conn| async move { logs::list(&mut conn, id).await })
            .await
    }
}

/// The oldest SQLite kiribi's SQL runs on: `unixepoch('subsec')` in the attempt
/// trigger needs 3.42; `->>`, built-in `json_each`, `RETURNING` and `UPDATE … FROM`
/// are older. Every SQLite that the sqlx kiribi accepts bundles (libsqlite3-sys
/// 0.30.1 and later: 3.46 and later) is newer; a system SQLite may not be.
pub(crate) const MIN_SQLITE: (u32, u32, u32) = (3, 42, 0);

/// The SQLite library's version; refuses one older than [`MIN_SQLITE`], with what
/// to do.
async fn check_version(writer: &SqlitePool) -> Result<(u32, u32, u32), Error> {
    let version: String = sqlx::query_scalar(sql::SQLITE_VERSION)
        .fetch_one(writer)
        .await
        .map_err(storage_error)?;
    if let Some(found) = parse_version(&version).filter(|&found| found >= MIN_SQLITE) {
        return Ok(found);
    }
    Err(Error::UnsupportedDatabase {
        backend: BACKEND,
        found: version,
        needed: "3.42.0",
        advice: "kiribi links a bundled SQLite unless sqlx is built against the system's \
                 (`sqlite-unbundled`): use the bundled one, or upgrade the system's SQLite",
    })
}

/// `3.46.1` as `(3, 46, 1)`.
fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.split('.').map(str::parse::<u32>);
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// Moves up to `limit` ready jobs without limits to `running`: reads them
/// ([`read_ready`]), then claims what it read, all or none ([`mark_claimed`]);
/// when another process took one meanwhile, claims in one statement instead
/// ([`claim_at_once`]). With `limited` names, also probes whether limited jobs of
/// those wait: `None` when it claimed nothing, as then no row carried the answer.
async fn claim_ready(
    conn: &mut sqlx::SqliteConnection,
    claim: &ReadyClaim<'_>,
) -> Result<(Vec<row::Claimed>, Option<bool>), sqlx::Error> {
    let (read, data_version) = read_ready(conn, claim).await?;
    if read.0.is_empty() || mark_claimed(conn, claim, &read.0, data_version).await? {
        return Ok(read);
    }
    claim_at_once(conn, claim).await
}

/// What [`claim_ready`] claims, and for whom.
struct ReadyClaim<'a> {
    request: &'a ClaimRequest,
    now: i64,
    /// The names to claim, as a JSON array.
    names: &'a str,
    /// The queues to claim from, as a JSON array; `None` for every queue.
    queues: Option<&'a str>,
    limit: i64,
    /// The names of limited jobs to probe for, as a JSON array.
    limited: Option<&'a str>,
}

/// Reads up to `claim.limit` ready jobs without limits, in claim order, as they
/// would be claimed ([`sql::READY_JOBS`] or [`sql::READY_JOBS_PROBING`]), and the
/// connection's `data_version` as it read them (0 when it read none).
async fn read_ready(
    conn: &mut sqlx::SqliteConnection,
    claim: &ReadyClaim<'_>,
) -> Result<((Vec<row::Claimed>, Option<bool>), i64), sqlx::Error> {
    let statement = if claim.limited.is_some() {
        sql::READY_JOBS_PROBING
    } else {
        sql::READY_JOBS
    };
    let mut query = sqlx::query(statement)
        .bind(claim.now)
        .bind(claim.names)
        .bind(claim.queues)
        .bind(claim.limit);
    if let Some(limited) = claim.limited {
        query = query.bind(limited);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let data_version = match rows.first() {
        Some(row) => sqlx::Row::try_get(row, "data_version")?,
        None => 0,
    };
    Ok((
        decode_claimed(&rows, claim.request, claim.limited)?,
        data_version,
    ))
}

/// Moves the jobs [`read_ready`] read to `running` if every one still waits as
/// read, else changes nothing ([`sql::MARK_CLAIMED`]); whether it moved them.
async fn mark_claimed(
    conn: &mut sqlx::SqliteConnection,
    claim: &ReadyClaim<'_>,
    read: &[row::Claimed],
    data_version: i64,
) -> Result<bool, sqlx::Error> {
    let ids: Vec<i64> = read.iter().map(|c| c.job.id().as_i64()).collect();
    // What each job's attempts were when read: one less than the claim's.
    let attempts_read: i64 = read
        .iter()
        .map(|c| attempt_column(c.job.attempt()) - 1)
        .sum();
    let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
    let marked = sqlx::query(sql::MARK_CLAIMED)
        .bind(claim.now)
        .bind(claim.request.worker.as_str())
        .bind(after(claim.now, claim.request.lease))
        .bind(serde_json::Value::from(ids).to_string())
        .bind(count)
        .bind(attempts_read)
        .bind(data_version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    match marked {
        0 => Ok(false),
        marked if marked == read.len() as u64 => Ok(true),
        // The check makes it all or none; the jobs it did mark come back to the
        // ready ones once their leases expire.
        marked => Err(sqlx::Error::Protocol(format!(
            "claiming {} jobs read as ready marked {marked} of them",
            read.len()
        ))),
    }
}

/// Moves up to `claim.limit` ready jobs without limits to `running` in one
/// statement ([`sql::CLAIM_JOBS`] or [`sql::CLAIM_JOBS_PROBING`]).
async fn claim_at_once(
    conn: &mut sqlx::SqliteConnection,
    claim: &ReadyClaim<'_>,
) -> Result<(Vec<row::Claimed>, Option<bool>), sqlx::Error> {
    let statement = if claim.limited.is_some() {
        sql::CLAIM_JOBS_PROBING
    } else {
        sql::CLAIM_JOBS
    };
    let mut query = sqlx::query(statement)
        .bind(claim.now)
        .bind(claim.request.worker.as_str())
        .bind(after(claim.now, claim.request.lease))
        .bind(claim.names)
        .bind(claim.queues)
        .bind(claim.limit);
    if let Some(limited) = claim.limited {
        query = query.bind(limited);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    decode_claimed(&rows, claim.request, claim.limited)
}

/// The claimed jobs in `rows`, and with `limited` names whether limited jobs wait
/// (`None` without rows).
fn decode_claimed(
    rows: &[sqlx::sqlite::SqliteRow],
    request: &ClaimRequest,
    limited: Option<&str>,
) -> Result<(Vec<row::Claimed>, Option<bool>), sqlx::Error> {
    let waiting = match (limited, rows.first()) {
        (Some(_), Some(row)) => Some(sqlx::Row::try_get::<bool, _>(row, "limited_waiting")?),
        _ => None,
    };
    let claimed = rows
        .iter()
        .map(|row| row::decode_claimed(row, &request.worker))
        .collect::<Result<_, _>>()?;
    Ok((claimed, waiting))
}

/// Moves up to `limit` ready limited jobs of the names `limited` (JSON array) to
/// `running` as their groups' limits allow ([`sql::CLAIM_LIMITED_JOBS`]), and
/// records the claims of rate-limited ones, in one write transaction.
async fn claim_limited(
    conn: &mut sqlx::SqliteConnection,
    request: &ClaimRequest,
    now: i64,
    limited: &str,
    queues: Option<&str>,
    limit: i64,
) -> Result<Vec<row::Claimed>, sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let rows = sqlx::query(sql::CLAIM_LIMITED_JOBS)
        .bind(now)
        .bind(request.worker.as_str())
        .bind(after(now, request.lease))
        .bind(limited)
        .bind(queues)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    let mut starts = Vec::new();
    for row in &rows {
        claimed.push(row::decode_claimed(row, &request.worker)?);
        if let Some(start) = row::rate_start(row, now)? {
            starts.push(start);
        }
    }
    // Expired claims only matter beside new ones: the count skips them.
    if !starts.is_empty() {
        sqlx::query(sql::PRUNE_RATE_STARTS)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::RECORD_RATE_STARTS)
            .bind(serde_json::Value::from(starts).to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Records a busy worker's usual batch, successes of one lease owner whose leases
/// all hold, in one statement ([`sql::RECORD_SUCCESSES`]), and reports, in input
/// order, whether each lease held; `None` when it recorded nothing because one
/// did not (other outcomes, flow steps, a lost lease), for [`complete`] to record
/// and report.
async fn record_successes(
    conn: &mut sqlx::SqliteConnection,
    statements: Completions,
    completions: &[(Lease, Outcome)],
) -> Result<Option<Vec<bool>>, sqlx::Error> {
    let Some((owner, successes)) = successes_of_one_owner(completions) else {
        return Ok(None);
    };
    let recorded = sqlx::query(statements.record_successes)
        .bind(successes)
        .bind(now_ms())
        .bind(owner)
        .execute(&mut *conn)
        .await;
    let recorded = match recorded {
        Ok(recorded) => recorded.rows_affected(),
        // A lease that did not hold: the statement recorded nothing.
        Err(sqlx::Error::Database(error))
            if error.kind() == sqlx::error::ErrorKind::NotNullViolation =>
        {
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    if recorded == completions.len() as u64 {
        return Ok(Some(vec![true; completions.len()]));
    }
    // Every row it visited held; the jobs whose rows are gone did not.
    let ids: Vec<i64> = completions
        .iter()
        .map(|(lease, _)| lease.id.as_i64())
        .collect();
    let existing: HashSet<i64> = sqlx::query_scalar(sql::EXISTING_JOBS)
        .bind(serde_json::Value::from(ids).to_string())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    Ok(Some(
        completions
            .iter()
            .map(|(lease, _)| existing.contains(&lease.id.as_i64()))
            .collect(),
    ))
}

/// Stores outcomes on their jobs in one of the `statements` and reports, in input
/// order, whether each lease held.
async fn complete(
    conn: &mut sqlx::SqliteConnection,
    statements: Completions,
    completions: &[(Lease, Outcome)],
) -> Result<Vec<bool>, sqlx::Error> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let mut held = HashSet::with_capacity(completions.len());
    // A busy worker's batch of successes is one statement that runs no trigger; it
    // leaves flow steps (their success must run `kiribi_flow_step_changed`) and
    // lost leases to the statement for any outcome, whose trigger
    // `kiribi_attempt_fails` also records failed attempts.
    if let Some((owner, successes)) = successes_of_one_owner(completions) {
        let recorded = sqlx::query_scalar::<_, i64>(statements.successes)
            .bind(successes)
            .bind(now)
            .bind(owner)
            .fetch_all(&mut *conn)
            .await?;
        held.extend(recorded);
    }
    let rest: Vec<serde_json::Value> = completions
        .iter()
        .filter(|(lease, _)| !held.contains(&lease.id.as_i64()))
        .map(|(lease, outcome)| completion_row(now, lease, outcome))
        .collect();
    if !rest.is_empty() {
        let recorded = sqlx::query_scalar::<_, i64>(statements.any)
            .bind(serde_json::Value::from(rest).to_string())
            .fetch_all(&mut *conn)
            .await?;
        held.extend(recorded);
    }
    Ok(completions
        .iter()
        .map(|(lease, _)| held.contains(&lease.id.as_i64()))
        .collect())
}

/// When every completion is a success of one lease owner (a busy worker's usual
/// batch): that owner, and the batch as `sql::complete_successes!` reads it,
/// `[[id, attempt, result], …]`.
fn successes_of_one_owner(completions: &[(Lease, Outcome)]) -> Option<(&str, String)> {
    let owner = completions.first()?.0.owner.as_str();
    if owner.is_empty() {
        return None;
    }
    let mut successes = Vec::with_capacity(completions.len());
    for (lease, outcome) in completions {
        let Outcome::Succeeded { result, .. } = outcome else {
            return None;
        };
        if lease.owner.as_str() != owner {
            return None;
        }
        let result = result.as_ref().map(serde_json::Value::to_string);
        successes.push((lease.id.as_i64(), attempt_column(lease.attempt), result));
    }
    Some((owner, serde_json::to_string(&successes).ok()?))
}

/// One completion as `sql::complete_jobs!` reads it: `[id, attempt, owner, status,
/// result, error, milliseconds until the next attempt, finished_at, interrupted,
/// released]`.
fn completion_row(now: i64, lease: &Lease, outcome: &Outcome) -> serde_json::Value {
    let columns = OutcomeColumns::of(outcome);
    serde_json::json!([
        lease.id.as_i64(),
        attempt_column(lease.attempt),
        // An expired lease read without an owner fences as `IS NULL`.
        Some(lease.owner.as_str()).filter(|owner| !owner.is_empty()),
        columns.status.as_str(),
        columns.result,
        columns.error,
        columns.retry_in.map(duration_ms),
        columns.finished.then_some(now),
        i64::from(columns.interrupted),
        i64::from(columns.released)
    ])
}

#[cfg(test)]
mod tests {
    use sqlx::ConnectOptions;

    use super::*;

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(parse_version("3.46.1"), Some((3, 46, 1)));
        assert_eq!(parse_version("3.42"), Some((3, 42, 0)));
        assert!(parse_version("3.41.2").unwrap() < MIN_SQLITE);
        assert!(parse_version("3.51.0").unwrap() >= MIN_SQLITE);
        assert_eq!(parse_version("three"), None);
    }

    /// A storage on a fresh file with `n` ready jobs named `job`, and their ids.
    async fn with_ready_jobs(dir: &tempfile::TempDir, n: i64) -> (SqliteStorage, Vec<i64>) {
        let url = format!("sqlite://{}/jobs.db", dir.path().display());
        let storage = SqliteStorage::connect(&url).await.unwrap();
        let jobs = (0..n)
            .map(|n| kiribi_core::backend::NewJob::new("job", serde_json::json!({ "n": n })))
            .collect();
        let ids = kiribi_conformance::enqueue(&storage, jobs).await;
        (storage, ids.iter().map(|id| id.as_i64()).collect())
    }

    async fn status_of(conn: &mut sqlx::SqliteConnection, id: i64) -> String {
        sqlx::query_scalar("SELECT status FROM kiribi_jobs WHERE id = ?")
            .bind(id)
            .fetch_one(conn)
            .await
            .unwrap()
    }

    /// Reads 2 ready jobs for a claim, runs `meanwhile` (with `?1` the first job's
    /// id and `?2` the claim's time), then marks what was read; whether it did,
    /// and the ids claimed by the whole claim, falling back to one statement.
    async fn mark_after(meanwhile: &str) -> (bool, Vec<i64>, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let (storage, ids) = with_ready_jobs(&dir, 2).await;
        let request = ClaimRequest::new(WorkerId::new("w"), Duration::from_secs(60))
            .with_names(["job"])
            .with_limit(2);
        let mut conn = storage.pool().acquire().await.unwrap();
        let claim = ReadyClaim {
            request: &request,
            now: now_ms(),
            names: r#"["job"]"#,
            queues: None,
            limit: 2,
            limited: None,
        };
        let ((read, _), data_version) = read_ready(&mut conn, &claim).await.unwrap();
        assert_eq!(read.len(), 2);
        // Another process: another connection.
        let mut other = SqliteConnectOptions::new()
            .filename(dir.path().join("jobs.db"))
            .connect()
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(meanwhile))
            .bind(ids[0])
            .bind(claim.now)
            .execute(&mut other)
            .await
            .unwrap();
        let marked = mark_claimed(&mut conn, &claim, &read, data_version)
            .await
            .unwrap();
        if !marked {
            let leased: i64 =
                sqlx::query_scalar("SELECT count(*) FROM kiribi_jobs WHERE lease_owner = 'w'")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(leased, 0, "a claim that marked none leased jobs");
        }
        let claimed = if marked {
            read
        } else {
            claim_at_once(&mut conn, &claim).await.unwrap().0
        };
        for job in &claimed {
            let id = job.job.id().as_i64();
            let (status, attempts): (String, i64) =
                sqlx::query_as("SELECT status, attempts FROM kiribi_jobs WHERE id = ?")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap();
            assert_eq!(status, "running", "job {id}");
            assert_eq!(i64::from(job.job.attempt()), attempts, "job {id}'s lease");
        }
        let mut claimed: Vec<i64> = claimed.iter().map(|c| c.job.id().as_i64()).collect();
        claimed.sort_unstable();
        (marked, claimed, ids)
    }

    #[tokio::test]
    async fn a_claim_marks_what_it_read_only_while_all_of_it_waits_as_read() {
        // Nothing happened meanwhile, something else did, or the first job was
        // claimed and given back.
        let (marked, claimed, ids) = mark_after("SELECT ?1, ?2").await;
        assert!(marked);
        assert_eq!(claimed, ids);
        let elsewhere = "INSERT INTO kiribi_queues (name, paused_at) \
                         SELECT 'elsewhere', ?2 WHERE ?1 IS NOT NULL";
        let (marked, claimed, ids) = mark_after(elsewhere).await;
        assert!(marked);
        assert_eq!(claimed, ids);
        let given_back = "UPDATE kiribi_jobs SET status = 'pending', attempts = 0 \
                          WHERE id = ?1 AND ?2 IS NOT NULL";
        let (marked, claimed, ids) = mark_after(given_back).await;
        assert!(marked);
        assert_eq!(claimed, ids);
        // Another process claimed the first job: the claim takes the other at once.
        let claimed_by_other = "UPDATE kiribi_jobs SET status = 'running', attempts = 1, \
                                lease_owner = 'other' WHERE id = ?1 AND ?2 IS NOT NULL";
        let (marked, claimed, ids) = mark_after(claimed_by_other).await;
        assert!(!marked);
        assert_eq!(claimed, ids[1..]);
        // ... and its attempt failed: it waits again, at another attempt.
        let retried = "UPDATE kiribi_jobs SET status = 'retrying', attempts = 1 \
                       WHERE id = ?1 AND ?2 IS NOT NULL";
        let (marked, claimed, ids) = mark_after(retried).await;
        assert!(!marked);
        assert_eq!(claimed, ids, "the retry is due at once");
        // ... or it was snoozed: it waits at the attempts read, but later.
        let snoozed = "UPDATE kiribi_jobs SET run_at = ?2 + 60000 WHERE id = ?1";
        let (marked, claimed, ids) = mark_after(snoozed).await;
        assert!(!marked);
        assert_eq!(claimed, ids[1..]);
        // Deleted, or its queue paused.
        let deleted = "DELETE FROM kiribi_jobs WHERE id = ?1 AND ?2 IS NOT NULL";
        let (marked, claimed, ids) = mark_after(deleted).await;
        assert!(!marked);
        assert_eq!(claimed, ids[1..]);
        let paused = "INSERT INTO kiribi_queues (name, paused_at) \
                      SELECT queue, ?2 FROM kiribi_jobs WHERE id = ?1";
        let (marked, claimed, _) = mark_after(paused).await;
        assert!(!marked);
        assert_eq!(claimed, Vec::<i64>::new());
    }

    /// A storage with 3 jobs claimed by worker `w`, and their successes.
    async fn with_successes(
        dir: &tempfile::TempDir,
    ) -> (SqliteStorage, Vec<ClaimedJob>, Vec<(Lease, Outcome)>) {
        let (storage, _) = with_ready_jobs(dir, 3).await;
        let request = ClaimRequest::new(WorkerId::new("w"), Duration::from_secs(60))
            .with_names(["job"])
            .with_limit(3);
        let claimed = storage.claim(&request).await.unwrap();
        assert_eq!(claimed.len(), 3);
        let completions = claimed
            .iter()
            .map(|job| (job.lease.clone(), Outcome::succeeded(None)))
            .collect();
        (storage, claimed, completions)
    }

    #[tokio::test]
    async fn a_batch_of_successes_with_a_lost_lease_records_nothing_at_first() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, claimed, completions) = with_successes(&dir).await;
        let lost = claimed[1].lease.id.as_i64();
        // The second job's lease went to another worker meanwhile.
        sqlx::query("UPDATE kiribi_jobs SET lease_owner = 'other' WHERE id = ?")
            .bind(lost)
            .execute(storage.pool())
            .await
            .unwrap();
        let mut conn = storage.pool().acquire().await.unwrap();
        assert_eq!(
            record_successes(&mut conn, storage.complete_jobs, &completions)
                .await
                .unwrap(),
            None
        );
        for job in &claimed {
            let id = job.lease.id.as_i64();
            assert_eq!(status_of(&mut conn, id).await, "running", "job {id}");
        }
        drop(conn);
        let held = storage.complete_many(&completions).await.unwrap();
        assert_eq!(held, [true, false, true]);
        let mut conn = storage.pool().acquire().await.unwrap();
        assert_eq!(status_of(&mut conn, lost).await, "running");
        assert_eq!(
            status_of(&mut conn, claimed[0].lease.id.as_i64()).await,
            "succeeded"
        );
    }

    #[tokio::test]
    async fn a_batch_of_successes_whose_job_is_gone_records_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let (storage, claimed, completions) = with_successes(&dir).await;
        let gone = claimed[1].lease.id.as_i64();
        // Its lease was lost and the job then removed (as a prune would).
        sqlx::query("DELETE FROM kiribi_jobs WHERE id = ?")
            .bind(gone)
            .execute(storage.pool())
            .await
            .unwrap();
        let mut conn = storage.pool().acquire().await.unwrap();
        let held = record_successes(&mut conn, storage.complete_jobs, &completions)
            .await
            .unwrap();
        assert_eq!(held, Some(vec![true, false, true]));
        for job in [&claimed[0], &claimed[2]] {
            let id = job.lease.id.as_i64();
            assert_eq!(status_of(&mut conn, id).await, "succeeded", "job {id}");
        }
    }

    #[test]
    fn durations_saturate() {
        assert_eq!(after(i64::MAX - 1, Duration::from_secs(1)), i64::MAX);
        assert_eq!(duration_ms(Duration::MAX), i64::MAX);
    }
}
