//! A worker process killed with SIGKILL mid-job loses the job to another worker
//! process once its lease expires: at-least-once, nothing lost.

use std::collections::HashSet;
use std::time::Duration;

use kiribi::JobStatus;
use kiribi_tests::jobs::HangOnce;
use kiribi_tests::process::{WorkerProcess, read_run_logs};
use kiribi_tests::{TestDb, wait, wait_for_status};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

async fn killed_workers_job_is_finished_by_another_worker_after_its_lease(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();
    let marker = db.dir().join("started");
    let lease = Duration::from_millis(1000);

    let first = WorkerProcess::start(WORKER, db.url(), 2, lease, &logs).await;
    let first_pid = first.pid();
    let id = HangOnce::enqueue(
        &kiribi,
        HangOnce {
            marker: marker.display().to_string(),
        },
    )
    .await
    .unwrap();
    wait::until(
        "the first attempt to start",
        Duration::from_secs(20),
        || async { marker.exists().then_some(()) },
    )
    .await;
    let running = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(running.status, JobStatus::Running);
    first.kill().await;

    let second = WorkerProcess::start(WORKER, db.url(), 2, lease, &logs).await;
    let second_pid = second.pid();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    second.terminate().await;

    assert_eq!(record.attempts, 2);
    assert_eq!(record.result, Some(serde_json::json!(2)));
    let attempts = kiribi.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    let lost = attempts[0].error.as_deref().unwrap_or_default();
    assert!(
        lost.contains("lease expired"),
        "the lost attempt says why: {lost}"
    );
    assert_ne!(attempts[0].worker, attempts[1].worker);

    let pids: HashSet<u32> = read_run_logs(&logs)
        .into_iter()
        .map(|(pid, _, _)| pid)
        .collect();
    assert_eq!(pids, HashSet::from([first_pid, second_pid]));
}

kiribi_tests::backend_tests!(killed_workers_job_is_finished_by_another_worker_after_its_lease);
