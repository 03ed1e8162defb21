//! Turning sqlx errors into kiribi errors, and riding out lock contention.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_database_errors_are_not_contention() {
        assert!(!is_contention(&sqlx::Error::PoolTimedOut));
        assert!(!is_contention(&sqlx::Error::RowNotFound));
    }
}
