//! Claiming ahead adapts to the jobs: jobs that outlast a claim's round trip are not
//! hoarded by a busy worker while another worker idles.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kiribi::{JobFilter, JobStatus, State, job};
use kiribi_tests::{TestDb, wait, wait_for_status};
use tokio::sync::watch;

/// Holds the `held` jobs until the test opens it.
#[derive(Clone)]
struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    fn closed() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }

    fn open(&self) {
        self.0.send_replace(true);
    }
}

/// Runs until the gate opens: as long as the test needs, on any machine.
#[job]
async fn held(State(gate): State<Gate>) -> Result<(), String> {
    let mut open = gate.0.subscribe();
    open.wait_for(|open| *open)
        .await
        .map_err(|_| "the gate was dropped".to_owned())?;
    Ok(())
}

/// The lease owners of the jobs running now.
async fn running_owners(kiribi: &kiribi::Kiribi) -> Vec<String> {
    kiribi
        .jobs(JobFilter::new().status(JobStatus::Running))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|job| job.lease_owner)
        .collect()
}

async fn a_busy_worker_leaves_long_jobs_to_an_idle_one(db: TestDb) {
    let gate = Gate::closed();
    let kiribi = db.connect_with_state(gate.clone()).await;
    let first = kiribi
        .worker()
        .concurrency(2)
        .poll_interval(Duration::from_millis(20))
        .start();
    let ids = Held::enqueue_many(&kiribi, (0..6).map(|_| Held))
        .await
        .unwrap();
    wait::until(
        "the first worker to run two jobs",
        Duration::from_secs(20),
        || async { (running_owners(&kiribi).await.len() == 2).then_some(()) },
    )
    .await;
    // Its slots are full and nothing it runs ends until the gate opens: it holds no
    // job beyond the two it runs, so the second worker finds the rest.
    let second = kiribi
        .worker()
        .concurrency(2)
        .poll_interval(Duration::from_millis(20))
        .start();
    let owners = wait::until(
        "both workers to run two jobs each",
        Duration::from_secs(20),
        || async {
            let owners = running_owners(&kiribi).await;
            (owners.len() == 4).then_some(owners)
        },
    )
    .await;
    let distinct: HashSet<&String> = owners.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "each worker holds its own two jobs: {owners:?}"
    );
    assert!(owners.iter().any(|owner| owner == second.id()));
    assert_eq!(
        owners.iter().filter(|owner| *owner == first.id()).count(),
        2
    );

    let all = kiribi.jobs(JobFilter::new()).await.unwrap();
    let pending = all
        .iter()
        .filter(|job| job.status == JobStatus::Pending)
        .count();
    assert_eq!(pending, 2, "nobody claimed the last two jobs ahead");

    gate.open();
    for id in ids {
        wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    }
    for worker in [first, second] {
        worker.shutdown().await.unwrap();
    }
}

kiribi_tests::backend_tests!(a_busy_worker_leaves_long_jobs_to_an_idle_one);
