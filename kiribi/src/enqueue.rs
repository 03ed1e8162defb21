//! The `Enqueue` trait: where `MyJob::enqueue` can insert a job.

use kiribi_core::backend::{Enqueued, NewFlow, NewJob};
use kiribi_core::{EnqueueOptions, FlowId, JobId};

use crate::job::BoxFuture;
use crate::registry::encode_payload;
use crate::{Error, Job, JobContext, Kiribi, Result};

mod sealed {
    pub trait Sealed {}
}

/// Something a job can be enqueued through.
///
/// Implemented for `&Kiribi`, for `&JobContext` (follow-up jobs from inside a job) and,
/// with the `sqlite` or `postgres` feature, for a connection or transaction of the
/// caller's (`&mut *tx` of a `sqlx::Transaction<'_, Sqlite>` or `<'_, Postgres>`): the
/// job then exists if and only if that transaction commits.
/// Sealed: kiribi decides where jobs can go.
///
/// # Examples
///
/// ```
/// use kiribi::{job, sqlx};
///
/// #[job]
/// async fn send_welcome(user_id: i64) -> Result<(), String> { Ok(()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = kiribi::Kiribi::connect(&url).await?;
/// // Through the handle:
/// SendWelcome::enqueue(&kiribi, SendWelcome { user_id: 7 }).await?;
///
/// // Inside the application's own transaction. `BEGIN IMMEDIATE` takes SQLite's
/// // write lock at once, so the transaction waits its turn instead of failing with
/// // "database is locked" when it comes to write:
/// let pool = kiribi.sqlite_pool().expect("a SQLite backend");
/// let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
/// SendWelcome::enqueue(&mut *tx, SendWelcome { user_id: 8 }).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "jobs cannot be enqueued through `{Self}`",
    label = "expected `&Kiribi`, `&JobContext` or `&mut` a backend connection or transaction",
    note = "for a `sqlx::Transaction` `tx`, pass `&mut *tx`"
)]
pub trait Enqueue: sealed::Sealed + Send {
    /// Inserts the jobs, returning their ids in order.
    #[doc(hidden)]
    fn enqueue_jobs<'a>(self, jobs: Vec<NewJob>) -> BoxFuture<'a, Result<Vec<Enqueued>>>
    where
        Self: 'a;

    /// Inserts every step of a flow in one transaction, returning its id.
    #[doc(hidden)]
    fn enqueue_flow<'a>(self, flow: NewFlow) -> BoxFuture<'a, Result<FlowId>>
    where
        Self: 'a;
}

impl sealed::Sealed for &Kiribi {}

impl Enqueue for &Kiribi {
    fn enqueue_jobs<'a>(self, jobs: Vec<NewJob>) -> BoxFuture<'a, Result<Vec<Enqueued>>>
    where
        Self: 'a,
    {
        Box::pin(self.insert(jobs))
    }

    fn enqueue_flow<'a>(self, flow: NewFlow) -> BoxFuture<'a, Result<FlowId>>
    where
        Self: 'a,
    {
        Box::pin(self.insert_flow(flow))
    }
}

impl sealed::Sealed for &JobContext {}

impl Enqueue for &JobContext {
    fn enqueue_jobs<'a>(self, jobs: Vec<NewJob>) -> BoxFuture<'a, Result<Vec<Enqueued>>>
    where
        Self: 'a,
    {
        Box::pin(self.kiribi().insert(jobs))
    }

    fn enqueue_flow<'a>(self, flow: NewFlow) -> BoxFuture<'a, Result<FlowId>>
    where
        Self: 'a,
    {
        Box::pin(self.kiribi().insert_flow(flow))
    }
}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for &mut sqlx::SqliteConnection {}

/// The job is written by the caller's connection: it becomes visible (and runnable)
/// when the caller's transaction commits, and idle workers notice the commit within
/// a few milliseconds (SQLite's commit watcher,
/// [`SqliteStorageOptions::watch_interval`](crate::sqlite::SqliteStorageOptions::watch_interval)).
/// Begin the transaction with `BEGIN IMMEDIATE` (see the example above).
#[cfg(feature = "sqlite")]
impl Enqueue for &mut sqlx::SqliteConnection {
    fn enqueue_jobs<'a>(self, jobs: Vec<NewJob>) -> BoxFuture<'a, Result<Vec<Enqueued>>>
    where
        Self: 'a,
    {
        Box::pin(kiribi_sqlite::enqueue_on(self, jobs))
    }

    fn enqueue_flow<'a>(self, flow: NewFlow) -> BoxFuture<'a, Result<FlowId>>
    where
        Self: 'a,
    {
        Box::pin(async move { kiribi_sqlite::enqueue_flow_on(self, &flow).await })
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for &mut sqlx::PgConnection {}

/// The job is written by the caller's connection: it becomes visible when the
/// caller's transaction commits, and PostgreSQL then notifies idle workers.
///
/// The connection's `search_path` must lead to kiribi's schema: connections of
/// [`Kiribi::pg_pool`] have it; a pool of the caller's own needs it unless the schema
/// is `public`.
#[cfg(feature = "postgres")]
impl Enqueue for &mut sqlx::PgConnection {
    fn enqueue_jobs<'a>(self, jobs: Vec<NewJob>) -> BoxFuture<'a, Result<Vec<Enqueued>>>
    where
        Self: 'a,
    {
        Box::pin(kiribi_postgres::enqueue_on(self, jobs))
    }

    fn enqueue_flow<'a>(self, flow: NewFlow) -> BoxFuture<'a, Result<FlowId>>
    where
        Self: 'a,
    {
        Box::pin(async move { kiribi_postgres::enqueue_flow_on(self, &flow).await })
    }
}

/// The job for `J` with its declared defaults, then `options` on top.
pub(crate) fn new_job<J: Job>(job: &J, options: Option<&EnqueueOptions>) -> Result<NewJob> {
    let config = &J::CONFIG;
    if let Some(options) = options {
        options.validate()?;
    }
    let payload = encode_payload(job)?;
    let unique = crate::unique::unique_key(config, &payload, options, chrono::Utc::now())?;
    let mut new = NewJob::new(config.name, payload)
        .with_queue(config.queue)
        .with_priority(config.priority)
        .with_max_attempts(config.max_attempts);
    if let Some(options) = options {
        new = new.with_options(options);
    }
    if let Some(unique) = unique {
        new = new.with_unique(unique);
    }
    if let Some(limits) = crate::limits::limits(config, &new.payload, options)? {
        new = new.with_limits(limits);
    }
    if let Some(traceparent) = crate::otel::current_traceparent() {
        new = new.with_trace_context(traceparent);
    }
    Ok(new)
}

/// `MyJob::enqueue`.
pub(crate) fn enqueue<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    job: J,
) -> BoxFuture<'a, Result<JobId>> {
    enqueue_with(target, job, None)
}

/// `MyJob::enqueue_with`.
pub(crate) fn enqueue_with<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    job: J,
    options: Option<EnqueueOptions>,
) -> BoxFuture<'a, Result<JobId>> {
    let inserted = insert(target, job, options);
    Box::pin(async move { Ok(inserted.await?.id) })
}

/// `MyJob::insert`: one job, and whether it was inserted or a duplicate.
pub(crate) fn insert<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    job: J,
    options: Option<EnqueueOptions>,
) -> BoxFuture<'a, Result<Enqueued>> {
    let new = new_job(&job, options.as_ref());
    Box::pin(async move {
        let mut enqueued = enqueue_counted(target, vec![new?]).await?;
        enqueued.pop().ok_or_else(|| Error::Storage {
            backend: "kiribi",
            source: "the storage reported no job for one enqueued".into(),
        })
    })
}

/// `MyJob::enqueue_many`.
pub(crate) fn enqueue_many<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    jobs: impl IntoIterator<Item = J>,
) -> BoxFuture<'a, Result<Vec<JobId>>> {
    let new: Result<Vec<NewJob>> = jobs.into_iter().map(|job| new_job(&job, None)).collect();
    Box::pin(async move {
        let new = new?;
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let enqueued = enqueue_counted(target, new).await?;
        Ok(enqueued.into_iter().map(|job| job.id).collect())
    })
}

/// Inserts jobs into `target`, counting those inserted (see [`crate::metrics`]).
async fn enqueue_counted<E: Enqueue>(target: E, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
    let counted = crate::metrics::Enqueuing::new(&jobs);
    let enqueued = target.enqueue_jobs(jobs).await?;
    counted.inserted(Some(&enqueued));
    Ok(enqueued)
}
