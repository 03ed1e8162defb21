//! The embedded schema migrations and the migrator that applies them.
//!
//! sqlx's migrator needs its `migrate` feature, which kiribi leaves off; this one is
//! a few lines: migrations are embedded, recorded in `kiribi_migrations`, and applied
//! in one `BEGIN IMMEDIATE` transaction, so two processes starting at once take
//! turns instead of both migrating.

use kiribi_core::backend::{
    Migrated, Migration, pending_migrations, schema_state, versions_increase,
};
use sqlx::{Connection, SqliteConnection};

use crate::sql;

/// Every migration, oldest first. A file in `migrations/` that is not listed here
/// fails the `every_migration_file_is_embedded` test.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration::new(
        20261129000000,
        "create jobs",
        include_str!("../migrations/20261129000000_create_jobs.sql"),
    ),
    Migration::new(
        20261129120000,
        "lean indexes",
        include_str!("../migrations/20261129120000_lean_indexes.sql"),
    ),
    Migration::new(
        20261129180000,
        "two page inserts",
        include_str!("../migrations/20261129180000_two_page_inserts.sql"),
    ),
    Migration::new(
        20261201000000,
        "interruptions",
        include_str!("../migrations/20261201000000_interruptions.sql"),
    ),
    Migration::new(
        20261202000000,
        "unique keys",
        include_str!("../migrations/20261202000000_unique_keys.sql"),
    ),
    Migration::new(
        20261202100000,
        "schedules",
        include_str!("../migrations/20261202100000_schedules.sql"),
    ),
    Migration::new(
        20261202200000,
        "paused queues",
        include_str!("../migrations/20261202200000_paused_queues.sql"),
    ),
    Migration::new(
        20261202210000,
        "limits",
        include_str!("../migrations/20261202210000_limits.sql"),
    ),
    Migration::new(
        20261202300000,
        "cancel requests",
        include_str!("../migrations/20261202300000_cancel_requests.sql"),
    ),
    Migration::new(
        20261203000000,
        "flows",
        include_str!("../migrations/20261203000000_flows.sql"),
    ),
    Migration::new(
        20261203100000,
        "logs",
        include_str!("../migrations/20261203100000_logs.sql"),
    ),
    Migration::new(
        20261203200000,
        "attempt trigger on finish",
        include_str!("../migrations/20261203200000_attempt_trigger_on_finish.sql"),
    ),
    Migration::new(
        20261204000000,
        "triggers on last error",
        include_str!("../migrations/20261204000000_triggers_on_last_error.sql"),
    ),
    Migration::new(
        20261204010000,
        "limited indexes test limits first",
        include_str!("../migrations/20261204010000_limited_indexes_test_limits_first.sql"),
    ),
    Migration::new(
        20261205000000,
        "rollups",
        include_str!("../migrations/20261205000000_rollups.sql"),
    ),
    Migration::new(
        20261205100000,
        "job traces",
        include_str!("../migrations/20261205100000_job_traces.sql"),
    ),
];
const _: () = assert!(versions_increase(MIGRATIONS));

/// Applies every missing migration in one `BEGIN IMMEDIATE` transaction; with
/// `apply` false, only checks that none is missing and changes nothing.
///
/// # Errors
///
/// The driver's error; the transaction is rolled back, so it may simply be retried.
pub(crate) async fn migrate(
    conn: &mut SqliteConnection,
    apply: bool,
) -> Result<Migrated, sqlx::Error> {
    if !apply {
        return check(conn).await;
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(sql::CREATE_MIGRATIONS_TABLE)
        .execute(&mut *tx)
        .await?;
    let applied: Vec<i64> = sqlx::query_scalar(sql::APPLIED_MIGRATIONS)
        .fetch_all(&mut *tx)
        .await?;
    let pending = match pending_migrations(MIGRATIONS, &applied) {
        Ok(pending) => pending,
        Err(too_new) => {
            tx.rollback().await?;
            return Ok(Migrated::TooNew(too_new));
        }
    };
    let mut count = 0;
    for migration in pending {
        tracing::info!(
            version = migration.version,
            description = migration.description,
            "applying kiribi sqlite migration"
        );
        sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
        sqlx::query(sql::RECORD_MIGRATION)
            .bind(migration.version)
            .bind(migration.description)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await?;
        count += 1;
    }
    tx.commit().await?;
    Ok(Migrated::UpToDate(count))
}

/// Whether the schema is the one this build knows, reading only.
async fn check(conn: &mut SqliteConnection) -> Result<Migrated, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar(sql::MIGRATIONS_TABLE_EXISTS)
        .fetch_one(&mut *conn)
        .await?;
    let applied: Vec<i64> = if has_table {
        sqlx::query_scalar(sql::APPLIED_MIGRATIONS)
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    Ok(schema_state(MIGRATIONS, &applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS.iter().map(Migration::file_name).collect();
        assert_eq!(files, embedded);
    }
}
