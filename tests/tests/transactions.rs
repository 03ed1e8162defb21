//! Enqueueing inside the application's own SQLite transaction.

use std::time::Duration;

use kiribi::{JobFilter, JobStatus, job};
use kiribi_tests::{TempDb, wait_for_status};

#[job]
async fn after_signup(user_id: i64) -> Result<i64, String> {
    Ok(user_id)
}

#[tokio::test]
async fn job_enqueued_in_a_committed_transaction_exists_and_runs() {
    let db = TempDb::new();
    let kiribi = db.connect().await;
    let pool = kiribi.sqlite_pool().expect("a SQLite backend").clone();
    kiribi::sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    kiribi::sqlx::query("INSERT INTO users (id) VALUES (7)").execute(&mut *tx).await.unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 }).await.unwrap();
    let ids = AfterSignup::enqueue_many(&mut *tx, [AfterSignup { user_id: 8 }, AfterSignup { user_id: 9 }])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(ids.len(), 2);
    let worker = kiribi.worker().poll_interval(Duration::from_millis(20)).start();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(record.result, Some(serde_json::json!(7)));
    for id in ids {
        wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let db = TempDb::new();
    let kiribi = db.connect().await;
    let pool = kiribi.sqlite_pool().expect("a SQLite backend").clone();

    let mut tx = pool.begin().await.unwrap();
    let id = AfterSignup::enqueue(&mut *tx, AfterSignup { user_id: 7 }).await.unwrap();
    tx.rollback().await.unwrap();

    assert!(kiribi.job(id).await.unwrap().is_none());
    assert!(kiribi.jobs(JobFilter::new()).await.unwrap().is_empty());
}
