//! Log lines and progress of job attempts: what a worker hands a backend and reads back.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::JobId;

/// How severe a log line is: `ctx.log` writes `Info`; a `tracing` event keeps its
/// level.
///
/// # Examples
///
/// ```
/// use kiribi_core::LogLevel;
///
/// assert_eq!(LogLevel::Warn.as_str(), "warn");
/// assert_eq!("error".parse::<LogLevel>(), Ok(LogLevel::Error));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogLevel {
    /// Very fine detail (`tracing::trace!`).
    Trace,
    /// Detail for debugging (`tracing::debug!`).
    Debug,
    /// What the job did (`ctx.log`, `tracing::info!`).
    Info,
    /// Something unexpected the job went on after (`tracing::warn!`).
    Warn,
    /// Something that went wrong (`tracing::error!`).
    Error,
}

impl LogLevel {
    /// The level as stored: `trace`, `debug`, `info`, `warn` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`LogLevel`] from text that names none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{0}`; expected one of `trace`, `debug`, `info`, `warn`, `error`")]
pub struct ParseLogLevelError(String);

impl FromStr for LogLevel {
    type Err = ParseLogLevelError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "trace" => Ok(Self::Trace),
            "debug" => Ok(Self::Debug),
            "info" => Ok(Self::Info),
            "warn" => Ok(Self::Warn),
            "error" => Ok(Self::Error),
            other => Err(ParseLogLevelError(other.to_owned())),
        }
    }
}

/// One stored log line of a job attempt, read back with `Kiribi::logs`.
///
/// An attempt keeps at most [`MAX_LINES_PER_ATTEMPT`](Self::MAX_LINES_PER_ATTEMPT)
/// lines and [`MAX_BYTES_PER_ATTEMPT`](Self::MAX_BYTES_PER_ATTEMPT) bytes of
/// messages; a longer message is cut at
/// [`MAX_MESSAGE_BYTES`](Self::MAX_MESSAGE_BYTES). Past either bound its lines are
/// dropped, and one last line says how many (see `JobContext::log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogLine {
    /// The job the line belongs to.
    pub job_id: JobId,
    /// The 1-based attempt that wrote it.
    pub attempt: u32,
    /// Its place among its attempt's lines, from 0.
    pub seq: u32,
    /// When the job wrote it, by the worker's clock.
    pub at: DateTime<Utc>,
    /// How severe it is.
    pub level: LogLevel,
    /// What it says: a `tracing` event's message, then its fields as `key=value`.
    pub message: String,
}

impl LogLine {
    /// The most lines one attempt keeps, not counting the last line that says how
    /// many were dropped.
    pub const MAX_LINES_PER_ATTEMPT: u32 = 1_000;
    /// The most bytes of messages one attempt keeps (64 KiB).
    pub const MAX_BYTES_PER_ATTEMPT: usize = 64 * 1024;
    /// The longest message kept whole; a longer one is cut there (at a character
    /// boundary) and ends in `…`.
    pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

    /// `message` cut to at most [`MAX_MESSAGE_BYTES`](Self::MAX_MESSAGE_BYTES), at a
    /// character boundary, ending in `…` where it was cut.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi_core::LogLine;
    ///
    /// assert_eq!(LogLine::truncate("short"), "short");
    /// let long = "é".repeat(LogLine::MAX_MESSAGE_BYTES);
    /// let cut = LogLine::truncate(&long);
    /// assert!(cut.len() <= LogLine::MAX_MESSAGE_BYTES && cut.ends_with('…'));
    /// ```
    pub fn truncate(message: &str) -> Cow<'_, str> {
        if message.len() <= Self::MAX_MESSAGE_BYTES {
            return Cow::Borrowed(message);
        }
        const ELLIPSIS: char = '…';
        let mut end = Self::MAX_MESSAGE_BYTES - ELLIPSIS.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut cut = String::with_capacity(end + ELLIPSIS.len_utf8());
        cut.push_str(&message[..end]);
        cut.push(ELLIPSIS);
        Cow::Owned(cut)
    }
}

impl From<NewLogLine> for LogLine {
    fn from(line: NewLogLine) -> Self {
        Self {
            job_id: line.job_id,
            attempt: line.attempt,
            seq: line.seq,
            at: line.at,
            level: line.level,
            message: line.message,
        }
    }
}

/// A log line to store: what a worker hands to
/// [`Storage::append_logs`](crate::Storage::append_logs), and what a backend builds
/// a [`LogLine`] from (`LogLine::from`).
///
/// # Examples
///
/// ```
/// use kiribi_core::{JobId, LogLevel, LogLine, NewLogLine};
///
/// let line = NewLogLine::new(JobId::from_i64(7), 2, LogLevel::Info, "opened a.csv").with_seq(3);
/// let stored = LogLine::from(line);
/// assert_eq!((stored.attempt, stored.seq, stored.message.as_str()), (2, 3, "opened a.csv"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewLogLine {
    /// The job the line belongs to.
    pub job_id: JobId,
    /// The attempt that wrote it.
    pub attempt: u32,
    /// Its place among its attempt's lines, from 0: with the job and attempt, the
    /// line's identity (a line stored twice is kept once).
    pub seq: u32,
    /// When the job wrote it.
    pub at: DateTime<Utc>,
    /// How severe it is.
    pub level: LogLevel,
    /// What it says.
    pub message: String,
}

impl NewLogLine {
    /// Line 0 of attempt `attempt` of job `job_id`, written now.
    pub fn new(job_id: JobId, attempt: u32, level: LogLevel, message: impl Into<String>) -> Self {
        Self {
            job_id,
            attempt,
            seq: 0,
            at: Utc::now(),
            level,
            message: message.into(),
        }
    }

    /// Sets [`seq`](Self::seq).
    #[must_use]
    pub fn with_seq(mut self, seq: u32) -> Self {
        self.seq = seq;
        self
    }

    /// Sets [`at`](Self::at).
    #[must_use]
    pub fn with_at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }

    /// Whether a backend stores the line: its `seq` is within the bound (the lines
    /// of [`LogLine::MAX_LINES_PER_ATTEMPT`], then the one that says how many were
    /// dropped).
    pub fn is_storable(&self) -> bool {
        self.seq <= LogLine::MAX_LINES_PER_ATTEMPT
    }

    /// The message as a backend stores it: cut by [`LogLine::truncate`], with any
    /// NUL character (which PostgreSQL's text cannot hold) replaced by `�`.
    pub fn stored_message(&self) -> Cow<'_, str> {
        let cut = LogLine::truncate(&self.message);
        if cut.contains('\0') {
            Cow::Owned(cut.replace('\0', "\u{FFFD}"))
        } else {
            cut
        }
    }
}

/// A job's progress, reported by its running attempt: what a worker hands to
/// [`Storage::set_progress`](crate::Storage::set_progress).
///
/// # Examples
///
/// ```
/// use kiribi_core::{JobId, ProgressUpdate};
///
/// let update = ProgressUpdate::new(JobId::from_i64(7), 1, 1.5);
/// assert_eq!(update.progress, 1.0); // clamped
/// assert!(ProgressUpdate::clamp(f32::NAN).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ProgressUpdate {
    /// The job.
    pub job_id: JobId,
    /// The attempt that reported it: a backend stores it only while this is the
    /// job's latest attempt.
    pub attempt: u32,
    /// How far the job got, from 0.0 to 1.0.
    pub progress: f32,
}

impl ProgressUpdate {
    /// Progress `progress` of attempt `attempt` of job `job_id`, clamped to
    /// 0.0 ..= 1.0 (NaN is taken as 0.0; a caller that wants NaN ignored checks
    /// [`clamp`](Self::clamp) first).
    pub fn new(job_id: JobId, attempt: u32, progress: f32) -> Self {
        Self {
            job_id,
            attempt,
            progress: Self::clamp(progress).unwrap_or(0.0),
        }
    }

    /// `progress` clamped to 0.0 ..= 1.0; `None` for NaN, which says nothing.
    pub fn clamp(progress: f32) -> Option<f32> {
        (!progress.is_nan()).then(|| progress.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_text() {
        for level in [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ] {
            assert_eq!(level.as_str().parse::<LogLevel>(), Ok(level));
        }
        let error = "loud".parse::<LogLevel>().unwrap_err().to_string();
        assert!(
            error.contains("`loud`") && error.contains("`warn`"),
            "{error}"
        );
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let long = "ab".repeat(LogLine::MAX_MESSAGE_BYTES);
        let cut = LogLine::truncate(&long);
        assert_eq!(cut.len(), LogLine::MAX_MESSAGE_BYTES);
        assert!(cut.ends_with('…'));
        let wide = "日本".repeat(LogLine::MAX_MESSAGE_BYTES);
        let cut = LogLine::truncate(&wide);
        assert!(cut.len() <= LogLine::MAX_MESSAGE_BYTES);
        assert!(cut.starts_with("日本"));
        let exact = "x".repeat(LogLine::MAX_MESSAGE_BYTES);
        assert_eq!(LogLine::truncate(&exact), exact.as_str());
    }

    #[test]
    fn progress_is_clamped_and_nan_says_nothing() {
        assert_eq!(ProgressUpdate::clamp(-0.5), Some(0.0));
        assert_eq!(ProgressUpdate::clamp(0.25), Some(0.25));
        assert_eq!(ProgressUpdate::clamp(f32::INFINITY), Some(1.0));
        assert_eq!(ProgressUpdate::clamp(f32::NAN), None);
    }

    #[test]
    fn only_lines_within_the_bound_are_storable() {
        let line = NewLogLine::new(JobId::from_i64(1), 1, LogLevel::Info, "x");
        assert!(
            line.clone()
                .with_seq(LogLine::MAX_LINES_PER_ATTEMPT)
                .is_storable()
        );
        assert!(
            !line
                .with_seq(LogLine::MAX_LINES_PER_ATTEMPT + 1)
                .is_storable()
        );
    }
}
