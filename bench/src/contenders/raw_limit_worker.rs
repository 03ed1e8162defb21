//! The ceiling's worker: claims as far ahead as kiribi may (64 × concurrency), hands
//! jobs out without a round trip each, and writes completions in batches.
//!
//! One claimer task keeps up to `64 × concurrency` jobs claimed and not yet run. It
//! claims again once at least half of that room is free, so every claim but the last
//! of a drain moves hundreds of rows in one statement (on PostgreSQL each claim is a
//! synchronous commit, which a claim per freed slot would pay a hundred times more
//! often). Runner tasks take jobs from a local queue; a completer task writes
//! whatever finished while its previous write was in flight as one statement.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::Workers;
use super::raw_worker::{POLL_INTERVAL, RawQueue};
use crate::recorder::{Payload, Recorder};

/// How far ahead kiribi's worker may claim, per slot (`WorkerBuilder::prefetch`'s
/// default is 64 × concurrency).
const AHEAD_PER_SLOT: usize = 64;

type Job = (i64, String);

/// Claimed jobs not yet handed to a runner.
struct Local {
    jobs: Mutex<VecDeque<Job>>,
    /// One permit per job in `jobs`.
    ready: Semaphore,
}

impl Local {
    fn push(&self, batch: Vec<Job>) {
        let n = batch.len();
        self.jobs.lock().expect("not poisoned").extend(batch);
        self.ready.add_permits(n);
    }

    fn pop(&self) -> Option<Job> {
        self.jobs.lock().expect("not poisoned").pop_front()
    }
}

pub(super) fn start<Q: RawQueue>(
    queue: Arc<Q>,
    recorder: Arc<Recorder>,
    concurrency: usize,
) -> Box<dyn Workers> {
    let ahead = AHEAD_PER_SLOT * concurrency;
    let refill = (ahead / 2).max(1);
    let (stop, stop_rx) = watch::channel(false);
    // Room for jobs claimed and not yet run: a permit per job the claimer may take.
    let room = Arc::new(Semaphore::new(ahead));
    let local = Arc::new(Local {
        jobs: Mutex::new(VecDeque::with_capacity(ahead)),
        ready: Semaphore::new(0),
    });
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<i64>();
    let mut tasks: Vec<JoinHandle<Result<()>>> = Vec::new();

    let claim_queue = queue.clone();
    let claim_room = room.clone();
    let claim_local = local.clone();
    let claim_stop = stop_rx;
    tasks.push(tokio::spawn(async move {
        let claimed =
            claim_loop(&*claim_queue, &claim_room, &claim_local, refill, claim_stop).await;
        // Runners run what is left, then stop.
        claim_local.ready.close();
        claimed
    }));

    for _ in 0..concurrency {
        let local = local.clone();
        let room = room.clone();
        let done_tx = done_tx.clone();
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let run = |(id, payload): Job| -> Result<()> {
                recorder.record(serde_json::from_str::<Payload>(&payload)?);
                room.add_permits(1);
                done_tx.send(id)?;
                Ok(())
            };
            // `acquire` fails once the claimer has stopped and closed `ready`.
            while let Ok(permit) = local.ready.acquire().await {
                permit.forget();
                run(local.pop().context("a ready permit without a job")?)?;
            }
            while let Some(job) = local.pop() {
                run(job)?;
            }
            Ok(())
        }));
    }
    drop(done_tx);

    tasks.push(tokio::spawn(async move {
        let mut batch = Vec::new();
        // Ends when every runner has stopped and everything they finished is written.
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

    Box::new(LimitWorkers { stop, tasks })
}

/// Claims whenever at least `refill` jobs fit, as many as fit, until `stop`.
async fn claim_loop<Q: RawQueue>(
    queue: &Q,
    room: &Semaphore,
    local: &Local,
    refill: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    loop {
        let permits = tokio::select! {
            permits = room.acquire_many(u32::try_from(refill)?) => permits?,
            _ = stop.changed() => return Ok(()),
        };
        permits.forget();
        // Only this task takes room, so what is available now stays available.
        let extra = match room.try_acquire_many(u32::try_from(room.available_permits())?) {
            Ok(more) => {
                let n = more.num_permits();
                more.forget();
                n
            }
            Err(_) => 0,
        };
        let want = refill + extra;
        let jobs = queue.claim(want).await?;
        room.add_permits(want - jobs.len());
        if jobs.is_empty() {
            tokio::select! {
                () = queue.wait_for_jobs(POLL_INTERVAL) => {}
                _ = stop.changed() => return Ok(()),
            }
            continue;
        }
        local.push(jobs);
    }
}

struct LimitWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<()>>>,
}

#[async_trait]
impl Workers for LimitWorkers {
    async fn shutdown(self: Box<Self>) -> Result<()> {
        self.stop.send_replace(true);
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}
