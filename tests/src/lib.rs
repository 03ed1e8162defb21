//! Shared helpers of kiribi's cross-crate tests: the jobs that test processes run,
//! test databases, and waiting with deadlines (from the conformance suite, which
//! lives in the `kiribi-conformance` crate).

pub mod jobs;
pub mod log;
pub mod pg;
pub mod process;

pub use kiribi_conformance::wait;

use kiribi::{FlowId, FlowRecord, FlowStatus, JobId, JobRecord, JobStatus, Kiribi};

/// The backends the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the test PostgreSQL server.
    Postgres,
}

/// A fresh, empty database of one backend for one test, and a scratch directory.
pub struct TestDb {
    backend: Backend,
    url: String,
    dir: tempfile::TempDir,
    _postgres: Option<pg::TestPgDatabase>,
}

impl TestDb {
    /// A new SQLite file (created by the first connect).
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        Self {
            backend: Backend::Sqlite,
            url,
            dir,
            _postgres: None,
        }
    }

    /// A new PostgreSQL database on the test server (see [`pg`]).
    pub async fn postgres() -> Self {
        let database = pg::TestPgDatabase::new().await;
        Self {
            backend: Backend::Postgres,
            url: database.url().to_owned(),
            dir: tempfile::tempdir().expect("a temporary directory"),
            _postgres: Some(database),
        }
    }

    /// A new database of `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL to connect to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A scratch directory that lives as long as the database.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Connects a handle to it.
    pub async fn connect(&self) -> Kiribi {
        Kiribi::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Connects a handle with state for `State<T>`.
    pub async fn connect_with_state<T: Clone + Send + Sync + 'static>(&self, state: T) -> Kiribi {
        Kiribi::builder()
            .state(state)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

/// Runs each listed `async fn name(db: TestDb)` once per backend, as the tests
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestDb::new($crate::Backend::Sqlite).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestDb::new($crate::Backend::Postgres).await).await;
                }
            )+
        }
    };
}

/// Waits (up to 20 s) until the job is in `status`, and returns its record.
pub async fn wait_for_status(kiribi: &Kiribi, id: JobId, status: JobStatus) -> JobRecord {
    wait::until(
        &format!("job {id} to be {status}"),
        std::time::Duration::from_secs(20),
        || async {
            let record = kiribi
                .job(id)
                .await
                .expect("read the job")
                .expect("the job exists");
            (record.status == status).then_some(record)
        },
    )
    .await
}

/// How many jobs are not finished yet (pending, running, retrying or blocked),
/// counting a failed read as one, so that a caller waiting for none keeps waiting.
pub async fn unfinished_jobs(kiribi: &Kiribi) -> usize {
    let mut left = 0;
    for status in [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Retrying,
        JobStatus::Blocked,
    ] {
        left += kiribi
            .jobs(kiribi::JobFilter::new().status(status).limit(1))
            .await
            .map_or(1, |jobs| jobs.len());
    }
    left
}

/// Waits (up to 20 s) until the job has ended (succeeded, failed or cancelled),
/// and returns its record: a job that ends the wrong way fails the test at once.
pub async fn wait_until_ended(kiribi: &Kiribi, id: JobId) -> JobRecord {
    wait::until(
        &format!("job {id} to end"),
        std::time::Duration::from_secs(20),
        || async {
            let record = kiribi
                .job(id)
                .await
                .expect("read the job")
                .expect("the job exists");
            matches!(
                record.status,
                JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
            )
            .then_some(record)
        },
    )
    .await
}

/// Waits (up to `limit`) until the flow is in `status`, and returns its record.
pub async fn wait_for_flow(
    kiribi: &Kiribi,
    id: FlowId,
    status: FlowStatus,
    limit: std::time::Duration,
) -> FlowRecord {
    wait::until(&format!("flow {id} to be {status}"), limit, || async {
        let flow = kiribi
            .flow(id)
            .await
            .expect("read the flow")
            .expect("the flow exists");
        (flow.status == status).then_some(flow)
    })
    .await
}

/// Runs raw SQL statements, in order, on `kiribi`'s own pool (SQLite or
/// PostgreSQL): for the migration tests, which take a database back to an
/// earlier schema.
pub async fn execute_sql(kiribi: &Kiribi, statements: &[&'static str]) {
    for statement in statements {
        if let Some(pool) = kiribi.sqlite_pool() {
            kiribi::sqlx::raw_sql(*statement)
                .execute(pool)
                .await
                .unwrap();
        } else if let Some(pool) = kiribi.pg_pool() {
            kiribi::sqlx::raw_sql(*statement)
                .execute(pool)
                .await
                .unwrap();
        } else {
            panic!("a handle without a SQLite or PostgreSQL pool");
        }
    }
}
