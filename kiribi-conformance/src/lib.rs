//! The conformance suite of [kiribi](https://docs.rs/kiribi)'s `Storage` contract:
//! every clause of [`kiribi_core::Storage`]'s contract, checked against any backend.
//! kiribi's own backends run it; a third-party backend runs it the same way.
//!
//! Each check is a `pub async fn` over `&dyn Storage` on a fresh, empty database (or,
//! for the checks between processes, over two independent handles on it), one file
//! per concern: `enqueue.rs`, `claim.rs`, a lease's life in `lease.rs`, job control
//! in `control.rs`, cancelling running jobs and snoozes in `cancel.rs`, wake-ups in
//! `listen.rs`, cron schedules in `schedule.rs`, log lines and progress in
//! `logs.rs`, and flows in `flows.rs`.
//! [`conformance_tests!`] turns the whole list into one `#[test]` per check for a
//! backend, given a [`TestDatabase`]; each test runs on a multi-threaded tokio
//! runtime of its own, so the calling crate needs no tokio macros.
//!
//! ```
//! use kiribi_conformance::TestDatabase;
//! use kiribi_core::Storage;
//! # async fn connect_my_backend(_: &str) -> Box<dyn Storage> { unimplemented!("a backend") }
//!
//! /// One fresh database per test: a scratch database name, say.
//! struct MyDatabase(String);
//!
//! impl TestDatabase for MyDatabase {
//!     async fn open(&self) -> Box<dyn Storage> {
//!         // A new, independent handle on the database, as another process would open.
//!         connect_my_backend(&self.0).await
//!     }
//! }
//!
//! // In a test file of your backend's crate: one `#[test]` per check.
//! kiribi_conformance::conformance_tests!(MyDatabase(format!("test_{}", std::process::id())));
//! # fn main() {}
//! ```
//!
//! Leases are short (tens of milliseconds) where a check needs one to expire, and the
//! checks wait for conditions with a deadline; they never assert how long anything
//! took. Times are compared only with other times the backend stored, never with the
//! test's own clock.

mod cancel;
mod claim;
mod control;
mod enqueue;
mod flows;
mod lease;
mod limits;
mod listen;
mod logs;
mod queues;
mod schedule;
mod stats;
mod unique;
pub mod wait;

use std::future::Future;
use std::time::Duration;

use kiribi_core::backend::{ClaimRequest, ClaimedJob, Enqueued, Lease, NewJob, Outcome, WorkerId};
use kiribi_core::{JobId, JobRecord, Storage};

pub use cancel::{
    a_cancel_of_a_running_job_is_seen_by_its_owner, a_cancelled_outcome_is_final,
    a_snooze_does_not_charge_an_attempt, cancel_listener_announces_requests_from_other_handles,
};
pub use claim::{
    claim_only_takes_requested_names_and_queues, claim_orders_by_priority_then_run_at_then_id,
    claim_records_the_lease_and_opens_an_attempt,
    claims_from_two_handles_never_hand_out_a_job_twice,
    concurrent_claims_never_hand_out_a_job_twice, delayed_jobs_are_not_claimed_before_run_at,
};
pub use control::{
    cancel_finishes_waiting_jobs_only, delete_removes_the_job_and_its_history_unless_running,
    list_filters_and_orders_newest_first, list_finds_waiting_jobs_behind_a_long_history,
    make_due_brings_waiting_jobs_forward, retry_makes_finished_jobs_ready_again,
    unknown_ids_are_not_errors,
};
pub use enqueue::{
    a_large_batch_is_inserted_whole_and_in_order, a_new_job_is_pending_with_no_attempts,
    enqueue_returns_increasing_ids_in_input_order, ids_are_never_reused_after_delete,
    trace_contexts_are_kept_and_returned_to_claims_that_ask,
};
pub use flows::{
    a_batch_of_plain_and_step_successes_readies_the_dependents,
    a_failure_cancels_dependents_and_a_retry_brings_them_back,
    a_flow_is_stored_whole_with_its_dependents_blocked,
    a_reaped_step_that_fails_cancels_its_dependents,
    a_step_is_ready_once_all_its_dependencies_succeed,
    an_invalid_flow_is_refused_and_stores_nothing,
    cancel_and_delete_of_a_step_cancel_its_dependents, cancel_flow_cancels_every_unfinished_step,
    crossing_batches_from_two_handles_ready_every_dependent,
    dependencies_completed_at_once_by_two_handles_ready_their_dependent,
    fan_out_and_fan_in_of_a_thousand_steps, flows_are_listed_newest_first_by_status,
    limited_steps_are_claimed_within_their_limits,
};
pub use lease::{
    a_batch_of_successes_is_fenced_like_any_batch,
    a_lease_of_another_owner_cannot_complete_or_release, an_interruption_is_not_charged,
    complete_failed_finishes_the_job, complete_many_applies_a_batch_and_reports_each_lease,
    complete_retry_schedules_the_next_attempt, complete_succeeded_stores_the_result,
    enqueue_running_records_an_inline_attempt, reap_expired_leaves_live_leases_alone,
    reap_expired_stores_what_the_decision_says, release_does_not_charge_an_attempt,
    renew_leases_keeps_a_job_from_being_reaped,
    renewals_and_completions_of_one_owner_do_not_deadlock, retry_or_fail,
    stale_leases_cannot_complete_or_release,
};
pub use limits::{
    a_concurrency_limit_holds_per_group, a_limited_hint_never_hides_waiting_limited_jobs,
    a_rate_limit_counts_claims_in_its_window, a_reaped_lease_frees_its_slot,
    limits_hold_for_concurrent_claims_from_two_handles,
};
pub use listen::listener_announces_inserts_from_other_handles;
pub use logs::{
    log_lines_are_kept_per_attempt_and_in_order, log_lines_go_with_a_deleted_job,
    log_lines_past_the_bound_are_dropped, progress_is_stored_on_the_record_of_the_latest_attempt,
};
pub use queues::{
    a_pause_holds_for_every_handle, a_paused_queue_is_not_claimed_until_resumed,
    queues_count_waiting_and_running_jobs,
};
pub use schedule::{
    a_paused_schedule_enqueues_no_tick, a_tick_is_enqueued_once_by_concurrent_callers,
    delete_schedule_removes_it_and_keeps_its_jobs, missed_ticks_collapse_to_the_latest,
    upsert_schedule_inserts_then_updates_by_name,
};
pub use stats::{
    a_flow_is_pruned_whole_once_every_step_is_done,
    concurrent_roll_ups_from_two_handles_count_each_job_once, count_matches_what_list_returns,
    list_and_count_filter_by_text_and_time, prune_deletes_only_counted_jobs_past_retention,
    rollups_count_every_finished_job_once, search_indexes_give_the_same_answers,
};
pub use unique::{
    a_key_held_in_any_state_outlives_its_job, a_unique_key_is_held_until_its_job_finishes,
    concurrent_enqueues_of_one_key_insert_one_job, duplicates_within_one_batch_get_the_first_id,
    retry_does_not_make_a_second_holder,
};

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
    ClaimRequest::new(WorkerId::new(worker), lease)
        .with_names(names.iter().copied())
        .with_limit(limit)
}

/// Enqueues `jobs`, checks that each was inserted, and returns their ids.
///
/// # Panics
///
/// When the backend fails, or reports a job as a duplicate.
pub async fn enqueue(storage: &dyn Storage, jobs: Vec<NewJob>) -> Vec<JobId> {
    let count = jobs.len();
    let enqueued = storage.enqueue(jobs).await.expect("enqueue");
    assert_eq!(enqueued.len(), count, "one report per job");
    ids(enqueued)
}

/// The ids of enqueued jobs, checking that each was inserted.
///
/// # Panics
///
/// When a job was reported as a duplicate.
pub fn ids(enqueued: Vec<Enqueued>) -> Vec<JobId> {
    enqueued
        .into_iter()
        .map(|job| {
            assert!(!job.duplicate, "no job without a unique key is a duplicate");
            job.id
        })
        .collect()
}

/// Records one outcome through [`Storage::complete_many`]: whether its lease held.
///
/// # Errors
///
/// The backend's error.
pub async fn complete(
    storage: &dyn Storage,
    lease: Lease,
    outcome: Outcome,
) -> kiribi_core::Result<bool> {
    let held = storage.complete_many(&[(lease, outcome)]).await?;
    assert_eq!(held.len(), 1, "one answer per completion");
    Ok(held[0])
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

/// Runs one check on a multi-threaded tokio runtime of its own (2 worker threads):
/// what [`conformance_tests!`] expands to.
#[doc(hidden)]
pub fn run<F: Future<Output = ()>>(check: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance check")
        .block_on(check);
}

/// Expands to one `#[test]` per conformance check, each on a fresh database made by
/// `$database` (an expression of a type implementing [`TestDatabase`], evaluated
/// inside the test, on its runtime).
#[macro_export]
macro_rules! conformance_tests {
    ($database:expr) => {
        $crate::conformance_tests!(@single $database;
            enqueue_returns_increasing_ids_in_input_order,
            a_new_job_is_pending_with_no_attempts,
            ids_are_never_reused_after_delete,
            a_large_batch_is_inserted_whole_and_in_order,
            trace_contexts_are_kept_and_returned_to_claims_that_ask,
            claim_records_the_lease_and_opens_an_attempt,
            claim_orders_by_priority_then_run_at_then_id,
            delayed_jobs_are_not_claimed_before_run_at,
            claim_only_takes_requested_names_and_queues,
            concurrent_claims_never_hand_out_a_job_twice,
            complete_succeeded_stores_the_result,
            complete_many_applies_a_batch_and_reports_each_lease,
            a_batch_of_successes_is_fenced_like_any_batch,
            complete_retry_schedules_the_next_attempt,
            complete_failed_finishes_the_job,
            stale_leases_cannot_complete_or_release,
            a_lease_of_another_owner_cannot_complete_or_release,
            reap_expired_stores_what_the_decision_says,
            an_interruption_is_not_charged,
            reap_expired_leaves_live_leases_alone,
            renew_leases_keeps_a_job_from_being_reaped,
            release_does_not_charge_an_attempt,
            enqueue_running_records_an_inline_attempt,
            cancel_finishes_waiting_jobs_only,
            retry_makes_finished_jobs_ready_again,
            make_due_brings_waiting_jobs_forward,
            delete_removes_the_job_and_its_history_unless_running,
            unknown_ids_are_not_errors,
            list_filters_and_orders_newest_first,
            list_finds_waiting_jobs_behind_a_long_history,
            renewals_and_completions_of_one_owner_do_not_deadlock,
            a_unique_key_is_held_until_its_job_finishes,
            duplicates_within_one_batch_get_the_first_id,
            a_key_held_in_any_state_outlives_its_job,
            retry_does_not_make_a_second_holder,
            a_paused_queue_is_not_claimed_until_resumed,
            queues_count_waiting_and_running_jobs,
            a_concurrency_limit_holds_per_group,
            a_reaped_lease_frees_its_slot,
            a_rate_limit_counts_claims_in_its_window,
            a_limited_hint_never_hides_waiting_limited_jobs,
            upsert_schedule_inserts_then_updates_by_name,
            delete_schedule_removes_it_and_keeps_its_jobs,
            a_paused_schedule_enqueues_no_tick,
            missed_ticks_collapse_to_the_latest,
            a_cancel_of_a_running_job_is_seen_by_its_owner,
            a_cancelled_outcome_is_final,
            a_snooze_does_not_charge_an_attempt,
            log_lines_are_kept_per_attempt_and_in_order,
            log_lines_past_the_bound_are_dropped,
            log_lines_go_with_a_deleted_job,
            progress_is_stored_on_the_record_of_the_latest_attempt,
            a_flow_is_stored_whole_with_its_dependents_blocked,
            a_step_is_ready_once_all_its_dependencies_succeed,
            a_batch_of_plain_and_step_successes_readies_the_dependents,
            a_failure_cancels_dependents_and_a_retry_brings_them_back,
            a_reaped_step_that_fails_cancels_its_dependents,
            cancel_and_delete_of_a_step_cancel_its_dependents,
            cancel_flow_cancels_every_unfinished_step,
            fan_out_and_fan_in_of_a_thousand_steps,
            an_invalid_flow_is_refused_and_stores_nothing,
            flows_are_listed_newest_first_by_status,
            limited_steps_are_claimed_within_their_limits,
            rollups_count_every_finished_job_once,
            prune_deletes_only_counted_jobs_past_retention,
            a_flow_is_pruned_whole_once_every_step_is_done,
            count_matches_what_list_returns,
            list_and_count_filter_by_text_and_time,
            search_indexes_give_the_same_answers,
        );
        $crate::conformance_tests!(@pair $database;
            claims_from_two_handles_never_hand_out_a_job_twice,
            listener_announces_inserts_from_other_handles,
            concurrent_enqueues_of_one_key_insert_one_job,
            a_pause_holds_for_every_handle,
            limits_hold_for_concurrent_claims_from_two_handles,
            a_tick_is_enqueued_once_by_concurrent_callers,
            cancel_listener_announces_requests_from_other_handles,
            dependencies_completed_at_once_by_two_handles_ready_their_dependent,
            crossing_batches_from_two_handles_ready_every_dependent,
            concurrent_roll_ups_from_two_handles_count_each_job_once,
        );
    };
    (@single $database:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::run(async {
                    let database = $database;
                    let storage = $crate::TestDatabase::open(&database).await;
                    $crate::$check(&*storage).await;
                });
            }
        )*
    };
    (@pair $database:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::run(async {
                    let database = $database;
                    let first = $crate::TestDatabase::open(&database).await;
                    let second = $crate::TestDatabase::open(&database).await;
                    $crate::$check(&*first, &*second).await;
                });
            }
        )*
    };
}
