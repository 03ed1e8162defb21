//! Flows through the public API, on each backend: steps run after their
//! dependencies and read their results, failures cancel and retries bring back,
//! transactions, cancel_flow, and graph mistakes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kiribi::{
    EnqueueOptions, Error, Flow, FlowFilter, FlowStatus, JobContext, JobError, JobStatus, Kiribi,
    State, chain_text, job,
};
use kiribi_tests::{Backend, TestDb, backend_tests, wait_for_flow};

const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct User {
    id: i64,
    email: String,
}

#[job]
async fn flow_fetch_user(id: i64) -> Result<User, String> {
    Ok(User {
        id,
        email: format!("user{id}@example.com"),
    })
}

#[job]
async fn flow_send_welcome(ctx: JobContext, user_id: i64) -> anyhow::Result<String> {
    let user: User = ctx.output_of("fetch").await?;
    anyhow::ensure!(user.id == user_id, "fetched the wrong user");
    Ok(format!("welcome sent to {}", user.email))
}

#[job]
async fn flow_sync_crm(ctx: JobContext, user_id: i64) -> anyhow::Result<u64> {
    let user: User = ctx.output_of("fetch").await?;
    Ok(u64::try_from(user.id + user_id).unwrap_or(0))
}

#[job]
async fn flow_report(ctx: JobContext) -> anyhow::Result<String> {
    let welcome: String = ctx.output_of("welcome").await?;
    let crm: u64 = ctx.output_of("crm").await?;
    Ok(format!("{welcome}; crm {crm}"))
}

/// The flow of DESIGN §10.
fn onboarding(user_id: i64) -> Flow {
    Flow::new(format!("onboard user {user_id}"))
        .step("fetch", FlowFetchUser { id: user_id })
        .step_after("welcome", FlowSendWelcome { user_id }, ["fetch"])
        .step_after("crm", FlowSyncCrm { user_id }, ["fetch"])
        .step_after("report", FlowReport, ["welcome", "crm"])
}

fn worker(kiribi: &Kiribi) -> kiribi::WorkerHandle {
    kiribi
        .worker()
        .concurrency(4)
        .poll_interval(Duration::from_millis(20))
        .start()
}

async fn steps_run_after_their_dependencies_and_read_their_results(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = worker(&kiribi);
    let id = onboarding(7).enqueue(&kiribi).await.unwrap();
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Succeeded, PATIENCE).await;
    worker.shutdown().await.unwrap();

    assert_eq!(flow.name, "onboard user 7");
    let report = &flow.step("report").unwrap().job;
    assert_eq!(
        report.result,
        Some(serde_json::json!(
            "welcome sent to user7@example.com; crm 14"
        ))
    );
    // No step started before every one of its dependencies finished (by the
    // database's clock, which stored both times).
    for step in &flow.steps {
        for dep in &step.depends_on {
            let dep = &flow.step(dep).unwrap().job;
            assert!(
                step.job.started_at.unwrap() >= dep.finished_at.unwrap(),
                "step `{}` started before its dependency `{}` finished",
                step.name,
                dep.flow_step.as_deref().unwrap_or("")
            );
        }
    }
    let listed = kiribi.flows(FlowFilter::new()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
}

async fn dependents_start_without_waiting_for_a_poll(db: TestDb) {
    let kiribi = db.connect().await;
    // An idle worker that never polls: the steps readied by the database must wake
    // it (PostgreSQL's notification, SQLite's commit watcher).
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_secs(3600))
        .start();
    let id = Flow::new("no polling")
        .step("fetch", FlowFetchUser { id: 9 })
        .step_after("welcome", FlowSendWelcome { user_id: 9 }, ["fetch"])
        .step_with(
            "crm",
            FlowSyncCrm { user_id: 9 },
            ["fetch"],
            EnqueueOptions::new().queue("crm").priority(3),
        )
        .step_after("report", FlowReport, ["welcome", "crm"])
        .enqueue(&kiribi)
        .await
        .unwrap();
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Succeeded, PATIENCE).await;
    worker.shutdown().await.unwrap();
    let crm = &flow.step("crm").unwrap().job;
    assert_eq!(
        (crm.queue.as_str(), crm.priority),
        ("crm", 3),
        "options apply to the step"
    );
}

#[job]
async fn flow_probe(ctx: JobContext, ask: String) -> Result<String, String> {
    // The error, as a step would see it, is the result to inspect.
    match ctx.output_of::<u64>(&ask).await {
        Ok(value) => Ok(format!("read {value}")),
        Err(error) => Ok(chain_text(&error)),
    }
}

async fn output_of_says_which_step_and_what_is_wrong(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = worker(&kiribi);
    let id = Flow::new("probes")
        .step("fetch", FlowFetchUser { id: 3 })
        .step_after(
            "wrong type",
            FlowProbe {
                ask: "fetch".into(),
            },
            ["fetch"],
        )
        .step_after(
            "not a dependency",
            FlowProbe {
                ask: "other".into(),
            },
            ["fetch"],
        )
        .step("other", FlowFetchUser { id: 4 })
        .enqueue(&kiribi)
        .await
        .unwrap();
    let alone = FlowProbe::enqueue(
        &kiribi,
        FlowProbe {
            ask: "fetch".into(),
        },
    )
    .await
    .unwrap();
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Succeeded, PATIENCE).await;
    let alone = kiribi_tests::wait_for_status(&kiribi, alone, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();

    let said = |name: &str| {
        flow.step(name)
            .unwrap()
            .job
            .result
            .clone()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let wrong_type = said("wrong type");
    assert!(
        wrong_type.contains("step `fetch`") && wrong_type.contains("u64"),
        "{wrong_type}"
    );
    assert!(
        wrong_type.contains("invalid type"),
        "the serde error: {wrong_type}"
    );
    let not_a_dependency = said("not a dependency");
    assert!(
        not_a_dependency.contains("step `other`")
            && not_a_dependency.contains("not a dependency")
            && not_a_dependency.contains("`fetch`"),
        "{not_a_dependency}"
    );
    let alone = alone.result.unwrap();
    let alone = alone.as_str().unwrap();
    assert!(alone.contains("depends on no flow step"), "{alone}");
}

#[derive(Clone)]
struct Broken(Arc<AtomicBool>);

#[job(max_attempts = 1)]
async fn flow_flaky_fetch(State(broken): State<Broken>, id: i64) -> Result<User, JobError> {
    if broken.0.load(Ordering::SeqCst) {
        return Err(JobError::permanent("the user service is down"));
    }
    Ok(User {
        id,
        email: format!("user{id}@example.com"),
    })
}

async fn a_failed_step_cancels_its_dependents_until_it_is_retried(db: TestDb) {
    let broken = Broken(Arc::new(AtomicBool::new(true)));
    let kiribi = db.connect_with_state(broken.clone()).await;
    let worker = worker(&kiribi);
    let id = Flow::new("flaky")
        .step("fetch", FlowFlakyFetch { id: 5 })
        .step_after("welcome", FlowSendWelcome { user_id: 5 }, ["fetch"])
        .step_after("crm", FlowSyncCrm { user_id: 5 }, ["fetch"])
        .step_after("report", FlowReport, ["welcome", "crm"])
        .enqueue(&kiribi)
        .await
        .unwrap();
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Failed, PATIENCE).await;
    for name in ["welcome", "crm", "report"] {
        let job = &flow.step(name).unwrap().job;
        assert_eq!(job.status, JobStatus::Cancelled, "{name}");
        assert_eq!(job.last_error.as_deref(), Some("dependency `fetch` failed"));
    }

    broken.0.store(false, Ordering::SeqCst);
    assert!(
        kiribi
            .retry(flow.step("fetch").unwrap().job.id)
            .await
            .unwrap()
    );
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Succeeded, PATIENCE).await;
    worker.shutdown().await.unwrap();
    assert_eq!(
        flow.step("report").unwrap().job.result,
        Some(serde_json::json!(
            "welcome sent to user5@example.com; crm 10"
        ))
    );
}

#[job]
async fn flow_wait_for_cancel(ctx: JobContext) -> Result<(), String> {
    tokio::select! {
        () = ctx.cancelled() => Ok(()),
        () = tokio::time::sleep(Duration::from_secs(60)) => Err("never cancelled".into()),
    }
}

async fn cancel_flow_stops_the_running_step_and_cancels_the_rest(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = worker(&kiribi);
    let id = Flow::new("to cancel")
        .step("long", FlowWaitForCancel)
        .step_after("after", FlowReport, ["long"])
        .enqueue(&kiribi)
        .await
        .unwrap();
    let flow = kiribi.flow(id).await.unwrap().unwrap();
    let long = flow.step("long").unwrap().job.id;
    kiribi_tests::wait_for_status(&kiribi, long, JobStatus::Running).await;
    assert_eq!(kiribi.cancel_flow(id).await.unwrap(), 2);
    let flow = wait_for_flow(&kiribi, id, FlowStatus::Cancelled, PATIENCE).await;
    worker.shutdown().await.unwrap();
    assert!(
        flow.steps
            .iter()
            .all(|step| step.job.status == JobStatus::Cancelled)
    );
}

#[job(unique)]
async fn flow_unique(n: i64) -> Result<(), String> {
    let _ = n;
    Ok(())
}

async fn a_flow_with_a_mistake_is_refused_before_anything_is_stored(db: TestDb) {
    let kiribi = db.connect().await;
    let refused = |result: kiribi::Result<kiribi::FlowId>| match result {
        Err(error @ Error::InvalidFlow { .. }) => error.to_string(),
        other => panic!("not refused: {other:?}"),
    };
    let twice = Flow::new("twice")
        .step("fetch", FlowFetchUser { id: 1 })
        .step("fetch", FlowFetchUser { id: 2 })
        .enqueue(&kiribi)
        .await;
    let text = refused(twice);
    assert!(
        text.contains("flow `twice`") && text.contains("two steps are named `fetch`"),
        "{text}"
    );
    let unknown = Flow::new("unknown")
        .step_after("welcome", FlowSendWelcome { user_id: 1 }, ["fetch"])
        .enqueue(&kiribi)
        .await;
    assert!(refused(unknown).contains("`fetch`, which is not a step"));
    let cycle = Flow::new("cycle")
        .step_after("a", FlowReport, ["c"])
        .step_after("b", FlowReport, ["a"])
        .step_after("c", FlowReport, ["b"])
        .enqueue(&kiribi)
        .await;
    assert!(refused(cycle).contains("`a` → `b` → `c` → `a`"));
    let unique = Flow::new("unique")
        .step("u", FlowUnique { n: 1 })
        .enqueue(&kiribi)
        .await;
    assert!(refused(unique).contains("unique"));
    assert!(
        kiribi
            .jobs(kiribi::JobFilter::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(kiribi.flows(FlowFilter::new()).await.unwrap().is_empty());
}

async fn a_flow_enqueued_in_a_transaction_exists_iff_it_commits(db: TestDb) {
    let kiribi = db.connect().await;
    // A rolled-back id may be drawn again: check each before the next transaction.
    let committed = match db.backend() {
        Backend::Sqlite => {
            let pool = kiribi.sqlite_pool().unwrap().clone();
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let rolled_back = onboarding(1).enqueue(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            assert!(kiribi.flow(rolled_back).await.unwrap().is_none());
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let committed = onboarding(2).enqueue(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            committed
        }
        Backend::Postgres => {
            let pool = kiribi.pg_pool().unwrap().clone();
            let mut tx = pool.begin().await.unwrap();
            let rolled_back = onboarding(1).enqueue(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            assert!(kiribi.flow(rolled_back).await.unwrap().is_none());
            let mut tx = pool.begin().await.unwrap();
            let committed = onboarding(2).enqueue(&mut *tx).await.unwrap();
            assert!(
                kiribi.flow(committed).await.unwrap().is_none(),
                "invisible before commit"
            );
            tx.commit().await.unwrap();
            committed
        }
    };
    let worker = worker(&kiribi);
    let flow = wait_for_flow(&kiribi, committed, FlowStatus::Succeeded, PATIENCE).await;
    worker.shutdown().await.unwrap();
    assert_eq!(flow.steps.len(), 4);
    assert_eq!(
        kiribi.jobs(kiribi::JobFilter::new()).await.unwrap().len(),
        4
    );
}

backend_tests!(
    steps_run_after_their_dependencies_and_read_their_results,
    dependents_start_without_waiting_for_a_poll,
    output_of_says_which_step_and_what_is_wrong,
    a_failed_step_cancels_its_dependents_until_it_is_retried,
    cancel_flow_stops_the_running_step_and_cancels_the_rest,
    a_flow_with_a_mistake_is_refused_before_anything_is_stored,
    a_flow_enqueued_in_a_transaction_exists_iff_it_commits,
);
