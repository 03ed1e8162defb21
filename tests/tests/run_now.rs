//! `run_now`, state injection and follow-up jobs enqueued from inside a job.

use std::time::Duration;

use kiribi::{Error, JobContext, JobStatus, Kiribi, State, job};
use kiribi_tests::{TestDb, wait_for_status};

#[derive(Clone)]
struct Prefix(String);

#[job(max_attempts = 5)]
async fn shout(State(prefix): State<Prefix>, word: String) -> Result<String, String> {
    if word.is_empty() {
        return Err("nothing to shout".into());
    }
    Ok(format!("{}{}", prefix.0, word.to_uppercase()))
}

#[job]
async fn parent(ctx: JobContext, children: u32) -> Result<Vec<i64>, Error> {
    let ids = Child::enqueue_many(&ctx, (0..children).map(|n| Child { n })).await?;
    Ok(ids.into_iter().map(kiribi::JobId::as_i64).collect())
}

#[job]
async fn child(ctx: JobContext, n: u32) -> Result<String, String> {
    Ok(format!("{} #{n} attempt {}", ctx.name(), ctx.attempt()))
}

async fn run_now_returns_the_output_and_records_the_run(db: TestDb) {
    let kiribi = Kiribi::builder()
        .state(Prefix("> ".into()))
        .connect(db.url())
        .await
        .unwrap();
    let out = Shout::run_now(&kiribi, Shout { word: "hi".into() })
        .await
        .unwrap();
    assert_eq!(out, "> HI");

    let records = kiribi.jobs(kiribi::JobFilter::new()).await.unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!((record.attempts, record.max_attempts), (1, 1));
    assert_eq!(record.result, Some(serde_json::json!("> HI")));
    assert!(record.started_at.is_some() && record.finished_at.is_some());
}

async fn failing_run_now_makes_one_attempt_and_returns_the_error(db: TestDb) {
    let kiribi = Kiribi::builder()
        .state(Prefix(String::new()))
        .connect(db.url())
        .await
        .unwrap();
    let err = Shout::run_now(
        &kiribi,
        Shout {
            word: String::new(),
        },
    )
    .await
    .unwrap_err();
    let Error::JobFailed { id, name, error } = err else {
        panic!("expected JobFailed, got {err:?}");
    };
    assert_eq!(
        (name.as_str(), error.message()),
        ("shout", "nothing to shout")
    );
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_error.as_deref(), Some("nothing to shout"));
}

async fn missing_state_fails_the_job_naming_the_type(db: TestDb) {
    let kiribi = db.connect().await;
    let err = Shout::run_now(&kiribi, Shout { word: "x".into() })
        .await
        .unwrap_err();
    let message = kiribi::chain_text(&err);
    assert!(
        message.contains("Prefix") && message.contains("Kiribi::builder().state"),
        "{message}"
    );

    // Through a worker it fails at once too, rather than retrying four more times.
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Shout::enqueue(&kiribi, Shout { word: "x".into() })
        .await
        .unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Failed).await;
    assert_eq!(record.attempts, 1);
    worker.shutdown().await.unwrap();
}

async fn a_job_enqueues_follow_up_jobs_through_its_context(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Parent::enqueue(&kiribi, Parent { children: 3 })
        .await
        .unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    let children: Vec<i64> = serde_json::from_value(record.result.unwrap()).unwrap();
    assert_eq!(children.len(), 3);
    for child in children {
        let done = wait_for_status(
            &kiribi,
            kiribi::JobId::from_i64(child),
            JobStatus::Succeeded,
        )
        .await;
        assert!(
            done.result
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("child #")
        );
    }
    worker.shutdown().await.unwrap();
}

kiribi_tests::backend_tests!(
    run_now_returns_the_output_and_records_the_run,
    failing_run_now_makes_one_attempt_and_returns_the_error,
    missing_state_fails_the_job_naming_the_type,
    a_job_enqueues_follow_up_jobs_through_its_context,
);
