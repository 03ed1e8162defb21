//! Per-minute rollups of finished jobs: what backends store so that statistics
//! survive pruning, and the folding and merging every backend does the same way.
//!
//! A backend keeps a watermark: every job that finished before it is counted in
//! exactly one stored [`Rollup`] row per (minute, name, queue), and no job that
//! finished after it is. [`Storage::roll_up`](crate::Storage::roll_up) moves the
//! watermark forward in the transaction that writes the rows, so a crash can neither
//! drop nor double-count a job; [`Storage::rollups`](crate::Storage::rollups) adds
//! the jobs past the watermark, folded on the fly, so an answer never depends on
//! when the last roll-up ran.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sketches_ddsketch::{Config, DDSketch};

use crate::JobStatus;

/// The relative accuracy of every [`DurationSketch`]: a quantile it reports is
/// within 1 % of a duration that was recorded at about that rank.
pub const SKETCH_RELATIVE_ACCURACY: f64 = 0.01;

/// A mergeable summary of durations (a [DDSketch](https://arxiv.org/abs/1908.10693)
/// with 1 % relative accuracy), stored as bytes in the DDSketch binary encoding.
///
/// Its quantiles are within [`SKETCH_RELATIVE_ACCURACY`] of the true ones (rank
/// `q * (n - 1)`, rounded down), however many sketches were merged: merging adds
/// bucket counts and loses nothing. Durations are kept in milliseconds; a duration
/// under a nanosecond counts as zero. The size grows with the spread of the
/// durations, not their number: about 470 buckets cover 1 ms to 10 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::backend::DurationSketch;
///
/// let mut a = DurationSketch::new();
/// let mut b = DurationSketch::new();
/// for ms in 1..=50 { a.add(Duration::from_millis(ms)); }
/// for ms in 51..=100 { b.add(Duration::from_millis(ms)); }
/// let mut merged = DurationSketch::from_bytes(&a.to_bytes()).unwrap();
/// merged.merge(&b);
/// let p50 = merged.quantile(0.5).unwrap().as_secs_f64() * 1000.0;
/// assert!((p50 - 50.0).abs() <= 0.5 + 50.0 * 0.01);
/// assert_eq!(merged.count(), 100);
/// ```
#[derive(Clone)]
pub struct DurationSketch {
    inner: DDSketch,
}

impl std::fmt::Debug for DurationSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurationSketch")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

impl Default for DurationSketch {
    fn default() -> Self {
        Self::new()
    }
}

/// The one configuration every sketch uses, so that any two merge; it is also what
/// decoding yields.
fn config() -> Config {
    Config::new(SKETCH_RELATIVE_ACCURACY, 2048, 1.0e-9)
}

impl DurationSketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self {
            inner: DDSketch::new(config()),
        }
    }

    /// Records one duration.
    pub fn add(&mut self, duration: Duration) {
        self.inner.add(duration.as_secs_f64() * 1000.0);
    }

    /// Adds every duration `other` recorded.
    pub fn merge(&mut self, other: &DurationSketch) {
        if other.count() == 0 {
            return;
        }
        if self.count() == 0 {
            *self = other.clone();
            return;
        }
        // Both sketches were made with `config()` or decoded, which gives the same.
        if self.inner.merge(&other.inner).is_err() {
            unreachable!("every DurationSketch has the same configuration");
        }
    }

    /// How many durations it recorded.
    pub fn count(&self) -> u64 {
        self.inner.count() as u64
    }

    /// The `q` quantile (0.5 for the median), or `None` when it is empty or `q` is
    /// not within 0..=1.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let ms = self.inner.quantile(q).ok()??;
        Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
    }

    /// The DDSketch binary encoding, for a backend to store.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.inner.to_java_bytes()
    }

    /// A sketch read back from [`to_bytes`](Self::to_bytes); an empty slice is an
    /// empty sketch.
    ///
    /// # Errors
    ///
    /// A description of what is wrong, when the bytes are not a sketch with this
    /// configuration (a backend wraps it in a
    /// [`CorruptRow`](crate::backend::CorruptRow)).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            return Ok(Self::new());
        }
        let inner = DDSketch::from_java_bytes(bytes)
            .map_err(|err| format!("holds bytes that are not a duration sketch ({err:?})"))?;
        let mut sketch = Self::new();
        if inner.count() > 0 && sketch.inner.merge(&inner).is_err() {
            return Err("holds a sketch made with another accuracy than 1 %".to_owned());
        }
        Ok(sketch)
    }
}

/// What a roll-up reads of one finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedJob {
    /// The job's name.
    pub name: String,
    /// Its queue.
    pub queue: String,
    /// Its final status: `Succeeded`, `Failed` or `Cancelled` (any other is left out).
    pub status: JobStatus,
    /// Its attempts; every one past the first was a retry.
    pub attempts: u32,
    /// When its last attempt was due.
    pub run_at: DateTime<Utc>,
    /// When its last attempt started, if one did.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// The figures of one (minute, job name, queue): what a backend stores per row.
#[derive(Debug, Clone, Default)]
pub struct Rollup {
    /// The minute the jobs finished in (its first instant, UTC).
    pub minute: DateTime<Utc>,
    /// The jobs' name.
    pub name: String,
    /// Their queue.
    pub queue: String,
    /// Jobs that succeeded.
    pub succeeded: u64,
    /// Jobs that failed for good.
    pub failed: u64,
    /// Jobs that were cancelled.
    pub cancelled: u64,
    /// Retries the finished jobs took (attempts past each one's first).
    pub retried: u64,
    /// Run time (last attempt's start to finish) of the jobs that succeeded or
    /// failed.
    pub run_time: DurationSketch,
    /// Wait time (last attempt's due time to its start) of the jobs that started.
    pub wait_time: DurationSketch,
}

impl Rollup {
    /// An empty row for this key.
    pub fn new(minute: DateTime<Utc>, name: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            minute,
            name: name.into(),
            queue: queue.into(),
            ..Self::default()
        }
    }

    /// Adds the figures of `other` (of any key) to this row.
    pub fn merge(&mut self, other: &Rollup) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.retried += other.retried;
        self.run_time.merge(&other.run_time);
        self.wait_time.merge(&other.wait_time);
    }

    /// Jobs counted: succeeded, failed and cancelled.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled
    }

    fn add(&mut self, job: &FinishedJob) {
        match job.status {
            JobStatus::Succeeded => self.succeeded += 1,
            JobStatus::Failed => self.failed += 1,
            JobStatus::Cancelled => self.cancelled += 1,
            _ => return,
        }
        self.retried += u64::from(job.attempts.saturating_sub(1));
        if let Some(started) = job.started_at {
            self.wait_time.add(elapsed(job.run_at, started));
            if matches!(job.status, JobStatus::Succeeded | JobStatus::Failed) {
                self.run_time.add(elapsed(started, job.finished_at));
            }
        }
    }
}

fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or_default()
}

/// The first instant of the minute `at` is in.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::minute_of;
///
/// let at = "2026-12-03T10:42:31.5Z".parse().unwrap();
/// assert_eq!(minute_of(at).to_rfc3339(), "2026-12-03T10:42:00+00:00");
/// ```
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// Adds jobs and rows into per-(minute, name, queue) rows.
///
/// # Examples
///
/// ```
/// use chrono::Utc;
/// use kiribi_core::JobStatus;
/// use kiribi_core::backend::{FinishedJob, Rollups};
///
/// let now = Utc::now();
/// let job = |status| FinishedJob {
///     name: "mail".into(), queue: "default".into(), status, attempts: 2,
///     run_at: now, started_at: Some(now), finished_at: now,
/// };
/// let mut rollups = Rollups::default();
/// rollups.add_job(&job(JobStatus::Succeeded));
/// rollups.add_job(&job(JobStatus::Failed));
/// let rows = rollups.into_rows();
/// assert_eq!((rows.len(), rows[0].succeeded, rows[0].failed, rows[0].retried), (1, 1, 1, 2));
/// ```
#[derive(Debug, Default)]
pub struct Rollups {
    rows: BTreeMap<(DateTime<Utc>, String, String), Rollup>,
}

impl Rollups {
    fn row(&mut self, minute: DateTime<Utc>, name: &str, queue: &str) -> &mut Rollup {
        self.rows
            .entry((minute, name.to_owned(), queue.to_owned()))
            .or_insert_with(|| Rollup::new(minute, name, queue))
    }

    /// Counts one finished job in its minute's row.
    pub fn add_job(&mut self, job: &FinishedJob) {
        self.row(minute_of(job.finished_at), &job.name, &job.queue)
            .add(job);
    }

    /// Adds a stored row to the row of its key.
    pub fn add_row(&mut self, row: &Rollup) {
        self.row(row.minute, &row.name, &row.queue).merge(row);
    }

    /// The rows, by minute, then name, then queue.
    pub fn into_rows(self) -> Vec<Rollup> {
        self.rows.into_values().collect()
    }
}

/// How far one [`Storage::roll_up`](crate::Storage::roll_up) call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RollupProgress {
    /// Finished jobs it counted.
    pub jobs: u64,
    /// Whether the watermark reached the cut-off (`now - lag`), or another process
    /// was rolling up: `false` means call again.
    pub caught_up: bool,
}

impl RollupProgress {
    /// `jobs` counted, and whether that was all there was.
    pub fn new(jobs: u64, caught_up: bool) -> Self {
        Self { jobs, caught_up }
    }
}

/// The most time one [`Storage::roll_up`](crate::Storage::roll_up) call covers, so
/// that catching up on a long history (a database from before rollups) takes many
/// short transactions rather than one long one.
pub const ROLLUP_SPAN: TimeDelta = TimeDelta::minutes(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sketch_survives_its_bytes_and_merges_with_a_new_one() {
        let mut a = DurationSketch::new();
        for ms in [0, 1, 5, 250, 10_000] {
            a.add(Duration::from_millis(ms));
        }
        let mut back = DurationSketch::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(back.count(), 5);
        back.merge(&a);
        assert_eq!(back.count(), 10);
        let max = back.quantile(1.0).unwrap().as_millis();
        assert_eq!(max, 10_000);
        assert!(DurationSketch::from_bytes(b"not a sketch").is_err());
        assert_eq!(DurationSketch::from_bytes(&[]).unwrap().count(), 0);
    }

    #[test]
    fn quantiles_are_within_the_documented_accuracy() {
        let mut sketch = DurationSketch::new();
        let mut exact: Vec<u64> = (0..10_000u64).map(|i| (i * 7919) % 5000 + 1).collect();
        for ms in &exact {
            sketch.add(Duration::from_millis(*ms));
        }
        exact.sort_unstable();
        for (q, rank) in [(0.5, 4999), (0.95, 9499), (0.99, 9899)] {
            let truth = exact[rank] as f64;
            let got = sketch.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!(
                (got - truth).abs() <= truth * SKETCH_RELATIVE_ACCURACY + 1e-6,
                "p{q}: {got} vs {truth}"
            );
        }
    }
}
