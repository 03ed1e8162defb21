//! Conformance checks of unique keys: one holder per key and job name, whoever
//! enqueues, and the states in which a job holds its key.

use std::time::Duration;

use kiribi_core::backend::{Enqueued, NewJob, Outcome, UniqueKey};
use kiribi_core::{JobId, JobStatus, Storage};

use super::{LONG_LEASE, claim_one, complete, enqueue, get, job};
use crate::claim::join_all;

fn keyed(name: &str, n: i64, key: &str) -> NewJob {
    job(name, n).with_unique(UniqueKey::while_unfinished(key))
}

async fn enqueue_one(storage: &dyn Storage, job: NewJob) -> Enqueued {
    let mut enqueued = storage.enqueue(vec![job]).await.expect("enqueue");
    assert_eq!(enqueued.len(), 1, "one report per job");
    enqueued.remove(0)
}

/// A key is held while its job waits, runs or waits for a retry, and only among
/// jobs of one name; a duplicate inserts nothing and reports the holder. Once the
/// job finished, the key can be enqueued again.
pub async fn a_unique_key_is_held_until_its_job_finishes(storage: &dyn Storage) {
    let first = enqueue_one(storage, keyed("u", 0, "k")).await;
    assert!(!first.duplicate);
    assert_eq!(
        get(storage, first.id).await.unique_key.as_deref(),
        Some("k")
    );
    let again = enqueue_one(storage, keyed("u", 1, "k")).await;
    assert_eq!(again, Enqueued::duplicate_of(first.id));
    let other_name = enqueue_one(storage, keyed("v", 0, "k")).await;
    assert!(
        !other_name.duplicate,
        "keys are compared within one job name"
    );
    let unkeyed = enqueue(storage, vec![job("u", 2), job("u", 3)]).await;
    assert_eq!(unkeyed.len(), 2, "jobs without a key are never duplicates");

    let running = claim_one(storage, "u", LONG_LEASE).await;
    assert_eq!(running.id(), first.id);
    let while_running = enqueue_one(storage, keyed("u", 4, "k")).await;
    assert_eq!(while_running, Enqueued::duplicate_of(first.id));
    let retry = Outcome::retry("flaky", Duration::from_millis(1));
    assert!(
        complete(storage, running.lease, retry)
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, first.id).await.status, JobStatus::Retrying);
    let while_retrying = enqueue_one(storage, keyed("u", 5, "k")).await;
    assert_eq!(while_retrying, Enqueued::duplicate_of(first.id));

    assert!(storage.cancel(first.id).await.expect("cancel"));
    let after = enqueue_one(storage, keyed("u", 6, "k")).await;
    assert!(!after.duplicate, "a finished job no longer holds its key");
    assert!(after.id > first.id);
    let stored = storage
        .list(&kiribi_core::JobFilter::new().name("u").limit(100))
        .await
        .expect("list");
    assert_eq!(stored.len(), 4, "two keyed jobs and two without a key");
}

/// Duplicates within one batch are reported like any other: the first of equal
/// jobs is inserted, the later ones get its id; the batch keeps input order.
pub async fn duplicates_within_one_batch_get_the_first_id(storage: &dyn Storage) {
    let batch = vec![
        keyed("u", 0, "a"),
        job("u", 1),
        keyed("u", 2, "a"),
        keyed("u", 3, "b"),
        keyed("u", 4, "a"),
        job("u", 5),
    ];
    let enqueued = storage.enqueue(batch).await.expect("enqueue");
    let inserted: Vec<JobId> = enqueued
        .iter()
        .filter(|job| !job.duplicate)
        .map(|job| job.id)
        .collect();
    assert_eq!(inserted.len(), 4);
    assert!(
        inserted.windows(2).all(|pair| pair[0] < pair[1]),
        "inserted ids increase in input order: {inserted:?}"
    );
    assert_eq!(enqueued[2], Enqueued::duplicate_of(enqueued[0].id));
    assert_eq!(enqueued[4], Enqueued::duplicate_of(enqueued[0].id));
    assert_eq!(
        get(storage, enqueued[0].id).await.payload,
        serde_json::json!({ "n": 0 }),
        "the first of the equal jobs is the one stored"
    );
    // A duplicate of a job already stored, in a later batch.
    let later = storage
        .enqueue(vec![keyed("u", 6, "b"), job("u", 7)])
        .await
        .expect("enqueue");
    assert_eq!(later[0], Enqueued::duplicate_of(enqueued[3].id));
    assert!(!later[1].duplicate);
}

/// A key held in any state (a period's key) stays held after its job finished,
/// until the job is deleted.
pub async fn a_key_held_in_any_state_outlives_its_job(storage: &dyn Storage) {
    let period = |n| job("p", n).with_unique(UniqueKey::in_any_state("window-1"));
    let first = enqueue_one(storage, period(0)).await;
    let running = claim_one(storage, "p", LONG_LEASE).await;
    assert!(
        complete(storage, running.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, first.id).await.status, JobStatus::Succeeded);
    assert_eq!(
        enqueue_one(storage, period(1)).await,
        Enqueued::duplicate_of(first.id)
    );
    // Held against every job of its name, whichever way the newcomer holds keys.
    assert_eq!(
        enqueue_one(storage, keyed("p", 2, "window-1")).await,
        Enqueued::duplicate_of(first.id)
    );
    assert!(storage.delete(first.id).await.expect("delete"));
    assert!(!enqueue_one(storage, period(3)).await.duplicate);
}

/// `retry` does not bring back a job whose key another job took meanwhile: that
/// would make two holders. Once the other job finished, the retry goes through.
pub async fn retry_does_not_make_a_second_holder(storage: &dyn Storage) {
    let first = enqueue_one(storage, keyed("u", 0, "k")).await;
    let running = claim_one(storage, "u", LONG_LEASE).await;
    assert!(
        complete(storage, running.lease, Outcome::failed("broken"))
            .await
            .expect("complete")
    );
    let second = enqueue_one(storage, keyed("u", 1, "k")).await;
    assert!(!second.duplicate, "a failed job no longer holds its key");
    assert!(!storage.retry(first.id).await.expect("retry"));
    assert_eq!(get(storage, first.id).await.status, JobStatus::Failed);

    assert!(storage.cancel(second.id).await.expect("cancel"));
    assert!(storage.retry(first.id).await.expect("retry"));
    assert_eq!(get(storage, first.id).await.status, JobStatus::Retrying);
    assert_eq!(
        enqueue_one(storage, keyed("u", 2, "k")).await,
        Enqueued::duplicate_of(first.id)
    );
}

/// Concurrent enqueues of one key through two handles (two processes), alone and
/// in batches, insert one job, and every call reports its id.
pub async fn concurrent_enqueues_of_one_key_insert_one_job(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const CALLS: usize = 16;
    let calls = (0..CALLS)
        .map(|n| {
            let storage = if n % 2 == 0 { first } else { second };
            let n = i64::try_from(n).expect("small");
            let jobs = if n % 4 == 3 {
                vec![
                    job("u", 100 + n),
                    keyed("u", n, "shared"),
                    keyed("u", n, "shared"),
                ]
            } else {
                vec![keyed("u", n, "shared")]
            };
            storage.enqueue(jobs)
        })
        .collect();
    let results = join_all(calls).await;
    let mut holders = Vec::new();
    for result in results {
        let enqueued = result.expect("enqueue");
        // In a batch, the first job has no key and is always inserted.
        let keyed_reports = if enqueued.len() == 3 {
            assert!(!enqueued[0].duplicate);
            &enqueued[1..]
        } else {
            &enqueued[..]
        };
        holders.extend(keyed_reports.iter().map(|job| (job.id, job.duplicate)));
    }
    let ids: std::collections::HashSet<JobId> = holders.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids.len(),
        1,
        "every call reports the one holder: {holders:?}"
    );
    let inserted = holders.iter().filter(|(_, duplicate)| !duplicate).count();
    assert_eq!(
        inserted, 1,
        "exactly one call inserted the key: {holders:?}"
    );
    let stored = second
        .list(&kiribi_core::JobFilter::new().name("u").limit(100))
        .await
        .expect("list");
    let keyed_jobs = stored.iter().filter(|job| job.unique_key.is_some()).count();
    assert_eq!(keyed_jobs, 1);
    assert_eq!(
        stored.len(),
        1 + CALLS / 4,
        "plus one job without a key per batch"
    );
}
