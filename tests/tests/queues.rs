//! Pausing and resuming queues through the public API, with worker processes, on
//! each backend (DESIGN §9): a paused queue is not claimed by any worker of any
//! process, its jobs stay pending, and resuming it lets them run.

use std::time::Duration;

use kiribi::{EnqueueOptions, JobStatus};
use kiribi_tests::jobs::Drain;
use kiribi_tests::process::WorkerProcess;
use kiribi_tests::{TestDb, backend_tests, wait, wait_for_status};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

async fn a_paused_queue_waits_in_every_process_until_resumed(db: TestDb) {
    let kiribi = db.connect().await;
    assert!(kiribi.pause_queue("media").await.unwrap());
    let media = EnqueueOptions::new().queue("media");
    let paused = Drain::enqueue_with(&kiribi, Drain { n: 1 }, media.clone())
        .await
        .unwrap();
    let other = Drain::enqueue(&kiribi, Drain { n: 2 }).await.unwrap();

    // A worker in another process and one in this process: neither takes it.
    let process = WorkerProcess::builder(WORKER, db.url())
        .poll_interval(Duration::from_millis(20))
        .start()
        .await;
    let local = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, other, JobStatus::Succeeded).await;
    let later = Drain::enqueue(&kiribi, Drain { n: 3 }).await.unwrap();
    wait_for_status(&kiribi, later, JobStatus::Succeeded).await;
    // Both workers have claimed since the pause (the jobs after it ran): the
    // paused job is still waiting.
    assert_eq!(
        kiribi.job(paused).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
    let queues = kiribi.queues().await.unwrap();
    let listed = queues.iter().find(|queue| queue.name == "media").unwrap();
    assert!(listed.paused);
    assert_eq!((listed.pending, listed.running), (1, 0));
    assert!(listed.oldest_pending_age.is_some());

    assert!(kiribi.resume_queue("media").await.unwrap());
    wait_for_status(&kiribi, paused, JobStatus::Succeeded).await;
    let queues = kiribi.queues().await.unwrap();
    assert!(
        queues.iter().all(|queue| queue.name != "media"),
        "a resumed queue without jobs is not listed: {queues:?}"
    );
    local.shutdown().await.unwrap();
    process.terminate().await;
}

/// A queue paused while a worker runs: the worker claims no more of its jobs, and
/// takes them again once it is resumed.
async fn a_queue_paused_under_a_running_worker_is_no_longer_claimed(db: TestDb) {
    let kiribi = db.connect().await;
    let media = EnqueueOptions::new().queue("media");
    let first = Drain::enqueue_with(&kiribi, Drain { n: 1 }, media.clone())
        .await
        .unwrap();
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, first, JobStatus::Succeeded).await;
    assert!(kiribi.pause_queue("media").await.unwrap());
    let second = Drain::enqueue_with(&kiribi, Drain { n: 2 }, media)
        .await
        .unwrap();
    let marker = Drain::enqueue(&kiribi, Drain { n: 3 }).await.unwrap();
    wait_for_status(&kiribi, marker, JobStatus::Succeeded).await;
    let status = kiribi.job(second).await.unwrap().unwrap().status;
    assert_eq!(status, JobStatus::Pending);
    assert!(kiribi.resume_queue("media").await.unwrap());
    wait::until(
        "the resumed job to run",
        Duration::from_secs(20),
        || async {
            let status = kiribi.job(second).await.unwrap().unwrap().status;
            (status == JobStatus::Succeeded).then_some(())
        },
    )
    .await;
    worker.shutdown().await.unwrap();
}

backend_tests!(
    a_paused_queue_waits_in_every_process_until_resumed,
    a_queue_paused_under_a_running_worker_is_no_longer_claimed,
);
