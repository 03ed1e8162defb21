//! Statistics over a window of time, read from per-minute rollups, and the
//! retention policy that prunes finished jobs once they are counted.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::QueueInfo;
use crate::backend::{DurationSketch, Rollup, Rollups, minute_of};

/// What happened to jobs over a window of time: per job name, per queue, and per
/// minute. Read with `Kiribi::stats`.
///
/// The counts and times come from per-minute rollups, so they stay right after the
/// finished jobs they came from are pruned. A job is counted in the minute it
/// finished; a failed job retried by hand and then finished again is counted each
/// time it finished. Percentiles are within 1 % of the true durations (see
/// [`DurationSketch`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// The first minute counted.
    pub since: DateTime<Utc>,
    /// When the figures were read.
    pub until: DateTime<Utc>,
    /// Per job name, by name; only names that finished a job in the window.
    pub jobs: Vec<JobStats>,
    /// Every queue with unfinished jobs or paused, now.
    pub queues: Vec<QueueInfo>,
    /// Every minute of the window, oldest first, empty ones included.
    pub minutes: Vec<MinuteStats>,
}

/// One job name's figures over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobStats {
    /// The job name.
    pub name: String,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    /// Jobs that were cancelled.
    pub cancelled: u64,
    /// Retries the finished jobs took (attempts past each job's first).
    pub retried: u64,
    /// `failed / (succeeded + failed)`, 0 when neither happened.
    pub failure_rate: f64,
    /// Run time of the last attempt of jobs that succeeded or failed.
    pub run_time: Percentiles,
    /// Wait time, from when the last attempt was due to when it started.
    pub wait_time: Percentiles,
    /// Jobs finished per minute, over the whole window.
    pub per_minute: f64,
}

/// Percentiles of a duration; `None` when nothing was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Percentiles {
    /// How many durations were measured.
    pub count: u64,
    /// The median.
    pub p50: Option<Duration>,
    /// The 95th percentile.
    pub p95: Option<Duration>,
    /// The 99th percentile.
    pub p99: Option<Duration>,
}

impl Percentiles {
    /// The percentiles a sketch holds.
    pub fn of(sketch: &DurationSketch) -> Self {
        Self {
            count: sketch.count(),
            p50: sketch.quantile(0.50),
            p95: sketch.quantile(0.95),
            p99: sketch.quantile(0.99),
        }
    }
}

/// One minute's figures, all job names together: a point of a chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MinuteStats {
    /// The minute's first instant.
    pub minute: DateTime<Utc>,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    /// Jobs that were cancelled.
    pub cancelled: u64,
    /// Retries the finished jobs took.
    pub retried: u64,
    /// Run time percentiles of the minute's jobs.
    pub run_time: Percentiles,
}

impl Stats {
    /// The longest window `Kiribi::stats` covers: 31 days (44,640 minutes in
    /// [`minutes`](Self::minutes)); a longer one is cut to it.
    pub const MAX_WINDOW: Duration = Duration::from_secs(31 * 86_400);

    /// The statistics from rollup rows (any number per key; they add up) of the
    /// minutes from `since` to `until`, and the queues as they are now.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::{TimeDelta, Utc};
    /// use kiribi_core::Stats;
    /// use kiribi_core::backend::{Rollup, minute_of};
    ///
    /// let until = Utc::now();
    /// let since = minute_of(until - TimeDelta::minutes(9));
    /// let mut row = Rollup::new(minute_of(until), "mail", "default");
    /// row.succeeded = 3;
    /// row.failed = 1;
    /// let stats = Stats::from_rollups(since, until, vec![row], vec![]);
    /// assert_eq!(stats.minutes.len(), 10);
    /// assert_eq!(stats.jobs[0].failure_rate, 0.25);
    /// ```
    pub fn from_rollups(
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        rows: Vec<Rollup>,
        queues: Vec<QueueInfo>,
    ) -> Self {
        let since = minute_of(since);
        let mut names = Rollups::default();
        let mut minutes = BTreeMap::<DateTime<Utc>, Rollup>::new();
        let mut minute = since;
        while minute <= until {
            minutes.insert(minute, Rollup::new(minute, "", ""));
            minute += TimeDelta::minutes(1);
        }
        for row in rows.iter().filter(|row| row.minute >= since) {
            let mut by_name = row.clone();
            by_name.minute = since;
            by_name.queue = String::new();
            names.add_row(&by_name);
            minutes
                .entry(row.minute)
                .or_insert_with(|| Rollup::new(row.minute, "", ""))
                .merge(row);
        }
        let span_minutes = minutes.len().max(1) as f64;
        let jobs = names
            .into_rows()
            .into_iter()
            .map(|row| JobStats {
                failure_rate: match row.succeeded + row.failed {
                    0 => 0.0,
                    done => row.failed as f64 / done as f64,
                },
                per_minute: row.finished() as f64 / span_minutes,
                run_time: Percentiles::of(&row.run_time),
                wait_time: Percentiles::of(&row.wait_time),
                name: row.name,
                succeeded: row.succeeded,
                failed: row.failed,
                cancelled: row.cancelled,
                retried: row.retried,
            })
            .collect();
        let minutes = minutes
            .into_values()
            .map(|row| MinuteStats {
                minute: row.minute,
                succeeded: row.succeeded,
                failed: row.failed,
                cancelled: row.cancelled,
                retried: row.retried,
                run_time: Percentiles::of(&row.run_time),
            })
            .collect();
        Self {
            since,
            until,
            jobs,
            queues,
            minutes,
        }
    }

    /// The figures of one job name, if it finished a job in the window.
    pub fn job(&self, name: &str) -> Option<&JobStats> {
        self.jobs.iter().find(|job| job.name == name)
    }
}

/// How long finished jobs are kept before a worker prunes them, per final status;
/// `None` keeps them forever.
///
/// Jobs are pruned only once counted in the statistics' rollups, in small batches,
/// one process at a time. A flow's steps are pruned together, once every step is
/// finished and past its status's retention; a job's attempts and log lines go with
/// it.
///
/// A job that holds a unique key for a period (`#[job(unique(period = "1h"))]`)
/// holds it until it is deleted: keep finished jobs at least as long as the longest
/// such period, or a pruned job's key can be enqueued again within its window.
/// Rollup rows are kept forever (one row per minute, job name and queue).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::Retention;
///
/// let retention = Retention::new().succeeded(Duration::from_secs(3600)).failed(None);
/// assert_eq!(retention.get_succeeded(), Some(Duration::from_secs(3600)));
/// assert_eq!(retention.get_failed(), None);
/// assert_eq!(retention.get_cancelled(), Some(Duration::from_secs(7 * 86_400)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    succeeded: Option<Duration>,
    failed: Option<Duration>,
    cancelled: Option<Duration>,
}

impl Retention {
    /// The defaults: succeeded jobs for a day, failed and cancelled ones for 7 days.
    pub fn new() -> Self {
        const DAY: Duration = Duration::from_secs(86_400);
        Self {
            succeeded: Some(DAY),
            failed: Some(DAY * 7),
            cancelled: Some(DAY * 7),
        }
    }

    /// Keeps every finished job forever: nothing is pruned.
    pub fn forever() -> Self {
        Self {
            succeeded: None,
            failed: None,
            cancelled: None,
        }
    }

    /// How long succeeded jobs are kept (`None`: forever).
    pub fn succeeded(mut self, keep: impl Into<Option<Duration>>) -> Self {
        self.succeeded = keep.into();
        self
    }

    /// How long failed jobs are kept (`None`: forever).
    pub fn failed(mut self, keep: impl Into<Option<Duration>>) -> Self {
        self.failed = keep.into();
        self
    }

    /// How long cancelled jobs are kept (`None`: forever).
    pub fn cancelled(mut self, keep: impl Into<Option<Duration>>) -> Self {
        self.cancelled = keep.into();
        self
    }

    /// How long succeeded jobs are kept.
    pub fn get_succeeded(&self) -> Option<Duration> {
        self.succeeded
    }

    /// How long failed jobs are kept.
    pub fn get_failed(&self) -> Option<Duration> {
        self.failed
    }

    /// How long cancelled jobs are kept.
    pub fn get_cancelled(&self) -> Option<Duration> {
        self.cancelled
    }

    /// Whether it keeps every job forever.
    pub fn keeps_everything(&self) -> bool {
        self.succeeded.is_none() && self.failed.is_none() && self.cancelled.is_none()
    }

    /// For backends: the cut-offs at `now`, succeeded, failed and cancelled (a job in
    /// that status that finished before its cut-off may be pruned; `None`: never).
    pub fn cutoffs(&self, now: DateTime<Utc>) -> [Option<DateTime<Utc>>; 3] {
        // A retention too long to subtract from now keeps everything.
        let cut = |keep: Option<Duration>| {
            keep.and_then(|keep| TimeDelta::from_std(keep).ok())
                .and_then(|keep| now.checked_sub_signed(keep))
        };
        [cut(self.succeeded), cut(self.failed), cut(self.cancelled)]
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::new()
    }
}
