//! Cron schedules on SQLite: the schedule rows, and enqueueing a tick once.
//!
//! Every write here runs on the single write connection, and a tick in one
//! `BEGIN IMMEDIATE` transaction: the compare-and-set on the schedule's next tick
//! and the job's insert commit together or not at all, and other processes wait
//! for SQLite's write lock instead of racing.

use chrono::{DateTime, Utc};
use kiribi_core::backend::{NewSchedule, ScheduleTick};
use kiribi_core::{JobId, ScheduleRecord};
use sqlx::{Connection, SqliteConnection};

use crate::enqueue::insert_jobs;
use crate::row::{self, now_ms};
use crate::sql;

pub(crate) async fn upsert(
    conn: &mut SqliteConnection,
    schedule: &NewSchedule,
) -> Result<ScheduleRecord, sqlx::Error> {
    let row = sqlx::query(sql::UPSERT_SCHEDULE)
        .bind(schedule.name.as_str())
        .bind(schedule.job_name.as_str())
        .bind(schedule.cron.as_str())
        .bind(schedule.timezone.as_str())
        .bind(schedule.payload.to_string())
        .bind(schedule.queue.as_str())
        .bind(schedule.priority)
        .bind(i64::from(schedule.max_attempts))
        .bind(schedule.paused.map(i64::from))
        .bind(schedule.next_run_at.timestamp_millis())
        .bind(now_ms())
        .fetch_one(&mut *conn)
        .await?;
    row::decode_schedule(&row)
}

pub(crate) async fn list(conn: &mut SqliteConnection) -> Result<Vec<ScheduleRecord>, sqlx::Error> {
    sqlx::query(sql::LIST_SCHEDULES)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row::decode_schedule)
        .collect()
}

pub(crate) async fn delete(conn: &mut SqliteConnection, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sql::DELETE_SCHEDULE)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_paused(
    conn: &mut SqliteConnection,
    name: &str,
    paused: bool,
    next_run_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sql::SET_SCHEDULE_PAUSED)
        .bind(name)
        .bind(i64::from(paused))
        .bind(next_run_at.map(|at| at.timestamp_millis()))
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn enqueue_tick(
    conn: &mut SqliteConnection,
    tick: &ScheduleTick,
) -> Result<Option<JobId>, sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let won = match &tick.due {
        Some(due) => {
            sqlx::query(sql::ADVANCE_SCHEDULE)
                .bind(tick.schedule.as_str())
                .bind(due.expected.timestamp_millis())
                .bind(due.tick.timestamp_millis())
                .bind(due.next_run_at.timestamp_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        }
        None => {
            sqlx::query_scalar::<_, bool>(sql::SCHEDULE_EXISTS)
                .bind(tick.schedule.as_str())
                .fetch_one(&mut *tx)
                .await?
        }
    };
    if !won {
        tx.rollback().await?;
        return Ok(None);
    }
    let id = insert_jobs(&mut tx, std::slice::from_ref(&tick.job)).await?[0].id;
    sqlx::query(sql::MARK_SCHEDULED_JOB)
        .bind(id.as_i64())
        .bind(tick.schedule.as_str())
        .bind(tick.due.map(|due| due.tick.timestamp_millis()))
        .execute(&mut *tx)
        .await?;
    sqlx::query(sql::RECORD_LAST_JOB)
        .bind(tick.schedule.as_str())
        .bind(id.as_i64())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(id))
}
