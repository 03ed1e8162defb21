//! Executing one attempt: run the job's code under its timeout with panics caught,
//! ask the failure policy what the ending means, and hand the outcome to the
//! recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiribi_core::backend::{ClaimedJob, Outcome};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::policy::after_attempt;
use crate::registry::Registry;
use crate::run::attempt;
use crate::worker::recorder::Completion;
use crate::{JobContext, Kiribi};

/// Where a job task hands its outcome over.
#[derive(Clone)]
pub(crate) struct Handover {
    /// The recorder's channel.
    pub(crate) outcomes: mpsc::Sender<Completion>,
    /// The worker's count of finished jobs, which sizes its claims ahead.
    pub(crate) finished: Arc<AtomicUsize>,
}

/// Runs one claimed job and hands its outcome to the recorder.
pub(crate) async fn execute(
    kiribi: Kiribi,
    registry: Arc<Registry>,
    job: ClaimedJob,
    handover: Handover,
) {
    let Some(registration) = registry.get(&job.name) else {
        // Unreachable in practice: claims only ask for registered names. The job
        // stays leased and goes back at shutdown.
        handover.finished.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let config = registration.config();
    let ctx = JobContext::new(
        job.id(),
        job.name.clone(),
        job.attempt(),
        job.max_attempts,
        kiribi,
    );
    let span = tracing::info_span!("job", id = %job.id(), job = %job.name, queue = %job.queue, attempt = job.attempt());
    let charged = job.charged_attempts();
    let ended = async {
        tracing::debug!("job started");
        attempt(registration.run(ctx, job.payload), config.timeout).await
    }
    .instrument(span.clone())
    .await;
    let outcome: Outcome = after_attempt(ended, charged, job.max_attempts, &config.retry);
    if let Some(error) = outcome.error() {
        span.in_scope(|| tracing::info!(%error, "job attempt failed"));
    }
    handover.finished.fetch_add(1, Ordering::Relaxed);
    // The recorder only stops after every sender is gone, so this send is received.
    if handover.outcomes.send((job.lease, outcome)).await.is_err() {
        tracing::error!("the worker's recorder stopped before a job's outcome reached it");
    }
}
