//! A SQLite worker process that never polls (its poll interval is an hour) starts
//! the jobs another process commits, through a handle or inside the caller's own
//! transaction: only the commit watcher can tell it they are there.

use std::time::Duration;

use kiribi::{JobStatus, Kiribi};
use kiribi_tests::jobs::Drain;
use kiribi_tests::process::WorkerProcess;
use kiribi_tests::{TestDb, wait_for_status};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

/// A worker process that claims only when woken, and this process's handle.
async fn idle_worker(db: &TestDb) -> (WorkerProcess, Kiribi) {
    let kiribi = db.connect().await;
    let worker = WorkerProcess::builder(WORKER, db.url())
        .concurrency(2)
        .poll_interval(Duration::from_secs(3600))
        .start()
        .await;
    // Its first claim, at start-up, may find a job enqueued meanwhile; once a job
    // has run, it claims again only when woken.
    let first = Drain::enqueue(&kiribi, Drain { n: 1 }).await.unwrap();
    wait_for_status(&kiribi, first, JobStatus::Succeeded).await;
    (worker, kiribi)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_polling_sqlite_worker_process_starts_a_job_another_process_enqueued() {
    let db = TestDb::sqlite();
    let (worker, kiribi) = idle_worker(&db).await;

    let id = Drain::enqueue(&kiribi, Drain { n: 2 }).await.unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    worker.terminate().await;
    assert_eq!(record.result, Some(serde_json::json!(2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_polling_sqlite_worker_process_starts_a_job_committed_in_a_transaction() {
    let db = TestDb::sqlite();
    let (worker, kiribi) = idle_worker(&db).await;
    let pool = kiribi.sqlite_pool().expect("a SQLite backend").clone();
    kiribi::sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    kiribi::sqlx::query("INSERT INTO orders (id) VALUES (3)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let id = Drain::enqueue(&mut *tx, Drain { n: 3 }).await.unwrap();
    tx.commit().await.unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    worker.terminate().await;
    assert_eq!(record.result, Some(serde_json::json!(3)));
}
