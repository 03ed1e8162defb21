//! Cancelling a running job from another process: the worker process that runs it
//! learns of the request, the job sees `ctx.cancelled()` resolve and ends
//! `Cancelled`; a job that ignores the request is stopped after the grace period.
//!
//! The workers' leases are long (renewed every 40 s), so that the only way a
//! worker learns of a request within the tests' 20 s deadlines is the backend's
//! channel (PostgreSQL's `NOTIFY`, SQLite's commit watcher), not its fallback look
//! at each lease renewal.

use std::path::Path;
use std::time::Duration;

use kiribi::{JobStatus, Kiribi};
use kiribi_tests::jobs::{IgnoreCancel, UntilCancelled};
use kiribi_tests::process::WorkerProcess;
use kiribi_tests::{TestDb, wait, wait_for_status};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

/// Long enough that no lease renewal comes within a test's deadlines.
const LEASE: Duration = Duration::from_secs(120);

async fn wait_for_file(path: &Path) {
    wait::until(
        &format!("{} to exist", path.display()),
        Duration::from_secs(20),
        || async { path.exists().then_some(()) },
    )
    .await;
}

/// Enqueues `job`, waits until its `<marker>.started` exists, checks that it runs,
/// and asks it to stop.
async fn start_then_cancel(kiribi: &Kiribi, id: kiribi::JobId, marker: &str) {
    wait_for_file(Path::new(&format!("{marker}.started"))).await;
    assert_eq!(
        kiribi.job(id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    assert!(
        kiribi.cancel(id).await.unwrap(),
        "a running job is asked to stop"
    );
}

async fn a_job_running_in_another_process_sees_its_cancel_and_ends_cancelled(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = WorkerProcess::builder(WORKER, db.url())
        .lease(LEASE)
        .cancel_grace(Duration::from_secs(600))
        .start()
        .await;
    let marker = db.dir().join("job").display().to_string();
    let id = UntilCancelled::enqueue(
        &kiribi,
        UntilCancelled {
            marker: marker.clone(),
        },
    )
    .await
    .unwrap();
    start_then_cancel(&kiribi, id, &marker).await;

    let record = wait_for_status(&kiribi, id, JobStatus::Cancelled).await;
    let seen = std::fs::read_to_string(format!("{marker}.saw_cancel")).unwrap();
    assert_eq!(seen, "true", "`is_cancelled` agreed with `cancelled()`");
    let error = record.last_error.unwrap_or_default();
    assert!(error.contains("returned a value"), "{error}");
    assert!(record.finished_at.is_some());
    assert_eq!((record.attempts, record.result), (1, None));
    let attempts = kiribi.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert!(!kiribi.cancel(id).await.unwrap(), "it is finished");
    worker.terminate().await;
    assert_eq!(
        kiribi.job(id).await.unwrap().unwrap().status,
        JobStatus::Cancelled,
        "never retried"
    );
}

async fn a_job_ignoring_its_cancel_is_stopped_after_the_grace_period(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = WorkerProcess::builder(WORKER, db.url())
        .lease(LEASE)
        .cancel_grace(Duration::from_millis(300))
        .start()
        .await;
    let marker = db.dir().join("job").display().to_string();
    let id = IgnoreCancel::enqueue(
        &kiribi,
        IgnoreCancel {
            marker: marker.clone(),
        },
    )
    .await
    .unwrap();
    start_then_cancel(&kiribi, id, &marker).await;

    let record = wait_for_status(&kiribi, id, JobStatus::Cancelled).await;
    assert!(
        Path::new(&format!("{marker}.dropped")).exists(),
        "the job's future was dropped"
    );
    let error = record.last_error.unwrap_or_default();
    assert!(error.contains("grace period of 300ms"), "{error}");
    worker.terminate().await;
}

/// A worker of the handle that cancels learns of it through the handle itself,
/// whatever the backend's channel.
async fn a_job_cancelled_through_its_workers_own_handle_ends_cancelled(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi.worker().lease(LEASE).start();
    let marker = db.dir().join("job").display().to_string();
    let id = UntilCancelled::enqueue(
        &kiribi,
        UntilCancelled {
            marker: marker.clone(),
        },
    )
    .await
    .unwrap();
    start_then_cancel(&kiribi, id, &marker).await;
    let record = wait_for_status(&kiribi, id, JobStatus::Cancelled).await;
    assert!(
        record
            .last_error
            .unwrap_or_default()
            .contains("cancelled while running")
    );
    worker.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    a_job_running_in_another_process_sees_its_cancel_and_ends_cancelled,
    a_job_ignoring_its_cancel_is_stopped_after_the_grace_period,
    a_job_cancelled_through_its_workers_own_handle_ends_cancelled,
);
