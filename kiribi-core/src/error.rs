//! `Error`, everything a kiribi call can fail with, and `JobError`, how a job fails.

use std::fmt;
use std::path::PathBuf;

use crate::{JobId, JobStatus};

/// A boxed error from a driver or a user's code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with kiribi's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a kiribi call can fail with.
///
/// Each message says what went wrong and, where the user can act, what to do.
/// Driver errors keep their `source()` chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No job has this id.
    #[error("no job with id {0}")]
    JobNotFound(JobId),

    /// The job is not in a state the action applies to.
    #[error("job {id} is {status}: {action} does not apply")]
    InvalidState {
        /// The job.
        id: JobId,
        /// Its current status.
        status: JobStatus,
        /// What was asked.
        action: &'static str,
    },

    /// A payload or result could not be turned into JSON.
    #[error("cannot serialize {what} of job `{job}`: {source}")]
    Serialization {
        /// The job name.
        job: String,
        /// `payload` or `result`.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A stored payload no longer matches the job's arguments.
    #[error(
        "payload of job `{job}` does not match its arguments at `{path}`: {source}; \
         the job's signature changed since it was enqueued"
    )]
    Payload {
        /// The job name.
        job: String,
        /// Where in the payload the mismatch is (`.` for the top level).
        path: String,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// The database failed.
    #[error("{backend} storage error: {source}")]
    Storage {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// The connection URL is malformed.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given (credentials removed).
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No enabled backend handles the URL's scheme.
    #[error(
        "no kiribi backend for URL scheme `{scheme}:`; enabled backends: {}; \
         enable another with the crate features of `kiribi`",
        enabled.join(", ")
    )]
    UnsupportedScheme {
        /// The scheme found in the URL.
        scheme: String,
        /// The schemes this build handles.
        enabled: &'static [&'static str],
    },

    /// The directory that should hold a SQLite file does not exist.
    #[error("directory `{}` does not exist: create it, or point the SQLite URL elsewhere", path.display())]
    MissingDirectory {
        /// The missing directory.
        path: PathBuf,
    },

    /// The PostgreSQL database named in the URL does not exist.
    #[error(
        "database `{name}` does not exist: kiribi creates its tables but not the database; \
         create it with `createdb {name}` or `CREATE DATABASE \"{name}\"`, or point the URL \
         at an existing one"
    )]
    MissingDatabase {
        /// The missing database.
        name: String,
    },

    /// The database was migrated by a newer kiribi.
    #[error(
        "the {backend} database has kiribi schema version {found}, newer than {supported}, \
         the newest this build knows; upgrade kiribi in this program rather than run an \
         older one against it"
    )]
    SchemaTooNew {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The newest migration recorded in the database.
        found: i64,
        /// The newest migration this build has.
        supported: i64,
    },

    /// Two `#[job]` functions share one name.
    #[error(
        "two jobs are named `{name}`: one at {first}, one at {second}; \
         give one of them another `#[job(name = \"…\")]`"
    )]
    DuplicateJobName {
        /// The shared name.
        name: String,
        /// Where the first is declared.
        first: String,
        /// Where the second is declared.
        second: String,
    },

    /// A job asked for `State<T>` that was never registered.
    #[error(
        "no state of type `{type_name}` is registered: \
         add it with `Kiribi::builder().state(value)`"
    )]
    MissingState {
        /// The missing type.
        type_name: &'static str,
    },

    /// `run_now` ran the job and it failed.
    #[error("job `{name}` ({id}) failed: {error}")]
    JobFailed {
        /// The job's id.
        id: JobId,
        /// The job's name.
        name: String,
        /// What the job's attempt ended with.
        error: JobError,
    },

    /// The worker stopped unexpectedly (a bug in kiribi if it ever shows).
    #[error("the worker stopped unexpectedly: {0}")]
    Worker(String),
}

impl Error {
    /// Wraps a driver error of the named backend.
    pub fn storage(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            backend,
            source: source.into(),
        }
    }
}

/// How a job attempt failed, and whether it may be retried.
///
/// Return it (or an `anyhow::Error` / `Box<dyn Error + Send + Sync>` wrapping it) from a
/// job to control retries: [`JobError::permanent`] fails the job at once, with no
/// further attempts.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobError;
///
/// let err = JobError::permanent("user 7 does not exist");
/// assert!(err.is_permanent());
/// assert_eq!(err.to_string(), "user 7 does not exist");
/// assert!(!JobError::new("timeout talking to smtp").is_permanent());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    message: String,
    permanent: bool,
}

impl JobError {
    /// An error that is retried while attempts remain.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: false,
        }
    }

    /// An error that fails the job at once, whatever attempts remain.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: true,
        }
    }

    /// Whether the job must not be retried.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The error message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JobError {}
