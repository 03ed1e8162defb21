//! What kiribi tells the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`), for whatever exporter the application installed; without the
//! feature, or without a recorder, nothing.
//!
//! | name | kind | labels | when |
//! |---|---|---|---|
//! | `kiribi_jobs_enqueued_total` | counter | `job`, `queue` | a job was inserted for workers (not a duplicate; a flow's steps, cron ticks too; not `run_now`'s own record); in a transaction, when the statement ran, even if the transaction later rolled back |
//! | `kiribi_jobs_started_total` | counter | `job`, `queue` | a worker, `run_now` or `testing::drain` started an attempt |
//! | `kiribi_jobs_succeeded_total` | counter | `job`, `queue` | an attempt succeeded |
//! | `kiribi_jobs_retried_total` | counter | `job`, `queue` | an attempt failed and another one is due |
//! | `kiribi_jobs_failed_total` | counter | `job`, `queue` | an attempt failed and the job failed for good |
//! | `kiribi_jobs_cancelled_total` | counter | `job`, `queue` | a running job was asked to stop and did |
//! | `kiribi_jobs_snoozed_total` | counter | `job`, `queue` | an attempt snoozed (`JobError::snooze`) |
//! | `kiribi_job_run_seconds` | histogram | `job`, `queue` | an attempt ended: how long it ran |
//! | `kiribi_job_wait_seconds` | histogram | `job`, `queue` | a worker or `testing::drain` started an attempt: how long after it was due (this process's clock against the database's due time; 0 when the clock is behind) |
//! | `kiribi_queue_pending` | gauge | `queue` | every 10 s, from each worker: jobs waiting (due or not) |
//! | `kiribi_queue_running` | gauge | `queue` | every 10 s, from each worker: jobs running |
//! | `kiribi_queue_oldest_pending_seconds` | gauge | `queue` | every 10 s, from each worker: how long the oldest due job has waited (0 when none) |
//! | `kiribi_queue_paused` | gauge | `queue` | every 10 s, from each worker: 1 when paused, else 0 |
//!
//! Every process reports the queue gauges of the shared database: aggregate them with
//! `max`, not `sum`.

use kiribi_core::backend::{Enqueued, NewJob, Outcome};

/// The labels of jobs on their way into the database, to count those inserted once
/// the backend says which were (nothing without the feature).
pub(crate) struct Enqueuing {
    #[cfg(feature = "metrics")]
    labels: Vec<(String, String)>,
}

impl Enqueuing {
    /// Notes the jobs about to be inserted.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new<'a>(jobs: impl IntoIterator<Item = &'a NewJob>) -> Self {
        Self {
            #[cfg(feature = "metrics")]
            labels: jobs
                .into_iter()
                .map(|job| (job.name.clone(), job.queue.clone()))
                .collect(),
        }
    }

    /// Counts the jobs that were inserted: all of them, or those `enqueued` (in
    /// the same order) does not call duplicates.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn inserted(self, enqueued: Option<&[Enqueued]>) {
        #[cfg(feature = "metrics")]
        for (n, (name, queue)) in self.labels.iter().enumerate() {
            let duplicate = enqueued
                .and_then(|enqueued| enqueued.get(n))
                .is_some_and(|job| job.duplicate);
            if !duplicate {
                enqueued_one(name, queue);
            }
        }
    }
}

/// Counts one inserted job.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn enqueued_one(name: &str, queue: &str) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!("kiribi_jobs_enqueued_total", &labels(name, queue)).increment(1);
}

/// One attempt from its start to its ending: counts both, and times it for the
/// run-time histogram. Without the feature it holds nothing and reads no clock.
pub(crate) struct Attempt {
    #[cfg(feature = "metrics")]
    began: std::time::Instant,
}

impl Attempt {
    /// Counts an attempt that starts now, `due_at` the time it became due (`None`
    /// for an inline run, which did not wait).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn started(
        name: &str,
        queue: &str,
        due_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        #[cfg(feature = "metrics")]
        {
            let labels = labels(name, queue);
            ::metrics::counter!("kiribi_jobs_started_total", &labels).increment(1);
            if let Some(due_at) = due_at {
                let waited = (chrono::Utc::now() - due_at).to_std().unwrap_or_default();
                ::metrics::histogram!("kiribi_job_wait_seconds", &labels)
                    .record(waited.as_secs_f64());
            }
        }
        Self {
            #[cfg(feature = "metrics")]
            began: std::time::Instant::now(),
        }
    }

    /// Counts the attempt's ending and records how long it ran.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn ended(self, name: &str, queue: &str, outcome: &Outcome) {
        #[cfg(feature = "metrics")]
        {
            let labels = labels(name, queue);
            let counter = match outcome {
                Outcome::Succeeded { .. } => Some("kiribi_jobs_succeeded_total"),
                Outcome::Retry { .. } => Some("kiribi_jobs_retried_total"),
                Outcome::Failed { .. } => Some("kiribi_jobs_failed_total"),
                Outcome::Cancelled { .. } => Some("kiribi_jobs_cancelled_total"),
                Outcome::Snoozed { .. } => Some("kiribi_jobs_snoozed_total"),
                // Not an ending of the job's making: no count (a worker's loss is
                // counted by the reaper's warning, not here).
                _ => None,
            };
            if let Some(counter) = counter {
                ::metrics::counter!(counter, &labels).increment(1);
            }
            ::metrics::histogram!("kiribi_job_run_seconds", &labels)
                .record(self.began.elapsed().as_secs_f64());
        }
    }
}

/// Sets the gauges of one queue.
#[cfg(feature = "metrics")]
pub(crate) fn queue_depth(queue: &kiribi_core::QueueInfo) {
    let label = [("queue", queue.name.clone())];
    // Counts past 2^53 lose precision as gauges; no queue holds that many jobs.
    #[allow(clippy::cast_precision_loss)]
    {
        ::metrics::gauge!("kiribi_queue_pending", &label).set(queue.pending as f64);
        ::metrics::gauge!("kiribi_queue_running", &label).set(queue.running as f64);
    }
    let oldest = queue.oldest_pending_age.unwrap_or_default();
    ::metrics::gauge!("kiribi_queue_oldest_pending_seconds", &label).set(oldest.as_secs_f64());
    ::metrics::gauge!("kiribi_queue_paused", &label).set(if queue.paused { 1.0 } else { 0.0 });
}

/// What an attempt's ending is called in its span's `outcome` field.
pub(crate) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Retry { .. } => "retried",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled { .. } => "cancelled",
        Outcome::Snoozed { .. } => "snoozed",
        Outcome::Interrupted { .. } => "interrupted",
        _ => "other",
    }
}

#[cfg(feature = "metrics")]
fn labels(name: &str, queue: &str) -> [(&'static str, String); 2] {
    [("job", name.to_owned()), ("queue", queue.to_owned())]
}
