//! Delays, priorities and queues: which job runs when, and where.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiribi::{EnqueueOptions, JobStatus, Kiribi, State, job};
use kiribi_tests::{TestDb, wait_for_status};

/// Records the order in which jobs ran.
#[derive(Clone, Default)]
struct RunOrder(Arc<Mutex<Vec<u32>>>);

#[job]
async fn ordered(State(order): State<RunOrder>, n: u32) -> Result<(), String> {
    order.0.lock().unwrap().push(n);
    Ok(())
}

#[job(queue = "mail")]
async fn in_mail_queue() -> Result<(), String> {
    Ok(())
}

async fn delayed_job_waits_for_its_run_at(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    // Delayed by an hour: still waiting whenever the test looks, however slow the
    // machine.
    let waiting = InMailQueue::enqueue_with(
        &kiribi,
        InMailQueue,
        EnqueueOptions::new().delay(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let created = kiribi.job(waiting).await.unwrap().unwrap();
    assert!(created.run_at - created.created_at >= kiribi::chrono::TimeDelta::hours(1));

    // An undelayed job enqueued after it runs, while the delayed one waits.
    let now = InMailQueue::enqueue(&kiribi, InMailQueue).await.unwrap();
    wait_for_status(&kiribi, now, JobStatus::Succeeded).await;
    let record = kiribi.job(waiting).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));

    // A short delay runs once it is due, and never starts before its run_at (both
    // times are the database's).
    let soon = InMailQueue::enqueue_with(
        &kiribi,
        InMailQueue,
        EnqueueOptions::new().delay(Duration::from_millis(200)),
    )
    .await
    .unwrap();
    let done = wait_for_status(&kiribi, soon, JobStatus::Succeeded).await;
    assert!(
        done.started_at.unwrap() >= done.run_at,
        "it never starts before its run_at"
    );
    assert!(done.run_at - done.created_at >= kiribi::chrono::TimeDelta::milliseconds(200));
    worker.shutdown().await.unwrap();
}

async fn higher_priority_runs_first_then_older_run_at(db: TestDb) {
    let order = RunOrder::default();
    let kiribi = Kiribi::builder()
        .state(order.clone())
        .connect(db.url())
        .await
        .unwrap();
    for (n, priority) in [(1, 0), (2, 5), (3, 0), (4, 10), (5, 5)] {
        Ordered::enqueue_with(
            &kiribi,
            Ordered { n },
            EnqueueOptions::new().priority(priority),
        )
        .await
        .unwrap();
    }
    // Enqueued last, but due an hour before the others of its priority.
    let an_hour_ago = kiribi::chrono::Utc::now() - kiribi::chrono::TimeDelta::hours(1);
    Ordered::enqueue_with(
        &kiribi,
        Ordered { n: 6 },
        EnqueueOptions::new().priority(0).run_at(an_hour_ago),
    )
    .await
    .unwrap();
    let worker = kiribi
        .worker()
        .concurrency(1)
        .poll_interval(Duration::from_millis(20))
        .start();
    kiribi_tests::wait::until("all six jobs", Duration::from_secs(20), || async {
        (order.0.lock().unwrap().len() == 6).then_some(())
    })
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(*order.0.lock().unwrap(), [4, 2, 5, 6, 1, 3]);
}

async fn worker_serves_only_its_queues(db: TestDb) {
    let kiribi = db.connect().await;
    let mail = InMailQueue::enqueue(&kiribi, InMailQueue).await.unwrap();
    let moved =
        InMailQueue::enqueue_with(&kiribi, InMailQueue, EnqueueOptions::new().queue("urgent"))
            .await
            .unwrap();

    let urgent_worker = kiribi
        .worker()
        .queues(["urgent"])
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, moved, JobStatus::Succeeded).await;
    assert_eq!(
        kiribi.job(mail).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
    urgent_worker.shutdown().await.unwrap();

    let every_queue = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, mail, JobStatus::Succeeded).await;
    every_queue.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    delayed_job_waits_for_its_run_at,
    higher_priority_runs_first_then_older_run_at,
    worker_serves_only_its_queues,
);
