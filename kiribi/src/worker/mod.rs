//! The worker: claims jobs, runs them with bounded concurrency, records their
//! outcomes, and shuts down gracefully. Each concern has its own file:
//!
//! | file | concern |
//! |---|---|
//! | `builder.rs` | [`WorkerBuilder`]: settings, their ranges, `start` and `run` |
//! | `handle.rs` | [`WorkerHandle`]: `shutdown`, and the signals `run` waits for |
//! | `dispatch.rs` | the loop that claims jobs and fills free slots |
//! | `ahead.rs` | how far to claim ahead (a plain, unit-tested type) |
//! | `execute.rs` | running one attempt, and what the failure policy makes of it |
//! | `recorder.rs` | writing outcomes in batches (jobs' log lines and progress first), and giving up when that keeps failing |
//! | `service.rs` | the interface of periodic services started with the worker |
//! | `leases.rs`, `reaper.rs` | the lease heartbeat, and taking back expired leases |
//! | `queue_depth.rs` | queue gauges for `metrics` (feature `metrics`) |
//! | `housekeeping.rs` | rolling finished jobs up into the statistics, then pruning what retention no longer keeps |
//! | `cron.rs` | declaring `#[job(cron = …)]` schedules and enqueueing due cron ticks |
//! | `wake.rs` | wake-ups: in-process, from the database, and at known due times |
//! | `cancel.rs` | running jobs' cancel signals, and learning which were asked to stop |
//! | `shutdown.rs` | giving back what was not started, the grace period, the rest |
//! | `identity.rs` | collision-free ids for workers and inline runs |
//!
//! What an attempt's ending means for its job is decided in [`crate::policy`]; an
//! attempt's log lines and progress are bounded and buffered in `crate::logs`.

mod ahead;
mod builder;
pub(crate) mod cancel;
mod cron;
mod dispatch;
pub(crate) mod execute;
mod handle;
mod housekeeping;
pub(crate) mod identity;
mod ids;
mod leases;
#[cfg(feature = "metrics")]
mod queue_depth;
mod reaper;
mod recorder;
mod service;
mod shutdown;
pub(crate) mod wake;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kiribi_core::backend::WorkerId;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::registry::Registry;
use crate::{Kiribi, Result};

pub use builder::WorkerBuilder;
pub use handle::WorkerHandle;

use builder::WorkerConfig;
use dispatch::Dispatcher;
use recorder::Recorder;
use service::Service;

/// The periodic services every worker runs beside dispatch.
fn services() -> Vec<Box<dyn Service>> {
    vec![
        Box::new(leases::Heartbeat),
        Box::new(reaper::Reaper),
        Box::new(cron::CronTicks::default()),
        Box::new(housekeeping::Housekeeping),
        #[cfg(feature = "metrics")]
        Box::new(queue_depth::QueueDepth),
    ]
}

/// What a worker's parts share: its identity, its settings, its log and its health.
#[derive(Clone)]
pub(crate) struct WorkerShared {
    /// The lease owner of the jobs it runs.
    pub(crate) id: WorkerId,
    /// Its validated settings.
    pub(crate) config: Arc<WorkerConfig>,
    /// Logs that name it.
    pub(crate) log: WorkerLog,
    /// When the database last answered it.
    pub(crate) health: Arc<Health>,
}

/// When the database last answered one of the worker's calls: the recorder gives
/// up only while the database answers everything but the outcomes.
#[derive(Debug)]
pub(crate) struct Health {
    start: Instant,
    /// Milliseconds after `start` of the last answer, plus one (0: never).
    answered: AtomicU64,
}

impl Health {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            answered: AtomicU64::new(0),
        }
    }

    /// The database answered a claim or a renewal just now.
    pub(crate) fn answered(&self) {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.answered
            .fetch_max(millis.saturating_add(1), Ordering::Relaxed);
    }

    /// Whether the database answered after `since`.
    pub(crate) fn answered_since(&self, since: Instant) -> bool {
        let since = u64::try_from(since.saturating_duration_since(self.start).as_millis())
            .unwrap_or(u64::MAX);
        self.answered.load(Ordering::Relaxed) > since.saturating_add(1)
    }
}

/// Log lines that name the worker, with an error's whole chain.
#[derive(Debug, Clone)]
pub(crate) struct WorkerLog {
    worker: WorkerId,
}

impl WorkerLog {
    pub(crate) fn warn(&self, what: &str, error: &crate::Error) {
        let error = kiribi_core::chain_text(error);
        tracing::warn!(worker = %self.worker, %error, "{what}");
    }

    pub(crate) fn warn_from(&self, service: &str, what: &str, error: &crate::Error) {
        let error = kiribi_core::chain_text(error);
        tracing::warn!(worker = %self.worker, service, %error, "{service} {what}");
    }

    pub(crate) fn error(&self, what: &str, error: &crate::Error) {
        let error = kiribi_core::chain_text(error);
        tracing::error!(worker = %self.worker, %error, "{what}");
    }
}

/// The worker's task: start-up, dispatch until stopped, shutdown.
async fn run_worker(
    kiribi: Kiribi,
    config: Result<WorkerConfig>,
    id: WorkerId,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let config = Arc::new(config?);
    let registry = Arc::new(Registry::collect()?);
    let shared = WorkerShared {
        log: WorkerLog { worker: id.clone() },
        id,
        config,
        health: Arc::new(Health::new()),
    };
    tracing::info!(
        worker = %shared.id,
        jobs = ?registry.names(),
        queues = ?shared.config.queues,
        concurrency = shared.config.concurrency,
        prefetch = shared.config.prefetch,
        "worker started"
    );

    let mut background = JoinSet::new();
    service::spawn_all(services(), &kiribi, &shared, &mut background);
    background.spawn(wake::forward_wakeups(kiribi.clone(), shared.log.clone()));
    let running = cancel::Running::default();
    background.spawn(cancel::watch_cancels(
        kiribi.clone(),
        shared.clone(),
        running.clone(),
    ));

    let mut recorder = Recorder::start(&kiribi, &shared);
    let mut dispatcher = Dispatcher::new(kiribi, registry, shared, &recorder, running);
    let stopped = dispatcher.run(stop, &mut recorder).await;
    let result = shutdown::shutdown(dispatcher, recorder, stopped).await;
    background.abort_all();
    result
}
