//! Inserting new jobs: the one write path of `enqueue`, whether through kiribi's own
//! pool or a caller's transaction.

use kiribi_core::backend::{ClaimedJob, Enqueued, NewJob, inserted_ids};
use kiribi_core::{Error, JobId};
use sqlx::{Connection, PgConnection};

use crate::error::storage_error;
use crate::row::{int_column, micros};
use crate::sql;

/// Inserts `jobs` through a caller's connection or transaction and reports each in
/// input order: the job exists iff the caller's transaction commits, and
/// listening workers are woken when it does.
///
/// This is the one write path of every enqueue: `PgStorage::enqueue` calls it too.
/// The whole batch is one `INSERT` statement (the jobs travel as arrays), so it is
/// all or nothing even outside a transaction.
///
/// The statement names kiribi's tables without a schema: they are found through the
/// connection's `search_path`. Every connection of [`PgStorage::pool`] has
/// `search_path` set to `"<schema>", public`, so transactions begun there just
/// work. A connection of your own pool finds the tables only if kiribi's schema is
/// on its `search_path`: automatically for the default schema `public`; otherwise
/// set it (`SET LOCAL search_path TO jobs, public` in the transaction, or
/// `PgConnectOptions::options([("search_path", "jobs,public")])` for the pool).
///
/// [`PgStorage::pool`]: crate::PgStorage::pool
///
/// # Examples
///
/// ```no_run
/// use kiribi_core::backend::NewJob;
/// use kiribi_postgres::{PgStorage, enqueue_on};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = PgStorage::connect("postgres://postgres@localhost/app").await?;
///
/// let mut tx = storage.pool().begin().await?;
/// sqlx::query("INSERT INTO users (id, email) VALUES (7, 'ann@example.com')")
///     .execute(&mut *tx)
///     .await?;
/// let ids = enqueue_on(&mut tx, vec![NewJob::new("send_welcome", serde_json::json!({ "user_id": 7 }))]).await?;
/// tx.commit().await?; // the user and the job exist together, or neither does
/// assert_eq!(ids.len(), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Storage`] if PostgreSQL fails (for example when kiribi's tables are not
/// on the connection's `search_path`); no job of the call is inserted then.
pub async fn enqueue_on(
    conn: &mut PgConnection,
    jobs: Vec<NewJob>,
) -> Result<Vec<Enqueued>, Error> {
    insert_jobs(conn, &jobs).await.map_err(storage_error)
}

/// [`enqueue_on`] without the error mapping, for `PgStorage::enqueue`.
pub(crate) async fn insert_jobs(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, sqlx::Error> {
    if jobs.iter().all(|job| job.trace_context.is_none()) {
        return insert_untraced(conn, jobs).await;
    }
    // The jobs and their trace contexts: all or none.
    let mut tx = conn.begin().await?;
    let enqueued = insert_untraced(&mut tx, jobs).await?;
    let (ids, traces): (Vec<i64>, Vec<&str>) = jobs
        .iter()
        .zip(&enqueued)
        .filter(|(_, enqueued)| !enqueued.duplicate)
        .filter_map(|(job, enqueued)| Some((enqueued.id.as_i64(), job.trace_context.as_deref()?)))
        .unzip();
    sqlx::query(sql::INSERT_TRACES)
        .bind(ids)
        .bind(traces)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(enqueued)
}

/// The stored trace context of each job, in order (`None` for most).
pub(crate) async fn trace_contexts(
    conn: &mut PgConnection,
    jobs: &[ClaimedJob],
) -> Result<Vec<Option<String>>, sqlx::Error> {
    let ids: Vec<i64> = jobs.iter().map(|job| job.id().as_i64()).collect();
    let found: std::collections::HashMap<i64, String> = sqlx::query_as(sql::TRACES_OF)
        .bind(ids)
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
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, sqlx::Error> {
    if jobs.iter().all(NewJob::is_plain) {
        return insert_plain(conn, jobs).await;
    }
    // Several statements: all or none, in the caller's transaction if there is one.
    let mut tx = conn.begin().await?;
    let mut enqueued = Vec::with_capacity(jobs.len());
    let mut rest = jobs;
    while !rest.is_empty() {
        // Plain jobs go in one multi-row insert; each job with a unique key or
        // limits on its own, after the jobs before it, so that ids still follow
        // input order.
        let plain = rest
            .iter()
            .position(|job| !job.is_plain())
            .unwrap_or(rest.len());
        let (run, after) = rest.split_at(plain);
        enqueued.extend(insert_plain(&mut tx, run).await?);
        rest = match after.split_first() {
            Some((job, after)) => {
                enqueued.push(insert_with_keys(&mut tx, job).await?);
                after
            }
            None => after,
        };
    }
    tx.commit().await?;
    Ok(enqueued)
}

/// How many times a unique insert is tried when the key's holder finishes between
/// the refused insert and the look-up of the holder.
const UNIQUE_TRIES: usize = 5;

/// Inserts a job that has a unique key or limits, or reports the job of its name
/// that holds its unique key.
async fn insert_with_keys(conn: &mut PgConnection, job: &NewJob) -> Result<Enqueued, sqlx::Error> {
    let limits = job.limits.as_ref();
    let rate = limits.and_then(|limits| limits.rate);
    for _ in 0..UNIQUE_TRIES {
        let inserted: Option<i64> = sqlx::query_scalar(sql::INSERT_JOB_WITH_KEYS)
            .bind(job.name.as_str())
            .bind(job.queue.as_str())
            .bind(job.priority)
            .bind(int_column(job.max_attempts))
            .bind(job.payload.to_string())
            .bind(micros(job.delay))
            .bind(job.run_at)
            .bind(job.unique.as_ref().map(|unique| unique.key.as_str()))
            .bind(
                job.unique
                    .as_ref()
                    .is_some_and(|unique| unique.in_any_state),
            )
            .bind(limits.map_or("", |limits| limits.key.as_str()))
            .bind(limits.and_then(|limits| limits.concurrency).map(int_column))
            .bind(rate.map(|rate| int_column(rate.count)))
            .bind(rate.map(|rate| micros(rate.period)))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(id) = inserted {
            return Ok(Enqueued::inserted(JobId::from_i64(id)));
        }
        let Some(unique) = &job.unique else {
            return Err(sqlx::Error::Protocol(format!(
                "job `{}` without a unique key was refused",
                job.name
            )));
        };
        // Refused: a holder exists, committed (an insert in flight elsewhere was
        // waited for). Each statement reads the latest commits, so it is found,
        // unless it finished in between: then the insert is tried again.
        let holder: Option<i64> = sqlx::query_scalar(sql::UNIQUE_HOLDER)
            .bind(job.name.as_str())
            .bind(unique.key.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(id) = holder {
            return Ok(Enqueued::duplicate_of(JobId::from_i64(id)));
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "job `{}` was refused {UNIQUE_TRIES} times, but no job held its unique key when \
         looked up",
        job.name
    )))
}

/// Inserts jobs that have no unique key.
async fn insert_plain(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, sqlx::Error> {
    match jobs {
        [] => return Ok(Vec::new()),
        [job] => {
            let id = sqlx::query_scalar(sql::INSERT_JOB)
                .bind(job.name.as_str())
                .bind(job.queue.as_str())
                .bind(job.priority)
                .bind(int_column(job.max_attempts))
                .bind(job.payload.to_string())
                .bind(micros(job.delay))
                .bind(job.run_at)
                .fetch_one(&mut *conn)
                .await?;
            return Ok(vec![Enqueued::inserted(JobId::from_i64(id))]);
        }
        _ => {}
    }
    let mut names = Vec::with_capacity(jobs.len());
    let mut queues = Vec::with_capacity(jobs.len());
    let mut priorities = Vec::with_capacity(jobs.len());
    let mut max_attempts = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut delays = Vec::with_capacity(jobs.len());
    let mut run_ats = Vec::with_capacity(jobs.len());
    for job in jobs {
        names.push(job.name.as_str());
        queues.push(job.queue.as_str());
        priorities.push(job.priority);
        max_attempts.push(int_column(job.max_attempts));
        payloads.push(job.payload.to_string());
        delays.push(micros(job.delay));
        run_ats.push(job.run_at);
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(sql::INSERT_JOBS)
        .bind(names)
        .bind(queues)
        .bind(priorities)
        .bind(max_attempts)
        .bind(payloads)
        .bind(delays)
        .bind(run_ats)
        .fetch_all(&mut *conn)
        .await?;
    ids.sort_unstable();
    let ids = inserted_ids(jobs.len(), ids).map_err(sqlx::Error::Protocol)?;
    Ok(ids.into_iter().map(Enqueued::inserted).collect())
}
