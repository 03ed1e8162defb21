//! Cancelling running jobs: the signal each running job's context watches, and the
//! task that learns from the database which of the worker's jobs were asked to stop.
//!
//! `kiribi.cancel(id)` of a running job only records the request (see the `Storage`
//! contract). The worker that runs the job learns of it from
//! [`Storage::listen_cancels`](kiribi_core::Storage::listen_cancels) (PostgreSQL's
//! `NOTIFY`, SQLite's commit watcher), at once when the request came through its
//! own handle, and, in case a wake-up was missed or the backend has none, at every
//! lease renewal period. Either way it asks
//! [`Storage::cancel_requests`](kiribi_core::Storage::cancel_requests), one small
//! query, and only while it runs jobs; it then raises the signal of each job named.
//! What a cancelled attempt means is decided in [`crate::policy::after_cancel`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kiribi_core::JobId;
use kiribi_core::backend::Listener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::Kiribi;
use crate::worker::WorkerShared;
use crate::worker::ids::{IdMap, IdSet};

/// A job's cancel signal, as its context and its worker see it: raised at most
/// once, never lowered. One that nobody raises (a job run inline) stays down.
///
/// A flag and a [`Notify`] in one allocation: every attempt gets one, and nearly
/// none is ever raised, so it costs less to make and drop than a channel.
#[derive(Debug, Clone, Default)]
pub(crate) struct CancelSignal(Arc<SignalState>);

#[derive(Debug, Default)]
struct SignalState {
    raised: AtomicBool,
    waiters: Notify,
}

impl CancelSignal {
    /// Raises the signal; whether it was down.
    pub(crate) fn raise(&self) -> bool {
        if self.0.raised.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.0.waiters.notify_waiters();
        true
    }

    /// Whether it was raised.
    pub(crate) fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::Acquire)
    }

    /// Resolves once it is raised; never, if it never is. Cancel-safe.
    pub(crate) async fn raised(&self) {
        loop {
            let notified = self.0.waiters.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the flag is read, so a raise in between wakes it.
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// The cancel signals of the jobs a worker runs now, by job id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Running {
    jobs: Arc<Mutex<Jobs>>,
}

#[derive(Debug, Default)]
struct Jobs {
    /// The signal of each job that runs.
    running: IdMap<JobId, CancelSignal>,
    /// The ids the database last reported as asked to stop: a job claimed ahead
    /// that was asked before it started starts with its signal raised.
    requested: IdSet<JobId>,
}

/// A running job's entry in [`Running`]: removed when the attempt ends.
pub(crate) struct Registered {
    running: Running,
    id: JobId,
    /// The job's signal, as its context sees it.
    pub(crate) signal: CancelSignal,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.running.lock().running.remove(&self.id);
    }
}

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers job `id` as running, until the returned entry is dropped; its
    /// signal is raised already if it was asked to stop before it started.
    pub(crate) fn register(&self, id: JobId) -> Registered {
        let signal = CancelSignal::default();
        let mut jobs = self.lock();
        if jobs.requested.contains(&id) {
            signal.raise();
        }
        jobs.running.insert(id, signal.clone());
        drop(jobs);
        Registered {
            running: self.clone(),
            id,
            signal,
        }
    }

    /// Whether no job runs: then there is nothing to ask the database about.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().running.is_empty()
    }

    /// Raises the signal of each of `ids`, the jobs of this worker that the
    /// database reports as asked to stop, that runs here, and remembers the rest
    /// (claimed ahead, not started yet) until the next report; returns how many it
    /// raised for the first time.
    pub(crate) fn cancel(&self, ids: &[JobId]) -> usize {
        let mut jobs = self.lock();
        jobs.requested = ids.iter().copied().collect();
        ids.iter()
            .filter_map(|id| jobs.running.get(id))
            .filter(|signal| signal.raise())
            .count()
    }
}

/// Forwards the backend's cancel wake-ups into `woken`, subscribing again after a
/// failure, until the task is aborted. Runs as a task of its own so that a
/// listener's `recv` is never dropped halfway (PostgreSQL's may be reconnecting).
async fn forward_cancel_wakeups(kiribi: Kiribi, worker: WorkerShared, woken: watch::Sender<u64>) {
    const RETRY: Duration = Duration::from_secs(1);
    let wake = || woken.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        let mut listener: Box<dyn Listener> = match kiribi.storage().listen_cancels().await {
            // No channel: the lease renewal period's look is all there is.
            Ok(None) => return,
            Ok(Some(listener)) => listener,
            Err(err) => {
                worker.log.warn(
                    "could not listen for cancel requests; looking at each lease renewal \
                     until it works",
                    &err,
                );
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // Requests made before the listener was up were not announced.
        wake();
        loop {
            match listener.recv().await {
                Ok(()) => wake(),
                Err(err) => {
                    worker.log.warn(
                        "listening for cancel requests failed; looking at each lease \
                         renewal until it is back",
                        &err,
                    );
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

/// Raises the signals of this worker's jobs that were asked to stop, until the
/// task is aborted with the worker.
pub(crate) async fn watch_cancels(kiribi: Kiribi, worker: WorkerShared, running: Running) {
    let storage = kiribi.storage();
    let period = worker.config.lease / 3;
    let mut asked_here = kiribi.subscribe_cancel_asked();
    let (woken, mut from_database) = watch::channel(0);
    // Dropped, and so aborted, with this task.
    let mut forwarder = JoinSet::new();
    forwarder.spawn(forward_cancel_wakeups(
        kiribi.clone(),
        worker.clone(),
        woken,
    ));
    loop {
        tokio::select! {
            Ok(()) = from_database.changed() => {}
            Ok(()) = asked_here.changed() => {}
            () = tokio::time::sleep(period) => {}
        }
        if running.is_empty() {
            continue;
        }
        match storage.cancel_requests(&worker.id).await {
            Ok(ids) => {
                let raised = running.cancel(&ids);
                if raised > 0 {
                    tracing::info!(worker = %worker.id, jobs = raised, "running jobs asked to stop");
                }
            }
            Err(err) => worker
                .log
                .warn("could not read the cancel requests of running jobs", &err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raised_signal_wakes_every_waiter_once_and_stays_raised() {
        let signal = CancelSignal::default();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let signal = signal.clone();
                tokio::spawn(async move { signal.raised().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!signal.is_raised());
        assert!(signal.raise());
        assert!(!signal.raise(), "raised already");
        for waiter in waiters {
            tokio::time::timeout(Duration::from_secs(10), waiter)
                .await
                .expect("the waiter wakes within 10 s")
                .expect("the waiter does not panic");
        }
        // Raised before the wait: resolves at once.
        signal.raised().await;
    }

    #[test]
    fn a_signal_is_raised_once_and_only_for_jobs_that_run_here() {
        let running = Running::default();
        let job = running.register(JobId::from_i64(7));
        assert!(!job.signal.is_raised());
        assert_eq!(running.cancel(&[JobId::from_i64(8)]), 0);
        assert_eq!(running.cancel(&[JobId::from_i64(7)]), 1);
        assert!(job.signal.is_raised());
        assert_eq!(running.cancel(&[JobId::from_i64(7)]), 0, "raised already");
        drop(job);
        assert!(running.is_empty());
    }

    #[test]
    fn a_job_asked_before_it_started_starts_with_its_signal_raised() {
        let running = Running::default();
        let other = running.register(JobId::from_i64(1));
        assert_eq!(running.cancel(&[JobId::from_i64(2)]), 0, "not started yet");
        let job = running.register(JobId::from_i64(2));
        assert!(job.signal.is_raised());
        assert!(!other.signal.is_raised());
        running.cancel(&[]);
        assert!(!running.register(JobId::from_i64(3)).signal.is_raised());
    }
}
