//! `JobFilter`: which jobs `Kiribi::jobs` returns.

use chrono::{DateTime, Utc};

use crate::{JobId, JobStatus};

/// Selects jobs to list, newest first.
///
/// Every criterion set must match. Without a limit, at most
/// [`JobFilter::DEFAULT_LIMIT`] jobs come back.
///
/// # Examples
///
/// ```
/// use kiribi_core::{JobFilter, JobStatus};
///
/// let filter = JobFilter::new().status(JobStatus::Failed).name("send_welcome").limit(50);
/// assert_eq!(filter.get_limit(), 50);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    pub(crate) status: Option<JobStatus>,
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) created: TimeRange,
    pub(crate) finished: TimeRange,
    pub(crate) before: Option<JobId>,
    pub(crate) limit: usize,
}

impl JobFilter {
    /// How many jobs a filter returns unless [`limit`](Self::limit) says otherwise.
    pub const DEFAULT_LIMIT: usize = 100;

    /// Matches every job (up to the default limit).
    pub fn new() -> Self {
        Self {
            status: None,
            name: None,
            queue: None,
            text: None,
            created: TimeRange::default(),
            finished: TimeRange::default(),
            before: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Only jobs in this status.
    pub fn status(mut self, status: JobStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only jobs with this name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only jobs in this queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs whose payload (its JSON text as stored) or last error contains
    /// `text`, case-sensitively. Search for a value (`alice@example.com`) rather
    /// than JSON syntax: backends store JSON with different spacing.
    ///
    /// Until `Kiribi::create_search_indexes` has built the text index, no index
    /// holds the text: the jobs the other criteria select are read, newest first,
    /// until the limit is reached (all of them for `Kiribi::count`); narrow it with
    /// a name, status or time range on a large table. With the index, a text of
    /// three characters or more is looked up in it (shorter ones still read the
    /// jobs).
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Only jobs created at or after `at`.
    pub fn created_after(mut self, at: DateTime<Utc>) -> Self {
        self.created.after = Some(at);
        self
    }

    /// Only jobs created before `at`.
    pub fn created_before(mut self, at: DateTime<Utc>) -> Self {
        self.created.before = Some(at);
        self
    }

    /// Only jobs that finished at or after `at` (so only finished jobs).
    pub fn finished_after(mut self, at: DateTime<Utc>) -> Self {
        self.finished.after = Some(at);
        self
    }

    /// Only jobs that finished before `at` (so only finished jobs).
    pub fn finished_before(mut self, at: DateTime<Utc>) -> Self {
        self.finished.before = Some(at);
        self
    }

    /// Only jobs older than `id` (for paging: pass the last id of the previous page).
    pub fn before(mut self, id: JobId) -> Self {
        self.before = Some(id);
        self
    }

    /// At most this many jobs.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The status criterion.
    pub fn get_status(&self) -> Option<JobStatus> {
        self.status
    }

    /// The name criterion.
    pub fn get_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The queue criterion.
    pub fn get_queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// The text criterion.
    pub fn get_text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The creation time range: at or after, before.
    pub fn get_created(&self) -> TimeRange {
        self.created
    }

    /// The finish time range: at or after, before.
    pub fn get_finished(&self) -> TimeRange {
        self.finished
    }

    /// The paging cursor.
    pub fn get_before(&self) -> Option<JobId> {
        self.before
    }

    /// The limit.
    pub fn get_limit(&self) -> usize {
        self.limit
    }
}

impl Default for JobFilter {
    fn default() -> Self {
        Self::new()
    }
}

/// A range of time a [`JobFilter`] criterion covers: at or after `after`, before
/// `before`; an end left `None` is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TimeRange {
    /// The first instant in the range.
    pub after: Option<DateTime<Utc>>,
    /// The first instant past the range.
    pub before: Option<DateTime<Utc>>,
}
