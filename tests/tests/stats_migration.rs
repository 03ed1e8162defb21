//! The rollups and trace migrations upgrade a database of the previous schema in
//! place: jobs finished before the upgrade are counted by `stats`, rolled up by a
//! worker's first housekeeping and then pruned, and the figures stay.

use std::time::Duration;

use kiribi::{JobFilter, Kiribi, Retention, job};
use kiribi_tests::{TestDb, backend_tests, execute_sql, wait};

#[job(name = "upgrade.report")]
async fn report(n: u32) -> Result<u32, String> {
    Ok(n)
}

/// What the rollups (20261205000000) and trace (20261205100000) migrations add,
/// taken away again: the schema of the kiribi before them.
const DOWNGRADE: &[&str] = &[
    "DROP TABLE kiribi_job_traces",
    "DROP TABLE kiribi_rollup_state",
    "DROP TABLE kiribi_rollups",
    "DROP INDEX kiribi_jobs_finished",
    "DELETE FROM kiribi_migrations WHERE version IN (20261205000000, 20261205100000)",
];

async fn jobs_finished_before_the_upgrade_are_counted_rolled_up_and_pruned(db: TestDb) {
    let old = db.connect().await;
    execute_sql(&old, DOWNGRADE).await;
    // Jobs run to the end before the upgrade, by the statements of the kiribi
    // before it (an inline run writes no trace row and reads no rollup).
    for n in 0..3 {
        Report::run_now(&old, Report { n }).await.unwrap();
    }
    drop(old);

    let kiribi = Kiribi::builder()
        .retention(Retention::new().succeeded(Duration::ZERO))
        .connect(db.url())
        .await
        .unwrap();
    let counted = |kiribi: Kiribi| async move {
        let stats = kiribi.stats(Duration::from_secs(3600)).await.unwrap();
        stats.job("upgrade.report").map_or(0, |job| job.succeeded)
    };
    assert_eq!(
        counted(kiribi.clone()).await,
        3,
        "counted before any roll-up"
    );

    let worker = kiribi
        .worker()
        .housekeeping_interval(Duration::from_millis(100))
        .rollup_lag(Duration::ZERO)
        .start();
    wait::until(
        "the old jobs to be pruned",
        Duration::from_secs(30),
        || async {
            let left = kiribi
                .count(JobFilter::new().name("upgrade.report"))
                .await
                .unwrap();
            (left == 0).then_some(())
        },
    )
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(
        counted(kiribi.clone()).await,
        3,
        "counted after they were pruned"
    );
}

backend_tests!(jobs_finished_before_the_upgrade_are_counted_rolled_up_and_pruned);
