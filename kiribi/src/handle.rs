//! `Kiribi`, the handle: connect, enqueue, read and control jobs, start workers.

use std::sync::Arc;
use std::time::Duration;

use kiribi_core::backend::{Enqueued, NewFlow, NewJob};
use tokio::sync::{Notify, watch};

use crate::context::StateMap;
use crate::worker::wake::DueTimes;
use crate::{
    AttemptRecord, Error, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, LogLine,
    QueueInfo, Result, Retention, Stats, Storage, WorkerBuilder,
};

/// The handle to a kiribi job store: enqueue, read and control jobs, start workers.
///
/// Cheap to clone; every clone shares one backend and one set of state.
///
/// # Examples
///
/// ```
/// use kiribi::{job, JobFilter, JobStatus, Kiribi};
///
/// #[job]
/// async fn send_welcome(user_id: i64, email: String) -> Result<(), String> { Ok(()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = Kiribi::connect(&url).await?; // creates and migrates the file
/// let id = SendWelcome::enqueue(&kiribi, SendWelcome { user_id: 7, email: "a@b.c".into() }).await?;
///
/// let record = kiribi.job(id).await?.expect("just enqueued");
/// assert_eq!(record.status, JobStatus::Pending);
/// assert_eq!(kiribi.jobs(JobFilter::new().name("send_welcome")).await?.len(), 1);
/// assert!(kiribi.cancel(id).await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Kiribi {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Arc<dyn Storage>,
    states: StateMap,
    /// Bumped on every enqueue through this handle, so that idle workers of this
    /// process start the job at once instead of at their next poll.
    wake: watch::Sender<u64>,
    /// When jobs this process enqueued with a delay, or retried, become ready.
    due: DueTimes,
    /// Told when `due` gained a time, so that idle workers sleep until it.
    due_changed: Arc<Notify>,
    /// Told when this handle asked a running job to stop, so that this process's
    /// workers look for cancel requests at once, whatever the backend's channel.
    cancel_asked: watch::Sender<u64>,
    /// What this handle's workers prune.
    retention: Retention,
}

impl Kiribi {
    /// Connects to the backend named by the URL scheme and migrates it (see
    /// [`KiribiBuilder::migrate`] to connect without migrating).
    ///
    /// `sqlite://path/to/jobs.db` (created if missing) or `sqlite::memory:` with
    /// the `sqlite` feature; `postgres://user:password@host/database` (the database
    /// must exist; kiribi's tables are created in it) with the `postgres` feature.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedScheme`] naming the enabled backends, [`Error::InvalidUrl`],
    /// [`Error::MissingDirectory`] (SQLite), a missing-database error (PostgreSQL),
    /// [`Error::SchemaTooNew`] when a newer kiribi migrated
    /// the database, or [`Error::Storage`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::builder().connect(url).await
    }

    /// Wraps an explicitly built backend.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("jobs.db");
    /// use kiribi::sqlite::{SqliteStorage, SqliteStorageOptions};
    ///
    /// let storage = SqliteStorage::connect_with(SqliteStorageOptions::new(&path)).await?;
    /// let kiribi = kiribi::Kiribi::new(storage);
    /// # Ok(()) }
    /// ```
    pub fn new<S: Storage>(storage: S) -> Self {
        Self::builder().build(storage)
    }

    /// Starts a builder, to register state for `State<T>` before connecting.
    pub fn builder() -> KiribiBuilder {
        KiribiBuilder {
            states: StateMap::default(),
            migrate: true,
            retention: Retention::new(),
        }
    }

    /// The backend (or the wrapper around it that the handle was built with).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The SQLite writer pool when the backend is SQLite: begin your own
    /// transactions on it to enqueue jobs atomically with your writes (`&mut *tx`).
    ///
    /// Found through [`Storage::as_any`], so a wrapper around the backend that
    /// forwards `as_any` keeps it.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        self.inner
            .storage
            .as_any()
            .downcast_ref::<crate::sqlite::SqliteStorage>()
            .map(crate::sqlite::SqliteStorage::pool)
    }

    /// The PostgreSQL pool when the backend is PostgreSQL. Its connections' `search_path`
    /// leads to kiribi's schema, so transactions begun on it can enqueue jobs
    /// (`&mut *tx`) atomically with the caller's writes.
    ///
    /// Found through [`Storage::as_any`], so a wrapper around the backend that
    /// forwards `as_any` keeps it.
    #[cfg(feature = "postgres")]
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        self.inner
            .storage
            .as_any()
            .downcast_ref::<crate::postgres::PgStorage>()
            .map(crate::postgres::PgStorage::pool)
    }

    /// A builder for a worker that runs this handle's jobs.
    pub fn worker(&self) -> WorkerBuilder {
        WorkerBuilder::new(self.clone())
    }

    /// Reads a job; `None` if no job has this id.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn job(&self, id: JobId) -> Result<Option<JobRecord>> {
        self.inner.storage.get(id).await
    }

    /// Lists jobs matching `filter`, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn jobs(&self, filter: JobFilter) -> Result<Vec<JobRecord>> {
        self.inner.storage.list(&filter).await
    }

    /// Reads every attempt of a job, oldest first: worker, start, end, error.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>> {
        self.inner.storage.attempts(id).await
    }

    /// Reads a job's log lines ([`JobContext::log`](crate::JobContext::log), and
    /// `tracing` events where `kiribi::LogLayer` (feature `log-layer`) is installed), by
    /// attempt, then in the order they were written; empty for an unknown id.
    ///
    /// A running job's latest lines reach the database about a second after they
    /// were written; a finished job's are all there by the time its status says it
    /// finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi::{job, JobContext, JobStatus, Kiribi};
    ///
    /// #[job]
    /// async fn import(ctx: JobContext, file: String) -> Result<(), String> {
    ///     ctx.log(format!("opened {file}"));
    ///     ctx.progress(1.0);
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = Kiribi::connect(&url).await?;
    /// let worker = kiribi.worker().start();
    /// let id = Import::enqueue(&kiribi, Import { file: "a.csv".into() }).await?;
    /// # let deadline = std::time::Instant::now() + Duration::from_secs(20);
    /// while kiribi.job(id).await?.unwrap().status != JobStatus::Succeeded {
    /// #   assert!(std::time::Instant::now() < deadline, "the job did not run");
    ///     tokio::time::sleep(Duration::from_millis(10)).await;
    /// }
    /// let lines = kiribi.logs(id).await?;
    /// assert_eq!((lines[0].attempt, lines[0].message.as_str()), (1, "opened a.csv"));
    /// assert_eq!(kiribi.job(id).await?.unwrap().progress, Some(1.0));
    /// worker.shutdown().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn logs(&self, id: JobId) -> Result<Vec<LogLine>> {
        self.inner.storage.logs(id).await
    }

    /// Cancels a `Pending`, `Retrying` or `Blocked` job, or asks a `Running` one to
    /// stop; `false` if there is no such job or it is in another state (finished).
    /// A flow step that ends `Cancelled` cancels the steps that wait for it (see
    /// [`Flow`](crate::Flow)).
    ///
    /// A running job is asked to stop in whichever process runs it:
    /// [`JobContext::is_cancelled`](crate::JobContext::is_cancelled) turns true and
    /// [`JobContext::cancelled`](crate::JobContext::cancelled) resolves there within
    /// about a second. It stays `Running` until its attempt ends; it then ends
    /// `Cancelled`, whatever it returned, and is never retried. A job that does not
    /// return within its worker's
    /// [`cancel_grace`](crate::WorkerBuilder::cancel_grace) is stopped (its future
    /// dropped) and ends `Cancelled` too. A job that finished its attempt before its
    /// worker learnt of the request keeps a success, and ends `Cancelled` instead of
    /// waiting for a retry.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, JobStatus};
    ///
    /// #[job]
    /// async fn report(month: u32) -> Result<(), String> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::connect(&url).await?;
    /// let id = Report::enqueue(&kiribi, Report { month: 11 }).await?;
    /// assert!(kiribi.cancel(id).await?);
    /// assert_eq!(kiribi.job(id).await?.unwrap().status, JobStatus::Cancelled);
    /// assert!(!kiribi.cancel(id).await?, "a finished job is not cancelled again");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn cancel(&self, id: JobId) -> Result<bool> {
        let changed = self.inner.storage.cancel(id).await?;
        if changed {
            // Most cancels are of waiting jobs; a look by this process's workers
            // that finds nothing costs them one small query.
            self.inner
                .cancel_asked
                .send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(changed)
    }

    /// Bumped when this handle cancelled a job or asked one to stop.
    pub(crate) fn subscribe_cancel_asked(&self) -> watch::Receiver<u64> {
        self.inner.cancel_asked.subscribe()
    }

    /// Makes a `Failed`, `Cancelled` or `Retrying` job ready to run now, granting one
    /// more attempt if it has none left; `false` if there is no such job or it is in
    /// another state. A flow step whose dependencies have not all succeeded waits
    /// for them again (`Blocked`), and the steps that its failure or cancel
    /// cancelled wait again too, so the flow can still finish.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn retry(&self, id: JobId) -> Result<bool> {
        let retried = self.inner.storage.retry(id).await?;
        if retried {
            self.wake_workers();
        }
        Ok(retried)
    }

    /// Runs a job that waits for a later time (scheduled with a delay, or waiting
    /// out a retry's backoff) as soon as a worker is free, charging and granting
    /// nothing: a dashboard's "run now". `false` if there is no such job, or it is
    /// due, running or finished already.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn make_due(&self, id: JobId) -> Result<bool> {
        let made_due = self.inner.storage.make_due(id).await?;
        if made_due {
            self.wake_workers();
        }
        Ok(made_due)
    }

    /// Deletes a job that is not running, with its history; `false` if there is no
    /// such job or it is running. Deleting a flow step that had not succeeded
    /// cancels the steps that wait for it ("dependency `…` was deleted").
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn delete(&self, id: JobId) -> Result<bool> {
        self.inner.storage.delete(id).await
    }

    /// Reads a flow with every step (name, job, dependencies) and its status
    /// derived from them ([`FlowStatus`](crate::FlowStatus)); `None` if there is no
    /// such flow.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, Flow, FlowStatus, JobStatus};
    ///
    /// #[job]
    /// async fn fetch(id: i64) -> Result<i64, String> { Ok(id) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::connect(&url).await?;
    /// let id = Flow::new("two")
    ///     .step("first", Fetch { id: 1 })
    ///     .step_after("second", Fetch { id: 2 }, ["first"])
    ///     .enqueue(&kiribi)
    ///     .await?;
    /// let flow = kiribi.flow(id).await?.unwrap();
    /// assert_eq!((flow.name.as_str(), flow.status), ("two", FlowStatus::Running));
    /// assert_eq!(flow.step("second").unwrap().job.status, JobStatus::Blocked);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>> {
        self.inner.storage.flow(id).await
    }

    /// Lists flows matching `filter` (by derived status, older than a paging
    /// cursor, up to a limit), newest first, each with every step.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn flows(&self, filter: FlowFilter) -> Result<Vec<FlowRecord>> {
        self.inner.storage.flows(&filter).await
    }

    /// Cancels every step of a flow that has not finished: `Blocked`, `Pending` and
    /// `Retrying` steps become `Cancelled`, and `Running` ones are asked to stop as
    /// [`cancel`](Self::cancel) asks a running job. Returns how many steps it
    /// cancelled or asked to stop (0 for an unknown or finished flow). It is final:
    /// retrying one of its steps later brings back that step alone.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn cancel_flow(&self, id: FlowId) -> Result<u64> {
        let changed = self.inner.storage.cancel_flow(id).await?;
        if changed > 0 {
            self.inner
                .cancel_asked
                .send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(changed)
    }

    /// Pauses a queue everywhere: from the next claim on, no worker of any process
    /// takes its jobs, which stay `Pending` (running ones run on). Returns `false`
    /// if it was paused already. A queue can be paused before it has jobs.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn pause_queue(&self, queue: &str) -> Result<bool> {
        self.inner.storage.pause_queue(queue).await
    }

    /// Resumes a paused queue: its jobs are claimed again, at once by idle workers.
    /// Returns `false` if it was not paused.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn resume_queue(&self, queue: &str) -> Result<bool> {
        let resumed = self.inner.storage.resume_queue(queue).await?;
        if resumed {
            self.wake_workers();
        }
        Ok(resumed)
    }

    /// Every queue that has unfinished jobs or is paused, by name: whether it is
    /// paused, its pending and running jobs, and how long its longest-waiting due job
    /// has waited.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn queues(&self) -> Result<Vec<QueueInfo>> {
        self.inner.storage.queues().await
    }

    /// What happened over the last `window` (rounded out to whole minutes; at most
    /// [`Stats::MAX_WINDOW`], 31 days): per
    /// job name, succeeded, failed, retried and cancelled counts, failure rate, run
    /// time p50/p95/p99, wait time p50/p95 and jobs per minute; the queues as they
    /// are now; and every minute's figures, for charts.
    ///
    /// The figures come from per-minute rollups that workers write as jobs finish
    /// (plus the jobs finished since the last roll-up, read on the fly), so they
    /// stay right after the jobs are pruned, and cost the same with a million jobs
    /// in the table as with ten. Percentiles are within 1 % (see
    /// [`DurationSketch`](crate::backend::DurationSketch)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// #[kiribi::job]
    /// async fn resize(width: u32) -> Result<(), String> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::connect(&url).await?;
    /// Resize::run_now(&kiribi, Resize { width: 640 }).await?;
    ///
    /// let stats = kiribi.stats(Duration::from_secs(3600)).await?;
    /// let resize = stats.job("resize").expect("one job finished");
    /// assert_eq!((resize.succeeded, resize.failure_rate), (1, 0.0));
    /// assert!(resize.run_time.p99.is_some());
    /// assert_eq!(stats.minutes.len(), 61);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails or a stored rollup is corrupt.
    pub async fn stats(&self, window: Duration) -> Result<Stats> {
        let until = chrono::Utc::now();
        let window = window.min(Stats::MAX_WINDOW);
        let since =
            until - chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::zero());
        let rollups = self.inner.storage.rollups(since).await?;
        let queues = self.inner.storage.queues().await?;
        Ok(Stats::from_rollups(since, until, rollups, queues))
    }

    /// How many jobs `filter` matches (its limit aside), counted by the database:
    /// in an index for status, name, queue and finish-time criteria; a text
    /// criterion reads the payload of each job the others select.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails.
    pub async fn count(&self, filter: JobFilter) -> Result<u64> {
        self.inner.storage.count(&filter).await
    }

    /// Builds the indexes that make [`JobFilter::text`] and creation-time ranges
    /// fast on a large table, once (later calls change nothing): an index of the
    /// trigrams of every payload and last error, and one of creation times. It reads
    /// every job once; SQLite holds its write lock meanwhile, PostgreSQL builds the
    /// indexes `CONCURRENTLY`. Afterwards the text and time criteria give the same
    /// answers, from the indexes.
    ///
    /// Opt-in because every job pays for it from then on: SQLite tokenizes each
    /// enqueued payload, PostgreSQL writes two GIN indexes on every enqueue, claim
    /// and completion (see `BENCHMARKS.md` for what that costs the drain).
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::JobFilter;
    ///
    /// #[kiribi::job]
    /// async fn invite(email: String) -> Result<(), String> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::connect(&url).await?;
    /// Invite::enqueue(&kiribi, Invite { email: "ada@example.com".into() }).await?;
    /// kiribi.create_search_indexes().await?;
    /// let found = kiribi.jobs(JobFilter::new().text("ada@example")).await?;
    /// assert_eq!(found.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the database fails; on PostgreSQL also when the role
    /// may not create the `pg_trgm` extension.
    pub async fn create_search_indexes(&self) -> Result<()> {
        self.inner.storage.create_search_indexes().await
    }

    /// What this handle's workers prune: [`KiribiBuilder::retention`].
    pub fn retention(&self) -> &Retention {
        &self.inner.retention
    }

    /// A clone of the registered state of type `T`.
    pub fn state<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.inner.states.get::<T>()
    }

    /// Inserts jobs, wakes this process's idle workers, and tells them when the
    /// delayed ones become ready.
    pub(crate) async fn insert(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let delays = due_in(&jobs);
        let enqueued = self.inner.storage.enqueue(jobs).await?;
        for delay in delays {
            self.note_due(delay);
        }
        self.wake_workers();
        Ok(enqueued)
    }

    /// Inserts a flow, wakes this process's idle workers, and tells them when its
    /// delayed steps without dependencies become ready.
    pub(crate) async fn insert_flow(&self, flow: NewFlow) -> Result<FlowId> {
        let roots: Vec<NewJob> = flow
            .steps
            .iter()
            .filter(|step| step.depends_on.is_empty())
            .map(|step| step.job.clone())
            .collect();
        let id = self.inner.storage.enqueue_flow(&flow).await?;
        for delay in due_in(&roots) {
            self.note_due(delay);
        }
        self.wake_workers();
        Ok(id)
    }

    pub(crate) fn wake_workers(&self) {
        self.inner.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe_wake(&self) -> watch::Receiver<u64> {
        self.inner.wake.subscribe()
    }

    /// Remembers that a job becomes ready `after` from now, for idle workers to
    /// wake then.
    pub(crate) fn note_due(&self, after: Duration) {
        if after.is_zero() {
            return;
        }
        let now = tokio::time::Instant::now();
        self.inner.due.note(now + after, now);
        self.inner.due_changed.notify_waiters();
    }

    pub(crate) fn due_times(&self) -> &DueTimes {
        &self.inner.due
    }

    pub(crate) fn due_changed(&self) -> Arc<Notify> {
        self.inner.due_changed.clone()
    }
}

/// The distinct waits, from now, of the delayed jobs among `jobs`.
fn due_in(jobs: &[NewJob]) -> Vec<Duration> {
    let now = chrono::Utc::now();
    let mut delays: Vec<Duration> = jobs
        .iter()
        .filter_map(|job| match job.run_at {
            Some(at) => (at - now).to_std().ok(),
            None => Some(job.delay),
        })
        .filter(|delay| !delay.is_zero())
        .collect();
    delays.sort_unstable();
    delays.dedup();
    delays
}

impl std::fmt::Debug for Kiribi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kiribi")
            .field("backend", &self.inner.storage.backend())
            .finish_non_exhaustive()
    }
}

/// Configures a [`Kiribi`] before connecting: state for `State<T>`.
///
/// # Examples
///
/// ```
/// #[derive(Clone)]
/// struct Db;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = kiribi::Kiribi::builder().state(Db).connect(&url).await?;
/// assert!(kiribi.state::<Db>().is_some());
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `connect` or `build`"]
pub struct KiribiBuilder {
    states: StateMap,
    migrate: bool,
    retention: Retention,
}

impl std::fmt::Debug for KiribiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KiribiBuilder")
            .field("states", &self.states.len())
            .field("migrate", &self.migrate)
            .field("retention", &self.retention)
            .finish()
    }
}

impl KiribiBuilder {
    /// Registers a value that jobs receive as `State<T>`; one value per type (a second
    /// value of the same type replaces the first).
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// Whether [`connect`](Self::connect) applies kiribi's migrations (default: yes).
    ///
    /// A process that must not change the schema (a dashboard, a CLI, a web process
    /// when a deploy step migrates) connects with `migrate(false)`: it then refuses a
    /// schema older than this build needs ([`Error::SchemaOutdated`], saying what to
    /// run) or newer ([`Error::SchemaTooNew`]), and a SQLite file that does not exist.
    /// A deploy step migrates with a plain [`Kiribi::connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// // Not migrated yet: a read-only process refuses it, and says what to do.
    /// let refused = kiribi::Kiribi::builder().migrate(false).connect(&url).await;
    /// assert!(matches!(refused, Err(kiribi::Error::MissingDatabaseFile { .. })));
    ///
    /// kiribi::Kiribi::connect(&url).await?; // the deploy step
    /// let kiribi = kiribi::Kiribi::builder().migrate(false).connect(&url).await?;
    /// # let _ = kiribi;
    /// # Ok(()) }
    /// ```
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// How long workers of this handle keep finished jobs (default
    /// [`Retention::new`]: succeeded ones a day, failed and cancelled ones 7
    /// days; [`Retention::forever`] prunes nothing).
    ///
    /// Every worker rolls finished jobs up into the statistics and then prunes
    /// what retention no longer keeps and the rollups counted, in batches of 500
    /// jobs, each its own short transaction, one process at a time. Statistics
    /// stay right after pruning.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi::Retention;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::builder()
    ///     .retention(Retention::new().succeeded(Duration::from_secs(3600)).failed(None))
    ///     .connect(&url)
    ///     .await?;
    /// assert_eq!(kiribi.retention().get_failed(), None);
    /// # Ok(()) }
    /// ```
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Connects to the backend named by the URL scheme; see [`Kiribi::connect`].
    ///
    /// # Errors
    ///
    /// As [`Kiribi::connect`], and [`Error::SchemaOutdated`] /
    /// [`Error::MissingDatabaseFile`] without [`migrate`](Self::migrate).
    pub async fn connect(self, url: &str) -> Result<Kiribi> {
        match scheme(url)? {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let options =
                    crate::sqlite::SqliteStorageOptions::from_url(url)?.migrate(self.migrate);
                Ok(self.build(crate::sqlite::SqliteStorage::connect_with(options).await?))
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let options =
                    crate::postgres::PgStorageOptions::from_url(url)?.migrate(self.migrate);
                Ok(self.build(crate::postgres::PgStorage::connect_with(options).await?))
            }
            other => Err(Error::UnsupportedScheme {
                scheme: other.to_owned(),
                enabled: ENABLED_SCHEMES,
            }),
        }
    }

    /// Uses an explicitly built backend, or any [`Storage`] (a wrapper around one,
    /// say). [`migrate`](Self::migrate) does not apply: the backend was connected
    /// with its own options.
    pub fn build<S: Storage>(self, storage: S) -> Kiribi {
        let (wake, _) = watch::channel(0);
        Kiribi {
            inner: Arc::new(Inner {
                storage: Arc::new(storage),
                states: self.states,
                wake,
                due: DueTimes::default(),
                due_changed: Arc::new(Notify::new()),
                cancel_asked: watch::channel(0).0,
                retention: self.retention,
            }),
        }
    }
}

/// The URL schemes this build can connect to.
const ENABLED_SCHEMES: &[&str] = &[
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "postgres")]
    "postgres",
    #[cfg(feature = "postgres")]
    "postgresql",
];

fn scheme(url: &str) -> Result<&str> {
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            Ok(scheme)
        }
        _ => Err(Error::InvalidUrl {
            url: url.to_owned(),
            reason: format!(
                "expected `<scheme>:…` with one of the enabled schemes ({})",
                ENABLED_SCHEMES.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_scheme_names_the_enabled_backends() {
        let err = Kiribi::connect("redis://localhost")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("`redis:`"), "{err}");
        #[cfg(feature = "sqlite")]
        assert!(err.contains("sqlite"), "{err}");
    }

    #[tokio::test]
    async fn url_without_scheme_is_rejected_with_advice() {
        let err = Kiribi::connect("jobs.db").await.unwrap_err().to_string();
        assert!(err.contains("jobs.db") && err.contains("<scheme>"), "{err}");
    }
}
