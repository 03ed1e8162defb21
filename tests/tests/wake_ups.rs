//! What wakes an idle worker besides its poll: the database's own channel (SQLite's
//! commit watcher, PostgreSQL's `NOTIFY`) for jobs enqueued elsewhere, and the
//! known due time of a retry or a delayed job.
//!
//! Every worker here polls once an hour and renews its leases (a write) every
//! twenty minutes, so within a test's deadline only the wake-up under test can
//! start a job.

use std::time::Duration;

use kiribi::{EnqueueOptions, JobContext, JobStatus, Kiribi, WorkerHandle, job};
use kiribi_tests::{TestDb, wait_for_status};

const HOUR: Duration = Duration::from_secs(3600);

#[job]
async fn noop(n: u32) -> Result<u32, String> {
    Ok(n)
}

#[job(max_attempts = 2, backoff = "fixed", retry_delay = "100ms")]
async fn fails_once(ctx: JobContext) -> Result<u32, String> {
    if ctx.attempt() == 1 {
        return Err("the first attempt fails".into());
    }
    Ok(ctx.attempt())
}

/// A worker that never polls within a test's deadline.
fn idle_worker(kiribi: &Kiribi) -> WorkerHandle {
    kiribi.worker().poll_interval(HOUR).lease(HOUR).start()
}

async fn a_job_enqueued_through_another_handle_wakes_an_idle_worker(db: TestDb) {
    let enqueuer = db.connect().await;
    let runner = db.connect().await;
    let worker = idle_worker(&runner);
    // Enqueues through `enqueuer` do not reach `runner`'s in-process wake-ups. The
    // worker's first claim and the wake-up it gives itself once its listener is up
    // may each start one of these jobs; each job is enqueued after the one before it
    // finished, so the third can only be started by a wake-up from the database.
    for n in 0..3 {
        let id = Noop::enqueue(&enqueuer, Noop { n }).await.unwrap();
        let done = wait_for_status(&enqueuer, id, JobStatus::Succeeded).await;
        assert_eq!(done.lease_owner, None);
        assert_eq!(
            runner.attempts(id).await.unwrap()[0].worker.as_deref(),
            Some(worker.id())
        );
    }
    worker.shutdown().await.unwrap();
}

async fn a_retry_delay_wakes_an_idle_worker_when_it_is_due(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = idle_worker(&kiribi);
    let id = FailsOnce::enqueue(&kiribi, FailsOnce).await.unwrap();
    let done = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(done.attempts, 2);
    let attempts = kiribi.attempts(id).await.unwrap();
    assert_eq!(
        attempts[0].error.as_deref(),
        Some("the first attempt fails")
    );
    worker.shutdown().await.unwrap();
}

async fn a_delayed_job_wakes_an_idle_worker_when_it_is_due(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = idle_worker(&kiribi);
    let id = Noop::enqueue_with(
        &kiribi,
        Noop { n: 1 },
        EnqueueOptions::new().delay(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let done = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert!(done.started_at.unwrap() >= done.run_at);
    worker.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    a_job_enqueued_through_another_handle_wakes_an_idle_worker,
    a_retry_delay_wakes_an_idle_worker_when_it_is_due,
    a_delayed_job_wakes_an_idle_worker_when_it_is_due,
);
