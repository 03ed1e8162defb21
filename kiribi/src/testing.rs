//! Helpers for the tests of an application that uses kiribi (feature `testing`):
//! a fresh database, a drain that runs every ready job in the test's own task, and
//! an assertion on what was enqueued.
//!
//! # Examples
//!
//! ```
//! use kiribi::JobContext;
//!
//! #[kiribi::job]
//! async fn sign_up(ctx: JobContext, user_id: i64) -> anyhow::Result<()> {
//!     Notify::enqueue(ctx.kiribi(), Notify { user_id }).await?;
//!     Ok(())
//! }
//!
//! #[kiribi::job]
//! async fn notify(user_id: i64) -> anyhow::Result<i64> {
//!     Ok(user_id * 10)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
//! let k = kiribi::testing::kiribi().await?; // a fresh SQLite database in a temp dir
//! SignUp::enqueue(&k, SignUp { user_id: 7 }).await?;
//! let drained = kiribi::testing::drain(&k).await?; // runs every ready job, follow-ups included
//! assert_eq!(drained.names(), ["sign_up", "notify"]);
//! kiribi::testing::assert_enqueued::<Notify>(&k, |n| n.user_id == 7).await;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use kiribi_core::backend::ClaimRequest;
use kiribi_core::{JobFilter, JobId, JobRecord, JobStatus};
use tokio::sync::mpsc;

use crate::logs::OutputSink;
use crate::registry::{Registry, decode_payload};
use crate::worker::cancel::Running;
use crate::worker::execute::{Handover, execute};
use crate::worker::identity;
use crate::{Job, Kiribi, Result};

/// How long a drained job's lease lasts: it is never renewed, so longer than any
/// job of a test runs.
const DRAIN_LEASE: Duration = Duration::from_secs(3600);

/// How many jobs [`assert_enqueued`] reads, and lists when none matches.
const READ_AT_MOST: usize = 10_000;
const LIST_AT_MOST: usize = 20;

/// Keeps a [`kiribi()`] database's directory as long as its handle lives.
#[derive(Clone)]
struct TestDir(#[allow(dead_code)] Arc<tempfile::TempDir>);

/// A [`Kiribi`] on a fresh SQLite database in a new temporary directory, migrated;
/// the directory is removed when the last clone of the handle is dropped.
///
/// # Errors
///
/// [`Error::Storage`](crate::Error::Storage) when the directory or the database
/// cannot be created.
pub async fn kiribi() -> Result<Kiribi> {
    let dir = tempfile::tempdir().map_err(|err| {
        let reason = format!("cannot create a temporary directory for the test database: {err}");
        crate::Error::storage("sqlite", reason)
    })?;
    let url = format!("sqlite://{}", dir.path().join("kiribi.db").display());
    Kiribi::builder()
        .state(TestDir(Arc::new(dir)))
        .connect(&url)
        .await
}

/// What [`drain`] should run.
#[derive(Debug, Clone)]
#[must_use = "options do nothing until passed to `drain_with`"]
pub struct Drain {
    delayed: bool,
    max_runs: usize,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            delayed: false,
            max_runs: 10_000,
        }
    }
}

impl Drain {
    /// Ready jobs only, at most 10,000 runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also run jobs that wait for a later time: scheduled with a delay, or
    /// waiting out a retry's backoff (whose next attempt then runs at once, so a
    /// job that keeps failing runs until its attempts are spent). Default: no.
    pub fn delayed(mut self, delayed: bool) -> Self {
        self.delayed = delayed;
        self
    }

    /// The most attempts one drain runs before it panics: a job that enqueues
    /// itself, or snoozes for ever, would otherwise drain for ever. Default 10,000.
    pub fn max_runs(mut self, max_runs: usize) -> Self {
        self.max_runs = max_runs;
        self
    }
}

/// One attempt that [`drain`] ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainedRun {
    /// The job.
    pub id: JobId,
    /// The job's name.
    pub name: String,
    /// Which attempt of the job this was (1 for the first).
    pub attempt: u32,
    /// Why the attempt did not succeed (the job may be retried, snoozed,
    /// cancelled or failed); `None` when it succeeded.
    pub error: Option<String>,
}

/// What [`drain`] ran, in the order it ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Every attempt, in order.
    pub runs: Vec<DrainedRun>,
}

impl Drained {
    /// The names of the jobs run, one per attempt, in order.
    pub fn names(&self) -> Vec<&str> {
        self.runs.iter().map(|run| run.name.as_str()).collect()
    }

    /// The attempts that did not succeed.
    pub fn failures(&self) -> impl Iterator<Item = &DrainedRun> {
        self.runs.iter().filter(|run| run.error.is_some())
    }
}

/// Runs every ready job of this binary's `#[job]`s, one at a time in the caller's
/// task, until none is ready: the jobs they enqueue and the flow steps they
/// unblock run too, and each attempt is recorded as a worker would record it
/// (retries, logs, results, flow outputs). Jobs scheduled for later and retries
/// waiting out their backoff stay (see [`Drain::delayed`]); so do jobs of paused
/// queues, and jobs a rate limit holds back. Cron schedules enqueue nothing here:
/// their ticks come from workers.
///
/// # Errors
///
/// [`Error::DuplicateJobName`](crate::Error::DuplicateJobName) when two jobs share
/// a name, [`Error::Storage`](crate::Error::Storage) when the database fails.
///
/// # Panics
///
/// After 10,000 attempts with jobs still ready (see [`Drain::max_runs`]).
pub async fn drain(kiribi: &Kiribi) -> Result<Drained> {
    drain_with(kiribi, Drain::new()).await
}

/// [`drain`] with options.
///
/// # Errors
///
/// As [`drain`].
///
/// # Panics
///
/// After [`Drain::max_runs`] attempts with jobs still ready.
pub async fn drain_with(kiribi: &Kiribi, options: Drain) -> Result<Drained> {
    let registry = Arc::new(Registry::collect()?);
    let storage = kiribi.storage().clone();
    let request = ClaimRequest::new(identity::worker(), DRAIN_LEASE)
        .with_names(registry.names())
        .with_limited_names(registry.limited_names())
        .with_limit(1)
        .with_trace_contexts(crate::otel::ENABLED);
    let (outcomes, mut outcome) = mpsc::channel(1);
    let output = OutputSink::default();
    let handover = Handover {
        outcomes,
        finished: Arc::default(),
        running: Running::default(),
        cancel_grace: Duration::from_secs(1),
        output: output.clone(),
    };
    let mut drained = Drained::default();
    loop {
        let Some(job) = storage.claim(&request).await?.pop() else {
            if options.delayed && make_waiting_jobs_due(kiribi).await? {
                continue;
            }
            return Ok(drained);
        };
        assert!(
            drained.runs.len() < options.max_runs,
            "kiribi::testing::drain ran {} attempts and jobs are still ready (the last: \
             `{}`, {}): a job that enqueues itself or snoozes for ever? Raise \
             `Drain::max_runs` if the test means it",
            drained.runs.len(),
            job.name,
            job.id(),
        );
        let (id, name, attempt) = (job.id(), job.name.clone(), job.attempt());
        let lease = job.lease.clone();
        execute(kiribi.clone(), registry.clone(), job, handover.clone()).await;
        // `execute` hands the outcome over before it returns, and the channel has
        // room for it: it is there now, unless the job was not run at all.
        let Ok((lease, ended)) = outcome.try_recv() else {
            storage.release(&[lease]).await?;
            panic!("kiribi::testing::drain claimed job `{name}` ({id}) but could not run it");
        };
        // As a worker's recorder: the attempt's lines first, then its outcome.
        if let Some(pending) = output.take() {
            pending.write(storage.as_ref()).await?;
        }
        let error = ended.error().map(str::to_owned);
        storage.complete_many(&[(lease, ended)]).await?;
        drained.runs.push(DrainedRun {
            id,
            name,
            attempt,
            error,
        });
    }
}

/// Makes every job that waits for a later time due now; whether there was one.
async fn make_waiting_jobs_due(kiribi: &Kiribi) -> Result<bool> {
    let mut any = false;
    for status in [JobStatus::Pending, JobStatus::Retrying] {
        let filter = JobFilter::new().status(status).limit(READ_AT_MOST);
        for job in kiribi.jobs(filter).await? {
            any |= kiribi.storage().make_due(job.id).await?;
        }
    }
    Ok(any)
}

/// Asserts that a job `J` whose payload satisfies `matches` was enqueued (in any
/// state: a [`drain`] may have run it already), and returns the newest such job.
///
/// # Panics
///
/// When no job `J` matches, listing the jobs that were enqueued instead; when the
/// database cannot be read.
pub async fn assert_enqueued<J: Job>(kiribi: &Kiribi, matches: impl Fn(&J) -> bool) -> JobRecord {
    let name = J::CONFIG.name;
    let jobs = kiribi
        .jobs(JobFilter::new().limit(READ_AT_MOST))
        .await
        .unwrap_or_else(|err| panic!("assert_enqueued::<{name}>: cannot read the jobs: {err}"));
    let found = jobs.iter().find(|job| {
        job.name == name
            && decode_payload::<J>(name, job.payload.clone()).is_ok_and(|payload| matches(&payload))
    });
    if let Some(found) = found {
        return found.clone();
    }
    let enqueued: Vec<String> = jobs
        .iter()
        .take(LIST_AT_MOST)
        .map(|job| format!("  {} {} {:?} {}", job.id, job.name, job.status, job.payload))
        .collect();
    if enqueued.is_empty() {
        panic!("expected a job `{name}` matching the predicate; no job was enqueued");
    }
    panic!(
        "expected a job `{name}` matching the predicate; enqueued instead (newest first{}):\n{}",
        if jobs.len() > LIST_AT_MOST {
            format!(", {LIST_AT_MOST} of {}", jobs.len())
        } else {
            String::new()
        },
        enqueued.join("\n")
    );
}
