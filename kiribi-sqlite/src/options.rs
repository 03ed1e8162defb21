//! `SqliteStorageOptions`: where the database is and how kiribi connects to it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use kiribi_core::Error;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

/// How [`SqliteStorage::connect_with`](crate::SqliteStorage::connect_with) opens a
/// database.
///
/// Every connection runs in WAL mode with `synchronous = NORMAL` and foreign keys on.
/// All writes of one [`SqliteStorage`](crate::SqliteStorage) go through a single
/// connection; reads use a small pool of their own.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_sqlite::SqliteStorageOptions;
///
/// let options = SqliteStorageOptions::new("jobs.db")
///     .busy_timeout(Duration::from_secs(30))
///     .max_readers(8);
/// assert_eq!(options.get_max_readers(), 8);
///
/// let options = SqliteStorageOptions::from_url("sqlite://data/jobs.db")?;
/// assert_eq!(options.get_path(), Some(std::path::Path::new("data/jobs.db")));
/// # Ok::<(), kiribi_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStorageOptions {
    connect: SqliteConnectOptions,
    in_memory: bool,
    busy_timeout: Duration,
    max_readers: u32,
    migrate: bool,
    watch_interval: Duration,
}

impl SqliteStorageOptions {
    /// How long a statement waits for another process's lock before kiribi retries it.
    pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

    /// How often idle workers look for commits by other connections by default.
    pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_millis(5);

    /// How many connections serve reads by default.
    pub const DEFAULT_MAX_READERS: u32 = 4;

    /// A database file at `path`, created if missing.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self::with_connect(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
            false,
        )
    }

    /// A private in-memory database, gone when the storage is dropped: for tests.
    ///
    /// Reads and writes share its one connection.
    pub fn in_memory() -> Self {
        Self::with_connect(SqliteConnectOptions::new().in_memory(true), true)
    }

    /// Options from a URL: `sqlite://path/to/jobs.db`, `sqlite:jobs.db`,
    /// `sqlite:///absolute/path.db` or `sqlite::memory:`, with the query parameters
    /// sqlx accepts (`mode`, `cache`, `immutable`, `vfs`).
    ///
    /// Without `mode`, the file is created if missing.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if the URL is not a `sqlite:` URL, names no database or
    /// has a query parameter sqlx does not accept.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let Some(rest) = url.strip_prefix("sqlite:") else {
            return Err(invalid(
                "expected a URL that starts with `sqlite:`, such as `sqlite://jobs.db` \
                 or `sqlite::memory:`"
                    .to_owned(),
            ));
        };
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (database, params) = match rest.split_once('?') {
            Some((database, params)) => (database, Some(params)),
            None => (rest, None),
        };
        let param = |wanted: &str| {
            params.and_then(|params| {
                params.split('&').find_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (key == wanted).then_some(value)
                })
            })
        };
        let in_memory = database == ":memory:" || param("mode") == Some("memory");
        if !in_memory && database.is_empty() {
            return Err(invalid(
                "it names no database file: write `sqlite://path/to/jobs.db`, \
                 or `sqlite::memory:` for an in-memory database"
                    .to_owned(),
            ));
        }
        let mut connect =
            SqliteConnectOptions::from_str(url).map_err(|error| invalid(error.to_string()))?;
        if param("mode").is_none() {
            connect = connect.create_if_missing(true);
        }
        Ok(Self::with_connect(connect, in_memory))
    }

    fn with_connect(connect: SqliteConnectOptions, in_memory: bool) -> Self {
        Self {
            connect,
            in_memory,
            busy_timeout: Self::DEFAULT_BUSY_TIMEOUT,
            max_readers: Self::DEFAULT_MAX_READERS,
            migrate: true,
            watch_interval: Self::DEFAULT_WATCH_INTERVAL,
        }
    }

    /// How long a statement waits for another process's lock (default 10 s).
    ///
    /// A write still locked out after that is retried, with backoff, for about 30 s
    /// more before its error is returned.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many connections serve reads (`job`, `jobs`, `attempts`); default 4,
    /// at least 1. Ignored for an in-memory database.
    pub fn max_readers(mut self, readers: u32) -> Self {
        self.max_readers = readers.max(1);
        self
    }

    /// How often a worker's commit watcher looks for commits by other connections
    /// (other processes, a caller's transaction, a second handle on the same file):
    /// default 5 ms; at least 1 ms.
    ///
    /// A job such a commit makes ready starts within about this long, instead of
    /// at the worker's next poll. Each look reads the 48-byte header of the WAL
    /// index (the `-shm` file) from the page cache, one system call without I/O.
    pub fn watch_interval(mut self, interval: Duration) -> Self {
        self.watch_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How often the commit watcher looks.
    pub fn get_watch_interval(&self) -> Duration {
        self.watch_interval
    }

    /// Whether connecting applies kiribi's migrations (default: yes).
    ///
    /// Turn it off in a process that must not change the schema (a dashboard, a
    /// read-only tool, a web process when a deploy step migrates): connecting then
    /// only checks that the schema is the one this build knows, and refuses an older
    /// one ([`Error::SchemaOutdated`]) or a newer one ([`Error::SchemaTooNew`]). It
    /// does not create a missing file either ([`Error::MissingDatabaseFile`]).
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// Whether connecting applies kiribi's migrations.
    pub fn get_migrate(&self) -> bool {
        self.migrate
    }

    /// Whether to create the database file if it is missing (default: yes).
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.connect = self.connect.create_if_missing(create);
        self
    }

    /// The database file; `None` for an in-memory database.
    pub fn get_path(&self) -> Option<&Path> {
        (!self.in_memory).then(|| self.connect.get_filename())
    }

    /// The busy timeout.
    pub fn get_busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// The number of read connections.
    pub fn get_max_readers(&self) -> u32 {
        self.max_readers
    }

    /// Whether the database lives in memory only.
    pub fn is_in_memory(&self) -> bool {
        self.in_memory
    }

    /// The directory that must exist for the file to be created, if it does not.
    pub(crate) fn missing_directory(&self) -> Option<PathBuf> {
        let parent = self.get_path()?.parent()?;
        (!parent.as_os_str().is_empty() && !parent.is_dir()).then(|| parent.to_path_buf())
    }

    /// The sqlx options of every connection: WAL, `synchronous = NORMAL`, foreign
    /// keys, busy timeout.
    pub(crate) fn connect_options(&self) -> SqliteConnectOptions {
        let connect = self
            .connect
            .clone()
            .foreign_keys(true)
            .busy_timeout(self.busy_timeout);
        if self.in_memory {
            // An in-memory database has no WAL and nothing to sync.
            connect
        } else {
            connect
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_form_names_its_file() {
        for (url, path) in [
            ("sqlite://jobs.db", "jobs.db"),
            ("sqlite:jobs.db", "jobs.db"),
            ("sqlite://relative/path.db", "relative/path.db"),
            ("sqlite:///abs/path.db", "/abs/path.db"),
            ("sqlite://jobs.db?cache=shared", "jobs.db"),
        ] {
            let options = SqliteStorageOptions::from_url(url).unwrap();
            assert_eq!(options.get_path(), Some(Path::new(path)), "{url}");
        }
    }

    #[test]
    fn memory_urls_are_in_memory() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
        ] {
            let options = SqliteStorageOptions::from_url(url).unwrap();
            assert!(options.is_in_memory(), "{url}");
            assert_eq!(options.get_path(), None);
        }
    }

    #[test]
    fn malformed_urls_are_invalid() {
        for url in [
            "postgres://localhost/db",
            "jobs.db",
            "sqlite://",
            "sqlite://a.db?x=1",
        ] {
            let error = SqliteStorageOptions::from_url(url).unwrap_err();
            assert!(matches!(error, Error::InvalidUrl { .. }), "{url}: {error}");
        }
    }
}
