//! Running one attempt (timeout, panic capture) and `run_now`, an inline attempt.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use kiribi_core::JobError;
use kiribi_core::backend::Outcome;

use crate::enqueue::new_job;
use crate::logs::OutputSink;
use crate::policy::{Failure, after_inline_failure};
use crate::registry::encode_result;
use crate::worker::identity;
use crate::{Error, Job, JobContext, Kiribi, Result};

/// How long an inline (`run_now`) attempt's lease lasts between renewals.
const INLINE_LEASE: Duration = Duration::from_secs(30);

/// Runs a job's future to its end, its deadline or its panic, whichever comes first.
/// At the deadline the future is dropped. Anything but a value is the [`Failure`]
/// for the failure policy.
pub(crate) async fn attempt<T>(
    future: impl Future<Output = Result<T, JobError>>,
    timeout: Option<Duration>,
) -> Result<T, Failure> {
    let caught = CatchUnwind(Box::pin(future));
    let finished = match timeout {
        Some(limit) => match tokio::time::timeout(limit, caught).await {
            Ok(finished) => finished,
            Err(_) => return Err(Failure::TimedOut(limit)),
        },
        None => caught.await,
    };
    match finished {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Failure::Error(error)),
        Err(panic) => Err(Failure::Panicked(panic_message(&*panic).to_owned())),
    }
}

/// `MyJob::run_now`: one recorded attempt in the caller's task.
pub(crate) async fn run_now<J: Job>(kiribi: &Kiribi, job: J) -> Result<J::Output> {
    // One attempt, whatever the job declares: the caller gets the result or the error.
    let new = new_job(&job, None)?.with_max_attempts(1);
    let owner = identity::inline();
    let storage = kiribi.storage();
    let claimed = storage.enqueue_running(new, &owner, INLINE_LEASE).await?;
    let output = OutputSink::default();
    let ctx = JobContext::new(
        claimed.id(),
        claimed.name.clone(),
        1,
        1,
        kiribi.clone(),
        output.clone(),
    );
    let ended_log = ctx.clone();

    let timed = crate::metrics::Attempt::started(&claimed.name, &claimed.queue, None);
    let running = attempt(job.run(ctx), J::CONFIG.timeout);
    tokio::pin!(running);
    let mut renew = tokio::time::interval(INLINE_LEASE / 3);
    renew.tick().await;
    let ended = loop {
        tokio::select! {
            ended = &mut running => break ended,
            _ = renew.tick() => {
                if let Err(err) = storage.renew_leases(&owner, INLINE_LEASE).await {
                    let error = kiribi_core::chain_text(&err);
                    tracing::warn!(job = J::CONFIG.name, id = %claimed.id(), %error, "could not renew the lease of an inline job");
                }
            }
        }
    };

    let failed = |error: JobError| Error::JobFailed {
        id: claimed.id(),
        name: claimed.name.clone(),
        error,
    };
    let (outcome, returned) = match ended {
        Ok(output) => match encode_result(J::CONFIG.name, &output) {
            Ok(result) => (Outcome::succeeded(result), Ok(output)),
            Err(err) => (Outcome::failed(kiribi_core::chain_text(&err)), Err(err)),
        },
        Err(failure) => {
            let error = failure.to_job_error();
            let outcome = after_inline_failure(failure, &J::CONFIG.retry);
            (outcome, Err(failed(error)))
        }
    };
    timed.ended(&claimed.name, &claimed.queue, &outcome);
    ended_log.close_output();
    if let Some(pending) = output.take()
        && let Err(err) = pending.write(storage.as_ref()).await
    {
        // The run's outcome matters more than its log: the caller still gets it.
        let error = kiribi_core::chain_text(&err);
        tracing::warn!(job = J::CONFIG.name, id = %claimed.id(), %error, "could not store the log lines of an inline job");
    }
    storage
        .complete_many(&[(claimed.lease.clone(), outcome)])
        .await?;
    returned
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
    use std::sync::atomic::Ordering;

    use super::*;

    #[tokio::test]
    async fn a_panic_ends_the_attempt_with_its_message() {
        let ended = attempt(async { panic!("boom") as Result<(), JobError> }, None).await;
        let Err(Failure::Panicked(message)) = ended else {
            panic!("expected a panic, got {ended:?}");
        };
        assert_eq!(message, "boom");
    }

    #[tokio::test]
    async fn a_timeout_drops_the_future() {
        struct Dropped(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        let ended = attempt(
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            },
            Some(Duration::from_millis(20)),
        )
        .await;
        assert!(
            matches!(ended, Err(Failure::TimedOut(limit)) if limit == Duration::from_millis(20))
        );
        assert!(dropped.load(Ordering::SeqCst));
    }
}
