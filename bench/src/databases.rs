//! A fresh database per contender and run: a PostgreSQL database of its own, or a SQLite
//! file in a temporary directory. The `test` database is never touched.

use anyhow::Result;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

use crate::contenders::{Backend, Target, backend_of};

/// A prepared target; dropping it removes the SQLite directory. PostgreSQL databases
/// are dropped by [`Fresh::cleanup`].
pub(crate) struct Fresh {
    pub(crate) target: Target,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

impl Fresh {
    /// Drops the PostgreSQL database, if any (even if clients are still connected).
    pub(crate) async fn cleanup(self) {
        if let Some((admin_url, db)) = &self.pg {
            let _ = drop_database(admin_url, db).await;
        }
    }
}

/// The database `kiribi_bench_<contender>`, dropped and created anew, or a new SQLite file.
pub(crate) async fn fresh(contender: &str, pg_url: &str) -> Result<Fresh> {
    match backend_of(contender)? {
        Backend::Sqlite => {
            let dir = tempfile::tempdir()?;
            let target = Target::Sqlite(dir.path().join("jobs.db"));
            Ok(Fresh {
                target,
                _dir: Some(dir),
                pg: None,
            })
        }
        Backend::Postgres => {
            let db = format!("kiribi_bench_{}", contender.replace('-', "_"));
            drop_database(pg_url, &db).await?;
            let mut admin = PgConnection::connect(pg_url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&mut admin)
                .await?;
            admin.close().await?;
            Ok(Fresh {
                target: Target::Postgres(with_database(pg_url, &db)),
                _dir: None,
                pg: Some((pg_url.to_owned(), db)),
            })
        }
    }
}

async fn drop_database(admin_url: &str, db: &str) -> Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    format!("{}/{db}{query}", &base[..host_end])
}

/// Dead row versions in every table of the database, from `pg_stat_user_tables`.
pub(crate) async fn dead_tuples(url: &str) -> Result<u64> {
    let mut conn = PgConnection::connect(url).await?;
    let n: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(u64::try_from(n)?)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }
}
