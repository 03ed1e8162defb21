//! `JobId`, the identity of a stored job.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The identity of a job in its backend: a positive 64-bit integer that is never reused.
///
/// `JobId` is `Copy` and is passed by value everywhere. It prints and parses as its
/// number, and serializes as a JSON number.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobId;
///
/// let id: JobId = "42".parse().unwrap();
/// assert_eq!(id, JobId::from_i64(42));
/// assert_eq!(id.to_string(), "42");
/// assert_eq!(id.as_i64(), 42);
/// assert!("forty-two".parse::<JobId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(i64);

impl JobId {
    /// Wraps a raw id as stored by a backend.
    pub const fn from_i64(id: i64) -> Self {
        Self(id)
    }

    /// The raw id, as stored by a backend.
    pub const fn as_i64(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.0)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The error returned when a string is not a job id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a job id: expected a whole number such as `42`")]
pub struct ParseJobIdError {
    input: String,
}

impl FromStr for JobId {
    type Err = ParseJobIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<i64>()
            .map(JobId)
            .map_err(|_| ParseJobIdError {
                input: s.to_owned(),
            })
    }
}
