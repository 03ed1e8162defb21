//! `kiribi::testing` as a user's tests use it (DESIGN §13), on each backend: `drain`
//! runs follow-ups and flow steps in the test's task and reports each attempt,
//! delayed jobs and backoffs run only on request, `assert_enqueued` matches typed
//! payloads and lists what was enqueued when nothing matches, and a runaway drain
//! stops with a message.

use std::time::Duration;

use kiribi::testing::{self, Drain};
use kiribi::{EnqueueOptions, Flow, JobContext, JobStatus, job};
use kiribi_tests::{TestDb, backend_tests};

#[job(name = "helpers.sign_up")]
async fn sign_up(ctx: JobContext, user_id: i64) -> anyhow::Result<()> {
    ctx.log(format!("signing up {user_id}"));
    Notify::enqueue(ctx.kiribi(), Notify { user_id }).await?;
    Ok(())
}

#[job(name = "helpers.notify")]
async fn notify(user_id: i64) -> anyhow::Result<i64> {
    Ok(user_id * 10)
}

#[job(name = "helpers.add")]
async fn add(ctx: JobContext, n: i64) -> anyhow::Result<i64> {
    let notified: i64 = ctx.output_of("notify").await?;
    Ok(notified + n)
}

#[job(name = "helpers.flaky", max_attempts = 3, retry_delay = "1h")]
async fn flaky(ctx: JobContext) -> Result<u32, String> {
    if ctx.attempt() < 3 {
        return Err(format!("try {} fails", ctx.attempt()));
    }
    Ok(ctx.attempt())
}

#[job(name = "helpers.again")]
async fn again(ctx: JobContext) -> anyhow::Result<()> {
    Again::enqueue(ctx.kiribi(), Again).await?;
    Ok(())
}

async fn drain_runs_follow_ups_and_flow_steps(db: TestDb) {
    let kiribi = db.connect().await;
    let sign_up = SignUp::enqueue(&kiribi, SignUp { user_id: 7 })
        .await
        .unwrap();
    let flow = Flow::new("notify then add")
        .step("notify", Notify { user_id: 2 })
        .step_after("add", Add { n: 1 }, ["notify"])
        .enqueue(&kiribi)
        .await
        .unwrap();

    let drained = testing::drain(&kiribi).await.unwrap();
    let mut names = drained.names();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "helpers.add",
            "helpers.notify",
            "helpers.notify",
            "helpers.sign_up"
        ],
        "{drained:?}"
    );
    assert_eq!(drained.failures().count(), 0, "{drained:?}");
    let position = |name: &str| drained.names().iter().position(|n| *n == name).unwrap();
    assert!(
        position("helpers.sign_up")
            < drained
                .names()
                .iter()
                .rposition(|n| *n == "helpers.notify")
                .unwrap(),
        "the follow-up runs after the job that enqueued it: {drained:?}"
    );
    assert!(position("helpers.notify") < position("helpers.add"));

    let flow = kiribi.flow(flow).await.unwrap().unwrap();
    assert_eq!(flow.status, kiribi::FlowStatus::Succeeded);
    let add = &flow.step("add").unwrap().job;
    assert_eq!(add.result, Some(serde_json::json!(21)));
    let lines = kiribi.logs(sign_up).await.unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].message, "signing up 7");

    let notified = testing::assert_enqueued::<Notify>(&kiribi, |n| n.user_id == 7).await;
    assert_eq!(notified.status, JobStatus::Succeeded);
    assert_eq!(notified.result, Some(serde_json::json!(70)));
    assert!(
        testing::drain(&kiribi).await.unwrap().runs.is_empty(),
        "a second drain finds nothing to run"
    );
}

async fn delayed_jobs_and_backoffs_run_only_on_request(db: TestDb) {
    let kiribi = db.connect().await;
    let flaky = Flaky::enqueue(&kiribi, Flaky).await.unwrap();
    let later = Notify::enqueue_with(
        &kiribi,
        Notify { user_id: 3 },
        EnqueueOptions::new().delay(Duration::from_secs(3600)),
    )
    .await
    .unwrap();

    let first = testing::drain(&kiribi).await.unwrap();
    let runs: Vec<_> = first
        .runs
        .iter()
        .map(|r| (r.id, r.name.as_str(), r.attempt, r.error.as_deref()))
        .collect();
    assert_eq!(runs, [(flaky, "helpers.flaky", 1, Some("try 1 fails"))]);
    assert_eq!(
        kiribi.job(later).await.unwrap().unwrap().status,
        JobStatus::Pending
    );

    let rest = testing::drain_with(&kiribi, Drain::new().delayed(true))
        .await
        .unwrap();
    let mut runs: Vec<_> = rest
        .runs
        .iter()
        .map(|r| (r.id, r.name.as_str(), r.attempt, r.error.as_deref()))
        .collect();
    runs.sort_unstable();
    assert_eq!(
        runs,
        [
            (flaky, "helpers.flaky", 2, Some("try 2 fails")),
            (flaky, "helpers.flaky", 3, None),
            (later, "helpers.notify", 1, None),
        ]
    );
    let record = kiribi.job(flaky).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(kiribi.attempts(flaky).await.unwrap().len(), 3);
}

async fn assert_enqueued_lists_what_was_enqueued_instead(db: TestDb) {
    let kiribi = db.connect().await;
    Notify::enqueue(&kiribi, Notify { user_id: 1 })
        .await
        .unwrap();
    let kiribi_ = kiribi.clone();
    let message = panic_of(async move {
        testing::assert_enqueued::<Notify>(&kiribi_, |n| n.user_id == 2).await;
    })
    .await;
    assert!(
        message.contains("expected a job `helpers.notify` matching the predicate")
            && message.contains("helpers.notify Pending {\"user_id\":1}"),
        "{message}"
    );
    testing::assert_enqueued::<Notify>(&kiribi, |n| n.user_id == 1).await;
}

async fn a_runaway_drain_stops_with_a_message(db: TestDb) {
    let kiribi = db.connect().await;
    Again::enqueue(&kiribi, Again).await.unwrap();
    let kiribi_ = kiribi.clone();
    let message = panic_of(async move {
        let _ = testing::drain_with(&kiribi_, Drain::new().max_runs(5)).await;
    })
    .await;
    assert!(
        message.contains("ran 5 attempts and jobs are still ready")
            && message.contains("`helpers.again`"),
        "{message}"
    );
}

/// The message `task` panics with; fails the test if it does not panic.
async fn panic_of(task: impl Future<Output = ()> + Send + 'static) -> String {
    let panic = tokio::spawn(task)
        .await
        .expect_err("the task panics")
        .into_panic();
    *panic.downcast::<String>().expect("a formatted message")
}

backend_tests!(
    drain_runs_follow_ups_and_flow_steps,
    delayed_jobs_and_backoffs_run_only_on_request,
    assert_enqueued_lists_what_was_enqueued_instead,
    a_runaway_drain_stops_with_a_message,
);

/// Two `testing::kiribi()` handles are two databases, each gone with its handle.
#[tokio::test]
async fn each_test_database_is_fresh() {
    let a = testing::kiribi().await.unwrap();
    let b = testing::kiribi().await.unwrap();
    Notify::enqueue(&a, Notify { user_id: 1 }).await.unwrap();
    assert_eq!(testing::drain(&b).await.unwrap().runs.len(), 0);
    assert_eq!(testing::drain(&a).await.unwrap().runs.len(), 1);

    let file = a
        .sqlite_pool()
        .expect("a SQLite database")
        .connect_options()
        .get_filename()
        .to_owned();
    assert!(file.exists(), "{}", file.display());
    drop(a);
    assert!(!file.exists(), "{} outlived its handle", file.display());
}
