//! PostgreSQL failures that other queues survive badly: a server restart mid-run and
//! a worker's connections killed by `pg_terminate_backend`. Workers must resume by
//! themselves, with no job lost.

use std::collections::HashSet;
use std::time::Duration;

use kiribi::sqlx::{Connection, PgConnection};
use kiribi::{JobFilter, JobStatus, Kiribi};
use kiribi_tests::jobs::Drain;
use kiribi_tests::pg::{PrivateServer, TestPgDatabase};
use kiribi_tests::process::{WorkerProcess, read_run_logs};
use kiribi_tests::{TestDb, wait, wait_for_status};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

async fn unfinished(kiribi: &Kiribi) -> usize {
    let mut left = 0;
    for status in [JobStatus::Pending, JobStatus::Running, JobStatus::Retrying] {
        left += kiribi
            .jobs(JobFilter::new().status(status).limit(1))
            .await
            .map_or(1, |j| j.len());
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_processes_resume_by_themselves_after_the_server_restarts() {
    let server = tokio::task::spawn_blocking(PrivateServer::start)
        .await
        .unwrap()
        .expect("start a private PostgreSQL server");
    let database = TestPgDatabase::on(&server.url("postgres")).await;
    let scratch = tempfile::tempdir().unwrap();
    let logs = scratch.path().join("runs");
    std::fs::create_dir(&logs).unwrap();

    let kiribi = Kiribi::connect(database.url()).await.unwrap();
    let mut ids: Vec<_> = Drain::enqueue_many(&kiribi, (0..500).map(|n| Drain { n }))
        .await
        .unwrap();
    let workers = [
        WorkerProcess::start(WORKER, database.url(), 4, Duration::from_secs(2), &logs).await,
        WorkerProcess::start(WORKER, database.url(), 4, Duration::from_secs(2), &logs).await,
    ];
    wait::until("the first jobs to run", Duration::from_secs(30), || async {
        (!read_run_logs(&logs).is_empty()).then_some(())
    })
    .await;

    // A crash-like stop, then the same server back on the same port.
    server.stop().unwrap();
    assert!(
        PgConnection::connect(database.url()).await.is_err(),
        "the server is down"
    );
    tokio::task::spawn_blocking({
        let started = server.start_again();
        move || started
    })
    .await
    .unwrap()
    .expect("restart the server");

    // Jobs enqueued after the restart run too: the workers reconnected.
    let kiribi = Kiribi::connect(database.url()).await.unwrap();
    ids.extend(
        Drain::enqueue_many(&kiribi, (500..1000).map(|n| Drain { n }))
            .await
            .unwrap(),
    );
    wait::until("every job to finish", Duration::from_secs(120), || async {
        (unfinished(&kiribi).await == 0).then_some(())
    })
    .await;
    for worker in workers {
        worker.terminate().await;
    }

    let succeeded = kiribi
        .jobs(JobFilter::new().status(JobStatus::Succeeded).limit(2000))
        .await
        .unwrap();
    assert_eq!(succeeded.len(), ids.len(), "no job was lost or failed");
    let ran: HashSet<i64> = read_run_logs(&logs)
        .into_iter()
        .map(|(_, id, _)| id)
        .collect();
    assert!(
        ids.iter().all(|id| ran.contains(&id.as_i64())),
        "every job ran"
    );
    drop(kiribi);
    drop(database);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_recovers_after_its_connections_are_terminated() {
    let db = TestDb::postgres().await;
    let kiribi = db.connect().await;
    // Only notifications (no polling) can start jobs quickly here, so the listener
    // itself must come back after its connection is killed.
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_secs(3600))
        .start();
    let first = Drain::enqueue(&kiribi, Drain { n: 1 }).await.unwrap();
    wait_for_status(&kiribi, first, JobStatus::Succeeded).await;

    let database = db.url().rsplit('/').next().unwrap().to_owned();
    let mut admin = PgConnection::connect(&kiribi_tests::pg::server_url().await)
        .await
        .unwrap();
    let killed: i64 = kiribi::sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) AS t",
    )
    .bind(&database)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(
        killed >= 2,
        "the worker's pool and listener connections were killed ({killed})"
    );

    // Enqueued from another process's point of view: a fresh handle.
    let other = db.connect().await;
    let second = Drain::enqueue(&other, Drain { n: 2 }).await.unwrap();
    wait_for_status(&other, second, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();
}
