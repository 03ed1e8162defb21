//! `JobStatus`, the lifecycle of a job.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its lifecycle.
///
/// `Pending` (waiting; `run_at` may be in the future) → `Running` → `Succeeded`; on
/// error `Retrying` (waits for its next `run_at`) until attempts are exhausted, then
/// `Failed`. `Cancelled` comes from `Pending`, `Retrying` or `Blocked` (and from
/// `Running`, when a running job asked to stop ends). A flow step with dependencies
/// starts `Blocked` and becomes `Pending` once all of them succeeded.
///
/// The same lower-case word names the status in the database, in JSON and in logs.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobStatus;
///
/// assert_eq!(JobStatus::Failed.as_str(), "failed");
/// assert_eq!("retrying".parse::<JobStatus>().unwrap(), JobStatus::Retrying);
/// assert!(JobStatus::Succeeded.is_finished());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum JobStatus {
    /// Waiting to run; its `run_at` may lie in the future.
    Pending,
    /// Claimed by a worker, which holds a lease on it.
    Running,
    /// Finished without error.
    Succeeded,
    /// Failed an attempt and waits for its next `run_at`.
    Retrying,
    /// Failed its last attempt, or failed permanently.
    Failed,
    /// Cancelled: before it ran, while it ran (asked to stop), or because a flow
    /// step it depends on failed or was cancelled.
    Cancelled,
    /// A flow step waiting for its dependencies to succeed; claims never take it.
    Blocked,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Blocked,
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Retrying,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The lower-case name used in the database and in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Retrying => "retrying",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Blocked => "blocked",
        }
    }

    /// Whether the job will never run again on its own (`Succeeded`, `Failed`, `Cancelled`).
    pub const fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string names no job status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a job status: expected one of blocked, pending, running, succeeded, retrying, failed, cancelled"
)]
pub struct ParseJobStatusError {
    input: String,
}

impl FromStr for JobStatus {
    type Err = ParseJobStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseJobStatusError {
                input: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::Value::String(status.as_str().to_owned())
            );
        }
    }

    #[test]
    fn unknown_status_names_the_valid_ones() {
        let err = "done".parse::<JobStatus>().unwrap_err().to_string();
        assert!(err.contains("`done`") && err.contains("succeeded"), "{err}");
    }
}
