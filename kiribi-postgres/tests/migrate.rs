//! Connecting without migrating: a process that must not change the schema checks
//! it instead, and refuses one it does not understand.

mod common;

use common::{SchemaGuard, connection};
use kiribi_core::{Error, JobId, Storage};
use kiribi_postgres::PgStorage;

async fn applied(storage: &PgStorage) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM kiribi_migrations ORDER BY version")
        .fetch_all(storage.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_missing_schema_is_outdated_and_not_created() {
    let schema = SchemaGuard::new("nomig_missing");
    let error = PgStorage::connect_with(schema.options().migrate(false))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SchemaOutdated {
                backend: "postgres",
                found: 0,
                ..
            }
        ),
        "{error:?}"
    );
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(&schema.name)
            .fetch_one(&mut connection().await)
            .await
            .unwrap();
    assert!(!exists, "connecting without migrating created the schema");
}

#[tokio::test]
async fn an_older_schema_is_refused_with_what_to_run_and_left_alone() {
    let schema = SchemaGuard::new("nomig_old");
    let current = schema.storage().await;
    let all = applied(&current).await;
    let newest = *all.last().unwrap();
    sqlx::query("DELETE FROM kiribi_migrations WHERE version = $1")
        .bind(newest)
        .execute(current.pool())
        .await
        .unwrap();

    let error = PgStorage::connect_with(schema.options().migrate(false))
        .await
        .unwrap_err();
    let Error::SchemaOutdated { found, needed, .. } = &error else {
        panic!("expected an outdated schema, got {error:?}");
    };
    assert_eq!((*found, *needed), (all[all.len() - 2], newest));
    assert!(error.to_string().contains("kiribi migrate"), "{error}");
    assert_eq!(applied(&current).await, all[..all.len() - 1]);

    // Through a pool of the application's own, too.
    let pool = sqlx::PgPool::connect(&common::url()).await.unwrap();
    let from_pool = PgStorage::from_pool(pool, schema.options().migrate(false)).await;
    assert!(
        matches!(from_pool, Err(Error::SchemaOutdated { .. })),
        "{from_pool:?}"
    );
}

#[tokio::test]
async fn a_current_schema_is_used_without_changes() {
    let schema = SchemaGuard::new("nomig_current");
    let migrated = schema.storage().await;
    let before = applied(&migrated).await;
    let storage = PgStorage::connect_with(schema.options().migrate(false))
        .await
        .unwrap();
    assert!(storage.get(JobId::from_i64(1)).await.unwrap().is_none());
    assert_eq!(applied(&storage).await, before);
}

#[tokio::test]
async fn a_newer_schema_is_refused_without_migrating_too() {
    let schema = SchemaGuard::new("nomig_new");
    let migrated = schema.storage().await;
    sqlx::query(
        "INSERT INTO kiribi_migrations (version, description) VALUES (99990101000000, 'future')",
    )
    .execute(migrated.pool())
    .await
    .unwrap();
    let error = PgStorage::connect_with(schema.options().migrate(false))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::SchemaTooNew { .. }), "{error:?}");
}
