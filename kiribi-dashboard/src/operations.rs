//! `Operations`: what the dashboard reads from and does to a job store.

use std::time::Duration;

use kiribi_core::backend::async_trait;
use kiribi_core::{
    AttemptRecord, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, LogLine, QueueInfo,
    Result, ScheduleRecord, Stats,
};

/// The reads and actions behind the dashboard's pages.
///
/// `kiribi` implements it for `kiribi::Kiribi` (feature `dashboard`), where each method
/// is the `Kiribi` method of the same name; the trait exists so that this crate does
/// not depend on `kiribi` (which depends on it). Another implementation, for instance
/// one that wraps a `Kiribi` to audit every action, delegates to those methods.
///
/// Implementations are written with [`async_trait`](macro@async_trait):
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::*;
/// use kiribi_dashboard::{Operations, async_trait};
///
/// /// A store with no jobs: every read is empty, every action finds nothing.
/// struct Empty;
///
/// #[async_trait]
/// impl Operations for Empty {
///     async fn job(&self, _: JobId) -> Result<Option<JobRecord>> { Ok(None) }
///     async fn jobs(&self, _: JobFilter) -> Result<Vec<JobRecord>> { Ok(vec![]) }
///     async fn count(&self, _: JobFilter) -> Result<u64> { Ok(0) }
///     async fn attempts(&self, _: JobId) -> Result<Vec<AttemptRecord>> { Ok(vec![]) }
///     async fn logs(&self, _: JobId) -> Result<Vec<LogLine>> { Ok(vec![]) }
///     async fn retry(&self, _: JobId) -> Result<bool> { Ok(false) }
///     async fn cancel(&self, _: JobId) -> Result<bool> { Ok(false) }
///     async fn delete(&self, _: JobId) -> Result<bool> { Ok(false) }
///     async fn make_due(&self, _: JobId) -> Result<bool> { Ok(false) }
///     async fn flow(&self, _: FlowId) -> Result<Option<FlowRecord>> { Ok(None) }
///     async fn flows(&self, _: FlowFilter) -> Result<Vec<FlowRecord>> { Ok(vec![]) }
///     async fn cancel_flow(&self, _: FlowId) -> Result<u64> { Ok(0) }
///     async fn queues(&self) -> Result<Vec<QueueInfo>> { Ok(vec![]) }
///     async fn pause_queue(&self, _: &str) -> Result<bool> { Ok(false) }
///     async fn resume_queue(&self, _: &str) -> Result<bool> { Ok(false) }
///     async fn stats(&self, _: Duration) -> Result<Stats> {
///         let now = chrono::Utc::now();
///         Ok(Stats::from_rollups(now, now, vec![], vec![]))
///     }
///     async fn schedules(&self) -> Result<Vec<ScheduleRecord>> { Ok(vec![]) }
///     async fn pause_schedule(&self, _: &str) -> Result<bool> { Ok(false) }
///     async fn resume_schedule(&self, _: &str) -> Result<bool> { Ok(false) }
///     async fn run_schedule_now(&self, _: &str) -> Result<Option<JobId>> { Ok(None) }
/// }
///
/// let _router = kiribi_dashboard::Dashboard::new(Empty).read_only(true).router();
/// ```
#[async_trait]
pub trait Operations: Send + Sync + 'static {
    /// Reads a job; `None` if no job has this id.
    async fn job(&self, id: JobId) -> Result<Option<JobRecord>>;
    /// Lists jobs matching `filter`, newest first.
    async fn jobs(&self, filter: JobFilter) -> Result<Vec<JobRecord>>;
    /// How many jobs `filter` matches, its limit and cursor aside.
    async fn count(&self, filter: JobFilter) -> Result<u64>;
    /// Every attempt of a job, oldest first.
    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>>;
    /// A job's log lines, by attempt, in the order they were written.
    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>>;
    /// Makes a failed, cancelled or retrying job ready to run now; `false` if it is
    /// not in such a state.
    async fn retry(&self, id: JobId) -> Result<bool>;
    /// Cancels a waiting job or asks a running one to stop; `false` if it finished.
    async fn cancel(&self, id: JobId) -> Result<bool>;
    /// Deletes a job that is not running, with its history.
    async fn delete(&self, id: JobId) -> Result<bool>;
    /// Runs a job that waits for a later time as soon as a worker is free.
    async fn make_due(&self, id: JobId) -> Result<bool>;
    /// Reads a flow with its steps.
    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>>;
    /// Lists flows matching `filter`, newest first.
    async fn flows(&self, filter: FlowFilter) -> Result<Vec<FlowRecord>>;
    /// Cancels every unfinished step of a flow; how many it cancelled.
    async fn cancel_flow(&self, id: FlowId) -> Result<u64>;
    /// Every queue with unfinished jobs or paused.
    async fn queues(&self) -> Result<Vec<QueueInfo>>;
    /// Pauses a queue; `false` if it was paused already.
    async fn pause_queue(&self, queue: &str) -> Result<bool>;
    /// Resumes a queue; `false` if it was not paused.
    async fn resume_queue(&self, queue: &str) -> Result<bool>;
    /// The statistics of the last `window`.
    async fn stats(&self, window: Duration) -> Result<Stats>;
    /// Every schedule, by name.
    async fn schedules(&self) -> Result<Vec<ScheduleRecord>>;
    /// Pauses a schedule; `false` if there is none of that name.
    async fn pause_schedule(&self, name: &str) -> Result<bool>;
    /// Resumes a schedule; `false` if there is none of that name.
    async fn resume_schedule(&self, name: &str) -> Result<bool>;
    /// Enqueues a schedule's job now; `None` if there is no such schedule.
    async fn run_schedule_now(&self, name: &str) -> Result<Option<JobId>>;
}
