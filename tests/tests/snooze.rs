//! Snoozing: `Err(JobError::snooze(..))` puts the job back to wait without charging
//! an attempt, so a job may snooze more often than its `max_attempts`, and the
//! worker wakes for it at its due time without polling.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kiribi::{JobError, JobStatus, State, job};
use kiribi_tests::{TestDb, wait, wait_for_status};

/// How many times each snoozing job ran, shared with the jobs.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicU32>);

/// Snoozes 10 ms on each of its first `times` runs, then returns how often it ran.
#[job(name = "snooze.then_run", max_attempts = 2)]
async fn snooze_then_run(State(runs): State<Runs>, times: u32) -> Result<u32, JobError> {
    let run = runs.0.fetch_add(1, Ordering::SeqCst) + 1;
    if run <= times {
        // `?` turns it into the job's error like any other.
        Err(JobError::snooze(Duration::from_millis(10)))?;
    }
    Ok(run)
}

/// Snoozes for an hour.
#[job(name = "snooze.for_an_hour", max_attempts = 1)]
async fn snooze_for_an_hour() -> Result<(), JobError> {
    Err(JobError::snooze(Duration::from_secs(3600)))
}

async fn a_job_snoozing_more_often_than_its_max_attempts_still_runs(db: TestDb) {
    let runs = Runs::default();
    let kiribi = db.connect_with_state(runs.clone()).await;
    // Polls only every minute: the snoozes' due times must wake the worker.
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_secs(60))
        .start();
    let id = SnoozeThenRun::enqueue(&kiribi, SnoozeThenRun { times: 10 })
        .await
        .unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();

    assert_eq!(record.result, Some(serde_json::json!(11)));
    assert_eq!(runs.0.load(Ordering::SeqCst), 11);
    assert_eq!(
        (record.attempts, record.max_attempts),
        (1, 2),
        "no snooze was charged"
    );
    assert_eq!(record.last_error, None, "a snooze is not an error");
    let attempts = kiribi.attempts(id).await.unwrap();
    assert_eq!(
        attempts.len(),
        1,
        "snoozed attempts leave no record: {attempts:?}"
    );
}

async fn a_snoozed_job_waits_its_delay_uncharged(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi.worker().start();
    let id = SnoozeForAnHour::enqueue(&kiribi, SnoozeForAnHour)
        .await
        .unwrap();
    let created = kiribi.job(id).await.unwrap().unwrap().created_at;
    let record = wait::until("the job to snooze", Duration::from_secs(20), || async {
        let record = kiribi.job(id).await.unwrap().unwrap();
        ((record.run_at - created).num_minutes() > 30).then_some(record)
    })
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
    assert_eq!(record.finished_at, None);
    assert!(kiribi.attempts(id).await.unwrap().is_empty());
}

/// `run_now` runs one attempt for its caller: a snooze fails it rather than leave a
/// job behind for workers to run again.
async fn a_snooze_in_run_now_fails_the_inline_job(db: TestDb) {
    let kiribi = db.connect().await;
    let err = SnoozeForAnHour::run_now(&kiribi, SnoozeForAnHour)
        .await
        .unwrap_err();
    let kiribi::Error::JobFailed { id, error, .. } = err else {
        panic!("expected JobFailed, got {err:?}");
    };
    assert_eq!(error.snoozed(), Some(Duration::from_secs(3600)));
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert!(record.last_error.unwrap_or_default().contains("run_now"));
}

kiribi_tests::backend_tests!(
    a_job_snoozing_more_often_than_its_max_attempts_still_runs,
    a_snoozed_job_waits_its_delay_uncharged,
    a_snooze_in_run_now_fails_the_inline_job,
);
