//! What a command can fail with, the exit code each failure maps to, and the
//! advice printed with it.

use std::process::ExitCode;

/// The command did what it was asked.
pub(crate) const EXIT_SUCCESS: u8 = 0;
/// The database failed or could not be reached, or an action was declined.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// A bad flag or value, a missing or malformed URL, a refused `serve` (clap's own
/// code for usage errors too).
pub(crate) const EXIT_USAGE: u8 = 2;
/// No such job, flow or schedule, or nothing the action applies to.
pub(crate) const EXIT_NOT_FOUND: u8 = 3;

/// How a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The invocation cannot work as given.
    #[error("{0}")]
    Usage(String),
    /// What the command names is not there (or not in a state it applies to).
    #[error("{0}")]
    NotFound(String),
    /// Connecting to the database failed.
    #[error("cannot open the job store: {}", kiribi::chain_text(.0))]
    Connect(#[source] kiribi::Error),
    /// A call to the job store failed.
    #[error("{}", kiribi::chain_text(.0))]
    Kiribi(#[from] kiribi::Error),
    /// Anything else at run time: reading the terminal, writing output.
    #[error("{0}")]
    Runtime(String),
}

/// `Result` with [`CliError`].
pub(crate) type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// The process's exit code for this failure.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::NotFound(_) => EXIT_NOT_FOUND,
            Self::Connect(
                kiribi::Error::InvalidUrl { .. } | kiribi::Error::UnsupportedScheme { .. },
            ) => EXIT_USAGE,
            Self::Connect(_) | Self::Kiribi(_) | Self::Runtime(_) => EXIT_RUNTIME,
        })
    }

    /// What to do about it, where the message alone does not say it for a
    /// command-line user.
    pub(crate) fn advice(&self) -> Option<&'static str> {
        match self {
            Self::Connect(
                kiribi::Error::InvalidUrl { .. } | kiribi::Error::UnsupportedScheme { .. },
            ) => Some(
                "pass --url sqlite://path/to/jobs.db or --url postgres://user@host/database \
                 (or set DATABASE_URL)",
            ),
            Self::Connect(kiribi::Error::MissingDatabaseFile { .. }) => {
                Some("`kiribi migrate` creates it, if this is where your workers' jobs should live")
            }
            _ => None,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        Self::Runtime(error.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(error: serde_json::Error) -> Self {
        Self::Runtime(format!("cannot write JSON: {error}"))
    }
}
