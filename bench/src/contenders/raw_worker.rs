//! The raw-SQL baseline's worker: claims up to 4× concurrency ahead in one statement,
//! runs jobs on `concurrency` tasks and completes them in batches.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::Workers;
use crate::recorder::{Payload, Recorder};

/// How long an idle raw worker waits for a wake-up before it polls again.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The three statements a raw queue needs.
#[async_trait]
pub(super) trait RawQueue: Send + Sync + 'static {
    /// Marks up to `limit` ready jobs running and returns `(id, payload)`.
    async fn claim(&self, limit: usize) -> Result<Vec<(i64, String)>>;
    /// Marks these jobs done in one statement.
    async fn complete(&self, ids: &[i64]) -> Result<()>;
    /// Resolves when jobs may have arrived (a notification), or after `timeout`.
    async fn wait_for_jobs(&self, timeout: Duration);
}

pub(super) fn start<Q: RawQueue>(
    queue: Arc<Q>,
    recorder: Arc<Recorder>,
    concurrency: usize,
) -> Box<dyn Workers> {
    let (stop, mut stop_rx) = watch::channel(false);
    let ahead = 4 * concurrency;
    let capacity = Arc::new(Semaphore::new(ahead));
    let (job_tx, job_rx) = async_channel();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<i64>();
    let mut tasks: Vec<JoinHandle<Result<()>>> = Vec::new();

    let fetch_queue = queue.clone();
    let fetch_capacity = capacity.clone();
    tasks.push(tokio::spawn(async move {
        let job_tx = job_tx;
        loop {
            let first = tokio::select! {
                permit = fetch_capacity.acquire() => permit?,
                _ = stop_rx.changed() => break,
            };
            first.forget();
            let mut want = 1;
            while want < ahead {
                match fetch_capacity.try_acquire() {
                    Ok(p) => {
                        p.forget();
                        want += 1;
                    }
                    Err(_) => break,
                }
            }
            let jobs = fetch_queue.claim(want).await?;
            fetch_capacity.add_permits(want - jobs.len());
            if jobs.is_empty() {
                tokio::select! {
                    () = fetch_queue.wait_for_jobs(POLL_INTERVAL) => {}
                    _ = stop_rx.changed() => break,
                }
                continue;
            }
            for job in jobs {
                job_tx.send(job).await?;
            }
        }
        Ok(())
    }));

    for _ in 0..concurrency {
        let job_rx = job_rx.clone();
        let done_tx = done_tx.clone();
        let recorder = recorder.clone();
        let capacity = capacity.clone();
        tasks.push(tokio::spawn(async move {
            while let Some((id, payload)) = job_rx.recv().await {
                let payload: Payload = serde_json::from_str(&payload)?;
                recorder.record(payload);
                capacity.add_permits(1);
                done_tx.send(id)?;
            }
            Ok(())
        }));
    }
    drop(done_tx);
    drop(job_rx);

    tasks.push(tokio::spawn(async move {
        let mut batch = Vec::new();
        while let Some(id) = done_rx.recv().await {
            batch.push(id);
            while let Ok(id) = done_rx.try_recv() {
                batch.push(id);
            }
            queue.complete(&batch).await?;
            batch.clear();
        }
        Ok(())
    }));

    Box::new(RawWorkers { stop, tasks })
}

struct RawWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
}

#[async_trait]
impl Workers for RawWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

/// A multi-consumer channel from tokio's pieces: an mpsc receiver behind a mutex.
fn async_channel() -> (mpsc::Sender<(i64, String)>, SharedReceiver) {
    let (tx, rx) = mpsc::channel(1024);
    (tx, SharedReceiver(Arc::new(tokio::sync::Mutex::new(rx))))
}

#[derive(Clone)]
struct SharedReceiver(Arc<tokio::sync::Mutex<mpsc::Receiver<(i64, String)>>>);

impl SharedReceiver {
    async fn recv(&self) -> Option<(i64, String)> {
        self.0.lock().await.recv().await
    }
}
