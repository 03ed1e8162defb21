//! Executing one attempt: run the job's code under its timeout with panics caught,
//! ask the failure policy what the ending means, and hand the outcome to the
//! recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kiribi_core::backend::{ClaimedJob, Outcome};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::logs::OutputSink;
use crate::policy::{after_attempt, after_cancel};
use crate::registry::Registry;
use crate::run::attempt;
use crate::worker::cancel::Running;
use crate::worker::recorder::Completion;
use crate::{JobContext, Kiribi};

/// Where a job task hands its outcome over.
#[derive(Clone)]
pub(crate) struct Handover {
    /// The recorder's channel.
    pub(crate) outcomes: mpsc::Sender<Completion>,
    /// The worker's count of finished jobs, which sizes its claims ahead.
    pub(crate) finished: Arc<AtomicUsize>,
    /// The cancel signals of the worker's running jobs.
    pub(crate) running: Running,
    /// How long a job asked to stop may run on before it is stopped.
    pub(crate) cancel_grace: Duration,
    /// Where the jobs' log lines and progress go: the recorder writes them.
    pub(crate) output: OutputSink,
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
    let registered = handover.running.register(job.id());
    let ctx = JobContext::cancellable(
        job.id(),
        job.name.clone(),
        job.attempt(),
        job.max_attempts,
        kiribi,
        registered.signal.clone(),
        handover.output.clone(),
    );
    let span = crate::log_layer::attempt_span(
        &ctx,
        || tracing::info_span!("job", id = %job.id(), job = %job.name, queue = %job.queue, attempt = job.attempt(), outcome = tracing::field::Empty),
    );
    crate::otel::continue_trace(&span, job.trace_context.as_deref(), job.attempt());
    // The job's own handle is moved into its future; this one ends its log.
    let output = ctx.clone();
    let charged = job.charged_attempts();
    let grace = handover.cancel_grace;
    let signal = registered.signal.clone();
    // Once the job is asked to stop, it has `grace` to return; then it is dropped.
    let stopped = async move {
        signal.raised().await;
        tracing::info!("job asked to stop");
        tokio::time::sleep(grace).await;
    };
    let timed = crate::metrics::Attempt::started(&job.name, &job.queue, job.due_at);
    let ended = async {
        tracing::debug!("job started");
        tokio::select! {
            biased;
            ended = attempt(registration.run(ctx, job.payload), config.timeout) => Some(ended),
            () = stopped => None,
        }
    }
    .instrument(span.clone())
    .await;
    let cancelled = registered.signal.is_raised();
    drop(registered);
    let outcome: Outcome = match ended {
        Some(ended) if !cancelled => after_attempt(ended, charged, job.max_attempts, &config.retry),
        ended => after_cancel(ended.as_ref(), grace),
    };
    timed.ended(&job.name, &job.queue, &outcome);
    span.record("outcome", crate::metrics::outcome_name(&outcome));
    span.in_scope(|| match &outcome {
        Outcome::Retry { error, delay, .. } => {
            tracing::warn!(%error, retry_in = ?delay, "job attempt failed; it will be retried");
        }
        Outcome::Failed { error, .. } => tracing::error!(%error, "job failed for good"),
        other => {
            if let Some(error) = other.error() {
                tracing::info!(reason = %error, "job attempt stopped");
            }
        }
    });
    // Before the outcome: the recorder writes the attempt's last lines with it.
    output.close_output();
    drop(output);
    handover.finished.fetch_add(1, Ordering::Relaxed);
    // The recorder only stops after every sender is gone, so this send is received.
    if handover.outcomes.send((job.lease, outcome)).await.is_err() {
        tracing::error!("the worker's recorder stopped before a job's outcome reached it");
    }
}
