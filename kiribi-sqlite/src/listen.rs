//! `CommitWatcher`: wake-ups for commits by any connection of any process.
//!
//! SQLite has no notification channel, but in WAL mode every commit rewrites the
//! header of the WAL index, the `-shm` file that every connection to the database
//! maps into memory (its format is documented in SQLite's "WAL-index format": a
//! change counter, the last valid frame, checksums). A watcher reads those 48 bytes
//! with one `pread` of the page cache every `interval` (5 ms by default): a job
//! enqueued by another process, through a caller's transaction or through a second
//! handle in this one wakes idle workers within milliseconds, at the cost of one
//! cheap system call per interval and no SQLite call at all.
//!
//! Where the index cannot be read (it does not exist yet, or a VFS keeps it
//! elsewhere), the watcher asks SQLite instead: `PRAGMA data_version` on a
//! read-only connection of its own changes whenever another connection commits.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use kiribi_core::Error;
use kiribi_core::backend::Listener;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::storage_error;
use crate::sql;

/// The WAL-index header: the first of its two copies, which every commit rewrites.
const HEADER_LEN: usize = 48;

/// What the watcher last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The WAL index's header.
    Header([u8; HEADER_LEN]),
    /// SQLite's `data_version`.
    DataVersion(i64),
}

/// Watches one database file for commits.
pub(crate) struct CommitWatcher {
    /// The database's `-shm` file.
    index_path: PathBuf,
    index: Option<File>,
    connect: SqliteConnectOptions,
    conn: Option<SqliteConnection>,
    /// `None` before the first look or after a failed one (the next look then
    /// reports a wake-up, as the contract asks of a listener that reconnected).
    seen: Option<Seen>,
    tick: Interval,
}

impl CommitWatcher {
    /// A watcher of the database at `path`, falling back to a read-only connection
    /// made with `connect`; it takes a first look, so that only later commits wake.
    pub(crate) async fn open(
        path: PathBuf,
        connect: SqliteConnectOptions,
        interval: Duration,
    ) -> Result<Self, Error> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut index_path = path.into_os_string();
        index_path.push("-shm");
        let mut watcher = Self {
            index_path: index_path.into(),
            index: None,
            connect,
            conn: None,
            seen: None,
            tick,
        };
        watcher.seen = Some(watcher.look().await.map_err(storage_error)?);
        Ok(watcher)
    }

    async fn look(&mut self) -> Result<Seen, sqlx::Error> {
        if let Some(header) = self.read_header() {
            return Ok(Seen::Header(header));
        }
        self.data_version().await.map(Seen::DataVersion)
    }

    /// The WAL index's header, if the file can be read.
    #[cfg(unix)]
    fn read_header(&mut self) -> Option<[u8; HEADER_LEN]> {
        use std::os::unix::fs::FileExt as _;
        if self.index.is_none() {
            self.index = File::open(&self.index_path).ok();
        }
        let mut header = [0; HEADER_LEN];
        match self.index.as_ref()?.read_exact_at(&mut header, 0) {
            Ok(()) => Some(header),
            Err(_) => {
                self.index = None;
                None
            }
        }
    }

    /// Elsewhere the watcher asks SQLite.
    #[cfg(not(unix))]
    fn read_header(&mut self) -> Option<[u8; HEADER_LEN]> {
        None
    }

    async fn data_version(&mut self) -> Result<i64, sqlx::Error> {
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
                // Reopen on the next look; what was committed meanwhile is owed.
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
            let now = self.look().await.map_err(storage_error)?;
            // A switch between the two ways of looking counts as a change: it
            // cannot tell what happened in between.
            let changed = self.seen != Some(now);
            self.seen = Some(now);
            if changed {
                return Ok(());
            }
        }
    }
}
