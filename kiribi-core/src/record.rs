//! What a backend stores about a job and its attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{FlowId, JobId, JobStatus};

/// A job as stored, read back with `Kiribi::job` or `Kiribi::jobs`.
///
/// `#[non_exhaustive]`: later features add fields, so build none by hand; read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobRecord {
    /// The job's identity.
    pub id: JobId,
    /// The stable job name given by `#[job(name = …)]` (default: the fn name).
    pub name: String,
    /// The queue the job waits in.
    pub queue: String,
    /// Where the job is in its lifecycle.
    pub status: JobStatus,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts started so far (the running one and interrupted ones included).
    pub attempts: u32,
    /// Total attempts allowed; interrupted attempts do not count against it.
    pub max_attempts: u32,
    /// Attempts that were cut short because their worker was lost (crashed, or lost
    /// its database connection for longer than a lease): they are retried at once
    /// and not charged against `max_attempts`, up to a cap.
    pub interruptions: u32,
    /// The job's arguments, as JSON.
    pub payload: serde_json::Value,
    /// The value the job returned, as JSON, once it succeeded (`None` for `()`).
    pub result: Option<serde_json::Value>,
    /// The error of the latest failed attempt.
    pub last_error: Option<String>,
    /// When the job was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the job may run next (its first run, or its next retry).
    pub run_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a finished state (`Succeeded`, `Failed`, `Cancelled`).
    pub finished_at: Option<DateTime<Utc>>,
    /// The worker that holds the job while it is `Running`.
    pub lease_owner: Option<String>,
    /// When that worker's lease runs out unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The job's unique key among jobs of its name, if it has one
    /// (`#[job(unique)]`, `EnqueueOptions::unique_key`).
    #[serde(default)]
    pub unique_key: Option<String>,
    /// The cron schedule that enqueued the job, if one did.
    pub schedule: Option<String>,
    /// The tick of that schedule the job belongs to (`None` for a job not enqueued
    /// by a tick, such as a schedule's run asked for by hand).
    pub schedule_tick: Option<DateTime<Utc>>,
    /// How far the job got, from 0.0 to 1.0, as its latest attempt that reported
    /// any reported it (`JobContext::progress`); `None` if none did. A new attempt
    /// shows its previous attempt's progress until it reports its own.
    #[serde(default)]
    pub progress: Option<f32>,
    /// The flow the job is a step of, if any (`kiribi::Flow`).
    #[serde(default)]
    pub flow: Option<FlowId>,
    /// The job's step name within that flow.
    #[serde(default)]
    pub flow_step: Option<String>,
}

/// One attempt of a job: when it ran, on which worker, and how it ended.
///
/// Read with `Kiribi::attempts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// The job the attempt belongs to.
    pub job_id: JobId,
    /// The 1-based attempt number.
    pub attempt: u32,
    /// The worker (or `inline` for `run_now`) that ran the attempt.
    pub worker: Option<String>,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its error; `None` if it succeeded or still runs.
    pub error: Option<String>,
}

/// One queue: whether it is paused, and its unfinished jobs.
///
/// Read with `Kiribi::queues`. A queue is listed while it has unfinished jobs or is
/// paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Whether workers leave its jobs alone (`Kiribi::pause_queue`).
    pub paused: bool,
    /// When it was paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Its jobs waiting to run: `Pending` or `Retrying`, due or not (flow steps
    /// still `Blocked` on their dependencies are not counted).
    pub pending: u64,
    /// Its jobs `Running`.
    pub running: u64,
    /// How long its longest-waiting due job has waited since it became due; `None`
    /// when no job is due.
    pub oldest_pending_age: Option<std::time::Duration>,
}

impl QueueInfo {
    /// A queue with no jobs, not paused: for backends, which fill in the rest.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            paused: false,
            paused_at: None,
            pending: 0,
            running: 0,
            oldest_pending_age: None,
        }
    }
}

/// The queue list that [`Storage::queues`](crate::Storage::queues) returns, from a
/// backend's rows: per-queue counts (name, waiting jobs, running jobs, how long the
/// longest-waiting due job has waited), in any order and any number of rows per
/// queue (they add up), and the paused queues with when they were paused. Sorted by
/// name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::queue_infos;
///
/// let queues = queue_infos(
///     [("mail".to_owned(), 3, 0, Some(Duration::from_secs(2))), ("mail".to_owned(), 0, 1, None)],
///     [("media".to_owned(), chrono::Utc::now())],
/// );
/// assert_eq!((queues[0].name.as_str(), queues[0].pending, queues[0].running), ("mail", 3, 1));
/// assert!(queues[1].paused && queues[1].pending == 0);
/// ```
pub fn queue_infos(
    counts: impl IntoIterator<Item = (String, u64, u64, Option<std::time::Duration>)>,
    paused: impl IntoIterator<Item = (String, DateTime<Utc>)>,
) -> Vec<QueueInfo> {
    let mut queues = std::collections::BTreeMap::<String, QueueInfo>::new();
    for (name, pending, running, waited) in counts {
        let queue = queues
            .entry(name)
            .or_insert_with_key(|name| QueueInfo::new(name.clone()));
        queue.pending += pending;
        queue.running += running;
        queue.oldest_pending_age = queue.oldest_pending_age.max(waited);
    }
    for (name, at) in paused {
        let queue = queues
            .entry(name)
            .or_insert_with_key(|name| QueueInfo::new(name.clone()));
        queue.paused = true;
        queue.paused_at = Some(at);
    }
    queues.into_values().collect()
}

/// Builds a [`JobRecord`] field by field: for backends, which read records from
/// their rows. Every field not set keeps the value a new job has (`default` queue,
/// `Pending`, priority 0, 5 attempts, no result …; the times default to the Unix
/// epoch, so a backend sets them).
///
/// # Examples
///
/// ```
/// use kiribi_core::{JobId, JobStatus};
/// use kiribi_core::backend::JobRecordBuilder;
///
/// let record = JobRecordBuilder::new(JobId::from_i64(7), "send_welcome")
///     .queue("mail".to_owned())
///     .status(JobStatus::Running)
///     .attempts(1)
///     .build();
/// assert_eq!((record.queue.as_str(), record.attempts), ("mail", 1));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct JobRecordBuilder {
    record: JobRecord,
}

macro_rules! setters {
    ($builder:ident . $inner:ident : $( $(#[$doc:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        impl $builder {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$inner.$field = $field;
                    self
                }
            )*
        }
    };
}

impl JobRecordBuilder {
    /// A record of job `id` named `name`, with a new job's values elsewhere.
    pub fn new(id: JobId, name: impl Into<String>) -> Self {
        Self {
            record: JobRecord {
                id,
                name: name.into(),
                queue: "default".to_owned(),
                status: JobStatus::Pending,
                priority: 0,
                attempts: 0,
                max_attempts: 5,
                interruptions: 0,
                payload: serde_json::Value::Null,
                result: None,
                last_error: None,
                created_at: DateTime::UNIX_EPOCH,
                run_at: DateTime::UNIX_EPOCH,
                started_at: None,
                finished_at: None,
                lease_owner: None,
                lease_expires_at: None,
                unique_key: None,
                schedule: None,
                schedule_tick: None,
                progress: None,
                flow: None,
                flow_step: None,
            },
        }
    }

    /// The record.
    pub fn build(self) -> JobRecord {
        self.record
    }
}

setters!(JobRecordBuilder.record:
    /// Sets [`JobRecord::queue`].
    queue: String,
    /// Sets [`JobRecord::status`].
    status: JobStatus,
    /// Sets [`JobRecord::priority`].
    priority: i32,
    /// Sets [`JobRecord::attempts`].
    attempts: u32,
    /// Sets [`JobRecord::max_attempts`].
    max_attempts: u32,
    /// Sets [`JobRecord::interruptions`].
    interruptions: u32,
    /// Sets [`JobRecord::payload`].
    payload: serde_json::Value,
    /// Sets [`JobRecord::result`].
    result: Option<serde_json::Value>,
    /// Sets [`JobRecord::last_error`].
    last_error: Option<String>,
    /// Sets [`JobRecord::created_at`].
    created_at: DateTime<Utc>,
    /// Sets [`JobRecord::run_at`].
    run_at: DateTime<Utc>,
    /// Sets [`JobRecord::started_at`].
    started_at: Option<DateTime<Utc>>,
    /// Sets [`JobRecord::finished_at`].
    finished_at: Option<DateTime<Utc>>,
    /// Sets [`JobRecord::lease_owner`].
    lease_owner: Option<String>,
    /// Sets [`JobRecord::lease_expires_at`].
    lease_expires_at: Option<DateTime<Utc>>,
    /// Sets [`JobRecord::unique_key`].
    unique_key: Option<String>,
    /// Sets [`JobRecord::schedule`].
    schedule: Option<String>,
    /// Sets [`JobRecord::schedule_tick`].
    schedule_tick: Option<DateTime<Utc>>,
    /// Sets [`JobRecord::progress`].
    progress: Option<f32>,
    /// Sets [`JobRecord::flow`].
    flow: Option<FlowId>,
    /// Sets [`JobRecord::flow_step`].
    flow_step: Option<String>,
);

/// Builds an [`AttemptRecord`] field by field, for backends.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobId;
/// use kiribi_core::backend::AttemptRecordBuilder;
///
/// let started = chrono::Utc::now();
/// let attempt = AttemptRecordBuilder::new(JobId::from_i64(7), 2, started)
///     .worker(Some("worker-1".to_owned()))
///     .error(Some("timed out".to_owned()))
///     .build();
/// assert_eq!(attempt.error.as_deref(), Some("timed out"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build`"]
pub struct AttemptRecordBuilder {
    record: AttemptRecord,
}

impl AttemptRecordBuilder {
    /// Attempt `attempt` of job `job_id`, started at `started_at`, still running.
    pub fn new(job_id: JobId, attempt: u32, started_at: DateTime<Utc>) -> Self {
        Self {
            record: AttemptRecord {
                job_id,
                attempt,
                worker: None,
                started_at,
                finished_at: None,
                error: None,
            },
        }
    }

    /// The record.
    pub fn build(self) -> AttemptRecord {
        self.record
    }
}

setters!(AttemptRecordBuilder.record:
    /// Sets [`AttemptRecord::worker`].
    worker: Option<String>,
    /// Sets [`AttemptRecord::finished_at`].
    finished_at: Option<DateTime<Utc>>,
    /// Sets [`AttemptRecord::error`].
    error: Option<String>,
);
