//! Typed, persisted background jobs for Rust.
//!
//! Put `#[kiribi::job]` on an `async fn`; kiribi generates a typed payload struct,
//! registers the job (no registration code), and stores every job in a real database
//! — SQLite by default, embedded, with nothing to set up. Jobs survive crashes, are
//! retried with backoff, can time out, be delayed, prioritised, routed to queues,
//! searched, cancelled and retried by hand.
//!
//! ```
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
//! while kiribi.job(id).await?.unwrap().status != JobStatus::Succeeded {
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//! }
//! worker.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the embedded SQLite backend, [`kiribi::sqlite`](crate::sqlite),
//!   for `sqlite:` URLs.
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
mod enqueue;
mod handle;
mod job;
mod registry;
mod run;
mod worker;

#[doc(hidden)]
pub mod __private;

pub use context::{JobContext, State};
pub use enqueue::Enqueue;
pub use handle::{Kiribi, KiribiBuilder};
pub use job::{BoxFuture, Job, JobConfig};
pub use worker::{WorkerBuilder, WorkerHandle};

pub use kiribi_core::{
    AttemptRecord, Backoff, BoxError, ClaimRequest, ClaimedJob, EnqueueOptions, Error, JobError,
    JobFilter, JobId, JobRecord, JobStatus, Lease, NewJob, Outcome, ParseBackoffError,
    ParseJobIdError, ParseJobStatusError, Result, RetryPolicy, Storage, Listener, async_trait,
};

/// Turns an `async fn` into a typed, persisted job. See the crate docs.
pub use kiribi_macros::job;

/// The SQLite backend (feature `sqlite`, on by default).
#[cfg(feature = "sqlite")]
pub use kiribi_sqlite as sqlite;

/// The chrono of the timestamps in [`JobRecord`] and [`AttemptRecord`].
pub use chrono;

/// The sqlx this crate is built with; a caller's transactions must use the same one.
pub use sqlx;
