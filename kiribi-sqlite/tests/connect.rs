//! Opening a database: URLs, missing directories, in-memory databases, migrations.

use kiribi_core::backend::NewJob;
use kiribi_core::{Error, JobId, JobStatus, Storage};
use kiribi_sqlite::{SqliteStorage, SqliteStorageOptions};

/// How many migrations this kiribi has.
const MIGRATIONS: i64 = 16;

fn url(dir: &tempfile::TempDir, file: &str) -> String {
    format!("sqlite://{}/{file}", dir.path().display())
}

#[tokio::test]
async fn connect_creates_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::connect(&url(&dir, "jobs.db")).await.unwrap();
    assert!(dir.path().join("jobs.db").exists());
    assert_eq!(storage.backend(), "sqlite");
}

#[tokio::test]
async fn every_url_form_connects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forms.db");
    for url in [
        format!("sqlite://{}", path.display()),
        format!("sqlite:{}", path.display()),
        format!("sqlite://{}?cache=private", path.display()),
    ] {
        let storage = SqliteStorage::connect(&url).await.unwrap();
        kiribi_conformance::enqueue(&storage, vec![NewJob::new("a", serde_json::json!(null))])
            .await;
    }
    let storage = SqliteStorage::connect_with(SqliteStorageOptions::new(&path))
        .await
        .unwrap();
    assert_eq!(
        storage
            .list(&kiribi_core::JobFilter::new())
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn missing_directory_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no").join("such");
    let url = format!("sqlite://{}/jobs.db", missing.display());
    match SqliteStorage::connect(&url).await {
        Err(Error::MissingDirectory { path }) => {
            assert_eq!(path, missing);
            let message = Error::MissingDirectory { path }.to_string();
            assert!(
                message.contains(&missing.display().to_string()),
                "{message}"
            );
        }
        other => panic!("expected MissingDirectory, got {other:?}"),
    }
    assert!(!missing.exists(), "connect must not create the directory");
}

#[tokio::test]
async fn invalid_url_is_refused() {
    for url in [
        "mysql://localhost/jobs",
        "sqlite://",
        "sqlite://jobs.db?bogus=1",
    ] {
        match SqliteStorage::connect(url).await {
            Err(Error::InvalidUrl {
                url: reported,
                reason,
            }) => {
                assert_eq!(reported, url);
                assert!(!reason.is_empty());
            }
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn in_memory_database_works() {
    let storage = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    let ids = kiribi_conformance::enqueue(
        &storage,
        vec![NewJob::new("a", serde_json::json!({ "n": 1 }))],
    )
    .await;
    // Reads share the one connection, so they see the write.
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.payload, serde_json::json!({ "n": 1 }));

    // Two in-memory storages are two databases.
    let other = SqliteStorage::connect_with(SqliteStorageOptions::in_memory())
        .await
        .unwrap();
    assert_eq!(other.get(ids[0]).await.unwrap(), None);
}

#[tokio::test]
async fn connecting_again_does_not_migrate_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "jobs.db");
    let first = SqliteStorage::connect(&url).await.unwrap();
    let second = SqliteStorage::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kiribi_migrations")
        .fetch_one(second.pool())
        .await
        .unwrap();
    assert_eq!(applied, MIGRATIONS);
    drop(first);
}

#[tokio::test]
async fn schema_from_a_newer_kiribi_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "jobs.db");
    let storage = SqliteStorage::connect(&url).await.unwrap();
    let future = 99_991_231_235_959_i64;
    sqlx::query("INSERT INTO kiribi_migrations (version, description, applied_at) VALUES (?1, 'from the future', 0)")
        .bind(future)
        .execute(storage.pool())
        .await
        .unwrap();
    storage.pool().close().await;

    match SqliteStorage::connect(&url).await {
        Err(Error::SchemaTooNew {
            backend,
            found,
            supported,
        }) => {
            assert_eq!((backend, found), ("sqlite", future));
            assert!(supported < found);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }

    // The refusal touched nothing: the future version is still recorded.
    let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=ro"))
        .await
        .unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM kiribi_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(newest, future);
}

#[tokio::test]
async fn two_storages_migrating_one_new_file_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "race.db");
    let (a, b, c) = tokio::join!(
        SqliteStorage::connect(&url),
        SqliteStorage::connect(&url),
        SqliteStorage::connect(&url)
    );
    let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kiribi_migrations")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(applied, MIGRATIONS);
}

#[tokio::test]
async fn a_corrupt_payload_is_a_storage_error_not_a_panic() {
    let storage = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    let ids =
        kiribi_conformance::enqueue(&storage, vec![NewJob::new("a", serde_json::json!(1))]).await;
    sqlx::query("UPDATE kiribi_jobs SET payload = 'not json' WHERE id = ?1")
        .bind(ids[0].as_i64())
        .execute(storage.pool())
        .await
        .unwrap();
    let error = storage.get(ids[0]).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Storage {
                backend: "sqlite",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_database_of_an_older_kiribi_is_migrated_and_keeps_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir, "old.db");
    {
        // The database as the first release of kiribi left it, with one waiting job.
        let pool = sqlx::SqlitePool::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        let setup = format!(
            "{}; CREATE TABLE kiribi_migrations (version INTEGER PRIMARY KEY, \
                 description TEXT NOT NULL, applied_at INTEGER NOT NULL); \
             INSERT INTO kiribi_migrations VALUES (20261129000000, 'create jobs', 0); \
             INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                 created_at, run_at) VALUES ('a', 'default', 'pending', 0, 5, '{{}}', 0, 0); \
             INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, \
                 payload, last_error, created_at, run_at, finished_at) \
                 VALUES ('b', 'default', 'failed', 0, 1, 1, '{{}}', 'boom', 0, 0, 1); \
             INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, \
                 error) VALUES (2, 1, 'w', 0, 1, 'boom'); \
             INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                 created_at, run_at) VALUES ('c', 'default', 'pending', 0, 5, '{{}}', 0, 0); \
             DELETE FROM kiribi_jobs WHERE id = 3;",
            include_str!("../migrations/20261129000000_create_jobs.sql")
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let storage = SqliteStorage::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kiribi_migrations")
        .fetch_one(storage.pool())
        .await
        .unwrap();
    assert_eq!(applied, MIGRATIONS);
    let claimed = storage
        .claim(
            &kiribi_core::backend::ClaimRequest::new(
                kiribi_core::backend::WorkerId::new("w"),
                std::time::Duration::from_secs(60),
            )
            .with_names(["a"])
            .with_limit(10),
        )
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the job from before the upgrade is claimed"
    );
    // A job running on the upgraded schema can be asked to stop.
    let running = claimed[0].id();
    assert!(storage.cancel(running).await.unwrap());
    let owner = kiribi_core::backend::WorkerId::new("w");
    assert_eq!(
        storage.cancel_requests(&owner).await.unwrap(),
        vec![running]
    );

    // The failed job kept its attempt record, and still loses it with the job.
    let failed = JobId::from_i64(2);
    assert_eq!(storage.attempts(failed).await.unwrap().len(), 1);
    // Job 3 was deleted before the upgrade: its id stays used.
    let next =
        kiribi_conformance::enqueue(&storage, vec![NewJob::new("a", serde_json::json!(1))]).await;
    assert_eq!(
        next[0].as_i64(),
        4,
        "ids continue past the deleted newest job"
    );
    assert!(storage.delete(failed).await.unwrap());
    let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM kiribi_attempts")
        .fetch_one(storage.pool())
        .await
        .unwrap();
    assert_eq!(orphans, 0, "deleting a job deletes its attempts");
    let violations: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(storage.pool())
            .await
            .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
}
