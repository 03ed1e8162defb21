//! The `Job` trait that `#[job]` implements, and a job's declared configuration.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use kiribi_core::backend::RateLimit;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Backoff, JobContext, JobError, RetryPolicy};

/// A boxed, `Send` future, as returned by [`Job::run`] and the generated `enqueue`s.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A job: its payload type, its stable name and defaults, and how to run it.
///
/// `#[kiribi::job]` implements it on the payload struct it generates; write it by hand
/// only for jobs whose payload is not a list of fn arguments.
///
/// # Examples
///
/// ```
/// use kiribi::{BoxFuture, Job, JobConfig, JobContext, JobError};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
/// struct Ping;
///
/// impl Job for Ping {
///     const CONFIG: JobConfig = JobConfig::new("ping").queue("health");
///     type Output = ();
///     fn run(self, _ctx: JobContext) -> BoxFuture<'static, Result<(), JobError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// assert_eq!(Ping::CONFIG.queue, "health");
/// ```
pub trait Job: Serialize + DeserializeOwned + std::fmt::Debug + Clone + Send + 'static {
    /// The job's stable name and defaults.
    const CONFIG: JobConfig;

    /// What the job returns on success; stored as the job's result.
    type Output: Serialize + Send + 'static;

    /// Runs one attempt.
    fn run(self, ctx: JobContext) -> BoxFuture<'static, Result<Self::Output, JobError>>;
}

/// A job's stable name and defaults, as declared by `#[job(…)]`.
///
/// Every value here is a default that [`EnqueueOptions`](crate::EnqueueOptions) can
/// override per call (all but `name`, `retry` and `timeout`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi::{Backoff, JobConfig};
///
/// const CONFIG: JobConfig = JobConfig::new("media.resize")
///     .queue("media")
///     .max_attempts(5)
///     .backoff(Backoff::Exponential)
///     .retry_delay(Duration::from_secs(2))
///     .timeout(Duration::from_secs(30))
///     .priority(10);
/// assert_eq!(CONFIG.retry.retry_delay, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobConfig {
    /// The name stored in the database; workers find the code by it.
    pub name: &'static str,
    /// The default queue (`"default"`).
    pub queue: &'static str,
    /// Total attempts allowed (5).
    pub max_attempts: u32,
    /// How long to wait between attempts (exponential from 1 s).
    pub retry: RetryPolicy,
    /// How long an attempt may run before it is dropped and counted as failed (none).
    pub timeout: Option<Duration>,
    /// Higher runs first (0).
    pub priority: i32,
    /// What makes a job unique among jobs of its name (none).
    pub unique: Option<Unique>,
    /// At most this many attempts run at once, across every worker, per
    /// [`concurrency_key`](Self::concurrency_key) value (no limit).
    pub concurrency: Option<u32>,
    /// The payload field whose value makes a group for the limits (none: one group
    /// for the job's name).
    pub concurrency_key: Option<&'static str>,
    /// At most this many attempts start per period, across every worker, per
    /// [`concurrency_key`](Self::concurrency_key) value (no limit).
    pub rate_limit: Option<RateLimit>,
    /// The cron expression of the job's schedule, declared by every worker at start
    /// (none). Only for a job without payload parameters: its schedule enqueues a
    /// `null` payload.
    pub cron: Option<&'static str>,
    /// The IANA time zone `cron` is read in (none: UTC).
    pub timezone: Option<&'static str>,
}

/// What makes a job unique, as `#[job(unique)]` declares it: the key is made of the
/// whole payload or of some of its fields, held while the job is unfinished, or for
/// a window of time whatever becomes of the job.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi::{JobConfig, Unique};
///
/// // #[job(name = "digest", unique(fields = [user_id], period = "1h"))]
/// const CONFIG: JobConfig = JobConfig::new("digest")
///     .unique(Unique::fields(&["user_id"]).period(Duration::from_secs(3600)));
/// assert_eq!(CONFIG.unique.unwrap().fields, Some(&["user_id"][..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unique {
    /// The payload fields the key is made of, in this order; `None` for the whole
    /// payload.
    pub fields: Option<&'static [&'static str]>,
    /// The length of the windows (aligned to the Unix epoch) for which a key is
    /// held whatever becomes of its job; `None` to hold it while the job is
    /// `Pending`, `Running`, `Retrying` or `Blocked`.
    pub period: Option<Duration>,
}

impl Unique {
    /// A key made of the whole payload: `#[job(unique)]`.
    pub const fn payload() -> Self {
        Self {
            fields: None,
            period: None,
        }
    }

    /// A key made of these payload fields: `#[job(unique(fields = [a, b]))]`.
    pub const fn fields(fields: &'static [&'static str]) -> Self {
        Self {
            fields: Some(fields),
            period: None,
        }
    }

    /// Holds the key for windows of `period`: `unique(period = "1h")`.
    ///
    /// # Panics
    ///
    /// For a period under a millisecond (a compile error in a `const`).
    pub const fn period(mut self, period: Duration) -> Self {
        assert!(
            period.as_millis() >= 1,
            "a unique `period` must be at least 1 ms: it is the length of a window"
        );
        self.period = Some(period);
        self
    }
}

impl JobConfig {
    /// The defaults: queue `default`, 5 attempts, exponential backoff from 1 s, no
    /// timeout, priority 0.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            queue: "default",
            max_attempts: 5,
            retry: RetryPolicy::new(Backoff::Exponential, Duration::from_secs(1)),
            timeout: None,
            priority: 0,
            unique: None,
            concurrency: None,
            concurrency_key: None,
            rate_limit: None,
            cron: None,
            timezone: None,
        }
    }

    /// Sets the default queue.
    pub const fn queue(mut self, queue: &'static str) -> Self {
        self.queue = queue;
        self
    }

    /// Sets the total attempts allowed, the first included (at least 1, as
    /// `#[job(max_attempts = …)]` requires).
    ///
    /// # Panics
    ///
    /// For 0. `CONFIG` is a `const`, so there the panic is a compile error:
    ///
    /// ```compile_fail
    /// const CONFIG: kiribi::JobConfig = kiribi::JobConfig::new("ping").max_attempts(0);
    /// # fn main() { let _ = CONFIG; }
    /// ```
    pub const fn max_attempts(mut self, max_attempts: u32) -> Self {
        assert!(
            max_attempts >= 1,
            "`max_attempts` must be at least 1: it counts the first attempt"
        );
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the backoff strategy.
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.retry.backoff = backoff;
        self
    }

    /// Sets the base delay between attempts.
    pub const fn retry_delay(mut self, retry_delay: Duration) -> Self {
        self.retry.retry_delay = retry_delay;
        self
    }

    /// Sets the longest time an attempt may run.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the default priority.
    pub const fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Makes jobs unique among jobs of this name (see [`Unique`]).
    pub const fn unique(mut self, unique: Unique) -> Self {
        self.unique = Some(unique);
        self
    }

    /// Lets at most `limit` attempts run at once across every worker (per
    /// [`concurrency_key`](Self::concurrency_key) value, when set).
    ///
    /// # Panics
    ///
    /// For 0 (a compile error in a `const`).
    pub const fn concurrency(mut self, limit: u32) -> Self {
        assert!(limit >= 1, "`concurrency` must be at least 1");
        self.concurrency = Some(limit);
        self
    }

    /// Applies the limits per distinct value of the payload field `field`.
    pub const fn concurrency_key(mut self, field: &'static str) -> Self {
        self.concurrency_key = Some(field);
        self
    }

    /// Lets at most `rate.count` attempts start per `rate.period` across every
    /// worker (per [`concurrency_key`](Self::concurrency_key) value, when set).
    pub const fn rate_limit(mut self, rate: RateLimit) -> Self {
        self.rate_limit = Some(rate);
        self
    }

    /// Whether jobs of this kind have limits that claims enforce.
    pub(crate) const fn is_limited(&self) -> bool {
        self.concurrency.is_some() || self.rate_limit.is_some()
    }

    /// Enqueues the job at each tick of `cron` (5 fields, minute first; 6 fields,
    /// seconds first; or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`):
    /// every worker declares this schedule, named after the job, when it starts.
    ///
    /// `#[job(cron = …)]` checks the expression at compile time; a hand-written one
    /// that does not parse is reported by the worker's cron service.
    ///
    /// # Examples
    ///
    /// ```
    /// const CONFIG: kiribi::JobConfig = kiribi::JobConfig::new("heartbeat")
    ///     .cron("*/2 * * * * *")
    ///     .timezone("Asia/Tokyo");
    /// assert_eq!(CONFIG.cron, Some("*/2 * * * * *"));
    /// ```
    pub const fn cron(mut self, cron: &'static str) -> Self {
        self.cron = Some(cron);
        self
    }

    /// Reads [`cron`](Self::cron) in `timezone`, an IANA name (default UTC).
    pub const fn timezone(mut self, timezone: &'static str) -> Self {
        self.timezone = Some(timezone);
        self
    }
}
