//! What a backend stores about a cron schedule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::JobId;

/// A cron schedule as stored, read back with `Kiribi::schedules`.
///
/// A schedule enqueues one job of `job_name` with `payload` at each tick of `cron`
/// read in `timezone`. `#[job(cron = …)]` declares one named after its job; the
/// others are made at run time with `Kiribi::schedule`.
///
/// `#[non_exhaustive]`: later features add fields, so build none by hand; read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScheduleRecord {
    /// The schedule's unique name.
    pub name: String,
    /// The name of the job it enqueues.
    pub job_name: String,
    /// The cron expression: 5 fields (minute first), 6 (seconds first) or a
    /// nickname such as `@daily`.
    pub cron: String,
    /// The IANA time zone the expression is read in (`UTC` by default).
    pub timezone: String,
    /// The payload of every job it enqueues, as JSON.
    pub payload: serde_json::Value,
    /// The queue its jobs wait in.
    pub queue: String,
    /// The priority of its jobs.
    pub priority: i32,
    /// The total attempts each of its jobs is allowed.
    pub max_attempts: u32,
    /// Whether its ticks are skipped for now.
    pub paused: bool,
    /// The next tick that has not been enqueued yet.
    pub next_run_at: DateTime<Utc>,
    /// The tick of the job it enqueued last (`None` before its first job).
    pub last_run_at: Option<DateTime<Utc>>,
    /// The job it enqueued last.
    pub last_job_id: Option<JobId>,
    /// When it was first made.
    pub created_at: DateTime<Utc>,
    /// When it was last made again or changed.
    pub updated_at: DateTime<Utc>,
}

/// Builds a [`ScheduleRecord`] field by field: for backends, which read records
/// from their rows. Every field not set keeps the value of a new schedule (`UTC`,
/// `null` payload, `default` queue, priority 0, 5 attempts, not paused, never run;
/// times default to the Unix epoch, so a backend sets them).
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::ScheduleRecordBuilder;
///
/// let record = ScheduleRecordBuilder::new("cleanup.eu", "cleanup", "0 3 * * *")
///     .timezone("Europe/Berlin".to_owned())
///     .paused(true)
///     .build();
/// assert_eq!((record.timezone.as_str(), record.paused), ("Europe/Berlin", true));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct ScheduleRecordBuilder {
    record: ScheduleRecord,
}

impl ScheduleRecordBuilder {
    /// A record of schedule `name`, enqueuing `job_name` at each tick of `cron`.
    pub fn new(
        name: impl Into<String>,
        job_name: impl Into<String>,
        cron: impl Into<String>,
    ) -> Self {
        Self {
            record: ScheduleRecord {
                name: name.into(),
                job_name: job_name.into(),
                cron: cron.into(),
                timezone: "UTC".to_owned(),
                payload: serde_json::Value::Null,
                queue: "default".to_owned(),
                priority: 0,
                max_attempts: 5,
                paused: false,
                next_run_at: DateTime::UNIX_EPOCH,
                last_run_at: None,
                last_job_id: None,
                created_at: DateTime::UNIX_EPOCH,
                updated_at: DateTime::UNIX_EPOCH,
            },
        }
    }

    /// The record.
    pub fn build(self) -> ScheduleRecord {
        self.record
    }
}

macro_rules! setters {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        impl ScheduleRecordBuilder {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.record.$field = $field;
                    self
                }
            )*
        }
    };
}

setters!(
    /// Sets [`ScheduleRecord::timezone`].
    timezone: String,
    /// Sets [`ScheduleRecord::payload`].
    payload: serde_json::Value,
    /// Sets [`ScheduleRecord::queue`].
    queue: String,
    /// Sets [`ScheduleRecord::priority`].
    priority: i32,
    /// Sets [`ScheduleRecord::max_attempts`].
    max_attempts: u32,
    /// Sets [`ScheduleRecord::paused`].
    paused: bool,
    /// Sets [`ScheduleRecord::next_run_at`].
    next_run_at: DateTime<Utc>,
    /// Sets [`ScheduleRecord::last_run_at`].
    last_run_at: Option<DateTime<Utc>>,
    /// Sets [`ScheduleRecord::last_job_id`].
    last_job_id: Option<JobId>,
    /// Sets [`ScheduleRecord::created_at`].
    created_at: DateTime<Utc>,
    /// Sets [`ScheduleRecord::updated_at`].
    updated_at: DateTime<Utc>,
);
