//! A job's life on PostgreSQL: claim order, fenced completion, release, reaping,
//! retry, cancel, delete and listing. (The cross-backend conformance suite checks the
//! same contract; these pin the PostgreSQL SQL down on its own.)

mod common;

use std::time::{Duration, Instant};

use common::SchemaGuard;
use kiribi_core::backend::{ClaimRequest, Lease, NewJob, Outcome, WorkerId};
use kiribi_core::{JobFilter, JobStatus, Storage};
use kiribi_postgres::PgStorage;

fn request(worker: &str, names: &[&str], limit: usize) -> ClaimRequest {
    ClaimRequest::new(WorkerId::new(worker), Duration::from_secs(60))
        .with_names(names.iter().copied())
        .with_limit(limit)
}

fn job(name: &str, priority: i32) -> NewJob {
    let mut job = NewJob::new(name, serde_json::json!({ "name": name }));
    job.priority = priority;
    job
}

async fn status(storage: &PgStorage, id: kiribi_core::JobId) -> JobStatus {
    storage.get(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn claims_follow_priority_then_run_at_then_id() {
    let schema = SchemaGuard::new("order");
    let storage = schema.storage().await;
    let ids = kiribi_conformance::enqueue(
        &storage,
        vec![
            job("a", 0),
            job("a", 5),
            job("a", 0),
            job("a", 9),
            job("b", 100),
        ],
    )
    .await;
    let claimed = storage.claim(&request("w", &["a"], 10)).await.unwrap();
    let order: Vec<_> = claimed.iter().map(|c| c.id()).collect();
    assert_eq!(order, [ids[3], ids[1], ids[0], ids[2]]);
    assert!(
        claimed
            .iter()
            .all(|c| c.attempt() == 1 && c.max_attempts == 5)
    );
    assert!(
        storage
            .claim(&request("w", &[], 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage
            .claim(&request("w", &["b"], 0))
            .await
            .unwrap()
            .is_empty()
    );

    let running = storage.get(ids[3]).await.unwrap().unwrap();
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.attempts, 1);
    assert_eq!(running.lease_owner.as_deref(), Some("w"));
    assert!(running.lease_expires_at.unwrap() > running.started_at.unwrap());
    let attempts = storage.attempts(ids[3]).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].worker.as_deref(), Some("w"));
    assert_eq!(Some(attempts[0].started_at), running.started_at);
}

#[tokio::test]
async fn claims_respect_queues_limits_and_run_at() {
    let schema = SchemaGuard::new("queues");
    let storage = schema.storage().await;
    let mut mail = job("a", 0);
    mail.queue = "mail".into();
    let mut later = job("a", 0);
    later.delay = Duration::from_secs(3600);
    let ids =
        kiribi_conformance::enqueue(&storage, vec![mail, job("a", 0), job("a", 0), later]).await;
    let mut only_mail = request("w", &["a"], 10);
    only_mail.queues = Some(vec!["mail".into()]);
    let claimed = storage.claim(&only_mail).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].id(), claimed[0].queue.as_str()),
        (ids[0], "mail")
    );
    let claimed = storage.claim(&request("w", &["a"], 1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let claimed = storage.claim(&request("w", &["a"], 10)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the delayed job is not ready");
    assert_eq!(status(&storage, ids[3]).await, JobStatus::Pending);
}

#[tokio::test]
async fn completion_is_fenced_by_the_attempt() {
    let schema = SchemaGuard::new("fence");
    let storage = schema.storage().await;
    let ids = kiribi_conformance::enqueue(&storage, vec![job("a", 0)]).await;
    let first = storage
        .claim(&request("w1", &["a"], 1))
        .await
        .unwrap()
        .remove(0);
    let retry = Outcome::retry("first failed", Duration::ZERO);
    assert!(
        kiribi_conformance::complete(&storage, first.lease.clone(), retry.clone())
            .await
            .unwrap()
    );
    assert!(
        !kiribi_conformance::complete(&storage, first.lease.clone(), retry)
            .await
            .unwrap(),
        "a second write is stale"
    );
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Retrying);
    assert_eq!(record.last_error.as_deref(), Some("first failed"));
    assert_eq!(record.finished_at, None);

    let second = storage
        .claim(&request("w2", &["a"], 1))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.attempt(), 2);
    assert!(
        !kiribi_conformance::complete(&storage, first.lease.clone(), Outcome::succeeded(None))
            .await
            .unwrap(),
        "the first worker's lease no longer holds"
    );
    let result = serde_json::json!({ "sent": 3 });
    assert!(
        kiribi_conformance::complete(
            &storage,
            second.lease.clone(),
            Outcome::succeeded(Some(result.clone()))
        )
        .await
        .unwrap()
    );
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.result, Some(result));
    assert_eq!(record.last_error.as_deref(), Some("first failed"));
    assert!(record.finished_at.is_some());
    assert_eq!(record.lease_owner, None);

    let attempts = storage.attempts(ids[0]).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].error.as_deref(), Some("first failed"));
    assert_eq!(attempts[0].worker.as_deref(), Some("w1"));
    assert_eq!(attempts[1].error, None);
    assert!(attempts.iter().all(|a| a.finished_at.is_some()));
}

#[tokio::test]
async fn a_retry_waits_for_its_delay_and_a_failure_is_final() {
    let schema = SchemaGuard::new("retrydelay");
    let storage = schema.storage().await;
    let ids = kiribi_conformance::enqueue(&storage, vec![job("a", 0)]).await;
    let claimed = storage
        .claim(&request("w", &["a"], 1))
        .await
        .unwrap()
        .remove(0);
    let outcome = Outcome::retry("later", Duration::from_secs(3600));
    assert!(
        kiribi_conformance::complete(&storage, claimed.lease.clone(), outcome)
            .await
            .unwrap()
    );
    assert!(
        storage
            .claim(&request("w", &["a"], 1))
            .await
            .unwrap()
            .is_empty()
    );
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert!(record.run_at > record.started_at.unwrap() + chrono::Duration::minutes(59));

    let running = storage
        .enqueue_running(
            job("b", 0),
            &WorkerId::new("inline"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(running.attempt(), 1);
    assert!(
        kiribi_conformance::complete(&storage, running.lease.clone(), Outcome::failed("fatal"))
            .await
            .unwrap()
    );
    let record = storage.get(running.id()).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.last_error.as_deref(), Some("fatal"));
    assert!(record.finished_at.is_some());
    let attempts = storage.attempts(running.id()).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].worker.as_deref(), Some("inline"));
    assert_eq!(attempts[0].error.as_deref(), Some("fatal"));
}

#[tokio::test]
async fn release_gives_the_attempt_back() {
    let schema = SchemaGuard::new("release");
    let storage = schema.storage().await;
    let ids = kiribi_conformance::enqueue(&storage, vec![job("a", 0), job("a", 0)]).await;
    let first = storage.claim(&request("w", &["a"], 2)).await.unwrap();
    assert_eq!(storage.release(&[first[0].lease.clone()]).await.unwrap(), 1);
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!((record.attempts, record.started_at), (0, None));
    assert!(storage.attempts(ids[0]).await.unwrap().is_empty());

    // A second attempt, released: the first attempt's start comes back.
    let outcome = Outcome::retry("once", Duration::ZERO);
    assert!(
        kiribi_conformance::complete(&storage, first[1].lease.clone(), outcome)
            .await
            .unwrap()
    );
    let started_first = storage.get(ids[1]).await.unwrap().unwrap().started_at;
    let again = storage.claim(&request("w", &["a"], 2)).await.unwrap();
    assert_eq!(again.len(), 2);
    let second = again.iter().find(|c| c.id() == ids[1]).unwrap();
    assert_eq!(second.attempt(), 2);
    let stale = Lease::new(ids[1], 1, WorkerId::new("w"));
    assert_eq!(
        storage
            .release(&[second.lease.clone(), stale])
            .await
            .unwrap(),
        1
    );
    let record = storage.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Retrying);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.started_at, started_first);
    assert_eq!(storage.attempts(ids[1]).await.unwrap().len(), 1);
    assert_eq!(storage.release(&[]).await.unwrap(), 0);
}

#[tokio::test]
async fn expired_leases_are_reaped() {
    let schema = SchemaGuard::new("reap");
    let storage = schema.storage().await;
    let mut last = job("a", 0);
    last.max_attempts = 1;
    let ids = kiribi_conformance::enqueue(&storage, vec![job("a", 0), last]).await;
    let mut short = request("host-1:42", &["a"], 2);
    short.lease = Duration::from_millis(1);
    let claimed = storage.claim(&short).await.unwrap();
    assert_eq!(claimed.len(), 2);

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reaped = 0;
    while reaped < 2 {
        assert!(Instant::now() < deadline, "leases never expired");
        reaped += storage
            .reap_expired(&kiribi_conformance::retry_or_fail)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(reaped, 2);
    let expected = "lease expired: worker `host-1:42` stopped renewing it \
                    (crashed or lost its database connection)";
    let retrying = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(retrying.status, JobStatus::Retrying);
    assert_eq!(retrying.last_error.as_deref(), Some(expected));
    assert_eq!(retrying.lease_owner, None);
    let failed = storage.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.finished_at.is_some());
    let attempts = storage.attempts(ids[1]).await.unwrap();
    assert_eq!(attempts[0].error.as_deref(), Some(expected));
    assert!(attempts[0].finished_at.is_some());
    assert!(
        !kiribi_conformance::complete(&storage, claimed[0].lease.clone(), Outcome::succeeded(None))
            .await
            .unwrap(),
        "a reaped worker cannot complete"
    );
    assert_eq!(
        storage
            .reap_expired(&kiribi_conformance::retry_or_fail)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn renewing_extends_only_the_workers_leases() {
    let schema = SchemaGuard::new("renew");
    let storage = schema.storage().await;
    kiribi_conformance::enqueue(&storage, vec![job("a", 0), job("a", 0)]).await;
    let mine = storage
        .claim(&request("me", &["a"], 1))
        .await
        .unwrap()
        .remove(0);
    storage.claim(&request("other", &["a"], 1)).await.unwrap();
    let before = storage
        .get(mine.id())
        .await
        .unwrap()
        .unwrap()
        .lease_expires_at
        .unwrap();
    assert_eq!(
        storage
            .renew_leases(&WorkerId::new("me"), Duration::from_secs(600))
            .await
            .unwrap(),
        1
    );
    let after = storage
        .get(mine.id())
        .await
        .unwrap()
        .unwrap()
        .lease_expires_at
        .unwrap();
    assert!(after > before + chrono::Duration::minutes(8));
    assert_eq!(
        storage
            .renew_leases(&WorkerId::new("nobody"), Duration::from_secs(1))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn cancel_retry_and_delete_apply_only_where_they_should() {
    let schema = SchemaGuard::new("control");
    let storage = schema.storage().await;
    let ids = kiribi_conformance::enqueue(&storage, vec![job("a", 0), job("a", 0)]).await;
    let missing = kiribi_core::JobId::from_i64(i64::MAX);

    assert!(storage.cancel(ids[0]).await.unwrap());
    assert!(!storage.cancel(ids[0]).await.unwrap());
    assert_eq!(status(&storage, ids[0]).await, JobStatus::Cancelled);
    assert!(storage.retry(ids[0]).await.unwrap());
    assert_eq!(
        status(&storage, ids[0]).await,
        JobStatus::Pending,
        "it never ran"
    );

    let mut once = job("b", 0);
    once.max_attempts = 1;
    let failed = kiribi_conformance::enqueue(&storage, vec![once]).await[0];
    let claimed = storage
        .claim(&request("w", &["b"], 1))
        .await
        .unwrap()
        .remove(0);
    assert!(
        storage.cancel(failed).await.unwrap(),
        "running: asked to stop"
    );
    assert!(!storage.delete(failed).await.unwrap(), "running");
    assert!(!storage.retry(failed).await.unwrap(), "running");
    kiribi_conformance::complete(&storage, claimed.lease.clone(), Outcome::failed("x"))
        .await
        .unwrap();
    // A finished outcome is stored as it is; only one that would wait is not.
    assert_eq!(status(&storage, failed).await, JobStatus::Failed);
    assert!(storage.retry(failed).await.unwrap());
    let record = storage.get(failed).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Retrying);
    assert_eq!(
        (record.attempts, record.max_attempts),
        (1, 2),
        "one more attempt"
    );
    assert_eq!(record.finished_at, None);
    let again = storage.claim(&request("w", &["b"], 1)).await.unwrap();
    assert_eq!(again[0].attempt(), 2);

    assert!(storage.delete(ids[1]).await.unwrap());
    assert!(storage.get(ids[1]).await.unwrap().is_none());
    assert!(!storage.delete(missing).await.unwrap());
    assert!(!storage.cancel(missing).await.unwrap());
    assert!(!storage.retry(missing).await.unwrap());
    assert!(storage.get(missing).await.unwrap().is_none());
    assert!(storage.attempts(missing).await.unwrap().is_empty());

    // Ids are never reused, even after the newest job is deleted.
    let newest = kiribi_conformance::enqueue(&storage, vec![job("c", 0)]).await[0];
    assert!(storage.delete(newest).await.unwrap());
    let next = kiribi_conformance::enqueue(&storage, vec![job("c", 0)]).await[0];
    assert!(next > newest);
}

#[tokio::test]
async fn listing_filters_and_pages_newest_first() {
    let schema = SchemaGuard::new("list");
    let storage = schema.storage().await;
    let mut jobs = Vec::new();
    for n in 0..6 {
        let mut job = job(if n % 2 == 0 { "even" } else { "odd" }, 0);
        if n >= 4 {
            job.queue = "late".into();
        }
        jobs.push(job);
    }
    let ids = kiribi_conformance::enqueue(&storage, jobs).await;
    storage.cancel(ids[0]).await.unwrap();

    let all = storage.list(&JobFilter::new()).await.unwrap();
    let listed: Vec<_> = all.iter().map(|r| r.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);

    let even = storage.list(&JobFilter::new().name("even")).await.unwrap();
    assert_eq!(
        even.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[4], ids[2], ids[0]]
    );
    let cancelled = storage
        .list(&JobFilter::new().status(JobStatus::Cancelled))
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 1);
    let late_odd = storage
        .list(&JobFilter::new().queue("late").name("odd"))
        .await
        .unwrap();
    assert_eq!(late_odd.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[5]]);
    let page = storage
        .list(&JobFilter::new().before(ids[3]).limit(2))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let pending_even_before = storage
        .list(
            &JobFilter::new()
                .status(JobStatus::Pending)
                .name("even")
                .queue("default")
                .before(ids[5]),
        )
        .await
        .unwrap();
    assert_eq!(
        pending_even_before.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[2]]
    );
}
