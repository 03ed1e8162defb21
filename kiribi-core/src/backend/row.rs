//! Decoding stored values, and the error for a row that does not decode.

use std::fmt;

use crate::{JobId, JobStatus};

/// A stored row that does not decode: a column holds what kiribi never writes.
///
/// A backend builds one from the reason a decoder such as [`decode_count`] gave,
/// and hands it to its driver as a decoding error (for sqlx,
/// `sqlx::Error::Decode(Box::new(corrupt))`), which then becomes the source of an
/// [`Error::Storage`](crate::Error::Storage).
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{CorruptRow, decode_count};
///
/// let reason = decode_count(-1).unwrap_err();
/// let error = CorruptRow::new("kiribi_jobs", Some(7), "attempts", reason);
/// assert_eq!(
///     error.to_string(),
///     "corrupt row in `kiribi_jobs` (job 7): column `attempts` holds -1, not a count"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptRow {
    /// The table.
    pub table: &'static str,
    /// The row's job id, when it could be read.
    pub job_id: Option<i64>,
    /// The column.
    pub column: &'static str,
    /// What is wrong with the value, worded to follow the column's name.
    pub reason: String,
}

impl CorruptRow {
    /// The `column` of a `table` row (of job `job_id`, when it could be read) is
    /// wrong for `reason`.
    pub fn new(
        table: &'static str,
        job_id: Option<i64>,
        column: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            table,
            job_id,
            column,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CorruptRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt row in `{}`", self.table)?;
        if let Some(id) = self.job_id {
            write!(f, " (job {id})")?;
        }
        write!(f, ": column `{}` {}", self.column, self.reason)
    }
}

impl std::error::Error for CorruptRow {}

/// A stored status name as a [`JobStatus`].
///
/// # Examples
///
/// ```
/// use kiribi_core::JobStatus;
/// use kiribi_core::backend::decode_status;
///
/// assert_eq!(decode_status("running"), Ok(JobStatus::Running));
/// ```
///
/// # Errors
///
/// The reason for a [`CorruptRow`] if `text` names no status.
pub fn decode_status(text: &str) -> Result<JobStatus, String> {
    text.parse().map_err(|error| format!("{error}"))
}

/// A stored integer as a count (attempts, max attempts, an attempt number).
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::decode_count;
///
/// assert_eq!(decode_count(3_i32), Ok(3));
/// assert_eq!(decode_count(3_i64), Ok(3));
/// ```
///
/// # Errors
///
/// The reason for a [`CorruptRow`] if `value` is negative or above `u32::MAX`.
pub fn decode_count(value: impl Into<i64>) -> Result<u32, String> {
    let value = value.into();
    u32::try_from(value).map_err(|_| format!("holds {value}, not a count"))
}

/// A stored integer as a total (a rollup's job counts), which may pass `u32::MAX`.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::decode_total;
///
/// assert_eq!(decode_total(5_000_000_000), Ok(5_000_000_000));
/// assert!(decode_total(-1).is_err());
/// ```
///
/// # Errors
///
/// The reason for a [`CorruptRow`] if `value` is negative.
pub fn decode_total(value: i64) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("holds {value}, not a count"))
}

/// Stored JSON text as a JSON value.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::decode_json;
///
/// assert_eq!(decode_json(r#"{"user_id":7}"#), Ok(serde_json::json!({ "user_id": 7 })));
/// ```
///
/// # Errors
///
/// The reason for a [`CorruptRow`] if `text` is not valid JSON.
pub fn decode_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|error| format!("is not valid JSON: {error}"))
}

/// The ids an insert of `inserted` jobs returned, as [`JobId`]s in the order given.
///
/// # Examples
///
/// ```
/// use kiribi_core::JobId;
/// use kiribi_core::backend::inserted_ids;
///
/// assert_eq!(inserted_ids(1, vec![5]), Ok(vec![JobId::from_i64(5)]));
/// ```
///
/// # Errors
///
/// A protocol error's message if the database returned another number of ids than
/// jobs inserted.
pub fn inserted_ids(inserted: usize, ids: Vec<i64>) -> Result<Vec<JobId>, String> {
    if ids.len() != inserted {
        return Err(format!(
            "inserted {} jobs but got {} ids back",
            inserted,
            ids.len()
        ));
    }
    Ok(ids.into_iter().map(JobId::from_i64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_row_names_table_job_and_column() {
        let error = CorruptRow::new("kiribi_jobs", Some(7), "payload", "is not JSON");
        assert_eq!(
            error.to_string(),
            "corrupt row in `kiribi_jobs` (job 7): column `payload` is not JSON"
        );
    }

    #[test]
    fn corrupt_row_without_a_job_id_leaves_it_out() {
        let error = CorruptRow::new("kiribi_attempts", None, "attempt", "holds -1, not a count");
        assert_eq!(
            error.to_string(),
            "corrupt row in `kiribi_attempts`: column `attempt` holds -1, not a count"
        );
    }

    #[test]
    fn unknown_status_gives_the_parse_error_as_reason() {
        let reason = decode_status("done").unwrap_err();
        assert_eq!(reason, "done".parse::<JobStatus>().unwrap_err().to_string());
        assert_eq!(decode_status("failed"), Ok(JobStatus::Failed));
    }

    #[test]
    fn counts_outside_u32_are_corrupt() {
        assert_eq!(
            decode_count(-1_i32),
            Err("holds -1, not a count".to_owned())
        );
        assert_eq!(
            decode_count(i64::from(u32::MAX) + 1),
            Err("holds 4294967296, not a count".to_owned())
        );
        assert_eq!(decode_count(i64::from(u32::MAX)), Ok(u32::MAX));
    }

    #[test]
    fn invalid_json_says_why() {
        let reason = decode_json("{").unwrap_err();
        assert!(reason.starts_with("is not valid JSON: "), "{reason}");
        assert_eq!(decode_json("null"), Ok(serde_json::Value::Null));
    }

    #[test]
    fn inserted_ids_must_match_the_jobs() {
        assert_eq!(
            inserted_ids(2, vec![1]),
            Err("inserted 2 jobs but got 1 ids back".to_owned())
        );
        assert_eq!(
            inserted_ids(2, vec![3, 4]),
            Ok(vec![JobId::from_i64(3), JobId::from_i64(4)])
        );
    }
}
