//! The `Storage` trait: the primitives every backend provides.

use std::any::Any;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::backend::{
    ClaimRequest, ClaimedJob, Enqueued, ExpiredLease, Lease, NewFlow, NewJob, NewSchedule, Outcome,
    Rollup, RollupProgress, ScheduleTick, WorkerId,
};
use crate::{
    AttemptRecord, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, LogLine,
    NewLogLine, ProgressUpdate, QueueInfo, Result, Retention, ScheduleRecord,
};

/// What becomes of a job whose lease expired: the worker's failure policy, handed
/// to [`Storage::reap_expired`].
pub type ReapDecision<'a> = &'a (dyn Fn(&ExpiredLease) -> Outcome + Send + Sync);

/// The primitives a kiribi backend provides. Everything else is built on them.
///
/// Implemented by `kiribi_sqlite::SqliteStorage` and `kiribi_postgres::PgStorage`; the
/// `kiribi::Kiribi` handle holds one as `Arc<dyn Storage>`, and may hold a wrapper
/// around one (for tracing, say) just as well. The types that cross this trait live
/// in [`backend`](crate::backend).
///
/// # Contract
///
/// Every backend passes the same conformance suite (the `kiribi-conformance` crate);
/// it checks what follows.
///
/// - **Clock.** "Now" is the database's clock where the backend has one shared by all
///   processes; delays (`NewJob::delay`, `Outcome::Retry`'s delay, leases) are added to
///   it.
/// - **Enqueue.** [`enqueue`](Storage::enqueue) inserts all jobs or none and reports
///   each in input order. Ids are positive, increase with insertion order and are
///   never reused, even after a delete. A new job is `Pending` with 0 attempts and 0
///   interruptions.
/// - **Unique keys.** A job with a [`UniqueKey`](crate::backend::UniqueKey) is
///   inserted only if no job of the same name holds that key. A job holds its key
///   while `Pending`, `Running`, `Retrying` or `Blocked`, or in every state (until it
///   is deleted) when the key is held [`in_any_state`](crate::backend::UniqueKey::in_any_state).
///   Otherwise nothing is inserted and the job is reported as a duplicate of the
///   holder ([`Enqueued::duplicate_of`](crate::backend::Enqueued::duplicate_of)). This
///   holds for concurrent enqueues from any connection or process, for equal jobs
///   within one batch (the first one is inserted) and inside a caller's transaction:
///   the database enforces it (a unique index), not timing. [`retry`](Storage::retry)
///   does not bring back a job whose key another job holds now.
/// - **Claim atomicity.** [`claim`](Storage::claim) moves up to `limit` ready jobs
///   (`Pending` or `Retrying`, `run_at` ≤ now, name in `names`, queue in `queues` when
///   given) to `Running` in one atomic step, increments their `attempts`, records
///   `started_at`, the lease owner and `lease_expires_at` = now + lease, and opens an
///   attempt (as [`attempts`](Storage::attempts) reports it). No job is handed to two
///   claims at once, across connections, processes and machines.
/// - **Durable claims.** A claim that returned is durable: a crash of the database
///   server afterwards cannot hand the same job to another claim while the first
///   owner's lease holds.
/// - **Limits.** Among jobs of one name and [`JobLimits::key`](crate::backend::JobLimits::key),
///   at most `concurrency` are `Running` at once and at most `rate.count` are claimed
///   in any window of `rate.period`, counting the claims of every connection and
///   process; a job's own limits are the ones applied to it. A claim passes over
///   jobs their group's limits hold back and takes other jobs, of other groups and
///   names, instead (no head-of-line blocking). A job stops counting against
///   `concurrency` once it is no longer `Running` (a reaped lease frees its slot); a
///   claim counts against `rate` for the whole window, whatever becomes of the job.
///   Limited jobs are claimed only for names in
///   [`ClaimRequest::limited_names`](crate::backend::ClaimRequest::limited_names),
///   before plain jobs while the request's
///   [`limited_hint`](crate::backend::ClaimRequest::limited_hint) says they may be
///   waiting. A claim that finds none sets the hint to say so; later claims with it
///   take plain jobs first and look for limited ones only after (cheaply), claiming
///   those they find into what is left of the limit, or, when plain jobs took all of
///   it, setting the hint again so that the next claim takes them first. So a
///   waiting limited job is passed over by at most one claim that saw it.
/// - **Paused queues.** No claim takes a job of a paused queue, from the first claim
///   that starts after [`pause_queue`](Storage::pause_queue) returned, in any process;
///   the jobs stay as they are (a running job runs on). After
///   [`resume_queue`](Storage::resume_queue) they are claimed again.
/// - **Ordering.** Among ready jobs, higher `priority` first, then earlier `run_at`,
///   then lower id.
/// - **Lease exclusivity.** While its lease has not expired, a `Running` job belongs to
///   its owner: only [`reap_expired`](Storage::reap_expired) takes a job back, and only
///   after `lease_expires_at` has passed.
/// - **Fenced writes.** [`complete_many`](Storage::complete_many) and
///   [`release`](Storage::release) apply only to a job that is still `Running` in the
///   attempt *and* under the owner named by the [`Lease`]. A worker whose lease was
///   lost (the job was reaped, re-claimed, cancelled or deleted) cannot overwrite the
///   job's new state: the write changes nothing and reports `false`.
/// - **Outcomes are stored, not decided.** An [`Outcome`] says what becomes of the
///   job; the backend stores exactly that (see
///   [`OutcomeColumns`](crate::backend::OutcomeColumns)). An interrupted attempt
///   counts in `interruptions`, not against `max_attempts`.
/// - **Lock order.** Two statements that wait for rows the other holds deadlock under
///   load. A statement that locks several job rows skips rows another transaction
///   holds (claims, lease renewals, the reaper's pick), or locks them in ascending id
///   order; at most one kind of statement per worker waits for such rows (its
///   batched completions), so no two waiters can form a cycle.
/// - **Cancelling a running job.** [`cancel`](Storage::cancel) of a `Running` job
///   changes neither its status nor its lease: it records the request, which
///   [`cancel_requests`](Storage::cancel_requests) then reports to the job's owner,
///   and announces it to every listener of
///   [`listen_cancels`](Storage::listen_cancels). The owner ends the attempt with
///   [`Outcome::Cancelled`], fenced as any completion. A job whose cancel was
///   requested is never made to wait again: an outcome that would (a retry, an
///   interruption, a snooze: the attempt ended, or its lease was reaped, before its
///   owner learnt of the request) is stored as `Cancelled`, finished, with the
///   attempt's error if it had one; a success or a failure is stored as it is.
///   [`retry`](Storage::retry) clears the request.
/// - **Snoozes.** [`Outcome::Snoozed`] gives the attempt back uncharged, as
///   [`release`](Storage::release) does, and makes the job ready after its delay.
/// - **History.** Every attempt keeps its number, worker, start, end and error.
///   A released attempt is removed from the history (it was not charged).
/// - **Not found.** Operations on an unknown id return `None`/`false`, never an error.
/// - **Schedules.** Schedules are rows keyed by name. [`upsert_schedule`]
///   inserts or replaces one and keeps its next tick when its cron and time zone
///   did not change, so a process that declares its schedules at every start loses
///   no tick. [`enqueue_tick`] enqueues a tick **once**, however many handles,
///   processes and machines call it at the same time: the schedule's next tick is
///   compared and set in the transaction that inserts the job, so of all callers
///   that read the same `next_run_at`, exactly one inserts a job and the others
///   change nothing and get `None`. A tick enqueued later than its time (after the
///   caller chose the latest missed one) replaces every older missed tick. A
///   paused or deleted schedule enqueues no tick. The job records its schedule and
///   tick ([`JobRecord::schedule`], [`JobRecord::schedule_tick`]). Racing callers
///   wait only for the schedule's row, never for a job row another statement holds
///   (the job they write is their own new one), so ticks keep out of the lock order
///   of job statements; and jobs enqueued by no schedule pay nothing for schedules.
/// - **Logs and progress.** [`append_logs`](Storage::append_logs) stores lines of
///   jobs that exist (lines of an unknown or deleted job are dropped, not an
///   error), each once: a line is identified by its job, attempt and `seq`, and
///   storing it again (a retried write) keeps the first. It stores at most
///   [`LogLine::MAX_LINES_PER_ATTEMPT`] + 1 lines per attempt (`seq` 0 to that
///   bound, the last one for the worker's note of how many it dropped; lines past
///   it are dropped) and cuts messages longer than [`LogLine::MAX_MESSAGE_BYTES`]
///   ([`LogLine::truncate`]); the byte bound per attempt
///   ([`LogLine::MAX_BYTES_PER_ATTEMPT`]) is kept by the worker, which numbers the
///   lines. [`logs`](Storage::logs) returns a job's lines by attempt, then `seq`.
///   [`set_progress`](Storage::set_progress) stores a job's progress (clamped to
///   0.0 ..= 1.0) only while the update's attempt is the job's latest, so a lost
///   lease's stale report cannot overwrite a newer attempt's. Both lock job rows
///   in ascending id order (`append_logs` at most so that the job is not deleted
///   meanwhile, which no claim, renewal or completion waits for), and workers send
///   them from the same task as their completions, before them, so they add no
///   waiter to the lock order. A job's
///   lines and progress go with it when it is deleted. Jobs whose attempts log
///   nothing pay nothing: no statement and no column written.
/// - **Flows.** [`enqueue_flow`](Storage::enqueue_flow) stores every step of a
///   flow, with its dependencies, in one transaction, or nothing (a flow that
///   [`NewFlow::plan`] refuses stores nothing). Steps are inserted in the plan's
///   order, so a dependency's id is below its dependents'. A step without
///   dependencies is `Pending`; one with dependencies is `Blocked`, and no claim
///   takes it. The database itself, in the transaction (and statement, where the
///   backend records an outcome in one) that changes a step's status, keeps the
///   flow moving, whichever call changed it (a completion, the reaper, a release,
///   [`cancel`](Storage::cancel), [`retry`](Storage::retry),
///   [`delete`](Storage::delete), a claim): a step that becomes `Succeeded` counts
///   down each dependent's unfinished dependencies, and a `Blocked` dependent whose
///   count reaches 0 becomes `Pending` (ready at once, or at its own later
///   `run_at`); a step that becomes `Failed` or `Cancelled`, or is deleted before it
///   succeeded, turns every `Blocked` step that depends on it, directly or
///   transitively, `Cancelled`, finished, with `last_error` "dependency `<step>`
///   failed" (or "was cancelled", "was deleted"), remembering which step cancelled
///   it. [`retry`](Storage::retry) of a step with unfinished dependencies makes it
///   `Blocked` again rather than ready, and brings every step that its failure or
///   cancel cancelled back to `Blocked` (their `last_error` and `finished_at`
///   cleared), so the flow can still finish. [`cancel`](Storage::cancel) cancels a
///   `Blocked` step too. Jobs outside flows pay for none of it: no statement, and
///   no index entry, more than a job had before flows. A statement that records a
///   step's outcome locks the step's dependents after the step itself (their ids
///   are higher), each step's in ascending id order; two batches of completions
///   whose steps share dependents may still wait for each other in crossing orders,
///   and a backend that detects the deadlock fails one batch, which the worker
///   retries whole (nothing of it was stored).
/// - **Rollups.** The backend keeps a watermark and per-minute [`Rollup`] rows,
///   one per (minute a job finished in, name, queue). Every job that became
///   `Succeeded`, `Failed` or `Cancelled` with `finished_at` before the watermark
///   is counted in exactly one row, once for each time it finished (a job retried
///   by hand and finished again counts again); none after it is.
///   [`roll_up`](Storage::roll_up) folds the jobs from the watermark up to at most
///   [`ROLLUP_SPAN`](crate::backend::ROLLUP_SPAN) later, and no later than
///   now − `lag`, into the rows and moves the watermark in the same transaction, so
///   a crash neither drops nor double-counts a job; one process rolls up at a time
///   (another one's call returns at once, caught up). A job whose `finished_at` is
///   stamped more than `lag` before its completion commits could fall behind the
///   watermark; completions commit within their statement's time, so the worker's
///   lag of minutes covers them. [`rollups`](Storage::rollups) returns the stored
///   rows from a minute on plus the jobs past the watermark folded on the fly, read
///   in one snapshot, so its figures are the same whether or not `roll_up` ran.
///   Completions pay one index entry (`finished_at`) for this, and no statement.
/// - **Retention.** [`prune`](Storage::prune) deletes finished jobs past their
///   status's [`Retention`] and before the rollup watermark (never a job not yet
///   counted), at most `batch` jobs outside flows and `batch / 100` (at least one)
///   whole flows per call, each call one short transaction
///   that waits for no job row (claims and enqueues go on); one process prunes at
///   a time. A flow step is deleted only with its whole flow, when every step is
///   finished and past its retention; a job's attempts, log lines and dependency
///   rows go with it, and an empty flow's record with its last step.
/// - **Trace contexts.** A job enqueued with a
///   [`trace_context`](crate::backend::NewJob::trace_context) keeps it, through
///   [`enqueue`](Storage::enqueue) and a caller's transaction alike, until it is
///   deleted (a duplicate stores none); a claim with
///   [`trace_contexts`](crate::backend::ClaimRequest::trace_contexts) set returns
///   it on each claimed job that has one, read after the claim committed: when that
///   read fails, the claim still returns its jobs, without their contexts (a claim
///   that reported an error for jobs it moved to `Running` would leave them to a
///   worker that renews their leases without running them). Jobs without one pay
///   nothing: no row and no statement, and a claim without the flag reads nothing
///   more.
/// - **Counting.** [`count`](Storage::count) returns how many jobs a filter matches
///   with its limit ignored: the jobs [`list`](Storage::list) would return without
///   a limit (with a paging cursor, the jobs older than it).
/// - **Search indexes.** [`create_search_indexes`](Storage::create_search_indexes)
///   builds, once and for every later job, an index of the text of payloads and last
///   errors (by trigrams) and one of creation times; it is idempotent and safe while
///   workers run. Listing and counting with [`JobFilter::text`](crate::JobFilter::text)
///   and creation-time ranges give the same answers with the indexes as without
///   them (a case-sensitive substring of the stored payload text or the last
///   error, any text, of any length), only faster; jobs enqueued, failed or deleted
///   after the indexes were built are found, or not, as without them. Without a
///   call, no job pays for them.
///
/// [`upsert_schedule`]: Storage::upsert_schedule
/// [`enqueue_tick`]: Storage::enqueue_tick
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The backend's name in errors and logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The concrete backend beneath any wrappers: what `kiribi::Kiribi` downcasts to
    /// find backend-specific extras (such as the pool to begin transactions on). A
    /// backend returns `self`; a wrapper returns its inner storage's `as_any()`.
    fn as_any(&self) -> &dyn Any;

    /// Inserts jobs and reports each, in input order: inserted, or a duplicate of
    /// the job that holds its unique key. Jobs without a unique key are inserted in
    /// one round trip.
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>>;

    /// Inserts one job that is `Running` from the start, with one attempt open and its
    /// lease held by `owner` for `lease`: the record of an inline (`run_now`) run.
    async fn enqueue_running(
        &self,
        job: NewJob,
        owner: &WorkerId,
        lease: Duration,
    ) -> Result<ClaimedJob>;

    /// Atomically claims up to `request.limit` ready jobs for `request.worker`, in
    /// claim order.
    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>>;

    /// Extends, to now + `lease`, the lease of every `Running` job owned by `owner`.
    /// Returns how many jobs it extended.
    async fn renew_leases(&self, owner: &WorkerId, lease: Duration) -> Result<u64>;

    /// Records how several attempts ended, in one transaction: all of them or none.
    /// Returns, in input order, whether each lease still held; a completion whose
    /// lease no longer holds changes nothing. The leases are of distinct jobs.
    ///
    /// Workers batch the outcomes of the jobs that finished while the previous write
    /// was in flight, so that a busy worker pays one commit for many jobs.
    async fn complete_many(&self, completions: &[(Lease, Outcome)]) -> Result<Vec<bool>>;

    /// Gives claimed jobs back without charging the attempt: the attempt count
    /// goes back down, the attempt leaves the history and the job is ready again.
    /// Jobs whose lease no longer holds are skipped. Returns how many were released.
    async fn release(&self, leases: &[Lease]) -> Result<u64>;

    /// Takes back `Running` jobs whose lease has expired, storing for each the
    /// outcome that `decide` gives it, in one transaction per batch with the check
    /// that the lease is still expired (a lease renewed meanwhile is left alone).
    /// Returns how many it took back.
    async fn reap_expired(&self, decide: ReapDecision<'_>) -> Result<u64>;

    /// Reads one job.
    async fn get(&self, id: JobId) -> Result<Option<JobRecord>>;

    /// Lists jobs matching `filter`, newest (highest id) first.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>>;

    /// Reads a job's attempts, oldest first.
    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>>;

    /// `Pending`, `Retrying` or `Blocked` → `Cancelled`; for a `Running` job,
    /// records that it is asked to stop (see the contract's *Cancelling a running
    /// job*). `false` for any other state.
    async fn cancel(&self, id: JobId) -> Result<bool>;

    /// The `Running` jobs of `owner` whose cancel was requested, by id. Cheap: it
    /// reads only the owner's running jobs, and workers ask only when they run
    /// jobs and were woken by [`listen_cancels`](Storage::listen_cancels) or their
    /// lease heartbeat came around.
    async fn cancel_requests(&self, owner: &WorkerId) -> Result<Vec<JobId>>;

    /// Subscribes to wake-ups when a `Running` job is asked to stop, by any
    /// process or connection: PostgreSQL's `NOTIFY` on a channel of its own, a
    /// SQLite commit that changed the count of requests. Wake-ups may be spurious
    /// and coalesced, as [`Listener`]'s contract says. `Ok(None)` when the backend
    /// has no such channel: workers then ask
    /// [`cancel_requests`](Storage::cancel_requests) at each lease renewal only.
    async fn listen_cancels(&self) -> Result<Option<Box<dyn Listener>>>;

    /// `Failed`, `Cancelled` or `Retrying` → ready now (`Pending` if it never ran,
    /// else `Retrying`), granting one more attempt when none are left; a flow step
    /// whose dependencies have not all succeeded becomes `Blocked` instead (see the
    /// contract's *Flows*).
    /// `false` for any other state, and when another job of its name holds its
    /// unique key now.
    async fn retry(&self, id: JobId) -> Result<bool>;

    /// A `Pending` job scheduled for later, or a `Retrying` one waiting out its
    /// backoff → due now, its attempts and everything else unchanged (a dashboard's
    /// "run now", a test's drain of delayed jobs). `false` for any other state and for
    /// a job that is due already.
    async fn make_due(&self, id: JobId) -> Result<bool>;

    /// Deletes a job that is not `Running`, with its history. `false` if it is running
    /// or does not exist.
    async fn delete(&self, id: JobId) -> Result<bool>;

    /// Pauses `queue`, whether or not it has jobs: no claim takes its jobs until it
    /// is resumed. Returns `false` if it was paused already.
    async fn pause_queue(&self, queue: &str) -> Result<bool>;

    /// Resumes a paused `queue` (and wakes listeners: its jobs are ready again).
    /// Returns `false` if it was not paused.
    async fn resume_queue(&self, queue: &str) -> Result<bool>;

    /// Every queue that has unfinished jobs or is paused, by name, with its counts.
    async fn queues(&self) -> Result<Vec<QueueInfo>>;

    /// Subscribes to wake-ups when jobs are inserted or made ready by any process or
    /// connection (PostgreSQL's `LISTEN`/`NOTIFY`, SQLite's `data_version`), so that
    /// idle workers start them without waiting for a poll. `Ok(None)` when the
    /// backend has no such channel: workers then rely on in-process wake-ups and
    /// polling.
    async fn listen(&self) -> Result<Option<Box<dyn Listener>>>;

    /// Inserts every step of `flow` and its dependencies in one transaction (see
    /// the contract's *Flows*) and returns the new flow's id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFlow`](crate::Error::InvalidFlow) for a flow that
    /// [`NewFlow::plan`] refuses (nothing is stored); the backend's error otherwise.
    async fn enqueue_flow(&self, flow: &NewFlow) -> Result<FlowId>;

    /// Reads one flow with every step; `None` if there is no such flow.
    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>>;

    /// Lists flows matching `filter`, newest (highest id) first, each with every
    /// step.
    async fn flows(&self, filter: &FlowFilter) -> Result<Vec<FlowRecord>>;

    /// Cancels every step of flow `id` that has not finished, in one transaction:
    /// `Blocked`, `Pending` and `Retrying` steps become `Cancelled`, and a `Running`
    /// step is asked to stop as [`cancel`](Storage::cancel) asks it. The steps it
    /// cancels keep their `last_error` and record no step as having cancelled them,
    /// so that retrying one of them later brings back none of the others. Returns
    /// how many steps it cancelled or asked to stop (0 for an unknown or finished
    /// flow). Locks the flow's steps in ascending id order.
    async fn cancel_flow(&self, id: FlowId) -> Result<u64>;

    /// The jobs that job `id` depends on as a flow step, by id: empty for a job
    /// outside flows, a step without dependencies, or an unknown id.
    async fn dependencies(&self, id: JobId) -> Result<Vec<JobRecord>>;

    /// Inserts schedule `schedule.name`, or updates the stored one of that name, and
    /// returns it as stored.
    ///
    /// An update replaces the job name, payload, queue, priority, attempts, cron and
    /// time zone, and the paused state when `schedule.paused` is `Some`. Its
    /// `next_run_at` becomes `schedule.next_run_at` only if the cron or the time zone
    /// changed, or the update resumes a paused schedule; otherwise the stored next
    /// tick stays, so that a tick missed while no process ran is still found. Its
    /// run history (`last_run_at`, `last_job_id`) stays.
    async fn upsert_schedule(&self, schedule: &NewSchedule) -> Result<ScheduleRecord>;

    /// Every schedule, by name.
    async fn schedules(&self) -> Result<Vec<ScheduleRecord>>;

    /// Deletes schedule `name`; `false` if there is none. Jobs it enqueued stay.
    async fn delete_schedule(&self, name: &str) -> Result<bool>;

    /// Pauses or resumes schedule `name`; resuming with `next_run_at` makes that its
    /// next tick (so that ticks missed while paused are skipped). `false` if there
    /// is no such schedule.
    async fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_run_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<bool>;

    /// Enqueues a job of schedule `tick.schedule` in one transaction with the
    /// schedule's update, and returns its id; `None` when nothing was enqueued.
    ///
    /// For a due tick ([`ScheduleTick::due`]): only if the schedule exists, is not
    /// paused and its `next_run_at` is still `due.expected`; it then sets
    /// `next_run_at` to `due.next_run_at`, `last_run_at` to `due.tick` and
    /// `last_job_id` to the new job, which records the schedule and the tick. For a
    /// run by hand ([`ScheduleTick::now`]): if the schedule exists, whether paused or
    /// not; the job records the schedule and no tick, and only `last_job_id` changes.
    async fn enqueue_tick(&self, tick: &ScheduleTick) -> Result<Option<JobId>>;

    /// Stores log lines of job attempts, in one round trip, as the contract's
    /// *Logs and progress* says: each line once, within the bound, only for jobs
    /// that exist. The lines may be of many jobs and in any order.
    async fn append_logs(&self, lines: &[NewLogLine]) -> Result<()>;

    /// Stores the progress of jobs, in one round trip: each update applies only
    /// while its attempt is its job's latest. One update per job.
    async fn set_progress(&self, progress: &[ProgressUpdate]) -> Result<()>;

    /// A job's log lines, by attempt, then `seq`; empty for an unknown id.
    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>>;

    /// Folds jobs finished since the watermark into the rollups, as the contract's
    /// *Rollups* says: one short transaction, up to now − `lag`.
    async fn roll_up(&self, lag: Duration) -> Result<RollupProgress>;

    /// The rollup rows of the minutes from `since`'s on, the stored ones and the
    /// jobs past the watermark folded, in one snapshot (several rows may share a
    /// key; they add up).
    async fn rollups(&self, since: DateTime<Utc>) -> Result<Vec<Rollup>>;

    /// Deletes finished jobs that `retention` no longer keeps and that were rolled
    /// up, a batch of them, as the contract's *Retention* says; returns how many.
    async fn prune(&self, retention: &Retention, batch: u32) -> Result<u64>;

    /// How many jobs `filter` matches, its limit aside (see *Counting*).
    async fn count(&self, filter: &JobFilter) -> Result<u64>;

    /// Builds the indexes of the contract's *Search indexes* if they are not there
    /// yet, reading every job once (see the backend's docs for what it costs).
    async fn create_search_indexes(&self) -> Result<()>;
}

/// A stream of wake-ups from the database; see [`Storage::listen`].
///
/// # Contract
///
/// [`recv`](Listener::recv) resolves at least once after every committed insert of a
/// job, by any connection of any process, that happens after the listener was made.
/// Wake-ups may be coalesced (one for many inserts) and may be spurious. When the
/// connection drops, the listener reconnects by itself and then reports one wake-up,
/// since inserts made while it was away were not announced; it returns an error
/// only when it cannot reconnect, and may be called again after that.
#[async_trait]
pub trait Listener: Send {
    /// Waits for the next wake-up.
    async fn recv(&mut self) -> Result<()>;
}
