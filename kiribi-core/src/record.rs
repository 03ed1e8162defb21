//! What a backend stores about a job and its attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{JobId, JobStatus};

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
    /// Attempts started so far (the running one included).
    pub attempts: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
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

/// Builds records in backends, which cannot use struct literals across crates.
#[doc(hidden)]
pub mod build {
    use super::*;

    /// Every stored column of a job, in declaration order.
    #[allow(clippy::too_many_arguments, reason = "one argument per stored column")]
    pub fn job_record(
        id: JobId,
        name: String,
        queue: String,
        status: JobStatus,
        priority: i32,
        attempts: u32,
        max_attempts: u32,
        payload: serde_json::Value,
        result: Option<serde_json::Value>,
        last_error: Option<String>,
        created_at: DateTime<Utc>,
        run_at: DateTime<Utc>,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
        lease_owner: Option<String>,
        lease_expires_at: Option<DateTime<Utc>>,
    ) -> JobRecord {
        JobRecord {
            id,
            name,
            queue,
            status,
            priority,
            attempts,
            max_attempts,
            payload,
            result,
            last_error,
            created_at,
            run_at,
            started_at,
            finished_at,
            lease_owner,
            lease_expires_at,
        }
    }

    /// Every stored column of an attempt.
    pub fn attempt_record(
        job_id: JobId,
        attempt: u32,
        worker: Option<String>,
        started_at: DateTime<Utc>,
        finished_at: Option<DateTime<Utc>>,
        error: Option<String>,
    ) -> AttemptRecord {
        AttemptRecord {
            job_id,
            attempt,
            worker,
            started_at,
            finished_at,
            error,
        }
    }
}
