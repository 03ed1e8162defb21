//! Cancel, retry and delete through the `Kiribi` handle.

use std::time::Duration;

use kiribi::{EnqueueOptions, JobFilter, JobStatus, job};
use kiribi_tests::{TestDb, wait_for_status};

#[job(max_attempts = 1)]
async fn fails_once_then_works(marker: String) -> Result<(), String> {
    // The marker file exists after the first run, so a manual retry succeeds.
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"ran").map_err(|e| e.to_string())?;
        return Err("first run fails".into());
    }
    Ok(())
}

#[job]
async fn noop(n: u32) -> Result<u32, String> {
    Ok(n)
}

async fn cancelled_job_never_runs(db: TestDb) {
    let kiribi = db.connect().await;
    let cancelled = Noop::enqueue(&kiribi, Noop { n: 1 }).await.unwrap();
    assert!(kiribi.cancel(cancelled).await.unwrap());
    assert!(
        !kiribi.cancel(cancelled).await.unwrap(),
        "a cancelled job cannot be cancelled again"
    );

    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let later = Noop::enqueue(&kiribi, Noop { n: 2 }).await.unwrap();
    wait_for_status(&kiribi, later, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();

    let record = kiribi.job(cancelled).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    assert_eq!(record.attempts, 0);
    assert!(record.finished_at.is_some());
}

async fn failed_job_can_be_retried_by_hand(db: TestDb) {
    let kiribi = db.connect().await;
    let marker = db.dir().join("marker").display().to_string();
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = FailsOnceThenWorks::enqueue(&kiribi, FailsOnceThenWorks { marker })
        .await
        .unwrap();
    let failed = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert_eq!((failed.attempts, failed.max_attempts), (1, 1));

    assert!(kiribi.retry(id).await.unwrap());
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(
        (record.attempts, record.max_attempts),
        (2, 2),
        "retry grants one more attempt"
    );
    assert!(
        !kiribi.retry(id).await.unwrap(),
        "a succeeded job is not retried"
    );
    worker.shutdown().await.unwrap();
}

async fn deleted_job_is_gone_with_its_history(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Noop::enqueue(&kiribi, Noop { n: 3 }).await.unwrap();
    wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();

    assert!(kiribi.delete(id).await.unwrap());
    assert!(kiribi.job(id).await.unwrap().is_none());
    assert!(kiribi.attempts(id).await.unwrap().is_empty());
    assert!(
        !kiribi.delete(id).await.unwrap(),
        "deleting twice reports false"
    );
}

async fn actions_on_unknown_ids_report_false(db: TestDb) {
    let kiribi = db.connect().await;
    let missing: kiribi::JobId = "999999".parse().unwrap();
    assert!(kiribi.job(missing).await.unwrap().is_none());
    assert!(!kiribi.cancel(missing).await.unwrap());
    assert!(!kiribi.retry(missing).await.unwrap());
    assert!(!kiribi.delete(missing).await.unwrap());
}

async fn jobs_lists_newest_first_with_filters(db: TestDb) {
    let kiribi = db.connect().await;
    let a = Noop::enqueue(&kiribi, Noop { n: 1 }).await.unwrap();
    let b = Noop::enqueue_with(&kiribi, Noop { n: 2 }, EnqueueOptions::new().queue("other"))
        .await
        .unwrap();
    let c = Noop::enqueue(&kiribi, Noop { n: 3 }).await.unwrap();
    kiribi.cancel(c).await.unwrap();

    let ids =
        |records: Vec<kiribi::JobRecord>| records.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(kiribi.jobs(JobFilter::new()).await.unwrap()), [c, b, a]);
    assert_eq!(
        ids(kiribi
            .jobs(JobFilter::new().status(JobStatus::Pending))
            .await
            .unwrap()),
        [b, a]
    );
    assert_eq!(
        ids(kiribi.jobs(JobFilter::new().queue("other")).await.unwrap()),
        [b]
    );
    assert_eq!(
        ids(kiribi
            .jobs(JobFilter::new().name("noop").limit(2))
            .await
            .unwrap()),
        [c, b]
    );
    assert!(
        kiribi
            .jobs(JobFilter::new().name("nope"))
            .await
            .unwrap()
            .is_empty()
    );
}

kiribi_tests::backend_tests!(
    cancelled_job_never_runs,
    failed_job_can_be_retried_by_hand,
    deleted_job_is_gone_with_its_history,
    actions_on_unknown_ids_report_false,
    jobs_lists_newest_first_with_filters,
);
