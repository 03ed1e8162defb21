//! `Error`, everything a kiribi call can fail with, and `JobError`, how a job fails.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::JobId;

/// A boxed error from a driver or a user's code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with kiribi's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a kiribi call can fail with.
///
/// Each message says what went wrong and, where the user can act, what to do. A
/// message never repeats its cause: driver errors and a job's own error are its
/// `source()` (print the chain, as `anyhow`'s `{:#}` does, to see them all).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A payload or result could not be turned into JSON.
    #[error("cannot serialize the {what} of job `{job}`")]
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
        "payload of job `{job}` does not match its arguments at `{path}`: \
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
    #[error("{backend} storage error")]
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

    /// A setting is out of its range: a worker's, an enqueue's or a backend's.
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// Which setting, as its builder method is named (`concurrency`,
        /// `max_attempts`, `schema` …).
        option: &'static str,
        /// What is wrong with it and what is allowed.
        reason: String,
    },

    /// The directory that should hold a SQLite file does not exist.
    #[error("directory `{}` does not exist: create it, or point the SQLite URL elsewhere", path.display())]
    MissingDirectory {
        /// The missing directory.
        path: PathBuf,
    },

    /// A SQLite file that a connection without migrations would have to create.
    #[error(
        "SQLite database `{}` does not exist, and a connection that does not migrate does \
         not create it: point the URL at the file your workers use, or connect once with \
         migrations on",
        path.display()
    )]
    MissingDatabaseFile {
        /// The missing file.
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

    /// The database engine is older than kiribi supports.
    #[error("{backend} {found} is too old: kiribi needs {needed} or newer; {advice}")]
    UnsupportedDatabase {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The version found.
        found: String,
        /// The oldest version kiribi works with.
        needed: &'static str,
        /// What to do about it.
        advice: &'static str,
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

    /// A handle that does not migrate found a schema older than this build needs.
    #[error(
        "the {backend} database has kiribi schema version {found}, older than {needed}, \
         the one this build needs, and this connection does not migrate: run the \
         migrations first (connect once with migrations on, as `Kiribi::connect` does, \
         or run `kiribi migrate`)"
    )]
    SchemaOutdated {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The newest migration recorded in the database (0 for none).
        found: i64,
        /// The newest migration this build has.
        needed: i64,
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

    /// `run_now` ran the job and it failed; the job's error is the source.
    #[error("job `{name}` ({id}) failed")]
    JobFailed {
        /// The job's id.
        id: JobId,
        /// The job's name.
        name: String,
        /// What the job's attempt ended with.
        #[source]
        error: JobError,
    },

    /// A worker stopped because it could not record the outcomes of its jobs while
    /// the database kept answering otherwise: it stopped claiming and renewing its
    /// leases, so other workers take its jobs over once the leases expire.
    #[error(
        "the worker stopped: recording the outcomes of {jobs} jobs kept failing for \
         longer than its lease; other workers run them again once their leases expire"
    )]
    OutcomesNotRecorded {
        /// How many outcomes were waiting to be written.
        jobs: usize,
        /// The last error of the write.
        #[source]
        source: Box<Error>,
    },

    /// A flow that cannot be enqueued as built: no steps, a duplicate step name, a
    /// dependency on a step it does not have, a cycle, or a step that cannot be in a
    /// flow. Nothing was stored.
    #[error("cannot enqueue flow `{flow}`: {reason}")]
    InvalidFlow {
        /// The flow's name.
        flow: String,
        /// What is wrong with it and what to do.
        reason: String,
    },

    /// `JobContext::output_of` could not give a dependency's output: the step is
    /// not a dependency of the running one (or the job is no flow step), it has no
    /// stored result, or the result does not deserialize into the type asked for.
    #[error("cannot read the output of step `{step}`: {reason}")]
    StepOutput {
        /// The step whose output was asked for.
        step: String,
        /// What is wrong and what to do.
        reason: String,
        /// The deserializer's error, when the result does not fit the type.
        #[source]
        source: Option<serde_json::Error>,
    },

    /// The worker's task ended without returning (it panicked, or its runtime shut
    /// down first): a bug in kiribi if it ever panics.
    #[error("the worker task stopped unexpectedly")]
    WorkerStopped {
        /// The task's join error.
        #[source]
        source: BoxError,
    },
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
/// A `JobError` made from the job's own error ([`JobError::from_error`]) keeps that
/// error: [`get_ref`](JobError::get_ref) and [`downcast_ref`](JobError::downcast_ref)
/// reach it, and it stands in for it transparently (its `Display` is that error's,
/// its `source()` that error's source), so an error chain never repeats a line.
/// [`message`](JobError::message) is the whole chain as one line: the text stored as
/// the attempt's error.
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
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "smtp timed out");
/// let err = JobError::from_error(io);
/// assert_eq!(err.message(), "smtp timed out");
/// assert!(err.downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Clone)]
pub struct JobError {
    message: String,
    permanent: bool,
    error: Option<Arc<dyn Kept>>,
    /// Set by [`JobError::snooze`]: not a failure, a request to wait.
    snooze: Option<Duration>,
}

/// The job's own error, however it was held: a box, or a pointer such as
/// `anyhow::Error` that dereferences to the error itself (so that downcasting
/// reaches the original type, which converting it into a box would hide).
trait Kept: Send + Sync {
    fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static);
}

impl Kept for BoxError {
    fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &**self
    }
}

/// A pointer to `dyn Error`, kept as it is.
struct Pointer<E>(E);

impl<E> Kept for Pointer<E>
where
    E: std::ops::Deref<Target = dyn std::error::Error + Send + Sync + 'static> + Send + Sync,
{
    fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl JobError {
    /// An error that is retried while attempts remain.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: false,
            error: None,
            snooze: None,
        }
    }

    /// An error that fails the job at once, whatever attempts remain.
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            permanent: true,
            error: None,
            snooze: None,
        }
    }

    /// Not a failure: the job asks to run again after `delay`, without being
    /// charged the attempt (its attempt count goes back, as if this attempt had
    /// not started, so a job may snooze any number of times whatever its
    /// `max_attempts`). The attempt leaves no record in the history, and the job's
    /// `last_error` stays as it was.
    ///
    /// Return it as `Err(JobError::snooze(..))`, or with `?` from a function that
    /// returns `Result<_, JobError>`. A job run inline (`run_now`) has its one
    /// attempt only: there a snooze fails it, and its caller gets this error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi_core::JobError;
    ///
    /// fn not_yet(ready: bool) -> Result<(), JobError> {
    ///     if !ready {
    ///         Err(JobError::snooze(Duration::from_secs(30)))?;
    ///     }
    ///     Ok(())
    /// }
    /// let err = not_yet(false).unwrap_err();
    /// assert_eq!(err.snoozed(), Some(Duration::from_secs(30)));
    /// assert_eq!(err.message(), "snoozed for 30s");
    /// assert!(!err.is_permanent());
    /// assert_eq!(JobError::new("flaky").snoozed(), None);
    /// ```
    pub fn snooze(delay: Duration) -> Self {
        Self {
            message: format!("snoozed for {delay:?}"),
            permanent: false,
            error: None,
            snooze: Some(delay),
        }
    }

    /// How long the job asked to wait, if this is a [`snooze`](Self::snooze).
    pub fn snoozed(&self) -> Option<Duration> {
        self.snooze
    }

    /// The job's own error, kept: retried while attempts remain, unless a
    /// `JobError` somewhere in its source chain is permanent. Its message is the
    /// whole chain, each source that the text before it does not already mention
    /// joined with `": "`.
    pub fn from_error(error: impl Into<BoxError>) -> Self {
        let error: BoxError = error.into();
        match error.downcast::<JobError>() {
            Ok(job_error) => *job_error,
            Err(error) => Self::kept(Arc::new(error)),
        }
    }

    /// The job's own error held by a pointer that dereferences to it (such as
    /// `anyhow::Error` or `eyre::Report`), kept as it is so that
    /// [`downcast_ref`](Self::downcast_ref) reaches the original type; otherwise as
    /// [`from_error`](Self::from_error).
    pub fn from_error_pointer<E>(error: E) -> Self
    where
        E: std::ops::Deref<Target = dyn std::error::Error + Send + Sync + 'static>
            + Send
            + Sync
            + 'static,
    {
        if let Some(job_error) = error.downcast_ref::<JobError>() {
            return job_error.clone();
        }
        Self::kept(Arc::new(Pointer(error)))
    }

    fn kept(kept: Arc<dyn Kept>) -> Self {
        let error = kept.error();
        let permanent = sources(error)
            .find_map(|err| err.downcast_ref::<JobError>())
            .is_some_and(JobError::is_permanent);
        Self {
            message: chain_text(error),
            permanent,
            error: Some(kept),
            snooze: None,
        }
    }

    /// The same error, failing the job at once whatever attempts remain.
    #[must_use]
    pub fn into_permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// Whether the job must not be retried.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The text stored as the attempt's error: the whole chain, on one line.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The job's own error, when this was made from one.
    pub fn get_ref(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.error.as_deref().map(Kept::error)
    }

    /// The first error of type `T` in the job's own error and its sources.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        let error = self.get_ref()?;
        sources(error).find_map(|err| err.downcast_ref::<T>())
    }
}

impl PartialEq for JobError {
    /// Compares what is stored: the message and whether it is permanent.
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
            && self.permanent == other.permanent
            && self.snooze == other.snooze
    }
}

impl Eq for JobError {}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("JobError");
        debug
            .field("message", &self.message)
            .field("permanent", &self.permanent);
        if let Some(delay) = self.snooze {
            debug.field("snooze", &delay);
        }
        if let Some(error) = self.get_ref() {
            debug.field("error", &error);
        }
        debug.finish()
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get_ref() {
            Some(error) => fmt::Display::fmt(error, f),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for JobError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.get_ref()?.source()
    }
}

/// `error` and each of its sources, outermost first.
fn sources<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |err| err.source())
}

/// `error` and its sources on one line, joined with `": "`, leaving out a source
/// whose text the line already contains (many errors repeat their source).
///
/// # Examples
///
/// ```
/// let inner = std::io::Error::other("connection refused");
/// let error = kiribi_core::Error::storage("sqlite", inner);
/// assert_eq!(kiribi_core::chain_text(&error), "sqlite storage error: connection refused");
/// ```
pub fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    for source in sources(error).skip(1) {
        let line = source.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sending mail")]
    struct Mail(#[source] std::io::Error);

    #[test]
    fn a_typed_error_is_kept_and_its_chain_is_the_message() {
        let err = JobError::from_error(Mail(std::io::Error::other("connection refused")));
        assert_eq!(err.message(), "sending mail: connection refused");
        assert_eq!(err.to_string(), "sending mail");
        assert!(err.downcast_ref::<Mail>().is_some());
        assert!(err.downcast_ref::<std::io::Error>().is_some());
        assert!(!err.is_permanent());
        let failed = Error::JobFailed {
            id: JobId::from_i64(7),
            name: "mail".into(),
            error: err,
        };
        assert_eq!(
            chain_text(&failed),
            "job `mail` (7) failed: sending mail: connection refused"
        );
    }

    #[test]
    fn a_permanent_job_error_in_the_chain_is_found() {
        #[derive(Debug, thiserror::Error)]
        #[error("while mailing")]
        struct Context(#[source] JobError);
        let err = JobError::from_error(Context(JobError::permanent("gone")));
        assert!(err.is_permanent());
        assert_eq!(err.message(), "while mailing: gone");
    }

    #[test]
    fn a_job_error_is_not_wrapped_in_itself() {
        let err = JobError::from_error(JobError::permanent("gone"));
        assert_eq!(err, JobError::permanent("gone"));
        assert!(err.get_ref().is_none());
    }

    #[test]
    fn storage_errors_do_not_repeat_their_source() {
        let err = Error::storage("sqlite", std::io::Error::other("disk full"));
        assert_eq!(err.to_string(), "sqlite storage error");
        assert_eq!(chain_text(&err), "sqlite storage error: disk full");
    }
}
