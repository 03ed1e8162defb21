//! Connecting without migrating: a process that must not change the schema checks
//! it instead, and refuses one it does not understand.

use kiribi_core::{Error, Storage};
use kiribi_sqlite::{SqliteStorage, SqliteStorageOptions};

fn options(dir: &tempfile::TempDir) -> SqliteStorageOptions {
    SqliteStorageOptions::new(dir.path().join("jobs.db"))
}

async fn applied(storage: &SqliteStorage) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM kiribi_migrations ORDER BY version")
        .fetch_all(storage.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_missing_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let error = SqliteStorage::connect_with(options(&dir).migrate(false))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::MissingDatabaseFile { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("jobs.db"), "{error}");
    assert!(!dir.path().join("jobs.db").exists());
}

#[tokio::test]
async fn an_empty_file_is_outdated_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    // An application's own database that kiribi never migrated.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let error = SqliteStorage::connect_with(options(&dir).migrate(false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SchemaOutdated {
                backend: "sqlite",
                found: 0,
                ..
            }
        ),
        "{error:?}"
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tables, ["users"], "nothing was created");
}

#[tokio::test]
async fn an_older_schema_is_refused_with_what_to_run_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let current = SqliteStorage::connect_with(options(&dir)).await.unwrap();
    let all = applied(&current).await;
    // As if the newest migration had not been applied yet.
    let newest = *all.last().unwrap();
    sqlx::query("DELETE FROM kiribi_migrations WHERE version = ?1")
        .bind(newest)
        .execute(current.pool())
        .await
        .unwrap();

    let error = SqliteStorage::connect_with(options(&dir).migrate(false))
        .await
        .unwrap_err();
    let Error::SchemaOutdated { found, needed, .. } = &error else {
        panic!("expected an outdated schema, got {error:?}");
    };
    assert_eq!((*found, *needed), (all[all.len() - 2], newest));
    assert!(error.to_string().contains("kiribi migrate"), "{error}");
    assert_eq!(applied(&current).await, all[..all.len() - 1]);
}

#[tokio::test]
async fn a_current_schema_is_used_without_changes() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = SqliteStorage::connect_with(options(&dir)).await.unwrap();
    let before = applied(&migrated).await;
    let storage = SqliteStorage::connect_with(options(&dir).migrate(false))
        .await
        .unwrap();
    assert_eq!(storage.backend(), "sqlite");
    assert!(
        storage
            .get(kiribi_core::JobId::from_i64(1))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(applied(&storage).await, before);
}

#[tokio::test]
async fn a_newer_schema_is_refused_without_migrating_too() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = SqliteStorage::connect_with(options(&dir)).await.unwrap();
    sqlx::query(
        "INSERT INTO kiribi_migrations (version, description, applied_at) \
         VALUES (99990101000000, 'from the future', 0)",
    )
    .execute(migrated.pool())
    .await
    .unwrap();
    let error = SqliteStorage::connect_with(options(&dir).migrate(false))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::SchemaTooNew { .. }), "{error:?}");
}
