//! Conformance checks of `enqueue`: ids, initial state and large batches.

use kiribi_core::backend::NewJob;
use kiribi_core::{JobFilter, JobId, JobStatus, Storage};

use super::{LONG_LEASE, enqueue, get, job, request};

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

/// A job enqueued with a trace context keeps it; a claim returns it only when it
/// asks, jobs without one come back without, and a duplicate stores none.
pub async fn trace_contexts_are_kept_and_returned_to_claims_that_ask(storage: &dyn Storage) {
    use kiribi_core::backend::UniqueKey;

    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let unique = || {
        job("traced", 3)
            .with_unique(UniqueKey::while_unfinished("once"))
            .with_trace_context(other)
    };
    let ids = enqueue(
        storage,
        vec![
            job("traced", 0).with_trace_context(parent),
            job("traced", 1),
            unique(),
        ],
    )
    .await;
    let again = storage.enqueue(vec![unique()]).await.expect("enqueue");
    assert!(again[0].duplicate, "the second unique job is a duplicate");

    let plain = super::claim(storage, &request("worker-a", &["traced"], 1, LONG_LEASE)).await;
    assert_eq!(plain[0].lease.id, ids[0]);
    assert_eq!(plain[0].trace_context, None, "not asked for");

    let asked = request("worker-a", &["traced"], 10, LONG_LEASE).with_trace_contexts(true);
    let claimed = super::claim(storage, &asked).await;
    let contexts: Vec<_> = claimed
        .iter()
        .map(|job| (job.lease.id, job.trace_context.as_deref()))
        .collect();
    assert_eq!(contexts, [(ids[1], None), (ids[2], Some(other))]);

    // The first job's context is still there for its next attempt.
    assert!(
        super::complete(
            storage,
            plain[0].lease.clone(),
            kiribi_core::backend::Outcome::retry("again", std::time::Duration::ZERO)
        )
        .await
        .expect("complete")
    );
    let retried = super::claim(storage, &asked).await;
    assert_eq!(retried[0].trace_context.as_deref(), Some(parent));
    // Deleting a job deletes its trace context with it.
    let done = kiribi_core::backend::Outcome::succeeded(None);
    assert!(
        super::complete(storage, retried[0].lease.clone(), done)
            .await
            .expect("complete")
    );
    assert!(storage.delete(ids[0]).await.expect("delete"));
}
