//! Statistics and retention: rolling finished jobs up per minute, reading the
//! rollups back with the jobs not rolled up yet, and pruning (the SQL is in
//! `sql::rollup`, the folding in `kiribi_core::backend::Rollups`).
//!
//! Each write is one `BEGIN IMMEDIATE` transaction, so two processes rolling up
//! or pruning at once take turns for the write lock, and the second one sees the
//! first one's watermark.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kiribi_core::Retention;
use kiribi_core::backend::{ROLLUP_SPAN, Rollup, RollupProgress, Rollups, minute_of};
use sqlx::{Connection, SqliteConnection};

use crate::row::{self, duration_ms, now_ms};
use crate::sql::rollup as sql;

/// Folds the jobs finished since the watermark, up to [`ROLLUP_SPAN`] of them and
/// no later than now − `lag`, into the rollups, and moves the watermark.
pub(crate) async fn roll_up(
    conn: &mut SqliteConnection,
    lag: Duration,
) -> Result<RollupProgress, sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let watermark: i64 = sqlx::query_scalar(sql::WATERMARK)
        .fetch_one(&mut *tx)
        .await?;
    let until = now_ms().saturating_sub(duration_ms(lag));
    if until <= watermark {
        return Ok(RollupProgress::new(0, true));
    }
    let first: Option<i64> = sqlx::query_scalar(sql::FIRST_FINISHED_SINCE)
        .bind(watermark)
        .fetch_one(&mut *tx)
        .await?;
    let Some(first) = first.filter(|&first| first < until) else {
        // Nothing finished in between: the watermark moves on alone.
        sqlx::query(sql::SET_WATERMARK)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(RollupProgress::new(0, true));
    };
    let first_minute = minute_of(row::time_of(first)).timestamp_millis();
    let end = until.min(first_minute + ROLLUP_SPAN.num_milliseconds());

    let mut rollups = Rollups::default();
    let jobs = sqlx::query(sql::FINISHED_BETWEEN)
        .bind(watermark)
        .bind(end)
        .fetch_all(&mut *tx)
        .await?;
    for job in &jobs {
        rollups.add_job(&row::decode_finished(job)?);
    }
    // Only the watermark's own minute can have a row already.
    for stored in sqlx::query(sql::ROLLUPS_BETWEEN)
        .bind(first_minute)
        .bind(end)
        .fetch_all(&mut *tx)
        .await?
    {
        rollups.add_row(&row::decode_rollup(&stored)?);
    }
    for rollup in rollups.into_rows() {
        put(&mut tx, &rollup).await?;
    }
    sqlx::query(sql::SET_WATERMARK)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RollupProgress::new(jobs.len() as u64, end >= until))
}

async fn put(conn: &mut SqliteConnection, rollup: &Rollup) -> Result<(), sqlx::Error> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(sql::PUT_ROLLUP)
        .bind(rollup.minute.timestamp_millis())
        .bind(&rollup.name)
        .bind(&rollup.queue)
        .bind(count(rollup.succeeded))
        .bind(count(rollup.failed))
        .bind(count(rollup.cancelled))
        .bind(count(rollup.retried))
        .bind(rollup.run_time.to_bytes())
        .bind(rollup.wait_time.to_bytes())
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored rollups from `since`'s minute on, and the jobs past the watermark
/// folded, in one read transaction (one snapshot).
pub(crate) async fn rollups(
    conn: &mut SqliteConnection,
    since: DateTime<Utc>,
) -> Result<Vec<Rollup>, sqlx::Error> {
    let since = minute_of(since).timestamp_millis();
    let mut tx = conn.begin().await?;
    let watermark: i64 = sqlx::query_scalar(sql::WATERMARK)
        .fetch_one(&mut *tx)
        .await?;
    let mut rollups = Rollups::default();
    for stored in sqlx::query(sql::ROLLUPS_BETWEEN)
        .bind(since)
        .bind(i64::MAX)
        .fetch_all(&mut *tx)
        .await?
    {
        rollups.add_row(&row::decode_rollup(&stored)?);
    }
    for job in sqlx::query(sql::FINISHED_BETWEEN)
        .bind(watermark.max(since))
        .bind(i64::MAX)
        .fetch_all(&mut *tx)
        .await?
    {
        rollups.add_job(&row::decode_finished(&job)?);
    }
    tx.commit().await?;
    Ok(rollups.into_rows())
}

/// Deletes up to `batch` jobs that `retention` no longer keeps: whole flows first
/// (a few per call, each with all its steps), then jobs outside flows.
pub(crate) async fn prune(
    conn: &mut SqliteConnection,
    retention: &Retention,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let cutoffs = retention
        .cutoffs(row::time_of(now_ms()))
        .map(|cut| cut.map(|cut| cut.timestamp_millis()));
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let watermark: i64 = sqlx::query_scalar(sql::WATERMARK)
        .fetch_one(&mut *tx)
        .await?;
    let mut deleted = 0;
    for (statement, limit) in [
        (sql::PRUNE_FLOWS, batch.div_ceil(100)),
        (sql::PRUNE_JOBS, batch),
    ] {
        deleted += sqlx::query(statement)
            .bind(cutoffs[0])
            .bind(cutoffs[1])
            .bind(cutoffs[2])
            .bind(watermark)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(deleted)
}
