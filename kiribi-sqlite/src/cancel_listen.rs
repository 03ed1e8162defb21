//! `CancelListener`: wake-ups when a running job is asked to stop, by any process.
//!
//! Built on the [`CommitWatcher`]: after each commit it reads the one-row count of
//! cancel requests (`kiribi_cancel_signal`, bumped by a trigger when a running
//! job's `cancel_requested` is set) and wakes only when the count changed. So a
//! commit that requested no cancel costs one primary-key read, and a worker reads
//! its running jobs' flags only after a request. Reads are at least [`READ_GAP`]
//! apart, the commits in between coalesced: a busy database commits every few
//! milliseconds, and a cancel request may wait that long (it is promised within a
//! second).

use std::time::Duration;

use kiribi_core::Error;
use kiribi_core::backend::Listener;
use sqlx::SqlitePool;
use tokio::time::Instant;

use crate::error::{retry_on_contention, storage_error};
use crate::listen::CommitWatcher;
use crate::sql;

/// The least time between two reads of the count.
const READ_GAP: Duration = Duration::from_millis(100);

/// Watches the count of cancel requests.
pub(crate) struct CancelListener {
    commits: CommitWatcher,
    reader: SqlitePool,
    /// When the count was last read.
    read_at: Instant,
    /// The count last seen; `None` after a failed read, so that the next read
    /// wakes (requests made meanwhile may have been missed).
    seen: Option<i64>,
}

impl CancelListener {
    /// A listener over `commits` that reads the count through `reader`. Only
    /// requests after it was made wake it.
    pub(crate) async fn open(commits: CommitWatcher, reader: SqlitePool) -> Result<Self, Error> {
        let mut listener = Self {
            commits,
            reader,
            read_at: Instant::now(),
            seen: None,
        };
        listener.seen = Some(listener.requests().await?);
        Ok(listener)
    }

    async fn requests(&self) -> Result<i64, Error> {
        let reader = &self.reader;
        retry_on_contention(|| async move {
            let mut conn = reader.acquire().await?;
            sqlx::query_scalar(sql::CANCEL_SIGNAL)
                .fetch_one(&mut *conn)
                .await
        })
        .await
        .map_err(storage_error)
    }
}

#[kiribi_core::backend::async_trait]
impl Listener for CancelListener {
    /// Resolves once a commit changed the count of cancel requests.
    async fn recv(&mut self) -> Result<(), Error> {
        loop {
            self.commits.recv().await?;
            tokio::time::sleep_until(self.read_at + READ_GAP).await;
            self.read_at = Instant::now();
            let now = match self.requests().await {
                Ok(now) => now,
                Err(error) => {
                    self.seen = None;
                    return Err(error);
                }
            };
            let changed = self.seen != Some(now);
            self.seen = Some(now);
            if changed {
                return Ok(());
            }
        }
    }
}
