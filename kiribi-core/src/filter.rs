//! `JobFilter`: which jobs `Kiribi::jobs` returns.

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
