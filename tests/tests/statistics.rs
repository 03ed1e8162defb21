//! Statistics, retention and counting through the public API, on each backend
//! (DESIGN §12): `stats` against exact figures computed from the jobs table, the
//! figures after a worker pruned the jobs they came from, and `count`.

use std::time::Duration;

use kiribi::backend::SKETCH_RELATIVE_ACCURACY;
use kiribi::{JobFilter, JobRecord, JobStatus, Kiribi, Retention, job};
use kiribi_tests::{TestDb, backend_tests, wait};

/// Sleeps `millis`, then fails when `fail` says so.
#[job(name = "stats.timed", max_attempts = 1)]
async fn timed(millis: u64, fail: bool) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(millis)).await;
    if fail {
        return Err("asked to fail".to_owned());
    }
    Ok(())
}

/// The `q` quantile of `values` at rank `q * (n - 1)`, rounded down: the rank the
/// sketch's guarantee is about.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a rank in 0..n, rounded down on purpose"
)]
fn exact(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(q * (values.len() - 1) as f64) as usize]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Run and wait times of finished jobs, in milliseconds, from their records.
fn durations(jobs: &[JobRecord]) -> (Vec<f64>, Vec<f64>) {
    let ms = |delta: kiribi::chrono::TimeDelta| delta.num_microseconds().unwrap() as f64 / 1000.0;
    jobs.iter()
        .map(|job| {
            let started = job.started_at.expect("started");
            (
                ms(job.finished_at.expect("finished") - started),
                ms(started - job.run_at),
            )
        })
        .unzip()
}

async fn finished(kiribi: &Kiribi) -> Vec<JobRecord> {
    let all = kiribi
        .jobs(JobFilter::new().name("stats.timed").limit(1_000))
        .await
        .unwrap();
    all.into_iter()
        .filter(|job| job.status.is_finished())
        .collect()
}

async fn run_all(kiribi: &Kiribi, jobs: u64) {
    let worker = kiribi.worker().concurrency(8).start();
    wait::until("every job to finish", Duration::from_secs(60), || async {
        (finished(kiribi).await.len() as u64 == jobs).then_some(())
    })
    .await;
    worker.shutdown().await.unwrap();
}

/// Counts, failure rate and run-time percentiles from `stats` agree with the jobs
/// table: counts exactly, percentiles within the sketch's documented accuracy.
async fn stats_agree_with_the_jobs_table(db: TestDb) {
    let kiribi = db.connect().await;
    let jobs = 60;
    for n in 0..jobs {
        let job = Timed {
            millis: (n * 37) % 90,
            fail: n % 10 == 0,
        };
        Timed::enqueue(&kiribi, job).await.unwrap();
    }
    run_all(&kiribi, jobs).await;

    let stats = kiribi.stats(Duration::from_secs(3600)).await.unwrap();
    let timed = stats
        .job("stats.timed")
        .expect("the jobs finished in the window");
    assert_eq!((timed.succeeded, timed.failed, timed.cancelled), (54, 6, 0));
    assert!(
        (timed.failure_rate - 0.1).abs() < 1e-9,
        "{}",
        timed.failure_rate
    );
    assert_eq!(timed.run_time.count, jobs);
    let per_minute: u64 = stats.minutes.iter().map(|m| m.succeeded + m.failed).sum();
    assert_eq!(per_minute, jobs, "the minutes add up to the jobs");

    let (mut run, mut wait) = durations(&finished(&kiribi).await);
    for (q, got) in [
        (0.5, timed.run_time.p50),
        (0.95, timed.run_time.p95),
        (0.99, timed.run_time.p99),
    ] {
        let truth = exact(&mut run, q);
        let got = millis(got.expect("measured"));
        assert!(
            (got - truth).abs() <= truth * SKETCH_RELATIVE_ACCURACY + 1e-3,
            "run time p{q}: {got} ms from stats, {truth} ms from the jobs table"
        );
    }
    let longest = kiribi.stats(Duration::MAX).await.unwrap();
    assert_eq!(longest.minutes.len(), 31 * 24 * 60 + 1, "cut to 31 days");
    assert_eq!(longest.job("stats.timed").unwrap().failed, 6);

    for (q, got) in [(0.5, timed.wait_time.p50), (0.95, timed.wait_time.p95)] {
        let truth = exact(&mut wait, q);
        let got = millis(got.expect("measured"));
        assert!(
            (got - truth).abs() <= truth * SKETCH_RELATIVE_ACCURACY + 1e-3,
            "wait time p{q}: {got} ms from stats, {truth} ms from the jobs table"
        );
    }
}

/// A worker whose retention prunes succeeded jobs at once rolls them up first:
/// they leave the table and `stats` still counts them; failed jobs are kept.
async fn stats_survive_pruning_by_a_worker(db: TestDb) {
    let kiribi = Kiribi::builder()
        .retention(Retention::new().succeeded(Duration::ZERO))
        .connect(db.url())
        .await
        .unwrap();
    for n in 0..20 {
        Timed::enqueue(
            &kiribi,
            Timed {
                millis: 1,
                fail: n % 4 == 0,
            },
        )
        .await
        .unwrap();
    }
    let worker = kiribi
        .worker()
        .housekeeping_interval(Duration::from_millis(100))
        // Longer than a completion takes to commit after it was stamped (see
        // `rollup_lag`), short enough for a test.
        .rollup_lag(Duration::from_millis(500))
        .start();
    // Only the 5 failed jobs left: the 15 succeeded ones ran and were pruned (a
    // count of succeeded jobs alone would also be 0 before they are recorded).
    wait::until(
        "the succeeded jobs to be pruned",
        Duration::from_secs(60),
        || async {
            let failed = JobFilter::new().status(JobStatus::Failed);
            let left = (
                kiribi.count(JobFilter::new()).await.unwrap(),
                kiribi.count(failed).await.unwrap(),
            );
            (left == (5, 5)).then_some(())
        },
    )
    .await;
    // The pruned jobs were counted before they went; the failed ones, which stay,
    // are counted by a later roll-up.
    let counted = wait::until(
        "the stats to count every job",
        Duration::from_secs(60),
        || async {
            let stats = kiribi.stats(Duration::from_secs(3600)).await.unwrap();
            let timed = stats.job("stats.timed")?;
            (timed.failed == 5).then_some((timed.succeeded, timed.failed))
        },
    )
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(counted, (15, 5), "each pruned job counted once");
    assert_eq!(kiribi.count(JobFilter::new()).await.unwrap(), 5);
}

backend_tests!(
    stats_agree_with_the_jobs_table,
    stats_survive_pruning_by_a_worker
);
