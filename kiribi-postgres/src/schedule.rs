//! Cron schedules on PostgreSQL: the schedule rows, and enqueueing a tick once.
//!
//! A tick is one transaction: the compare-and-set on the schedule's next tick locks
//! the schedule row, so concurrent callers queue behind it and then find the tick
//! moved; the job's insert commits with it or not at all. The job's insert fires
//! the `NOTIFY` trigger like any enqueue, so listening workers start it at once.

use chrono::{DateTime, Utc};
use kiribi_core::backend::{NewSchedule, ScheduleTick};
use kiribi_core::{JobId, ScheduleRecord};
use sqlx::{Connection, PgConnection};

use crate::enqueue::insert_jobs;
use crate::row::{self, int_column};
use crate::sql;

pub(crate) async fn upsert(
    conn: &mut PgConnection,
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
        .bind(int_column(schedule.max_attempts))
        .bind(schedule.paused)
        .bind(schedule.next_run_at)
        .fetch_one(&mut *conn)
        .await?;
    row::decode_schedule(&row)
}

pub(crate) async fn list(conn: &mut PgConnection) -> Result<Vec<ScheduleRecord>, sqlx::Error> {
    sqlx::query(sql::LIST_SCHEDULES)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row::decode_schedule)
        .collect()
}

pub(crate) async fn delete(conn: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sql::DELETE_SCHEDULE)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn set_paused(
    conn: &mut PgConnection,
    name: &str,
    paused: bool,
    next_run_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(sql::SET_SCHEDULE_PAUSED)
        .bind(name)
        .bind(paused)
        .bind(next_run_at)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn enqueue_tick(
    conn: &mut PgConnection,
    tick: &ScheduleTick,
) -> Result<Option<JobId>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let won = match &tick.due {
        Some(due) => {
            sqlx::query(sql::ADVANCE_SCHEDULE)
                .bind(tick.schedule.as_str())
                .bind(due.expected)
                .bind(due.tick)
                .bind(due.next_run_at)
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
        .bind(tick.due.map(|due| due.tick))
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
