//! The SQLite backend of [kiribi](https://docs.rs/kiribi): [`SqliteStorage`] keeps
//! jobs, their leases and the history of their attempts in one SQLite file.
//!
//! Users normally reach it through `kiribi::Kiribi::connect("sqlite://jobs.db")`; this
//! crate is what that call opens. The file is created and migrated on connect; the
//! schema lives in tables prefixed `kiribi_`, next to the application's own tables if
//! it shares the file.
//!
//! ```
//! use std::time::Duration;
//! use kiribi_core::backend::{ClaimRequest, NewJob, Outcome, WorkerId};
//! use kiribi_core::{JobStatus, Storage};
//! use kiribi_sqlite::SqliteStorage;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}/jobs.db", dir.path().display());
//! let storage = SqliteStorage::connect(&url).await?;
//!
//! let enqueued = storage
//!     .enqueue(vec![NewJob::new("send_welcome", serde_json::json!({ "user_id": 7 }))])
//!     .await?;
//!
//! let worker = WorkerId::new("worker-1");
//! let request = ClaimRequest::new(worker, Duration::from_secs(30))
//!     .with_names(["send_welcome"])
//!     .with_limit(10);
//! let claimed = storage.claim(&request).await?;
//! assert_eq!(claimed[0].id(), enqueued[0].id);
//!
//! let held = storage
//!     .complete_many(&[(claimed[0].lease.clone(), Outcome::succeeded(None))])
//!     .await?;
//! assert_eq!(held, [true]);
//! let record = storage.get(enqueued[0].id).await?.expect("the job exists");
//! assert_eq!(record.status, JobStatus::Succeeded);
//! # Ok(())
//! # }
//! ```
//!
//! Several processes may share one file: claims are atomic, and writes wait for each
//! other instead of failing with "database is locked". Within one process, all writes
//! of a [`SqliteStorage`] go through a single connection, [`SqliteStorage::pool`].

mod cancel_listen;
mod enqueue;
mod error;
mod flow;
mod list;
mod listen;
mod logs;
mod migrate;
mod options;
mod rollup;
mod row;
mod schedule;
mod sql;
mod storage;

pub use enqueue::enqueue_on;
pub use flow::enqueue_flow_on;
pub use options::SqliteStorageOptions;
pub use storage::SqliteStorage;
