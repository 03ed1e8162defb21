//! Graceful shutdown: running jobs finish; past the grace period they are given back
//! without an attempt being charged, and so are jobs claimed ahead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiribi::{JobContext, JobFilter, JobId, JobStatus, State, job};
use kiribi_tests::{TestDb, wait, wait_for_status};

/// The jobs of a handle whose code started: a job that is `Running` in the
/// database may only be claimed ahead, and shutdown gives those back.
type Started = Arc<Mutex<Vec<JobId>>>;

#[job]
async fn takes_a_while(
    ctx: JobContext,
    State(started): State<Started>,
    millis: u64,
) -> Result<u64, String> {
    started.lock().unwrap().push(ctx.id());
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(millis)
}

/// Waits until job `id`'s code runs.
async fn started(started: &Started, id: JobId) {
    wait::until("the job to start", Duration::from_secs(20), || async {
        started.lock().unwrap().contains(&id).then_some(())
    })
    .await;
}

async fn shutdown_lets_running_jobs_finish(db: TestDb) {
    let jobs = Started::default();
    let kiribi = db.connect_with_state(jobs.clone()).await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 300 })
        .await
        .unwrap();
    started(&jobs, id).await;

    worker.shutdown().await.unwrap();
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.result, Some(serde_json::json!(300)));
}

async fn jobs_still_running_after_the_grace_period_are_released_uncharged(db: TestDb) {
    let jobs = Started::default();
    let kiribi = db.connect_with_state(jobs.clone()).await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .shutdown_timeout(Duration::from_millis(100))
        .start();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 60_000 })
        .await
        .unwrap();
    started(&jobs, id).await;

    worker.shutdown().await.unwrap();
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(
        record.attempts, 0,
        "a released job is not charged an attempt"
    );
    assert_eq!(record.lease_owner, None);
    assert!(kiribi.attempts(id).await.unwrap().is_empty());
}

async fn stopped_worker_claims_nothing_more(db: TestDb) {
    let kiribi = db.connect_with_state(Started::default()).await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    worker.shutdown().await.unwrap();
    let id = TakesAWhile::enqueue(&kiribi, TakesAWhile { millis: 1 })
        .await
        .unwrap();
    // A second handle's worker runs it: proof that it was ready and only the stopped
    // worker did not take it.
    let record = kiribi.job(id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    let other = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    other.shutdown().await.unwrap();
}

/// How many times each `quick` job ran, by its number.
type Runs = Arc<Mutex<HashMap<u32, u32>>>;

#[job]
async fn quick(State(runs): State<Runs>, n: u32) -> Result<(), String> {
    *runs.lock().unwrap().entry(n).or_default() += 1;
    Ok(())
}

async fn jobs_claimed_ahead_are_given_back_uncharged(db: TestDb) {
    const JOBS: u32 = 5_000;
    let runs = Runs::default();
    let kiribi = db.connect_with_state(runs.clone()).await;
    Quick::enqueue_many(&kiribi, (0..JOBS).map(|n| Quick { n }))
        .await
        .unwrap();
    let worker = kiribi.worker().concurrency(2).prefetch(200).start();
    // Short jobs with a backlog: the worker soon holds more jobs than it runs.
    wait::until(
        "jobs to be claimed ahead",
        Duration::from_secs(60),
        || async {
            let running = kiribi
                .jobs(JobFilter::new().status(JobStatus::Running).limit(1000))
                .await
                .unwrap();
            (running.len() > 2).then_some(())
        },
    )
    .await;
    worker.shutdown().await.unwrap();

    let all = kiribi.jobs(JobFilter::new().limit(10_000)).await.unwrap();
    assert_eq!(all.len(), JOBS as usize);
    let runs = runs.lock().unwrap().clone();
    let mut succeeded = 0;
    for job in &all {
        match job.status {
            JobStatus::Succeeded => succeeded += 1,
            JobStatus::Pending => {
                assert_eq!(job.attempts, 0, "job {} was charged", job.id);
                assert_eq!(job.lease_owner, None);
            }
            other => panic!("job {} is {other:?} after the shutdown", job.id),
        }
    }
    assert!(
        succeeded > 0 && succeeded < JOBS as usize,
        "{succeeded} ran"
    );
    assert_eq!(runs.len(), succeeded, "only the succeeded jobs ran");
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
}

kiribi_tests::backend_tests!(
    jobs_claimed_ahead_are_given_back_uncharged,
    shutdown_lets_running_jobs_finish,
    jobs_still_running_after_the_grace_period_are_released_uncharged,
    stopped_worker_claims_nothing_more,
);
