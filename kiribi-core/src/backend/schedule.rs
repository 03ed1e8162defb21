//! The values of cron schedules that cross the `Storage` trait: a schedule to
//! upsert and a tick to enqueue.
//!
//! Backends never read a cron expression: `kiribi` computes every tick and hands
//! the backend times to compare and store, so that each backend decides only what
//! the database must decide (which caller's tick wins).

use chrono::{DateTime, Utc};

use crate::backend::NewJob;

/// A schedule to insert or update by name: what `Kiribi::schedule` and the
/// `#[job(cron = …)]` registration hand to
/// [`Storage::upsert_schedule`](crate::Storage::upsert_schedule).
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use kiribi_core::backend::NewSchedule;
///
/// let next = Utc.with_ymd_and_hms(2026, 12, 3, 3, 0, 0).unwrap();
/// let schedule = NewSchedule::new("cleanup.eu", "cleanup", "0 3 * * *", next)
///     .with_payload(serde_json::json!({ "region": "eu" }))
///     .with_timezone("Europe/Berlin")
///     .with_paused(Some(false));
/// assert_eq!(schedule.timezone, "Europe/Berlin");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewSchedule {
    /// The schedule's unique name.
    pub name: String,
    /// The job it enqueues.
    pub job_name: String,
    /// The cron expression, already validated by the caller.
    pub cron: String,
    /// The IANA time zone of `cron`, already validated by the caller.
    pub timezone: String,
    /// The payload of every job it enqueues.
    pub payload: serde_json::Value,
    /// The queue its jobs wait in.
    pub queue: String,
    /// The priority of its jobs.
    pub priority: i32,
    /// Total attempts allowed to each of its jobs (≥ 1).
    pub max_attempts: u32,
    /// `Some` to pause or resume it; `None` keeps a stored schedule's state (a new
    /// one starts running).
    pub paused: Option<bool>,
    /// The first tick of `cron` after now: the schedule's next tick unless the
    /// stored schedule already has the same `cron` and `timezone` (see
    /// [`Storage::upsert_schedule`](crate::Storage::upsert_schedule)).
    pub next_run_at: DateTime<Utc>,
}

impl NewSchedule {
    /// Schedule `name`, enqueuing `job_name` with a `null` payload in the `default`
    /// queue (priority 0, 5 attempts) at each tick of `cron` in UTC, the first at
    /// `next_run_at`.
    pub fn new(
        name: impl Into<String>,
        job_name: impl Into<String>,
        cron: impl Into<String>,
        next_run_at: DateTime<Utc>,
    ) -> Self {
        Self {
            name: name.into(),
            job_name: job_name.into(),
            cron: cron.into(),
            timezone: "UTC".to_owned(),
            payload: serde_json::Value::Null,
            queue: "default".to_owned(),
            priority: 0,
            max_attempts: 5,
            paused: None,
            next_run_at,
        }
    }

    /// Reads `cron` in `timezone`.
    #[must_use]
    pub fn with_timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// Sets the payload of its jobs.
    #[must_use]
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }

    /// Puts its jobs in `queue`.
    #[must_use]
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets the priority of its jobs.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the attempts allowed to each of its jobs; 0 is taken as 1.
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Pauses (`Some(true)`) or resumes (`Some(false)`) it, or keeps the stored
    /// state (`None`).
    #[must_use]
    pub fn with_paused(mut self, paused: Option<bool>) -> Self {
        self.paused = paused;
        self
    }
}

/// A job for a schedule to enqueue, handed to
/// [`Storage::enqueue_tick`](crate::Storage::enqueue_tick): a tick of its cron
/// ([`ScheduleTick::due`]) or a run asked for by hand ([`ScheduleTick::now`]).
///
/// # Examples
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use kiribi_core::backend::{NewJob, ScheduleTick};
///
/// let at = |h| Utc.with_ymd_and_hms(2026, 12, 3, h, 0, 0).unwrap();
/// let job = NewJob::new("cleanup", serde_json::json!({ "region": "eu" }));
/// // The stored next tick is 01:00; it is 03:00 now: 02:00 was missed too, and only
/// // the latest missed tick is enqueued.
/// let tick = ScheduleTick::due("cleanup.eu", job.clone(), at(1), at(3), at(4)).unwrap();
/// assert_eq!(tick.due.unwrap().tick, at(3));
/// // Out of order: the tick after the next one.
/// assert_eq!(ScheduleTick::due("cleanup.eu", job, at(1), at(4), at(3)), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScheduleTick {
    /// The schedule's name.
    pub schedule: String,
    /// The job to insert, its `run_at` the tick for a due tick.
    pub job: NewJob,
    /// `Some` for a tick of the cron, which the database enqueues once; `None` for
    /// a run asked for by hand, which is enqueued every time and moves no tick.
    pub due: Option<DueTick>,
}

/// Which tick of a schedule a [`ScheduleTick`] enqueues, and the compare-and-set
/// that makes it happen once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DueTick {
    /// The schedule's `next_run_at` as the caller read it: the tick is enqueued only
    /// if it is still the stored one.
    pub expected: DateTime<Utc>,
    /// The tick enqueued: the latest tick at or before now, at or after `expected`.
    pub tick: DateTime<Utc>,
    /// The schedule's next tick after that: its new `next_run_at`.
    pub next_run_at: DateTime<Utc>,
}

impl ScheduleTick {
    /// Tick `tick` of schedule `schedule`, whose stored next tick the caller read as
    /// `expected`, followed by `next_run_at`. `job` runs at `tick`.
    ///
    /// The three times must be in that order (`expected` ≤ `tick` < `next_run_at`),
    /// which catches arguments given in the wrong order: `None` otherwise.
    pub fn due(
        schedule: impl Into<String>,
        job: NewJob,
        expected: DateTime<Utc>,
        tick: DateTime<Utc>,
        next_run_at: DateTime<Utc>,
    ) -> Option<Self> {
        if !(expected <= tick && tick < next_run_at) {
            return None;
        }
        Some(Self {
            schedule: schedule.into(),
            job: job.with_run_at(tick),
            due: Some(DueTick {
                expected,
                tick,
                next_run_at,
            }),
        })
    }

    /// A run of schedule `schedule` asked for by hand, outside its ticks.
    pub fn now(schedule: impl Into<String>, job: NewJob) -> Self {
        Self {
            schedule: schedule.into(),
            job,
            due: None,
        }
    }
}
