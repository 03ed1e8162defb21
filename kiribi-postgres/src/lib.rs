//! The PostgreSQL backend of [kiribi](https://docs.rs/kiribi): [`PgStorage`] keeps
//! jobs, their leases and the history of their attempts in tables of one PostgreSQL
//! schema, and wakes idle workers with `LISTEN`/`NOTIFY`.
//!
//! Users normally reach it through `kiribi::Kiribi::connect("postgres://…")`; this
//! crate is what that call opens. The database must exist; the schema (`public`
//! unless [`PgStorageOptions::schema`] says otherwise) is created if missing and
//! migrated on connect, and kiribi's tables are prefixed `kiribi_`, next to the
//! application's own.
//!
//! ```no_run
//! use std::time::Duration;
//! use kiribi_core::backend::{ClaimRequest, NewJob, Outcome, WorkerId};
//! use kiribi_core::{JobStatus, Storage};
//! use kiribi_postgres::PgStorage;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = PgStorage::connect("postgres://postgres@localhost:5432/app").await?;
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
//! Any number of processes and machines may share one schema: claims lock the rows
//! they take with `FOR UPDATE SKIP LOCKED`, so no job is handed out twice, and every
//! time is the database's clock. A job enqueued in the application's own transaction
//! ([`enqueue_on`]) exists iff that transaction commits, and wakes listening workers
//! when it does.
//!
//! Behind PgBouncer in transaction-pooling mode, turn [`PgStorageOptions::listen`]
//! off (`LISTEN` needs a session of its own) and keep kiribi's schema on the role's
//! `search_path` (a session's `SET` does not survive there) or use `public`.

mod enqueue;
mod error;
mod flow;
mod listen;
mod logs;
mod migrate;
mod nodelay;
mod options;
mod rollup;
mod row;
mod schedule;
mod sql;
mod storage;

pub use enqueue::enqueue_on;
pub use flow::enqueue_flow_on;
pub use options::PgStorageOptions;
pub use storage::PgStorage;
