//! Dispatch: claims jobs and starts them in free slots, until the worker is
//! stopped or its recorder gives up.
//!
//! One claim is in flight at a time. It is sent when a slot would otherwise idle or
//! enough of the capacity is free ([`ClaimAhead`]), and only when jobs may be ready:
//! after a wake-up, a full batch, a known due time, or the poll.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kiribi_core::backend::{ClaimRequest, ClaimedJob, Lease, LimitedHint};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::registry::Registry;
use crate::worker::WorkerShared;
use crate::worker::ahead::ClaimAhead;
use crate::worker::cancel::Running;
use crate::worker::execute::{Handover, execute};
use crate::worker::ids::IdMap;
use crate::worker::recorder::Recorder;
use crate::{Error, Kiribi};

/// A claim on its way to the database.
type PendingClaim = Pin<Box<dyn Future<Output = kiribi_core::Result<Vec<ClaimedJob>>> + Send>>;

/// Why dispatch stopped.
pub(crate) enum Stopped {
    /// The handle asked it to (shutdown).
    Asked,
    /// The recorder gave up; the worker must stop at once with this error.
    RecorderFailed(Error),
}

/// The claim loop's state.
pub(crate) struct Dispatcher {
    pub(crate) kiribi: Kiribi,
    registry: Arc<Registry>,
    pub(crate) worker: WorkerShared,
    names: Vec<String>,
    /// The names among `names` whose jobs have limits.
    limited_names: Vec<String>,
    /// What the claims learned of whether limited jobs wait.
    limited_hint: LimitedHint,
    handover: Handover,
    /// Running job tasks, and the lease each one holds.
    pub(crate) tasks: JoinSet<()>,
    pub(crate) running: IdMap<tokio::task::Id, Lease>,
    /// Jobs claimed ahead: leased to this worker, not started yet.
    pub(crate) claimed: VecDeque<ClaimedJob>,
    pub(crate) claiming: Option<PendingClaim>,
    claim_limit: usize,
    ahead: ClaimAhead,
    /// Jobs started so far.
    started: usize,
    /// Whether a claim may find jobs.
    maybe_ready: bool,
    next_poll: Instant,
    /// The due times up to here have been acted on.
    due_seen: Instant,
    /// How long to wait before claiming again after a claim failed.
    claim_backoff: Duration,
}

/// The first wait after a failed claim; it doubles with each failure in a row, up
/// to the poll interval.
const FIRST_CLAIM_RETRY: Duration = Duration::from_millis(50);

impl Dispatcher {
    pub(crate) fn new(
        kiribi: Kiribi,
        registry: Arc<Registry>,
        worker: WorkerShared,
        recorder: &Recorder,
        running_jobs: Running,
    ) -> Self {
        let names = registry.names();
        let limited_names = registry.limited_names();
        let now = Instant::now();
        Self {
            handover: Handover {
                outcomes: recorder.outcomes.clone(),
                finished: Arc::new(AtomicUsize::new(0)),
                running: running_jobs,
                cancel_grace: worker.config.cancel_grace,
                output: recorder.output.clone(),
            },
            ahead: ClaimAhead::new(worker.config.prefetch),
            next_poll: now + worker.config.poll_interval,
            kiribi,
            registry,
            worker,
            names,
            limited_names,
            limited_hint: LimitedHint::default(),
            tasks: JoinSet::new(),
            running: IdMap::default(),
            claimed: VecDeque::new(),
            claiming: None,
            claim_limit: 0,
            started: 0,
            maybe_ready: true,
            due_seen: now,
            claim_backoff: FIRST_CLAIM_RETRY,
        }
    }

    /// Jobs finished so far, counted by the tasks themselves: a claim's answer can
    /// be taken before the tasks that finished meanwhile are joined, and counting
    /// joins would then see none finish and shrink the buffer.
    fn finished(&self) -> usize {
        self.handover.finished.load(Ordering::Relaxed)
    }

    /// Claims and starts jobs until `stop` turns true or the recorder gives up.
    pub(crate) async fn run(
        &mut self,
        mut stop: watch::Receiver<bool>,
        recorder: &mut Recorder,
    ) -> Stopped {
        let mut wake = self.kiribi.subscribe_wake();
        let due_changed = self.kiribi.due_changed();
        while !*stop.borrow() {
            self.start_claimed();
            if self.maybe_claim(&mut wake) {
                continue;
            }
            let due = self.kiribi.due_times().next_after(self.due_seen);
            let deadline = due.map_or(self.next_poll, |due| due.min(self.next_poll));
            tokio::select! {
                biased;
                // An error means the handle was dropped: the worker runs on.
                Ok(()) = stop.changed() => {}
                ended = &mut recorder.task, if !recorder.task.is_finished() => {
                    return Stopped::RecorderFailed(recorder_ended(ended));
                }
                result = claim_result(&mut self.claiming) => self.claim_returned(result),
                Some(done) = self.tasks.join_next_with_id() => self.forget(done),
                Ok(()) = wake.changed() => self.maybe_ready = true,
                () = due_changed.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    if now >= self.next_poll {
                        self.next_poll = now + self.worker.config.poll_interval;
                    }
                    self.due_seen = self.due_seen.max(deadline.min(now));
                    self.maybe_ready = true;
                }
            }
        }
        Stopped::Asked
    }

    /// Starts claimed jobs in free slots, in claim order.
    fn start_claimed(&mut self) {
        while self.tasks.len() < self.worker.config.concurrency {
            let Some(job) = self.claimed.pop_front() else {
                break;
            };
            let lease = job.lease.clone();
            let task = execute(
                self.kiribi.clone(),
                self.registry.clone(),
                job,
                self.handover.clone(),
            );
            self.running.insert(self.tasks.spawn(task).id(), lease);
            self.started += 1;
        }
    }

    /// Sends a claim if one is worth it; whether it did.
    fn maybe_claim(&mut self, wake: &mut watch::Receiver<u64>) -> bool {
        if self.claiming.is_some() || !self.maybe_ready || self.names.is_empty() {
            return false;
        }
        let config = &self.worker.config;
        let Some(wanted) =
            self.ahead
                .wanted(config.concurrency, self.tasks.len(), self.claimed.len())
        else {
            return false;
        };
        // Mark wake-ups seen before claiming: one that arrives during the claim
        // makes the next `changed()` return at once.
        wake.borrow_and_update();
        let mut request = ClaimRequest::new(self.worker.id.clone(), config.lease)
            .with_names(self.names.iter().cloned())
            .with_limited_names(self.limited_names.iter().cloned())
            .with_limited_hint(self.limited_hint.clone())
            .with_limit(wanted)
            .with_trace_contexts(crate::otel::ENABLED);
        if let Some(queues) = &config.queues {
            request = request.with_queues(queues.iter().cloned());
        }
        let storage = self.kiribi.storage().clone();
        self.claiming = Some(Box::pin(async move { storage.claim(&request).await }));
        self.claim_limit = wanted;
        self.ahead.sent(self.finished());
        self.maybe_ready = false;
        true
    }

    fn claim_returned(&mut self, result: kiribi_core::Result<Vec<ClaimedJob>>) {
        self.claiming = None;
        let finished = self.finished();
        let ran_dry = self.claimed.is_empty() && self.started == finished;
        self.ahead.returned(finished, ran_dry);
        match result {
            Ok(jobs) => {
                self.worker.health.answered();
                // A full batch means more jobs may be waiting.
                self.maybe_ready = self.maybe_ready || jobs.len() >= self.claim_limit;
                self.claimed.extend(jobs);
            }
            Err(err) => {
                // Soon, not at the next poll (which may be an hour away): a claim
                // that fails once, on a connection a server restart broke, say,
                // usually works on the next one.
                let retry = self.claim_backoff;
                self.claim_backoff = (retry * 2).min(self.worker.config.poll_interval);
                self.next_poll = self.next_poll.min(Instant::now() + retry);
                self.worker
                    .log
                    .warn("claiming jobs failed; retrying shortly", &err);
                return;
            }
        }
        self.claim_backoff = FIRST_CLAIM_RETRY;
    }

    /// Forgets a finished task's lease.
    pub(crate) fn forget(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        match done {
            Ok((task, ())) => {
                self.running.remove(&task);
            }
            Err(err) => {
                // The job's own panics are caught inside the task; this is kiribi's.
                // The job stays leased to this worker: its lease is renewed, and
                // shutdown gives it back.
                tracing::error!(worker = %self.worker.id, error = %err, "a job task of the worker failed");
            }
        }
    }
}

/// Waits for the claim in flight, or forever when there is none.
pub(crate) async fn claim_result(
    claim: &mut Option<PendingClaim>,
) -> kiribi_core::Result<Vec<ClaimedJob>> {
    match claim {
        Some(claim) => claim.await,
        None => std::future::pending().await,
    }
}

/// The error a recorder task that ended while the worker ran ended with.
fn recorder_ended(ended: Result<crate::Result<()>, tokio::task::JoinError>) -> Error {
    match ended {
        Ok(Err(error)) => error,
        // It only ends without an error once every sender is gone, which dispatch
        // holds; or it panicked.
        Ok(Ok(())) => Error::WorkerStopped {
            source: "the outcome recorder stopped while the worker ran".into(),
        },
        Err(join) => Error::WorkerStopped {
            source: Box::new(join),
        },
    }
}
