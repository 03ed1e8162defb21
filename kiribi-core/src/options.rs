//! `EnqueueOptions`: per-call overrides of a job's defaults.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Overrides for one enqueue: delay, priority, queue, attempts.
///
/// Every setting left alone keeps the default declared on the job with `#[job(…)]`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::EnqueueOptions;
///
/// let options = EnqueueOptions::new()
///     .delay(Duration::from_secs(60))
///     .priority(5)
///     .queue("urgent")
///     .max_attempts(2);
/// assert_eq!(options.get_queue(), Some("urgent"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "options do nothing until passed to `enqueue_with`"]
pub struct EnqueueOptions {
    pub(crate) delay: Option<Duration>,
    pub(crate) run_at: Option<DateTime<Utc>>,
    pub(crate) priority: Option<i32>,
    pub(crate) queue: Option<String>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) unique_key: Option<String>,
    pub(crate) unique_period: Option<Duration>,
    pub(crate) concurrency_key: Option<String>,
}

impl EnqueueOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Run no earlier than `delay` from now (measured by the database's clock).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self.run_at = None;
        self
    }

    /// Run no earlier than `at`. Replaces any [`delay`](Self::delay).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self.delay = None;
        self
    }

    /// Higher runs first among ready jobs.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Put the job in this queue instead of the job's own.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Total attempts allowed, the first included: at least 1, as `#[job(max_attempts)]`
    /// requires. An enqueue with 0 fails with [`Error::InvalidOption`](crate::Error::InvalidOption).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts);
        self
    }

    /// Makes the job unique by `key` among jobs of its name, in place of the key
    /// `#[job(unique)]` makes from its payload: while a job of the same name holds
    /// the key (it is `Pending`, `Running`, `Retrying` or `Blocked`), enqueueing
    /// another one inserts nothing and returns the holder's id.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Holds the job's unique key (its own, or [`unique_key`](Self::unique_key))
    /// for the window of length `period` it is enqueued in (windows are aligned to
    /// the Unix epoch), whatever becomes of the job: at most one job of the name and
    /// key per window. Replaces the `period` of `#[job(unique(period = …))]`.
    pub fn unique_period(mut self, period: Duration) -> Self {
        self.unique_period = Some(period);
        self
    }

    /// Counts the job against its limits (`#[job(concurrency = …)]`,
    /// `#[job(rate_limit = …)]`) in the group `key`, in place of the one its
    /// `concurrency_key` field gives: the limits hold per distinct key.
    pub fn concurrency_key(mut self, key: impl Into<String>) -> Self {
        self.concurrency_key = Some(key.into());
        self
    }

    /// The concurrency key override, if any.
    pub fn get_concurrency_key(&self) -> Option<&str> {
        self.concurrency_key.as_deref()
    }

    /// Checks the settings that have a range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for `max_attempts(0)`,
    /// an empty `unique_key` or a `unique_period` under a millisecond.
    pub fn validate(&self) -> crate::Result<()> {
        if self.max_attempts == Some(0) {
            return Err(crate::Error::InvalidOption {
                option: "max_attempts",
                reason: "it must be at least 1: it counts the first attempt".to_owned(),
            });
        }
        if self.unique_key.as_deref().is_some_and(str::is_empty) {
            return Err(crate::Error::InvalidOption {
                option: "unique_key",
                reason: "it cannot be empty".to_owned(),
            });
        }
        if self
            .unique_period
            .is_some_and(|period| period < Duration::from_millis(1))
        {
            return Err(crate::Error::InvalidOption {
                option: "unique_period",
                reason: "it must be at least 1 ms: it is the length of a window".to_owned(),
            });
        }
        Ok(())
    }

    /// The unique key override, if any.
    pub fn get_unique_key(&self) -> Option<&str> {
        self.unique_key.as_deref()
    }

    /// The unique period override, if any.
    pub fn get_unique_period(&self) -> Option<Duration> {
        self.unique_period
    }

    /// The queue override, if any.
    pub fn get_queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// The priority override, if any.
    pub fn get_priority(&self) -> Option<i32> {
        self.priority
    }

    /// The attempts override, if any.
    pub fn get_max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The delay override, if any.
    pub fn get_delay(&self) -> Option<Duration> {
        self.delay
    }

    /// The absolute start time override, if any.
    pub fn get_run_at(&self) -> Option<DateTime<Utc>> {
        self.run_at
    }
}
