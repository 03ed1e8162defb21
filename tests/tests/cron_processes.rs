//! Cron ticks with several real worker processes on one database: every process
//! declares the same schedule at start and tries every tick, the database lets one
//! enqueue it, and when a process is killed the others go on without losing a tick.

use std::collections::BTreeSet;
use std::time::Duration;

use kiribi::chrono::{DateTime, Utc};
use kiribi::{JobFilter, Kiribi};
use kiribi_tests::process::WorkerProcess;
use kiribi_tests::{TestDb, wait};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

/// Every two seconds: a tick apart from the next by more than any poll.
const CRON: &str = "*/2 * * * * *";
const PERIOD: kiribi::chrono::TimeDelta = kiribi::chrono::TimeDelta::seconds(2);

/// The ticks of the jobs of `test.ticks`, one entry per job.
async fn ticks(kiribi: &Kiribi) -> Vec<DateTime<Utc>> {
    let mut ticks: Vec<DateTime<Utc>> = kiribi
        .jobs(JobFilter::new().name("test.tick").limit(100_000))
        .await
        .expect("list the tick jobs")
        .into_iter()
        .map(|job| {
            assert_eq!(job.schedule.as_deref(), Some("test.ticks"));
            job.schedule_tick.expect("a cron job records its tick")
        })
        .collect();
    ticks.sort_unstable();
    ticks
}

/// Waits until `count` ticks after `after` were enqueued.
async fn wait_for_ticks_after(kiribi: &Kiribi, after: DateTime<Utc>, count: usize) {
    wait::until(
        &format!("{count} ticks after {after}"),
        Duration::from_secs(60),
        || async {
            (ticks(kiribi).await.iter().filter(|&&t| t > after).count() >= count).then_some(())
        },
    )
    .await;
}

async fn each_tick_is_enqueued_once_and_none_is_lost_when_a_process_dies(
    db: TestDb,
    processes: usize,
) {
    let kiribi = db.connect().await;
    let mut workers = Vec::new();
    for _ in 0..processes {
        workers.push(
            WorkerProcess::builder(WORKER, db.url())
                .cron(CRON)
                .start()
                .await,
        );
    }
    let started = Utc::now();
    wait_for_ticks_after(&kiribi, started, 3).await;

    // SIGKILL one process, whatever it was doing (an open tick transaction included).
    let killed_at = Utc::now();
    workers.remove(0).kill().await;
    wait_for_ticks_after(&kiribi, killed_at, 4).await;
    for worker in workers {
        worker.terminate().await;
    }

    let ticks = ticks(&kiribi).await;
    let distinct: BTreeSet<DateTime<Utc>> = ticks.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ticks.len(),
        "a tick was enqueued more than once: {ticks:?}"
    );
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            PERIOD,
            "a tick between {} and {} was lost: {ticks:?}",
            pair[0],
            pair[1]
        );
    }
    assert!(ticks.iter().filter(|&&t| t > killed_at).count() >= 4);
    let schedule = kiribi
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "test.ticks")
        .expect("declared by the processes");
    assert_eq!(schedule.last_run_at, ticks.last().copied());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_postgres_processes_enqueue_each_tick_once_and_survive_a_kill() {
    each_tick_is_enqueued_once_and_none_is_lost_when_a_process_dies(TestDb::postgres().await, 3)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_processes_enqueue_each_tick_once_and_survive_a_kill() {
    each_tick_is_enqueued_once_and_none_is_lost_when_a_process_dies(TestDb::sqlite(), 2).await;
}
