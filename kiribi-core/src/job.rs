//! The values that cross the `Storage` trait: new jobs, claims and outcomes.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{EnqueueOptions, JobId};

/// A job to insert: what `enqueue` hands to a backend.
#[derive(Debug, Clone, PartialEq)]
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
        }
    }

    /// Applies the overrides set in `options`.
    pub fn with_options(mut self, options: &EnqueueOptions) -> Self {
        if let Some(queue) = &options.queue {
            self.queue.clone_from(queue);
        }
        if let Some(priority) = options.priority {
            self.priority = priority;
        }
        if let Some(max_attempts) = options.max_attempts {
            self.max_attempts = max_attempts;
        }
        if let Some(delay) = options.delay {
            self.delay = delay;
            self.run_at = None;
        }
        if let Some(run_at) = options.run_at {
            self.run_at = Some(run_at);
        }
        self
    }
}

/// What a worker asks of [`Storage::claim`](crate::Storage::claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The claiming worker's unique id; it becomes the lease owner.
    pub worker: String,
    /// Only jobs with one of these names (the ones this worker can run).
    pub names: Vec<String>,
    /// Only jobs in these queues; `None` serves every queue.
    pub queues: Option<Vec<String>>,
    /// At most this many jobs.
    pub limit: usize,
    /// How long the lease lasts unless renewed.
    pub lease: Duration,
}

/// A job handed to a worker by a claim: the worker now holds its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// The job's identity.
    pub id: JobId,
    /// The stable job name.
    pub name: String,
    /// The queue it came from.
    pub queue: String,
    /// The job's arguments.
    pub payload: serde_json::Value,
    /// This attempt's 1-based number; with `id` it fences every later write.
    pub attempt: u32,
    /// Total attempts allowed.
    pub max_attempts: u32,
}

impl ClaimedJob {
    /// The fence that identifies this attempt in later writes.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            attempt: self.attempt,
        }
    }
}

/// One attempt of one job: the fence for completing or releasing it.
///
/// A write with a lease applies only while the job is still `Running` in that very
/// attempt. A worker whose lease expired (and whose job was taken back or finished by
/// someone else) holds a stale attempt number, so its write changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// The attempt the holder is running.
    pub attempt: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The job finished; its serialized output (`None` for `()`).
    Succeeded {
        /// The job's output as JSON.
        result: Option<serde_json::Value>,
    },
    /// The attempt failed and another one is due after `delay`.
    Retry {
        /// Why the attempt failed.
        error: String,
        /// How long to wait, by the database's clock.
        delay: Duration,
    },
    /// The job failed for good.
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
}
