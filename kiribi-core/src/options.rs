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

    /// Checks the settings that have a range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for `max_attempts(0)`.
    pub fn validate(&self) -> crate::Result<()> {
        if self.max_attempts == Some(0) {
            return Err(crate::Error::InvalidOption {
                option: "max_attempts",
                reason: "it must be at least 1: it counts the first attempt".to_owned(),
            });
        }
        Ok(())
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
