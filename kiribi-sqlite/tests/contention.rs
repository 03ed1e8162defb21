//! Several storages on one file, as several processes would be: no job is handed out
//! twice and no "database is locked" ever reaches the caller.

use std::collections::HashSet;
use std::time::Duration;

use kiribi_core::backend::{NewJob, Outcome};
use kiribi_core::{JobFilter, JobStatus, Storage};
use kiribi_sqlite::{SqliteStorage, SqliteStorageOptions};

const JOBS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_storages_on_one_file_claim_and_complete_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stress.db");
    let mut storages = Vec::new();
    for index in 0..4_u64 {
        // A short busy timeout makes SQLite give up waiting early, so kiribi's own
        // retry loop is what keeps the errors away.
        let options =
            SqliteStorageOptions::new(&path).busy_timeout(Duration::from_millis(5 + index * 20));
        storages.push(SqliteStorage::connect_with(options).await.unwrap());
    }

    let mut tasks = tokio::task::JoinSet::new();
    for (index, storage) in storages.iter().enumerate() {
        // Each storage enqueues its share while the others already claim.
        let producer = storage.clone();
        tasks.spawn(async move {
            for batch in 0..(JOBS / 4 / 25) {
                let jobs = (0..25)
                    .map(|n| {
                        NewJob::new(
                            "stress",
                            serde_json::json!({ "from": index, "batch": batch, "n": n }),
                        )
                    })
                    .collect();
                kiribi_conformance::enqueue(&producer, jobs).await;
            }
            Vec::new()
        });
        for consumer in 0..2 {
            let storage = storage.clone();
            tasks.spawn(async move {
                let request = kiribi_core::backend::ClaimRequest::new(
                    kiribi_core::backend::WorkerId::new(format!(
                        "storage-{index}-consumer-{consumer}"
                    )),
                    Duration::from_secs(60),
                )
                .with_names(["stress"])
                .with_limit(7);
                let mut done = Vec::new();
                let mut idle_rounds = 0;
                while idle_rounds < 50 {
                    let claimed = storage.claim(&request).await.expect("claim never fails");
                    if claimed.is_empty() {
                        idle_rounds += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                    idle_rounds = 0;
                    for job in claimed {
                        let applied = kiribi_conformance::complete(
                            &storage,
                            job.lease.clone(),
                            Outcome::succeeded(Some(serde_json::json!(job.id()))),
                        )
                        .await
                        .expect("complete never fails");
                        assert!(applied, "the lease of job {} was held", job.id());
                        done.push(job.id());
                    }
                    storage
                        .renew_leases(&request.worker, request.lease)
                        .await
                        .expect("renew never fails");
                    let _ = storage.get(done[0]).await.expect("reads never fail");
                }
                done
            });
        }
    }

    let mut seen = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        for id in result.unwrap() {
            assert!(seen.insert(id), "job {id} was handed out twice");
        }
    }
    assert_eq!(seen.len(), JOBS);
    let succeeded = storages[0]
        .list(
            &JobFilter::new()
                .status(JobStatus::Succeeded)
                .limit(JOBS * 2),
        )
        .await
        .unwrap();
    assert_eq!(succeeded.len(), JOBS);
    for record in succeeded {
        assert_eq!(record.attempts, 1);
        assert_eq!(storages[1].attempts(record.id).await.unwrap().len(), 1);
    }
}
