//! Graceful shutdown: running jobs finish; past the grace period they are given back
//! without an attempt being charged.

use std::time::Duration;

use kiribi::{JobStatus, job};
use kiribi_tests::{TestDb, wait_for_status};

#[job]
async fn takes_a_while(millis: u64) -> Result<u64, String> {
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(millis)
}

async fn shutdown_lets_running_jobs_finish(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 300 })
        .await
        .unwrap();
    wait_for_status(&kiribi, id, JobStatus::Running).await;

    worker.shutdown().await.unwrap();
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.result, Some(serde_json::json!(300)));
}

async fn jobs_still_running_after_the_grace_period_are_released_uncharged(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .shutdown_timeout(Duration::from_millis(100))
        .start();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 60_000 })
        .await
        .unwrap();
    wait_for_status(&kiribi, id, JobStatus::Running).await;

    worker.shutdown().await.unwrap();
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(
        record.attempts, 0,
        "a released job is not charged an attempt"
    );
    assert_eq!(record.lease_owner, None);
    assert!(kiribi.attempts(id).await.unwrap().is_empty());
}

async fn stopped_worker_claims_nothing_more(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    worker.shutdown().await.unwrap();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 1 })
        .await
        .unwrap();
    // A second handle's worker runs it: proof that it was ready and only the stopped
    // worker did not take it.
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    let other = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    other.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    shutdown_lets_running_jobs_finish,
    jobs_still_running_after_the_grace_period_are_released_uncharged,
    stopped_worker_claims_nothing_more,
);
