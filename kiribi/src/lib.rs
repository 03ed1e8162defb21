//! Typed, persisted background jobs for Rust.
//!
//! Put `#[kiribi::job]` on an `async fn`; kiribi generates a typed payload struct,
//! registers the job (no registration code), and stores every job in a real database
//! — SQLite by default, embedded, with nothing to set up. Jobs survive crashes, are
//! retried with backoff, can time out, be delayed, prioritised, routed to queues,
//! searched, cancelled (running ones too: [`JobContext::cancelled`]), snoozed
//! ([`JobError::snooze`]) and retried by hand, and enqueued on cron schedules
//! (`#[job(cron = "0 9 * * 1-5", timezone = "Asia/Tokyo")]`, or
//! [`Kiribi::schedule`] for schedules with arguments), each tick exactly once
//! however many processes run workers. A [`Flow`] enqueues jobs that wait for each
//! other (a step runs once its dependencies succeeded, and reads their results with
//! [`JobContext::output_of`]).
//!
//! ```standalone_crate
//! use std::time::Duration;
//! use kiribi::{job, JobContext, JobStatus, Kiribi};
//!
//! #[job(max_attempts = 3, retry_delay = "10ms")]
//! async fn send_welcome(ctx: JobContext, user_id: i64, email: String) -> Result<(), String> {
//!     println!("attempt {} for user {user_id} <{email}>", ctx.attempt());
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
//! let kiribi = Kiribi::connect(&url).await?; // e.g. "sqlite://jobs.db"
//! let worker = kiribi.worker().concurrency(4).start();
//!
//! let id = SendWelcome::enqueue(&kiribi, SendWelcome { user_id: 7, email: "a@b.c".into() }).await?;
//! # let deadline = std::time::Instant::now() + Duration::from_secs(20);
//! while kiribi.job(id).await?.unwrap().status != JobStatus::Succeeded {
//! #   assert!(std::time::Instant::now() < deadline, "the job did not run");
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! worker.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the embedded SQLite backend, `kiribi::sqlite`, for `sqlite:`
//!   URLs.
//! - `postgres`: the PostgreSQL backend, `kiribi::postgres`, for `postgres:` and
//!   `postgresql:` URLs, for many processes and machines sharing the work.
//! - `log-layer`: `LogLayer`, a `tracing_subscriber` layer that keeps the `tracing`
//!   events inside a job with its log lines (`JobContext::log`, `Kiribi::logs`).
//! - `metrics`: counters and histograms through the `metrics` facade (see
//!   `kiribi::metrics`).
//! - `testing`: `kiribi::testing`, a fresh database per test, `drain` and
//!   `assert_enqueued`.
//! - `opentelemetry`: a job enqueued inside a span that has an OpenTelemetry
//!   context (a `tracing_opentelemetry` layer is installed) stores that context, as
//!   a W3C `traceparent`, and its attempts' spans continue it in whichever process
//!   runs them: as their parent for the first attempt, as a link for retries. Costs
//!   nothing for jobs enqueued outside such spans; each claim that returns jobs
//!   reads their stored contexts (one indexed read).
//!
//! # Jobs in library crates
//!
//! Jobs register themselves through [`inventory`](https://docs.rs/inventory), which
//! collects items at link time. If a library crate's jobs are never referenced by the
//! binary, the linker may drop that crate's object files and its jobs with them: the
//! worker then does not know those job names and leaves such jobs pending. Reference
//! something from the crate in the binary (calling any function of it, or
//! `use my_jobs as _;` together with a call) so that it is linked.

mod classify;
mod context;
#[cfg(feature = "dashboard")]
pub mod dashboard;
mod enqueue;
mod flow;
mod handle;
mod job;
mod limits;
mod log_layer;
mod logs;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
mod metrics;
mod otel;
pub mod policy;
mod registry;
mod run;
mod schedule;
#[cfg(feature = "testing")]
pub mod testing;
mod unique;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use context::{JobContext, State};
pub use enqueue::Enqueue;
pub use flow::Flow;
pub use handle::{Kiribi, KiribiBuilder};
pub use job::{BoxFuture, Job, JobConfig, Unique};
pub use schedule::ScheduleBuilder;
pub use worker::{WorkerBuilder, WorkerHandle};

#[cfg(feature = "log-layer")]
pub use log_layer::{LogLayer, log_layer};

pub use kiribi_core::{
    AttemptRecord, Backoff, BoxError, EnqueueOptions, Error, FlowFilter, FlowId, FlowRecord,
    FlowStatus, FlowStep, JobError, JobFilter, JobId, JobRecord, JobStats, JobStatus, LogLevel,
    LogLine, MinuteStats, NewLogLine, ParseBackoffError, ParseFlowIdError, ParseFlowStatusError,
    ParseJobIdError, ParseJobStatusError, ParseLogLevelError, Percentiles, ProgressUpdate,
    QueueInfo, Result, Retention, RetryPolicy, ScheduleRecord, Stats, Storage, TimeRange,
    chain_text,
};

/// For backend authors: the values that cross the [`Storage`] trait, the listener
/// trait, record builders, migration helpers and `async_trait` (see
/// [`kiribi_core::backend`]). The conformance suite that every backend runs is the
/// `kiribi-conformance` crate.
pub use kiribi_core::backend;

/// A rate limit: at most `count` starts per `period` (`#[job(rate_limit = "10/1s")]`).
pub use kiribi_core::backend::RateLimit;

/// What became of one enqueued job: its id, and whether it was a duplicate of a
/// job that holds its unique key (see `MyJob::insert`).
pub use kiribi_core::backend::Enqueued;

/// Turns an `async fn` into a typed, persisted job.
///
/// Next to the fn (which stays callable as written) it generates a payload struct named
/// in UpperCamelCase (`send_welcome` → `SendWelcome`) whose public fields are the fn's
/// payload parameters, an [`impl Job`](Job), the methods `enqueue`, `enqueue_with`,
/// `enqueue_many` and `run_now`, and the job's registration: workers find it by name.
///
/// `JobContext` and `State<T>` parameters are injected in any position (patterns such as
/// `State(db): State<Db>` work); every other parameter is payload: a plain name of an
/// owned `Serialize + Deserialize + Debug + Clone + Send` type. The fn returns
/// `Result<T, E>` (or an alias such as `anyhow::Result<T>`) with `T: Serialize` and
/// `E: Display`; return [`JobError::permanent`] to stop retrying.
///
/// | key | default | equivalent |
/// |---|---|---|
/// | `name = "media.resize"` | the fn's name | `JobConfig::new("media.resize")` |
/// | `queue = "media"` | `"default"` | `.queue("media")` |
/// | `max_attempts = 5` | `5` | `.max_attempts(5)` |
/// | `backoff = "exponential"` | `"exponential"` | `.backoff(Backoff::Exponential)` |
/// | `retry_delay = "2s"` | `"1s"` | `.retry_delay(Duration::from_secs(2))` |
/// | `timeout = "30s"` | none | `.timeout(Duration::from_secs(30))` |
/// | `priority = 10` | `0` | `.priority(10)` |
/// | `crate = "my_facade::kiribi"` | `"::kiribi"` | the generated code names `my_facade::kiribi::Job` … instead of `::kiribi::Job` … |
/// | `cron = "0 9 * * 1-5"` | none | `.cron("0 9 * * 1-5")`: every worker declares the schedule, named after the job |
/// | `timezone = "Asia/Tokyo"` | `"UTC"` | `.timezone("Asia/Tokyo")` |
/// | `unique(fields = [user_id], period = "1h")` | not unique | `.unique(Unique::fields(&["user_id"]).period(Duration::from_secs(3600)))` |
/// | `concurrency = 2` | no limit | `.concurrency(2)` |
/// | `concurrency_key = account_id` | one group for the job | `.concurrency_key("account_id")` |
/// | `rate_limit = "10/1s"` | no limit | `.rate_limit(RateLimit::new(10, Duration::from_secs(1)))` |
///
/// `backoff` is also `"fixed"` or `"linear"`; durations are
/// [humantime](https://docs.rs/humantime) strings (`"250ms"`, `"5m"`, `"1h 30m"`) read
/// at compile time; `priority` may be negative. `crate` is for code that reaches
/// kiribi under another name, through a facade that re-exports it. `cron` and
/// `timezone` schedule a job without payload parameters; `unique` makes equal jobs
/// one; `concurrency`, `concurrency_key` and `rate_limit` limit how many run at once
/// and start per period, across every worker (see the README).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi::{job, Job, JobContext, State};
///
/// #[derive(Clone)]
/// struct Db;
///
/// #[job(queue = "media", max_attempts = 3, retry_delay = "2s", timeout = "30s", name = "media.resize")]
/// pub async fn resize(ctx: JobContext, State(_db): State<Db>, path: String, width: u32) -> anyhow::Result<u64> {
///     let _ = ctx.attempt();
///     Ok(u64::from(width) + path.len() as u64)
/// }
///
/// let job = Resize { path: "a.png".into(), width: 640 };
/// assert_eq!(Resize::CONFIG.queue, "media");
/// assert_eq!(Resize::CONFIG.timeout, Some(Duration::from_secs(30)));
/// # let _ = job;
/// ```
///
/// Code that reaches kiribi through a facade says where it is with `crate`:
///
/// ```
/// mod facade {
///     pub(crate) use ::kiribi as jobs;
/// }
///
/// #[facade::jobs::job(crate = "crate::facade::jobs")]
/// async fn ping() -> Result<(), String> {
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// Mistakes are compile errors at the offending token:
///
/// ```compile_fail
/// #[kiribi::job(retries = 3)] // unknown key `retries`; expected one of `name`, `queue`, …
/// async fn send_welcome(user_id: i64) -> Result<(), String> { Ok(()) }
/// ```
///
/// ```compile_fail
/// #[kiribi::job]
/// async fn send_welcome(email: &str) -> Result<(), String> { Ok(()) } // use `String`
/// ```
///
/// `cron` declares a schedule that every worker registers (named after the job) and
/// whose ticks enqueue the job with no arguments, so it is only for a job without
/// payload parameters; a schedule with arguments is made at run time with
/// [`Kiribi::schedule`]:
///
/// ```compile_fail
/// #[kiribi::job(cron = "0 3 * * *")] // `cron` is only for a job without payload parameters
/// async fn cleanup(region: String) -> Result<(), String> { Ok(()) }
/// ```
///
/// ```compile_fail
/// #[kiribi::job(cron = "0 3 * *")] // invalid `cron`: 4 fields
/// async fn cleanup() -> Result<(), String> { Ok(()) }
/// ```
pub use kiribi_macros::job;

/// The SQLite backend (feature `sqlite`, on by default).
#[cfg(feature = "sqlite")]
pub use kiribi_sqlite as sqlite;

/// The PostgreSQL backend (feature `postgres`).
#[cfg(feature = "postgres")]
pub use kiribi_postgres as postgres;

/// The chrono of the timestamps in [`JobRecord`] and [`AttemptRecord`].
pub use chrono;

/// The sqlx this crate is built with; a caller's transactions must use the same one.
pub use sqlx;

/// The README's code compiles: its Rust blocks run as doctests.
#[cfg(all(
    doctest,
    feature = "sqlite",
    feature = "postgres",
    feature = "log-layer",
    feature = "testing",
    feature = "opentelemetry",
    feature = "dashboard"
))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
