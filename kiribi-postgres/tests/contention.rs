//! Several storages on one schema, as several processes would be: every job is
//! claimed and completed exactly once.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::SchemaGuard;
use kiribi_core::backend::{NewJob, Outcome};
use kiribi_core::{JobFilter, JobStatus, Storage};

const JOBS: usize = 2_000;
const STORAGES: usize = 4;
const BATCH: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_storages_claim_and_complete_every_job_exactly_once() {
    let schema = SchemaGuard::new("stress");
    let mut storages = Vec::new();
    for _ in 0..STORAGES {
        storages.push(schema.storage().await);
    }
    let completed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(120);

    let mut producers = tokio::task::JoinSet::new();
    let mut consumers = tokio::task::JoinSet::new();
    for (index, storage) in storages.iter().enumerate() {
        let producer = storage.clone();
        producers.spawn(async move {
            for batch in 0..(JOBS / STORAGES / BATCH) {
                let jobs = (0..BATCH)
                    .map(|n| {
                        NewJob::new(
                            "stress",
                            serde_json::json!({ "from": index, "batch": batch, "n": n }),
                        )
                    })
                    .collect();
                kiribi_conformance::enqueue(&producer, jobs).await;
            }
        });
        for consumer in 0..3 {
            let storage = storage.clone();
            let completed = Arc::clone(&completed);
            consumers.spawn(async move {
                let request = kiribi_core::backend::ClaimRequest::new(
                    kiribi_core::backend::WorkerId::new(format!(
                        "storage-{index}-consumer-{consumer}"
                    )),
                    Duration::from_secs(120),
                )
                .with_names(["stress"])
                .with_limit(7);
                let mut done = Vec::new();
                while completed.load(Ordering::SeqCst) < JOBS {
                    assert!(
                        Instant::now() < deadline,
                        "the jobs were not all done in time"
                    );
                    let claimed = storage.claim(&request).await.expect("claim never fails");
                    if claimed.is_empty() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    for job in claimed {
                        assert_eq!(job.attempt(), 1, "no job is claimed twice");
                        let applied = kiribi_conformance::complete(
                            &storage,
                            job.lease.clone(),
                            Outcome::succeeded(None),
                        )
                        .await
                        .expect("complete never fails");
                        assert!(applied, "the lease of a fresh claim holds");
                        completed.fetch_add(1, Ordering::SeqCst);
                        done.push(job.id());
                    }
                }
                done
            });
        }
    }
    while let Some(joined) = producers.join_next().await {
        joined.unwrap();
    }
    let mut seen = HashSet::new();
    while let Some(joined) = consumers.join_next().await {
        for id in joined.unwrap() {
            assert!(seen.insert(id), "job {id} was completed twice");
        }
    }
    assert_eq!(seen.len(), JOBS);

    let succeeded = storages[0]
        .list(
            &JobFilter::new()
                .status(JobStatus::Succeeded)
                .limit(JOBS + 1),
        )
        .await
        .unwrap();
    assert_eq!(succeeded.len(), JOBS);
    assert!(succeeded.iter().all(|job| job.attempts == 1));
    for job in &succeeded {
        let attempts = storages[0].attempts(job.id).await.unwrap();
        assert_eq!(attempts.len(), 1, "one attempt for job {}", job.id);
        assert!(attempts[0].finished_at.is_some());
    }
}
