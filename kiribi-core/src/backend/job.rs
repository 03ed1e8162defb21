//! The values that cross the `Storage` trait: new jobs, claims, leases and outcomes.
//!
//! Every type here is `#[non_exhaustive]` and built through a constructor and
//! `with_*` setters, so that a later feature (a unique key, a concurrency key, flow
//! edges, a trace context) adds a field without breaking any backend. Backends read
//! the public fields.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{EnqueueOptions, JobId};

/// A job to insert: what `enqueue` hands to a backend.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::NewJob;
///
/// let job = NewJob::new("send_welcome", serde_json::json!({ "user_id": 7 }))
///     .with_queue("mail")
///     .with_priority(3)
///     .with_delay(Duration::from_secs(60));
/// assert_eq!((job.queue.as_str(), job.priority, job.max_attempts), ("mail", 3, 5));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewJob {
    /// The stable job name.
    pub name: String,
    /// The queue to wait in.
    pub queue: String,
    /// The job's arguments.
    pub payload: serde_json::Value,
    /// Higher runs first.
    pub priority: i32,
    /// Total attempts allowed (≥ 1).
    pub max_attempts: u32,
    /// Wait this long after insertion, by the database's clock.
    pub delay: Duration,
    /// Run no earlier than this; takes precedence over `delay`.
    pub run_at: Option<DateTime<Utc>>,
    /// The key that makes this job unique among jobs of its name, if any.
    pub unique: Option<UniqueKey>,
    /// How many attempts of its group may run at once or start per period, if
    /// limited.
    pub limits: Option<JobLimits>,
    /// The trace context of the span it was enqueued in, as a W3C `traceparent`
    /// (`00-<trace id>-<span id>-<flags>`), kept with the job so that its
    /// attempts continue the trace; `None` for most jobs, which then store nothing
    /// for it.
    pub trace_context: Option<String>,
}

/// The limits on a job's attempts, enforced by claims across every worker: its
/// group is its name and [`key`](Self::key), and at most
/// [`concurrency`](Self::concurrency) jobs of the group run at once, at most
/// [`rate`](Self::rate) are claimed per period.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::{JobLimits, NewJob, RateLimit};
///
/// let job = NewJob::new("charge", serde_json::json!({ "account_id": 7 }))
///     .with_limits(JobLimits::new("7").with_concurrency(2).with_rate(RateLimit::new(10, Duration::from_secs(1))));
/// assert_eq!(job.limits.unwrap().concurrency, Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobLimits {
    /// The group within the job's name (`""`: one group for the name).
    pub key: String,
    /// At most this many jobs of the group run at once (≥ 1).
    pub concurrency: Option<u32>,
    /// At most this many jobs of the group are claimed in any window of the period.
    pub rate: Option<RateLimit>,
}

impl JobLimits {
    /// The group `key`, with no limit yet.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            concurrency: None,
            rate: None,
        }
    }

    /// At most `limit` jobs of the group run at once (0 is taken as 1).
    #[must_use]
    pub fn with_concurrency(mut self, limit: u32) -> Self {
        self.concurrency = Some(limit.max(1));
        self
    }

    /// At most `rate.count` jobs of the group are claimed per `rate.period`.
    #[must_use]
    pub fn with_rate(mut self, rate: RateLimit) -> Self {
        self.rate = Some(rate);
        self
    }
}

/// At most [`count`](Self::count) starts in any window of [`period`](Self::period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Starts allowed per window (≥ 1).
    pub count: u32,
    /// The window's length (≥ 1 ms).
    pub period: Duration,
}

impl RateLimit {
    /// `count` starts per `period` (0 is taken as 1; a period under 1 ms as 1 ms).
    pub const fn new(count: u32, period: Duration) -> Self {
        const SHORTEST: Duration = Duration::from_millis(1);
        Self {
            count: if count == 0 { 1 } else { count },
            period: if period.as_nanos() < SHORTEST.as_nanos() {
                SHORTEST
            } else {
                period
            },
        }
    }
}

/// A job's unique key: while a job of the same name holds it, enqueueing another
/// job with it inserts nothing (see [`Storage::enqueue`](crate::Storage::enqueue)).
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{NewJob, UniqueKey};
///
/// let job = NewJob::new("sync_user", serde_json::json!({ "user_id": 7 }))
///     .with_unique(UniqueKey::while_unfinished("user:7"));
/// assert_eq!(job.unique.unwrap().key, "user:7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UniqueKey {
    /// The key, compared among jobs of one name.
    pub key: String,
    /// Whether the job holds the key in every state, finished included (a key for a
    /// period, which names its window), rather than only until it finishes.
    pub in_any_state: bool,
}

impl UniqueKey {
    /// A key held while its job is `Pending`, `Running`, `Retrying` or `Blocked`:
    /// once the job finished, the key can be enqueued again.
    pub fn while_unfinished(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            in_any_state: false,
        }
    }

    /// A key held by its job in every state, until the job is deleted.
    pub fn in_any_state(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            in_any_state: true,
        }
    }
}

impl NewJob {
    /// A job in the `default` queue with priority 0, 5 attempts and no delay.
    pub fn new(name: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            queue: "default".to_owned(),
            payload,
            priority: 0,
            max_attempts: 5,
            delay: Duration::ZERO,
            run_at: None,
            unique: None,
            limits: None,
            trace_context: None,
        }
    }

    /// Sets the trace context the job's attempts continue (see
    /// [`trace_context`](Self::trace_context)).
    #[must_use]
    pub fn with_trace_context(mut self, traceparent: impl Into<String>) -> Self {
        self.trace_context = Some(traceparent.into());
        self
    }

    /// Whether the job has neither a unique key nor limits: a backend may insert
    /// such jobs many to a statement, where the others need a statement each (a
    /// unique key may be refused; their columns differ).
    pub fn is_plain(&self) -> bool {
        self.unique.is_none() && self.limits.is_none()
    }

    /// Limits the job's group (see [`JobLimits`]).
    #[must_use]
    pub fn with_limits(mut self, limits: JobLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Makes the job unique by `key` among jobs of its name.
    #[must_use]
    pub fn with_unique(mut self, key: UniqueKey) -> Self {
        self.unique = Some(key);
        self
    }

    /// Puts the job in `queue`.
    #[must_use]
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets its priority (higher runs first).
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the total attempts allowed; 0 is taken as 1 (callers validate first:
    /// `EnqueueOptions` and `#[job]` refuse 0).
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Makes it wait `delay` after insertion, by the database's clock.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self.run_at = None;
        self
    }

    /// Makes it wait until `at`.
    #[must_use]
    pub fn with_run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Applies the overrides set in `options`.
    #[must_use]
    pub fn with_options(mut self, options: &EnqueueOptions) -> Self {
        if let Some(queue) = &options.queue {
            self.queue.clone_from(queue);
        }
        if let Some(priority) = options.priority {
            self.priority = priority;
        }
        if let Some(max_attempts) = options.max_attempts {
            self.max_attempts = max_attempts.max(1);
        }
        if let Some(delay) = options.delay {
            self = self.with_delay(delay);
        }
        if let Some(run_at) = options.run_at {
            self.run_at = Some(run_at);
        }
        self
    }
}

/// What became of one job handed to [`Storage::enqueue`](crate::Storage::enqueue).
///
/// # Examples
///
/// ```
/// use kiribi_core::JobId;
/// use kiribi_core::backend::Enqueued;
///
/// let new = Enqueued::inserted(JobId::from_i64(7));
/// assert!(!new.duplicate);
/// assert!(Enqueued::duplicate_of(JobId::from_i64(3)).duplicate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Enqueued {
    /// The job's id: the new job's, or the id of the equal job that already exists.
    pub id: JobId,
    /// Whether nothing was inserted because an equal job exists (unique jobs).
    pub duplicate: bool,
}

impl Enqueued {
    /// A job that was inserted with `id`.
    pub const fn inserted(id: JobId) -> Self {
        Self {
            id,
            duplicate: false,
        }
    }

    /// A job that was not inserted because job `id` already holds its place.
    pub const fn duplicate_of(id: JobId) -> Self {
        Self {
            id,
            duplicate: true,
        }
    }
}

/// The identity of whoever holds leases: a worker, or one inline (`run_now`) run.
///
/// Stored as the lease owner of the jobs it runs. Cheap to clone. Made unique by
/// the caller (kiribi draws 64 random bits for each worker); backends only compare
/// it.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::WorkerId;
///
/// let id = WorkerId::new("worker:web-1:42:9f2c");
/// assert_eq!(id.as_str(), "worker:web-1:42:9f2c");
/// assert_eq!(id.to_string(), "worker:web-1:42:9f2c");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(Arc<str>);

impl WorkerId {
    /// An identity from its text.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The text stored as the lease owner.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// What a worker asks of [`Storage::claim`](crate::Storage::claim).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::{ClaimRequest, WorkerId};
///
/// let request = ClaimRequest::new(WorkerId::new("worker-1"), Duration::from_secs(30))
///     .with_names(["send_welcome"])
///     .with_queues(["mail"])
///     .with_limit(10);
/// assert_eq!(request.limit, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// The claiming worker; it becomes the lease owner.
    pub worker: WorkerId,
    /// Only jobs with one of these names (the ones this worker can run).
    pub names: Vec<String>,
    /// Only jobs in these queues; `None` serves every queue.
    pub queues: Option<Vec<String>>,
    /// At most this many jobs.
    pub limit: usize,
    /// How long the lease lasts unless renewed.
    pub lease: Duration,
    /// The names among [`names`](Self::names) whose jobs may carry
    /// [`JobLimits`]: only for these does the backend look for limited jobs (the
    /// worker declares them; a claim without any pays nothing for limits).
    pub limited_names: Vec<String>,
    /// Whether limited jobs of [`limited_names`](Self::limited_names) may be
    /// waiting, as the backend learned it at the previous claim of the same
    /// worker: while they are not, a claim skips its search for them. A request
    /// made with [`new`](Self::new) has a fresh hint, which says they may be.
    pub limited_hint: LimitedHint,
    /// Whether the claimed jobs come with their stored
    /// [`trace_context`](ClaimedJob::trace_context) (a worker built with
    /// OpenTelemetry asks; without it a claim reads nothing more).
    pub trace_contexts: bool,
}

/// A backend's memory, from one claim of a worker to the next, of whether ready
/// jobs with [`JobLimits`] may be waiting for it; part of a [`ClaimRequest`].
///
/// Claiming limited jobs costs more than claiming plain ones (on SQLite a write
/// transaction, on PostgreSQL a transaction and advisory locks), so a backend that
/// finds none waiting may say so here and, at the next claim, only look whether some
/// are waiting (a cheap probe in its claim of plain jobs) instead of trying to claim
/// them. A hint is never a reason to pass over a waiting limited job: a backend that
/// sets it to "none waiting" claims them in the same claim where its probe sees them
/// again. Clones share the hint; a worker keeps one for all its claims.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::LimitedHint;
///
/// let hint = LimitedHint::default();
/// assert!(hint.may_be_waiting());
/// hint.set(false);
/// assert!(!hint.clone().may_be_waiting());
/// ```
#[derive(Debug, Clone)]
pub struct LimitedHint(Arc<AtomicBool>);

impl LimitedHint {
    /// Whether limited jobs may be waiting: true unless a claim found none.
    pub fn may_be_waiting(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Records what a claim found.
    pub fn set(&self, waiting: bool) {
        self.0.store(waiting, Ordering::Relaxed);
    }
}

impl Default for LimitedHint {
    /// A hint that knows nothing yet: limited jobs may be waiting.
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

/// Hints never make two requests differ: they ask for the same jobs.
impl PartialEq for LimitedHint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for LimitedHint {}

impl ClaimRequest {
    /// A request of `worker` for leases of `lease`, for no names yet and one job.
    pub fn new(worker: WorkerId, lease: Duration) -> Self {
        Self {
            worker,
            names: Vec::new(),
            queues: None,
            limit: 1,
            lease,
            limited_names: Vec::new(),
            limited_hint: LimitedHint::default(),
            trace_contexts: false,
        }
    }

    /// Keeps what claims learn about limited jobs in `hint`, shared with the
    /// worker's other requests (see [`LimitedHint`]).
    #[must_use]
    pub fn with_limited_hint(mut self, hint: LimitedHint) -> Self {
        self.limited_hint = hint;
        self
    }

    /// Looks for limited jobs of these names too.
    #[must_use]
    pub fn with_limited_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.limited_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only jobs with these names.
    #[must_use]
    pub fn with_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only jobs in these queues.
    #[must_use]
    pub fn with_queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// Jobs in every queue (the default).
    #[must_use]
    pub fn with_every_queue(mut self) -> Self {
        self.queues = None;
        self
    }

    /// At most `limit` jobs.
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Asks for the claimed jobs' trace contexts (see
    /// [`trace_contexts`](Self::trace_contexts)).
    #[must_use]
    pub fn with_trace_contexts(mut self, trace_contexts: bool) -> Self {
        self.trace_contexts = trace_contexts;
        self
    }
}

/// One attempt of one job held by one owner: the fence of every write about it.
///
/// A write with a lease applies only while the job is still `Running` in that very
/// attempt *and* owned by that owner. A worker whose lease was lost (the job was
/// reaped, re-claimed, cancelled or deleted) holds a stale lease, so its write
/// changes nothing. The owner is part of the fence so that an attempt number handed
/// out twice (by a claim that a database crash lost, for instance) still cannot
/// let one owner overwrite another's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// The attempt the holder is running (1-based).
    pub attempt: u32,
    /// Who holds it.
    pub owner: WorkerId,
}

impl Lease {
    /// The lease of attempt `attempt` of job `id`, held by `owner`.
    pub fn new(id: JobId, attempt: u32, owner: WorkerId) -> Self {
        Self { id, attempt, owner }
    }
}

/// A job handed to a worker by a claim: the worker now holds its lease.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobId;
/// use kiribi_core::backend::{ClaimedJob, Lease, WorkerId};
///
/// let lease = Lease::new(JobId::from_i64(7), 1, WorkerId::new("worker-1"));
/// let job = ClaimedJob::new(lease, "send_welcome", serde_json::json!({ "user_id": 7 }))
///     .with_max_attempts(3);
/// assert_eq!((job.id(), job.attempt(), job.charged_attempts()), (JobId::from_i64(7), 1, 1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClaimedJob {
    /// The lease the worker now holds.
    pub lease: Lease,
    /// The stable job name.
    pub name: String,
    /// The queue it came from.
    pub queue: String,
    /// The job's arguments.
    pub payload: serde_json::Value,
    /// Total attempts allowed, interrupted ones not counted.
    pub max_attempts: u32,
    /// How many earlier attempts were interrupted (their worker was lost) and so
    /// were not charged against `max_attempts`.
    pub interruptions: u32,
    /// When this attempt became due (the job's `run_at` when it was claimed), for
    /// the wait-time metric; `None` when the backend did not say.
    pub due_at: Option<DateTime<Utc>>,
    /// The trace context the job was enqueued with, when the claim asked for it
    /// ([`ClaimRequest::trace_contexts`]).
    pub trace_context: Option<String>,
}

impl ClaimedJob {
    /// A claimed job in the `default` queue with 5 attempts and no interruptions.
    pub fn new(lease: Lease, name: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            lease,
            name: name.into(),
            queue: "default".to_owned(),
            payload,
            max_attempts: 5,
            interruptions: 0,
            due_at: None,
            trace_context: None,
        }
    }

    /// Sets when this attempt became due.
    #[must_use]
    pub fn with_due_at(mut self, due_at: DateTime<Utc>) -> Self {
        self.due_at = Some(due_at);
        self
    }

    /// Sets the queue it came from.
    #[must_use]
    pub fn with_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Sets the total attempts allowed.
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets how many earlier attempts were interrupted.
    #[must_use]
    pub fn with_interruptions(mut self, interruptions: u32) -> Self {
        self.interruptions = interruptions;
        self
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.lease.id
    }

    /// This attempt's 1-based number, interrupted attempts included.
    pub fn attempt(&self) -> u32 {
        self.lease.attempt
    }

    /// How many attempts count against `max_attempts`, this one included.
    pub fn charged_attempts(&self) -> u32 {
        self.lease.attempt.saturating_sub(self.interruptions)
    }
}

/// A `Running` job whose lease ran out: what
/// [`Storage::reap_expired`](crate::Storage::reap_expired) hands to the decision
/// that says what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpiredLease {
    /// The lease that ran out.
    pub lease: Lease,
    /// Total attempts allowed, interrupted ones not counted.
    pub max_attempts: u32,
    /// How many earlier attempts were interrupted.
    pub interruptions: u32,
}

impl ExpiredLease {
    /// The expired `lease` of a job with `max_attempts` and `interruptions`.
    pub fn new(lease: Lease, max_attempts: u32, interruptions: u32) -> Self {
        Self {
            lease,
            max_attempts,
            interruptions,
        }
    }
}

/// How an attempt ended, as the worker's failure policy decided it. Backends store
/// it; they do not decide again.
///
/// Build one with its constructors; a backend maps it to columns with
/// [`OutcomeColumns::of`](crate::backend::OutcomeColumns::of).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::Outcome;
///
/// let retry = Outcome::retry("smtp timed out", Duration::from_secs(2));
/// assert_eq!(retry.error(), Some("smtp timed out"));
/// assert_eq!(Outcome::succeeded(None).error(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The job finished; its serialized output (`None` for `()`).
    #[non_exhaustive]
    Succeeded {
        /// The job's output as JSON.
        result: Option<serde_json::Value>,
    },
    /// The attempt failed and another one is due after `delay`.
    #[non_exhaustive]
    Retry {
        /// Why the attempt failed.
        error: String,
        /// How long to wait, by the database's clock.
        delay: Duration,
    },
    /// The job failed for good.
    #[non_exhaustive]
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
    /// The attempt was cut short through no fault of the job (its worker was lost):
    /// the job is ready again at once, and the attempt is not charged against
    /// `max_attempts` (it counts as an interruption instead).
    #[non_exhaustive]
    Interrupted {
        /// What happened.
        error: String,
    },
    /// The job was asked to stop while it ran (see
    /// [`Storage::cancel`](crate::Storage::cancel)): it is `Cancelled`, finished,
    /// and never retried, whatever the attempt returned.
    #[non_exhaustive]
    Cancelled {
        /// How the attempt ended, stored as its error.
        reason: String,
    },
    /// The job asked to wait `delay` before its next attempt (`JobError::snooze`):
    /// the attempt is given back uncharged, as by
    /// [`Storage::release`](crate::Storage::release), and the job waits.
    #[non_exhaustive]
    Snoozed {
        /// How long to wait, by the database's clock.
        delay: Duration,
    },
}

impl Outcome {
    /// The job finished with `result`.
    pub fn succeeded(result: Option<serde_json::Value>) -> Self {
        Outcome::Succeeded { result }
    }

    /// The attempt failed with `error`; retry after `delay`.
    pub fn retry(error: impl Into<String>, delay: Duration) -> Self {
        Outcome::Retry {
            error: error.into(),
            delay,
        }
    }

    /// The job failed for good with `error`.
    pub fn failed(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
        }
    }

    /// The attempt was interrupted, for the reason `error`.
    pub fn interrupted(error: impl Into<String>) -> Self {
        Outcome::Interrupted {
            error: error.into(),
        }
    }

    /// The job was cancelled while it ran; `reason` says how the attempt ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi_core::backend::Outcome;
    ///
    /// let cancelled = Outcome::cancelled("cancelled while running");
    /// assert_eq!(cancelled.error(), Some("cancelled while running"));
    /// ```
    pub fn cancelled(reason: impl Into<String>) -> Self {
        Outcome::Cancelled {
            reason: reason.into(),
        }
    }

    /// The job waits `delay` without being charged the attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi_core::backend::Outcome;
    ///
    /// let snoozed = Outcome::snoozed(Duration::from_secs(5));
    /// assert_eq!(snoozed.error(), None);
    /// ```
    pub fn snoozed(delay: Duration) -> Self {
        Outcome::Snoozed { delay }
    }

    /// The attempt's error, if it ended in one (a snooze is not an error).
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded { .. } | Outcome::Snoozed { .. } => None,
            Outcome::Retry { error, .. }
            | Outcome::Failed { error }
            | Outcome::Interrupted { error }
            | Outcome::Cancelled { reason: error } => Some(error),
        }
    }
}
