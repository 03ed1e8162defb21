//! `PgStorageOptions`: which database and schema kiribi uses, and how it connects.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use kiribi_core::Error;
use sqlx::postgres::PgConnectOptions;

/// The prefix of every notification channel; the schema name follows it.
pub(crate) const CHANNEL_PREFIX: &str = "kiribi_jobs.";

/// The longest schema name kiribi accepts, so that its notification channel
/// (`kiribi_jobs.<schema>`) fits PostgreSQL's 63-byte identifier limit.
pub(crate) const MAX_SCHEMA_LEN: usize = 63 - CHANNEL_PREFIX.len();

/// How [`PgStorage::connect_with`](crate::PgStorage::connect_with) opens a database.
///
/// The database must exist; kiribi creates its schema (default `public`) and its
/// tables in it. Every connection of kiribi's pool runs
/// `SET search_path TO "<schema>", public`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_postgres::PgStorageOptions;
///
/// let options = PgStorageOptions::new("postgres://app@db.internal/app")
///     .schema("jobs")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(5));
/// assert_eq!(options.get_schema(), "jobs");
/// assert_eq!(options.get_max_connections(), 20);
///
/// // Behind PgBouncer in transaction-pooling mode, `LISTEN` cannot work:
/// let options = PgStorageOptions::from_url("postgresql://app@pgbouncer:6432/app")?.listen(false);
/// assert!(!options.get_listen());
/// # Ok::<(), kiribi_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PgStorageOptions {
    connect: Result<PgConnectOptions, UrlProblem>,
    schema: String,
    max_connections: u32,
    listen: bool,
    acquire_timeout: Duration,
    migrate: bool,
}

/// A URL that did not parse, kept until `connect_with` reports it.
#[derive(Debug, Clone)]
struct UrlProblem {
    /// The URL without its password.
    url: String,
    reason: String,
}

impl UrlProblem {
    fn to_error(&self) -> Error {
        Error::InvalidUrl {
            url: self.url.clone(),
            reason: self.reason.clone(),
        }
    }
}

impl PgStorageOptions {
    /// The schema kiribi's tables live in unless [`schema`](Self::schema) says otherwise.
    pub const DEFAULT_SCHEMA: &'static str = "public";

    /// How many connections kiribi's pool opens at most by default.
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

    /// How long a call waits for a free connection by default.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

    /// Options for the database at `url` (`postgres://user:password@host:port/database`
    /// or `postgresql://…`, with the query parameters sqlx accepts, such as `sslmode`).
    ///
    /// The URL is checked when connecting; use [`from_url`](Self::from_url) to check
    /// it now.
    pub fn new(url: &str) -> Self {
        Self::with_connect(parse_url(url))
    }

    /// Options for the database at `url`, checked now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] if the URL is not a `postgres://` or `postgresql://` URL
    /// or sqlx cannot parse it. The error never contains the URL's password.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        parse_url(url)
            .map(|connect| Self::with_connect(Ok(connect)))
            .map_err(|problem| problem.to_error())
    }

    /// Options for a database described by sqlx's own options (for example with a
    /// password read from a secret store rather than written in a URL).
    pub fn from_connect_options(connect: PgConnectOptions) -> Self {
        Self::with_connect(Ok(connect))
    }

    fn with_connect(connect: Result<PgConnectOptions, UrlProblem>) -> Self {
        Self {
            connect,
            schema: Self::DEFAULT_SCHEMA.to_owned(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            listen: true,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            migrate: true,
        }
    }

    /// The schema that holds kiribi's tables (default `public`); created with
    /// `CREATE SCHEMA IF NOT EXISTS` on connect if missing.
    ///
    /// Several kiribi installations can share a database, one schema each. The name
    /// must be 1 to 51 ASCII letters, digits and underscores, starting with a letter
    /// or an underscore; it is used quoted, so it is case-sensitive. An invalid name is
    /// reported when connecting.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The most connections kiribi's pool opens (default 10, at least 1). The
    /// listener of [`listen`](Self::listen) uses one more, of its own.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Whether workers subscribe to `LISTEN`/`NOTIFY` wake-ups (default: yes).
    ///
    /// Turn it off behind PgBouncer in transaction-pooling mode, where `LISTEN`
    /// cannot work: workers then find jobs from other processes by polling.
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }

    /// How long a call waits for a free connection before it fails (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Whether connecting applies kiribi's migrations (default: yes).
    ///
    /// Turn it off in a process that must not change the schema (a dashboard, a
    /// read-only tool, a web process when a deploy step migrates): connecting then
    /// only checks that the schema is the one this build knows, and refuses an older
    /// one ([`Error::SchemaOutdated`]) or a newer one ([`Error::SchemaTooNew`]); it
    /// creates neither the schema nor a table.
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// Whether connecting applies kiribi's migrations.
    pub fn get_migrate(&self) -> bool {
        self.migrate
    }

    /// The schema that holds kiribi's tables.
    pub fn get_schema(&self) -> &str {
        &self.schema
    }

    /// The most connections kiribi's pool opens.
    pub fn get_max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Whether workers listen for wake-ups.
    pub fn get_listen(&self) -> bool {
        self.listen
    }

    /// How long a call waits for a free connection.
    pub fn get_acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// sqlx's options for each connection; `None` if the URL given to
    /// [`new`](Self::new) is malformed.
    pub fn get_connect_options(&self) -> Option<&PgConnectOptions> {
        self.connect.as_ref().ok()
    }

    /// The connection options and the validated schema, or why there are none.
    pub(crate) fn validate(&self) -> Result<(&PgConnectOptions, &str), Error> {
        let connect = self.connect.as_ref().map_err(UrlProblem::to_error)?;
        Ok((connect, self.validated_schema()?))
    }

    /// The schema, if its name is valid.
    pub(crate) fn validated_schema(&self) -> Result<&str, Error> {
        validate_schema(&self.schema)
    }
}

impl Default for PgStorageOptions {
    /// Options without a database URL, for
    /// [`PgStorage::from_pool`](crate::PgStorage::from_pool), which connects through
    /// the pool it is given. `connect_with` refuses them with [`Error::InvalidUrl`].
    fn default() -> Self {
        Self::with_connect(Err(UrlProblem {
            url: String::new(),
            reason: "no database URL was given: build the options with \
                     `PgStorageOptions::new(\"postgres://…\")`"
                .to_owned(),
        }))
    }
}

impl fmt::Debug for PgStorageOptions {
    /// Shows where kiribi connects, never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("PgStorageOptions");
        match &self.connect {
            Ok(connect) => debug
                .field("host", &connect.get_host())
                .field("port", &connect.get_port())
                .field("username", &connect.get_username())
                .field("database", &connect.get_database()),
            Err(problem) => debug.field("invalid_url", &problem.url),
        };
        debug
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("listen", &self.listen)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("migrate", &self.migrate)
            .finish()
    }
}

/// Parses a `postgres://` or `postgresql://` URL with sqlx.
fn parse_url(url: &str) -> Result<PgConnectOptions, UrlProblem> {
    let problem = |reason: String| UrlProblem {
        url: redact_password(url),
        reason,
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(problem(
            "expected a URL that starts with `postgres://` or `postgresql://`, such as \
             `postgres://user:password@localhost:5432/app`"
                .to_owned(),
        ));
    }
    PgConnectOptions::from_str(url).map_err(|error| problem(error.to_string()))
}

/// `url` with the password of its `user:password@` part replaced by `***`.
pub(crate) fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end],
        &authority[..colon],
        &rest[at..]
    )
}

/// Checks a schema name: ASCII letters, digits and underscores, not starting with a
/// digit, short enough for its notification channel.
fn validate_schema(schema: &str) -> Result<&str, Error> {
    let mut chars = schema.chars();
    let valid = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= MAX_SCHEMA_LEN;
    if valid {
        Ok(schema)
    } else {
        Err(Error::InvalidOption {
            option: "schema",
            reason: format!(
                "`{schema}` is not a schema name kiribi accepts: use 1 to {MAX_SCHEMA_LEN} \
                 ASCII letters, digits and underscores, starting with a letter or an \
                 underscore"
            ),
        })
    }
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The notification channel of a schema: `kiribi_jobs.<schema>`, the name the
/// insert trigger computes from `TG_TABLE_SCHEMA`.
pub(crate) fn channel(schema: &str) -> String {
    format!("{CHANNEL_PREFIX}{schema}")
}

/// The prefix of every channel that announces cancel requests of running jobs; as
/// long as [`CHANNEL_PREFIX`], so that every accepted schema fits it too.
pub(crate) const CANCEL_CHANNEL_PREFIX: &str = "kiribi_stop.";
const _: () = assert!(CANCEL_CHANNEL_PREFIX.len() == CHANNEL_PREFIX.len());

/// The channel on which `cancel` announces that a running job of a schema is asked
/// to stop: `kiribi_stop.<schema>`.
pub(crate) fn cancel_channel(schema: &str) -> String {
    format!("{CANCEL_CHANNEL_PREFIX}{schema}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemes_parse() {
        for url in [
            "postgres://postgres@localhost:5432/test",
            "postgresql://user:secret@db.example/jobs?sslmode=disable",
        ] {
            let options = PgStorageOptions::from_url(url).unwrap();
            assert!(options.get_connect_options().is_some(), "{url}");
        }
    }

    #[test]
    fn malformed_urls_are_invalid_and_hide_the_password() {
        for url in [
            "sqlite://jobs.db",
            "localhost:5432",
            "postgres://user:hunter2@localhost:notaport/db",
        ] {
            let error = PgStorageOptions::from_url(url).unwrap_err();
            let Error::InvalidUrl { url: shown, reason } = &error else {
                panic!("{url}: expected InvalidUrl, got {error:?}");
            };
            assert!(!reason.is_empty());
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn new_defers_the_url_error_to_connect() {
        let options = PgStorageOptions::new("mysql://localhost/db");
        assert!(options.get_connect_options().is_none());
        assert!(matches!(options.validate(), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://u:p@ss@h:1/db?x=y"),
            "postgres://u:***@h:1/db?x=y"
        );
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_password("postgres://u:p@h"), "postgres://u:***@h");
    }

    #[test]
    fn schema_names_are_validated() {
        for good in [
            "public",
            "jobs",
            "_x1",
            "Kiribi_Jobs",
            &"s".repeat(MAX_SCHEMA_LEN),
        ] {
            assert!(validate_schema(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1jobs",
            "my-jobs",
            "a\"b",
            "sch ema",
            "é",
            &"s".repeat(MAX_SCHEMA_LEN + 1),
        ] {
            let error = validate_schema(bad).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidOption {
                        option: "schema",
                        ..
                    }
                ),
                "{error}"
            );
        }
    }

    #[test]
    fn channels_fit_an_identifier() {
        assert_eq!(channel("public"), "kiribi_jobs.public");
        assert!(channel(&"s".repeat(MAX_SCHEMA_LEN)).len() <= 63);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let options = PgStorageOptions::new("postgres://u:hunter2@localhost/db");
        assert!(!format!("{options:?}").contains("hunter2"));
        let options = PgStorageOptions::new("mysql://u:hunter2@localhost/db");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
