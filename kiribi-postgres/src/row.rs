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
use sqlx::Row;
use sqlx::postgres::PgRow;

/// The longest duration kiribi adds to the database's clock: about 100 years.
/// Longer delays and leases are cut to it, since `timestamptz` ends in 294276 AD
/// and PostgreSQL fails a statement whose time would pass it.
const MAX_MICROS: i64 = 100 * 366 * 24 * 60 * 60 * 1_000_000;

/// A duration in whole microseconds, the unit bound into SQL, capped at about 100 years.
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).map_or(MAX_MICROS, |micros| micros.min(MAX_MICROS))
}

/// A count (attempts, max_attempts) as an `INT` column, saturating: no job is
/// attempted two billion times.
pub(crate) fn int_column(count: u32) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// A row that does not decode, as the driver error a decoding failure is.
fn into_sqlx(corrupt: CorruptRow) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(corrupt))
}

/// Reads the columns of one table row, naming the row in every error.
struct Columns<'r> {
    row: &'r PgRow,
    table: &'static str,
    job_id: Option<i64>,
}

impl<'r> Columns<'r> {
    /// Columns of a row that belongs to no job (its errors name no job).
    fn of_table(row: &'r PgRow, table: &'static str) -> Self {
        Self {
            row,
            table,
            job_id: None,
        }
    }

    fn new(row: &'r PgRow, table: &'static str, id_column: &'static str) -> Self {
        let job_id = row.try_get::<i64, _>(id_column).ok();
        Self { row, table, job_id }
    }

    /// A decoder's answer, its reason named as this row's corrupt `column`: the
    /// driver error a decoding failure is.
    fn decoded<T>(&self, column: &'static str, value: Result<T, String>) -> Result<T, sqlx::Error> {
        value.map_err(|reason| into_sqlx(CorruptRow::new(self.table, self.job_id, column, reason)))
    }

    fn get<T>(&self, column: &'static str) -> Result<T, sqlx::Error>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.row.try_get(column)
    }

    fn id(&self, column: &'static str) -> Result<JobId, sqlx::Error> {
        self.get::<i64>(column).map(JobId::from_i64)
    }

    fn count(&self, column: &'static str) -> Result<u32, sqlx::Error> {
        let value: i32 = self.get(column)?;
        self.decoded(column, decode_count(value))
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

/// A row of `sql::rollup::FINISHED_BETWEEN`: a finished job as a roll-up counts it.
pub(crate) fn decode_finished(row: &PgRow) -> Result<FinishedJob, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    Ok(FinishedJob {
        name: c.get("name")?,
        queue: c.get("queue")?,
        status: c.status("status")?,
        attempts: c.count("attempts")?,
        run_at: c.get("run_at")?,
        started_at: c.get("started_at")?,
        finished_at: c.get("finished_at")?,
    })
}

/// A row of `kiribi_rollups`.
pub(crate) fn decode_rollup(row: &PgRow) -> Result<Rollup, sqlx::Error> {
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
        minute: c.get("minute")?,
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

/// A `kiribi_jobs` row selected with every column (`sql::job_columns!`).
pub(crate) fn decode_job(row: &PgRow) -> Result<JobRecord, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    Ok(JobRecordBuilder::new(c.id("id")?, c.get::<String>("name")?)
        .queue(c.get("queue")?)
        .status(c.status("status")?)
        .priority(c.get("priority")?)
        .attempts(c.count("attempts")?)
        .max_attempts(c.count("max_attempts")?)
        .interruptions(c.count("interruptions")?)
        .payload(c.json("payload")?)
        .result(c.optional_json("result")?)
        .last_error(c.get("last_error")?)
        .created_at(c.get::<DateTime<Utc>>("created_at")?)
        .run_at(c.get::<DateTime<Utc>>("run_at")?)
        .started_at(c.get::<Option<DateTime<Utc>>>("started_at")?)
        .finished_at(c.get::<Option<DateTime<Utc>>>("finished_at")?)
        .lease_owner(c.get("lease_owner")?)
        .lease_expires_at(c.get::<Option<DateTime<Utc>>>("lease_expires_at")?)
        .unique_key(c.get("unique_key")?)
        .schedule(c.get("schedule")?)
        .schedule_tick(c.get::<Option<DateTime<Utc>>>("schedule_tick")?)
        .progress(c.get::<Option<f32>>("progress")?)
        .flow(c.get::<Option<i64>>("flow_id")?.map(FlowId::from_i64))
        .flow_step(c.get("flow_step")?)
        .build())
}

/// A `kiribi_logs` row selected by `sql::LIST_LOGS`.
pub(crate) fn decode_log_line(row: &PgRow) -> Result<LogLine, sqlx::Error> {
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
    .with_at(c.get::<DateTime<Utc>>("at")?);
    Ok(LogLine::from(line))
}

/// A `kiribi_schedules` row selected with `sql::schedule_columns!`.
pub(crate) fn decode_schedule(row: &PgRow) -> Result<ScheduleRecord, sqlx::Error> {
    // A schedule row has no job id to name in an error; the name comes first.
    let c = Columns::new(row, "kiribi_schedules", "last_job_id");
    Ok(ScheduleRecordBuilder::new(
        c.get::<String>("name")?,
        c.get::<String>("job_name")?,
        c.get::<String>("cron")?,
    )
    .timezone(c.get("timezone")?)
    .payload(c.json("payload")?)
    .queue(c.get("queue")?)
    .priority(c.get("priority")?)
    .max_attempts(c.count("max_attempts")?)
    .paused(c.get("paused")?)
    .next_run_at(c.get::<DateTime<Utc>>("next_run_at")?)
    .last_run_at(c.get::<Option<DateTime<Utc>>>("last_run_at")?)
    .last_job_id(c.get::<Option<i64>>("last_job_id")?.map(JobId::from_i64))
    .created_at(c.get::<DateTime<Utc>>("created_at")?)
    .updated_at(c.get::<DateTime<Utc>>("updated_at")?)
    .build())
}

/// A row returned by `sql::CLAIM_JOBS` for `owner`.
pub(crate) fn decode_claimed(row: &PgRow, owner: &WorkerId) -> Result<ClaimedJob, sqlx::Error> {
    let c = Columns::new(row, "kiribi_jobs", "id");
    let lease = Lease::new(c.id("id")?, c.count("attempts")?, owner.clone());
    Ok(
        ClaimedJob::new(lease, c.get::<String>("name")?, c.json("payload")?)
            .with_queue(c.get::<String>("queue")?)
            .with_max_attempts(c.count("max_attempts")?)
            .with_interruptions(c.count("interruptions")?)
            .with_due_at(c.get("run_at")?),
    )
}

/// A `kiribi_attempts` row.
pub(crate) fn decode_attempt(row: &PgRow) -> Result<AttemptRecord, sqlx::Error> {
    let c = Columns::new(row, "kiribi_attempts", "job_id");
    Ok(AttemptRecordBuilder::new(
        c.id("job_id")?,
        c.count("attempt")?,
        c.get::<DateTime<Utc>>("started_at")?,
    )
    .worker(c.get("worker")?)
    .finished_at(c.get::<Option<DateTime<Utc>>>("finished_at")?)
    .error(c.get("error")?)
    .build())
}

/// A row of `sql::EXPIRED_LEASES`.
pub(crate) fn decode_expired(row: &PgRow) -> Result<ExpiredLease, sqlx::Error> {
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
    fn durations_are_capped() {
        assert_eq!(micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(micros(Duration::MAX), MAX_MICROS);
        assert_eq!(
            micros(Duration::from_secs(1_000 * 366 * 86_400)),
            MAX_MICROS
        );
    }

    #[test]
    fn counts_saturate() {
        assert_eq!(int_column(5), 5);
        assert_eq!(int_column(u32::MAX), i32::MAX);
    }

    #[test]
    fn corrupt_row_reaches_the_user_in_the_storage_error() {
        let corrupt = CorruptRow::new("kiribi_jobs", Some(7), "payload", "is not JSON");
        let text = kiribi_core::chain_text(&crate::error::storage_error(into_sqlx(corrupt)));
        assert!(text.contains("(job 7): column `payload`"), "{text}");
    }
}
