//! Log lines and progress of job attempts on SQLite: each batch one statement.

use kiribi_core::{JobId, LogLine, NewLogLine, ProgressUpdate};
use sqlx::SqliteConnection;

use crate::row::{self, attempt_column};
use crate::sql;

/// Stores `lines` as [`sql::APPEND_LOGS`] does, within the bound of the `Storage`
/// contract: lines past it are not sent, long messages are cut first.
pub(crate) async fn append(
    conn: &mut SqliteConnection,
    lines: &[NewLogLine],
) -> Result<(), sqlx::Error> {
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .filter(|line| line.is_storable())
        .map(|line| {
            serde_json::json!([
                line.job_id.as_i64(),
                attempt_column(line.attempt),
                i64::from(line.seq),
                line.at.timestamp_millis(),
                line.level.as_str(),
                line.stored_message(),
            ])
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::APPEND_LOGS)
        .bind(serde_json::Value::from(rows).to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores `progress` as [`sql::SET_PROGRESS`] does, clamped again: the fields are
/// public, so a caller may have set anything.
pub(crate) async fn set_progress(
    conn: &mut SqliteConnection,
    progress: &[ProgressUpdate],
) -> Result<(), sqlx::Error> {
    let rows: Vec<serde_json::Value> = progress
        .iter()
        .filter_map(|update| {
            let value = ProgressUpdate::clamp(update.progress)?;
            Some(serde_json::json!([
                update.job_id.as_i64(),
                attempt_column(update.attempt),
                f64::from(value),
            ]))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::SET_PROGRESS)
        .bind(serde_json::Value::from(rows).to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The lines of job `id` ([`sql::LIST_LOGS`]).
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    id: JobId,
) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query(sql::LIST_LOGS)
        .bind(id.as_i64())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row::decode_log_line)
        .collect()
}
