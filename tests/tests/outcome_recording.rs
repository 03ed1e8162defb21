//! A worker that cannot record its jobs' outcomes, while the database answers its
//! claims and renewals, stops by itself and says why; its jobs are not left
//! `Running`: another worker takes them over once their leases expire.

use std::time::Duration;

use kiribi::{Error, JobStatus, Kiribi, job, sqlx};
use kiribi_tests::{Backend, TestDb, wait, wait_for_status};

#[job]
async fn answer(n: u32) -> Result<u32, String> {
    Ok(n)
}

/// Installs a real fault: every write that makes a job `Succeeded` raises
/// `injected`, while claims, renewals and every other update still work.
async fn refuse_successes(kiribi: &Kiribi, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            sqlx::query(
                "CREATE TRIGGER kiribi_test_refuse_success \
                 BEFORE UPDATE OF status ON kiribi_jobs WHEN NEW.status = 'succeeded' \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END",
            )
            .execute(kiribi.sqlite_pool().expect("a SQLite backend"))
            .await
            .expect("install the fault");
        }
        Backend::Postgres => {
            let pool = kiribi.pg_pool().expect("a PostgreSQL backend");
            sqlx::query(
                "CREATE FUNCTION kiribi_test_refuse_success() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$",
            )
            .execute(pool)
            .await
            .expect("install the fault's function");
            sqlx::query(
                "CREATE TRIGGER kiribi_test_refuse_success \
                 BEFORE UPDATE OF status ON kiribi_jobs FOR EACH ROW \
                 WHEN (NEW.status = 'succeeded') \
                 EXECUTE FUNCTION kiribi_test_refuse_success()",
            )
            .execute(pool)
            .await
            .expect("install the fault");
        }
    }
}

/// Removes the fault again.
async fn accept_successes(kiribi: &Kiribi, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            sqlx::query("DROP TRIGGER kiribi_test_refuse_success")
                .execute(kiribi.sqlite_pool().expect("a SQLite backend"))
                .await
                .expect("remove the fault");
        }
        Backend::Postgres => {
            sqlx::query("DROP TRIGGER kiribi_test_refuse_success ON kiribi_jobs")
                .execute(kiribi.pg_pool().expect("a PostgreSQL backend"))
                .await
                .expect("remove the fault");
        }
    }
}

async fn a_worker_that_cannot_record_outcomes_stops_and_another_takes_its_job_over(db: TestDb) {
    let kiribi = db.connect().await;
    refuse_successes(&kiribi, db.backend()).await;
    let first = kiribi
        .worker()
        .lease(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Answer::enqueue(&kiribi, Answer { n: 7 }).await.unwrap();

    // The job ran, but its success cannot be written: the worker gives up by
    // itself, without anyone calling `shutdown`.
    wait::until(
        "the worker to stop by itself",
        Duration::from_secs(20),
        || async { first.is_finished().then_some(()) },
    )
    .await;
    let stuck = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(stuck.status, JobStatus::Running);
    assert_eq!(stuck.lease_owner.as_deref(), Some(first.id()));

    let err = first.shutdown().await.unwrap_err();
    let Error::OutcomesNotRecorded { jobs, .. } = &err else {
        panic!("expected OutcomesNotRecorded, got {err:?}");
    };
    assert_eq!(*jobs, 1);
    let chain = kiribi::chain_text(&err);
    assert!(
        chain.contains("injected"),
        "the chain names the cause: {chain}"
    );

    // Its lease is no longer renewed: once it expired, a healthy worker takes the
    // job back as an interruption (not charged) and runs it again.
    accept_successes(&kiribi, db.backend()).await;
    let second = kiribi
        .worker()
        .lease(Duration::from_millis(300))
        .poll_interval(Duration::from_millis(20))
        .start();
    let done = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(done.interruptions, 1);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.result, Some(serde_json::json!(7)));
    second.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    a_worker_that_cannot_record_outcomes_stops_and_another_takes_its_job_over
);
