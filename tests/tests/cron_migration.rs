//! The schedules migration upgrades a database of the previous schema in place:
//! its jobs stay and read as enqueued by no schedule, and schedules work after it.

use kiribi::{JobStatus, job};
use kiribi_tests::{TestDb, backend_tests, execute_sql};

#[job]
async fn nightly(region: String) -> Result<(), String> {
    let _ = region;
    Ok(())
}

/// What the schedules migration (20261202100000) adds, taken away again: the
/// schema of the kiribi before it.
const DOWNGRADE: &[&str] = &[
    "DROP TABLE kiribi_schedules",
    "ALTER TABLE kiribi_jobs DROP COLUMN schedule_tick",
    "ALTER TABLE kiribi_jobs DROP COLUMN schedule",
    "DELETE FROM kiribi_migrations WHERE version = 20261202100000",
];

async fn a_database_of_the_previous_schema_is_upgraded_in_place(db: TestDb) {
    let old = db.connect().await;
    execute_sql(&old, DOWNGRADE).await;
    // Jobs enqueued before the upgrade, by the statements of the kiribi before it.
    let id = Nightly::enqueue(
        &old,
        Nightly {
            region: "eu".into(),
        },
    )
    .await
    .unwrap();
    drop(old);

    let kiribi = db.connect().await;
    let record = kiribi.job(id).await.unwrap().expect("the job stayed");
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.payload, serde_json::json!({ "region": "eu" }));
    assert_eq!((record.schedule, record.schedule_tick), (None, None));

    kiribi
        .schedule(
            "nightly.eu",
            "0 3 * * *",
            Nightly {
                region: "eu".into(),
            },
        )
        .await
        .unwrap();
    let by_hand = kiribi
        .run_schedule_now("nightly.eu")
        .await
        .unwrap()
        .expect("the schedule exists");
    let job = kiribi.job(by_hand).await.unwrap().unwrap();
    assert_eq!(job.schedule.as_deref(), Some("nightly.eu"));
}

backend_tests!(a_database_of_the_previous_schema_is_upgraded_in_place);
