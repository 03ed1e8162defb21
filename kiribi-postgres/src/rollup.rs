//! Statistics and retention: rolling finished jobs up per minute, reading the
//! rollups back with the jobs not rolled up yet, and pruning (the SQL is in
//! `sql::rollup`, the folding in `kiribi_core::backend::Rollups`).
//!
//! A roll-up and a prune each hold the rollup state's row for their transaction
//! and skip their turn when another process holds it, so one process at a time
//! does either, and the watermark cannot move under a prune.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kiribi_core::Retention;
use kiribi_core::backend::{ROLLUP_SPAN, Rollup, RollupProgress, Rollups, minute_of};
use sqlx::{Connection, PgConnection, Row};

use crate::row::{self, micros};
use crate::sql::rollup as sql;

/// Folds the jobs finished since the watermark, up to [`ROLLUP_SPAN`] of them and
/// no later than the database's now − `lag`, into the rollups, and moves the
/// watermark.
pub(crate) async fn roll_up(
    conn: &mut PgConnection,
    lag: Duration,
) -> Result<RollupProgress, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let Some(state) = sqlx::query(sql::LOCK_WATERMARK)
        .bind(micros(lag))
        .fetch_optional(&mut *tx)
        .await?
    else {
        // Another process is rolling up or pruning.
        return Ok(RollupProgress::new(0, true));
    };
    let watermark: DateTime<Utc> = state.try_get("rolled_until")?;
    let until: DateTime<Utc> = state.try_get("until")?;
    if until <= watermark {
        return Ok(RollupProgress::new(0, true));
    }
    let first: Option<DateTime<Utc>> = sqlx::query_scalar(sql::FIRST_FINISHED_SINCE)
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
    let first_minute = minute_of(first);
    let end = until.min(first_minute + ROLLUP_SPAN);

    let mut rollups = Rollups::default();
    let jobs = sqlx::query(sql::FINISHED_BETWEEN)
        .bind(watermark)
        .bind(Some(end))
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
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for rollup in rollups.into_rows() {
        sqlx::query(sql::PUT_ROLLUP)
            .bind(rollup.minute)
            .bind(&rollup.name)
            .bind(&rollup.queue)
            .bind(count(rollup.succeeded))
            .bind(count(rollup.failed))
            .bind(count(rollup.cancelled))
            .bind(count(rollup.retried))
            .bind(rollup.run_time.to_bytes())
            .bind(rollup.wait_time.to_bytes())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(sql::SET_WATERMARK)
        .bind(end)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(RollupProgress::new(jobs.len() as u64, end >= until))
}

/// The stored rollups from `since`'s minute on, and the jobs past the watermark
/// folded. The rollups and the watermark are read in one statement; the jobs
/// after, from that watermark, so a roll-up committing in between is counted
/// once: in the jobs, not in the rows read before it. A prune after such a roll-up
/// could delete jobs the second read then misses, so the watermark is read once
/// more: when it moved, the whole read is done again.
pub(crate) async fn rollups(
    conn: &mut PgConnection,
    since: DateTime<Utc>,
) -> Result<Vec<Rollup>, sqlx::Error> {
    let since = minute_of(since);
    loop {
        let mut rollups = Rollups::default();
        let mut watermark = DateTime::<Utc>::UNIX_EPOCH;
        for stored in sqlx::query(sql::ROLLUPS_SINCE)
            .bind(since)
            .fetch_all(&mut *conn)
            .await?
        {
            watermark = stored.try_get("rolled_until")?;
            if stored
                .try_get::<Option<DateTime<Utc>>, _>("minute")?
                .is_some()
            {
                rollups.add_row(&row::decode_rollup(&stored)?);
            }
        }
        for job in sqlx::query(sql::FINISHED_BETWEEN)
            .bind(watermark.max(since))
            .bind(None::<DateTime<Utc>>)
            .fetch_all(&mut *conn)
            .await?
        {
            rollups.add_job(&row::decode_finished(&job)?);
        }
        let now: DateTime<Utc> = sqlx::query_scalar(sql::WATERMARK)
            .fetch_one(&mut *conn)
            .await?;
        if now == watermark {
            return Ok(rollups.into_rows());
        }
    }
}

/// Deletes up to `batch` jobs that `retention` no longer keeps: whole flows first
/// (a few per call, each with all its steps), then jobs outside flows.
pub(crate) async fn prune(
    conn: &mut PgConnection,
    retention: &Retention,
    batch: u32,
) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let Some(state) = sqlx::query(sql::LOCK_WATERMARK)
        .bind(0_i64)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(0);
    };
    let watermark: DateTime<Utc> = state.try_get("rolled_until")?;
    let now: DateTime<Utc> = state.try_get("until")?;
    let cutoffs = retention.cutoffs(now);
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
