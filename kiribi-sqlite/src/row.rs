//! Decoding stored rows into kiribi's records, and kiribi's values into columns.
//!
//! A row that does not decode (a column holding what kiribi never writes) is a
//! storage error naming the job and the column, never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kiribi_core::backend::{
    AttemptRecordBuilder, ClaimedJob, CorruptRow, DurationSketch, ExpiredLease, FinishedJob,
    JobRecordBuilder, Lease, Rollup, ScheduleRecordBuilder, WorkerId, decode_count, decode_json,
    decode_status, decode_total,
};
use kiribi_core::{
    AttemptRecord, FlowId, JobId, JobRecord, JobStatus, LogLevel, LogLine, NewLogLine,
    ScheduleRecord,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row};

/// The current time in Unix epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `at + duration`, saturating.
pub(crate) fn after(at: i64, duration: Duration) -> i64 {
    at.saturating_add(duration_ms(duration))
}

/// The time from epoch milliseconds `earlier` to `later`, zero if it runs backwards.
pub(crate) fn duration_between(earlier: i64, later: i64) -> Duration {
    Duration::from_millis(u64::try_from(later.saturating_sub(earlier)).unwrap_or(0))
}

/// Epoch milliseconds as a time (the epoch itself for one out of range).
pub(crate) fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

/// An attempt number as stored.
pub(crate) fn attempt_column(attempt: u32) -> i64 {
    i64::from(attempt)
}

/// A row that does not decode, as the driver error a decoding failure is.
fn into_sqlx(corrupt: CorruptRow) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(corrupt))
}

/// Reads the columns of one table row, naming the row in every error.
struct Columns<'r> {
    row: &'r SqliteRow,
    table: &'static str,
    job_id: Option<i64>,
    /// The names of the row's first columns, in order, when the statement fixes
    /// them: those are read by position (see [`Columns::positioned`]).
    positions: &'static [&'static str],
}

impl<'r> Columns<'r> {
    /// Columns of a row that belongs to no job (its errors name no job).
    fn of_table(row: &'r SqliteRow, table: &'static str) -> Self {
        Self {
            row,
            table,
            job_id: None,
            positions: &[],
        }
    }

    fn new(row: &'r SqliteRow, table: &'static str, id_column: &'static str) -> Self {
        let job_id = row.try_get::<i64, _>(id_column).ok();
        Self {
            row,
            table,
            job_id,
            positions: &[],
        }
    }

    /// Columns of a row whose first columns are `positions`, in that order, the
    /// first of them the job id. The driver finds a column by name through a
    /// hash map of the statement's names; a claim's rows, every job a worker
    /// runs, are read by position instead (checked against the names in debug
    /// builds, so every test run checks the statements' column order).
    fn positioned(
        row: &'r SqliteRow,
        table: &'static str,
        positions: &'static [&'static str],
    ) -> Self {
        let mut columns = Self {
            row,
            table,
            job_id: None,
            positions,
        };
        columns.job_id = positions
            .first()
            .and_then(|&id| columns.get::<i64>(id).ok());
        columns
    }

    fn position(&self, column: &'static str) -> Option<usize> {
        let at = self.positions.iter().position(|&name| name == column)?;
        debug_assert_eq!(
            self.row.columns().get(at).map(Column::name),
            Some(column),
            "column {at} of a `{}` row",
            self.table
        );
        Some(at)
    }

    /// A decoder's answer, its reason named as this row's corrupt `column`: the
    /// driver error a decoding failure is.
    fn decoded<T>(&self, column: &'static str, value: Result<T, String>) -> Result<T, sqlx::Error> {
        value.map_err(|reason| into_sqlx(CorruptRow::new(self.table, self.job_id, column, reason)))
    }

    fn get<T>(&self, column: &'static str) -> Result<T, sqlx::Error>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        match self.position(column) {
            Some(at) => self.row.try_get(at),
            None => self.row.try_get(column),
        }
    }

    fn id(&self, column: &'static str) -> Result<JobId, sqlx::Error> {
        self.get::<i64>(column).map(JobId::from_i64)
    }

    fn count(&self, column: &'static str) -> Result<u32, sqlx::Error> {
        let value: i64 = self.get(column)?;
        self.decoded(column, decode_count(value))
    }

    fn priority(&self, column: &'static str) -> Result<i32, sqlx::Error> {
        let value: i64 = self.get(column)?;
        let priority =
            i32::try_from(value).map_err(|_| format!("holds {value}, outside the i32 range"));
        self.decoded(column, priority)
    }

    fn time(&self, column: &'static str) -> Result<DateTime<Utc>, sqlx::Error> {
        let value: i64 = self.get(column)?;
        let time = DateTime::from_timestamp_millis(value)
            .ok_or_else(|| format!("holds {value}, not a time"));
        self.decoded(column, time)
    }

    fn optional_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        match self.get::<Option<i64>>(column)? {
            None => Ok(None),
            Some(_) => self.time(column).map(Some),
        }
    }

    fn progress(&self, column: &'static str) -> Result<Option<f32>, sqlx::Error> {
        let value: Option<f64> = self.get(column)?;
        // Stored from an f32 and clamped to 0.0 ..= 1.0, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, reason = "an f32 stored as REAL")]
        Ok(value.map(|value| value as f32))
    }

    fn json(&self, column: &'static str) -> Result<serde_json::Value, sqlx::Error> {
        let text: String = self.get(column)?;
        self.decoded(column, decode_json(&text))
    }

    fn optional_json(
        &self,
        column: &'static str,
    ) -> Result<Option<serde_json::Value>, sqlx::Error> {
        let text: Option<String> = self.get(column)?;
        self.decoded(column, text.as_deref().map(decode_json).transpose())
    }

    fn status(&self, column: &'static str) -> Result<JobStatus, sqlx::Error> {
        let text: String = self.get(column)?;
        self.decoded(column, decode_status(&text))
    }
}

/// A `kiribi_jobs` row selected with every column (`sql::job_columns!`).
pub(crate) fn decode_job(row: &SqliteRow) -> Result<JobRecord, sqlx::Error> {
    let c = Columns::positioned(row, "kiribi_jobs", crate::sql::JOB_COLUMNS);
    Ok(JobRecordBuilder::new(c.id("id")?, c.get::<String>("name")?)
        .queue(c.get("queue")?)
        .status(c.status("status")?)
        .priority(c.priority("priority")?)
        .attempts(c.count("attempts")?)
        .max_attempts(c.count("max_attempts")?)
        .interruptions(c.count("interruptions")?)
        .payload(c.json("payload")?)
        .result(c.optional_json("result")?)
        .last_error(c.get("last_error")?)
        .created_at(c.time("created_at")?)
        .run_at(c.time("run_at")?)
        .started_at(c.optional_time("started_at")?)
        .finished_at(c.optional_time("finished_at")?)
        .lease_owner(c.get("lease_owner")?)
        .lease_expires_at(c.optional_time("lease_expires_at")?)
        .unique_key(c.get("unique_key")?)
        .schedule(c.get("schedule")?)
        .schedule_tick(c.optional_time("schedule_tick")?)
        .progress(c.progress("progress")?)
        .flow(c.get::<Option<i64>>("flow_id")?.map(FlowId::from_i64))
        .flow_step(c.get("flow_step")?)
        .build())
}

/// A `kiribi_logs` row selected by `sql::LIST_LOGS`.
pub(crate) fn decode_log_line(row: &SqliteRow) -> Result<LogLine, sqlx::Error> {
    let c = Columns::new(row, "kiribi_logs", "job_id");
    let level: String = c.get("level")?;
    let level = c.decoded(
        "level",
        level.parse::<LogLevel>().map_err(|error| error.to_string()),
    )?;
    let line = NewLogLine::new(
        c.id("job_id")?,
        c.count("attempt")?,
        level,
        c.get::<String>("message")?,
    )
    .with_seq(c.count("seq")?)
    .with_at(c.time("at")?);
    Ok(LogLine::from(line))
}

/// For a row of `sql::CLAIM_LIMITED_JOBS` whose job is rate-limited, the claim to
/// record as `sql::RECORD_RATE_STARTS` reads it: `[name, limit key, expires_at]`.
pub(crate) fn rate_start(
    row: &SqliteRow,
    now: i64,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    if c.get::<Option<i64>>("rate_limit")?.is_none() {
        return Ok(None);
    }
    let period: i64 = c.get::<Option<i64>>("rate_period_ms")?.unwrap_or(1);
    Ok(Some(serde_json::json!([
        c.get::<String>("name")?,
        c.get::<String>("limit_key")?,
        now.saturating_add(period)
    ])))
}

/// A `kiribi_schedules` row selected with `sql::schedule_columns!`.
pub(crate) fn decode_schedule(row: &SqliteRow) -> Result<ScheduleRecord, sqlx::Error> {
    // A schedule row has no job id to name in an error; the name comes first.
    let c = Columns::new(row, "kiribi_schedules", "last_job_id");
    let paused: i64 = c.get("paused")?;
    Ok(ScheduleRecordBuilder::new(
        c.get::<String>("name")?,
        c.get::<String>("job_name")?,
        c.get::<String>("cron")?,
    )
    .timezone(c.get("timezone")?)
    .payload(c.json("payload")?)
    .queue(c.get("queue")?)
    .priority(c.priority("priority")?)
    .max_attempts(c.count("max_attempts")?)
    .paused(paused != 0)
    .next_run_at(c.time("next_run_at")?)
    .last_run_at(c.optional_time("last_run_at")?)
    .last_job_id(c.get::<Option<i64>>("last_job_id")?.map(JobId::from_i64))
    .created_at(c.time("created_at")?)
    .updated_at(c.time("updated_at")?)
    .build())
}

/// A job returned by a claim, with the keys that put claims back in claim order.
pub(crate) struct Claimed {
    /// The job as handed to the worker.
    pub(crate) job: ClaimedJob,
    /// Its priority (higher first).
    pub(crate) priority: i32,
    /// Its `run_at` before the claim (earlier first).
    pub(crate) run_at: i64,
}

/// A row returned by `sql::CLAIM_JOBS` for `owner`.
pub(crate) fn decode_claimed(row: &SqliteRow, owner: &WorkerId) -> Result<Claimed, sqlx::Error> {
    let c = Columns::positioned(row, "kiribi_jobs", crate::sql::CLAIMED_COLUMNS);
    let lease = Lease::new(c.id("id")?, c.count("attempts")?, owner.clone());
    let run_at: i64 = c.get("run_at")?;
    Ok(Claimed {
        job: ClaimedJob::new(lease, c.get::<String>("name")?, c.json("payload")?)
            .with_queue(c.get::<String>("queue")?)
            .with_max_attempts(c.count("max_attempts")?)
            .with_interruptions(c.count("interruptions")?)
            .with_due_at(time_of(run_at)),
        priority: c.priority("priority")?,
        run_at,
    })
}

/// A `kiribi_attempts` row.
pub(crate) fn decode_attempt(row: &SqliteRow) -> Result<AttemptRecord, sqlx::Error> {
    let c = Columns::new(row, "kiribi_attempts", "job_id");
    Ok(
        AttemptRecordBuilder::new(c.id("job_id")?, c.count("attempt")?, c.time("started_at")?)
            .worker(c.get("worker")?)
            .finished_at(c.optional_time("finished_at")?)
            .error(c.get("error")?)
            .build(),
    )
}

/// A row of `sql::rollup::FINISHED_SINCE`: a finished job as a roll-up counts it.
pub(crate) fn decode_finished(row: &SqliteRow) -> Result<FinishedJob, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    Ok(FinishedJob {
        name: c.get("name")?,
        queue: c.get("queue")?,
        status: c.status("status")?,
        attempts: c.count("attempts")?,
        run_at: c.time("run_at")?,
        started_at: c.optional_time("started_at")?,
        finished_at: c.time("finished_at")?,
    })
}

/// A row of `kiribi_rollups`.
pub(crate) fn decode_rollup(row: &SqliteRow) -> Result<Rollup, sqlx::Error> {
    let c = Columns::of_table(row, "kiribi_rollups");
    let total = |column| -> Result<u64, sqlx::Error> {
        let value: i64 = c.get(column)?;
        c.decoded(column, decode_total(value))
    };
    let sketch = |column| -> Result<DurationSketch, sqlx::Error> {
        let bytes: Vec<u8> = c.get(column)?;
        c.decoded(column, DurationSketch::from_bytes(&bytes))
    };
    Ok(Rollup {
        minute: c.time("minute")?,
        name: c.get("name")?,
        queue: c.get("queue")?,
        succeeded: total("succeeded")?,
        failed: total("failed")?,
        cancelled: total("cancelled")?,
        retried: total("retried")?,
        run_time: sketch("run_time")?,
        wait_time: sketch("wait_time")?,
    })
}

/// A row of `sql::EXPIRED_LEASES`.
pub(crate) fn decode_expired(row: &SqliteRow) -> Result<ExpiredLease, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    // A running job always has an owner; an empty one still fences (`IS NULL`).
    let owner: Option<String> = c.get("lease_owner")?;
    let lease = Lease::new(
        c.id("id")?,
        c.count("attempts")?,
        WorkerId::new(owner.unwrap_or_default()),
    );
    Ok(ExpiredLease::new(
        lease,
        c.count("max_attempts")?,
        c.count("interruptions")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_row_reaches_the_user_in_the_storage_error() {
        let corrupt = CorruptRow::new("kiribi_jobs", Some(7), "payload", "is not JSON");
        let text = kiribi_core::chain_text(&crate::error::storage_error(into_sqlx(corrupt)));
        assert!(text.contains("(job 7): column `payload`"), "{text}");
    }
}
