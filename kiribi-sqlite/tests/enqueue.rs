//! Enqueueing through the storage and through a caller's transaction.

use kiribi_core::backend::NewJob;
use kiribi_core::{JobFilter, JobStatus, Storage};
use kiribi_sqlite::{SqliteStorage, enqueue_on};

async fn storage(dir: &tempfile::TempDir) -> SqliteStorage {
    SqliteStorage::connect(&format!("sqlite://{}/jobs.db", dir.path().display()))
        .await
        .unwrap()
}

async fn count(storage: &SqliteStorage) -> usize {
    storage
        .list(&JobFilter::new().limit(100_000))
        .await
        .unwrap()
        .len()
}

fn jobs(name: &str, count: i64) -> Vec<NewJob> {
    (0..count)
        .map(|n| NewJob::new(name, serde_json::json!(n)))
        .collect()
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir).await;

    let mut tx = storage.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
    let ids = kiribi_conformance::ids(enqueue_on(&mut tx, jobs("a", 3)).await.unwrap());
    assert_eq!(ids.len(), 3);
    tx.rollback().await.unwrap();
    assert_eq!(count(&storage).await, 0);

    let mut tx = storage.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
    let ids = kiribi_conformance::ids(enqueue_on(&mut tx, jobs("a", 2)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        storage.get(ids[1]).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
}

#[tokio::test]
async fn a_large_batch_in_a_transaction_rolls_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir).await;
    let mut tx = storage.pool().begin_with("BEGIN IMMEDIATE").await.unwrap();
    // More rows than one statement takes: the chunks run in a savepoint.
    let ids = kiribi_conformance::ids(enqueue_on(&mut tx, jobs("bulk", 2_345)).await.unwrap());
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    tx.rollback().await.unwrap();
    assert_eq!(count(&storage).await, 0);
}

#[tokio::test]
async fn a_batch_that_fails_part_way_inserts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage(&dir).await;
    // A trigger stands in for any failure in the last chunk of a large batch.
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON kiribi_jobs WHEN NEW.name = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned job'); END",
    )
    .execute(storage.pool())
    .await
    .unwrap();

    let mut batch = jobs("fine", 2_500);
    batch.push(NewJob::new("poison", serde_json::json!(null)));
    let error = storage.enqueue(batch).await.unwrap_err();
    assert!(
        matches!(
            error,
            kiribi_core::Error::Storage {
                backend: "sqlite",
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(count(&storage).await, 0);

    let error = storage
        .enqueue(vec![
            NewJob::new("fine", serde_json::json!(1)),
            NewJob::new("poison", serde_json::json!(2)),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(error, kiribi_core::Error::Storage { .. }),
        "{error}"
    );
    assert_eq!(count(&storage).await, 0);

    let mut conn = storage.pool().acquire().await.unwrap();
    let mut batch = jobs("fine", 1_500);
    batch.push(NewJob::new("poison", serde_json::json!(null)));
    enqueue_on(&mut conn, batch).await.unwrap_err();
    drop(conn);
    assert_eq!(count(&storage).await, 0, "outside a transaction too");
}
