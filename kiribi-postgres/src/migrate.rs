//! The embedded schema migrations and the migrator that applies them.
//!
//! sqlx's migrator needs its `migrate` feature, which kiribi leaves off, and knows
//! nothing of schemas; this one is a few lines: migrations are embedded, recorded in
//! `kiribi_migrations` in kiribi's schema, and applied in one transaction that holds
//! an advisory lock keyed on the schema name, so many processes starting at once
//! take turns instead of racing to create the same tables.

use kiribi_core::backend::{
    Migrated, Migration, pending_migrations, schema_state, versions_increase,
};
use sqlx::{Connection, PgConnection};

use crate::options::quote_identifier;
use crate::sql;

/// Every migration, oldest first, with the same versions as the SQLite backend's.
/// A file in `migrations/` that is not listed here fails the
/// `every_migration_file_is_embedded` test.
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
        "lighter enqueue",
        include_str!("../migrations/20261129180000_lighter_enqueue.sql"),
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

/// Creates `schema` if missing and applies every missing migration to it, in one
/// transaction.
///
/// The transaction sets its own `search_path`, so `conn` may be any connection (a
/// caller's pool does not have kiribi's). It first takes the advisory lock of the
/// schema: a second process blocks there until the first commits, then finds the
/// migrations applied.
///
/// # Errors
///
/// The driver's error; the transaction is rolled back, so nothing is half-applied.
pub(crate) async fn migrate(
    conn: &mut PgConnection,
    schema: &str,
    apply: bool,
) -> Result<Migrated, sqlx::Error> {
    if !apply {
        return check(conn, schema).await;
    }
    let mut tx = conn.begin().await?;
    sqlx::query(sql::LOCK_MIGRATIONS)
        .bind(schema)
        .execute(&mut *tx)
        .await?;
    // Checked first rather than `CREATE SCHEMA IF NOT EXISTS` alone: that needs the
    // `CREATE` privilege on the database even when the schema exists, and a role
    // that may only use an existing schema must still be able to start.
    let exists: bool = sqlx::query_scalar(sql::SCHEMA_EXISTS)
        .bind(schema)
        .fetch_one(&mut *tx)
        .await?;
    let quoted = quote_identifier(schema);
    if !exists {
        tracing::info!(schema, "creating kiribi postgres schema");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {quoted}"
        )))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql::set_search_path(&quoted, true)))
        .execute(&mut *tx)
        .await?;
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
            schema,
            version = migration.version,
            description = migration.description,
            "applying kiribi postgres migration"
        );
        sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
        sqlx::query(sql::RECORD_MIGRATION)
            .bind(migration.version)
            .bind(migration.description)
            .execute(&mut *tx)
            .await?;
        count += 1;
    }
    tx.commit().await?;
    Ok(Migrated::UpToDate(count))
}

/// Whether `schema` holds the schema this build knows, reading only.
async fn check(conn: &mut PgConnection, schema: &str) -> Result<Migrated, sqlx::Error> {
    let has_table: bool = sqlx::query_scalar(sql::MIGRATIONS_TABLE_EXISTS)
        .bind(schema)
        .fetch_one(&mut *conn)
        .await?;
    let applied: Vec<i64> = if has_table {
        let select = format!(
            "SELECT version FROM {}.kiribi_migrations ORDER BY version",
            quote_identifier(schema)
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(select))
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
