//! What the two apalis contenders share: a running worker and how to stop it.

use std::future::Future;

use anyhow::Result;
use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Workers;

pub(super) struct ApalisWorkers {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), apalis::prelude::WorkerError>>,
}

type Signal = std::pin::Pin<Box<dyn Future<Output = Result<(), std::io::Error>> + Send>>;

impl ApalisWorkers {
    /// Spawns `run_until(signal)`; [`Workers::shutdown`] fires the signal.
    pub(super) fn spawn<F, Fut>(run_until: F) -> Self
    where
        F: FnOnce(Signal) -> Fut,
        Fut: Future<Output = Result<(), apalis::prelude::WorkerError>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let signal: Signal = Box::pin(async move {
            let _ = stopped.await;
            Ok(())
        });
        let task = tokio::spawn(run_until(signal));
        Self { stop, task }
    }
}

#[async_trait]
impl Workers for ApalisWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}
