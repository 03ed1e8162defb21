//! The backend conformance suite: every clause of the `Storage` contract, checked
//! against any backend.
//!
//! Each check is a `pub async fn` over `&dyn Storage` on a fresh, empty database.
//! [`conformance_tests!`](crate::conformance_tests) turns the whole list into one
//! `#[tokio::test]` per check for a backend, given a [`TestDatabase`]:
//!
//! ```text
//! kiribi_tests::conformance_tests!(MyTestDatabase::new());
//! ```
//!
//! Leases are short (tens of milliseconds) where a check needs one to expire, and the
//! checks wait for conditions with a deadline; they never assert how long anything
//! took. Times are compared only with other times the backend stored, never with the
//! test's own clock.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use kiribi::{
    ClaimRequest, ClaimedJob, JobFilter, JobId, JobRecord, JobStatus, Lease, NewJob, Outcome,
    Storage,
};

use crate::wait;

/// A fresh, empty database of one backend, alive as long as the value.
pub trait TestDatabase: Send + Sync {
    /// A new, independent handle on this database (as another process would open).
    fn open(&self) -> impl Future<Output = Box<dyn Storage>> + Send;
}

/// How long a check waits for a condition before failing.
const PATIENCE: Duration = Duration::from_secs(20);

/// A lease short enough to expire while a check waits.
const SHORT_LEASE: Duration = Duration::from_millis(50);

/// A lease no check outlives.
const LONG_LEASE: Duration = Duration::from_secs(600);

/// A delay no check outlives.
const HOUR: Duration = Duration::from_secs(3600);

fn job(name: &str, n: i64) -> NewJob {
    NewJob::new(name, serde_json::json!({ "n": n }))
}

fn request(worker: &str, names: &[&str], limit: usize, lease: Duration) -> ClaimRequest {
    ClaimRequest {
        worker: worker.to_owned(),
        names: names.iter().map(|name| (*name).to_owned()).collect(),
        queues: None,
        limit,
        lease,
    }
}

async fn enqueue(storage: &dyn Storage, jobs: Vec<NewJob>) -> Vec<JobId> {
    storage.enqueue(jobs).await.expect("enqueue")
}

async fn get(storage: &dyn Storage, id: JobId) -> JobRecord {
    storage.get(id).await.expect("get").expect("the job exists")
}

async fn claim(storage: &dyn Storage, request: &ClaimRequest) -> Vec<ClaimedJob> {
    storage.claim(request).await.expect("claim")
}

async fn claim_one(storage: &dyn Storage, name: &str, lease: Duration) -> ClaimedJob {
    let mut claimed = claim(storage, &request("worker-a", &[name], 1, lease)).await;
    assert_eq!(claimed.len(), 1, "one `{name}` job is ready");
    claimed.remove(0)
}

/// Waits until `reap_expired` has taken back `count` jobs in total.
async fn reap(storage: &dyn Storage, count: u64) {
    let reaped = AtomicU64::new(0);
    wait::until(
        &format!("{count} expired leases to be reaped"),
        PATIENCE,
        || async {
            let now = storage.reap_expired().await.expect("reap_expired");
            let total = reaped.fetch_add(now, Ordering::Relaxed) + now;
            assert!(total <= count, "reaped {total} jobs, expected {count}");
            (total == count).then_some(())
        },
    )
    .await;
}

/// Runs the futures concurrently in the current task and returns their outputs in
/// order (a dependency-free `join_all`).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}

/// Claims `name` jobs, `limit` at a time, completing each, until none is left.
async fn drain(storage: &dyn Storage, worker: String, name: &str, limit: usize) -> Vec<JobId> {
    let request = request(&worker, &[name], limit, LONG_LEASE);
    let mut done = Vec::new();
    loop {
        let claimed = claim(storage, &request).await;
        if claimed.is_empty() {
            return done;
        }
        for job in claimed {
            let applied = storage
                .complete(job.lease(), Outcome::Succeeded { result: None })
                .await
                .expect("complete");
            assert!(applied, "{worker} holds the lease of job {}", job.id);
            done.push(job.id);
        }
    }
}

fn assert_unique(ids: impl IntoIterator<Item = JobId>, expected: usize) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "job {id} was handed out twice");
    }
    assert_eq!(seen.len(), expected, "every job was claimed once");
}

// ----------------------------------------------------------------------------------
// Enqueue

/// Ids are positive, increase with insertion order and come back in input order.
pub async fn enqueue_returns_increasing_ids_in_input_order(storage: &dyn Storage) {
    assert!(enqueue(storage, Vec::new()).await.is_empty());
    let first = enqueue(storage, (0..5).map(|n| job("a", n)).collect()).await;
    let second = enqueue(storage, vec![job("a", 5)]).await;
    let ids: Vec<JobId> = first.iter().chain(&second).copied().collect();
    assert!(ids[0].as_i64() > 0, "ids are positive");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?} increase");
    for (n, id) in (0_i64..).zip(&ids) {
        assert_eq!(
            get(storage, *id).await.payload,
            serde_json::json!({ "n": n })
        );
    }
}

/// A new job is `Pending` with 0 attempts and every field as enqueued.
pub async fn a_new_job_is_pending_with_no_attempts(storage: &dyn Storage) {
    let mut new = NewJob::new(
        "send_welcome",
        serde_json::json!({ "user_id": 7, "to": "a@b.c" }),
    );
    new.queue = "mail".to_owned();
    new.priority = -3;
    new.max_attempts = 9;
    let id = enqueue(storage, vec![new]).await[0];
    let record = get(storage, id).await;
    assert_eq!(record.id, id);
    assert_eq!(record.name, "send_welcome");
    assert_eq!(record.queue, "mail");
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(
        (record.priority, record.attempts, record.max_attempts),
        (-3, 0, 9)
    );
    assert_eq!(
        record.payload,
        serde_json::json!({ "user_id": 7, "to": "a@b.c" })
    );
    assert_eq!((record.result, record.last_error), (None, None));
    assert_eq!(record.run_at, record.created_at, "no delay: ready at once");
    assert_eq!((record.started_at, record.finished_at), (None, None));
    assert_eq!((record.lease_owner, record.lease_expires_at), (None, None));
    assert!(storage.attempts(id).await.expect("attempts").is_empty());
}

/// Ids are never reused, even after the newest job is deleted.
pub async fn ids_are_never_reused_after_delete(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("a", 1)]).await;
    assert!(storage.delete(ids[1]).await.expect("delete"));
    assert!(storage.delete(ids[0]).await.expect("delete"));
    let next = enqueue(storage, vec![job("a", 2)]).await[0];
    assert!(next > ids[1], "{next} reuses a deleted id");
}

/// A batch larger than one statement's parameters is inserted whole, in order.
pub async fn a_large_batch_is_inserted_whole_and_in_order(storage: &dyn Storage) {
    let ids = enqueue(storage, (0..2_500).map(|n| job("bulk", n)).collect()).await;
    assert_eq!(ids.len(), 2_500);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        get(storage, ids[2_499]).await.payload,
        serde_json::json!({ "n": 2_499 })
    );
    let listed = storage
        .list(&JobFilter::new().name("bulk").limit(5_000))
        .await
        .expect("list");
    assert_eq!(listed.len(), 2_500);
}

// ----------------------------------------------------------------------------------
// Claim

/// A claim moves the job to `Running`, counts the attempt, records the lease and
/// opens an attempt record.
pub async fn claim_records_the_lease_and_opens_an_attempt(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 1)]).await[0];
    let claimed = claim(storage, &request("worker-a", &["a"], 10, LONG_LEASE)).await;
    assert_eq!(claimed.len(), 1);
    let claimed = &claimed[0];
    assert_eq!(
        (claimed.id, claimed.name.as_str(), claimed.queue.as_str()),
        (id, "a", "default")
    );
    assert_eq!(claimed.payload, serde_json::json!({ "n": 1 }));
    assert_eq!((claimed.attempt, claimed.max_attempts), (1, 5));
    assert_eq!(claimed.lease(), Lease { id, attempt: 1 });

    let record = get(storage, id).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Running, 1));
    assert_eq!(record.lease_owner.as_deref(), Some("worker-a"));
    let started = record.started_at.expect("started_at is set");
    let expires = record.lease_expires_at.expect("lease_expires_at is set");
    assert!(
        (expires - started).num_seconds() >= 599,
        "lease of 600 s: {started} → {expires}"
    );

    let attempts = storage.attempts(id).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].job_id, attempts[0].attempt), (id, 1));
    assert_eq!(attempts[0].worker.as_deref(), Some("worker-a"));
    assert_eq!(attempts[0].started_at, started);
    assert_eq!(
        (attempts[0].finished_at, attempts[0].error.clone()),
        (None, None)
    );

    assert!(
        claim(storage, &request("worker-b", &["a"], 10, LONG_LEASE))
            .await
            .is_empty()
    );
}

/// Ready jobs come out by priority (higher first), then `run_at`, then id.
pub async fn claim_orders_by_priority_then_run_at_then_id(storage: &dyn Storage) {
    let probe = enqueue(storage, vec![job("probe", 0)]).await[0];
    let now = get(storage, probe).await.created_at;
    let at = |priority: i32, seconds_ago: u64, n: i64| {
        let mut new = job("a", n);
        new.priority = priority;
        new.run_at = Some(now - Duration::from_secs(seconds_ago));
        new
    };
    let batch = || {
        vec![
            at(0, 10, 0),  // [0]
            at(5, 1, 1),   // [1]
            at(0, 30, 2),  // [2]
            at(5, 20, 3),  // [3]
            at(-1, 99, 4), // [4]
            at(0, 10, 5),  // [5]: same priority and run_at as [0]
            at(5, 20, 6),  // [6]: same priority and run_at as [3]
        ]
    };
    let order = [3, 6, 1, 2, 0, 5, 4];

    // One at a time: the claim itself picks in order.
    let ids = enqueue(storage, batch()).await;
    let mut claimed = Vec::new();
    for _ in 0..ids.len() {
        claimed.extend(claim(storage, &request("w", &["a"], 1, LONG_LEASE)).await);
    }
    let claimed: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(claimed, order.map(|n| ids[n]));

    // All at once: the claimed jobs come back in that order too.
    let ids = enqueue(storage, batch()).await;
    let claimed = claim(storage, &request("w", &["a"], 10, LONG_LEASE)).await;
    let claimed: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
    assert_eq!(claimed, order.map(|n| ids[n]));
}

/// A job is not claimed before its `run_at`, and is once it has passed.
pub async fn delayed_jobs_are_not_claimed_before_run_at(storage: &dyn Storage) {
    let mut later = job("a", 0);
    later.delay = HOUR;
    let mut soon = job("a", 1);
    soon.delay = Duration::from_millis(200);
    let ids = enqueue(storage, vec![later, soon]).await;

    let record = get(storage, ids[0]).await;
    assert!((record.run_at - record.created_at).num_seconds() >= 3599);
    let record = get(storage, ids[1]).await;
    assert!((record.run_at - record.created_at).num_milliseconds() >= 200);

    let claimed = wait::until("the delayed job to become ready", PATIENCE, || async {
        let claimed = claim(storage, &request("w", &["a"], 10, LONG_LEASE)).await;
        (!claimed.is_empty()).then_some(claimed)
    })
    .await;
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Pending);

    // An explicit `run_at` in the past is ready at once.
    let mut past = job("b", 2);
    past.run_at = Some(record.created_at - HOUR);
    let past = enqueue(storage, vec![past]).await[0];
    assert_eq!(claim_one(storage, "b", LONG_LEASE).await.id, past);
}

/// Only jobs whose name is in `names` (and queue in `queues`, when given) are claimed.
pub async fn claim_only_takes_requested_names_and_queues(storage: &dyn Storage) {
    let in_queue = |name: &str, queue: &str| {
        let mut new = job(name, 0);
        new.queue = queue.to_owned();
        new
    };
    let ids = enqueue(
        storage,
        vec![
            in_queue("a", "default"),
            in_queue("b", "default"),
            in_queue("a", "media"),
            in_queue("c", "urgent"),
        ],
    )
    .await;

    assert!(
        claim(storage, &request("w", &[], 10, LONG_LEASE))
            .await
            .is_empty()
    );
    let mut none = request("w", &["a", "b", "c"], 10, LONG_LEASE);
    none.queues = Some(Vec::new());
    assert!(claim(storage, &none).await.is_empty());
    let zero = request("w", &["a", "b", "c"], 0, LONG_LEASE);
    assert!(claim(storage, &zero).await.is_empty());

    let mut media = request("w", &["a", "b", "c"], 10, LONG_LEASE);
    media.queues = Some(vec!["media".to_owned(), "nowhere".to_owned()]);
    let claimed: Vec<JobId> = claim(storage, &media).await.iter().map(|j| j.id).collect();
    assert_eq!(claimed, vec![ids[2]]);

    let claimed: Vec<JobId> = claim(storage, &request("w", &["a", "c"], 10, LONG_LEASE))
        .await
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(claimed, vec![ids[0], ids[3]]);
    assert_eq!(get(storage, ids[1]).await.status, JobStatus::Pending);
}

/// Many concurrent claimers never receive the same job.
pub async fn concurrent_claims_never_hand_out_a_job_twice(storage: &dyn Storage) {
    const JOBS: usize = 300;
    enqueue(storage, (0..300).map(|n| job("a", n)).collect()).await;
    let claimers = (0..8)
        .map(|n| drain(storage, format!("claimer-{n}"), "a", 3))
        .collect();
    let done = join_all(claimers).await;
    assert_unique(done.into_iter().flatten(), JOBS);
}

/// Two independent handles on one database (two processes) never receive the same job.
pub async fn claims_from_two_handles_never_hand_out_a_job_twice(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const JOBS: usize = 300;
    let ids = enqueue(first, (0..150).map(|n| job("a", n)).collect()).await;
    let more = enqueue(second, (150..300).map(|n| job("a", n)).collect()).await;
    assert!(ids.iter().chain(&more).collect::<HashSet<_>>().len() == JOBS);
    let claimers = (0..8)
        .map(|n| {
            let storage = if n % 2 == 0 { first } else { second };
            drain(storage, format!("claimer-{n}"), "a", 4)
        })
        .collect();
    let done = join_all(claimers).await;
    assert_unique(done.into_iter().flatten(), JOBS);
    for id in ids.iter().chain(&more).step_by(37) {
        assert_eq!(get(second, *id).await.status, JobStatus::Succeeded);
        assert_eq!(first.attempts(*id).await.expect("attempts").len(), 1);
    }
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
        storage
            .complete(
                claimed[0].lease(),
                Outcome::Succeeded {
                    result: Some(result.clone())
                }
            )
            .await
            .expect("complete")
    );
    assert!(
        storage
            .complete(claimed[1].lease(), Outcome::Succeeded { result: None })
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
        !storage
            .complete(
                claimed[0].lease(),
                Outcome::Failed {
                    error: "late".into()
                }
            )
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Succeeded);
}

/// `Retry` makes the job wait `delay` as `Retrying`, then it is claimed again as the
/// next attempt; every attempt keeps its error.
pub async fn complete_retry_schedules_the_next_attempt(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    let first = claim_one(storage, "a", LONG_LEASE).await;
    let retry = Outcome::Retry {
        error: "smtp timeout".into(),
        delay: HOUR,
    };
    assert!(
        storage
            .complete(first.lease(), retry)
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
    let retry = Outcome::Retry {
        error: "first failure".into(),
        delay: Duration::from_millis(100),
    };
    assert!(
        storage
            .complete(first.lease(), retry)
            .await
            .expect("complete")
    );
    let second = wait::until("the retry to become ready", PATIENCE, || async {
        claim(storage, &request("worker-b", &["b"], 1, LONG_LEASE))
            .await
            .pop()
    })
    .await;
    assert_eq!((second.id, second.attempt), (id, 2));
    assert!(
        storage
            .complete(
                second.lease(),
                Outcome::Failed {
                    error: "second failure".into()
                }
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
    let failed = Outcome::Failed {
        error: "user 7 does not exist".into(),
    };
    assert!(
        storage
            .complete(claimed.lease(), failed)
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

    let ok = Outcome::Succeeded {
        result: Some(serde_json::json!("stale")),
    };
    assert!(
        !storage
            .complete(lost.lease(), ok.clone())
            .await
            .expect("complete")
    );
    assert_eq!(storage.release(&[lost.lease()]).await.expect("release"), 0);
    assert_eq!(
        get(storage, id).await,
        reaped,
        "a stale write changed the job"
    );

    // Re-claimed by another worker: the old lease still cannot touch the new attempt.
    let current = claim(storage, &request("worker-b", &["a"], 1, LONG_LEASE)).await;
    assert_eq!((current[0].id, current[0].attempt), (id, 2));
    let running = get(storage, id).await;
    assert!(!storage.complete(lost.lease(), ok).await.expect("complete"));
    assert_eq!(storage.release(&[lost.lease()]).await.expect("release"), 0);
    assert_eq!(get(storage, id).await, running);
    assert_eq!(storage.attempts(id).await.expect("attempts").len(), 2);

    // Writes for jobs that do not exist are not errors either.
    let unknown = Lease {
        id: JobId::from_i64(id.as_i64() + 1_000),
        attempt: 1,
    };
    let failed = Outcome::Failed { error: "x".into() };
    assert!(!storage.complete(unknown, failed).await.expect("complete"));
    assert_eq!(storage.release(&[unknown]).await.expect("release"), 0);
}

// ----------------------------------------------------------------------------------
// Leases

/// An expired lease makes the job `Retrying` (ready now) while attempts remain, and
/// `Failed` at its last attempt; the attempt is closed with a lost-worker error.
pub async fn reap_expired_retries_or_fails_at_max_attempts(storage: &dyn Storage) {
    let mut last_chance = job("once", 0);
    last_chance.max_attempts = 1;
    let ids = enqueue(storage, vec![job("twice", 0), last_chance]).await;
    let both = request("lost-worker", &["twice", "once"], 2, SHORT_LEASE);
    assert_eq!(claim(storage, &both).await.len(), 2);
    reap(storage, 2).await;

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
    assert_eq!((again.id, again.attempt), (ids[0], 2));
}

/// A lease that has not expired is never taken back.
pub async fn reap_expired_leaves_live_leases_alone(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 0)]).await[0];
    claim_one(storage, "a", LONG_LEASE).await;
    assert_eq!(storage.reap_expired().await.expect("reap_expired"), 0);
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
            .renew_leases("worker-a", LONG_LEASE)
            .await
            .expect("renew"),
        2
    );
    assert_eq!(
        storage
            .renew_leases("nobody", LONG_LEASE)
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
    assert_eq!(storage.reap_expired().await.expect("reap_expired"), 0);
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
        storage.release(&[claimed.lease()]).await.expect("release"),
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
    assert_eq!((again.id, again.attempt), (ids[0], 1));

    // A job on its second attempt goes back to `Retrying` with its first attempt kept.
    let first = claim_one(storage, "b", LONG_LEASE).await;
    let retry = Outcome::Retry {
        error: "boom".into(),
        delay: Duration::ZERO,
    };
    assert!(
        storage
            .complete(first.lease(), retry)
            .await
            .expect("complete")
    );
    let second = claim_one(storage, "b", LONG_LEASE).await;
    assert_eq!(second.attempt, 2);
    let releases = [second.lease(), second.lease(), again.lease()];
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
        .enqueue_running(new, "inline", LONG_LEASE)
        .await
        .expect("enqueue_running");
    assert_eq!(
        (claimed.name.as_str(), claimed.attempt, claimed.max_attempts),
        ("inline", 1, 1)
    );
    assert_eq!(claimed.payload, serde_json::json!({ "n": 0 }));

    let record = get(storage, claimed.id).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Running, 1));
    assert_eq!(record.lease_owner.as_deref(), Some("inline"));
    assert!(record.started_at.is_some() && record.lease_expires_at.is_some());
    let attempts = storage.attempts(claimed.id).await.expect("attempts");
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
    let done = Outcome::Succeeded {
        result: Some(serde_json::json!(42)),
    };
    assert!(
        storage
            .complete(claimed.lease(), done)
            .await
            .expect("complete")
    );
    let record = get(storage, claimed.id).await;
    assert_eq!(
        (record.status, record.result),
        (JobStatus::Succeeded, Some(serde_json::json!(42)))
    );

    let later = enqueue(storage, vec![job("inline", 1)]).await[0];
    assert!(later > claimed.id, "inline jobs share the id sequence");
}

// ----------------------------------------------------------------------------------
// Control

/// Cancel applies to `Pending` and `Retrying` jobs only.
pub async fn cancel_applies_to_waiting_jobs_only(storage: &dyn Storage) {
    let ids = enqueue(
        storage,
        vec![job("a", 0), job("b", 1), job("c", 2), job("d", 3)],
    )
    .await;
    // ids[1] retrying, ids[2] running, ids[3] succeeded.
    let b = claim_one(storage, "b", LONG_LEASE).await;
    let retry = Outcome::Retry {
        error: "e".into(),
        delay: HOUR,
    };
    assert!(storage.complete(b.lease(), retry).await.expect("complete"));
    claim_one(storage, "c", LONG_LEASE).await;
    let d = claim_one(storage, "d", LONG_LEASE).await;
    assert!(
        storage
            .complete(d.lease(), Outcome::Succeeded { result: None })
            .await
            .expect("complete")
    );

    assert!(storage.cancel(ids[0]).await.expect("cancel"));
    assert!(storage.cancel(ids[1]).await.expect("cancel"));
    assert!(!storage.cancel(ids[2]).await.expect("cancel"), "running");
    assert!(!storage.cancel(ids[3]).await.expect("cancel"), "succeeded");
    assert!(
        !storage.cancel(ids[0]).await.expect("cancel"),
        "already cancelled"
    );
    assert!(
        !storage
            .cancel(JobId::from_i64(ids[3].as_i64() + 100))
            .await
            .expect("cancel")
    );

    for id in &ids[..2] {
        let record = get(storage, *id).await;
        assert_eq!(record.status, JobStatus::Cancelled);
        assert!(record.finished_at.is_some());
    }
    assert_eq!(get(storage, ids[2]).await.status, JobStatus::Running);
    assert_eq!(get(storage, ids[3]).await.status, JobStatus::Succeeded);
    assert!(
        claim(storage, &request("w", &["a"], 1, LONG_LEASE))
            .await
            .is_empty()
    );
}

/// Retry makes `Failed`, `Cancelled` and `Retrying` jobs ready now, granting one more
/// attempt when none are left; other states are refused.
pub async fn retry_makes_finished_jobs_ready_again(storage: &dyn Storage) {
    let mut once = job("failed", 0);
    once.max_attempts = 1;
    let ids = enqueue(
        storage,
        vec![
            once,
            job("cancelled", 1),
            job("waiting", 2),
            job("running", 3),
            job("done", 4),
            job("pending", 5),
        ],
    )
    .await;
    let failed = claim_one(storage, "failed", LONG_LEASE).await;
    assert!(
        storage
            .complete(failed.lease(), Outcome::Failed { error: "e".into() })
            .await
            .expect("complete")
    );
    assert!(storage.cancel(ids[1]).await.expect("cancel"));
    let waiting = claim_one(storage, "waiting", LONG_LEASE).await;
    let later = Outcome::Retry {
        error: "e".into(),
        delay: HOUR,
    };
    assert!(
        storage
            .complete(waiting.lease(), later)
            .await
            .expect("complete")
    );
    claim_one(storage, "running", LONG_LEASE).await;
    let done = claim_one(storage, "done", LONG_LEASE).await;
    assert!(
        storage
            .complete(done.lease(), Outcome::Succeeded { result: None })
            .await
            .expect("complete")
    );

    assert!(storage.retry(ids[0]).await.expect("retry"));
    assert!(storage.retry(ids[1]).await.expect("retry"));
    assert!(storage.retry(ids[2]).await.expect("retry"));
    assert!(!storage.retry(ids[3]).await.expect("retry"), "running");
    assert!(!storage.retry(ids[4]).await.expect("retry"), "succeeded");
    assert!(!storage.retry(ids[5]).await.expect("retry"), "pending");
    assert!(
        !storage
            .retry(JobId::from_i64(ids[5].as_i64() + 100))
            .await
            .expect("retry")
    );

    let record = get(storage, ids[0]).await;
    assert_eq!(
        (record.status, record.attempts, record.max_attempts),
        (JobStatus::Retrying, 1, 2)
    );
    assert_eq!(record.finished_at, None);
    let record = get(storage, ids[1]).await;
    assert_eq!(
        (record.status, record.attempts, record.finished_at),
        (JobStatus::Pending, 0, None)
    );
    let record = get(storage, ids[2]).await;
    assert_eq!(
        (record.status, record.max_attempts),
        (JobStatus::Retrying, 5)
    );

    let names = ["failed", "cancelled", "waiting"];
    let claimed = claim(storage, &request("w", &names, 10, LONG_LEASE)).await;
    let mut attempts: Vec<(JobId, u32)> = claimed.iter().map(|j| (j.id, j.attempt)).collect();
    attempts.sort();
    assert_eq!(attempts, vec![(ids[0], 2), (ids[1], 1), (ids[2], 2)]);
}

/// Delete removes a job that is not running, with its history.
pub async fn delete_removes_the_job_and_its_history_unless_running(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("b", 1)]).await;
    let running = claim_one(storage, "a", LONG_LEASE).await;
    assert!(!storage.delete(ids[0]).await.expect("delete"), "running");
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Running);
    let retry = Outcome::Retry {
        error: "e".into(),
        delay: HOUR,
    };
    assert!(
        storage
            .complete(running.lease(), retry)
            .await
            .expect("complete")
    );

    assert!(storage.delete(ids[0]).await.expect("delete"));
    assert!(storage.delete(ids[1]).await.expect("delete"), "pending");
    assert_eq!(storage.get(ids[0]).await.expect("get"), None);
    assert!(storage.attempts(ids[0]).await.expect("attempts").is_empty());
    assert!(
        !storage.delete(ids[0]).await.expect("delete"),
        "already gone"
    );
    assert!(
        !storage
            .complete(running.lease(), Outcome::Succeeded { result: None })
            .await
            .expect("complete")
    );
}

/// Unknown ids read as nothing, never as an error.
pub async fn unknown_ids_are_not_errors(storage: &dyn Storage) {
    let unknown = JobId::from_i64(987_654);
    assert_eq!(storage.get(unknown).await.expect("get"), None);
    assert!(
        storage
            .attempts(unknown)
            .await
            .expect("attempts")
            .is_empty()
    );
    assert!(!storage.cancel(unknown).await.expect("cancel"));
    assert!(!storage.retry(unknown).await.expect("retry"));
    assert!(!storage.delete(unknown).await.expect("delete"));
}

// ----------------------------------------------------------------------------------
// List

/// `list` returns newest first and applies every criterion set.
pub async fn list_filters_and_orders_newest_first(storage: &dyn Storage) {
    let in_queue = |name: &str, queue: &str| {
        let mut new = job(name, 0);
        new.queue = queue.to_owned();
        new
    };
    let ids = enqueue(
        storage,
        vec![
            in_queue("mail", "default"),
            in_queue("mail", "urgent"),
            in_queue("resize", "media"),
            in_queue("mail", "default"),
            in_queue("resize", "default"),
        ],
    )
    .await;
    let failed = claim_one(storage, "resize", LONG_LEASE).await;
    assert_eq!(failed.id, ids[2]);
    assert!(
        storage
            .complete(failed.lease(), Outcome::Failed { error: "e".into() })
            .await
            .expect("complete")
    );

    let listed = |filter: JobFilter| async move {
        let records = storage.list(&filter).await.expect("list");
        records.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        listed(JobFilter::new()).await,
        vec![ids[4], ids[3], ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        listed(JobFilter::new().limit(2)).await,
        vec![ids[4], ids[3]]
    );
    assert_eq!(
        listed(JobFilter::new().before(ids[3]).limit(2)).await,
        vec![ids[2], ids[1]]
    );
    assert_eq!(
        listed(JobFilter::new().name("mail")).await,
        vec![ids[3], ids[1], ids[0]]
    );
    assert_eq!(
        listed(JobFilter::new().queue("default")).await,
        vec![ids[4], ids[3], ids[0]]
    );
    assert_eq!(
        listed(JobFilter::new().status(JobStatus::Failed)).await,
        vec![ids[2]]
    );
    assert_eq!(
        listed(
            JobFilter::new()
                .status(JobStatus::Pending)
                .name("mail")
                .queue("default")
        )
        .await,
        vec![ids[3], ids[0]]
    );
    assert_eq!(
        listed(JobFilter::new().name("mail").before(ids[1])).await,
        vec![ids[0]]
    );
    assert!(listed(JobFilter::new().name("nothing")).await.is_empty());
    assert!(listed(JobFilter::new().limit(0)).await.is_empty());

    let records = storage
        .list(&JobFilter::new().status(JobStatus::Failed))
        .await
        .expect("list");
    assert_eq!(
        records[0],
        get(storage, ids[2]).await,
        "list returns whole records"
    );
}

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh database
/// made by `$database` (an expression of a type implementing
/// [`TestDatabase`](crate::conformance::TestDatabase), evaluated inside the test).
///
/// ```text
/// kiribi_tests::conformance_tests!(SqliteTestDatabase::new());
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($database:expr) => {
        $crate::conformance_tests!(@single $database;
            enqueue_returns_increasing_ids_in_input_order,
            a_new_job_is_pending_with_no_attempts,
            ids_are_never_reused_after_delete,
            a_large_batch_is_inserted_whole_and_in_order,
            claim_records_the_lease_and_opens_an_attempt,
            claim_orders_by_priority_then_run_at_then_id,
            delayed_jobs_are_not_claimed_before_run_at,
            claim_only_takes_requested_names_and_queues,
            concurrent_claims_never_hand_out_a_job_twice,
            complete_succeeded_stores_the_result,
            complete_retry_schedules_the_next_attempt,
            complete_failed_finishes_the_job,
            stale_leases_cannot_complete_or_release,
            reap_expired_retries_or_fails_at_max_attempts,
            reap_expired_leaves_live_leases_alone,
            renew_leases_keeps_a_job_from_being_reaped,
            release_does_not_charge_an_attempt,
            enqueue_running_records_an_inline_attempt,
            cancel_applies_to_waiting_jobs_only,
            retry_makes_finished_jobs_ready_again,
            delete_removes_the_job_and_its_history_unless_running,
            unknown_ids_are_not_errors,
            list_filters_and_orders_newest_first,
        );
        $crate::conformance_tests!(@pair $database;
            claims_from_two_handles_never_hand_out_a_job_twice,
        );
    };
    (@single $database:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let database = $database;
                let storage =
                    $crate::conformance::TestDatabase::open(&database).await;
                $crate::conformance::$check(&*storage).await;
            }
        )*
    };
    (@pair $database:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let database = $database;
                let first = $crate::conformance::TestDatabase::open(&database).await;
                let second = $crate::conformance::TestDatabase::open(&database).await;
                $crate::conformance::$check(&*first, &*second).await;
            }
        )*
    };
}
