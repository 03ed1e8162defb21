//! Two jobs with one name make worker start-up fail, naming both places.
//!
//! Its own test binary: the duplicate would fail every worker of any binary it is in.

use kiribi::{Error, job};
use kiribi_tests::TestDb;

#[job(name = "shared.name")]
async fn first() -> Result<(), String> {
    Ok(())
}

#[job(name = "shared.name")]
async fn second() -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn duplicate_job_names_fail_worker_start_with_both_locations() {
    let db = TestDb::sqlite();
    let kiribi = db.connect().await;
    let err = kiribi.worker().start().shutdown().await.unwrap_err();
    assert!(matches!(err, Error::DuplicateJobName { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("`shared.name`"), "{message}");
    assert_eq!(
        message.matches("duplicate_names.rs:").count(),
        2,
        "{message}"
    );

    let err = kiribi.worker().run().await.unwrap_err();
    assert!(matches!(err, Error::DuplicateJobName { .. }), "{err:?}");
}
