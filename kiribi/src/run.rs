//! Running one attempt: timeout, panic capture, the retry decision, and `run_now`.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use kiribi_core::{JobError, Outcome, RetryPolicy};

use crate::enqueue::new_job;
use crate::registry::encode_result;
use crate::{Error, Job, JobContext, Kiribi, Result};

/// How long an inline (`run_now`) attempt's lease lasts between renewals.
const INLINE_LEASE: Duration = Duration::from_secs(30);

/// Runs a job's future to its end, its deadline or its panic, whichever comes first.
/// At the deadline the future is dropped; a panic becomes the attempt's error.
pub(crate) async fn guarded<T>(
    future: impl Future<Output = Result<T, JobError>>,
    timeout: Option<Duration>,
) -> Result<T, JobError> {
    let caught = CatchUnwind(Box::pin(future));
    let finished = match timeout {
        Some(limit) => match tokio::time::timeout(limit, caught).await {
            Ok(finished) => finished,
            Err(_) => {
                return Err(JobError::new(format_args!(
                    "timed out after {}",
                    humanize(limit)
                )));
            }
        },
        None => caught.await,
    };
    finished.unwrap_or_else(|panic| {
        Err(JobError::new(format_args!(
            "panicked: {}",
            panic_message(&*panic)
        )))
    })
}

/// What becomes of a job whose attempt failed with `error`.
pub(crate) fn outcome_after_error(
    error: &JobError,
    attempt: u32,
    max_attempts: u32,
    retry: &RetryPolicy,
) -> Outcome {
    if error.is_permanent() || attempt >= max_attempts {
        Outcome::Failed {
            error: error.message().to_owned(),
        }
    } else {
        Outcome::Retry {
            error: error.message().to_owned(),
            delay: retry.delay_after(attempt),
        }
    }
}

/// `MyJob::run_now`: one recorded attempt in the caller's task.
pub(crate) async fn run_now<J: Job>(kiribi: &Kiribi, job: J) -> Result<J::Output> {
    let mut new = new_job(&job, None)?;
    // One attempt, whatever the job declares: the caller gets the result or the error.
    new.max_attempts = 1;
    let owner = inline_owner();
    let storage = kiribi.storage();
    let claimed = storage.enqueue_running(new, &owner, INLINE_LEASE).await?;
    let ctx = JobContext::new(claimed.id, claimed.name.clone(), 1, 1, kiribi.clone());

    let attempt = guarded(job.run(ctx), J::CONFIG.timeout);
    tokio::pin!(attempt);
    let mut renew = tokio::time::interval(INLINE_LEASE / 3);
    renew.tick().await;
    let result = loop {
        tokio::select! {
            result = &mut attempt => break result,
            _ = renew.tick() => {
                if let Err(err) = storage.renew_leases(&owner, INLINE_LEASE).await {
                    tracing::warn!(job = J::CONFIG.name, id = %claimed.id, error = %err, "could not renew the lease of an inline job");
                }
            }
        }
    };

    let (outcome, returned) = match result {
        Ok(output) => match encode_result(J::CONFIG.name, &output) {
            Ok(result) => (Outcome::Succeeded { result }, Ok(output)),
            Err(err) => (
                Outcome::Failed {
                    error: err.to_string(),
                },
                Err(err),
            ),
        },
        Err(error) => (
            Outcome::Failed {
                error: error.message().to_owned(),
            },
            Err(Error::JobFailed {
                id: claimed.id,
                name: claimed.name.clone(),
                error,
            }),
        ),
    };
    storage.complete(claimed.lease(), outcome).await?;
    returned
}

/// A lease owner unique to one inline run in this process.
fn inline_owner() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "inline-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
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

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "a panic with a non-string payload"
    }
}

/// Polls a future, turning a panic into `Err(payload)` instead of unwinding further.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::result::Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.get_mut().0.as_mut();
        // The future is never polled again after a panic, so no broken invariant
        // inside it can be observed.
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_the_attempts_error() {
        let err = guarded(async { panic!("boom") as Result<(), JobError> }, None)
            .await
            .unwrap_err();
        assert_eq!(err.message(), "panicked: boom");
        assert!(!err.is_permanent());
    }

    #[tokio::test]
    async fn a_timeout_drops_the_future_and_says_how_long() {
        struct Dropped(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let err = guarded(
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            },
            Some(Duration::from_millis(20)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.message(), "timed out after 20ms");
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn the_last_attempt_and_permanent_errors_fail_the_job() {
        let policy = RetryPolicy::default();
        let flaky = JobError::new("flaky");
        assert!(matches!(
            outcome_after_error(&flaky, 1, 3, &policy),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            outcome_after_error(&flaky, 3, 3, &policy),
            Outcome::Failed { .. }
        ));
        let gone = JobError::permanent("gone");
        assert!(matches!(
            outcome_after_error(&gone, 1, 3, &policy),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn durations_read_like_attribute_values() {
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(300)), "5m");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.500s");
    }
}
