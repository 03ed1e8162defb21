//! `CommitWatcher`: wake-ups for commits by any connection of any process.
//!
//! SQLite has no notification channel, but `PRAGMA data_version` changes on a
//! connection whenever another connection (of this process or another) commits a
//! change to the database file. Reading it costs no I/O in WAL mode: it compares a
//! counter in the WAL index, in shared memory. A watcher holds one read-only
//! connection of its own and reads it every `interval` (5 ms by default): a job
//! enqueued by another process, or through a caller's transaction or a second
//! handle in this one, wakes idle workers within milliseconds, and an idle worker
//! spends a fraction of a percent of a core on it (measured by `kiribi-bench
//! idle-cpu`).

use std::time::Duration;

use kiribi_core::Error;
use kiribi_core::backend::Listener;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::storage_error;
use crate::sql;

/// Watches one database file for commits.
pub(crate) struct CommitWatcher {
    connect: SqliteConnectOptions,
    conn: Option<SqliteConnection>,
    /// The last `data_version` seen; `None` before the first read or after the
    /// connection was lost (the next read then reports a wake-up, as the contract
    /// asks of a listener that reconnected).
    seen: Option<i64>,
    tick: Interval,
}

impl CommitWatcher {
    /// Opens the watcher's connection with `connect` (read-only) and reads the
    /// current version, so that only later commits wake.
    pub(crate) async fn open(
        connect: SqliteConnectOptions,
        interval: Duration,
    ) -> Result<Self, Error> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut watcher = Self {
            connect,
            conn: None,
            seen: None,
            tick,
        };
        let version = watcher.read().await.map_err(storage_error)?;
        watcher.seen = Some(version);
        Ok(watcher)
    }

    async fn read(&mut self) -> Result<i64, sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.connect.connect().await?),
        };
        match sqlx::query_scalar(sql::DATA_VERSION)
            .fetch_one(&mut *conn)
            .await
        {
            Ok(version) => Ok(version),
            Err(error) => {
                // Reopen on the next read; what was committed meanwhile is owed.
                self.conn = None;
                self.seen = None;
                Err(error)
            }
        }
    }
}

#[kiribi_core::backend::async_trait]
impl Listener for CommitWatcher {
    async fn recv(&mut self) -> Result<(), Error> {
        loop {
            self.tick.tick().await;
            let version = self.read().await.map_err(storage_error)?;
            let changed = self.seen != Some(version);
            self.seen = Some(version);
            if changed {
                return Ok(());
            }
        }
    }
}
