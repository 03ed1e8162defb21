//! Shared helpers of kiribi's cross-crate tests: the backend conformance suite, the
//! jobs that test processes run, and waiting with deadlines.

pub mod conformance;
pub mod jobs;
pub mod process;
pub mod wait;

use kiribi::{JobId, JobRecord, JobStatus, Kiribi};

/// A fresh SQLite database file in its own temporary directory.
pub struct TempDb {
    /// Keeps the directory alive as long as the database is used.
    pub dir: tempfile::TempDir,
    /// `sqlite://…/jobs.db`.
    pub url: String,
}

impl TempDb {
    /// Creates the directory; the file is created by the first connect.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        Self { dir, url }
    }

    /// Connects a handle to it.
    pub async fn connect(&self) -> Kiribi {
        Kiribi::connect(&self.url).await.expect("connect to the test database")
    }
}

impl Default for TempDb {
    fn default() -> Self {
        Self::new()
    }
}

/// Waits (up to 20 s) until the job is in `status`, and returns its record.
pub async fn wait_for_status(kiribi: &Kiribi, id: JobId, status: JobStatus) -> JobRecord {
    wait::until(
        &format!("job {id} to be {status}"),
        std::time::Duration::from_secs(20),
        || async {
            let record = kiribi.job(id).await.expect("read the job").expect("the job exists");
            (record.status == status).then_some(record)
        },
    )
    .await
}
