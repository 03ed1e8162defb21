//! Three worker processes drain thousands of jobs from one SQLite file: every job
//! runs exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kiribi::{JobFilter, JobStatus};
use kiribi_tests::jobs::Drain;
use kiribi_tests::process::{WorkerProcess, read_run_logs};
use kiribi_tests::{TestDb, wait};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");
const JOBS: u64 = 3000;

async fn three_worker_processes_run_every_job_exactly_once(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();

    let mut workers = Vec::new();
    for _ in 0..3 {
        workers
            .push(WorkerProcess::start(WORKER, db.url(), 8, Duration::from_secs(30), &logs).await);
    }
    let mut ids = Vec::new();
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(1000) {
        ids.extend(
            Drain::enqueue_many(&kiribi, chunk.iter().map(|&n| Drain { n }))
                .await
                .unwrap(),
        );
    }

    wait::until("every job to succeed", Duration::from_secs(120), || async {
        let left = kiribi
            .jobs(JobFilter::new().status(JobStatus::Pending).limit(1))
            .await
            .unwrap()
            .len()
            + kiribi
                .jobs(JobFilter::new().status(JobStatus::Running).limit(1))
                .await
                .unwrap()
                .len()
            + kiribi
                .jobs(JobFilter::new().status(JobStatus::Retrying).limit(1))
                .await
                .unwrap()
                .len();
        (left == 0).then_some(())
    })
    .await;
    for worker in workers {
        worker.terminate().await;
    }

    let succeeded = kiribi
        .jobs(
            JobFilter::new()
                .status(JobStatus::Succeeded)
                .limit(usize::try_from(JOBS).unwrap() + 1),
        )
        .await
        .unwrap();
    assert_eq!(succeeded.len(), ids.len());
    assert!(succeeded.iter().all(|job| job.attempts == 1));

    let runs = read_run_logs(&logs);
    let mut per_job: HashMap<i64, u32> = HashMap::new();
    for (_, id, _) in &runs {
        *per_job.entry(*id).or_default() += 1;
    }
    assert_eq!(per_job.len(), ids.len(), "every job ran");
    assert!(per_job.values().all(|&n| n == 1), "no job ran twice");
    let processes: HashSet<u32> = runs.iter().map(|(pid, _, _)| *pid).collect();
    assert!(
        processes.len() >= 2,
        "the work was shared: {} process(es) ran jobs",
        processes.len()
    );
}

kiribi_tests::backend_tests!(three_worker_processes_run_every_job_exactly_once);
