//! Inserting new jobs: the one write path of `enqueue`, whether through kiribi's own
//! connection or a caller's transaction.

use kiribi_core::backend::{ClaimedJob, Enqueued, NewJob, inserted_ids};
use kiribi_core::{Error, JobId};
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};

use crate::error::storage_error;
use crate::row::{after, duration_ms, now_ms};
use crate::sql;

/// Jobs per `INSERT`: 7 bound values each stays far below SQLite's limit of 32766
/// parameters per statement.
const JOBS_PER_INSERT: usize = 1_000;
const _: () = assert!(JOBS_PER_INSERT * sql::INSERT_JOB_BINDS < 32_766);

/// Inserts `jobs` through a caller's connection or transaction and reports each in
/// input order: the job exists iff the caller's transaction commits.
///
/// This is the one write path of every enqueue: `SqliteStorage::enqueue` calls it
/// too. Large batches are inserted in chunks of 1,000 rows, one statement
/// each, inside a transaction (a savepoint if `conn` is already in one).
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::NewJob;
/// use kiribi_sqlite::{SqliteStorage, enqueue_on};
/// use sqlx::Connection;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let storage = SqliteStorage::connect(&format!("sqlite://{}/jobs.db", dir.path().display())).await?;
///
/// let mut tx = storage.pool().begin_with("BEGIN IMMEDIATE").await?;
/// // … the caller's own writes …
/// let ids = enqueue_on(&mut tx, vec![NewJob::new("send_welcome", serde_json::json!({ "user_id": 7 }))]).await?;
/// tx.commit().await?;
/// assert_eq!(ids.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Storage`] if SQLite fails; no job of the call is inserted then.
pub async fn enqueue_on(
    conn: &mut SqliteConnection,
    jobs: Vec<NewJob>,
) -> Result<Vec<Enqueued>, Error> {
    insert_jobs(conn, &jobs).await.map_err(storage_error)
}

pub(crate) async fn insert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, sqlx::Error> {
    if jobs.iter().all(|job| job.trace_context.is_none()) {
        return insert_untraced(conn, jobs).await;
    }
    // The jobs and their trace contexts: all or none.
    let mut tx = if conn.is_in_transaction() {
        conn.begin().await?
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await?
    };
    let enqueued = insert_untraced(&mut tx, jobs).await?;
    let traces: Vec<serde_json::Value> = jobs
        .iter()
        .zip(&enqueued)
        .filter(|(_, enqueued)| !enqueued.duplicate)
        .filter_map(|(job, enqueued)| {
            let trace = job.trace_context.as_deref()?;
            Some(serde_json::json!([enqueued.id.as_i64(), trace]))
        })
        .collect();
    sqlx::query(sql::INSERT_TRACES)
        .bind(serde_json::Value::from(traces).to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// The stored trace context of each job, in order (`None` for most).
pub(crate) async fn trace_contexts(
    conn: &mut SqliteConnection,
    jobs: &[ClaimedJob],
) -> Result<Vec<Option<String>>, sqlx::Error> {
    let ids = serde_json::Value::from(jobs.iter().map(|job| job.id().as_i64()).collect::<Vec<_>>());
    let found: std::collections::HashMap<i64, String> = sqlx::query_as(sql::TRACES_OF)
        .bind(ids.to_string())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    Ok(jobs
        .iter()
        .map(|job| found.get(&job.id().as_i64()).cloned())
        .collect())
}

/// [`insert_jobs`] of jobs whose trace contexts (if any) are stored by the caller.
async fn insert_untraced(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, sqlx::Error> {
    let now = now_ms();
    if jobs.len() <= JOBS_PER_INSERT && jobs.iter().all(NewJob::is_plain) {
        return insert_chunk(conn, jobs, now).await;
    }
    // Several statements: all or none, in the caller's transaction if there is one.
    let mut tx = if conn.is_in_transaction() {
        conn.begin().await?
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await?
    };
    let mut ids = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while !rest.is_empty() {
        // Plain jobs go in multi-row inserts; each job with a unique key or limits
        // on its own, after the jobs before it, so that ids still follow input order.
        let plain = rest
            .iter()
            .position(|job| !job.is_plain())
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(plain);
        for chunk in run.chunks(JOBS_PER_INSERT) {
            ids.extend(insert_chunk(&mut tx, chunk, now).await?);
        }
        if let Some((job, after)) = after.split_first() {
            ids.push(insert_with_keys(&mut tx, job, now).await?);
            rest = after;
        } else {
            rest = after;
        }
    }
    tx.commit().await?;
    Ok(ids)
}

/// Inserts a job that has a unique key or limits, or reports the job of its name
/// that holds its unique key. Runs in a write transaction, so no other writer comes
/// between the two statements.
async fn insert_with_keys(
    conn: &mut SqliteConnection,
    job: &NewJob,
    now: i64,
) -> Result<Enqueued, sqlx::Error> {
    let limits = job.limits.as_ref();
    let done = sqlx::query(sql::INSERT_JOB_WITH_KEYS)
        .bind(job.name.as_str())
        .bind(job.queue.as_str())
        .bind(job.priority)
        .bind(i64::from(job.max_attempts))
        .bind(job.payload.to_string())
        .bind(now)
        .bind(run_at(job, now))
        .bind(job.unique.as_ref().map(|unique| unique.key.as_str()))
        .bind(
            job.unique
                .as_ref()
                .is_some_and(|unique| unique.in_any_state),
        )
        .bind(limits.map_or("", |limits| limits.key.as_str()))
        .bind(limits.and_then(|limits| limits.concurrency).map(i64::from))
        .bind(
            limits
                .and_then(|limits| limits.rate)
                .map(|rate| i64::from(rate.count)),
        )
        .bind(
            limits
                .and_then(|limits| limits.rate)
                .map(|rate| duration_ms(rate.period)),
        )
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 1 {
        return Ok(Enqueued::inserted(JobId::from_i64(
            done.last_insert_rowid(),
        )));
    }
    let Some(unique) = &job.unique else {
        return Err(sqlx::Error::Protocol(format!(
            "job `{}` without a unique key was refused",
            job.name
        )));
    };
    let holder: Option<i64> = sqlx::query_scalar(sql::UNIQUE_HOLDER)
        .bind(job.name.as_str())
        .bind(unique.key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    match holder {
        Some(id) => Ok(Enqueued::duplicate_of(JobId::from_i64(id))),
        None => Err(sqlx::Error::Protocol(format!(
            "job `{}` with unique key `{}` was refused, but no job holds the key",
            job.name, unique.key
        ))),
    }
}

/// When `job` is due: its `run_at`, or `now` plus its delay.
pub(crate) fn run_at(job: &NewJob, now: i64) -> i64 {
    match job.run_at {
        Some(at) => at.timestamp_millis(),
        None => after(now, job.delay),
    }
}

async fn insert_chunk(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
    now: i64,
) -> Result<Vec<Enqueued>, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::query(AssertSqlSafe(sql::insert_jobs(jobs.len())));
    for job in jobs {
        query = query
            .bind(job.name.as_str())
            .bind(job.queue.as_str())
            .bind(job.priority)
            .bind(i64::from(job.max_attempts))
            .bind(job.payload.to_string())
            .bind(now)
            .bind(run_at(job, now));
    }
    // No `RETURNING`: SQLite hands rows over one message each. One statement gives
    // its rows consecutive ids in `VALUES` order and inserts them in that order
    // (`sql::insert_jobs`), so they end at the connection's last insert rowid.
    let done = query.execute(&mut *conn).await?;
    let last = done.last_insert_rowid();
    let count = i64::try_from(jobs.len()).unwrap_or(i64::MAX);
    let ids = if done.rows_affected() == jobs.len() as u64 {
        (last - count + 1..=last).collect()
    } else {
        Vec::new()
    };
    let ids = inserted_ids(jobs.len(), ids).map_err(sqlx::Error::Protocol)?;
    Ok(ids.into_iter().map(Enqueued::inserted).collect())
}
