//! Turning sqlx errors into kiribi errors, and riding out lock contention.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use kiribi_core::Error;

/// The backend's name in errors and logs.
pub(crate) const BACKEND: &str = "sqlite";

/// `SQLITE_BUSY`: another connection (usually another process) holds the lock.
const SQLITE_BUSY: i32 = 5;
/// `SQLITE_LOCKED`: a conflict inside one shared cache.
const SQLITE_LOCKED: i32 = 6;

/// Wraps a driver error as [`Error::Storage`], keeping it as the source.
pub(crate) fn storage_error(error: sqlx::Error) -> Error {
    Error::storage(BACKEND, error)
}

/// Whether the statement failed only because another connection held a lock, so
/// running it again later can succeed.
///
/// Classified by SQLite's result code (primary code 5 or 6, with every extended
/// code built on them, such as `SQLITE_BUSY_SNAPSHOT`), never by message text.
pub(crate) fn is_contention(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
}

/// How long [`retry_on_contention`] keeps retrying before it gives up.
const CONTENTION_BUDGET: Duration = Duration::from_secs(30);
/// The first pause between retries; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Runs `operation` until it succeeds, fails for another reason than lock
/// contention, or has been locked out for about 30 s.
///
/// SQLite's own busy handler already waits `busy_timeout` inside each attempt; this
/// loop covers what it cannot wait for (a `BEGIN IMMEDIATE` or WAL switch that
/// returns `SQLITE_BUSY` at once, a stale WAL snapshot), so a user never sees
/// "database is locked" because other processes are writing. Every `operation` is
/// one statement or one transaction, so a failed try has changed nothing.
pub(crate) async fn retry_on_contention<T, F, Fut>(mut operation: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        match operation().await {
            Err(error) if is_contention(&error) && started.elapsed() < CONTENTION_BUDGET => {
                tracing::debug!(%error, ?backoff, "sqlite database is locked; retrying");
                // Jitter keeps processes that collided from colliding again in step.
                let jitter = Duration::from_micros(fastrand::u64(0..=1_000));
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            result => return result,
        }
    }
}

/// A stored row that does not decode: a column holds what kiribi never writes.
#[derive(Debug)]
pub(crate) struct CorruptRow {
    /// The table.
    pub(crate) table: &'static str,
    /// The row's job id, when it could be read.
    pub(crate) job_id: Option<i64>,
    /// The column.
    pub(crate) column: &'static str,
    /// What is wrong with the value.
    pub(crate) reason: String,
}

impl CorruptRow {
    /// Wraps the problem as the driver error a decoding failure is.
    pub(crate) fn into_sqlx(self) -> sqlx::Error {
        sqlx::Error::Decode(Box::new(self))
    }
}

impl fmt::Display for CorruptRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt row in `{}`", self.table)?;
        if let Some(id) = self.job_id {
            write!(f, " (job {id})")?;
        }
        write!(f, ": column `{}` {}", self.column, self.reason)
    }
}

impl std::error::Error for CorruptRow {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_database_errors_are_not_contention() {
        assert!(!is_contention(&sqlx::Error::PoolTimedOut));
        assert!(!is_contention(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn corrupt_row_names_table_job_and_column() {
        let error = storage_error(
            CorruptRow {
                table: "kiribi_jobs",
                job_id: Some(7),
                column: "payload",
                reason: "is not JSON".to_owned(),
            }
            .into_sqlx(),
        );
        let chain = {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                text.push_str(" / ");
                text.push_str(&inner.to_string());
                source = inner.source();
            }
            text
        };
        assert!(
            chain.contains("job 7") && chain.contains("`payload`"),
            "{chain}"
        );
    }
}
