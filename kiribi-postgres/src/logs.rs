//! Log lines and progress of job attempts on PostgreSQL: each batch one statement,
//! its values bound as arrays.

use chrono::{DateTime, Utc};
use kiribi_core::{JobId, LogLine, NewLogLine, ProgressUpdate};
use sqlx::PgConnection;

use crate::row::{self, int_column};
use crate::sql;

/// Stores `lines` as [`sql::APPEND_LOGS`] does, within the bound of the `Storage`
/// contract: lines past it are not sent, long messages are cut first.
pub(crate) async fn append(
    conn: &mut PgConnection,
    lines: &[NewLogLine],
) -> Result<(), sqlx::Error> {
    let storable = || lines.iter().filter(|line| line.is_storable());
    let count = storable().count();
    if count == 0 {
        return Ok(());
    }
    let mut job_ids = Vec::with_capacity(count);
    let mut attempts = Vec::with_capacity(count);
    let mut seqs = Vec::with_capacity(count);
    let mut times: Vec<DateTime<Utc>> = Vec::with_capacity(count);
    let mut levels = Vec::with_capacity(count);
    let mut messages = Vec::with_capacity(count);
    for line in storable() {
        job_ids.push(line.job_id.as_i64());
        attempts.push(int_column(line.attempt));
        seqs.push(int_column(line.seq));
        times.push(line.at);
        levels.push(line.level.as_str());
        messages.push(line.stored_message());
    }
    let messages: Vec<&str> = messages.iter().map(AsRef::as_ref).collect();
    sqlx::query(sql::APPEND_LOGS)
        .bind(&job_ids)
        .bind(&attempts)
        .bind(&seqs)
        .bind(&times)
        .bind(&levels)
        .bind(&messages)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores `progress` as [`sql::SET_PROGRESS`] does, clamped again: the fields are
/// public, so a caller may have set anything.
pub(crate) async fn set_progress(
    conn: &mut PgConnection,
    progress: &[ProgressUpdate],
) -> Result<(), sqlx::Error> {
    let mut ids = Vec::with_capacity(progress.len());
    let mut attempts = Vec::with_capacity(progress.len());
    let mut values = Vec::with_capacity(progress.len());
    for update in progress {
        if let Some(value) = ProgressUpdate::clamp(update.progress) {
            ids.push(update.job_id.as_i64());
            attempts.push(int_column(update.attempt));
            values.push(value);
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::SET_PROGRESS)
        .bind(&ids)
        .bind(&attempts)
        .bind(&values)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The lines of job `id` ([`sql::LIST_LOGS`]).
pub(crate) async fn list(conn: &mut PgConnection, id: JobId) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query(sql::LIST_LOGS)
        .bind(id.as_i64())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row::decode_log_line)
        .collect()
}
