//! Conformance checks of a lease's life: complete, release, reap, renew and
//! `enqueue_running`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kiribi_core::backend::{ExpiredLease, Lease, Outcome, WorkerId, lease_expired_error};
use kiribi_core::{JobId, JobStatus, Storage};

use super::{
    HOUR, LONG_LEASE, PATIENCE, SHORT_LEASE, claim, claim_one, complete, enqueue, get, job, request,
};
use crate::wait;

/// The decision the checks reap with: retry at once while attempts remain, else
/// fail, with the lost-worker error. (kiribi's own policy interrupts instead; the
/// backend stores whatever it is told.)
pub fn retry_or_fail(expired: &ExpiredLease) -> Outcome {
    let error = lease_expired_error(expired.lease.owner.as_str());
    if expired.lease.attempt < expired.max_attempts {
        Outcome::retry(error, Duration::ZERO)
    } else {
        Outcome::failed(error)
    }
}

/// Waits until `reap_expired` has taken back `count` jobs in total, deciding with
/// `decide`.
async fn reap_with(storage: &dyn Storage, count: u64, decide: fn(&ExpiredLease) -> Outcome) {
    let reaped = AtomicU64::new(0);
    wait::until(
        &format!("{count} expired leases to be reaped"),
        PATIENCE,
        || async {
            let now = storage.reap_expired(&decide).await.expect("reap_expired");
            let total = reaped.fetch_add(now, Ordering::Relaxed) + now;
            assert!(total <= count, "reaped {total} jobs, expected {count}");
            (total == count).then_some(())
        },
    )
    .await;
}

pub(crate) async fn reap(storage: &dyn Storage, count: u64) {
    reap_with(storage, count, retry_or_fail).await;
}

/// A lease of attempt `attempt` of job `id`, held by `owner`.
fn lease(id: JobId, attempt: u32, owner: &str) -> Lease {
    Lease::new(id, attempt, WorkerId::new(owner))
}

// ----------------------------------------------------------------------------------
// Complete

/// `Succeeded` stores the result, finishes the job, clears the lease and closes the
/// attempt without error.
pub async fn complete_succeeded_stores_the_result(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("a", 1)]).await;
    let claimed = claim(storage, &request("w", &["a"], 2, LONG_LEASE)).await;
    let result = serde_json::json!({ "sent": true, "count": 3 });
    assert!(
        complete(
            storage,
            claimed[0].lease.clone(),
            Outcome::succeeded(Some(result.clone()))
        )
        .await
        .expect("complete")
    );
    assert!(
        complete(storage, claimed[1].lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );

    let record = get(storage, ids[0]).await;
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.result, Some(result));
    assert_eq!(record.attempts, 1);
    assert!(record.finished_at.is_some());
    assert_eq!((record.lease_owner, record.lease_expires_at), (None, None));
    assert_eq!(get(storage, ids[1]).await.result, None);

    let attempts = storage.attempts(ids[0]).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].finished_at, record.finished_at);
    assert_eq!(attempts[0].error, None);

    // A finished attempt cannot be completed twice.
    assert!(
        !complete(storage, claimed[0].lease.clone(), Outcome::failed("late"))
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Succeeded);
}

/// `complete_many` applies a batch of mixed outcomes at once and reports, in input
/// order, which leases held; the stale ones change nothing.
pub async fn complete_many_applies_a_batch_and_reports_each_lease(storage: &dyn Storage) {
    let ids = enqueue(storage, (0..5).map(|n| job("a", n)).collect::<Vec<_>>()).await;
    let claimed = claim(storage, &request("w", &["a"], 5, LONG_LEASE)).await;
    assert_eq!(claimed.len(), 5);
    // Job 4 finishes first on its own: its lease is stale in the batch below.
    assert!(
        complete(storage, claimed[4].lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    let stale_attempt = lease(claimed[3].id(), claimed[3].attempt() + 1, "w");
    let unknown = lease(JobId::from_i64(i64::MAX), 1, "w");
    let batch = vec![
        (claimed[2].lease.clone(), Outcome::failed("broken")),
        (
            claimed[0].lease.clone(),
            Outcome::succeeded(Some(serde_json::json!("zero"))),
        ),
        (unknown, Outcome::succeeded(None)),
        (claimed[4].lease.clone(), Outcome::failed("late")),
        (claimed[1].lease.clone(), Outcome::retry("flaky", HOUR)),
        (stale_attempt, Outcome::succeeded(None)),
    ];
    let applied = storage.complete_many(&batch).await.expect("complete_many");
    assert_eq!(applied, [true, true, false, false, true, false]);
    assert!(
        storage
            .complete_many(&[])
            .await
            .expect("an empty batch")
            .is_empty()
    );

    let zero = get(storage, ids[0]).await;
    assert_eq!(zero.status, JobStatus::Succeeded);
    assert_eq!(zero.result, Some(serde_json::json!("zero")));
    let one = get(storage, ids[1]).await;
    assert_eq!(one.status, JobStatus::Retrying);
    assert_eq!(one.last_error.as_deref(), Some("flaky"));
    assert!(one.run_at > one.started_at.expect("started"));
    let two = get(storage, ids[2]).await;
    assert_eq!(two.status, JobStatus::Failed);
    assert_eq!(two.last_error.as_deref(), Some("broken"));
    assert_eq!(get(storage, ids[3]).await.status, JobStatus::Running);
    let four = get(storage, ids[4]).await;
    assert_eq!((four.status, four.last_error), (JobStatus::Succeeded, None));

    // Each applied completion closed its own attempt, with its own error.
    for (index, error) in [(0, None), (1, Some("flaky")), (2, Some("broken"))] {
        let attempts = storage.attempts(ids[index]).await.expect("attempts");
        assert_eq!(attempts.len(), 1);
        assert!(
            attempts[0].finished_at.is_some(),
            "job {index}'s attempt is closed"
        );
        assert_eq!(attempts[0].error.as_deref(), error);
    }
    let open = storage.attempts(ids[3]).await.expect("attempts");
    assert_eq!(
        open[0].finished_at, None,
        "the stale lease left job 3's attempt open"
    );
}

/// A batch made only of successes (a busy worker's usual batch, which a backend may
/// write with a leaner statement) is fenced like any other: by attempt, by owner,
/// and against jobs that finished meanwhile or do not exist.
pub async fn a_batch_of_successes_is_fenced_like_any_batch(storage: &dyn Storage) {
    let ids = enqueue(storage, (0..5).map(|n| job("a", n)).collect::<Vec<_>>()).await;
    let claimed = claim(storage, &request("w", &["a"], 5, LONG_LEASE)).await;
    assert_eq!(claimed.len(), 5);
    let done_alone = Outcome::succeeded(None);
    assert!(
        complete(storage, claimed[3].lease.clone(), done_alone)
            .await
            .expect("complete")
    );
    let batch = vec![
        (
            claimed[0].lease.clone(),
            Outcome::succeeded(Some(serde_json::json!({"n": 0}))),
        ),
        (
            lease(claimed[1].id(), claimed[1].attempt() + 1, "w"),
            Outcome::succeeded(None),
        ),
        (
            lease(JobId::from_i64(i64::MAX), 1, "w"),
            Outcome::succeeded(None),
        ),
        (claimed[3].lease.clone(), Outcome::succeeded(None)),
        (claimed[2].lease.clone(), Outcome::succeeded(None)),
    ];
    let applied = storage.complete_many(&batch).await.expect("complete_many");
    assert_eq!(applied, [true, false, false, false, true]);
    let zero = get(storage, ids[0]).await;
    assert_eq!(
        (zero.status, zero.result),
        (JobStatus::Succeeded, Some(serde_json::json!({"n": 0})))
    );
    assert!(zero.finished_at.is_some() && zero.lease_owner.is_none());
    let two = get(storage, ids[2]).await;
    assert_eq!((two.status, two.result), (JobStatus::Succeeded, None));
    let one = get(storage, ids[1]).await;
    assert_eq!(
        one.status,
        JobStatus::Running,
        "a stale attempt changed job 1"
    );

    // Successes of a right attempt under another owner change nothing, alone or
    // beside a lease that holds.
    let impostor = lease(claimed[1].id(), claimed[1].attempt(), "worker-b");
    let alone = [(impostor.clone(), Outcome::succeeded(None))];
    assert_eq!(
        storage.complete_many(&alone).await.expect("complete_many"),
        [false]
    );
    assert_eq!(
        get(storage, ids[1]).await,
        one,
        "another owner changed job 1"
    );
    let mixed = [
        (impostor, Outcome::succeeded(None)),
        (claimed[4].lease.clone(), Outcome::succeeded(None)),
    ];
    assert_eq!(
        storage.complete_many(&mixed).await.expect("complete_many"),
        [false, true]
    );
    assert_eq!(
        get(storage, ids[1]).await,
        one,
        "another owner changed job 1"
    );
    assert_eq!(get(storage, ids[4]).await.status, JobStatus::Succeeded);
    let mine = [(claimed[1].lease.clone(), Outcome::succeeded(None))];
    assert_eq!(
        storage.complete_many(&mine).await.expect("complete_many"),
        [true]
    );
    for id in ids {
        let attempts = storage.attempts(id).await.expect("attempts");
        assert_eq!(attempts.len(), 1);
        assert!(attempts[0].finished_at.is_some() && attempts[0].error.is_none());
    }
}

/// `Retry` makes the job wait `delay` as `Retrying`, then it is claimed again as the
/// next attempt; every attempt keeps its error.
pub async fn complete_retry_schedules_the_next_attempt(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    let first = claim_one(storage, "a", LONG_LEASE).await;
    let retry = Outcome::retry("smtp timeout", HOUR);
    assert!(
        complete(storage, first.lease.clone(), retry)
            .await
            .expect("complete")
    );

    let record = get(storage, id).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Retrying, 1));
    assert_eq!(record.last_error.as_deref(), Some("smtp timeout"));
    assert_eq!(
        (
            record.lease_owner,
            record.lease_expires_at,
            record.finished_at
        ),
        (None, None, None)
    );
    let started = record.started_at.expect("started_at");
    assert!(
        (record.run_at - started).num_seconds() >= 3599,
        "waits an hour"
    );
    assert!(
        claim(storage, &request("w", &["a"], 1, LONG_LEASE))
            .await
            .is_empty()
    );

    // Make it ready sooner: a retry with a short delay on a fresh job.
    let id = enqueue(storage, vec![job("b", 0)]).await[0];
    let first = claim_one(storage, "b", LONG_LEASE).await;
    let retry = Outcome::retry("first failure", Duration::from_millis(100));
    assert!(
        complete(storage, first.lease.clone(), retry)
            .await
            .expect("complete")
    );
    let second = wait::until("the retry to become ready", PATIENCE, || async {
        claim(storage, &request("worker-b", &["b"], 1, LONG_LEASE))
            .await
            .pop()
    })
    .await;
    assert_eq!((second.id(), second.attempt()), (id, 2));
    assert!(
        complete(
            storage,
            second.lease.clone(),
            Outcome::failed("second failure")
        )
        .await
        .expect("complete")
    );

    let attempts = storage.attempts(id).await.expect("attempts");
    let summary: Vec<(u32, Option<&str>, Option<&str>)> = attempts
        .iter()
        .map(|a| (a.attempt, a.worker.as_deref(), a.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Some("worker-a"), Some("first failure")),
            (2, Some("worker-b"), Some("second failure")),
        ]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.finished_at.is_some_and(|end| end >= a.started_at))
    );
}

/// `Failed` finishes the job with its error.
pub async fn complete_failed_finishes_the_job(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    let claimed = claim_one(storage, "a", LONG_LEASE).await;
    let failed = Outcome::failed("user 7 does not exist");
    assert!(
        complete(storage, claimed.lease.clone(), failed)
            .await
            .expect("complete")
    );
    let record = get(storage, id).await;
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.last_error.as_deref(), Some("user 7 does not exist"));
    assert!(record.finished_at.is_some());
    assert_eq!(record.lease_owner, None);
    let attempts = storage.attempts(id).await.expect("attempts");
    assert_eq!(attempts[0].error.as_deref(), Some("user 7 does not exist"));
    assert!(
        claim(storage, &request("w", &["a"], 1, LONG_LEASE))
            .await
            .is_empty()
    );
}

/// A write with a lost lease changes nothing and reports `false`.
pub async fn stale_leases_cannot_complete_or_release(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    let lost = claim_one(storage, "a", SHORT_LEASE).await;
    reap(storage, 1).await;
    let reaped = get(storage, id).await;
    assert_eq!(reaped.status, JobStatus::Retrying);

    let ok = Outcome::succeeded(Some(serde_json::json!("stale")));
    assert!(
        !complete(storage, lost.lease.clone(), ok.clone())
            .await
            .expect("complete")
    );
    assert_eq!(
        storage
            .release(std::slice::from_ref(&lost.lease))
            .await
            .expect("release"),
        0
    );
    assert_eq!(
        get(storage, id).await,
        reaped,
        "a stale write changed the job"
    );

    // Re-claimed by another worker: the old lease still cannot touch the new attempt.
    let current = claim(storage, &request("worker-b", &["a"], 1, LONG_LEASE)).await;
    assert_eq!((current[0].id(), current[0].attempt()), (id, 2));
    let running = get(storage, id).await;
    assert!(
        !complete(storage, lost.lease.clone(), ok)
            .await
            .expect("complete")
    );
    assert_eq!(
        storage
            .release(std::slice::from_ref(&lost.lease))
            .await
            .expect("release"),
        0
    );
    assert_eq!(get(storage, id).await, running);
    assert_eq!(storage.attempts(id).await.expect("attempts").len(), 2);

    // Writes for jobs that do not exist are not errors either.
    let unknown = lease(JobId::from_i64(id.as_i64() + 1_000), 1, "worker-a");
    let failed = Outcome::failed("x");
    assert!(
        !complete(storage, unknown.clone(), failed)
            .await
            .expect("complete")
    );
    assert_eq!(storage.release(&[unknown]).await.expect("release"), 0);
}

/// The owner is part of the fence: a lease of the right attempt held by another
/// owner (an attempt number handed out twice, as a lost claim would) changes
/// nothing, neither by completing nor by releasing.
pub async fn a_lease_of_another_owner_cannot_complete_or_release(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    let mine = claim_one(storage, "a", LONG_LEASE).await;
    let running = get(storage, id).await;
    let impostor = lease(id, mine.attempt(), "worker-b");
    assert!(
        !complete(storage, impostor.clone(), Outcome::failed("not mine"))
            .await
            .expect("complete")
    );
    assert_eq!(storage.release(&[impostor]).await.expect("release"), 0);
    assert_eq!(
        get(storage, id).await,
        running,
        "another owner changed the job"
    );
    assert!(
        complete(storage, mine.lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, id).await.status, JobStatus::Succeeded);
}

// ----------------------------------------------------------------------------------
// Leases

/// Reaping hands each expired lease to the decision and stores what it says: here a
/// retry while attempts remain and a failure at the last one; the attempt is closed
/// with the decision's error.
pub async fn reap_expired_stores_what_the_decision_says(storage: &dyn Storage) {
    let mut last_chance = job("once", 0);
    last_chance.max_attempts = 1;
    let ids = enqueue(storage, vec![job("twice", 0), last_chance]).await;
    let both = request("lost-worker", &["twice", "once"], 2, SHORT_LEASE);
    assert_eq!(claim(storage, &both).await.len(), 2);
    let seen = std::sync::Mutex::new(Vec::new());
    wait::until("both expired leases to be reaped", PATIENCE, || async {
        let decide = |expired: &ExpiredLease| {
            seen.lock().expect("not poisoned").push(expired.clone());
            retry_or_fail(expired)
        };
        let reaped = storage.reap_expired(&decide).await.expect("reap_expired");
        (seen.lock().expect("not poisoned").len() >= 2).then_some(reaped)
    })
    .await;
    let mut seen = seen.into_inner().expect("not poisoned");
    seen.sort_by_key(|expired| expired.lease.id);
    assert_eq!(
        seen.len(),
        2,
        "each expired lease is decided once: {seen:?}"
    );
    for (expired, id) in seen.iter().zip(&ids) {
        assert_eq!(expired.lease, lease(*id, 1, "lost-worker"));
        assert_eq!(expired.interruptions, 0);
    }
    assert_eq!((seen[0].max_attempts, seen[1].max_attempts), (5, 1));

    let retrying = get(storage, ids[0]).await;
    assert_eq!(
        (retrying.status, retrying.attempts),
        (JobStatus::Retrying, 1)
    );
    assert_eq!((retrying.lease_owner, retrying.finished_at), (None, None));
    let error = retrying.last_error.expect("last_error is set");
    assert!(
        error.contains("lease expired") && error.contains("lost-worker"),
        "{error}"
    );

    let failed = get(storage, ids[1]).await;
    assert_eq!((failed.status, failed.attempts), (JobStatus::Failed, 1));
    assert!(failed.finished_at.is_some());
    assert!(
        failed
            .last_error
            .is_some_and(|e| e.contains("lease expired"))
    );

    for id in &ids {
        let attempts = storage.attempts(*id).await.expect("attempts");
        assert_eq!(attempts.len(), 1);
        assert!(attempts[0].finished_at.is_some());
        assert!(
            attempts[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("lost-worker"))
        );
    }
    // Ready at once, as the next attempt.
    let again = claim_one(storage, "twice", LONG_LEASE).await;
    assert_eq!((again.id(), again.attempt()), (ids[0], 2));
}

/// An interrupted attempt is ready again at once and counted in `interruptions`, not
/// against `max_attempts`: a job with one attempt that lost its worker still runs.
pub async fn an_interruption_is_not_charged(storage: &dyn Storage) {
    let mut once = job("once", 0);
    once.max_attempts = 1;
    let id = enqueue(storage, vec![once]).await[0];
    claim_one(storage, "once", SHORT_LEASE).await;
    reap_with(storage, 1, |expired| {
        Outcome::interrupted(lease_expired_error(expired.lease.owner.as_str()))
    })
    .await;
    let record = get(storage, id).await;
    assert_eq!(
        (record.status, record.attempts, record.interruptions),
        (JobStatus::Retrying, 1, 1)
    );
    assert_eq!(record.max_attempts, 1, "the budget is not touched");
    let attempts = storage.attempts(id).await.expect("attempts");
    assert_eq!(
        attempts.len(),
        1,
        "the interrupted attempt is in the history"
    );
    assert!(
        attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired"))
    );

    let again = claim_one(storage, "once", LONG_LEASE).await;
    assert_eq!((again.attempt(), again.interruptions), (2, 1));
    assert_eq!(again.charged_attempts(), 1);
    assert!(
        complete(storage, again.lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    let done = get(storage, id).await;
    assert_eq!(
        (done.status, done.attempts, done.interruptions),
        (JobStatus::Succeeded, 2, 1)
    );
}

/// A lease that has not expired is never taken back.
pub async fn reap_expired_leaves_live_leases_alone(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    claim_one(storage, "a", LONG_LEASE).await;
    assert_eq!(
        storage
            .reap_expired(&retry_or_fail)
            .await
            .expect("reap_expired"),
        0
    );
    assert_eq!(get(storage, id).await.status, JobStatus::Running);
}

/// Renewing extends every lease the worker holds, so its jobs are not reaped.
pub async fn renew_leases_keeps_a_job_from_being_reaped(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("a", 1), job("b", 2)]).await;
    let mine = claim(
        storage,
        &request("worker-a", &["a"], 2, Duration::from_millis(300)),
    )
    .await;
    assert_eq!(mine.len(), 2);
    let theirs = claim(storage, &request("worker-b", &["b"], 1, SHORT_LEASE)).await;
    assert_eq!(theirs.len(), 1);
    let before = get(storage, ids[0]).await.lease_expires_at.expect("lease");

    assert_eq!(
        storage
            .renew_leases(&WorkerId::new("worker-a"), LONG_LEASE)
            .await
            .expect("renew"),
        2
    );
    assert_eq!(
        storage
            .renew_leases(&WorkerId::new("nobody"), LONG_LEASE)
            .await
            .expect("renew"),
        0
    );
    let after = get(storage, ids[0]).await.lease_expires_at.expect("lease");
    assert!(
        (after - before).num_seconds() >= 500,
        "renewed: {before} → {after}"
    );

    // worker-b's short lease expires and is reaped; worker-a's renewed ones are not,
    // although their original 300 ms have long passed by then.
    reap(storage, 1).await;
    wait::until("the original lease to have passed", PATIENCE, || async {
        let probe = enqueue(storage, vec![job("probe", 0)]).await[0];
        (get(storage, probe).await.created_at > before).then_some(())
    })
    .await;
    assert_eq!(
        storage
            .reap_expired(&retry_or_fail)
            .await
            .expect("reap_expired"),
        0
    );
    for id in &ids[..2] {
        let record = get(storage, *id).await;
        assert_eq!(record.status, JobStatus::Running);
        assert_eq!(record.lease_owner.as_deref(), Some("worker-a"));
    }
    assert_eq!(get(storage, ids[2]).await.status, JobStatus::Retrying);
}

/// Releasing gives a job back uncharged: attempts go back down, the attempt record is
/// removed and the job is ready again.
pub async fn release_does_not_charge_an_attempt(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("b", 1)]).await;
    let claimed = claim_one(storage, "a", LONG_LEASE).await;
    assert_eq!(
        storage
            .release(std::slice::from_ref(&claimed.lease))
            .await
            .expect("release"),
        1
    );
    let record = get(storage, ids[0]).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
    assert_eq!(
        (
            record.lease_owner,
            record.lease_expires_at,
            record.started_at
        ),
        (None, None, None)
    );
    assert!(storage.attempts(ids[0]).await.expect("attempts").is_empty());
    let again = claim_one(storage, "a", LONG_LEASE).await;
    assert_eq!((again.id(), again.attempt()), (ids[0], 1));

    // A job on its second attempt goes back to `Retrying` with its first attempt kept.
    let first = claim_one(storage, "b", LONG_LEASE).await;
    let retry = Outcome::retry("boom", Duration::ZERO);
    assert!(
        complete(storage, first.lease.clone(), retry)
            .await
            .expect("complete")
    );
    let second = claim_one(storage, "b", LONG_LEASE).await;
    assert_eq!(second.attempt(), 2);
    let releases = [
        second.lease.clone(),
        second.lease.clone(),
        again.lease.clone(),
    ];
    assert_eq!(
        storage.release(&releases).await.expect("release"),
        2,
        "each lease once"
    );
    let record = get(storage, ids[1]).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Retrying, 1));
    assert_eq!(record.last_error.as_deref(), Some("boom"));
    let attempts = storage.attempts(ids[1]).await.expect("attempts");
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(record.started_at, Some(attempts[0].started_at));
    assert_eq!(storage.release(&[]).await.expect("release"), 0);
}

/// `enqueue_running` records an inline run: `Running` from the start, one attempt open,
/// the lease held by the caller; workers never claim it.
pub async fn enqueue_running_records_an_inline_attempt(storage: &dyn Storage) {
    let mut new = job("inline", 0);
    new.max_attempts = 1;
    let claimed = storage
        .enqueue_running(new, &WorkerId::new("inline"), LONG_LEASE)
        .await
        .expect("enqueue_running");
    assert_eq!(
        (
            claimed.name.as_str(),
            claimed.attempt(),
            claimed.max_attempts
        ),
        ("inline", 1, 1)
    );
    assert_eq!(claimed.payload, serde_json::json!({ "n": 0 }));

    let record = get(storage, claimed.id()).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Running, 1));
    assert_eq!(record.lease_owner.as_deref(), Some("inline"));
    assert!(record.started_at.is_some() && record.lease_expires_at.is_some());
    let attempts = storage.attempts(claimed.id()).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].attempt, attempts[0].worker.as_deref()),
        (1, Some("inline"))
    );

    assert!(
        claim(storage, &request("w", &["inline"], 10, LONG_LEASE))
            .await
            .is_empty()
    );
    let done = Outcome::succeeded(Some(serde_json::json!(42)));
    assert!(
        complete(storage, claimed.lease.clone(), done)
            .await
            .expect("complete")
    );
    let record = get(storage, claimed.id()).await;
    assert_eq!(
        (record.status, record.result),
        (JobStatus::Succeeded, Some(serde_json::json!(42)))
    );

    let later = enqueue(storage, vec![job("inline", 1)]).await[0];
    assert!(later > claimed.id(), "inline jobs share the id sequence");
}

/// One owner renewing its leases while its completions are written, many times over
/// on a deep batch, never deadlocks: every statement that locks several jobs locks
/// them in the same order.
pub async fn renewals_and_completions_of_one_owner_do_not_deadlock(storage: &dyn Storage) {
    const JOBS: i64 = 400;
    enqueue(storage, (0..JOBS).map(|n| job("a", n)).collect()).await;
    let owner = WorkerId::new("worker-a");
    let claimed = claim(storage, &request("worker-a", &["a"], 400, LONG_LEASE)).await;
    assert_eq!(claimed.len(), 400);
    let renewing = async {
        for _ in 0..40 {
            storage
                .renew_leases(&owner, LONG_LEASE)
                .await
                .expect("renewing never deadlocks");
        }
    };
    let completing = async {
        // Batches in reverse id order: a backend must not lock in input order.
        for batch in claimed.rchunks(20) {
            let batch: Vec<(Lease, Outcome)> = batch
                .iter()
                .rev()
                .map(|job| (job.lease.clone(), Outcome::succeeded(None)))
                .collect();
            let held = storage
                .complete_many(&batch)
                .await
                .expect("completing never deadlocks");
            assert!(held.iter().all(|&held| held));
        }
    };
    tokio::join!(renewing, completing);
    for job in claimed.iter().step_by(41) {
        assert_eq!(get(storage, job.id()).await.status, JobStatus::Succeeded);
    }
}
