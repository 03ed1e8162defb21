//! Conformance checks of `claim`: what it records, ordering, filters and atomicity.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use kiribi_core::backend::{Lease, Outcome, WorkerId};
use kiribi_core::{JobId, JobStatus, Storage};

use super::{HOUR, LONG_LEASE, PATIENCE, claim, claim_one, complete, enqueue, get, job, request};
use crate::wait;

/// Runs the futures concurrently in the current task and returns their outputs in
/// order (a dependency-free `join_all`).
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
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
            let applied = complete(storage, job.lease.clone(), Outcome::succeeded(None))
                .await
                .expect("complete");
            assert!(applied, "{worker} holds the lease of job {}", job.id());
            done.push(job.id());
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

/// A claim moves the job to `Running`, counts the attempt, records the lease and
/// opens an attempt record.
pub async fn claim_records_the_lease_and_opens_an_attempt(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("a", 1)]).await[0];
    let claimed = claim(storage, &request("worker-a", &["a"], 10, LONG_LEASE)).await;
    assert_eq!(claimed.len(), 1);
    let claimed = &claimed[0];
    assert_eq!(
        (claimed.id(), claimed.name.as_str(), claimed.queue.as_str()),
        (id, "a", "default")
    );
    assert_eq!(claimed.payload, serde_json::json!({ "n": 1 }));
    assert_eq!((claimed.attempt(), claimed.max_attempts), (1, 5));
    assert_eq!(claimed.lease, Lease::new(id, 1, WorkerId::new("worker-a")));

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
    let claimed: Vec<JobId> = claimed.iter().map(|job| job.id()).collect();
    assert_eq!(claimed, order.map(|n| ids[n]));

    // All at once: the claimed jobs come back in that order too.
    let ids = enqueue(storage, batch()).await;
    let claimed = claim(storage, &request("w", &["a"], 10, LONG_LEASE)).await;
    let claimed: Vec<JobId> = claimed.iter().map(|job| job.id()).collect();
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
        claimed.iter().map(|job| job.id()).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Pending);

    // An explicit `run_at` in the past is ready at once.
    let mut past = job("b", 2);
    past.run_at = Some(record.created_at - HOUR);
    let past = enqueue(storage, vec![past]).await[0];
    assert_eq!(claim_one(storage, "b", LONG_LEASE).await.id(), past);
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
    let claimed: Vec<JobId> = claim(storage, &media)
        .await
        .iter()
        .map(|j| j.id())
        .collect();
    assert_eq!(claimed, vec![ids[2]]);

    let claimed: Vec<JobId> = claim(storage, &request("w", &["a", "c"], 10, LONG_LEASE))
        .await
        .iter()
        .map(|j| j.id())
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
