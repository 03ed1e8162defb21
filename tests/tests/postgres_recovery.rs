//! PostgreSQL failures that other queues survive badly: a server restart mid-run, a
//! worker's connections killed by `pg_terminate_backend`, and a server crash right
//! after a claim. Workers must resume by themselves, with no job lost, and a claim
//! that returned must survive the crash.

use std::collections::HashSet;
use std::time::Duration;

use kiribi::backend::{ClaimRequest, ClaimedJob, Lease, Outcome, WorkerId};
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

/// Claims the one ready `test.drain` job for `worker`, with a lease that outlasts
/// the test.
async fn claim(kiribi: &Kiribi, worker: &WorkerId) -> Vec<ClaimedJob> {
    let request = ClaimRequest::new(worker.clone(), Duration::from_secs(600))
        .with_names(["test.drain"])
        .with_limit(10);
    kiribi.storage().claim(&request).await.expect("claim")
}

/// A claim commits synchronously: when it returned to a worker, a crash cannot undo
/// it. (While the claim committed with `synchronous_commit` off, the job came back
/// here `Pending` with no attempt, for a second worker to claim as attempt 1 while
/// the first one ran it.) And a write fenced by (id, attempt) but from another
/// owner changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_survives_a_server_crash_right_after_it_returns_and_stays_fenced() {
    let server = tokio::task::spawn_blocking(PrivateServer::start)
        .await
        .unwrap()
        .expect("start a private PostgreSQL server");
    let database = TestPgDatabase::on(&server.url("postgres")).await;
    let kiribi = Kiribi::connect(database.url()).await.unwrap();
    let id = Drain::enqueue(&kiribi, Drain { n: 7 }).await.unwrap();

    let first = WorkerId::new("worker:test:1:first");
    let claimed = claim(&kiribi, &first).await;
    // The claim has returned: the server crashes at once, before anything else
    // (a checkpoint, the WAL writer's next round) could save it by chance.
    server.stop().expect("stop the server");
    assert_eq!(claimed.len(), 1, "the job was claimed");
    let lease = claimed[0].lease.clone();
    assert_eq!((lease.id, lease.attempt), (id, 1));
    tokio::task::spawn_blocking({
        let started = server.start_again();
        move || started
    })
    .await
    .unwrap()
    .expect("restart the server");

    // The claim was durable: the job is still the first worker's, in attempt 1.
    let other = Kiribi::connect(database.url()).await.unwrap();
    let record = other.job(id).await.unwrap().unwrap();
    assert_eq!(
        (
            record.status,
            record.lease_owner.as_deref(),
            record.attempts
        ),
        (JobStatus::Running, Some(first.as_str()), 1),
        "status, lease owner, attempts after the crash"
    );
    // A second worker finds nothing to claim while the lease holds.
    let second = WorkerId::new("worker:test:2:second");
    assert!(claim(&other, &second).await.is_empty(), "the job is leased");

    // The fence: an outcome for the same attempt from another owner changes nothing.
    let stranger = Lease::new(id, 1, second);
    let held = other
        .storage()
        .complete_many(&[(stranger, Outcome::succeeded(Some(serde_json::json!(0))))])
        .await
        .unwrap();
    assert_eq!(held, [false], "another owner's completion is refused");
    let record = other.job(id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.lease_owner.as_deref()),
        (JobStatus::Running, Some(first.as_str()))
    );

    // The first worker's completion, through its own handle (whose connections
    // the crash broke), applies.
    let held = kiribi
        .storage()
        .complete_many(&[(lease, Outcome::succeeded(Some(serde_json::json!(7))))])
        .await
        .unwrap();
    assert_eq!(held, [true], "the lease holder's completion applies");
    let record = other.job(id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempts, record.result),
        (JobStatus::Succeeded, 1, Some(serde_json::json!(7)))
    );
    drop((kiribi, other));
    drop(database);
    drop(server);
}

/// A pooled connection that sat idle is checked before it is used: an enqueue on a
/// handle whose connections the server dropped meanwhile (a restart, a proxy's idle
/// timeout) succeeds instead of failing on the dead connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_after_idle_connections_were_dropped_succeeds() {
    let db = TestDb::postgres().await;
    let kiribi = db.connect().await;
    Drain::enqueue(&kiribi, Drain { n: 1 }).await.unwrap();

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
    assert!(killed >= 1, "the handle's pooled connection was killed");
    // The precondition, not a wait for an outcome: kiribi pings connections that
    // sat idle for a second or more before handing them out.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let second = Drain::enqueue(&kiribi, Drain { n: 2 })
        .await
        .expect("an enqueue on a handle whose idle connection was dropped");
    assert!(kiribi.job(second).await.unwrap().is_some());
}
