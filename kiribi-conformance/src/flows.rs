//! Conformance checks of flows: steps stored whole, blocked until their
//! dependencies succeed, cancelled with them, brought back by a retry, read back
//! and listed with a derived status.

use kiribi_core::backend::{ClaimedJob, JobLimits, Lease, NewFlow, NewFlowStep, Outcome};
use kiribi_core::{
    Error, FlowFilter, FlowId, FlowRecord, FlowStatus, JobFilter, JobId, JobStatus, Storage,
};

use super::{LONG_LEASE, SHORT_LEASE, claim, claim_one, complete, get, job, request};
use crate::claim::join_all;
use crate::wait;

fn step(name: &str, job_name: &str, after: &[&str]) -> NewFlowStep {
    NewFlowStep::new(name, job(job_name, 0)).with_depends_on(after.iter().copied())
}

/// fetch → (welcome, crm) → report, each step its own job name.
fn onboarding() -> NewFlow {
    NewFlow::new("onboard user 7")
        .with_step(step("fetch", "fetch", &[]))
        .with_step(step("welcome", "welcome", &["fetch"]))
        .with_step(step("crm", "crm", &["fetch"]))
        .with_step(step("report", "report", &["welcome", "crm"]))
}

async fn enqueue_flow(storage: &dyn Storage, flow: &NewFlow) -> FlowId {
    storage.enqueue_flow(flow).await.expect("enqueue_flow")
}

async fn read_flow(storage: &dyn Storage, id: FlowId) -> FlowRecord {
    storage
        .flow(id)
        .await
        .expect("flow")
        .expect("the flow exists")
}

async fn step_status(storage: &dyn Storage, id: FlowId, name: &str) -> JobStatus {
    read_flow(storage, id)
        .await
        .step(name)
        .unwrap_or_else(|| panic!("the flow has a step `{name}`"))
        .job
        .status
}

fn step_id(flow: &FlowRecord, name: &str) -> JobId {
    flow.step(name)
        .unwrap_or_else(|| panic!("the flow has a step `{name}`"))
        .job
        .id
}

async fn succeed(storage: &dyn Storage, claimed: ClaimedJob, result: serde_json::Value) {
    let outcome = Outcome::succeeded(Some(result));
    assert!(
        complete(storage, claimed.lease, outcome)
            .await
            .expect("complete")
    );
}

/// A flow's steps are stored in one go, dependencies first: a step without
/// dependencies is `Pending`, the others `Blocked`, and no claim takes a blocked
/// one. The record names every step, its job and its dependencies.
pub async fn a_flow_is_stored_whole_with_its_dependents_blocked(storage: &dyn Storage) {
    let id = enqueue_flow(storage, &onboarding()).await;
    let flow = read_flow(storage, id).await;
    assert_eq!(flow.id, id);
    assert_eq!(flow.name, "onboard user 7");
    assert_eq!(flow.status, FlowStatus::Running);
    let names: Vec<&str> = flow.steps.iter().map(|step| step.name.as_str()).collect();
    assert_eq!(names, ["fetch", "welcome", "crm", "report"]);
    let ids: Vec<JobId> = flow.steps.iter().map(|step| step.job.id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(flow.step("report").unwrap().depends_on, ["welcome", "crm"]);
    assert!(flow.step("fetch").unwrap().depends_on.is_empty());
    for step in &flow.steps {
        assert_eq!(step.job.flow, Some(id));
        assert_eq!(step.job.flow_step.as_deref(), Some(step.name.as_str()));
        let expected = if step.name == "fetch" {
            JobStatus::Pending
        } else {
            JobStatus::Blocked
        };
        assert_eq!(step.job.status, expected, "step `{}`", step.name);
    }
    let every = ["fetch", "welcome", "crm", "report"];
    let claimed = claim(storage, &request("w", &every, 10, LONG_LEASE)).await;
    assert_eq!(
        claimed.len(),
        1,
        "only the step without dependencies is ready"
    );
    assert_eq!(claimed[0].id(), step_id(&flow, "fetch"));
    let blocked = storage
        .list(&JobFilter::new().status(JobStatus::Blocked))
        .await
        .expect("list");
    assert_eq!(blocked.len(), 3, "a status filter finds blocked jobs");
    assert!(
        storage
            .flow(FlowId::from_i64(id.as_i64() + 100))
            .await
            .expect("flow")
            .is_none()
    );
}

/// A step becomes `Pending` once every one of its dependencies succeeded, not
/// before; its dependencies' results are then readable, and the flow succeeds when
/// every step has.
pub async fn a_step_is_ready_once_all_its_dependencies_succeed(storage: &dyn Storage) {
    let id = enqueue_flow(storage, &onboarding()).await;
    let fetch = claim_one(storage, "fetch", LONG_LEASE).await;
    succeed(storage, fetch, serde_json::json!({ "email": "a@b.c" })).await;
    assert_eq!(
        step_status(storage, id, "welcome").await,
        JobStatus::Pending
    );
    assert_eq!(step_status(storage, id, "crm").await, JobStatus::Pending);
    assert_eq!(step_status(storage, id, "report").await, JobStatus::Blocked);

    let welcome = claim_one(storage, "welcome", LONG_LEASE).await;
    let crm = claim_one(storage, "crm", LONG_LEASE).await;
    succeed(storage, welcome, serde_json::json!("sent")).await;
    assert_eq!(
        step_status(storage, id, "report").await,
        JobStatus::Blocked,
        "one dependency of two succeeded"
    );
    succeed(storage, crm, serde_json::json!(42)).await;
    assert_eq!(step_status(storage, id, "report").await, JobStatus::Pending);

    let flow = read_flow(storage, id).await;
    let dependencies = storage
        .dependencies(step_id(&flow, "report"))
        .await
        .expect("dependencies");
    let found: Vec<(Option<&str>, Option<&serde_json::Value>)> = dependencies
        .iter()
        .map(|job| (job.flow_step.as_deref(), job.result.as_ref()))
        .collect();
    assert_eq!(
        found,
        [
            (Some("welcome"), Some(&serde_json::json!("sent"))),
            (Some("crm"), Some(&serde_json::json!(42)))
        ]
    );
    assert!(
        storage
            .dependencies(step_id(&flow, "fetch"))
            .await
            .expect("dependencies")
            .is_empty()
    );
    let report = claim_one(storage, "report", LONG_LEASE).await;
    succeed(storage, report, serde_json::json!(null)).await;
    assert_eq!(read_flow(storage, id).await.status, FlowStatus::Succeeded);
}

/// One batch of successes of one worker, mixing plain jobs, flow steps and a lease
/// that no longer holds, records every held success with its result, readies the
/// steps that waited for the steps in it, and reports the stale lease as not held
/// (a backend may record plain jobs and flow steps in different ways).
pub async fn a_batch_of_plain_and_step_successes_readies_the_dependents(storage: &dyn Storage) {
    let id = enqueue_flow(storage, &onboarding()).await;
    let plain = super::enqueue(storage, vec![job("plain", 1), job("plain", 2)]).await;
    let mut claimed = claim(storage, &request("w", &["fetch", "plain"], 3, LONG_LEASE)).await;
    assert_eq!(
        claimed.len(),
        3,
        "the flow's first step and both plain jobs"
    );
    claimed.sort_by_key(ClaimedJob::id);
    let stale = claimed.pop().expect("the second plain job");
    assert_eq!(stale.id(), plain[1]);
    let mut batch: Vec<(Lease, Outcome)> = claimed
        .into_iter()
        .map(|job| {
            let result = serde_json::json!(job.name);
            (job.lease, Outcome::succeeded(Some(result)))
        })
        .collect();
    let wrong_attempt = Lease::new(stale.id(), stale.attempt() + 1, stale.lease.owner.clone());
    batch.insert(1, (wrong_attempt, Outcome::succeeded(None)));
    let held = storage.complete_many(&batch).await.expect("complete_many");
    assert_eq!(held, [true, false, true], "in input order");

    let flow = read_flow(storage, id).await;
    let fetch = flow.step("fetch").expect("a step `fetch`");
    assert_eq!(fetch.job.status, JobStatus::Succeeded);
    assert_eq!(fetch.job.result, Some(serde_json::json!("fetch")));
    assert_eq!(
        step_status(storage, id, "welcome").await,
        JobStatus::Pending
    );
    assert_eq!(step_status(storage, id, "crm").await, JobStatus::Pending);
    let first = get(storage, plain[0]).await;
    assert_eq!(first.status, JobStatus::Succeeded);
    assert_eq!(first.result, Some(serde_json::json!("plain")));
    assert_eq!(get(storage, plain[1]).await.status, JobStatus::Running);
    assert!(
        complete(storage, stale.lease, Outcome::succeeded(None))
            .await
            .expect("complete"),
        "the right lease still holds"
    );
}

/// A step that fails cancels every step that waits for it, transitively, naming
/// it; retrying it brings them back to `Blocked`, and the flow can still finish.
pub async fn a_failure_cancels_dependents_and_a_retry_brings_them_back(storage: &dyn Storage) {
    let id = enqueue_flow(storage, &onboarding()).await;
    let fetch = claim_one(storage, "fetch", LONG_LEASE).await;
    let failed = Outcome::failed("no such user");
    assert!(
        complete(storage, fetch.lease, failed)
            .await
            .expect("complete")
    );
    let flow = read_flow(storage, id).await;
    assert_eq!(flow.status, FlowStatus::Failed);
    for name in ["welcome", "crm", "report"] {
        let job = &flow.step(name).unwrap().job;
        assert_eq!(job.status, JobStatus::Cancelled, "step `{name}`");
        assert_eq!(
            job.last_error.as_deref(),
            Some("dependency `fetch` failed"),
            "step `{name}`"
        );
        assert!(job.finished_at.is_some());
    }

    assert!(storage.retry(step_id(&flow, "fetch")).await.expect("retry"));
    let flow = read_flow(storage, id).await;
    assert_eq!(flow.status, FlowStatus::Running);
    for name in ["welcome", "crm", "report"] {
        let job = &flow.step(name).unwrap().job;
        assert_eq!(job.status, JobStatus::Blocked, "step `{name}`");
        assert_eq!(job.last_error, None);
        assert_eq!(job.finished_at, None);
    }
    run_to_the_end(storage, &["fetch", "welcome", "crm", "report"]).await;
    assert_eq!(read_flow(storage, id).await.status, FlowStatus::Succeeded);
}

/// Claims and succeeds every ready job of `names` until none is left.
async fn run_to_the_end(storage: &dyn Storage, names: &[&str]) {
    loop {
        let claimed = claim(storage, &request("w", names, 100, LONG_LEASE)).await;
        if claimed.is_empty() {
            return;
        }
        let done: Vec<_> = claimed
            .into_iter()
            .map(|job| (job.lease, Outcome::succeeded(None)))
            .collect();
        let held = storage.complete_many(&done).await.expect("complete_many");
        assert!(held.iter().all(|&held| held));
    }
}

/// The reaper's outcomes move a flow as completions do: a step whose lease
/// expired and that the decision fails cancels its dependents.
pub async fn a_reaped_step_that_fails_cancels_its_dependents(storage: &dyn Storage) {
    let flow = NewFlow::new("reaped")
        .with_step(step("a", "reaped_a", &[]))
        .with_step(step("b", "reaped_b", &["a"]));
    let id = enqueue_flow(storage, &flow).await;
    claim_one(storage, "reaped_a", SHORT_LEASE).await;
    wait::until("the lease to be reaped", crate::PATIENCE, || async {
        let reaped = storage
            .reap_expired(&|_| Outcome::failed("lost"))
            .await
            .expect("reap_expired");
        (reaped == 1).then_some(())
    })
    .await;
    let flow = read_flow(storage, id).await;
    assert_eq!(flow.step("a").unwrap().job.status, JobStatus::Failed);
    let b = &flow.step("b").unwrap().job;
    assert_eq!(b.status, JobStatus::Cancelled);
    assert_eq!(b.last_error.as_deref(), Some("dependency `a` failed"));
}

/// `cancel` of a waiting step (blocked ones too) cancels the steps that wait for
/// it, naming it; deleting an unfinished step cancels them too.
pub async fn cancel_and_delete_of_a_step_cancel_its_dependents(storage: &dyn Storage) {
    let id = enqueue_flow(storage, &onboarding()).await;
    let flow = read_flow(storage, id).await;
    assert!(
        storage
            .cancel(step_id(&flow, "welcome"))
            .await
            .expect("cancel"),
        "a blocked step"
    );
    let report = get(storage, step_id(&flow, "report")).await;
    assert_eq!(report.status, JobStatus::Cancelled);
    assert_eq!(
        report.last_error.as_deref(),
        Some("dependency `welcome` was cancelled")
    );
    assert_eq!(step_status(storage, id, "crm").await, JobStatus::Blocked);

    assert!(
        storage
            .delete(step_id(&flow, "fetch"))
            .await
            .expect("delete")
    );
    let crm = get(storage, step_id(&flow, "crm")).await;
    assert_eq!(crm.status, JobStatus::Cancelled);
    assert_eq!(
        crm.last_error.as_deref(),
        Some("dependency `fetch` was deleted")
    );
    assert_eq!(read_flow(storage, id).await.steps.len(), 3);
}

/// `cancel_flow` cancels every unfinished step and asks running ones to stop; the
/// flow ends `Cancelled` once they did.
pub async fn cancel_flow_cancels_every_unfinished_step(storage: &dyn Storage) {
    let flow = NewFlow::new("to cancel")
        .with_step(step("a", "cf_a", &[]))
        .with_step(step("b", "cf_b", &[]))
        .with_step(step("c", "cf_c", &["a"]))
        .with_step(step("d", "cf_d", &["b"]))
        .with_step(step("done", "cf_done", &[]));
    let id = enqueue_flow(storage, &flow).await;
    let done = claim_one(storage, "cf_done", LONG_LEASE).await;
    succeed(storage, done, serde_json::json!(1)).await;
    let a = claim_one(storage, "cf_a", LONG_LEASE).await;

    assert_eq!(storage.cancel_flow(id).await.expect("cancel_flow"), 4);
    let record = read_flow(storage, id).await;
    assert_eq!(record.step("a").unwrap().job.status, JobStatus::Running);
    for name in ["b", "c", "d"] {
        let job = &record.step(name).unwrap().job;
        assert_eq!(job.status, JobStatus::Cancelled, "step `{name}`");
        assert_eq!(
            job.last_error, None,
            "step `{name}` was cancelled with its flow"
        );
    }
    assert_eq!(
        record.step("done").unwrap().job.status,
        JobStatus::Succeeded
    );
    assert_eq!(record.status, FlowStatus::Running, "step `a` still runs");
    let asked = storage
        .cancel_requests(&a.lease.owner)
        .await
        .expect("cancel_requests");
    assert_eq!(asked, [a.id()]);

    let stopped = Outcome::cancelled("cancelled while running");
    assert!(complete(storage, a.lease, stopped).await.expect("complete"));
    assert_eq!(read_flow(storage, id).await.status, FlowStatus::Cancelled);
    assert_eq!(storage.cancel_flow(id).await.expect("cancel_flow"), 0);
    // A flow's cancel is final for the steps it cancelled: retrying one step
    // brings back no other.
    assert!(storage.retry(step_id(&record, "b")).await.expect("retry"));
    assert_eq!(step_status(storage, id, "b").await, JobStatus::Pending);
    assert_eq!(step_status(storage, id, "d").await, JobStatus::Cancelled);
    assert_eq!(
        storage
            .cancel_flow(FlowId::from_i64(id.as_i64() + 100))
            .await
            .expect("cancel_flow"),
        0
    );
}

/// One step with 1,000 dependents readies them all when it succeeds; one step with
/// 1,000 dependencies waits for the last of them, completed in batches.
pub async fn fan_out_and_fan_in_of_a_thousand_steps(storage: &dyn Storage) {
    const WIDE: usize = 1_000;
    let names: Vec<String> = (0..WIDE).map(|n| format!("leaf{n}")).collect();
    let mut out = NewFlow::new("fan out").with_step(step("root", "fan_root", &[]));
    for name in &names {
        out = out.with_step(step(name, "fan_leaf", &["root"]));
    }
    let out_id = enqueue_flow(storage, &out).await;
    let root = claim_one(storage, "fan_root", LONG_LEASE).await;
    succeed(storage, root, serde_json::json!(null)).await;
    let flow = read_flow(storage, out_id).await;
    assert_eq!(flow.steps.len(), WIDE + 1);
    assert!(
        flow.steps
            .iter()
            .all(|step| step.job.status != JobStatus::Blocked),
        "every leaf is ready"
    );

    let mut into = NewFlow::new("fan in");
    for name in &names {
        into = into.with_step(step(name, "fan_source", &[]));
    }
    let into =
        into.with_step(NewFlowStep::new("sink", job("fan_sink", 0)).with_depends_on(names.clone()));
    let in_id = enqueue_flow(storage, &into).await;
    let flow = read_flow(storage, in_id).await;
    assert_eq!(flow.step("sink").unwrap().depends_on.len(), WIDE);
    let mut left = WIDE;
    while left > 0 {
        let claimed = claim(storage, &request("w", &["fan_source"], 100, LONG_LEASE)).await;
        assert!(!claimed.is_empty(), "{left} sources are still ready");
        left -= claimed.len();
        assert_eq!(
            step_status(storage, in_id, "sink").await,
            JobStatus::Blocked
        );
        let done: Vec<_> = claimed
            .into_iter()
            .map(|job| (job.lease, Outcome::succeeded(None)))
            .collect();
        storage.complete_many(&done).await.expect("complete_many");
    }
    assert_eq!(
        step_status(storage, in_id, "sink").await,
        JobStatus::Pending
    );
    let sink = claim_one(storage, "fan_sink", LONG_LEASE).await;
    assert_eq!(sink.id(), step_id(&flow, "sink"));
}

/// A flow with a mistake in its graph is refused with what is wrong, and nothing
/// of it is stored.
pub async fn an_invalid_flow_is_refused_and_stores_nothing(storage: &dyn Storage) {
    let refused = [
        (
            NewFlow::new("twice")
                .with_step(step("a", "x", &[]))
                .with_step(step("a", "x", &[])),
            "two steps are named `a`",
        ),
        (
            NewFlow::new("unknown").with_step(step("a", "x", &["nope"])),
            "`nope`, which is not a step",
        ),
        (
            NewFlow::new("cycle")
                .with_step(step("a", "x", &["b"]))
                .with_step(step("b", "x", &["a"])),
            "form a cycle",
        ),
        (NewFlow::new("empty"), "no steps"),
    ];
    for (flow, says) in refused {
        match storage.enqueue_flow(&flow).await {
            Err(Error::InvalidFlow { reason, .. }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("flow `{}` was not refused: {other:?}", flow.name),
        }
    }
    assert!(
        storage
            .list(&JobFilter::new())
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        storage
            .flows(&FlowFilter::new())
            .await
            .expect("flows")
            .is_empty()
    );
}

/// Flows are listed newest first, by derived status, up to a limit, a page at a
/// time.
pub async fn flows_are_listed_newest_first_by_status(storage: &dyn Storage) {
    let one =
        |name: &str, job_name: &str| NewFlow::new(name).with_step(step("only", job_name, &[]));
    let succeeded = enqueue_flow(storage, &one("succeeds", "ok")).await;
    let failed = enqueue_flow(storage, &one("fails", "bad")).await;
    let running = enqueue_flow(storage, &one("waits", "later")).await;
    let ok = claim_one(storage, "ok", LONG_LEASE).await;
    succeed(storage, ok, serde_json::json!(1)).await;
    let bad = claim_one(storage, "bad", LONG_LEASE).await;
    assert!(
        complete(storage, bad.lease, Outcome::failed("no"))
            .await
            .expect("complete")
    );

    let all = storage.flows(&FlowFilter::new()).await.expect("flows");
    let ids: Vec<FlowId> = all.iter().map(|flow| flow.id).collect();
    assert_eq!(ids, [running, failed, succeeded]);
    let statuses: Vec<FlowStatus> = all.iter().map(|flow| flow.status).collect();
    assert_eq!(
        statuses,
        [
            FlowStatus::Running,
            FlowStatus::Failed,
            FlowStatus::Succeeded
        ]
    );
    assert!(all.iter().all(|flow| flow.steps.len() == 1));
    for (status, id) in [
        (FlowStatus::Failed, failed),
        (FlowStatus::Succeeded, succeeded),
        (FlowStatus::Running, running),
    ] {
        let found = storage
            .flows(&FlowFilter::new().status(status))
            .await
            .expect("flows");
        let found: Vec<FlowId> = found.iter().map(|flow| flow.id).collect();
        assert_eq!(found, [id], "{status}");
    }
    let none = FlowFilter::new().status(FlowStatus::Cancelled);
    assert!(storage.flows(&none).await.expect("flows").is_empty());
    let newest = storage
        .flows(&FlowFilter::new().limit(2))
        .await
        .expect("flows");
    assert_eq!(
        newest.iter().map(|flow| flow.id).collect::<Vec<_>>(),
        [running, failed]
    );
    let older = storage
        .flows(&FlowFilter::new().before(failed))
        .await
        .expect("flows");
    assert_eq!(
        older.iter().map(|flow| flow.id).collect::<Vec<_>>(),
        [succeeded]
    );
    let page = FlowFilter::new()
        .before(running)
        .status(FlowStatus::Running);
    assert!(storage.flows(&page).await.expect("flows").is_empty());
}

/// Dependencies that two handles complete at the same time (another process's
/// workers, say) ready their common dependent exactly once: neither completion
/// misses the other's.
pub async fn dependencies_completed_at_once_by_two_handles_ready_their_dependent(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const SOURCES: usize = 40;
    let names: Vec<String> = (0..SOURCES).map(|n| format!("s{n}")).collect();
    let mut flow = NewFlow::new("race");
    for name in &names {
        flow = flow.with_step(step(name, "race_source", &[]));
    }
    let flow = flow.with_step(NewFlowStep::new("sink", job("race_sink", 0)).with_depends_on(names));
    let id = enqueue_flow(first, &flow).await;
    let mut claimed = claim(first, &request("w", &["race_source"], SOURCES, LONG_LEASE)).await;
    assert_eq!(claimed.len(), SOURCES);
    let rest = claimed.split_off(SOURCES / 2);
    let halves = [(first, claimed), (second, rest)];
    let writes = halves.into_iter().map(|(storage, jobs)| async move {
        for job in jobs {
            let outcome = Outcome::succeeded(None);
            assert!(
                complete(storage, job.lease, outcome)
                    .await
                    .expect("complete")
            );
            tokio::task::yield_now().await;
        }
    });
    join_all(writes.collect()).await;
    assert_eq!(step_status(first, id, "sink").await, JobStatus::Pending);
    assert_eq!(step_status(second, id, "sink").await, JobStatus::Pending);
}

/// Batches of completions from two handles whose steps share dependents in
/// crossing orders ready every dependent once all its dependencies succeeded. A
/// backend may fail a batch that deadlocked against the other: the failed batch
/// stored nothing (its leases still hold) and succeeds when written again, as a
/// worker writes it again.
pub async fn crossing_batches_from_two_handles_ready_every_dependent(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const ROUNDS: usize = 5;
    const PER_HANDLE: usize = 8;
    for round in 0..ROUNDS {
        // Sources s0..s15; sink A waits for the even ones, B for the odd ones, so
        // each batch, written in id order, unblocks A and B alternately.
        let names: Vec<String> = (0..2 * PER_HANDLE).map(|n| format!("s{n}")).collect();
        let mut flow = NewFlow::new(format!("crossing {round}"));
        for name in &names {
            flow = flow.with_step(step(name, "cross_source", &[]));
        }
        let evens: Vec<String> = names.iter().step_by(2).cloned().collect();
        let odds: Vec<String> = names.iter().skip(1).step_by(2).cloned().collect();
        let flow = flow
            .with_step(NewFlowStep::new("a", job("cross_sink", 0)).with_depends_on(evens))
            .with_step(NewFlowStep::new("b", job("cross_sink", 1)).with_depends_on(odds));
        let id = enqueue_flow(first, &flow).await;
        let mut claimed = claim(
            first,
            &request("w", &["cross_source"], 2 * PER_HANDLE, LONG_LEASE),
        )
        .await;
        assert_eq!(claimed.len(), 2 * PER_HANDLE);
        // Each batch holds sources of both sinks, the first one's beginning with a
        // source of `a` (s0), the second one's with a source of `b` (s3).
        let mut halves = (Vec::new(), Vec::new());
        for (at, job) in claimed.drain(..).enumerate() {
            if at % 4 < 2 || at == 2 {
                halves.0.push(job);
            } else {
                halves.1.push(job);
            }
        }
        let writes = [(first, halves.0), (second, halves.1)].map(|(storage, jobs)| async move {
            let batch: Vec<_> = jobs
                .into_iter()
                .map(|job| (job.lease, Outcome::succeeded(None)))
                .collect();
            let mut tries = 0;
            loop {
                tries += 1;
                match storage.complete_many(&batch).await {
                    Ok(held) => {
                        assert!(held.iter().all(|&held| held), "every lease held");
                        return;
                    }
                    // What a worker's recorder does with a failed write.
                    Err(_) if tries < 10 => tokio::task::yield_now().await,
                    Err(error) => panic!("a batch failed {tries} times: {error}"),
                }
            }
        });
        join_all(writes.into_iter().collect()).await;
        assert_eq!(
            step_status(first, id, "a").await,
            JobStatus::Pending,
            "round {round}"
        );
        assert_eq!(
            step_status(first, id, "b").await,
            JobStatus::Pending,
            "round {round}"
        );
    }
}

/// Steps with limits are claimed by the limited claim: one that waits for nothing
/// at once, one that waits for a step once that step succeeded, each within its
/// group's limit.
pub async fn limited_steps_are_claimed_within_their_limits(storage: &dyn Storage) {
    let limited = |name: &str, n| {
        NewFlowStep::new(
            name,
            job("limited_step", n).with_limits(JobLimits::new("k").with_concurrency(1)),
        )
    };
    let flow = NewFlow::new("limited")
        .with_step(limited("first", 0))
        .with_step(limited("second", 1).with_depends_on(["first"]));
    let id = enqueue_flow(storage, &flow).await;
    let limited_request =
        || request("w", &["limited_step"], 10, LONG_LEASE).with_limited_names(["limited_step"]);
    let first = claim(storage, &limited_request()).await;
    assert_eq!(first.len(), 1, "the first step, ready at once");
    assert!(claim(storage, &limited_request()).await.is_empty());
    succeed(
        storage,
        first.into_iter().next().unwrap(),
        serde_json::json!(1),
    )
    .await;
    assert_eq!(step_status(storage, id, "second").await, JobStatus::Pending);
    let second = claim(storage, &limited_request()).await;
    assert_eq!(
        second.iter().map(|job| job.id()).collect::<Vec<_>>(),
        [step_id(&read_flow(storage, id).await, "second")],
        "unblocked, it is ready for the limited claim"
    );
}
