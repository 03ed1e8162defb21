//! Shutdown: give back what was not started, let running jobs finish within the
//! grace period, record every outcome handed over, and give back the rest.
//!
//! When the recorder gave up, there is no grace period: outcomes cannot be written,
//! so the running jobs are stopped at once, and their leases lapse for other workers
//! to take the jobs over (a release is still tried, in case only completions fail).

use kiribi_core::Storage;
use kiribi_core::backend::{ClaimedJob, Lease};
use tokio::time::Instant;

use crate::Result;
use crate::worker::dispatch::{Dispatcher, Stopped, claim_result};
use crate::worker::recorder::Recorder;

/// Shuts the worker down after dispatch stopped for `why`.
pub(crate) async fn shutdown(
    mut dispatcher: Dispatcher,
    mut recorder: Recorder,
    why: Stopped,
) -> Result<()> {
    let worker = dispatcher.worker.clone();
    let storage = dispatcher.kiribi.storage().clone();
    let log = &worker.log;
    let fatal = match why {
        Stopped::Asked => None,
        Stopped::RecorderFailed(error) => Some(error),
    };
    tracing::info!(worker = %worker.id, running = dispatcher.tasks.len(), claimed_ahead = dispatcher.claimed.len(), "worker shutting down");

    // Jobs claimed but not started go back at once, for other workers to take.
    if dispatcher.claiming.is_some() {
        match claim_result(&mut dispatcher.claiming).await {
            Ok(jobs) => dispatcher.claimed.extend(jobs),
            Err(err) => log.warn("a claim failed during shutdown", &err),
        }
    }
    let not_started: Vec<Lease> = dispatcher
        .claimed
        .drain(..)
        .map(|job: ClaimedJob| job.lease)
        .collect();
    let released = release(storage.as_ref(), &not_started).await;

    let grace = if fatal.is_some() {
        std::time::Duration::ZERO
    } else {
        worker.config.shutdown_timeout
    };
    let deadline = Instant::now() + grace;
    loop {
        tokio::select! {
            done = dispatcher.tasks.join_next_with_id() => match done {
                Some(done) => dispatcher.forget(done),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    if !dispatcher.tasks.is_empty() {
        tracing::warn!(worker = %worker.id, jobs = dispatcher.tasks.len(), "stopping unfinished jobs and giving them back");
        dispatcher.tasks.abort_all();
        // A task that ends normally has handed its outcome over; only the ones
        // stopped before that stay in `running`.
        while let Some(done) = dispatcher.tasks.join_next_with_id().await {
            if let Ok((task, ())) = done {
                dispatcher.running.remove(&task);
            }
        }
    }

    if let Some(error) = fatal {
        let unfinished: Vec<Lease> = dispatcher.running.into_values().collect();
        if let Err(release_error) = release(storage.as_ref(), &unfinished).await {
            log.warn(
                "could not give back the jobs of a worker that stopped",
                &release_error,
            );
        }
        return Err(error);
    }

    // Every outcome handed over is written before the unfinished jobs go back; while
    // the database fails, the recorder retries until the grace period is over.
    // The recorder ends once every sender is gone: the dispatcher holds one too.
    let running = std::mem::take(&mut dispatcher.running);
    drop(dispatcher);
    drop(recorder.outcomes);
    let recorded = tokio::select! {
        recorded = &mut recorder.task => recorded,
        () = tokio::time::sleep_until(deadline) => {
            recorder.abandon.send_replace(true);
            (&mut recorder.task).await
        }
    };
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(error)) => log.error("the worker's outcome recorder gave up", &error),
        Err(join) => {
            tracing::error!(worker = %worker.id, error = %join, "the worker's outcome recorder failed")
        }
    }
    let unfinished: Vec<Lease> = running.into_values().collect();
    let released_unfinished = release(storage.as_ref(), &unfinished).await;
    released.and(released_unfinished)
}

/// Gives jobs back uncharged.
async fn release(storage: &dyn Storage, leases: &[Lease]) -> Result<()> {
    if leases.is_empty() {
        return Ok(());
    }
    storage.release(leases).await?;
    Ok(())
}
