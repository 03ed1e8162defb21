//! A worker's settings and an enqueue's options are checked: out of range, they
//! are refused by name rather than panicking or being quietly changed; in range,
//! they mean the same whatever order they are given in.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiribi::{
    EnqueueOptions, Error, JobContext, JobFilter, JobId, JobStatus, Kiribi, State, WorkerBuilder,
    job,
};
use kiribi_tests::{TestDb, wait};

/// What the `brief` jobs saw.
#[derive(Clone, Default)]
struct Seen {
    /// The jobs whose body has finished.
    finished: Arc<Mutex<HashSet<JobId>>>,
    /// The most jobs one of them saw held by the worker at once.
    held_most: Arc<AtomicUsize>,
}

/// Counts, as it starts, the jobs its worker (the only one) holds: the `Running`
/// ones whose body has not finished (a finished job's outcome may still wait to be
/// written). The finished set is read after the jobs, so the count can only err low.
#[job]
async fn brief(ctx: JobContext, State(seen): State<Seen>) -> Result<(), String> {
    let running = ctx
        .kiribi()
        .jobs(JobFilter::new().status(JobStatus::Running).limit(1000))
        .await
        .map_err(|err| kiribi::chain_text(&err))?;
    let mut finished = seen.finished.lock().unwrap();
    let held = running
        .iter()
        .filter(|job| !finished.contains(&job.id))
        .count();
    seen.held_most.fetch_max(held, Ordering::Relaxed);
    finished.insert(ctx.id());
    Ok(())
}

fn option_of(err: &Error) -> &'static str {
    match err {
        Error::InvalidOption { option, .. } => option,
        other => panic!("expected InvalidOption, got {other:?}"),
    }
}

async fn out_of_range_worker_settings_stop_the_worker_naming_the_setting(db: TestDb) {
    let kiribi = db.connect_with_state(Seen::default()).await;
    let waiting = Brief::enqueue(&kiribi, Brief).await.unwrap();
    type Set = fn(WorkerBuilder) -> WorkerBuilder;
    let cases: [(&str, Set); 5] = [
        ("concurrency", |w| w.concurrency(0)),
        ("lease", |w| w.lease(Duration::from_millis(50))),
        ("poll_interval", |w| {
            w.poll_interval(Duration::from_millis(1))
        }),
        ("queues", |w| w.queues(Vec::<String>::new())),
        ("cancel_grace", |w| {
            w.cancel_grace(WorkerBuilder::MAX_CANCEL_GRACE + Duration::from_secs(1))
        }),
    ];
    for (option, set) in cases {
        // Valid settings before and after the bad one do not hide it.
        let builder = || set(kiribi.worker().prefetch(1)).shutdown_timeout(Duration::from_secs(1));
        let stopped = builder().start().shutdown().await.unwrap_err();
        assert_eq!(option_of(&stopped), option, "{stopped}");
        assert!(stopped.to_string().contains(option), "{stopped}");
        let ran = builder().run().await.unwrap_err();
        assert_eq!(option_of(&ran), option, "{ran}");
    }
    // None of them claimed anything.
    let record = kiribi.job(waiting).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
}

/// Runs a backlog of brief jobs on `worker` and checks that it never held more than
/// `most` of them at once: running, or claimed ahead and not started.
///
/// Brief jobs finish while the worker's claims are on their way, which is what
/// makes a worker claim ahead: without its `prefetch`, it would hold dozens.
async fn holds_at_most(kiribi: &Kiribi, seen: &Seen, worker: WorkerBuilder, most: usize) {
    const BACKLOG: usize = 300;
    Brief::enqueue_many(kiribi, (0..BACKLOG).map(|_| Brief))
        .await
        .unwrap();
    let worker = worker.poll_interval(Duration::from_millis(20)).start();
    wait::until(
        "the backlog to be done",
        Duration::from_secs(60),
        || async { (seen.finished.lock().unwrap().len() == BACKLOG).then_some(()) },
    )
    .await;
    worker.shutdown().await.unwrap();
    let done = kiribi
        .jobs(JobFilter::new().status(JobStatus::Succeeded).limit(BACKLOG))
        .await
        .unwrap();
    assert_eq!(done.len(), BACKLOG);
    let held_most = seen.held_most.load(Ordering::Relaxed);
    assert!(
        (1..=most).contains(&held_most),
        "the worker held {held_most} jobs at once, more than {most}"
    );
}

async fn prefetch_set_before_concurrency_still_applies(db: TestDb) {
    let seen = Seen::default();
    let kiribi = db.connect_with_state(seen.clone()).await;
    let worker = kiribi.worker().prefetch(3).concurrency(4);
    holds_at_most(&kiribi, &seen, worker, 4 + 3).await;
}

async fn prefetch_set_after_concurrency_still_applies(db: TestDb) {
    let seen = Seen::default();
    let kiribi = db.connect_with_state(seen.clone()).await;
    let worker = kiribi.worker().concurrency(4).prefetch(3);
    holds_at_most(&kiribi, &seen, worker, 4 + 3).await;
}

async fn an_enqueue_with_zero_max_attempts_is_refused_and_inserts_nothing(db: TestDb) {
    let kiribi = db.connect_with_state(Seen::default()).await;
    let err = Brief::enqueue_with(&kiribi, Brief, EnqueueOptions::new().max_attempts(0))
        .await
        .unwrap_err();
    assert_eq!(option_of(&err), "max_attempts", "{err}");
    assert!(kiribi.jobs(JobFilter::new()).await.unwrap().is_empty());
}

kiribi_tests::backend_tests!(
    out_of_range_worker_settings_stop_the_worker_naming_the_setting,
    prefetch_set_before_concurrency_still_applies,
    prefetch_set_after_concurrency_still_applies,
    an_enqueue_with_zero_max_attempts_is_refused_and_inserts_nothing,
);
