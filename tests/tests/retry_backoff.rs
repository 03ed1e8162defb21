//! Retries, backoff, timeouts and panics, seen through a real worker on each backend.

use std::time::Duration;

use kiribi::{JobContext, JobError, JobStatus, job};
use kiribi_tests::{TestDb, wait_for_status};

#[job(max_attempts = 5, backoff = "fixed", retry_delay = "20ms")]
async fn fails_twice(ctx: JobContext) -> Result<u32, String> {
    if ctx.attempt() <= 2 {
        return Err(format!("failure number {}", ctx.attempt()));
    }
    Ok(ctx.attempt())
}

#[job(max_attempts = 3, backoff = "linear", retry_delay = "10ms")]
async fn always_fails(reason: String) -> Result<(), String> {
    Err(reason)
}

#[job(max_attempts = 5)]
async fn gives_up(user_id: i64) -> anyhow::Result<()> {
    Err(JobError::permanent(format!("user {user_id} does not exist")).into())
}

#[job(max_attempts = 2, retry_delay = "10ms", timeout = "50ms")]
async fn too_slow() -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok(())
}

#[job(max_attempts = 2, retry_delay = "10ms")]
async fn panics(ctx: JobContext) -> Result<&'static str, String> {
    if ctx.attempt() == 1 {
        panic!("the first attempt panics");
    }
    Ok("recovered")
}

fn fast_worker(kiribi: &kiribi::Kiribi) -> kiribi::WorkerHandle {
    kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start()
}

async fn job_that_fails_twice_succeeds_on_its_third_attempt_with_history(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = fast_worker(&kiribi);
    let id = FailsTwice::enqueue(&kiribi, FailsTwice).await.unwrap();

    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(record.attempts, 3);
    assert_eq!(record.result, Some(serde_json::json!(3)));
    assert_eq!(record.last_error.as_deref(), Some("failure number 2"));

    let attempts = kiribi.attempts(id).await.unwrap();
    let errors: Vec<_> = attempts.iter().map(|a| a.error.as_deref()).collect();
    assert_eq!(
        errors,
        [Some("failure number 1"), Some("failure number 2"), None]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.finished_at.is_some() && a.worker.as_deref() == Some(worker.id()))
    );
    worker.shutdown().await.unwrap();
}

async fn job_that_keeps_failing_ends_failed_after_max_attempts(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = fast_worker(&kiribi);
    let id = AlwaysFails::enqueue(
        &kiribi,
        AlwaysFails {
            reason: "smtp down".into(),
        },
    )
    .await
    .unwrap();

    let record = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert_eq!((record.attempts, record.max_attempts), (3, 3));
    assert_eq!(record.last_error.as_deref(), Some("smtp down"));
    assert!(record.finished_at.is_some());
    assert_eq!(kiribi.attempts(id).await.unwrap().len(), 3);
    worker.shutdown().await.unwrap();
}

async fn retry_waits_for_the_backoff_delay(db: TestDb) {
    let kiribi = db.connect().await;
    let id = AlwaysFails::enqueue(&kiribi, AlwaysFails { reason: "x".into() })
        .await
        .unwrap();
    let worker = fast_worker(&kiribi);
    let record = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    let attempts = kiribi.attempts(id).await.unwrap();
    // Linear backoff from 10 ms: attempt n+1 starts at least n × 10 ms after attempt n ended.
    for (n, pair) in attempts.windows(2).enumerate() {
        let gap = pair[1].started_at - pair[0].finished_at.unwrap();
        let min = i64::try_from(n + 1).unwrap() * 10;
        assert!(
            gap.num_milliseconds() >= min - 1,
            "gap {gap} before attempt {}",
            n + 2
        );
    }
    assert_eq!(record.attempts, 3);
    worker.shutdown().await.unwrap();
}

async fn permanent_error_fails_the_job_without_retrying(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = fast_worker(&kiribi);
    let id = GivesUp::enqueue(&kiribi, GivesUp { user_id: 42 })
        .await
        .unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_error.as_deref(), Some("user 42 does not exist"));
    worker.shutdown().await.unwrap();
}

async fn timed_out_attempts_are_retried_then_fail(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = fast_worker(&kiribi);
    let id = TooSlow::enqueue(&kiribi, TooSlow).await.unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert_eq!(record.attempts, 2);
    assert_eq!(record.last_error.as_deref(), Some("timed out after 50ms"));
    worker.shutdown().await.unwrap();
}

async fn panicking_attempt_is_recorded_and_retried(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = fast_worker(&kiribi);
    let id = Panics::enqueue(&kiribi, Panics).await.unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(record.attempts, 2);
    assert_eq!(record.result, Some(serde_json::json!("recovered")));
    let first = &kiribi.attempts(id).await.unwrap()[0];
    assert_eq!(
        first.error.as_deref(),
        Some("panicked: the first attempt panics")
    );
    worker.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    job_that_fails_twice_succeeds_on_its_third_attempt_with_history,
    job_that_keeps_failing_ends_failed_after_max_attempts,
    retry_waits_for_the_backoff_delay,
    permanent_error_fails_the_job_without_retrying,
    timed_out_attempts_are_retried_then_fail,
    panicking_attempt_is_recorded_and_retried,
);
