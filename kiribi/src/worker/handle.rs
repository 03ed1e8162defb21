//! `WorkerHandle`: a running worker, and the signals [`WorkerBuilder::run`] waits for.
//!
//! [`WorkerBuilder::run`]: crate::WorkerBuilder::run

use kiribi_core::backend::WorkerId;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// A running worker, returned by [`WorkerBuilder::start`](crate::WorkerBuilder::start).
///
/// Dropping the handle leaves the worker running until the runtime stops; call
/// [`shutdown`](WorkerHandle::shutdown) to stop it gracefully.
#[derive(Debug)]
pub struct WorkerHandle {
    id: WorkerId,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl WorkerHandle {
    pub(crate) fn new(
        id: WorkerId,
        stop: watch::Sender<bool>,
        task: JoinHandle<Result<()>>,
    ) -> Self {
        Self { id, stop, task }
    }

    /// The worker's unique id, recorded as the lease owner of the jobs it runs.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// Whether the worker has stopped (after `shutdown`, on a start-up error, or
    /// after it gave up recording outcomes).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops claiming, lets running jobs finish within the grace period, then stops
    /// the rest and gives them back without charging an attempt.
    ///
    /// # Errors
    ///
    /// The worker's start-up error, if it had one; [`Error::OutcomesNotRecorded`] if
    /// it stopped because recording outcomes kept failing; a failure to give jobs
    /// back; [`Error::WorkerStopped`] if its task panicked.
    pub async fn shutdown(self) -> Result<()> {
        self.stop.send_replace(true);
        match self.task.await {
            Ok(result) => result,
            Err(err) => Err(Error::WorkerStopped {
                source: Box::new(err),
            }),
        }
    }

    /// Resolves when the worker task ends: it holds the only receiver of `stop`.
    pub(crate) async fn stopped(&self) {
        self.stop.closed().await;
    }
}

/// Resolves on SIGINT, or SIGTERM on Unix.
pub(crate) async fn shutdown_signal() {
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
