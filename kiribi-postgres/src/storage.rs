//! `PgStorage`: kiribi's `Storage` contract on a PostgreSQL schema.
//!
//! Concurrency model. Every operation is one statement on one pooled connection:
//! claims lock the rows they pick with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claims (across connections, processes and machines) pass each other instead of
//! waiting or handing a job out twice; writes to a job and its attempt history are
//! data-modifying CTEs of one statement, so they commit together. "Now" is the
//! database's `now()`, one clock for every process.

use std::any::Any;
use std::collections::HashSet;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use kiribi_core::backend::{
    ClaimRequest, ClaimedJob, Enqueued, Lease, Listener, Migrated, NewFlow, NewJob, NewSchedule,
    Outcome, OutcomeColumns, ReapDecision, Rollup, RollupProgress, ScheduleTick, WorkerId,
};
use kiribi_core::{
    AttemptRecord, Error, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, JobStatus,
    LogLine, NewLogLine, ProgressUpdate, QueueInfo, Retention, ScheduleRecord, Storage,
};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Postgres, Row, Transaction};

use crate::enqueue::{self, insert_jobs};
use crate::error::{BACKEND, connect_error, storage_error};
use crate::listen::PgJobListener;
use crate::options::{PgStorageOptions, cancel_channel, channel, quote_identifier};
use crate::row::{self, int_column, micros};
use crate::sql;
use crate::{flow, logs, migrate, nodelay, rollup, schedule};

/// A pooled connection idle for this long is pinged before it is handed out. A
/// busy pool hands each connection out again within milliseconds, so its
/// statements pay no ping; a connection that waited longer may have been dropped
/// (a server restart, a proxy's idle timeout) and is checked first.
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(100);

/// kiribi's job storage in a PostgreSQL schema.
///
/// Cheap to clone: clones share one pool. See the [crate documentation](crate) for
/// an example.
#[derive(Debug, Clone)]
pub struct PgStorage {
    pool: PgPool,
    schema: Arc<str>,
    channel: Arc<str>,
    listen: bool,
    acquire_timeout: Duration,
    /// `Some(BEGIN; SET LOCAL search_path …)` when the pool is the caller's and its
    /// connections do not put kiribi's schema first: every operation then runs in a
    /// short transaction that sets it.
    scoped_search_path: Option<Arc<str>>,
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`
    /// or `postgresql://…`) and migrates kiribi's tables in the `public` schema.
    ///
    /// The database must exist; kiribi creates only its own tables.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidUrl`] for a malformed URL (without its password);
    /// - [`Error::MissingDatabase`] if the database does not exist;
    /// - [`Error::SchemaTooNew`] if a newer kiribi migrated the schema;
    /// - [`Error::Storage`] if the server cannot be reached (the error names the
    ///   address) or PostgreSQL fails otherwise.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with(PgStorageOptions::from_url(url)?).await
    }

    /// Connects as `options` say, creates the schema if missing and migrates it.
    ///
    /// Many processes may connect at once, also to a new schema: migrations of one
    /// schema take turns under an advisory lock.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); an invalid [schema](PgStorageOptions::schema)
    /// name is an [`Error::Storage`] that says which names are valid.
    pub async fn connect_with(options: PgStorageOptions) -> Result<Self, Error> {
        let (connect, schema) = options.validate()?;
        // One plain connection first: the pool retries a refused connection until its
        // acquire timeout and then reports only that it timed out, where this one says
        // what happened (no such database, nothing listening at host:port).
        let mut conn = PgConnection::connect_with(connect)
            .await
            .map_err(|error| connect_error(error, connect))?;
        let migrated = migrate::migrate(&mut conn, schema, options.get_migrate()).await;
        if let Err(error) = conn.close().await {
            tracing::debug!(%error, "closing kiribi's migration connection failed");
        }
        check_migrated(migrated)?;

        let set_search_path: Arc<str> =
            sql::set_search_path(&quote_identifier(schema), false).into();
        let pool = PgPoolOptions::new()
            .max_connections(options.get_max_connections())
            .acquire_timeout(options.get_acquire_timeout())
            // sqlx pings every connection before handing it out, by default: one more
            // round trip per enqueue, claim and completion (kiribi-bench W1 and W3
            // measured it). Only a connection that sat idle may have been dropped
            // unnoticed (a server restart, an idle timeout in a proxy), so only those
            // are pinged; a busy connection that breaks fails its statement, which the
            // worker retries and an enqueue reports.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IF_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                // One round trip sets kiribi's search_path and returns the row of the
                // connection's TCP ends, by which nodelay finds its socket.
                let set_up = format!("{set_search_path}; {}", nodelay::TCP_ENDS);
                Box::pin(async move {
                    let ends = sqlx::raw_sql(AssertSqlSafe(set_up))
                        .fetch_one(&mut *conn)
                        .await?;
                    nodelay::disable_nagle(&ends).await;
                    Ok(())
                })
            })
            .connect_lazy_with(connect.clone());
        Ok(Self::with_pool(pool, schema, &options, None))
    }

    /// Uses a pool the application already has, and migrates kiribi's schema through
    /// it. Of `options`, only the schema, [`listen`](PgStorageOptions::listen) and
    /// the acquire timeout of the listener's connection apply; the URL and the pool
    /// size are the pool's own (start from `PgStorageOptions::default()`).
    ///
    /// kiribi cannot set `search_path` on the connections of a pool it did not make.
    /// It checks one connection: if kiribi's schema is its current schema (the first
    /// one on its `search_path` that exists, as for the default `public`), kiribi
    /// trusts the pool's `search_path`. Otherwise every kiribi operation runs in a short
    /// transaction that begins with `SET LOCAL search_path`, which costs two more round
    /// trips; to avoid them, give the pool kiribi's schema first, for example with
    /// `PgConnectOptions::options([("search_path", "jobs,public")])`. The same goes for
    /// [`enqueue_on`](crate::enqueue_on) in your transactions.
    ///
    /// Nor does kiribi set `TCP_NODELAY` on them, as it does on its own connections
    /// while sqlx 0.9.0 leaves Nagle's algorithm on: over TLS, or across a network,
    /// a statement of more than a few KB can then wait ~40 ms for the server's
    /// delayed acknowledgement.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use kiribi_postgres::{PgStorage, PgStorageOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::PgPool::connect("postgres://postgres@localhost/app").await?;
    /// let storage = PgStorage::from_pool(pool.clone(), PgStorageOptions::default()).await?;
    /// assert_eq!(storage.schema(), "public");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::SchemaTooNew`] if a newer kiribi migrated the schema;
    /// [`Error::Storage`] for an invalid schema name or if PostgreSQL fails.
    pub async fn from_pool(pool: PgPool, options: PgStorageOptions) -> Result<Self, Error> {
        let schema = options.validated_schema()?;
        let mut conn = pool.acquire().await.map_err(storage_error)?;
        check_migrated(migrate::migrate(&mut conn, schema, options.get_migrate()).await)?;
        let current: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut *conn)
            .await
            .map_err(storage_error)?;
        drop(conn);
        let scoped = (current.as_deref() != Some(schema)).then(|| {
            let set = sql::set_search_path(&quote_identifier(schema), true);
            Arc::from(format!("BEGIN; {set}"))
        });
        Ok(Self::with_pool(pool, schema, &options, scoped))
    }

    fn with_pool(
        pool: PgPool,
        schema: &str,
        options: &PgStorageOptions,
        scoped_search_path: Option<Arc<str>>,
    ) -> Self {
        Self {
            pool,
            schema: schema.into(),
            channel: channel(schema).into(),
            listen: options.get_listen(),
            acquire_timeout: options.get_acquire_timeout(),
            scoped_search_path,
        }
    }

    /// The pool kiribi runs its statements on.
    ///
    /// Begin your own transactions here when they should enqueue jobs with
    /// [`enqueue_on`](crate::enqueue_on): unless the pool came from
    /// [`from_pool`](Self::from_pool), its connections have `search_path` set to
    /// `"<schema>", public`, so kiribi's tables are found without a schema name.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema that holds kiribi's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The stored trace contexts of claimed jobs, on a session of their own.
    async fn traces_of(&self, claimed: &[ClaimedJob]) -> Result<Vec<Option<String>>, sqlx::Error> {
        let mut session = self.session().await?;
        let traces = enqueue::trace_contexts(&mut session, claimed).await?;
        session.finish().await?;
        Ok(traces)
    }

    /// A connection whose `search_path` puts kiribi's schema first.
    async fn session(&self) -> Result<Session, sqlx::Error> {
        match &self.scoped_search_path {
            None => Ok(Session::Pooled(self.pool.acquire().await?)),
            Some(begin) => Ok(Session::Scoped(
                self.pool
                    .begin_with(AssertSqlSafe(Arc::clone(begin)))
                    .await?,
            )),
        }
    }
}

/// Turns the migrator's answer into `connect`'s.
fn check_migrated(migrated: Result<Migrated, sqlx::Error>) -> Result<(), Error> {
    migrated.map_err(storage_error)?.check(BACKEND).map(drop)
}

/// One operation's connection: a pooled connection, or a transaction that set
/// `search_path` for a caller's pool.
enum Session {
    Pooled(PoolConnection<Postgres>),
    Scoped(Transaction<'static, Postgres>),
}

impl Session {
    /// Ends the operation: commits the transaction of a scoped session.
    async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Session::Pooled(_) => Ok(()),
            Session::Scoped(tx) => tx.commit().await,
        }
    }
}

impl Deref for Session {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Session::Pooled(conn) => conn,
            Session::Scoped(tx) => tx,
        }
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Session::Pooled(conn) => conn,
            Session::Scoped(tx) => tx,
        }
    }
}

#[kiribi_core::backend::async_trait]
impl Storage for PgStorage {
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
        async {
            let mut session = self.session().await?;
            let ids = insert_jobs(&mut session, &jobs).await?;
            session.finish().await?;
            Ok(ids)
        }
        .await
        .map_err(storage_error)
    }

    async fn enqueue_running(
        &self,
        job: NewJob,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<ClaimedJob, Error> {
        let id: i64 = async {
            let mut session = self.session().await?;
            let id = sqlx::query_scalar(sql::INSERT_RUNNING_JOB)
                .bind(job.name.as_str())
                .bind(job.queue.as_str())
                .bind(job.priority)
                .bind(int_column(job.max_attempts))
                .bind(job.payload.to_string())
                .bind(owner.as_str())
                .bind(micros(lease))
                .fetch_one(&mut *session)
                .await?;
            session.finish().await?;
            Ok(id)
        }
        .await
        .map_err(storage_error)?;
        let lease = Lease::new(JobId::from_i64(id), 1, owner.clone());
        Ok(ClaimedJob::new(lease, job.name, job.payload)
            .with_queue(job.queue)
            .with_max_attempts(job.max_attempts))
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, Error> {
        if request.names.is_empty() || request.limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        async {
            let mut session = self.session().await?;
            let mut claimed = if request.limited_names.is_empty() {
                claim_ready(&mut session, request, limit).await?.0
            } else {
                claim_with_limited(&mut session, request, limit).await?
            };
            session.finish().await?;
            // After the claim committed: a failure here must not lose the claimed
            // jobs (their leases are this worker's, renewed while it runs), so
            // they run without their trace contexts instead.
            if request.trace_contexts && !claimed.is_empty() {
                match self.traces_of(&claimed).await {
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
        .await
        .map_err(storage_error)
    }

    async fn renew_leases(&self, owner: &WorkerId, lease: Duration) -> Result<u64, Error> {
        async {
            let mut session = self.session().await?;
            let renewed = sqlx::query(sql::RENEW_LEASES)
                .bind(micros(lease))
                .bind(owner.as_str())
                .execute(&mut *session)
                .await?
                .rows_affected();
            session.finish().await?;
            Ok(renewed)
        }
        .await
        .map_err(storage_error)
    }

    async fn complete_many(&self, completions: &[(Lease, Outcome)]) -> Result<Vec<bool>, Error> {
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        async {
            let mut session = self.session().await?;
            let held = complete(&mut session, completions).await?;
            session.finish().await?;
            Ok(held)
        }
        .await
        .map_err(storage_error)
    }

    async fn release(&self, leases: &[Lease]) -> Result<u64, Error> {
        let mut ids = Vec::with_capacity(leases.len());
        let mut attempts = Vec::with_capacity(leases.len());
        let mut owners = Vec::with_capacity(leases.len());
        for lease in leases {
            // An attempt number no stored attempt can have: that lease cannot hold.
            if let Ok(attempt) = i32::try_from(lease.attempt) {
                ids.push(lease.id.as_i64());
                attempts.push(attempt);
                owners.push(lease.owner.as_str());
            }
        }
        if ids.is_empty() {
            return Ok(0);
        }
        async {
            let mut session = self.session().await?;
            let released = sqlx::query(sql::RELEASE_JOBS)
                .bind(ids)
                .bind(attempts)
                .bind(owners)
                .fetch_all(&mut *session)
                .await?
                .len();
            session.finish().await?;
            Ok(u64::try_from(released).unwrap_or(u64::MAX))
        }
        .await
        .map_err(storage_error)
    }

    async fn reap_expired(&self, decide: ReapDecision<'_>) -> Result<u64, Error> {
        let reaped = async {
            let mut session = self.session().await?;
            // One transaction: the expired rows stay locked between reading them and
            // storing what the policy decided, so no renewal can slip in between.
            let mut tx = session.begin().await?;
            let expired = sqlx::query(sql::EXPIRED_LEASES)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(row::decode_expired)
                .collect::<Result<Vec<_>, _>>()?;
            let decided: Vec<(Lease, Outcome)> = expired
                .iter()
                .map(|lease| (lease.lease.clone(), decide(lease)))
                .collect();
            let held = complete(&mut tx, &decided).await?;
            tx.commit().await?;
            session.finish().await?;
            Ok(held.into_iter().filter(|&held| held).count())
        }
        .await
        .map_err(storage_error)?;
        if reaped > 0 {
            tracing::info!(reaped, "took back postgres jobs whose lease expired");
        }
        Ok(u64::try_from(reaped).unwrap_or(u64::MAX))
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let job = sqlx::query(sql::GET_JOB)
                .bind(id.as_i64())
                .fetch_optional(&mut *session)
                .await?
                .as_ref()
                .map(row::decode_job)
                .transpose()?;
            session.finish().await?;
            Ok(job)
        }
        .await
        .map_err(storage_error)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, Error> {
        let conditions = filter_conditions(filter, false);
        let mut text = String::from(sql::LIST_JOBS);
        let parameters = push_conditions(&mut text, &conditions);
        text.push_str(" ORDER BY id DESC LIMIT $");
        text.push_str(&(parameters + 1).to_string());
        let limit = i64::try_from(filter.get_limit()).unwrap_or(i64::MAX);
        async {
            let mut session = self.session().await?;
            let query = bind_filter(sqlx::query(AssertSqlSafe(text)), filter)
                .persistent(planned_per_call(filter));
            let jobs = query
                .bind(limit)
                .fetch_all(&mut *session)
                .await?
                .iter()
                .map(row::decode_job)
                .collect::<Result<Vec<_>, _>>()?;
            session.finish().await?;
            Ok(jobs)
        }
        .await
        .map_err(storage_error)
    }

    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let attempts = sqlx::query(sql::LIST_ATTEMPTS)
                .bind(id.as_i64())
                .fetch_all(&mut *session)
                .await?
                .iter()
                .map(row::decode_attempt)
                .collect::<Result<Vec<_>, _>>()?;
            session.finish().await?;
            Ok(attempts)
        }
        .await
        .map_err(storage_error)
    }

    /// Also announces a running job's cancel on `NOTIFY kiribi_stop.<schema>`.
    async fn cancel(&self, id: JobId) -> Result<bool, Error> {
        let channel = cancel_channel(&self.schema);
        async {
            let mut session = self.session().await?;
            let changed = sqlx::query(sql::CANCEL_JOB)
                .bind(id.as_i64())
                .bind(&channel)
                .fetch_optional(&mut *session)
                .await?
                .is_some();
            session.finish().await?;
            Ok(changed)
        }
        .await
        .map_err(storage_error)
    }

    async fn cancel_requests(&self, owner: &WorkerId) -> Result<Vec<JobId>, Error> {
        async {
            let mut session = self.session().await?;
            let ids: Vec<i64> = sqlx::query_scalar(sql::CANCEL_REQUESTS)
                .bind(owner.as_str())
                .fetch_all(&mut *session)
                .await?;
            session.finish().await?;
            Ok(ids.into_iter().map(JobId::from_i64).collect())
        }
        .await
        .map_err(storage_error)
    }

    /// Subscribes to `NOTIFY kiribi_stop.<schema>` on a connection of its own;
    /// `Ok(None)` when [`PgStorageOptions::listen`] turned listening off (workers
    /// then look for cancel requests at each lease renewal).
    async fn listen_cancels(&self) -> Result<Option<Box<dyn Listener>>, Error> {
        if !self.listen {
            return Ok(None);
        }
        let listener = PgJobListener::connect(
            &self.pool.connect_options(),
            &cancel_channel(&self.schema),
            &self.schema,
            self.acquire_timeout,
        )
        .await?;
        Ok(Some(Box::new(listener)))
    }

    async fn retry(&self, id: JobId) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let retried = match sqlx::query(sql::RETRY_JOB)
                .bind(id.as_i64())
                .bind(&*self.channel)
                .fetch_optional(&mut *session)
                .await
            {
                Ok(row) => row.is_some(),
                // A concurrent retry of another job with the same unique key won.
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                    return Ok(false);
                }
                Err(error) => return Err(error),
            };
            session.finish().await?;
            Ok(retried)
        }
        .await
        .map_err(storage_error)
    }

    async fn make_due(&self, id: JobId) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let made_due = sqlx::query(sql::MAKE_DUE)
                .bind(id.as_i64())
                .bind(&*self.channel)
                .fetch_optional(&mut *session)
                .await?
                .is_some();
            session.finish().await?;
            Ok(made_due)
        }
        .await
        .map_err(storage_error)
    }

    async fn delete(&self, id: JobId) -> Result<bool, Error> {
        self.execute_one(sql::DELETE_JOB, id).await
    }

    async fn pause_queue(&self, queue: &str) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let paused = sqlx::query(sql::PAUSE_QUEUE)
                .bind(queue)
                .execute(&mut *session)
                .await?
                .rows_affected()
                == 1;
            session.finish().await?;
            Ok(paused)
        }
        .await
        .map_err(storage_error)
    }

    async fn resume_queue(&self, queue: &str) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let resumed = sqlx::query(sql::RESUME_QUEUE)
                .bind(queue)
                .bind(&*self.channel)
                .fetch_optional(&mut *session)
                .await?
                .is_some();
            session.finish().await?;
            Ok(resumed)
        }
        .await
        .map_err(storage_error)
    }

    async fn queues(&self) -> Result<Vec<QueueInfo>, Error> {
        async {
            let mut session = self.session().await?;
            let counts: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(sql::QUEUE_COUNTS)
                .fetch_all(&mut *session)
                .await?;
            let paused: Vec<(String, chrono::DateTime<chrono::Utc>)> =
                sqlx::query_as(sql::PAUSED_QUEUES)
                    .fetch_all(&mut *session)
                    .await?;
            session.finish().await?;
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            let counts = counts
                .into_iter()
                .map(|(name, waiting, running, waited_us)| {
                    let waited =
                        waited_us.map(|us| Duration::from_micros(u64::try_from(us).unwrap_or(0)));
                    (name, count(waiting), count(running), waited)
                });
            Ok(kiribi_core::backend::queue_infos(counts, paused))
        }
        .await
        .map_err(storage_error)
    }

    /// Subscribes to `NOTIFY kiribi_jobs.<schema>` on a connection of its own;
    /// `Ok(None)` when [`PgStorageOptions::listen`] turned listening off.
    async fn listen(&self) -> Result<Option<Box<dyn Listener>>, Error> {
        if !self.listen {
            return Ok(None);
        }
        let listener = PgJobListener::connect(
            &self.pool.connect_options(),
            &self.channel,
            &self.schema,
            self.acquire_timeout,
        )
        .await?;
        Ok(Some(Box::new(listener)))
    }

    async fn roll_up(&self, lag: Duration) -> Result<RollupProgress, Error> {
        async {
            let mut session = self.session().await?;
            let progress = rollup::roll_up(&mut session, lag).await?;
            session.finish().await?;
            Ok(progress)
        }
        .await
        .map_err(storage_error)
    }

    async fn rollups(&self, since: DateTime<Utc>) -> Result<Vec<Rollup>, Error> {
        async {
            let mut session = self.session().await?;
            let rollups = rollup::rollups(&mut session, since).await?;
            session.finish().await?;
            Ok(rollups)
        }
        .await
        .map_err(storage_error)
    }

    async fn prune(&self, retention: &Retention, batch: u32) -> Result<u64, Error> {
        async {
            let mut session = self.session().await?;
            let deleted = rollup::prune(&mut session, retention, batch).await?;
            session.finish().await?;
            Ok(deleted)
        }
        .await
        .map_err(storage_error)
    }

    /// Builds the search indexes (see the contract): GIN trigram indexes
    /// (extension `pg_trgm`, created if missing, which needs the right to create
    /// it in the schema) of the payload text and the last error, and a B-tree of
    /// creation times, each `CONCURRENTLY` (without blocking enqueues and claims)
    /// unless the storage scopes its `search_path` in a transaction. An index that
    /// an interrupted build left invalid is dropped and built again. Afterwards
    /// every enqueue, claim and completion also writes the GIN indexes (an update
    /// of a job writes a new entry in every index), the cost that `BENCHMARKS.md`
    /// measures.
    async fn create_search_indexes(&self) -> Result<(), Error> {
        async {
            let mut session = self.session().await?;
            let concurrently = matches!(session, Session::Pooled(_));
            sqlx::query(sql::CREATE_TRIGRAM_EXTENSION)
                .execute(&mut *session)
                .await?;
            let invalid: Vec<String> = sqlx::query_scalar(sql::INVALID_SEARCH_INDEXES)
                .fetch_all(&mut *session)
                .await?;
            for name in invalid {
                let drop = format!("DROP INDEX IF EXISTS \"{}\"", name.replace('"', "\"\""));
                sqlx::raw_sql(AssertSqlSafe(drop))
                    .execute(&mut *session)
                    .await?;
            }
            for (name, definition) in sql::SEARCH_INDEXES {
                let create = format!(
                    "CREATE INDEX {}IF NOT EXISTS {name} ON kiribi_jobs {definition}",
                    if concurrently { "CONCURRENTLY " } else { "" }
                );
                sqlx::raw_sql(AssertSqlSafe(create))
                    .execute(&mut *session)
                    .await?;
            }
            // Statistics of the new expression index, for the planner's estimates.
            sqlx::query("ANALYZE kiribi_jobs")
                .execute(&mut *session)
                .await?;
            session.finish().await
        }
        .await
        .map_err(storage_error)
    }

    async fn count(&self, filter: &JobFilter) -> Result<u64, Error> {
        let conditions = filter_conditions(filter, true);
        let mut text = String::from("SELECT count(*) FROM kiribi_jobs");
        push_conditions(&mut text, &conditions);
        async {
            let mut session = self.session().await?;
            let counted: i64 = bind_filter(sqlx::query(AssertSqlSafe(text)), filter)
                .persistent(planned_per_call(filter))
                .fetch_one(&mut *session)
                .await?
                .try_get(0)?;
            session.finish().await?;
            Ok(u64::try_from(counted).unwrap_or(0))
        }
        .await
        .map_err(storage_error)
    }

    async fn enqueue_flow(&self, new: &NewFlow) -> Result<FlowId, Error> {
        let plan = new.plan()?;
        async {
            let mut session = self.session().await?;
            let id = flow::insert_flow(&mut session, new, &plan).await?;
            session.finish().await?;
            Ok(id)
        }
        .await
        .map_err(storage_error)
    }

    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let record = flow::get(&mut session, id).await?;
            session.finish().await?;
            Ok(record)
        }
        .await
        .map_err(storage_error)
    }

    async fn flows(&self, filter: &FlowFilter) -> Result<Vec<FlowRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let records = flow::list(&mut session, filter).await?;
            session.finish().await?;
            Ok(records)
        }
        .await
        .map_err(storage_error)
    }

    /// Also announces its running steps' cancels on `NOTIFY kiribi_stop.<schema>`.
    async fn cancel_flow(&self, id: FlowId) -> Result<u64, Error> {
        let channel = cancel_channel(&self.schema);
        async {
            let mut session = self.session().await?;
            let changed = flow::cancel(&mut session, id, &channel).await?;
            session.finish().await?;
            Ok(changed)
        }
        .await
        .map_err(storage_error)
    }

    async fn dependencies(&self, id: JobId) -> Result<Vec<JobRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let jobs = flow::dependencies(&mut session, id).await?;
            session.finish().await?;
            Ok(jobs)
        }
        .await
        .map_err(storage_error)
    }

    async fn upsert_schedule(&self, new: &NewSchedule) -> Result<ScheduleRecord, Error> {
        async {
            let mut session = self.session().await?;
            let record = schedule::upsert(&mut session, new).await?;
            session.finish().await?;
            Ok(record)
        }
        .await
        .map_err(storage_error)
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRecord>, Error> {
        async {
            let mut session = self.session().await?;
            let records = schedule::list(&mut session).await?;
            session.finish().await?;
            Ok(records)
        }
        .await
        .map_err(storage_error)
    }

    async fn delete_schedule(&self, name: &str) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let deleted = schedule::delete(&mut session, name).await?;
            session.finish().await?;
            Ok(deleted)
        }
        .await
        .map_err(storage_error)
    }

    async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_run_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let changed = schedule::set_paused(&mut session, name, paused, next_run_at).await?;
            session.finish().await?;
            Ok(changed)
        }
        .await
        .map_err(storage_error)
    }

    async fn enqueue_tick(&self, tick: &ScheduleTick) -> Result<Option<JobId>, Error> {
        async {
            let mut session = self.session().await?;
            let id = schedule::enqueue_tick(&mut session, tick).await?;
            session.finish().await?;
            Ok(id)
        }
        .await
        .map_err(storage_error)
    }

    async fn append_logs(&self, lines: &[NewLogLine]) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        async {
            let mut session = self.session().await?;
            logs::append(&mut session, lines).await?;
            session.finish().await
        }
        .await
        .map_err(storage_error)
    }

    async fn set_progress(&self, progress: &[ProgressUpdate]) -> Result<(), Error> {
        if progress.is_empty() {
            return Ok(());
        }
        async {
            let mut session = self.session().await?;
            logs::set_progress(&mut session, progress).await?;
            session.finish().await
        }
        .await
        .map_err(storage_error)
    }

    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>, Error> {
        async {
            let mut session = self.session().await?;
            let lines = logs::list(&mut session, id).await?;
            session.finish().await?;
            Ok(lines)
        }
        .await
        .map_err(storage_error)
    }
}

impl PgStorage {
    /// Runs a statement that takes ($1) a job id and reports whether it changed
    /// that job.
    async fn execute_one(&self, statement: &'static str, id: JobId) -> Result<bool, Error> {
        async {
            let mut session = self.session().await?;
            let changed = sqlx::query(statement)
                .bind(id.as_i64())
                .execute(&mut *session)
                .await?
                .rows_affected()
                == 1;
            session.finish().await?;
            Ok(changed)
        }
        .await
        .map_err(storage_error)
    }
}

/// Claims up to `limit` jobs, limited ones of the request's limited names among
/// them: first while its [`LimitedHint`](kiribi_core::backend::LimitedHint) says
/// they may be waiting, else after the plain ones, when the plain claim's probe saw
/// them (see the `Storage` contract).
async fn claim_with_limited(
    conn: &mut PgConnection,
    request: &ClaimRequest,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let hint = &request.limited_hint;
    let first = hint.may_be_waiting();
    let mut claimed = if first {
        claim_limited(conn, request, limit).await?
    } else {
        Vec::new()
    };
    let rest = limit - i64::try_from(claimed.len()).unwrap_or(limit);
    if rest == 0 {
        return Ok(claimed);
    }
    let (plain, waiting) = claim_ready(conn, request, rest).await?;
    let rest = rest - i64::try_from(plain.len()).unwrap_or(rest);
    claimed.extend(plain);
    if waiting && !first && rest > 0 {
        claimed.extend(claim_limited(conn, request, rest).await?);
    }
    hint.set(waiting);
    Ok(claimed)
}

/// Claims up to `limit` ready jobs without limits ([`sql::CLAIM_JOBS`]); for a
/// request with limited names, also whether limited jobs of those wait
/// ([`sql::CLAIM_JOBS_PROBING`]; false without limited names).
async fn claim_ready(
    conn: &mut PgConnection,
    request: &ClaimRequest,
    limit: i64,
) -> Result<(Vec<ClaimedJob>, bool), sqlx::Error> {
    let probing = !request.limited_names.is_empty();
    let statement = if probing {
        sql::CLAIM_JOBS_PROBING
    } else {
        sql::CLAIM_JOBS
    };
    let mut query = sqlx::query(statement)
        .bind(&request.names)
        .bind(request.queues.as_ref())
        .bind(limit)
        .bind(request.worker.as_str())
        .bind(micros(request.lease));
    if probing {
        query = query.bind(&request.limited_names);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut waiting = false;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        if probing {
            waiting = row.try_get("limited_waiting")?;
            // The probe's row when nothing was claimed.
            if row.try_get::<Option<i64>, _>("id")?.is_none() {
                continue;
            }
        }
        claimed.push(row::decode_claimed(row, &request.worker)?);
    }
    Ok((claimed, waiting))
}

/// Claims up to `limit` limited jobs of the request's limited names, in one
/// transaction: the groups' advisory locks first ([`sql::LOCK_LIMITED_GROUPS`]),
/// then the claim that counts them ([`sql::CLAIM_LIMITED_JOBS`]).
async fn claim_limited(
    conn: &mut PgConnection,
    request: &ClaimRequest,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let groups: Vec<(String, String)> = sqlx::query_as(sql::LOCK_LIMITED_GROUPS)
        .bind(&request.limited_names)
        .bind(request.queues.as_ref())
        .fetch_all(&mut *tx)
        .await?;
    if groups.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let (names, keys): (Vec<String>, Vec<String>) = groups.into_iter().unzip();
    let rows = sqlx::query(sql::CLAIM_LIMITED_JOBS)
        .bind(&names)
        .bind(&keys)
        .bind(request.queues.as_ref())
        .bind(limit)
        .bind(request.worker.as_str())
        .bind(micros(request.lease))
        .fetch_all(&mut *tx)
        .await?;
    let claimed = rows
        .iter()
        .map(|row| row::decode_claimed(row, &request.worker))
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit().await?;
    Ok(claimed)
}

/// Stores outcomes on their jobs in one statement ([`sql::COMPLETE_SUCCESSES`] for
/// successes of one lease owner, else [`sql::COMPLETE_JOBS`]) and reports, in input
/// order, whether each lease held.
async fn complete(
    conn: &mut PgConnection,
    completions: &[(Lease, Outcome)],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut batch = Completions::default();
    for (lease, outcome) in completions {
        // No stored attempt number exceeds i32: such a lease cannot hold.
        if let Ok(attempt) = i32::try_from(lease.attempt) {
            batch.push(lease, attempt, outcome);
        }
    }
    if batch.ids.is_empty() {
        return Ok(vec![false; completions.len()]);
    }
    let query = match batch.sole_owner_of_successes() {
        Some(owner) => sqlx::query_scalar::<_, i64>(sql::COMPLETE_SUCCESSES)
            .bind(&batch.ids)
            .bind(&batch.attempts)
            .bind(&batch.results)
            .bind(owner),
        None => sqlx::query_scalar::<_, i64>(sql::COMPLETE_JOBS)
            .bind(&batch.ids)
            .bind(&batch.attempts)
            .bind(&batch.owners)
            .bind(&batch.statuses)
            .bind(&batch.results)
            .bind(&batch.errors)
            .bind(&batch.delays)
            .bind(&batch.finished)
            .bind(&batch.interrupted)
            .bind(&batch.released),
    };
    let held: HashSet<i64> = query.fetch_all(&mut *conn).await?.into_iter().collect();
    Ok(completions
        .iter()
        .map(|(lease, _)| held.contains(&lease.id.as_i64()))
        .collect())
}

/// A batch of completions as the arrays [`sql::COMPLETE_JOBS`] binds.
#[derive(Default)]
struct Completions<'a> {
    ids: Vec<i64>,
    attempts: Vec<i32>,
    owners: Vec<Option<&'a str>>,
    statuses: Vec<&'static str>,
    results: Vec<Option<String>>,
    errors: Vec<Option<&'a str>>,
    delays: Vec<Option<i64>>,
    finished: Vec<bool>,
    interrupted: Vec<bool>,
    released: Vec<bool>,
}

impl<'a> Completions<'a> {
    /// The one lease owner of the batch, if every completion is a success of it.
    fn sole_owner_of_successes(&self) -> Option<&'a str> {
        let owner = (*self.owners.first()?)?;
        let successes =
            (self.statuses.iter()).all(|&status| status == JobStatus::Succeeded.as_str());
        let one_owner = self.owners.iter().all(|other| *other == Some(owner));
        (successes && one_owner).then_some(owner)
    }

    fn push(&mut self, lease: &'a Lease, attempt: i32, outcome: &'a Outcome) {
        let columns = OutcomeColumns::of(outcome);
        self.ids.push(lease.id.as_i64());
        self.attempts.push(attempt);
        // An expired lease read without an owner fences as `IS NOT DISTINCT FROM NULL`.
        self.owners
            .push(Some(lease.owner.as_str()).filter(|owner| !owner.is_empty()));
        self.statuses.push(columns.status.as_str());
        self.results.push(columns.result);
        self.errors.push(columns.error);
        self.delays.push(columns.retry_in.map(micros));
        self.finished.push(columns.finished);
        self.interrupted.push(columns.interrupted);
        self.released.push(columns.released);
    }
}

/// The conditions `filter` sets, each with `$` where its one parameter goes
/// (numbered by [`push_conditions`]), in the order [`bind_filter`] binds them. Only the
/// conditions the filter sets, so PostgreSQL can use the matching index; every
/// fragment is fixed text and every value is bound. `counting` asks for the
/// variant that counts in an index rather than walks the table newest first.
fn filter_conditions(filter: &JobFilter, counting: bool) -> Vec<&'static str> {
    let mut conditions = Vec::new();
    match filter.get_status() {
        // Succeeded jobs are most of the table: walking it newest first finds
        // them at once; counting them is a walk of `kiribi_jobs_finished`.
        Some(JobStatus::Succeeded) if counting => {
            conditions.push("finished_at IS NOT NULL AND status = $");
        }
        Some(JobStatus::Succeeded) => conditions.push("status = $"),
        // A partial index's predicate, spelled out: a generic plan cannot
        // prove it from the bound status. Pending jobs are only in the ready
        // index (see the `lighter_enqueue` migration).
        Some(JobStatus::Pending | JobStatus::Retrying) => {
            // Both ready indexes (jobs without limits; with limits).
            conditions.push(
                "((status IN ('pending', 'retrying') AND concurrency_limit IS NULL \
                   AND rate_limit IS NULL) \
                  OR (status IN ('pending', 'retrying') \
                      AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL))) \
                 AND status = $",
            );
        }
        Some(_) => conditions.push("status NOT IN ('succeeded', 'pending') AND status = $"),
        None => {}
    }
    if filter.get_name().is_some() {
        conditions.push("name = $");
    }
    if filter.get_queue().is_some() {
        conditions.push("queue = $");
    }
    if filter.get_text().is_some() {
        // LIKE, which the trigram indexes of `create_search_indexes` serve, with the
        // text's own `%`, `_` and `\` escaped: a case-sensitive substring.
        conditions.push("(payload::text LIKE $ OR last_error LIKE $)");
    }
    let (created, finished) = (filter.get_created(), filter.get_finished());
    if filter.get_status().is_none() && (finished.after.is_some() || finished.before.is_some()) {
        // Only finished jobs have a finish time: spelled out, PostgreSQL walks each
        // status's range of `kiribi_jobs_finished`.
        conditions.push("status IN ('succeeded', 'failed', 'cancelled')");
    }
    for (set, condition) in [
        (created.after, "created_at >= $"),
        (created.before, "created_at < $"),
        (finished.after, "finished_at >= $"),
        (finished.before, "finished_at < $"),
    ] {
        if set.is_some() {
            conditions.push(condition);
        }
    }
    if filter.get_before().is_some() {
        conditions.push("id < $");
    }
    conditions
}

/// Whether a listing or count of `filter` may be a prepared statement that
/// PostgreSQL plans once for every later call: not with a text criterion, whose
/// plan depends on the text (a generic plan of `LIKE $1` walks the table by id
/// instead of the trigram indexes; an unnamed statement is planned with its values).
fn planned_per_call(filter: &JobFilter) -> bool {
    filter.get_text().is_none()
}

/// A LIKE pattern that matches the strings containing `text`: its `\`, `%` and `_`
/// escaped with `\`, LIKE's default escape character.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Appends ` WHERE` and `conditions`, numbering their parameters from 1: every
/// `$` of a condition is its one parameter (a condition without one binds none).
/// Returns how many parameters they take.
fn push_conditions(text: &mut String, conditions: &[&str]) -> usize {
    let mut parameters = 0;
    for (index, condition) in conditions.iter().enumerate() {
        text.push_str(if index == 0 { " WHERE " } else { " AND " });
        if condition.contains('$') {
            parameters += 1;
            text.push_str(&condition.replace('$', &format!("${parameters}")));
        } else {
            text.push_str(condition);
        }
    }
    parameters
}

/// Binds the values of [`filter_conditions`].
fn bind_filter<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    filter: &'q JobFilter,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    if let Some(status) = filter.get_status() {
        query = query.bind(status.as_str());
    }
    if let Some(name) = filter.get_name() {
        query = query.bind(name);
    }
    if let Some(queue) = filter.get_queue() {
        query = query.bind(queue);
    }
    if let Some(text) = filter.get_text() {
        query = query.bind(like_pattern(text));
    }
    let (created, finished) = (filter.get_created(), filter.get_finished());
    for at in [
        created.after,
        created.before,
        finished.after,
        finished.before,
    ]
    .into_iter()
    .flatten()
    {
        query = query.bind(at);
    }
    if let Some(before) = filter.get_before() {
        query = query.bind(before.as_i64());
    }
    query
}
