//! Turning sqlx errors into kiribi errors, by error kind and SQLSTATE.

use std::fmt;

use kiribi_core::Error;
use sqlx::postgres::PgConnectOptions;

/// The backend's name in errors and logs.
pub(crate) const BACKEND: &str = "postgres";

/// SQLSTATE `3D000` (`invalid_catalog_name`): the database does not exist.
const INVALID_CATALOG_NAME: &str = "3D000";

/// Wraps a driver error as [`Error::Storage`], keeping it as the source.
pub(crate) fn storage_error(error: sqlx::Error) -> Error {
    Error::storage(BACKEND, error)
}

/// Maps the error of opening the first connection: a missing database becomes
/// [`Error::MissingDatabase`], an unreachable server a storage error that names the
/// address it tried.
pub(crate) fn connect_error(error: sqlx::Error, options: &PgConnectOptions) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(INVALID_CATALOG_NAME) => {
            Error::MissingDatabase {
                name: database_name(options).to_owned(),
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => Error::storage(
            BACKEND,
            Unreachable {
                address: address(options),
                source: error,
            },
        ),
        _ => storage_error(error),
    }
}

/// The database a connection opens: the one in the URL, else the user's own, as
/// PostgreSQL defaults it.
pub(crate) fn database_name(options: &PgConnectOptions) -> &str {
    options
        .get_database()
        .unwrap_or_else(|| options.get_username())
}

/// `host:port`, or the Unix socket, that a connection dials.
fn address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => format!("Unix socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// The server could not be reached at all.
#[derive(Debug)]
pub(crate) struct Unreachable {
    /// Where kiribi tried to connect.
    address: String,
    /// The driver's error.
    source: sqlx::Error,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot connect to PostgreSQL at {}: check that the server runs and accepts \
             connections there",
            self.address
        )
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            text.push_str(" / ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        text
    }

    #[test]
    fn unreachable_server_names_host_and_port() {
        let options = PgConnectOptions::from_str("postgres://u@db.example:6543/jobs").unwrap();
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let error = connect_error(sqlx::Error::Io(io), &options);
        let text = chain(&error);
        assert!(text.contains("db.example:6543"), "{text}");
        assert!(matches!(error, Error::Storage { .. }));
        // kiribi's own line leaves the cause to `source()` (sqlx's own `Io` error
        // repeats its source, which is sqlx's to fix).
        let ours = std::error::Error::source(&error).unwrap().to_string();
        assert!(!ours.contains("refused"), "{ours}");
    }

    #[test]
    fn database_defaults_to_the_user_name() {
        let options = PgConnectOptions::from_str("postgres://alice@localhost").unwrap();
        assert_eq!(database_name(&options), "alice");
        let options = PgConnectOptions::from_str("postgres://alice@localhost/jobs").unwrap();
        assert_eq!(database_name(&options), "jobs");
    }
}
