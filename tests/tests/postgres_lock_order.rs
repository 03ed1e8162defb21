//! A deep backlog of very short jobs on PostgreSQL, drained by worker processes of
//! which one is SIGKILLed and restarted now and then. Lease renewals and batched
//! completions lock a worker's rows in one order (by id), so they never deadlock,
//! and a worker that is never killed never loses a job it finished.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kiribi::{JobId, JobStatus, Kiribi};
use kiribi_tests::jobs::Brief;
use kiribi_tests::pg::{PrivateServer, TestPgDatabase};
use kiribi_tests::process::{WorkerProcess, read_run_logs};
use kiribi_tests::{unfinished_jobs, wait};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

/// The backlog of the issue that found the deadlock; drained in about 10 s on two
/// cores.
const JOBS: usize = 80_000;
/// Worker processes at once.
const WORKERS: usize = 3;
/// How many times the first of them is killed and restarted.
const KILLS: usize = 3;

async fn count_with_status(kiribi: &Kiribi, status: &str) -> i64 {
    kiribi::sqlx::query_scalar("SELECT count(*) FROM kiribi_jobs WHERE status = $1")
        .bind(status)
        .fetch_one(kiribi.pg_pool().expect("a PostgreSQL backend"))
        .await
        .expect("count jobs")
}

async fn succeeded(kiribi: &Kiribi, id: JobId) -> Option<()> {
    let job = kiribi.job(id).await.ok().flatten()?;
    (job.status == JobStatus::Succeeded).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_and_batched_completions_never_deadlock_under_a_deep_backlog_with_kills() {
    let server = tokio::task::spawn_blocking(PrivateServer::start)
        .await
        .unwrap()
        .expect("start a private PostgreSQL server");
    let database = TestPgDatabase::on(&server.url("postgres")).await;
    let scratch = tempfile::tempdir().unwrap();
    let logs = scratch.path().join("runs");
    std::fs::create_dir(&logs).unwrap();
    let kiribi = Kiribi::connect(database.url()).await.unwrap();

    // Jobs of 0 and 1 ms, all enqueued before the first worker starts.
    let mut ids = Vec::with_capacity(JOBS);
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(5000) {
        ids.extend(
            Brief::enqueue_many(
                &kiribi,
                chunk.iter().map(|&n| Brief {
                    millis: u64::try_from(n % 2).unwrap(),
                }),
            )
            .await
            .unwrap(),
        );
    }

    let mut started = 0;
    let mut stderr_files = Vec::new();
    let mut start_worker = || {
        let stderr = scratch.path().join(format!("worker-{started}.stderr"));
        started += 1;
        stderr_files.push(stderr.clone());
        WorkerProcess::builder(WORKER, database.url())
            .concurrency(8)
            .lease(Duration::from_secs(2))
            .run_log(&logs)
            .stderr_to(&stderr)
            .log_level("warn")
            .start()
    };
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        workers.push(start_worker().await);
    }

    // Kill the first worker, and start another in its place, each time another
    // part of the backlog is done (jobs run roughly in id order).
    let mut killed = HashSet::new();
    for kill in 1..=KILLS {
        let mark = ids[JOBS * kill / (KILLS + 1)];
        wait::until(
            &format!("job {mark} to succeed"),
            Duration::from_secs(120),
            || succeeded(&kiribi, mark),
        )
        .await;
        let victim = workers.remove(0);
        killed.insert(victim.pid());
        victim.kill().await;
        workers.insert(0, start_worker().await);
    }
    wait::until("every job to finish", Duration::from_secs(120), || async {
        (unfinished_jobs(&kiribi).await == 0).then_some(())
    })
    .await;
    let never_killed: Vec<u32> = workers.iter().map(WorkerProcess::pid).collect();
    for worker in workers {
        worker.terminate().await;
    }

    assert_eq!(
        count_with_status(&kiribi, "failed").await,
        0,
        "no job failed"
    );
    assert_eq!(
        count_with_status(&kiribi, "succeeded").await,
        i64::try_from(JOBS).unwrap(),
        "every job succeeded"
    );

    // A deadlock is retried (a renewal at its next period, a batch of outcomes at
    // once), so it shows only in the logs: the workers' and the server's.
    let mut deadlocks = Vec::new();
    for path in &stderr_files {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        deadlocks.extend(
            log.lines()
                .filter(|line| line.contains("deadlock detected"))
                .map(str::to_owned),
        );
    }
    let server_log = server.log();
    let in_server_log: Vec<&str> = server_log
        .lines()
        .skip_while(|line| !line.contains("deadlock detected"))
        .take(12)
        .collect();
    assert!(
        deadlocks.is_empty() && in_server_log.is_empty(),
        "{} deadlock(s) in the workers' logs: {deadlocks:#?}\nthe server's log from the \
         first one: {in_server_log:#?}",
        deadlocks.len()
    );

    // Every run but a job's last was cut short by a kill: a worker that was never
    // killed never lost a job it finished (nor one it ran).
    let mut runs: HashMap<i64, Vec<(u32, u32)>> = HashMap::new();
    for (pid, id, attempt) in read_run_logs(&logs) {
        runs.entry(id).or_default().push((attempt, pid));
    }
    assert_eq!(runs.len(), JOBS, "every job ran");
    let mut rerun = 0;
    for (id, runs) in &mut runs {
        runs.sort_unstable();
        let (_, earlier) = runs.split_last().expect("at least one run");
        for &(attempt, pid) in earlier {
            rerun += 1;
            assert!(
                killed.contains(&pid),
                "job {id} ran again after attempt {attempt} in worker {pid}, which was never \
                 killed (killed: {killed:?}, never killed: {never_killed:?}): {runs:?}"
            );
        }
    }
    eprintln!("{rerun} runs were cut short by the {KILLS} kills");
    drop(kiribi);
    drop(database);
    drop(server);
}
