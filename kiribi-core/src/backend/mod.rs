//! What every storage backend needs and no database decides: for backend authors.
//!
//! A backend (such as `kiribi-sqlite` or `kiribi-postgres`) keeps its SQL, its
//! connections and its column reads; the rules that do not depend on the database
//! live here once, so every backend applies them the same way and says the same
//! words in its errors:
//!
//! - [`Migration`], [`latest_version`] and [`pending_migrations`]: which embedded
//!   migrations to apply given the versions a database has recorded, and when it
//!   was migrated by a newer kiribi ([`SchemaTooNew`], then [`Error::SchemaTooNew`]);
//! - [`CorruptRow`] and the decoders [`decode_status`], [`decode_count`],
//!   [`decode_total`] and [`decode_json`]: a stored value that kiribi never writes is an error that
//!   names the table, the job and the column, never a panic;
//! - [`inserted_ids`] and [`lease_expired_error`]: what an insert must return, and
//!   what is recorded when a worker's lease runs out;
//! - [`OutcomeColumns`]: the job columns an attempt's outcome sets.
//!
//! It is also where the values that cross the [`Storage`](crate::Storage) trait live:
//! [`NewJob`], [`Enqueued`], [`ClaimRequest`], [`ClaimedJob`], [`Lease`],
//! [`WorkerId`], [`Outcome`], [`ExpiredLease`], the cron values [`NewSchedule`],
//! [`ScheduleTick`] and [`DueTick`], the flow values [`NewFlow`], [`NewFlowStep`] and
//! [`PlannedStep`] (a flow checked and in insertion order, from [`NewFlow::plan`]),
//! the [`Listener`] trait, the record builders [`JobRecordBuilder`],
//! [`AttemptRecordBuilder`] and [`ScheduleRecordBuilder`] (and [`flow_record`] for a
//! flow read back), and the [`async_trait`](macro@async_trait) attribute that
//! backends implement the traits with.
//!
//! Nothing here talks to a database, so none of it needs a runtime or a driver.
//!
//! # Examples
//!
//! ```
//! use kiribi_core::backend::{self, Migration};
//!
//! const MIGRATIONS: &[Migration] = &[
//!     Migration::new(20261129000000, "create jobs", "CREATE TABLE …"),
//!     Migration::new(20270101000000, "add tags", "ALTER TABLE …"),
//! ];
//!
//! // The database has recorded the first migration: only the second is pending.
//! let pending = backend::pending_migrations(MIGRATIONS, &[20261129000000]).unwrap();
//! assert_eq!(pending.len(), 1);
//! assert_eq!(pending[0].version, backend::latest_version(MIGRATIONS));
//! ```
//!
//! [`Error::SchemaTooNew`]: crate::Error::SchemaTooNew

mod flow;
mod job;
mod lease;
mod migrate;
mod outcome;
mod rollup;
mod row;
mod schedule;

pub use flow::{NewFlow, NewFlowStep, PlannedStep};
pub use job::{
    ClaimRequest, ClaimedJob, Enqueued, ExpiredLease, JobLimits, Lease, LimitedHint, NewJob,
    Outcome, RateLimit, UniqueKey, WorkerId,
};
pub use lease::lease_expired_error;
pub use migrate::{
    Migrated, Migration, SchemaOutdated, SchemaTooNew, latest_version, pending_migrations,
    schema_state, versions_increase,
};
pub use outcome::OutcomeColumns;
pub use rollup::{
    DurationSketch, FinishedJob, ROLLUP_SPAN, Rollup, RollupProgress, Rollups,
    SKETCH_RELATIVE_ACCURACY, minute_of,
};
pub use row::{CorruptRow, decode_count, decode_json, decode_status, decode_total, inserted_ids};
pub use schedule::{DueTick, NewSchedule, ScheduleTick};

pub use crate::flow::flow_record;
pub use crate::record::{AttemptRecordBuilder, JobRecordBuilder, queue_infos};
pub use crate::schedule::ScheduleRecordBuilder;
pub use crate::storage::{Listener, ReapDecision};

/// The attribute backends implement [`Storage`](crate::Storage) and [`Listener`] with,
/// re-exported so that they name the same `async_trait` as kiribi.
pub use async_trait::async_trait;
