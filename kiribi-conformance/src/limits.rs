//! Conformance checks of limits: concurrency per group held by the claim across
//! claims and handles, no head-of-line blocking, slots freed by reaping, and rate
//! windows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kiribi_core::backend::{ClaimRequest, JobLimits, LimitedHint, NewJob, Outcome, RateLimit};
use kiribi_core::{JobStatus, Storage};

use super::{HOUR, LONG_LEASE, PATIENCE, SHORT_LEASE, claim, complete, enqueue, get, job, request};
use crate::claim::join_all;
use crate::lease::reap;
use crate::wait;

fn limited(n: i64, key: &str, concurrency: u32) -> NewJob {
    job("l", n).with_limits(JobLimits::new(key).with_concurrency(concurrency))
}

fn limited_request(worker: &str, limit: usize, lease: Duration) -> ClaimRequest {
    request(worker, &["l", "a"], limit, lease).with_limited_names(["l"])
}

/// The limit of each group holds within one claim and across claims; jobs held
/// back do not keep other groups and other names from being claimed; a claim that
/// does not name the limited jobs leaves them alone; a finished job frees its slot.
pub async fn a_concurrency_limit_holds_per_group(storage: &dyn Storage) {
    let mut jobs: Vec<NewJob> = (0..6).map(|n| limited(n, "k", 2)).collect();
    jobs.extend((6..9).map(|n| limited(n, "j", 1)));
    jobs.push(job("a", 9));
    jobs.push(job("a", 10));
    let ids = enqueue(storage, jobs).await;

    let plain = claim(storage, &request("w", &["l", "a"], 100, LONG_LEASE)).await;
    assert_eq!(
        plain.len(),
        2,
        "without `limited_names`, only the jobs without limits"
    );
    assert!(plain.iter().all(|job| job.name == "a"));

    let first = claim(storage, &limited_request("w", 100, LONG_LEASE)).await;
    let first_ids: Vec<_> = first.iter().map(|job| job.id()).collect();
    assert_eq!(
        first_ids,
        [ids[0], ids[1], ids[6]],
        "two of `k`, one of `j`, in claim order"
    );
    assert!(
        claim(storage, &limited_request("w", 100, LONG_LEASE))
            .await
            .is_empty(),
        "every group is at its limit"
    );

    assert!(
        complete(storage, first[0].lease.clone(), Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    let next = claim(storage, &limited_request("w", 100, LONG_LEASE)).await;
    assert_eq!(
        next.iter().map(|job| job.id()).collect::<Vec<_>>(),
        [ids[2]]
    );
    assert_eq!(get(storage, ids[3]).await.status, JobStatus::Pending);
}

/// A slot held by a worker that died frees once its lease is reaped.
pub async fn a_reaped_lease_frees_its_slot(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![limited(0, "k", 1), limited(1, "k", 1)]).await;
    let lost = claim(storage, &limited_request("w", 10, SHORT_LEASE)).await;
    assert_eq!(lost.len(), 1);
    assert!(
        claim(storage, &limited_request("w2", 10, LONG_LEASE))
            .await
            .is_empty()
    );
    reap(storage, 1).await;
    let taken = claim(storage, &limited_request("w2", 10, LONG_LEASE)).await;
    assert_eq!(taken.len(), 1, "the slot is free again");
    assert!(ids.contains(&taken[0].id()));
}

/// A rate limit counts claims in its window, finished or not, and lets more be
/// claimed once the window has passed.
pub async fn a_rate_limit_counts_claims_in_its_window(storage: &dyn Storage) {
    let hourly = |n| job("l", n).with_limits(JobLimits::new("").with_rate(RateLimit::new(2, HOUR)));
    enqueue(storage, (0..4).map(hourly).collect()).await;
    let first = claim(storage, &limited_request("w", 10, LONG_LEASE)).await;
    assert_eq!(first.len(), 2);
    for job in first {
        assert!(
            complete(storage, job.lease, Outcome::succeeded(None))
                .await
                .expect("complete")
        );
    }
    assert!(
        claim(storage, &limited_request("w", 10, LONG_LEASE))
            .await
            .is_empty(),
        "two claims this hour already, although both jobs finished"
    );

    let quick = |n| {
        job("l", n).with_limits(JobLimits::new("quick").with_rate(RateLimit::new(1, SHORT_LEASE)))
    };
    enqueue(storage, (10..12).map(quick).collect()).await;
    let once = claim(storage, &limited_request("w", 10, LONG_LEASE)).await;
    assert_eq!(once.len(), 1, "one claim of `quick` per window");
    wait::until("the next window of `quick`", PATIENCE, || async {
        let more = claim(storage, &limited_request("w", 10, LONG_LEASE)).await;
        assert!(more.len() <= 1, "one per window: {more:?}");
        (more.len() == 1).then_some(())
    })
    .await;
}

/// A claim whose [`LimitedHint`] says no limited job waits still claims the ones
/// its probe sees, into what plain jobs left of its limit; when plain jobs took
/// all of it, it sets the hint, and the next claim takes the limited jobs first; a
/// claim that finds none waiting clears it.
pub async fn a_limited_hint_never_hides_waiting_limited_jobs(storage: &dyn Storage) {
    let hint = LimitedHint::default();
    let hinted = |limit| limited_request("w", limit, LONG_LEASE).with_limited_hint(hint.clone());
    let ids = enqueue(storage, vec![job("a", 0), job("a", 1)]).await;
    let plain = claim(storage, &hinted(10)).await;
    assert_eq!(plain.iter().map(|job| job.id()).collect::<Vec<_>>(), ids);
    assert!(
        !hint.may_be_waiting(),
        "a claim that found no limited job waiting says so"
    );

    let ids = enqueue(storage, vec![job("a", 2), limited(3, "k", 5)]).await;
    let both = claim(storage, &hinted(10)).await;
    let mut both_ids: Vec<_> = both.iter().map(|job| job.id()).collect();
    both_ids.sort();
    assert_eq!(both_ids, ids, "the probe saw the limited job: claimed too");

    hint.set(false);
    let ids = enqueue(storage, vec![job("a", 4), job("a", 5), limited(6, "k", 5)]).await;
    let full = claim(storage, &hinted(2)).await;
    assert_eq!(
        full.iter().map(|job| job.id()).collect::<Vec<_>>(),
        ids[..2],
        "plain jobs first while the hint says none wait"
    );
    assert!(
        hint.may_be_waiting(),
        "plain jobs took the whole limit: the hint says limited ones wait"
    );
    let next = claim(storage, &hinted(10)).await;
    assert_eq!(
        next.iter().map(|job| job.id()).collect::<Vec<_>>(),
        [ids[2]]
    );

    hint.set(false);
    let ids = enqueue(storage, vec![limited(7, "j", 5)]).await;
    let only = claim(storage, &hinted(10)).await;
    assert_eq!(
        only.iter().map(|job| job.id()).collect::<Vec<_>>(),
        ids,
        "no plain job waits: the probe still sees the limited one"
    );
    assert!(claim(storage, &hinted(10)).await.is_empty());
    assert!(!hint.may_be_waiting());
}

/// Concurrent claimers through two handles (two processes) never run more jobs of a
/// group at once than its limit, and drain every group.
pub async fn limits_hold_for_concurrent_claims_from_two_handles(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const KEYS: i64 = 4;
    const PER_KEY: i64 = 10;
    let jobs = (0..KEYS * PER_KEY)
        .map(|n| limited(n, &format!("key-{}", n % KEYS), 1))
        .collect();
    enqueue(first, jobs).await;
    let running: Mutex<HashMap<String, u32>> = Mutex::new(HashMap::new());
    let most = Mutex::new(0_u32);
    let claimers = (0..8)
        .map(|n| {
            let storage = if n % 2 == 0 { first } else { second };
            let (running, most) = (&running, &most);
            async move {
                let request = limited_request(&format!("claimer-{n}"), 3, LONG_LEASE);
                let mut done = 0;
                let mut idle = 0;
                while idle < 50 {
                    let claimed = claim(storage, &request).await;
                    if claimed.is_empty() {
                        idle += 1;
                        tokio_free_yield().await;
                        continue;
                    }
                    idle = 0;
                    for job in &claimed {
                        let key = job.payload["n"].as_i64().expect("n") % KEYS;
                        let mut running = running.lock().expect("not poisoned");
                        let count = running.entry(format!("key-{key}")).or_default();
                        *count += 1;
                        let mut most = most.lock().expect("not poisoned");
                        *most = (*most).max(*count);
                    }
                    for job in claimed {
                        let key = job.payload["n"].as_i64().expect("n") % KEYS;
                        // Counted down before the database frees the slot.
                        *running
                            .lock()
                            .expect("not poisoned")
                            .get_mut(&format!("key-{key}"))
                            .expect("counted") -= 1;
                        assert!(
                            complete(storage, job.lease, Outcome::succeeded(None))
                                .await
                                .expect("complete")
                        );
                        done += 1;
                    }
                }
                done
            }
        })
        .collect();
    let done: i64 = join_all(claimers).await.into_iter().sum();
    assert_eq!(done, KEYS * PER_KEY, "every job ran once");
    assert_eq!(
        *most.lock().expect("not poisoned"),
        1,
        "one job of a key at a time"
    );
}

/// Gives other futures of the same task a turn (the claimers share one task).
async fn tokio_free_yield() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
