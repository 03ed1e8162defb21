//! `CommitWatcher`: wake-ups for commits by any connection of any process.
//!
//! SQLite has no notification channel, but in WAL mode every commit rewrites the
//! header of the WAL index, the `-shm` file that every connection to the database
//! maps into memory (its format is documented in SQLite's "WAL-index format": a
//! change counter, the last valid frame, checksums). A watcher thread reads those
//! 48 bytes with one `pread` of the page cache every `interval` (5 ms by default)
//! and wakes the async side only when they changed: a job enqueued by another
//! process, through a caller's transaction or through a second handle in this one
//! wakes idle workers within milliseconds, while an idle worker costs a thread that
//! sleeps and reads a page-cache page, without waking the async runtime. The file is
//! looked up again when it was replaced (SQLite deletes it when the last connection
//! closes, and the next one creates a new one).
//!
//! Where the index cannot be read (a VFS that keeps it elsewhere, a platform
//! without `pread`), the watcher asks SQLite instead: `PRAGMA data_version` on a
//! read-only connection of its own changes whenever another connection commits.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiribi_core::Error;
use kiribi_core::backend::Listener;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use crate::error::storage_error;
use crate::sql;

/// The WAL-index header: the first of its two copies, which every commit rewrites.
const HEADER_LEN: usize = 48;

/// Watches one database file for commits.
pub(crate) enum CommitWatcher {
    /// A thread reads the WAL index and counts the changes it saw.
    Index(watch::Receiver<u64>),
    /// SQLite is asked for its `data_version`.
    DataVersion(Box<DataVersionWatcher>),
}

impl CommitWatcher {
    /// A watcher of the database at `path`, falling back to a read-only connection
    /// made with `connect`. Only commits after it was made wake it.
    pub(crate) async fn open(
        path: PathBuf,
        connect: SqliteConnectOptions,
        interval: Duration,
    ) -> Result<Self, Error> {
        let mut index = IndexFile::new(&path);
        if let Some(first) = index.look(true) {
            let (changes, received) = watch::channel(0);
            let spawned = std::thread::Builder::new()
                .name("kiribi-sqlite-watch".to_owned())
                .spawn(move || watch_index(index, first, interval, &changes));
            if spawned.is_ok() {
                return Ok(CommitWatcher::Index(received));
            }
        }
        Ok(CommitWatcher::DataVersion(Box::new(
            DataVersionWatcher::open(connect, interval).await?,
        )))
    }
}

#[kiribi_core::backend::async_trait]
impl Listener for CommitWatcher {
    async fn recv(&mut self) -> Result<(), Error> {
        match self {
            CommitWatcher::Index(changes) => {
                if changes.changed().await.is_err() {
                    // The thread only ends when this receiver is gone; if it ever
                    // does, idle workers still poll.
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
            CommitWatcher::DataVersion(watcher) => watcher.recv().await,
        }
    }
}

/// The watcher thread: looks every `interval` and counts the changes, until the
/// watcher is dropped.
fn watch_index(
    mut index: IndexFile,
    mut seen: Seen,
    interval: Duration,
    changes: &watch::Sender<u64>,
) {
    // Whether the file was replaced is looked up about once a second: a replaced
    // file means every connection was closed, and the next commit then comes
    // through a connection that made a new one.
    let every = u32::try_from(Duration::from_secs(1).as_nanos() / interval.as_nanos().max(1))
        .unwrap_or(u32::MAX)
        .max(1);
    let mut ticks: u32 = 0;
    while !changes.is_closed() {
        std::thread::sleep(interval);
        ticks = ticks.wrapping_add(1);
        let now = index.look(ticks.is_multiple_of(every));
        if now.as_ref() != Some(&seen) {
            changes.send_modify(|count| *count = count.wrapping_add(1));
        }
        if let Some(now) = now {
            seen = now;
        }
    }
}

/// What one look at the WAL index found: which file, and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    file: (u64, u64),
    header: [u8; HEADER_LEN],
}

/// The database's `-shm` file, opened again whenever it was replaced.
struct IndexFile {
    path: PathBuf,
    open: Option<(File, (u64, u64))>,
}

impl IndexFile {
    fn new(database: &Path) -> Self {
        let mut path = database.as_os_str().to_owned();
        path.push("-shm");
        Self {
            path: path.into(),
            open: None,
        }
    }

    /// The file's identity and header; `None` when there is none to read (no
    /// connection has the database open, or it is not a WAL index file).
    /// With `recheck`, first looks up whether the file was replaced.
    #[cfg(unix)]
    fn look(&mut self, recheck: bool) -> Option<Seen> {
        use std::os::unix::fs::{FileExt as _, MetadataExt as _};
        if recheck || self.open.is_none() {
            let metadata = std::fs::metadata(&self.path).ok()?;
            let file = (metadata.dev(), metadata.ino());
            if self.open.as_ref().is_none_or(|(_, open)| *open != file) {
                self.open = Some((File::open(&self.path).ok()?, file));
            }
        }
        let (handle, file) = self.open.as_ref()?;
        let mut header = [0; HEADER_LEN];
        match handle.read_exact_at(&mut header, 0) {
            Ok(()) => Some(Seen {
                file: *file,
                header,
            }),
            Err(_) => {
                self.open = None;
                None
            }
        }
    }

    /// Elsewhere the watcher asks SQLite.
    #[cfg(not(unix))]
    fn look(&mut self, _recheck: bool) -> Option<Seen> {
        None
    }
}

/// Asks SQLite for `PRAGMA data_version` every interval on a read-only connection of
/// its own.
pub(crate) struct DataVersionWatcher {
    connect: SqliteConnectOptions,
    conn: Option<SqliteConnection>,
    /// `None` after a failed look: the next look then reports a wake-up, as the
    /// contract asks of a listener that reconnected.
    seen: Option<i64>,
    tick: Interval,
}

impl DataVersionWatcher {
    async fn open(connect: SqliteConnectOptions, interval: Duration) -> Result<Self, Error> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut watcher = Self {
            connect,
            conn: None,
            seen: None,
            tick,
        };
        watcher.seen = Some(watcher.data_version().await.map_err(storage_error)?);
        Ok(watcher)
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

    async fn recv(&mut self) -> Result<(), Error> {
        loop {
            self.tick.tick().await;
            let now = self.data_version().await.map_err(storage_error)?;
            let changed = self.seen != Some(now);
            self.seen = Some(now);
            if changed {
                return Ok(());
            }
        }
    }
}
