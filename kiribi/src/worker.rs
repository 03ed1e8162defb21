//! The worker: claims jobs in batches, runs them with bounded concurrency, renews
//! their leases, takes back expired ones and shuts down gracefully.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use kiribi_core::{ClaimRequest, ClaimedJob, Lease, Outcome, Storage};
use tokio::sync::{mpsc, watch};
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
    prefetch: usize,
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
                prefetch: PREFETCH_PER_SLOT * 10,
                queues: None,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_secs(1),
                shutdown_timeout: Duration::from_secs(30),
            },
        }
    }

    /// How many jobs run at once (default 10; at least 1). Also sets
    /// [`prefetch`](Self::prefetch) to 64 times this, unless it is set after this.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.config.concurrency = concurrency.max(1);
        self.config.prefetch = PREFETCH_PER_SLOT * self.config.concurrency;
        self
    }

    /// The most jobs the worker claims ahead of its free slots (default: 64 times its
    /// concurrency; 0 turns claiming ahead off).
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
    /// when the worker shuts down; if the worker dies, they wait for their lease to
    /// expire like its running jobs. A job enqueued meanwhile with a higher priority
    /// starts after them.
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.config.prefetch = prefetch;
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

/// The default [`WorkerBuilder::prefetch`], per unit of concurrency.
const PREFETCH_PER_SLOT: usize = 64;

/// The most outcomes one write records.
const MAX_COMPLETION_BATCH: usize = 256;

/// A claim on its way to the database.
type PendingClaim = Pin<Box<dyn Future<Output = kiribi_core::Result<Vec<ClaimedJob>>> + Send>>;

/// How many jobs to hold claimed ahead after a claim came back, up to `prefetch`.
///
/// At least twice as many as `finished` while the claim was in flight. When the
/// worker `ran_dry` during the claim while jobs kept finishing, the buffer did not
/// cover the round trip: twice as many as before. Otherwise a quarter fewer, so one
/// claim that comes back quickly does not empty the buffer. Jobs that finish within a
/// round trip earn a buffer; jobs that outlast it get none.
fn next_ahead(ahead: usize, finished: usize, ran_dry: bool, prefetch: usize) -> usize {
    let kept = if ran_dry && finished > 0 {
        2 * ahead
    } else {
        ahead - ahead.div_ceil(4)
    };
    kept.max(2 * finished).min(prefetch)
}

/// Waits for the claim in flight, or forever when there is none.
async fn claim_result(claim: &mut Option<PendingClaim>) -> kiribi_core::Result<Vec<ClaimedJob>> {
    match claim {
        Some(claim) => claim.await,
        None => std::future::pending().await,
    }
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
    tracing::info!(worker = %id, jobs = ?names, queues = ?config.queues, concurrency = config.concurrency, prefetch = config.prefetch, "worker started");

    let maintenance = tokio::spawn(maintain_leases(kiribi.clone(), id.clone(), config.lease));
    let listening = tokio::spawn(forward_wakeups(kiribi.clone(), id.clone()));
    let (outcomes, outcomes_rx) =
        mpsc::channel((config.concurrency + config.prefetch).max(MAX_COMPLETION_BATCH));
    // Set once shutdown's grace period is over: the recorder stops retrying then.
    let (abandon, abandoned) = watch::channel(false);
    let mut recorder = tokio::spawn(record_outcomes(
        kiribi.clone(),
        outcomes_rx,
        abandoned.clone(),
    ));
    let mut wake = kiribi.subscribe_wake();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, Lease> = HashMap::new();
    // Jobs claimed ahead: leased to this worker, not started yet.
    let mut claimed: VecDeque<ClaimedJob> = VecDeque::new();
    let mut claiming: Option<PendingClaim> = None;
    let mut claim_limit = 0;
    // How many jobs to hold claimed ahead (see `next_ahead`).
    let mut ahead = 0;
    // Jobs finished so far, counted by the tasks themselves: a claim's answer can be
    // taken before the tasks that finished meanwhile are joined, and counting joins
    // would then see none finish and drop the buffer.
    let finished = Arc::new(AtomicUsize::new(0));
    let mut started = 0;
    let mut finished_before_claim = 0;
    let mut maybe_ready = true;
    let mut next_poll = Instant::now() + config.poll_interval;

    while !*stop.borrow() {
        while tasks.len() < config.concurrency {
            let Some(job) = claimed.pop_front() else {
                break;
            };
            let lease = job.lease();
            let task = execute(
                kiribi.clone(),
                registry.clone(),
                job,
                Handover {
                    outcomes: outcomes.clone(),
                    finished: finished.clone(),
                    abandoned: abandoned.clone(),
                },
            );
            running.insert(tasks.spawn(task).id(), lease);
            started += 1;
        }
        let capacity = config.concurrency + ahead;
        let wanted = capacity.saturating_sub(tasks.len() + claimed.len());
        // Claim when a slot would otherwise idle, or once half the capacity is free:
        // one round trip then serves many jobs.
        let worth_it = claimed.is_empty() || wanted >= capacity / 2;
        if claiming.is_none() && maybe_ready && wanted > 0 && worth_it && !names.is_empty() {
            // Mark wake-ups seen before claiming: one that arrives during the claim
            // makes the next `changed()` return at once.
            wake.borrow_and_update();
            let request = ClaimRequest {
                worker: id.clone(),
                names: names.clone(),
                queues: config.queues.clone(),
                limit: wanted,
                lease: config.lease,
            };
            let storage = storage.clone();
            claiming = Some(Box::pin(async move { storage.claim(&request).await }));
            claim_limit = wanted;
            finished_before_claim = finished.load(Ordering::Relaxed);
            maybe_ready = false;
            continue;
        }
        tokio::select! {
            biased;
            // An error means the handle was dropped: the worker runs on.
            Ok(()) = stop.changed() => {}
            result = claim_result(&mut claiming) => {
                claiming = None;
                let finished_now = finished.load(Ordering::Relaxed);
                let finished_while_claiming = finished_now - finished_before_claim;
                let ran_dry = claimed.is_empty() && started == finished_now;
                ahead = next_ahead(ahead, finished_while_claiming, ran_dry, config.prefetch);
                match result {
                    Ok(jobs) => {
                        // A full batch means more jobs may be waiting.
                        maybe_ready = maybe_ready || jobs.len() >= claim_limit;
                        claimed.extend(jobs);
                    }
                    Err(err) => {
                        tracing::warn!(worker = %id, error = %err, "claiming jobs failed; retrying at the next poll");
                    }
                }
            }
            Some(done) = tasks.join_next_with_id() => forget_task(&mut running, done),
            Ok(()) = wake.changed() => maybe_ready = true,
            () = tokio::time::sleep_until(next_poll) => {
                maybe_ready = true;
                next_poll = Instant::now() + config.poll_interval;
            }
        }
    }

    tracing::info!(worker = %id, running = tasks.len(), claimed_ahead = claimed.len(), "worker shutting down");
    // Jobs claimed but not started go back at once, for other workers to take.
    if let Some(claim) = claiming.take() {
        match claim.await {
            Ok(jobs) => claimed.extend(jobs),
            Err(err) => {
                tracing::warn!(worker = %id, error = %err, "a claim failed during shutdown")
            }
        }
    }
    let not_started: Vec<Lease> = claimed.iter().map(ClaimedJob::lease).collect();
    let mut released = release(storage.as_ref(), &not_started).await;

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
    if !tasks.is_empty() {
        tracing::warn!(worker = %id, jobs = tasks.len(), "grace period over: stopping unfinished jobs and giving them back");
        tasks.abort_all();
        // A task that ends normally has handed its outcome over; only the ones
        // stopped before that stay in `running`.
        while let Some(done) = tasks.join_next_with_id().await {
            if let Ok((task, ())) = done {
                running.remove(&task);
            }
        }
    }
    // Every outcome handed over is written before the unfinished jobs go back; while
    // the database fails, the recorder retries until the grace period is over.
    drop(outcomes);
    let recorded = tokio::select! {
        recorded = &mut recorder => recorded,
        () = tokio::time::sleep_until(deadline) => {
            abandon.send_replace(true);
            recorder.await
        }
    };
    if let Err(err) = recorded {
        tracing::error!(worker = %id, error = %err, "the worker's outcome recorder failed");
    }
    let unfinished: Vec<Lease> = running.into_values().collect();
    let released_unfinished = release(storage.as_ref(), &unfinished).await;
    released = released.and(released_unfinished);
    maintenance.abort();
    listening.abort();
    released
}

/// Gives jobs back uncharged.
async fn release(storage: &dyn Storage, leases: &[Lease]) -> Result<()> {
    if leases.is_empty() {
        return Ok(());
    }
    storage.release(leases).await?;
    Ok(())
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
            // The job's own panics are caught inside the task; this is kiribi's. The
            // job stays leased to this worker: its lease is renewed, and shutdown
            // gives it back.
            tracing::error!(error = %err, "a job task of the worker failed");
        }
    }
}

/// Where a job task hands its outcome over.
struct Handover {
    /// The recorder's channel.
    outcomes: mpsc::Sender<(Lease, Outcome)>,
    /// The worker's count of finished jobs, which sizes its claims ahead.
    finished: Arc<AtomicUsize>,
    /// Set once shutdown's grace period is over.
    abandoned: watch::Receiver<bool>,
}

/// Runs one claimed job and hands its outcome to the recorder.
async fn execute(kiribi: Kiribi, registry: Arc<Registry>, job: ClaimedJob, handover: Handover) {
    let lease = job.lease();
    let Some(registration) = registry.get(&job.name) else {
        // Unreachable in practice: claims only ask for registered names.
        handover.finished.fetch_add(1, Ordering::Relaxed);
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
    handover.finished.fetch_add(1, Ordering::Relaxed);
    if let Err(mpsc::error::SendError(completion)) = handover.outcomes.send((lease, outcome)).await
    {
        // The recorder is gone (it only stops after every sender): write it here.
        record(kiribi.storage().as_ref(), &[completion], handover.abandoned).await;
    }
}

/// Writes the outcomes the worker's jobs hand over, in batches: whatever finished
/// while the previous write was in flight goes into the next one.
async fn record_outcomes(
    kiribi: Kiribi,
    mut outcomes: mpsc::Receiver<(Lease, Outcome)>,
    abandoned: watch::Receiver<bool>,
) {
    let storage = kiribi.storage().clone();
    let mut batch = Vec::with_capacity(MAX_COMPLETION_BATCH);
    while outcomes.recv_many(&mut batch, MAX_COMPLETION_BATCH).await > 0 {
        record(storage.as_ref(), &batch, abandoned.clone()).await;
        if batch
            .iter()
            .any(|(_, outcome)| matches!(outcome, Outcome::Retry { .. }))
        {
            // A retry may be due at once (zero delay); let the workers look.
            kiribi.wake_workers();
        }
        batch.clear();
    }
}

/// Writes attempts' outcomes, retrying database errors until they are written or
/// `abandoned` turns true (shutdown's grace period is over).
///
/// Until an outcome is written its job stays `Running` and leased to this worker,
/// whose heartbeat keeps renewing the lease: giving up while the worker lives would
/// leave the job stuck. Once the worker stops, the lease expires and another worker
/// runs the job again (at-least-once), never loses it.
async fn record(
    storage: &dyn Storage,
    completions: &[(Lease, Outcome)],
    mut abandoned: watch::Receiver<bool>,
) {
    const MAX_DELAY: Duration = Duration::from_secs(5);
    let mut delay = Duration::from_millis(50);
    for try_ in 1.. {
        match storage.complete_many(completions).await {
            Ok(applied) => {
                for ((lease, _), applied) in completions.iter().zip(applied) {
                    if !applied {
                        tracing::warn!(id = %lease.id, attempt = lease.attempt, "lease lost before the outcome was recorded; another worker owns the job now");
                    }
                }
                return;
            }
            Err(err) => {
                tracing::warn!(jobs = completions.len(), error = %err, try_, "recording job outcomes failed; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            Ok(_) = abandoned.wait_for(|&abandoned| abandoned) => {
                tracing::error!(jobs = completions.len(), "could not record the outcomes of jobs before the worker stopped; they will run again after their leases expire");
                return;
            }
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
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

#[cfg(test)]
mod tests {
    use super::next_ahead;

    #[test]
    fn jobs_that_outlast_a_round_trip_are_not_claimed_ahead() {
        assert_eq!(next_ahead(0, 0, false, 320), 0);
        // The first claim of an idle worker: nothing could finish meanwhile.
        assert_eq!(next_ahead(0, 0, true, 320), 0);
    }

    #[test]
    fn running_dry_while_jobs_finish_doubles_the_buffer() {
        assert_eq!(next_ahead(40, 12, true, 320), 80);
        assert_eq!(next_ahead(0, 5, true, 320), 10);
        assert_eq!(next_ahead(200, 30, true, 320), 320, "capped by prefetch");
        assert_eq!(next_ahead(40, 12, true, 0), 0, "prefetch 0 turns it off");
    }

    #[test]
    fn one_quick_claim_shrinks_the_buffer_by_a_quarter() {
        assert_eq!(next_ahead(256, 0, false, 256), 192);
        assert_eq!(next_ahead(256, 150, false, 256), 256);
        // Never below twice what finished during the claim.
        assert_eq!(next_ahead(8, 30, false, 256), 60);
        // Down to none once jobs stop finishing within a round trip.
        let mut ahead = 256;
        for _ in 0..30 {
            ahead = next_ahead(ahead, 0, false, 256);
        }
        assert_eq!(ahead, 0);
    }
}
