//! Flows: jobs that depend on each other, read back as `FlowRecord`s.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{JobId, JobRecord, JobStatus};

/// The identity of a flow in its backend: a positive 64-bit integer.
///
/// `Copy`, passed by value; prints and parses as its number and serializes as a
/// JSON number, as [`JobId`] does.
///
/// # Examples
///
/// ```
/// use kiribi_core::FlowId;
///
/// let id: FlowId = "7".parse().unwrap();
/// assert_eq!((id, id.to_string()), (FlowId::from_i64(7), "7".to_owned()));
/// assert!("seven".parse::<FlowId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlowId(i64);

impl FlowId {
    /// Wraps a raw id as stored by a backend.
    pub const fn from_i64(id: i64) -> Self {
        Self(id)
    }

    /// The raw id, as stored by a backend.
    pub const fn as_i64(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowId({})", self.0)
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The error returned when a string is not a flow id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a flow id: expected a whole number such as `42`")]
pub struct ParseFlowIdError {
    input: String,
}

impl FromStr for FlowId {
    type Err = ParseFlowIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .map(FlowId)
            .map_err(|_| ParseFlowIdError {
                input: s.to_owned(),
            })
    }
}

/// Where a flow is, derived from the statuses of its steps, in this order:
///
/// 1. `Running` while any step is `Pending`, `Running` or `Retrying`: work is
///    under way or due (even if another step already failed);
/// 2. else `Failed` if any step is `Failed`;
/// 3. else `Cancelled` if any step is `Cancelled`;
/// 4. else `Succeeded` if every step is `Succeeded`;
/// 5. else `Running`: steps are `Blocked` on dependencies still to finish.
///
/// So a flow is finished (`Succeeded`, `Failed` or `Cancelled`) when no step can
/// run any more without someone retrying one.
///
/// # Examples
///
/// ```
/// use kiribi_core::{FlowStatus, JobStatus};
///
/// let of = |steps: &[JobStatus]| FlowStatus::of(steps.iter().copied());
/// assert_eq!(of(&[JobStatus::Succeeded, JobStatus::Running]), FlowStatus::Running);
/// assert_eq!(of(&[JobStatus::Failed, JobStatus::Cancelled]), FlowStatus::Failed);
/// assert_eq!(of(&[JobStatus::Succeeded, JobStatus::Succeeded]), FlowStatus::Succeeded);
/// assert_eq!("cancelled".parse::<FlowStatus>().unwrap(), FlowStatus::Cancelled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FlowStatus {
    /// Some step runs, waits to run, or waits for its dependencies.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// No step can run, and at least one failed.
    Failed,
    /// No step can run, none failed, and at least one was cancelled.
    Cancelled,
}

impl FlowStatus {
    /// Every flow status.
    pub const ALL: [FlowStatus; 4] = [
        FlowStatus::Running,
        FlowStatus::Succeeded,
        FlowStatus::Failed,
        FlowStatus::Cancelled,
    ];

    /// The lower-case name, as in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Running => "running",
            FlowStatus::Succeeded => "succeeded",
            FlowStatus::Failed => "failed",
            FlowStatus::Cancelled => "cancelled",
        }
    }

    /// The status of a flow whose steps have `statuses` (see the type's docs).
    pub fn of(statuses: impl IntoIterator<Item = JobStatus>) -> Self {
        let (mut active, mut failed, mut cancelled, mut unfinished) = (false, false, false, false);
        for status in statuses {
            match status {
                JobStatus::Pending | JobStatus::Running | JobStatus::Retrying => active = true,
                JobStatus::Failed => failed = true,
                JobStatus::Cancelled => cancelled = true,
                JobStatus::Succeeded => {}
                JobStatus::Blocked => unfinished = true,
            }
        }
        if active {
            FlowStatus::Running
        } else if failed {
            FlowStatus::Failed
        } else if cancelled {
            FlowStatus::Cancelled
        } else if unfinished {
            FlowStatus::Running
        } else {
            FlowStatus::Succeeded
        }
    }

    /// Whether no step of the flow can run any more on its own.
    pub const fn is_finished(self) -> bool {
        !matches!(self, FlowStatus::Running)
    }
}

impl fmt::Display for FlowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string names no flow status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a flow status: expected one of running, succeeded, failed, cancelled")]
pub struct ParseFlowStatusError {
    input: String,
}

impl FromStr for FlowStatus {
    type Err = ParseFlowStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FlowStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseFlowStatusError {
                input: s.to_owned(),
            })
    }
}

/// One step of a stored flow: its name, its job, and the steps it depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlowStep {
    /// The step's name, unique within its flow.
    pub name: String,
    /// The step's job.
    pub job: JobRecord,
    /// The names of the steps it waits for, in the flow's step order.
    pub depends_on: Vec<String>,
}

/// A flow as stored, read back with `Kiribi::flow` or `Kiribi::flows`.
///
/// `#[non_exhaustive]`: read it; backends build it with
/// [`backend::flow_record`](crate::backend::flow_record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlowRecord {
    /// The flow's identity.
    pub id: FlowId,
    /// The name it was built with (`Flow::new(name)`); not unique.
    pub name: String,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// Derived from its steps' statuses (see [`FlowStatus`]).
    pub status: FlowStatus,
    /// Every step, dependencies before their dependents (by job id).
    pub steps: Vec<FlowStep>,
}

impl FlowRecord {
    /// The step named `name`.
    pub fn step(&self, name: &str) -> Option<&FlowStep> {
        self.steps.iter().find(|step| step.name == name)
    }
}

/// Selects flows to list, newest first.
///
/// # Examples
///
/// ```
/// use kiribi_core::{FlowFilter, FlowStatus};
///
/// let filter = FlowFilter::new().status(FlowStatus::Failed).limit(20);
/// assert_eq!((filter.get_status(), filter.get_limit()), (Some(FlowStatus::Failed), 20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFilter {
    status: Option<FlowStatus>,
    before: Option<FlowId>,
    limit: usize,
}

impl FlowFilter {
    /// How many flows a filter returns unless [`limit`](Self::limit) says otherwise.
    pub const DEFAULT_LIMIT: usize = 100;

    /// Matches every flow (up to the default limit).
    pub fn new() -> Self {
        Self {
            status: None,
            before: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Only flows in this (derived) status.
    pub fn status(mut self, status: FlowStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only flows older than `id` (for paging: pass the last id of the previous page).
    pub fn before(mut self, id: FlowId) -> Self {
        self.before = Some(id);
        self
    }

    /// At most this many flows.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The status criterion.
    pub fn get_status(&self) -> Option<FlowStatus> {
        self.status
    }

    /// The paging cursor.
    pub fn get_before(&self) -> Option<FlowId> {
        self.before
    }

    /// The limit.
    pub fn get_limit(&self) -> usize {
        self.limit
    }
}

impl Default for FlowFilter {
    fn default() -> Self {
        Self::new()
    }
}

/// A [`FlowRecord`] from a backend's rows: the flow's `id`, `name` and
/// `created_at`, its steps' jobs (in any order; each names its step in
/// [`JobRecord::flow_step`]) and its dependency edges as `(job, depends on)`.
/// Steps come out by job id; each step's dependencies by the id of the dependency.
///
/// # Examples
///
/// ```
/// use kiribi_core::{FlowId, FlowStatus, JobId, JobStatus};
/// use kiribi_core::backend::{JobRecordBuilder, flow_record};
///
/// let step = |id: i64, name: &str, status| {
///     JobRecordBuilder::new(JobId::from_i64(id), "job")
///         .flow(Some(FlowId::from_i64(1)))
///         .flow_step(Some(name.to_owned()))
///         .status(status)
///         .build()
/// };
/// let flow = flow_record(
///     FlowId::from_i64(1),
///     "onboard".to_owned(),
///     chrono::Utc::now(),
///     vec![step(2, "welcome", JobStatus::Blocked), step(1, "fetch", JobStatus::Running)],
///     &[(JobId::from_i64(2), JobId::from_i64(1))],
/// );
/// assert_eq!(flow.status, FlowStatus::Running);
/// assert_eq!(flow.steps[0].name, "fetch");
/// assert_eq!(flow.step("welcome").unwrap().depends_on, ["fetch"]);
/// ```
pub fn flow_record(
    id: FlowId,
    name: String,
    created_at: DateTime<Utc>,
    mut jobs: Vec<JobRecord>,
    edges: &[(JobId, JobId)],
) -> FlowRecord {
    jobs.sort_by_key(|job| job.id);
    let names: HashMap<JobId, &str> = jobs
        .iter()
        .map(|job| (job.id, job.flow_step.as_deref().unwrap_or("")))
        .collect();
    let mut depends: HashMap<JobId, Vec<JobId>> = HashMap::new();
    for &(job, on) in edges {
        depends.entry(job).or_default().push(on);
    }
    let status = FlowStatus::of(jobs.iter().map(|job| job.status));
    let steps = jobs
        .iter()
        .map(|job| {
            let mut on = depends.remove(&job.id).unwrap_or_default();
            on.sort_unstable();
            FlowStep {
                name: names[&job.id].to_owned(),
                depends_on: on
                    .iter()
                    .map(|dep| names.get(dep).copied().unwrap_or("").to_owned())
                    .collect(),
                job: job.clone(),
            }
        })
        .collect();
    FlowRecord {
        id,
        name,
        created_at,
        status,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_status_round_trips_through_its_name() {
        for status in FlowStatus::ALL {
            assert_eq!(status.as_str().parse::<FlowStatus>().unwrap(), status);
        }
        assert!("done".parse::<FlowStatus>().is_err());
    }

    #[test]
    fn flow_status_follows_its_documented_order() {
        use JobStatus::*;
        let of = |steps: &[JobStatus]| FlowStatus::of(steps.iter().copied());
        assert_eq!(of(&[Failed, Retrying]), FlowStatus::Running);
        assert_eq!(of(&[Failed, Blocked]), FlowStatus::Failed);
        assert_eq!(of(&[Cancelled, Succeeded]), FlowStatus::Cancelled);
        assert_eq!(of(&[Succeeded, Blocked]), FlowStatus::Running);
        assert_eq!(of(&[Succeeded]), FlowStatus::Succeeded);
    }
}
