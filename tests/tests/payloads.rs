//! Payloads that no longer fit their job, and job names this binary does not know.

use std::time::Duration;

use kiribi::backend::NewJob;
use kiribi::{JobStatus, job};
use kiribi_tests::{TestDb, wait_for_status};

#[job(name = "payloads.greet")]
async fn greet(user_id: i64, email: String) -> Result<String, String> {
    Ok(format!("{user_id} {email}"))
}

async fn drifted_payload_fails_at_once_naming_the_field_and_the_worker_keeps_going(db: TestDb) {
    let kiribi = db.connect().await;
    // A row written by an older version of the job, where `user_id` was a string.
    let drifted = NewJob::new(
        "payloads.greet",
        serde_json::json!({ "user_id": "seven", "email": "a@b.c" }),
    );
    let bad = kiribi.storage().enqueue(vec![drifted]).await.unwrap()[0].id;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();

    let record = wait_for_status(&kiribi, bad, JobStatus::Failed).await;
    assert_eq!(
        record.attempts, 1,
        "a payload that does not decode is not retried"
    );
    let error = record.last_error.unwrap();
    assert!(
        error.contains("user_id"),
        "the error names the field: {error}"
    );

    let good = Greet::enqueue(
        &kiribi,
        Greet {
            user_id: 7,
            email: "x@y.z".into(),
        },
    )
    .await
    .unwrap();
    let record = wait_for_status(&kiribi, good, JobStatus::Succeeded).await;
    assert_eq!(record.result, Some(serde_json::json!("7 x@y.z")));
    worker.shutdown().await.unwrap();
}

async fn job_name_this_binary_does_not_know_is_left_pending_and_untouched(db: TestDb) {
    let kiribi = db.connect().await;
    let foreign = NewJob::new("another_service.job", serde_json::json!({ "x": 1 }));
    let foreign = kiribi.storage().enqueue(vec![foreign]).await.unwrap()[0].id;
    let before = kiribi.job(foreign).await.unwrap().unwrap();
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();

    // Once a known job enqueued after it has run, the worker has polled past it.
    let known = Greet::enqueue(
        &kiribi,
        Greet {
            user_id: 1,
            email: "a".into(),
        },
    )
    .await
    .unwrap();
    wait_for_status(&kiribi, known, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();

    let after = kiribi.job(foreign).await.unwrap().unwrap();
    assert_eq!(after, before);
    assert!(kiribi.attempts(foreign).await.unwrap().is_empty());
}

kiribi_tests::backend_tests!(
    drifted_payload_fails_at_once_naming_the_field_and_the_worker_keeps_going,
    job_name_this_binary_does_not_know_is_left_pending_and_untouched,
);
