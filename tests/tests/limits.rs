//! Concurrency and rate limits through the public API, with real worker processes,
//! on each backend (DESIGN §9): a limit holds across processes, per key; jobs held
//! back do not hold back other keys or names; a slot held by a killed worker frees
//! when its lease is reaped; a rate limit holds in every window.

use std::time::Duration;

use kiribi::{JobFilter, JobStatus, Kiribi};
use kiribi_tests::jobs::{Drain, Exclusive, PerAccount, RateLimited, now_us};
use kiribi_tests::process::{WorkerProcess, most_at_once, read_spans};
use kiribi_tests::{TestDb, backend_tests, wait};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

async fn count(kiribi: &Kiribi, name: &str, status: JobStatus) -> usize {
    kiribi
        .jobs(JobFilter::new().name(name).status(status).limit(10_000))
        .await
        .expect("list jobs")
        .len()
}

async fn all_succeed(kiribi: &Kiribi, name: &str, total: usize) {
    wait::until(
        &format!("every `{name}` job to succeed"),
        Duration::from_secs(120),
        || async { (count(kiribi, name, JobStatus::Succeeded).await == total).then_some(()) },
    )
    .await;
}

async fn worker(db: &TestDb, logs: &std::path::Path, lease: Duration) -> WorkerProcess {
    WorkerProcess::builder(WORKER, db.url())
        .lease(lease)
        .poll_interval(Duration::from_millis(20))
        .run_log(logs)
        .start()
        .await
}

/// `concurrency = 2, concurrency_key = account_id` across three worker processes:
/// never more than two runs of one account at once, and other jobs flow past the
/// ones held back.
async fn a_concurrency_key_holds_across_three_processes(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();
    let accounts = (0..30).map(|n| PerAccount {
        account_id: n % 3,
        millis: 30,
    });
    PerAccount::enqueue_many(&kiribi, accounts).await.unwrap();
    // One group of forty 100 ms jobs, one at a time: four seconds of work at least.
    let exclusive = (0..40).map(|_| Exclusive {
        millis: 100,
        marker: None,
    });
    Exclusive::enqueue_many(&kiribi, exclusive).await.unwrap();
    let workers = [
        worker(&db, &logs, Duration::from_secs(30)).await,
        worker(&db, &logs, Duration::from_secs(30)).await,
        worker(&db, &logs, Duration::from_secs(30)).await,
    ];
    let drains = Drain::enqueue_many(&kiribi, (0..20).map(|n| Drain { n }))
        .await
        .unwrap();
    all_succeed(&kiribi, "test.drain", drains.len()).await;
    let waiting = count(&kiribi, "test.exclusive", JobStatus::Pending).await;
    assert!(
        waiting > 0,
        "the jobs without limits ran while the exclusive ones still waited"
    );
    all_succeed(&kiribi, "test.per_account", 30).await;
    all_succeed(&kiribi, "test.exclusive", 40).await;
    for worker in workers {
        worker.terminate().await;
    }

    let spans = read_spans(&logs);
    assert_eq!(spans.len(), 70, "every limited job logged one run");
    let most = most_at_once(&spans);
    assert_eq!(
        most["exclusive"], 1,
        "one exclusive job at a time: {most:?}"
    );
    for account in ["0", "1", "2"] {
        assert!(most[account] <= 2, "at most two per account: {most:?}");
    }
    assert!(
        ["0", "1", "2"].iter().any(|account| most[*account] == 2),
        "the limit is two, not one: {most:?}"
    );
}

/// A worker SIGKILLed while it holds the only slot: no other run starts until its
/// lease is reaped, then the rest run, one at a time.
async fn a_slot_held_by_a_killed_worker_frees_when_reaped(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();
    let marker = db.dir().join("hanging");
    Exclusive::enqueue(
        &kiribi,
        Exclusive {
            millis: 0,
            marker: Some(marker.display().to_string()),
        },
    )
    .await
    .unwrap();
    Exclusive::enqueue_many(
        &kiribi,
        (0..3).map(|_| Exclusive {
            millis: 20,
            marker: None,
        }),
    )
    .await
    .unwrap();
    let holder = worker(&db, &logs, Duration::from_secs(1)).await;
    wait::until("the first job to hang", Duration::from_secs(30), || async {
        marker.exists().then_some(())
    })
    .await;
    let other = worker(&db, &logs, Duration::from_secs(1)).await;
    let killed_at = now_us();
    holder.kill().await;
    all_succeed(&kiribi, "test.exclusive", 4).await;
    other.terminate().await;

    let spans = read_spans(&logs);
    assert_eq!(
        spans.len(),
        4,
        "the hung attempt never ended; four runs did"
    );
    assert!(
        spans.iter().all(|span| span.start_us >= killed_at),
        "no run started while the killed worker held the slot: {spans:?}"
    );
    assert_eq!(most_at_once(&spans)["exclusive"], 1);
}

/// `rate_limit = "10/1s"` across two worker processes: in no window of a second do
/// more than ten attempts start (by their recorded `started_at`).
async fn a_rate_limit_holds_in_every_window(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();
    RateLimited::enqueue_many(&kiribi, (0..25).map(|n| RateLimited { n }))
        .await
        .unwrap();
    let workers = [
        worker(&db, &logs, Duration::from_secs(30)).await,
        worker(&db, &logs, Duration::from_secs(30)).await,
    ];
    all_succeed(&kiribi, "test.rate_limited", 25).await;
    for worker in workers {
        worker.terminate().await;
    }
    let mut starts: Vec<i64> = kiribi
        .jobs(JobFilter::new().name("test.rate_limited").limit(100))
        .await
        .unwrap()
        .iter()
        .map(|job| job.started_at.expect("it ran").timestamp_micros())
        .collect();
    starts.sort_unstable();
    for (i, start) in starts.iter().enumerate() {
        let in_window = starts[i..]
            .iter()
            .take_while(|later| **later < start + 1_000_000)
            .count();
        assert!(
            in_window <= 10,
            "{in_window} attempts started within a second of {start}: {starts:?}"
        );
    }
}

backend_tests!(
    a_concurrency_key_holds_across_three_processes,
    a_slot_held_by_a_killed_worker_frees_when_reaped,
    a_rate_limit_holds_in_every_window,
);
