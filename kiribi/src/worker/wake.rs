//! Wake-ups: what makes an idle worker look for jobs before its next poll.
//!
//! - **In-process enqueues.** Every enqueue through a [`Kiribi`] handle (or a
//!   `JobContext`) bumps the handle's wake channel.
//! - **The database's own channel.** [`forward_wakeups`] turns the backend's
//!   listener (PostgreSQL's `NOTIFY`, SQLite's commit watcher) into the same
//!   wake-ups, so jobs enqueued by other processes, other handles or a caller's
//!   transaction start within milliseconds.
//! - **Known due times.** [`DueTimes`] holds the `run_at` of the jobs this process
//!   knows will become ready later (delayed enqueues, retries): a worker sleeps until
//!   the earliest of them instead of polling for it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Kiribi;
use crate::worker::WorkerLog;

/// How many due times a process remembers; later ones are found by polling.
const MAX_DUE_TIMES: usize = 4096;

/// A due time passed this long ago is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// A due time fires this much after the job's `run_at`, so that the database's
/// clock (which decides readiness) has passed it too.
const MARGIN: Duration = Duration::from_millis(1);

/// The times at which jobs that this process enqueued or retried become ready.
///
/// Shared by every worker of one handle. Each worker reads the times after the
/// last one it acted on, so that one worker firing for a job does not hide the
/// time from another that serves other queues.
#[derive(Debug, Default)]
pub(crate) struct DueTimes {
    times: Mutex<BTreeSet<Instant>>,
}

impl DueTimes {
    /// Remembers that a job becomes ready at `at` (`now` being now).
    pub(crate) fn note(&self, at: Instant, now: Instant) {
        let at = at + MARGIN;
        let mut times = self
            .times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stale) = now.checked_sub(FORGET_AFTER) {
            while times.first().is_some_and(|&first| first < stale) {
                times.pop_first();
            }
        }
        times.insert(at);
        while times.len() > MAX_DUE_TIMES {
            times.pop_last();
        }
    }

    /// The earliest due time later than `after`.
    pub(crate) fn next_after(&self, after: Instant) -> Option<Instant> {
        let times = self
            .times
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        times
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            .next()
            .copied()
    }
}

/// Turns the database's wake-ups into wake-ups of this handle's workers until the
/// task is aborted. Backends without a channel end this task at once.
pub(crate) async fn forward_wakeups(kiribi: Kiribi, log: WorkerLog) {
    const RETRY: Duration = Duration::from_secs(1);
    loop {
        match kiribi.storage().listen().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                // Jobs inserted before the listener was up were not announced:
                // look once now that it is.
                kiribi.wake_workers();
                loop {
                    match listener.recv().await {
                        Ok(()) => kiribi.wake_workers(),
                        Err(err) => {
                            log.warn(
                                "listening for new jobs failed; polling until it is back",
                                &err,
                            );
                            tokio::time::sleep(RETRY).await;
                        }
                    }
                }
            }
            Err(err) => {
                log.warn(
                    "could not listen for new jobs; polling until it works",
                    &err,
                );
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reader_sees_the_times_after_its_own() {
        let due = DueTimes::default();
        let start = Instant::now();
        due.note(start + Duration::from_millis(100), start);
        due.note(start + Duration::from_millis(50), start);
        let first = due.next_after(start).unwrap();
        assert_eq!(first, start + Duration::from_millis(50) + MARGIN);
        let second = due.next_after(first).unwrap();
        assert_eq!(second, start + Duration::from_millis(100) + MARGIN);
        assert_eq!(due.next_after(second), None);
        // Another reader still sees the first.
        assert_eq!(due.next_after(start), Some(first));
    }

    #[test]
    fn the_set_is_bounded_and_keeps_the_earliest() {
        let due = DueTimes::default();
        let start = Instant::now();
        for n in 0..(MAX_DUE_TIMES as u64 + 10) {
            due.note(start + Duration::from_millis(n + 1), start);
        }
        assert_eq!(
            due.next_after(start),
            Some(start + Duration::from_millis(1) + MARGIN)
        );
        assert_eq!(due.times.lock().unwrap().len(), MAX_DUE_TIMES);
    }

    #[test]
    fn times_long_past_are_forgotten() {
        let due = DueTimes::default();
        let start = Instant::now();
        due.note(start, start);
        due.note(start + Duration::from_secs(1), start + FORGET_AFTER * 2);
        assert_eq!(due.times.lock().unwrap().len(), 1);
    }
}
