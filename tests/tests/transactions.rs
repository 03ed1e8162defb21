//! Enqueueing inside the application's own transaction, on each backend.

use std::time::Duration;

use kiribi::{JobFilter, JobStatus, job};
use kiribi_tests::{TestDb, wait_for_status};

#[job]
async fn after_signup(user_id: i64) -> Result<i64, String> {
    Ok(user_id)
}

#[tokio::test]
async fn sqlite_job_enqueued_in_a_committed_transaction_exists_and_runs() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    let pool = kiribi.sqlite_pool().expect("a SQLite backend").clone();
    kiribi::sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    kiribi::sqlx::query("INSERT INTO users (id) VALUES (7)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 })
        .await
        .unwrap();
    let more = AfterSignup::enqueue_many(
        &mut *tx,
        [AfterSignup { user_id: 8 }, AfterSignup { user_id: 9 }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    all_succeed(&kiribi, id, more).await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sqlite_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    let pool = kiribi.sqlite_pool().expect("a SQLite backend").clone();

    let mut tx = pool.begin().await.unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 })
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert!(kiribi.job(id).await.unwrap().is_none());
    assert!(kiribi.jobs(JobFilter::new()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_job_enqueued_in_a_committed_transaction_exists_and_runs() {
    let db = TestDb::postgres().await;
    let kiribi = db.connect().await;
    let pool = kiribi.pg_pool().expect("a PostgreSQL backend").clone();
    kiribi::sqlx::query("CREATE TABLE users (id BIGINT PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    // An idle worker: the job must start from the commit's notification.
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_secs(3600))
        .start();

    let mut tx = pool.begin().await.unwrap();
    kiribi::sqlx::query("INSERT INTO users (id) VALUES (7)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 })
        .await
        .unwrap();
    let more = AfterSignup::enqueue_many(
        &mut *tx,
        [AfterSignup { user_id: 8 }, AfterSignup { user_id: 9 }],
    )
    .await
    .unwrap();
    assert!(
        kiribi.job(id).await.unwrap().is_none(),
        "invisible before commit"
    );
    tx.commit().await.unwrap();

    all_succeed(&kiribi, id, more).await;
    worker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let db = TestDb::postgres().await;
    let kiribi = db.connect().await;
    let pool = kiribi.pg_pool().expect("a PostgreSQL backend").clone();

    let mut tx = pool.begin().await.unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 })
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert!(kiribi.job(id).await.unwrap().is_none());
    assert!(kiribi.jobs(JobFilter::new()).await.unwrap().is_empty());
}

/// Waits for the three jobs of a committed transaction to succeed.
async fn all_succeed(kiribi: &kiribi::Kiribi, id: kiribi::JobId, more: Vec<kiribi::JobId>) {
    assert_eq!(more.len(), 2);
    let record = wait_for_status(kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(record.result, Some(serde_json::json!(7)));
    for id in more {
        wait_for_status(kiribi, id, JobStatus::Succeeded).await;
    }
}
