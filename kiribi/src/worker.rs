//! The worker: claims jobs in batches, runs them with bounded concurrency, renews
//! their leases, takes back expired ones and shuts down gracefully.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kiribi_core::{ClaimRequest, ClaimedJob, Lease, Outcome, Storage};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::registry::Registry;
use crate::run::{guarded, outcome_after_error};
use crate::{Error, JobContext, Kiribi, Result};

/// Configures and starts a worker. Made by [`Kiribi::worker`].
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
    config: WorkerConfig,
}

#[derive(Debug, Clone)]
struct WorkerConfig {
    concurrency: usize,
    queues: Option<Vec<String>>,
    lease: Duration,
    poll_interval: Duration,
    shutdown_timeout: Duration,
}

impl WorkerBuilder {
    pub(crate) fn new(kiribi: Kiribi) -> Self {
        Self {
            kiribi,
            config: WorkerConfig {
                concurrency: 10,
                queues: None,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_secs(1),
                shutdown_timeout: Duration::from_secs(30),
            },
        }
    }

    /// How many jobs run at once (default 10; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.config.concurrency = concurrency.max(1);
        self
    }

    /// Serve only these queues (default: every queue).
    pub fn queues<I, S>(mut self, queues: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.queues = Some(queues.into_iter().map(Into::into).collect());
        self
    }

    /// How long a claim lasts without renewal (default 30 s). The worker renews its
    /// leases every third of this; a worker that dies loses its jobs to another one
    /// after at most this long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.config.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// How often an idle worker looks for due jobs that no wake-up announced:
    /// delayed jobs, retries, jobs from other processes (default 1 s).
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.config.poll_interval = poll_interval.max(Duration::from_millis(10));
        self
    }

    /// How long [`WorkerHandle::shutdown`] lets running jobs finish before it stops
    /// them and gives them back, uncharged (default 30 s).
    pub fn shutdown_timeout(mut self, grace: Duration) -> Self {
        self.config.shutdown_timeout = grace;
        self
    }

    /// Spawns the worker on the current tokio runtime.
    ///
    /// Never fails: a start-up error (such as two jobs with one name) stops the
    /// worker and is returned by [`WorkerHandle::shutdown`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start(self) -> WorkerHandle {
        let (stop, stop_rx) = watch::channel(false);
        let id = worker_id();
        let task = tokio::spawn(run_worker(self.kiribi, self.config, id.clone(), stop_rx));
        WorkerHandle { id, stop, task }
    }

    /// Runs the worker until SIGINT (Ctrl-C) or SIGTERM, then shuts it down gracefully.
    ///
    /// # Errors
    ///
    /// A start-up error, or [`Error::Storage`] when releasing unfinished jobs fails.
    pub async fn run(self) -> Result<()> {
        let handle = self.start();
        tokio::select! {
            () = shutdown_signal() => {}
            () = handle.stopped() => {}
        }
        handle.shutdown().await
    }
}

/// A running worker, returned by [`WorkerBuilder::start`].
///
/// Dropping the handle leaves the worker running until the runtime stops; call
/// [`shutdown`](WorkerHandle::shutdown) to stop it gracefully.
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl WorkerHandle {
    /// The worker's unique id, recorded as the lease owner of the jobs it runs.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the worker has stopped (after `shutdown`, or on a start-up error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops claiming, lets running jobs finish within the grace period, then stops
    /// the rest and gives them back without charging an attempt.
    ///
    /// # Errors
    ///
    /// The worker's start-up error, if it had one, or a failure to give jobs back.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.send_replace(true);
        match self.task.await {
            Ok(result) => result,
            Err(err) => Err(Error::Worker(err.to_string())),
        }
    }

    /// Resolves when the worker task ends: it holds the only receiver of `stop`.
    async fn stopped(&self) {
        self.stop.closed().await;
    }
}

/// Resolves on SIGINT, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// `<pid>-<n>-<nanos>`: unique across this process's workers and across restarts.
fn worker_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "worker-{}-{}-{nanos:08x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn run_worker(
    kiribi: Kiribi,
    config: WorkerConfig,
    id: String,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let registry = Arc::new(Registry::collect()?);
    let storage = kiribi.storage().clone();
    let names = registry.names();
    tracing::info!(worker = %id, jobs = ?names, queues = ?config.queues, concurrency = config.concurrency, "worker started");

    let maintenance = tokio::spawn(maintain_leases(kiribi.clone(), id.clone(), config.lease));
    let listening = tokio::spawn(forward_wakeups(kiribi.clone(), id.clone()));
    let mut wake = kiribi.subscribe_wake();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, Lease> = HashMap::new();
    let mut maybe_ready = true;
    let mut next_poll = Instant::now() + config.poll_interval;

    while !*stop.borrow() {
        let free = config.concurrency.saturating_sub(tasks.len());
        if free > 0 && maybe_ready && !names.is_empty() {
            // Mark wake-ups seen before claiming: one that arrives during the claim
            // makes the next `changed()` return at once.
            wake.borrow_and_update();
            let request = ClaimRequest {
                worker: id.clone(),
                names: names.clone(),
                queues: config.queues.clone(),
                limit: free,
                lease: config.lease,
            };
            match storage.claim(&request).await {
                Ok(jobs) => {
                    // A full batch means more jobs may be waiting.
                    maybe_ready = jobs.len() == free;
                    for job in jobs {
                        let lease = job.lease();
                        let handle = tasks.spawn(execute(kiribi.clone(), registry.clone(), job));
                        running.insert(handle.id(), lease);
                    }
                }
                Err(err) => {
                    tracing::warn!(worker = %id, error = %err, "claiming jobs failed; retrying at the next poll");
                    maybe_ready = false;
                }
            }
            if maybe_ready {
                continue;
            }
        }
        tokio::select! {
            biased;
            _ = stop.changed() => {}
            Some(done) = tasks.join_next_with_id() => {
                forget_task(&mut running, done);
            }
            Ok(()) = wake.changed() => maybe_ready = true,
            () = tokio::time::sleep_until(next_poll) => {
                maybe_ready = true;
                next_poll = Instant::now() + config.poll_interval;
            }
        }
    }

    tracing::info!(worker = %id, running = tasks.len(), "worker shutting down");
    let deadline = Instant::now() + config.shutdown_timeout;
    loop {
        tokio::select! {
            done = tasks.join_next_with_id() => match done {
                Some(done) => forget_task(&mut running, done),
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let unfinished: Vec<Lease> = running.into_values().collect();
    tasks.shutdown().await;
    let released = if unfinished.is_empty() {
        Ok(0)
    } else {
        tracing::warn!(worker = %id, jobs = unfinished.len(), "grace period over: giving unfinished jobs back");
        storage.release(&unfinished).await
    };
    maintenance.abort();
    listening.abort();
    released.map(|_| ())
}

fn forget_task(
    running: &mut HashMap<tokio::task::Id, Lease>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    match done {
        Ok((task, ())) => {
            running.remove(&task);
        }
        Err(err) => {
            // The job's own panics are caught inside the task; this is kiribi's.
            tracing::error!(error = %err, "a job task of the worker failed");
            running.remove(&err.id());
        }
    }
}

/// Runs one claimed job and records how it ended.
async fn execute(kiribi: Kiribi, registry: Arc<Registry>, job: ClaimedJob) {
    let lease = job.lease();
    let Some(registration) = registry.get(&job.name) else {
        // Unreachable in practice: claims only ask for registered names.
        return;
    };
    let config = registration.config();
    let ctx = JobContext::new(
        job.id,
        job.name.clone(),
        job.attempt,
        job.max_attempts,
        kiribi.clone(),
    );
    tracing::debug!(id = %job.id, job = %job.name, attempt = job.attempt, "job started");
    let outcome = match guarded(registration.run(ctx, job.payload), config.timeout).await {
        Ok(result) => Outcome::Succeeded { result },
        Err(error) => {
            tracing::info!(id = %job.id, job = %job.name, attempt = job.attempt, error = %error, "job attempt failed");
            outcome_after_error(&error, job.attempt, job.max_attempts, &config.retry)
        }
    };
    let retrying = matches!(outcome, Outcome::Retry { .. });
    record(kiribi.storage().as_ref(), lease, outcome).await;
    if retrying {
        // The retry may be due at once (zero delay); let the loop look.
        kiribi.wake_workers();
    }
}

/// Writes an attempt's outcome, retrying database errors for a while: until it is
/// written the job stays leased to us, and when we give up the lease expires and the
/// job is run again (at-least-once), never lost.
async fn record(storage: &dyn Storage, lease: Lease, outcome: Outcome) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=8 {
        match storage.complete(lease, outcome.clone()).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(id = %lease.id, attempt = lease.attempt, "lease lost before the outcome was recorded; another worker owns the job now");
                return;
            }
            Err(err) => {
                tracing::warn!(id = %lease.id, error = %err, try_ = attempt, "recording the job's outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::error!(id = %lease.id, "could not record the job's outcome; it will run again after its lease expires");
}

/// Renews this worker's leases and takes back expired ones, every third of a lease.
async fn maintain_leases(kiribi: Kiribi, worker: String, lease: Duration) {
    let storage = kiribi.storage().clone();
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = storage.renew_leases(&worker, lease).await {
            tracing::warn!(worker = %worker, error = %err, "renewing leases failed");
        }
        match storage.reap_expired().await {
            Ok(0) => {}
            Ok(reaped) => {
                tracing::warn!(worker = %worker, jobs = reaped, "took back jobs whose worker stopped renewing its lease");
                kiribi.wake_workers();
            }
            Err(err) => {
                tracing::warn!(worker = %worker, error = %err, "taking back expired leases failed")
            }
        }
    }
}

/// Turns the database's wake-ups (PostgreSQL `NOTIFY`) into wake-ups of this
/// process's workers. Backends without a channel end this task at once.
async fn forward_wakeups(kiribi: Kiribi, worker: String) {
    const RETRY: Duration = Duration::from_secs(1);
    loop {
        match kiribi.storage().listen().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                // Jobs inserted before the listener was up were not announced:
                // look once now that it is.
                kiribi.wake_workers();
                loop {
                    match listener.recv().await {
                        Ok(()) => kiribi.wake_workers(),
                        Err(err) => {
                            tracing::warn!(worker = %worker, error = %err, "listening for new jobs failed; polling until it is back");
                            tokio::time::sleep(RETRY).await;
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(worker = %worker, error = %err, "could not listen for new jobs; polling until it works");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
