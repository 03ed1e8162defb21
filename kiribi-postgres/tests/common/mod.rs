//! A schema of its own for every test, on the server named by `KIRIBI_TEST_PG_URL`.
//!
//! The tests need a real PostgreSQL server: when it cannot be reached they fail
//! with a message saying so, never skip.

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::sync::atomic::{AtomicU32, Ordering};

use kiribi_postgres::{PgStorage, PgStorageOptions};
use sqlx::Connection;

/// The server the tests use.
pub(crate) fn url() -> String {
    std::env::var("KIRIBI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema name no other test (or test run) uses, starting with `tag`.
pub(crate) fn unique_schema(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut name = format!(
        "kt_{tag}_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    );
    name.truncate(51);
    name
}

/// A plain connection to the test server, panicking loudly if there is none.
pub(crate) async fn connection() -> sqlx::PgConnection {
    let url = url();
    match sqlx::PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(error) => panic!(
            "the PostgreSQL test server at {url} cannot be reached ({error}); start it, \
             or set KIRIBI_TEST_PG_URL to one that runs"
        ),
    }
}

/// Drops its schema when it goes out of scope, even when the test panics.
pub(crate) struct SchemaGuard {
    pub(crate) name: String,
}

impl SchemaGuard {
    pub(crate) fn new(tag: &str) -> Self {
        Self {
            name: unique_schema(tag),
        }
    }

    /// Options for this schema on the test server.
    pub(crate) fn options(&self) -> PgStorageOptions {
        PgStorageOptions::new(&url()).schema(&self.name)
    }

    /// A storage on this schema, migrated.
    pub(crate) async fn storage(&self) -> PgStorage {
        match PgStorage::connect_with(self.options()).await {
            Ok(storage) => storage,
            Err(error) => panic!(
                "cannot open a PgStorage on the PostgreSQL test server at {} ({error}); \
                 start it, or set KIRIBI_TEST_PG_URL to one that runs",
                url()
            ),
        }
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop cannot await: a thread with a runtime of its own does it, best-effort.
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url()).await {
                    let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// A connection whose `search_path` is the schema, as kiribi's pool sets it.
pub(crate) async fn connection_in(schema: &str) -> sqlx::PgConnection {
    let mut conn = connection().await;
    let set = format!("SET search_path TO \"{schema}\", public");
    sqlx::raw_sql(sqlx::AssertSqlSafe(set))
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}
