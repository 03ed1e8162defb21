//! The backend conformance suite: every clause of the `Storage` contract, checked
//! against any backend.
//!
//! Each check is a `pub async fn` over `&dyn Storage` on a fresh, empty database (or,
//! for the checks between processes, over two independent handles on it), one file
//! per concern: `enqueue.rs`, `claim.rs`, a lease's life in `lease.rs`, job control
//! in `control.rs` and wake-ups in `listen.rs`.
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

mod claim;
mod control;
mod enqueue;
mod lease;
mod listen;

use std::future::Future;
use std::time::Duration;

use kiribi::{ClaimRequest, ClaimedJob, JobId, JobRecord, NewJob, Storage};

pub use claim::{
    claim_only_takes_requested_names_and_queues, claim_orders_by_priority_then_run_at_then_id,
    claim_records_the_lease_and_opens_an_attempt,
    claims_from_two_handles_never_hand_out_a_job_twice,
    concurrent_claims_never_hand_out_a_job_twice, delayed_jobs_are_not_claimed_before_run_at,
};
pub use control::{
    cancel_applies_to_waiting_jobs_only, delete_removes_the_job_and_its_history_unless_running,
    list_filters_and_orders_newest_first, list_finds_waiting_jobs_behind_a_long_history,
    retry_makes_finished_jobs_ready_again, unknown_ids_are_not_errors,
};
pub use enqueue::{
    a_large_batch_is_inserted_whole_and_in_order, a_new_job_is_pending_with_no_attempts,
    enqueue_returns_increasing_ids_in_input_order, ids_are_never_reused_after_delete,
};
pub use lease::{
    complete_failed_finishes_the_job, complete_many_applies_a_batch_and_reports_each_lease,
    complete_retry_schedules_the_next_attempt, complete_succeeded_stores_the_result,
    enqueue_running_records_an_inline_attempt, reap_expired_leaves_live_leases_alone,
    reap_expired_retries_or_fails_at_max_attempts, release_does_not_charge_an_attempt,
    renew_leases_keeps_a_job_from_being_reaped, stale_leases_cannot_complete_or_release,
};
pub use listen::listener_announces_inserts_from_other_handles;

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
            complete_many_applies_a_batch_and_reports_each_lease,
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
            list_finds_waiting_jobs_behind_a_long_history,
        );
        $crate::conformance_tests!(@pair $database;
            claims_from_two_handles_never_hand_out_a_job_twice,
            listener_announces_inserts_from_other_handles,
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
