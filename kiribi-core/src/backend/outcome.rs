//! How an attempt's [`Outcome`] is stored on its job row.

use std::time::Duration;

use crate::JobStatus;
use crate::backend::Outcome;

/// The job columns an [`Outcome`] sets, the same on every backend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutcomeColumns<'a> {
    /// The job's new status: `Succeeded`, `Retrying`, `Failed` or `Cancelled`
    /// (for a released attempt, see `released`).
    pub status: JobStatus,
    /// The job's output as JSON text (`None` when it has none, or failed).
    pub result: Option<String>,
    /// The attempt's error (`None` when it succeeded; the job then keeps its
    /// previous `last_error`).
    pub error: Option<&'a str>,
    /// For a retry, how long after now the next attempt is due (`None` keeps
    /// `run_at`).
    pub retry_in: Option<Duration>,
    /// Whether the job is finished, so `finished_at` is set to now.
    pub finished: bool,
    /// Whether the attempt was interrupted, so the job's `interruptions` count
    /// goes up by one.
    pub interrupted: bool,
    /// Whether the attempt is given back uncharged (a snooze), as
    /// [`Storage::release`](crate::Storage::release) gives one back: `attempts`
    /// goes down by one, the attempt leaves the history, and the job is `Pending`
    /// when no attempt is left (`attempts` back at 0), else `status` (`Retrying`).
    pub released: bool,
}

impl<'a> OutcomeColumns<'a> {
    /// The columns `outcome` sets.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi_core::JobStatus;
    /// use kiribi_core::backend::{Outcome, OutcomeColumns};
    ///
    /// let retry = Outcome::retry("flaky", Duration::from_secs(2));
    /// let columns = OutcomeColumns::of(&retry);
    /// assert_eq!(columns.status, JobStatus::Retrying);
    /// assert_eq!(columns.retry_in, Some(Duration::from_secs(2)));
    /// assert!(!columns.finished && !columns.interrupted);
    /// ```
    pub fn of(outcome: &'a Outcome) -> Self {
        let waiting = |error: &'a str, retry_in: Duration, interrupted: bool| Self {
            status: JobStatus::Retrying,
            result: None,
            error: Some(error),
            retry_in: Some(retry_in),
            finished: false,
            interrupted,
            released: false,
        };
        match outcome {
            Outcome::Succeeded { result } => Self {
                status: JobStatus::Succeeded,
                result: result.as_ref().map(serde_json::Value::to_string),
                error: None,
                retry_in: None,
                finished: true,
                interrupted: false,
                released: false,
            },
            Outcome::Retry { error, delay } => waiting(error, *delay, false),
            Outcome::Cancelled { reason } => Self {
                status: JobStatus::Cancelled,
                result: None,
                error: Some(reason),
                retry_in: None,
                finished: true,
                interrupted: false,
                released: false,
            },
            Outcome::Snoozed { delay } => Self {
                status: JobStatus::Retrying,
                result: None,
                error: None,
                retry_in: Some(*delay),
                finished: false,
                interrupted: false,
                released: true,
            },
            Outcome::Interrupted { error } => waiting(error, Duration::ZERO, true),
            Outcome::Failed { error } => Self {
                status: JobStatus::Failed,
                result: None,
                error: Some(error),
                retry_in: None,
                finished: true,
                interrupted: false,
                released: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_stores_its_result_as_json_text_and_finishes_the_job() {
        let done = Outcome::succeeded(Some(serde_json::json!({ "sent": true })));
        let columns = OutcomeColumns::of(&done);
        assert_eq!(columns.status, JobStatus::Succeeded);
        assert_eq!(columns.result.as_deref(), Some(r#"{"sent":true}"#));
        assert_eq!((columns.error, columns.retry_in), (None, None));
        assert!(columns.finished);
    }

    #[test]
    fn failure_keeps_its_error_and_finishes_the_job() {
        let failed = Outcome::failed("gone");
        let columns = OutcomeColumns::of(&failed);
        assert_eq!(columns.status, JobStatus::Failed);
        assert_eq!(columns.error, Some("gone"));
        assert_eq!((columns.result, columns.retry_in), (None, None));
        assert!(columns.finished);
    }

    #[test]
    fn an_interruption_is_ready_at_once_and_counted() {
        let lost = Outcome::interrupted("worker lost");
        let columns = OutcomeColumns::of(&lost);
        assert_eq!(columns.status, JobStatus::Retrying);
        assert_eq!(columns.retry_in, Some(Duration::ZERO));
        assert_eq!(columns.error, Some("worker lost"));
        assert!(columns.interrupted && !columns.finished);
    }

    #[test]
    fn a_cancel_finishes_the_job_with_its_reason() {
        let cancelled = Outcome::cancelled("cancelled while running");
        let columns = OutcomeColumns::of(&cancelled);
        assert_eq!(columns.status, JobStatus::Cancelled);
        assert_eq!(columns.error, Some("cancelled while running"));
        assert!(columns.finished && !columns.released && !columns.interrupted);
    }

    #[test]
    fn a_snooze_gives_the_attempt_back_and_waits() {
        let snoozed = Outcome::snoozed(Duration::from_secs(3));
        let columns = OutcomeColumns::of(&snoozed);
        assert_eq!(columns.retry_in, Some(Duration::from_secs(3)));
        assert_eq!(columns.error, None);
        assert!(columns.released && !columns.finished && !columns.interrupted);
    }
}
