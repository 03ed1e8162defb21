//! Conformance checks of job control and inspection: cancel, retry, delete, list and
//! unknown ids.

use kiribi_core::backend::Outcome;
use kiribi_core::{JobFilter, JobId, JobStatus, Storage};

use super::{HOUR, LONG_LEASE, claim, claim_one, complete, enqueue, get, job, request};

/// Cancel finishes `Pending` and `Retrying` jobs only; a `Running` one is asked to
/// stop and stays running (see `cancel.rs`), a finished one is refused.
pub async fn cancel_finishes_waiting_jobs_only(storage: &dyn Storage) {
    let ids = enqueue(
        storage,
        vec![job("a", 0), job("b", 1), job("c", 2), job("d", 3)],
    )
    .await;
    // ids[1] retrying, ids[2] running, ids[3] succeeded.
    let b = claim_one(storage, "b", LONG_LEASE).await;
    let retry = Outcome::retry("e", HOUR);
    assert!(
        complete(storage, b.lease.clone(), retry)
            .await
            .expect("complete")
    );
    claim_one(storage, "c", LONG_LEASE).await;
    let d = claim_one(storage, "d", LONG_LEASE).await;
    assert!(
        complete(storage, d.lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );

    assert!(storage.cancel(ids[0]).await.expect("cancel"));
    assert!(storage.cancel(ids[1]).await.expect("cancel"));
    assert!(
        storage.cancel(ids[2]).await.expect("cancel"),
        "a running job is asked to stop"
    );
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
        complete(storage, failed.lease.clone(), Outcome::failed("e"))
            .await
            .expect("complete")
    );
    assert!(storage.cancel(ids[1]).await.expect("cancel"));
    let waiting = claim_one(storage, "waiting", LONG_LEASE).await;
    let later = Outcome::retry("e", HOUR);
    assert!(
        complete(storage, waiting.lease.clone(), later)
            .await
            .expect("complete")
    );
    claim_one(storage, "running", LONG_LEASE).await;
    let done = claim_one(storage, "done", LONG_LEASE).await;
    assert!(
        complete(storage, done.lease.clone(), Outcome::succeeded(None))
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
    let mut attempts: Vec<(JobId, u32)> = claimed.iter().map(|j| (j.id(), j.attempt())).collect();
    attempts.sort();
    assert_eq!(attempts, vec![(ids[0], 2), (ids[1], 1), (ids[2], 2)]);
}

/// `make_due` brings a job scheduled for later, or waiting out a retry's backoff,
/// forward to now, charging nothing; a job that is due, running or finished is left
/// alone.
pub async fn make_due_brings_waiting_jobs_forward(storage: &dyn Storage) {
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let ids = enqueue(
        storage,
        vec![
            job("scheduled", 0).with_run_at(tomorrow),
            job("backing_off", 1),
            job("due", 2),
            job("running", 3),
            job("done", 4),
        ],
    )
    .await;
    let backing_off = claim_one(storage, "backing_off", LONG_LEASE).await;
    assert!(
        complete(
            storage,
            backing_off.lease.clone(),
            Outcome::retry("e", HOUR)
        )
        .await
        .expect("complete")
    );
    claim_one(storage, "running", LONG_LEASE).await;
    let done = claim_one(storage, "done", LONG_LEASE).await;
    assert!(
        complete(storage, done.lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    let names = ["scheduled", "backing_off"];
    assert!(
        claim(storage, &request("w", &names, 10, LONG_LEASE))
            .await
            .is_empty(),
        "nothing is due before make_due"
    );

    assert!(storage.make_due(ids[0]).await.expect("make_due"));
    assert!(storage.make_due(ids[1]).await.expect("make_due"));
    assert!(!storage.make_due(ids[2]).await.expect("make_due"), "due");
    assert!(
        !storage.make_due(ids[3]).await.expect("make_due"),
        "running"
    );
    assert!(!storage.make_due(ids[4]).await.expect("make_due"), "done");
    let unknown = JobId::from_i64(ids[4].as_i64() + 100);
    assert!(!storage.make_due(unknown).await.expect("make_due"));

    let claimed = claim(storage, &request("w", &names, 10, LONG_LEASE)).await;
    let mut attempts: Vec<(JobId, u32)> = claimed.iter().map(|j| (j.id(), j.attempt())).collect();
    attempts.sort();
    assert_eq!(attempts, vec![(ids[0], 1), (ids[1], 2)]);
    let record = get(storage, ids[1]).await;
    assert_eq!(record.max_attempts, 5, "nothing granted, nothing charged");
}

/// Delete removes a job that is not running, with its history.
pub async fn delete_removes_the_job_and_its_history_unless_running(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("b", 1)]).await;
    let running = claim_one(storage, "a", LONG_LEASE).await;
    assert!(!storage.delete(ids[0]).await.expect("delete"), "running");
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Running);
    let retry = Outcome::retry("e", HOUR);
    assert!(
        complete(storage, running.lease.clone(), retry)
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
        !complete(storage, running.lease.clone(), Outcome::succeeded(None))
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
    assert_eq!(failed.id(), ids[2]);
    assert!(
        complete(storage, failed.lease.clone(), Outcome::failed("e"))
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

/// Waiting jobs are listed in full, in order, however many finished jobs came after
/// them (more than any window a backend walks before turning to an index).
pub async fn list_finds_waiting_jobs_behind_a_long_history(storage: &dyn Storage) {
    const HISTORY: i64 = 12_000;
    let early = enqueue(
        storage,
        vec![job("mail", 0), job("resize", 1), job("flaky", 2)],
    )
    .await;
    let flaky = claim_one(storage, "flaky", LONG_LEASE).await;
    let retry = Outcome::retry("e", HOUR);
    assert!(
        complete(storage, flaky.lease.clone(), retry)
            .await
            .expect("complete")
    );

    enqueue(storage, (0..HISTORY).map(|n| job("filler", n)).collect()).await;
    let mut finished = 0;
    loop {
        let claimed = claim(storage, &request("worker-a", &["filler"], 1000, LONG_LEASE)).await;
        if claimed.is_empty() {
            break;
        }
        let batch: Vec<_> = claimed
            .iter()
            .map(|job| (job.lease.clone(), Outcome::succeeded(None)))
            .collect();
        let applied = storage.complete_many(&batch).await.expect("complete_many");
        finished += applied.iter().filter(|held| **held).count();
    }
    assert_eq!(finished, usize::try_from(HISTORY).unwrap());
    let late = enqueue(storage, vec![job("mail", 3)]).await[0];
    let (mail, resize, flaky) = (early[0], early[1], early[2]);

    let listed = |filter: JobFilter| async move {
        let records = storage.list(&filter).await.expect("list");
        records.iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let pending = || JobFilter::new().status(JobStatus::Pending);
    assert_eq!(listed(pending()).await, vec![late, resize, mail]);
    assert_eq!(listed(pending().limit(2)).await, vec![late, resize]);
    assert_eq!(listed(pending().before(late)).await, vec![resize, mail]);
    assert_eq!(listed(pending().before(late).limit(1)).await, vec![resize]);
    assert_eq!(listed(pending().name("mail")).await, vec![late, mail]);
    assert_eq!(
        listed(JobFilter::new().status(JobStatus::Retrying)).await,
        vec![flaky]
    );
    assert_eq!(
        listed(JobFilter::new().status(JobStatus::Succeeded).limit(3))
            .await
            .len(),
        3
    );
}
