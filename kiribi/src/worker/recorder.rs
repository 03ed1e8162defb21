//! Recording outcomes: the worker's jobs hand their outcomes over, and one task
//! writes them in batches (whatever finished while the previous write was in flight
//! goes into the next one), so a busy worker pays one commit for many jobs.
//!
//! Until its outcome is written, a job stays `Running` and leased to this worker.
//! A write that fails is retried with backoff. When it keeps failing for longer
//! than a lease while the database answers the worker's other calls (claims,
//! renewals), something about the write itself is broken, and retrying forever
//! would leave the jobs `Running` behind a warning: the recorder gives up, and the
//! worker stops with [`Error::OutcomesNotRecorded`]. It stops renewing its leases
//! then, so other workers take its jobs over once they expire. While the database
//! does not answer at all, the recorder keeps trying: the leases lapse by themselves.
//!
//! The recorder also writes the jobs' log lines and progress ([`OutputSink`]): the
//! ones handed over by the time a batch of outcomes is written go first, so a
//! finished job's lines are stored before its outcome; while no outcome comes (a
//! long job), about once a [`FLUSH_EVERY`]. A batch whose jobs logged nothing costs
//! one atomic load. Output that cannot be written after a few tries is dropped with
//! a warning: it never holds outcomes back for long.

use std::time::Duration;

use kiribi_core::backend::{Lease, Outcome};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::logs::OutputSink;
use crate::worker::WorkerShared;
use crate::{Error, Kiribi, Result};

/// The most outcomes one write records.
const MAX_BATCH: usize = 256;

/// The longest pause between tries of a failing write.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How long a running job's log lines wait, at most, while no outcome is written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How often writing log lines and progress is tried before they are dropped.
const OUTPUT_TRIES: u32 = 3;

/// One attempt's outcome, on its way to the database.
pub(crate) type Completion = (Lease, Outcome);

/// The recorder task and the switch that ends its retries.
pub(crate) struct Recorder {
    /// Where job tasks hand their outcomes over.
    pub(crate) outcomes: mpsc::Sender<Completion>,
    /// Where job tasks hand their log lines and progress over.
    pub(crate) output: OutputSink,
    /// Set once shutdown's grace period is over: the recorder stops retrying then.
    pub(crate) abandon: watch::Sender<bool>,
    /// The task; it ends with an error when it gave up.
    pub(crate) task: JoinHandle<Result<()>>,
}

impl Recorder {
    /// Starts the recorder of `worker`'s outcomes.
    pub(crate) fn start(kiribi: &Kiribi, worker: &WorkerShared) -> Self {
        let capacity = (worker.config.concurrency + worker.config.prefetch).max(MAX_BATCH);
        let (outcomes, received) = mpsc::channel(capacity);
        let (abandon, abandoned) = watch::channel(false);
        let output = OutputSink::default();
        let task = tokio::spawn(record_outcomes(
            kiribi.clone(),
            worker.clone(),
            received,
            output.clone(),
            abandoned,
        ));
        Self {
            outcomes,
            output,
            abandon,
            task,
        }
    }
}

async fn record_outcomes(
    kiribi: Kiribi,
    worker: WorkerShared,
    mut received: mpsc::Receiver<Completion>,
    output: OutputSink,
    abandoned: watch::Receiver<bool>,
) -> Result<()> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // When the output handed over while no outcome came is due to be written.
    let mut flush_at: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            count = received.recv_many(&mut batch, MAX_BATCH) => {
                // Every job hands its output over before its outcome.
                write_output(&kiribi, &worker, &output).await;
                flush_at = None;
                if count == 0 {
                    return Ok(());
                }
                if let Err(error) = write(&kiribi, &worker, &batch, abandoned.clone()).await {
                    let jobs = batch.len() + received.len();
                    worker.log.error(
                        "recording job outcomes keeps failing while the database answers otherwise; \
                         the worker stops and its jobs run again elsewhere once their leases expire",
                        &error,
                    );
                    return Err(Error::OutcomesNotRecorded {
                        jobs,
                        source: Box::new(error),
                    });
                }
                batch.clear();
            }
            () = output.handed_over(), if flush_at.is_none() => {
                flush_at = Some(Instant::now() + FLUSH_EVERY);
            }
            () = tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => {
                write_output(&kiribi, &worker, &output).await;
                flush_at = None;
            }
        }
    }
}

/// Writes the log lines and progress handed over so far, if any, trying a few
/// times; what still fails is dropped with a warning.
async fn write_output(kiribi: &Kiribi, worker: &WorkerShared, output: &OutputSink) {
    let Some(pending) = output.take() else {
        return;
    };
    let mut delay = Duration::from_millis(50);
    for tried in 1..=OUTPUT_TRIES {
        match pending.write(kiribi.storage().as_ref()).await {
            Ok(()) => return,
            Err(error) if tried == OUTPUT_TRIES => {
                let error = kiribi_core::chain_text(&error);
                tracing::warn!(worker = %worker.id, lines = pending.lines(), %error, "could not store jobs' log lines and progress; dropped them");
            }
            Err(error) => {
                worker.log.warn(
                    "storing jobs' log lines and progress failed; retrying",
                    &error,
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

/// Writes a batch, retrying database errors until it is written, `abandoned` turns
/// true (shutdown's grace period is over: the jobs run again once their leases
/// expire), or the recorder must give up (the error is returned).
async fn write(
    kiribi: &Kiribi,
    worker: &WorkerShared,
    completions: &[Completion],
    mut abandoned: watch::Receiver<bool>,
) -> Result<()> {
    let storage = kiribi.storage();
    let mut delay = Duration::from_millis(50);
    let mut failing_since = None;
    loop {
        let error = match storage.complete_many(completions).await {
            Ok(held) => {
                after_write(kiribi, worker, completions, &held);
                return Ok(());
            }
            Err(error) => error,
        };
        let since = *failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() > worker.config.lease && worker.health.answered_since(since) {
            return Err(error);
        }
        worker
            .log
            .warn("recording job outcomes failed; retrying", &error);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            Ok(_) = abandoned.wait_for(|&abandoned| abandoned) => {
                tracing::error!(worker = %worker.id, jobs = completions.len(), "could not record the outcomes of jobs before the worker stopped; they will run again after their leases expire");
                return Ok(());
            }
        }
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

/// What a written batch tells the workers: retries are due at known times, and
/// leases that no longer held are worth a warning.
fn after_write(kiribi: &Kiribi, worker: &WorkerShared, completions: &[Completion], held: &[bool]) {
    for ((lease, outcome), &held) in completions.iter().zip(held) {
        if !held {
            tracing::warn!(worker = %worker.id, id = %lease.id, attempt = lease.attempt, "lease lost before the outcome was recorded; another worker owns the job now");
        } else if let Outcome::Retry { delay, .. } | Outcome::Snoozed { delay, .. } = outcome {
            // Written just now, so due `delay` from now by the database's clock.
            kiribi.note_due(*delay);
        }
    }
}
