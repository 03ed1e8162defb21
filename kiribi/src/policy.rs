//! The failure policy: what every way an attempt can end means for its job.
//!
//! One place decides, for workers and for inline runs alike, and for every ending:
//! a value, an error (permanent or not), a snooze, a panic, a timeout, a lost
//! lease, a cancel of the running job. Backends store the [`Outcome`] it returns;
//! they do not decide again in SQL.
//!
//! A snooze (`JobError::snooze`) is not a failure: the attempt is given back
//! uncharged ([`Outcome::Snoozed`]), so a job may snooze any number of times
//! whatever its `max_attempts`. A job asked to stop while it runs
//! ([`Kiribi::cancel`](crate::Kiribi::cancel)) ends cancelled
//! ([`Outcome::Cancelled`]) whatever it returned, and is never retried; one that
//! does not return within its worker's
//! [`cancel_grace`](crate::WorkerBuilder::cancel_grace) is stopped and ends
//! cancelled too.
//!
//! What a crash costs. A worker that dies (killed, out of memory, its host gone)
//! stops renewing its leases; once they expire, the reaper of any other worker takes
//! the jobs back and asks this policy. Losing the worker is not the job's
//! fault, so the attempt is an *interruption*: the job is ready again at once, and
//! the attempt is not charged against `max_attempts`. That covers jobs the dead
//! worker had claimed ahead but never started as well as the ones it was running:
//! nobody can tell them apart after the crash, and neither may lose an attempt. A job
//! whose attempts keep being interrupted may be what kills its worker (a "poison
//! pill"), so after [`MAX_INTERRUPTIONS`] interruptions the next lost lease fails it
//! for good.

use std::time::Duration;

use kiribi_core::backend::{ExpiredLease, Outcome, lease_expired_error};
use kiribi_core::{JobError, RetryPolicy};

use crate::worker::identity;

/// How many interruptions a job is forgiven; the next lost lease fails it.
pub const MAX_INTERRUPTIONS: u32 = 3;

/// How an attempt ended without a value, seen from the worker that ran it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The job returned `Err` (or could not start: a bad payload, a missing state).
    Error(JobError),
    /// The job's future panicked, with this message.
    Panicked(String),
    /// The job's future outlived its timeout and was dropped.
    TimedOut(Duration),
}

impl Failure {
    /// The attempt's error as stored.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Error(error) => error.message().to_owned(),
            Failure::Panicked(message) => format!("panicked: {message}"),
            Failure::TimedOut(limit) => format!("timed out after {}", humanize(*limit)),
        }
    }

    /// The attempt's error as a `JobError`, for `run_now`'s caller.
    pub(crate) fn to_job_error(&self) -> JobError {
        match self {
            Failure::Error(error) => error.clone(),
            other => JobError::new(other.message()),
        }
    }
}

/// What an attempt's ending means for its job: its value (as JSON; `None` for
/// `()`), or how it failed.
///
/// `charged` is the number of attempts that count against `max_attempts`, this one
/// included (interrupted ones do not count). An error is retried with the job's
/// backoff while charged attempts remain, unless it is permanent; a panic and a
/// timeout are errors like any other.
pub(crate) fn after_attempt(
    ended: Result<Option<serde_json::Value>, Failure>,
    charged: u32,
    max_attempts: u32,
    retry: &RetryPolicy,
) -> Outcome {
    let failure = match ended {
        Ok(result) => return Outcome::succeeded(result),
        Err(failure) => failure,
    };
    if let Failure::Error(error) = &failure
        && let Some(delay) = error.snoozed()
    {
        return Outcome::snoozed(delay);
    }
    let permanent = matches!(&failure, Failure::Error(error) if error.is_permanent());
    if permanent || charged >= max_attempts {
        Outcome::failed(failure.message())
    } else {
        Outcome::retry(failure.message(), retry.delay_after(charged))
    }
}

/// What the failure of an inline (`run_now`) attempt means: its one attempt is
/// over, so it fails; a snooze too, since no worker is to run it again (the caller
/// gets the error).
pub(crate) fn after_inline_failure(failure: Failure, retry: &RetryPolicy) -> Outcome {
    match after_attempt(Err(failure), 1, 1, retry) {
        Outcome::Snoozed { delay, .. } => Outcome::failed(format!(
            "snoozed for {}, but a job run inline (`run_now`) is not run again",
            humanize(delay)
        )),
        outcome => outcome,
    }
}

/// What an attempt means when its job was asked to stop while it ran: the job is
/// cancelled, whatever the attempt returned, and the reason stored as the attempt's
/// error says how it ended. `ended` is `None` when the job did not return within
/// `grace` of the request and was stopped.
pub(crate) fn after_cancel(
    ended: Option<&Result<Option<serde_json::Value>, Failure>>,
    grace: Duration,
) -> Outcome {
    const CANCELLED: &str = "cancelled while running";
    Outcome::cancelled(match ended {
        Some(Ok(_)) => format!("{CANCELLED}; the job returned a value after the request"),
        Some(Err(failure)) => format!("{CANCELLED}; the job ended with: {}", failure.message()),
        None => format!(
            "{CANCELLED}; the job did not return within the grace period of {}, so it was \
             stopped",
            humanize(grace)
        ),
    })
}

/// What becomes of a job whose lease expired under its owner.
///
/// An interruption while fewer than [`MAX_INTERRUPTIONS`] came before; a failure
/// after that. A job run inline (`run_now`) is never handed to a worker: when the
/// process running it is lost, it fails.
pub(crate) fn after_lost_lease(expired: &ExpiredLease) -> Outcome {
    let owner = expired.lease.owner.as_str();
    let lost = lease_expired_error(owner);
    if identity::is_inline(owner) {
        return Outcome::failed(format!(
            "{lost}; it ran inline (`run_now`), so it is not retried by a worker"
        ));
    }
    if expired.interruptions >= MAX_INTERRUPTIONS {
        return Outcome::failed(format!(
            "{lost}; its attempts were interrupted {} times before, so it fails for good: \
             the job may be what brings its worker down",
            expired.interruptions
        ));
    }
    Outcome::interrupted(lost)
}

/// `1.5s`, `250ms`, `2m`: a duration as a person writes it.
pub(crate) fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis > 0 && millis.is_multiple_of(60_000) {
        format!("{}m", millis / 60_000)
    } else if millis > 0 && millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else if millis >= 1000 {
        format!("{:.3}s", duration.as_secs_f64())
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use kiribi_core::JobId;
    use kiribi_core::backend::{Lease, WorkerId};

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(kiribi_core::Backoff::Fixed, Duration::from_secs(2))
    }

    fn expired(owner: &str, interruptions: u32) -> ExpiredLease {
        let lease = Lease::new(JobId::from_i64(1), 4, WorkerId::new(owner));
        ExpiredLease::new(lease, 1, interruptions)
    }

    #[test]
    fn an_error_is_retried_with_backoff_while_attempts_remain() {
        let outcome = after_attempt(Err(Failure::Error(JobError::new("flaky"))), 1, 3, &policy());
        assert_eq!(outcome, Outcome::retry("flaky", Duration::from_secs(2)));
        let last = after_attempt(Err(Failure::Error(JobError::new("flaky"))), 3, 3, &policy());
        assert_eq!(last, Outcome::failed("flaky"));
    }

    #[test]
    fn a_permanent_error_fails_at_once() {
        let outcome = after_attempt(
            Err(Failure::Error(JobError::permanent("gone"))),
            1,
            5,
            &policy(),
        );
        assert_eq!(outcome, Outcome::failed("gone"));
    }

    #[test]
    fn panics_and_timeouts_are_retried_errors() {
        let panic = after_attempt(Err(Failure::Panicked("boom".into())), 1, 2, &policy());
        assert_eq!(panic.error(), Some("panicked: boom"));
        assert!(matches!(panic, Outcome::Retry { .. }));
        let timeout = after_attempt(
            Err(Failure::TimedOut(Duration::from_millis(20))),
            2,
            2,
            &policy(),
        );
        assert_eq!(timeout, Outcome::failed("timed out after 20ms"));
    }

    #[test]
    fn a_value_succeeds_whatever_the_attempt() {
        let value = Some(serde_json::json!(7));
        let outcome = after_attempt(Ok(value.clone()), 9, 1, &policy());
        assert_eq!(outcome, Outcome::succeeded(value));
    }

    #[test]
    fn a_lost_worker_interrupts_without_charging_until_the_cap() {
        let owner = "worker:host:1:00ff";
        let outcome = after_lost_lease(&expired(owner, 0));
        assert!(
            matches!(outcome, Outcome::Interrupted { .. }),
            "{outcome:?}"
        );
        assert!(outcome.error().unwrap().contains(owner));
        let capped = after_lost_lease(&expired(owner, MAX_INTERRUPTIONS));
        assert!(matches!(capped, Outcome::Failed { .. }), "{capped:?}");
        assert!(capped.error().unwrap().contains("interrupted 3 times"));
    }

    #[test]
    fn a_lost_inline_run_fails() {
        let outcome = after_lost_lease(&expired("inline:host:1:00ff", 0));
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        assert!(outcome.error().unwrap().contains("run_now"));
    }

    #[test]
    fn a_snooze_is_not_charged_whatever_the_attempts() {
        let snooze = || Err(Failure::Error(JobError::snooze(Duration::from_secs(5))));
        assert_eq!(
            after_attempt(snooze(), 1, 1, &policy()),
            Outcome::snoozed(Duration::from_secs(5))
        );
        assert_eq!(
            after_attempt(snooze(), 9, 2, &policy()),
            Outcome::snoozed(Duration::from_secs(5)),
            "a snooze after the last attempt still waits"
        );
    }

    #[test]
    fn an_inline_attempt_fails_even_when_it_snoozes() {
        let snoozed = Failure::Error(JobError::snooze(Duration::from_secs(5)));
        let outcome = after_inline_failure(snoozed, &policy());
        assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
        assert!(outcome.error().unwrap().contains("run_now"));
        let failed = after_inline_failure(Failure::Error(JobError::new("x")), &policy());
        assert_eq!(failed, Outcome::failed("x"));
    }

    #[test]
    fn a_cancelled_attempt_ends_cancelled_whatever_it_returned() {
        let grace = Duration::from_secs(3);
        let returned = after_cancel(Some(&Ok(Some(serde_json::json!(1)))), grace);
        assert!(
            matches!(returned, Outcome::Cancelled { .. }),
            "{returned:?}"
        );
        let failed = after_cancel(Some(&Err(Failure::Error(JobError::new("oops")))), grace);
        assert!(failed.error().unwrap().contains("oops"), "{failed:?}");
        let snoozed = after_cancel(Some(&Err(Failure::Error(JobError::snooze(grace)))), grace);
        assert!(matches!(snoozed, Outcome::Cancelled { .. }), "{snoozed:?}");
        let stopped = after_cancel(None, grace);
        assert!(
            stopped.error().unwrap().contains("grace period of 3s"),
            "{stopped:?}"
        );
    }

    #[test]
    fn durations_read_like_attribute_values() {
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.500s");
    }
}
