//! Conformance checks of cancelling running jobs and of snoozes: a cancel request
//! reaches the job's owner, a cancelled job is final, a snooze is not charged.

use std::time::Duration;

use kiribi_core::backend::{ExpiredLease, Outcome, WorkerId};
use kiribi_core::{JobId, JobStatus, Storage};
use tokio::time::{Instant, timeout};

use super::{
    HOUR, LONG_LEASE, PATIENCE, SHORT_LEASE, claim, claim_one, complete, enqueue, get, job,
    request, wait,
};

async fn requests(storage: &dyn Storage, owner: &str) -> Vec<JobId> {
    storage
        .cancel_requests(&WorkerId::new(owner))
        .await
        .expect("cancel_requests")
}

/// A cancel of a running job keeps it running under its lease and is reported to
/// its owner only, by `cancel_requests`; the owner's `Cancelled` outcome finishes
/// it, with the reason in its history, and the request is gone.
pub async fn a_cancel_of_a_running_job_is_seen_by_its_owner(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("a", 0), job("b", 1)]).await;
    let a = claim_one(storage, "a", LONG_LEASE).await;
    let b = claim(storage, &request("worker-b", &["b"], 1, LONG_LEASE)).await;
    assert_eq!(b.len(), 1, "one `b` job is ready");
    assert!(requests(storage, "worker-a").await.is_empty());

    assert!(storage.cancel(ids[0]).await.expect("cancel"), "running");
    assert!(
        storage.cancel(ids[0]).await.expect("cancel"),
        "asked again: still running"
    );
    let record = get(storage, ids[0]).await;
    assert_eq!(
        record.status,
        JobStatus::Running,
        "it runs until its owner stops it"
    );
    assert_eq!(record.lease_owner.as_deref(), Some("worker-a"));
    assert_eq!(record.finished_at, None);
    assert_eq!(requests(storage, "worker-a").await, vec![ids[0]]);
    assert!(
        requests(storage, "worker-b").await.is_empty(),
        "another owner's jobs were not asked"
    );
    assert_eq!(
        storage
            .renew_leases(&WorkerId::new("worker-a"), LONG_LEASE)
            .await
            .expect("renew"),
        1,
        "the lease of a job asked to stop still holds"
    );

    let reason = "cancelled while running; the job returned a value after the request";
    assert!(
        complete(storage, a.lease.clone(), Outcome::cancelled(reason))
            .await
            .expect("complete")
    );
    let record = get(storage, ids[0]).await;
    assert_eq!(record.status, JobStatus::Cancelled);
    assert!(record.finished_at.is_some());
    assert_eq!(record.last_error.as_deref(), Some(reason));
    assert_eq!((record.lease_owner, record.attempts), (None, 1));
    let attempts = storage.attempts(ids[0]).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].error.as_deref(), Some(reason));
    assert!(requests(storage, "worker-a").await.is_empty());
    assert!(
        !storage.cancel(ids[0]).await.expect("cancel"),
        "a cancelled job is not cancelled again"
    );
}

/// A cancelled job is final: no claim takes it, no stale write of its last attempt
/// changes it, and a job asked to stop is never made to wait again, whether its
/// attempt ended in a retry or a snooze before its owner learnt of the request,
/// its lease was reaped, or it was released. Only `retry` brings it back, without
/// the request.
pub async fn a_cancelled_outcome_is_final(storage: &dyn Storage) {
    let ids = enqueue(
        storage,
        vec![
            job("final", 0),
            job("retried", 1),
            job("snoozed", 2),
            job("reaped", 3),
            job("released", 4),
        ],
    )
    .await;
    let done = claim_one(storage, "final", LONG_LEASE).await;
    assert!(
        complete(storage, done.lease.clone(), Outcome::cancelled("stopped"))
            .await
            .expect("complete")
    );
    assert!(
        claim(storage, &request("w", &["final"], 1, LONG_LEASE))
            .await
            .is_empty()
    );
    assert!(
        !complete(storage, done.lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete"),
        "the attempt's lease no longer holds"
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Cancelled);

    let retried = claim_one(storage, "retried", LONG_LEASE).await;
    let snoozed = claim_one(storage, "snoozed", LONG_LEASE).await;
    let released = claim_one(storage, "released", LONG_LEASE).await;
    for id in [ids[1], ids[2], ids[4]] {
        assert!(storage.cancel(id).await.expect("cancel"));
    }
    let outcomes = [
        (
            retried.lease.clone(),
            Outcome::retry("flaky", Duration::ZERO),
        ),
        (snoozed.lease.clone(), Outcome::snoozed(Duration::ZERO)),
    ];
    assert_eq!(
        storage.complete_many(&outcomes).await.expect("complete"),
        vec![true, true]
    );
    let record = get(storage, ids[1]).await;
    assert_eq!(record.status, JobStatus::Cancelled, "not retried");
    assert!(record.finished_at.is_some());
    assert_eq!(record.last_error.as_deref(), Some("flaky"));
    let record = get(storage, ids[2]).await;
    assert_eq!(record.status, JobStatus::Cancelled, "not snoozed");
    assert!(record.finished_at.is_some());
    assert_eq!(
        storage
            .release(std::slice::from_ref(&released.lease))
            .await
            .expect("release"),
        1
    );
    let record = get(storage, ids[4]).await;
    assert_eq!(record.status, JobStatus::Cancelled, "not released to wait");
    assert!(record.finished_at.is_some());

    // A job asked to stop whose worker was lost.
    let reaped = claim_one(storage, "reaped", SHORT_LEASE).await;
    assert!(storage.cancel(ids[3]).await.expect("cancel"));
    wait::until("the short lease to be reaped", PATIENCE, || async {
        let decide = |_: &ExpiredLease| Outcome::interrupted("worker lost");
        storage.reap_expired(&decide).await.expect("reap");
        (get(storage, ids[3]).await.status != JobStatus::Running).then_some(())
    })
    .await;
    let record = get(storage, ids[3]).await;
    assert_eq!(record.status, JobStatus::Cancelled, "not interrupted");
    assert_eq!(record.attempts, reaped.attempt());
    assert!(
        claim(
            storage,
            &request(
                "w",
                &["retried", "snoozed", "reaped", "released"],
                4,
                LONG_LEASE
            )
        )
        .await
        .is_empty(),
        "no cancelled job is claimed"
    );

    // `retry` brings one back, and the request does not come with it.
    assert!(storage.retry(ids[1]).await.expect("retry"));
    let again = claim_one(storage, "retried", LONG_LEASE).await;
    assert_eq!(again.attempt(), 2);
    assert!(requests(storage, "worker-a").await.is_empty());
    let retry = Outcome::retry("flaky again", HOUR);
    assert!(
        complete(storage, again.lease, retry)
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, ids[1]).await.status, JobStatus::Retrying);
}

/// A snooze gives the attempt back uncharged, as a release does (the count goes
/// back, the history keeps only charged attempts, a first attempt's job is
/// `Pending` again), and makes the job wait its delay; any number of snoozes leave
/// `max_attempts` untouched.
pub async fn a_snooze_does_not_charge_an_attempt(storage: &dyn Storage) {
    let mut once = job("once", 0);
    once.max_attempts = 1;
    let ids = enqueue(storage, vec![once, job("later", 1), job("second", 2)]).await;

    for _ in 0..5 {
        let claimed = claim_one(storage, "once", LONG_LEASE).await;
        assert_eq!(claimed.attempt(), 1, "every snooze gave its attempt back");
        let snooze = Outcome::snoozed(Duration::ZERO);
        assert!(
            complete(storage, claimed.lease, snooze)
                .await
                .expect("complete")
        );
        let record = get(storage, ids[0]).await;
        assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
        assert_eq!((record.started_at, record.lease_owner), (None, None));
        assert_eq!(record.finished_at, None);
        assert!(storage.attempts(ids[0]).await.expect("attempts").is_empty());
    }
    let last = claim_one(storage, "once", LONG_LEASE).await;
    assert!(
        complete(storage, last.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, ids[0]).await.status, JobStatus::Succeeded);

    // The delay holds: a job snoozed for an hour is not claimed now.
    let later = claim_one(storage, "later", LONG_LEASE).await;
    let before = get(storage, ids[1]).await.run_at;
    assert!(
        complete(storage, later.lease, Outcome::snoozed(HOUR))
            .await
            .expect("complete")
    );
    let record = get(storage, ids[1]).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
    assert!(record.run_at > before, "the snooze moved `run_at` on");
    assert!(
        claim(storage, &request("w", &["later"], 1, LONG_LEASE))
            .await
            .is_empty()
    );

    // A snooze on a second attempt goes back to `Retrying` with the first kept.
    let first = claim_one(storage, "second", LONG_LEASE).await;
    let retry = Outcome::retry("boom", Duration::ZERO);
    assert!(
        complete(storage, first.lease, retry)
            .await
            .expect("complete")
    );
    let second = claim_one(storage, "second", LONG_LEASE).await;
    assert_eq!(second.attempt(), 2);
    let first_started = storage.attempts(ids[2]).await.expect("attempts")[0].started_at;
    assert!(
        complete(storage, second.lease, Outcome::snoozed(Duration::ZERO))
            .await
            .expect("complete")
    );
    let record = get(storage, ids[2]).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Retrying, 1));
    assert_eq!(record.last_error.as_deref(), Some("boom"));
    assert_eq!(record.started_at, Some(first_started));
    let attempts = storage.attempts(ids[2]).await.expect("attempts");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0].error.as_deref(), Some("boom"));
    assert_eq!(claim_one(storage, "second", LONG_LEASE).await.attempt(), 2);
}

/// A cancel listener made on one handle wakes up after a running job is asked to
/// stop through another (as by another process). A backend without a channel says
/// so (`None`) on every handle.
pub async fn cancel_listener_announces_requests_from_other_handles(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    let Some(mut listener) = first.listen_cancels().await.expect("listen_cancels") else {
        assert!(
            second
                .listen_cancels()
                .await
                .expect("listen_cancels")
                .is_none(),
            "one handle has no cancel channel, another has one"
        );
        return;
    };
    // The subscription may still be being set up when `listen_cancels` returns, so a
    // request made right away may go unannounced: ask until one is.
    let deadline = Instant::now() + PATIENCE;
    let mut asked = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the cancel listener announced none of {asked} requests made through \
             another handle within {PATIENCE:?}"
        );
        let id = enqueue(first, vec![job("stopped", asked)]).await[0];
        claim_one(first, "stopped", LONG_LEASE).await;
        assert!(second.cancel(id).await.expect("cancel"));
        asked += 1;
        if let Ok(woken) = timeout(Duration::from_secs(2), listener.recv()).await {
            woken.expect("the listener receives");
            break;
        }
    }
    assert_eq!(
        requests(first, "worker-a").await.len(),
        usize::try_from(asked).expect("few"),
        "each request is there to read"
    );
}
