//! `WorkerBuilder`: a worker's settings, their ranges, and `start` / `run`.

use std::time::Duration;

use tokio::sync::watch;

use crate::worker::handle::{WorkerHandle, shutdown_signal};
use crate::worker::{identity, run_worker};
use crate::{Error, Kiribi, Result};

/// Configures and starts a worker. Made by [`Kiribi::worker`].
///
/// Settings may be given in any order. A setting out of its range does not panic
/// and is not silently changed: the worker refuses to start, and
/// [`WorkerHandle::shutdown`] (or [`run`](Self::run)) returns
/// [`Error::InvalidOption`] naming it.
///
/// # Examples
///
/// ```standalone_crate
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = kiribi::Kiribi::connect(&url).await?;
/// let worker = kiribi
///     .worker()
///     .concurrency(16)
///     .queues(["default", "media"])
///     .lease(Duration::from_secs(30))
///     .start();
/// // … later
/// worker.shutdown().await?;
/// # Ok(()) }
/// ```
#[must_use = "a worker builder does nothing until `start` or `run`"]
#[derive(Debug)]
pub struct WorkerBuilder {
    kiribi: Kiribi,
    settings: Settings,
}

/// The settings as given.
#[derive(Debug, Clone)]
struct Settings {
    concurrency: usize,
    prefetch: Option<usize>,
    queues: Option<Vec<String>>,
    lease: Duration,
    poll_interval: Duration,
    shutdown_timeout: Duration,
    cancel_grace: Duration,
    housekeeping_interval: Duration,
    rollup_lag: Duration,
}

/// A worker's settings, checked.
#[derive(Debug, Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) concurrency: usize,
    pub(crate) prefetch: usize,
    pub(crate) queues: Option<Vec<String>>,
    pub(crate) lease: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) cancel_grace: Duration,
    pub(crate) housekeeping_interval: Duration,
    pub(crate) rollup_lag: Duration,
}

impl WorkerBuilder {
    /// The default [`concurrency`](Self::concurrency).
    pub const DEFAULT_CONCURRENCY: usize = 10;

    /// The default [`prefetch`](Self::prefetch), per unit of concurrency.
    pub const PREFETCH_PER_SLOT: usize = 64;

    /// The shortest [`lease`](Self::lease) a worker accepts.
    pub const MIN_LEASE: Duration = Duration::from_millis(100);

    /// The shortest [`poll_interval`](Self::poll_interval) a worker accepts.
    pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

    /// The default [`cancel_grace`](Self::cancel_grace).
    pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(10);

    /// The longest [`cancel_grace`](Self::cancel_grace) a worker accepts.
    pub const MAX_CANCEL_GRACE: Duration = Duration::from_secs(3600);

    /// The default [`rollup_lag`](Self::rollup_lag).
    pub const DEFAULT_ROLLUP_LAG: Duration = Duration::from_secs(120);

    /// The shortest [`housekeeping_interval`](Self::housekeeping_interval) a worker
    /// accepts.
    pub const MIN_HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(100);

    pub(crate) fn new(kiribi: Kiribi) -> Self {
        Self {
            kiribi,
            settings: Settings {
                concurrency: Self::DEFAULT_CONCURRENCY,
                prefetch: None,
                queues: None,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_secs(1),
                shutdown_timeout: Duration::from_secs(30),
                cancel_grace: Self::DEFAULT_CANCEL_GRACE,
                housekeeping_interval: Duration::from_secs(30),
                rollup_lag: Self::DEFAULT_ROLLUP_LAG,
            },
        }
    }

    /// How many jobs run at once (default 10; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.settings.concurrency = concurrency;
        self
    }

    /// The most jobs the worker claims ahead of its free slots (default: 64 times
    /// its [`concurrency`](Self::concurrency), whichever order the two are set in;
    /// 0 turns claiming ahead off).
    ///
    /// Claiming ahead adapts to the jobs: the worker holds at least twice as many jobs
    /// ahead as it finished while its last claim was on its way to the database and
    /// back, so what it holds starts within a round trip or two. When it ran out of
    /// jobs during a claim while jobs kept finishing, it holds twice as many; when it
    /// did not, a quarter fewer. Short jobs with a backlog then start one after
    /// another without a round trip each, and one claim serves dozens or hundreds of
    /// them; jobs that outlast a round trip are not claimed ahead at all, so they
    /// never wait on a busy worker while another one idles.
    ///
    /// Jobs claimed ahead are leased to this worker (other workers skip them, and
    /// their attempt starts at the claim), run in claim order, and go back uncharged
    /// when the worker shuts down. If the worker dies, they wait for their lease to
    /// expire like its running jobs, and are then retried without losing an attempt
    /// (see [`policy`](crate::policy)). A job enqueued meanwhile with a higher
    /// priority starts after them.
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.settings.prefetch = Some(prefetch);
        self
    }

    /// Serve only these queues (default: every queue; an empty list is refused).
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// How long a claim lasts without renewal (default 30 s; at least
    /// [`MIN_LEASE`](Self::MIN_LEASE)). The worker renews its leases every third of
    /// this; a worker that dies loses its jobs to another one after at most this
    /// long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// How often an idle worker looks for due jobs that no wake-up announced
    /// (default 1 s; at least [`MIN_POLL_INTERVAL`](Self::MIN_POLL_INTERVAL)).
    ///
    /// Most jobs are announced: enqueues through this handle, the database's
    /// wake-ups (PostgreSQL `NOTIFY`, SQLite's commit watcher) and the `run_at` of
    /// retries and delayed jobs this process made. The poll catches the rest, such as
    /// a job delayed by another process.
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.settings.poll_interval = poll_interval;
        self
    }

    /// How long [`WorkerHandle::shutdown`] lets running jobs finish before it stops
    /// them and gives them back, uncharged (default 30 s).
    pub fn shutdown_timeout(mut self, grace: Duration) -> Self {
        self.settings.shutdown_timeout = grace;
        self
    }

    /// How long a running job asked to stop ([`Kiribi::cancel`]) may run on before
    /// the worker stops it, dropping its future (default
    /// [`DEFAULT_CANCEL_GRACE`](Self::DEFAULT_CANCEL_GRACE), 10 s; at most
    /// [`MAX_CANCEL_GRACE`](Self::MAX_CANCEL_GRACE); zero stops it as soon as the
    /// worker learns of the request). Either way the job ends `Cancelled`.
    ///
    /// A job that watches [`JobContext::cancelled`](crate::JobContext::cancelled)
    /// can clean up and return within it; one that ignores it keeps its slot until
    /// then.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = kiribi::Kiribi::connect(&url).await?;
    /// let worker = kiribi.worker().cancel_grace(Duration::from_secs(2)).start();
    /// worker.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.settings.cancel_grace = grace;
        self
    }

    /// How often the worker rolls finished jobs up into the statistics and then
    /// prunes what the handle's [retention](crate::KiribiBuilder::retention) no
    /// longer keeps (default 30 s; at least
    /// [`MIN_HOUSEKEEPING_INTERVAL`](Self::MIN_HOUSEKEEPING_INTERVAL)). Every
    /// worker does it; the database lets one process at a time do each step.
    pub fn housekeeping_interval(mut self, interval: Duration) -> Self {
        self.settings.housekeeping_interval = interval;
        self
    }

    /// How long after a job finished the worker counts it into the stored rollups
    /// (default [`DEFAULT_ROLLUP_LAG`](Self::DEFAULT_ROLLUP_LAG), 2 minutes).
    ///
    /// Statistics include the jobs not rolled up yet, so this changes when jobs can
    /// be pruned, not what [`Kiribi::stats`] says. It must be longer than a
    /// completion can take to commit after it was stamped (a wait for SQLite's
    /// write lock, a slow PostgreSQL transaction): a job that commits later than
    /// this after its `finished_at` could be missed by the statistics.
    pub fn rollup_lag(mut self, lag: Duration) -> Self {
        self.settings.rollup_lag = lag;
        self
    }

    /// Spawns the worker on the current tokio runtime.
    ///
    /// Never fails: a start-up error (a setting out of range, two jobs with one
    /// name, a database error) stops the worker and is returned by
    /// [`WorkerHandle::shutdown`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start(self) -> WorkerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let id = identity::worker();
        let config = self.settings.validate();
        let task = tokio::spawn(run_worker(self.kiribi, config, id.clone(), stop_rx));
        WorkerHandle::new(id, stop, task)
    }

    /// Runs the worker until SIGINT (Ctrl-C) or SIGTERM, then shuts it down gracefully.
    ///
    /// # Errors
    ///
    /// A start-up error, [`Error::OutcomesNotRecorded`] when the worker had to stop
    /// because it could not record outcomes, or [`Error::Storage`] when giving back
    /// unfinished jobs fails.
    pub async fn run(self) -> Result<()> {
        let handle = self.start();
        tokio::select! {
            () = shutdown_signal() => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await
    }
}

impl Settings {
    fn validate(self) -> Result<WorkerConfig> {
        let invalid = |option, reason: String| Err(Error::InvalidOption { option, reason });
        if self.concurrency == 0 {
            return invalid(
                "concurrency",
                "a worker runs at least 1 job at a time".into(),
            );
        }
        if self.lease < WorkerBuilder::MIN_LEASE {
            return invalid(
                "lease",
                format!(
                    "{:?} is shorter than the shortest lease a worker renews reliably, {:?}",
                    self.lease,
                    WorkerBuilder::MIN_LEASE
                ),
            );
        }
        if self.poll_interval < WorkerBuilder::MIN_POLL_INTERVAL {
            return invalid(
                "poll_interval",
                format!(
                    "{:?} is shorter than {:?}; idle workers are woken by new jobs, so a \
                     short poll only costs the database",
                    self.poll_interval,
                    WorkerBuilder::MIN_POLL_INTERVAL
                ),
            );
        }
        if self.cancel_grace > WorkerBuilder::MAX_CANCEL_GRACE {
            return invalid(
                "cancel_grace",
                format!(
                    "{:?} is longer than {:?}: a job asked to stop would hold its slot \
                     that long; cancelled jobs that need longer should watch \
                     `JobContext::cancelled` and return",
                    self.cancel_grace,
                    WorkerBuilder::MAX_CANCEL_GRACE
                ),
            );
        }
        if self.housekeeping_interval < WorkerBuilder::MIN_HOUSEKEEPING_INTERVAL {
            return invalid(
                "housekeeping_interval",
                format!(
                    "{:?} is shorter than {:?}; rolling up and pruning more often only \
                     costs the database",
                    self.housekeeping_interval,
                    WorkerBuilder::MIN_HOUSEKEEPING_INTERVAL
                ),
            );
        }
        if self.queues.as_ref().is_some_and(Vec::is_empty) {
            return invalid(
                "queues",
                "an empty list serves no queue; leave `queues` out to serve every queue".into(),
            );
        }
        let prefetch = self.prefetch.unwrap_or_else(|| {
            self.concurrency
                .saturating_mul(WorkerBuilder::PREFETCH_PER_SLOT)
        });
        Ok(WorkerConfig {
            concurrency: self.concurrency,
            prefetch,
            queues: self.queues,
            lease: self.lease,
            poll_interval: self.poll_interval,
            shutdown_timeout: self.shutdown_timeout,
            cancel_grace: self.cancel_grace,
            housekeeping_interval: self.housekeeping_interval,
            rollup_lag: self.rollup_lag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            concurrency: WorkerBuilder::DEFAULT_CONCURRENCY,
            prefetch: None,
            queues: None,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(30),
            cancel_grace: WorkerBuilder::DEFAULT_CANCEL_GRACE,
            housekeeping_interval: Duration::from_secs(30),
            rollup_lag: WorkerBuilder::DEFAULT_ROLLUP_LAG,
        }
    }

    #[test]
    fn a_housekeeping_interval_under_the_minimum_is_refused() {
        let refused = Settings {
            housekeeping_interval: Duration::from_millis(10),
            ..settings()
        }
        .validate();
        assert!(
            matches!(
                refused,
                Err(Error::InvalidOption {
                    option: "housekeeping_interval",
                    ..
                })
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn prefetch_defaults_to_64_per_slot_in_either_order() {
        let config = Settings {
            concurrency: 4,
            ..settings()
        }
        .validate()
        .unwrap();
        assert_eq!(config.prefetch, 256);
        let set = Settings {
            concurrency: 4,
            prefetch: Some(7),
            ..settings()
        }
        .validate()
        .unwrap();
        assert_eq!(set.prefetch, 7);
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        let refused = |settings: Settings| match settings.validate() {
            Err(Error::InvalidOption { option, .. }) => option,
            other => panic!("expected InvalidOption, got {other:?}"),
        };
        assert_eq!(
            refused(Settings {
                concurrency: 0,
                ..settings()
            }),
            "concurrency"
        );
        assert_eq!(
            refused(Settings {
                lease: Duration::from_millis(99),
                ..settings()
            }),
            "lease"
        );
        assert_eq!(
            refused(Settings {
                poll_interval: Duration::from_millis(1),
                ..settings()
            }),
            "poll_interval"
        );
        assert_eq!(
            refused(Settings {
                queues: Some(Vec::new()),
                ..settings()
            }),
            "queues"
        );
        assert_eq!(
            refused(Settings {
                cancel_grace: Duration::from_secs(3601),
                ..settings()
            }),
            "cancel_grace"
        );
    }
}
